"""Backup-set ids, names, tags and tokens derive from the run, so retries find their artifacts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ue_backup.backup_set import BACKUP_SET_TAG, BackupSet

RUN_AFTER = datetime(2026, 11, 24, 2, 0, 5, tzinfo=UTC)


def test_same_run_same_names():
    a = BackupSet.for_run("ue-prod", RUN_AFTER, "scheduled__x")
    b = BackupSet.for_run("ue-prod", RUN_AFTER, "scheduled__x")
    assert a == b
    assert a.id == "ue-prod-20261124t020005z"
    assert a.rds_snapshot_id == a.memorydb_snapshot_name == a.velero_backup_name
    assert a.efs_idempotency_token.startswith(a.rds_snapshot_id)


def test_local_times_are_normalised_to_utc():
    local = RUN_AFTER.astimezone(timezone(timedelta(hours=2)))
    assert BackupSet.for_run("ue-prod", local).id == "ue-prod-20261124t020005z"


def test_parse_round_trip_and_created_at():
    s = BackupSet.parse("ue-prod-20261124t020005z")
    assert s.installation == "ue-prod"
    assert s.created_at == RUN_AFTER


@pytest.mark.parametrize("bad", ["", "ue-prod", "ue-prod-2026-11-24", "UE-20261124t020005z"])
def test_parse_refuses_what_is_not_a_set_id(bad):
    with pytest.raises(ValueError, match="not a backup set id"):
        BackupSet.parse(bad)


def test_tags_and_labels():
    s = BackupSet.for_run("ue-prod", RUN_AFTER, "manual__1")
    assert s.tags == {
        "ue-backup:installation": "ue-prod",
        BACKUP_SET_TAG: s.id,
        "ue-backup:run-id": "manual__1",
    }
    assert {"Key": BACKUP_SET_TAG, "Value": s.id} in s.tag_list
    assert all(":" not in key for key in s.labels)
    assert all(len(v) <= 63 for v in s.labels.values())


def test_a_set_owns_what_carries_its_installation_and_set_whatever_the_run():
    s = BackupSet.for_run("ue-prod", RUN_AFTER, "manual__1")
    other_run = BackupSet.for_run("ue-prod", RUN_AFTER, "manual__2")
    assert s.owns(s.tags)
    assert s.owns(other_run.tags)
    assert s.owns_labels(s.labels)
    assert s.owns_labels({**s.labels, "extra": "x"})
    later = BackupSet.for_run("ue-prod", RUN_AFTER + timedelta(hours=1))
    other_installation = BackupSet("ue-prod-2", s.id)
    for foreign in (later, other_installation):
        assert not s.owns(foreign.tags)
        assert not s.owns_labels(foreign.labels)
    assert not s.owns({BACKUP_SET_TAG: s.id})  # no installation tag
    assert not s.owns(None)
    assert not s.owns_labels({})


def test_names_fit_aws_and_kubernetes_limits():
    s = BackupSet.for_run("a" * 40, RUN_AFTER)
    for name in (s.rds_snapshot_id, s.memorydb_snapshot_name, s.velero_backup_name):
        assert len(name) <= 63
        assert "--" not in name
        assert name[0].isalpha()
