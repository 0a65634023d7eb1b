"""verify_set: a set is verified only when every artifact, rule 1 and its cold window hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ue_backup.backup_set import BackupSet
from ue_backup.verify import verify_set

SET = BackupSet.parse("ue-test-20261206t020000z")
T0 = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
TAGS = {k: v for k, v in SET.tags.items()}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def snapshot(seconds=10):
    return {
        "Status": "available",
        "SnapshotCreateTime": at(seconds),
        "TagList": [{"Key": k, "Value": v} for k, v in TAGS.items()],
    }


def recovery_point(seconds=20):
    return {"Status": "COMPLETED", "CreationDate": at(seconds)}


def memorydb(*fork_seconds):
    shards = [
        {"Name": f"000{i}", "SnapshotCreationTime": at(s)} for i, s in enumerate(fork_seconds)
    ]
    return {"Status": "available", "ClusterConfiguration": {"Shards": shards}}


def window(closed_seconds=60, problems=()):
    return {
        "state": "broken" if problems else "intact",
        "problems": list(problems),
        "start": at(0).isoformat(),
        "closed_at": at(closed_seconds).isoformat(),
    }


def verify(**kwargs):
    args = {
        "rds_snapshot": snapshot(),
        "recovery_point": recovery_point(),
        "recovery_point_tags": TAGS,
        "memorydb_snapshot": None,
        "memorydb_tags": None,
        "velero_backup": None,
        "datasync_execution": None,
        **kwargs,
    }
    result = verify_set(SET, **args)
    return result["result"], {c["check"]: (c["ok"], c["detail"]) for c in result["checks"]}


def test_an_intact_window_passes_and_says_so():
    result, checks = verify(cold_window=window(), window_required=True)
    assert result == "passed"
    assert checks["cold window intact"][0] is True
    assert "stayed stopped" in checks["cold window intact"][1]


def test_a_broken_window_fails_the_set_naming_the_problem():
    result, checks = verify(
        cold_window=window(problems=["ECD x was changed"]), window_required=True
    )
    assert result == "failed"
    assert checks["cold window intact"] == (False, "ECD x was changed")


def test_a_window_that_was_never_judged_fails_when_one_was_required():
    result, checks = verify(cold_window=None, window_required=True)
    assert result == "failed"
    assert "never judged" in checks["cold window intact"][1]
    assert "cold window intact" not in verify(cold_window=None)[1]  # a hot backup has none


def test_every_memorydb_shard_must_fork_inside_the_window():
    inside = memorydb(30, 45)
    result, checks = verify(
        memorydb_snapshot=inside, memorydb_tags=TAGS, cold_window=window(closed_seconds=60)
    )
    assert (result, checks["memorydb snapshot inside the cold window"][0]) == ("passed", True)

    late = memorydb(30, 75)  # one shard forked after the workflows were resumed
    result, checks = verify(
        memorydb_snapshot=late, memorydb_tags=TAGS, cold_window=window(closed_seconds=60)
    )
    assert result == "failed"
    ok, detail = checks["memorydb snapshot inside the cold window"]
    assert not ok
    assert at(75).isoformat() in detail


def test_rule_1_fails_a_database_point_not_older_than_the_disk():
    result, checks = verify(rds_snapshot=snapshot(20), recovery_point=recovery_point(20))
    assert result == "failed"
    assert checks["rule 1: database older than efs"][0] is False
