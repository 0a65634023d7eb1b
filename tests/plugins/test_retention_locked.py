"""Retention and the protected copies (issue 17): listed "locked until", counted apart,
never handed to the delete step.

The copies come in the shapes AWS returns them (``ListRecoveryPointsByBackupVault``
with ``Tags``; ``ListObjectVersions`` entries with ``GetObjectRetention``'s answer),
turned into ``LockedCopy`` by the functions the inventory uses, and put beside a
decision taken by the retention policy itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.plugins.test_retention import HOME, ME, OTHER, T0, World, rds_raw, rp_raw, run, tags
from ue_backup.backup_set import BackupSet
from ue_backup.config import PricesConfig
from ue_backup.errors import PermanentFailure
from ue_backup.manifest import GB
from ue_backup.planning import iso
from ue_backup.retention import DELETE, KEEP
from ue_backup.retention_artifacts import Artifact
from ue_backup.retention_cost import component_costs, plan_table
from ue_backup.retention_locked import (
    EFS_IMMUTABLE,
    MANIFEST_IMMUTABLE,
    MEMORYDB_IMMUTABLE,
    OBJECT_EXPIRED,
    RDS_IMMUTABLE,
    VAULT_EXPIRED,
    locked_point,
    locked_version,
    protected_cost_lines,
    protected_table,
    with_protected,
)
from ue_backup.tasks import retention_delete

LOCKED_VAULT, LOCKED_BUCKET = "ue-test-locked", "ue-test-locked-artifacts"
PREFIX = "ue-backup/"
NOW = T0 + timedelta(days=100)
PRICES = PricesConfig()


def point_raw(set_id, kind, until, size=GB, installation=ME):
    """A locked vault's point as ListRecoveryPointsByBackupVault lists it, with Tags."""
    return {
        "RecoveryPointArn": f"arn:aws:backup:{HOME}:222233334444:recovery-point:{set_id}-{kind}",
        "BackupVaultName": LOCKED_VAULT,
        "ResourceType": kind,
        "Status": "COMPLETED",
        "BackupSizeInBytes": size,
        "CalculatedLifecycle": {"DeleteAt": until},
        "Tags": tags(installation, set_id),
    }


def version_raw(key, size=2048, version="v1"):
    return {"Key": key, "VersionId": version, "Size": size, "IsLatest": True}


def locked_copies(set_id, until, installation=ME):
    """Every protected copy a set leaves: both points, the manifest, one .rdb file."""
    retention = {"Mode": "COMPLIANCE", "RetainUntilDate": until}
    base = f"{PREFIX}{installation}/{set_id}"
    return [
        locked_point(point_raw(set_id, "EFS", until, installation=installation), HOME),
        locked_point(point_raw(set_id, "RDS", until, 20 * GB, installation), HOME),
        locked_version(
            version_raw(f"{base}/manifest.json"), retention, LOCKED_BUCKET, HOME, PREFIX
        ),
        locked_version(
            version_raw(f"{base}/memorydb/ueb-{set_id}-0001.rdb", GB),
            retention,
            LOCKED_BUCKET,
            HOME,
            PREFIX,
        ),
    ]


def three_sets():
    """Three home sets a day apart; keep_last 1 deletes the two oldest."""
    world, sets = World(memorydb=False, velero=False, window=None), []
    for day in range(3):
        set_id = BackupSet.for_run(ME, T0 + timedelta(days=day)).id
        sets.append(set_id)
        disk = T0 + timedelta(days=day, hours=1)
        world.rds(
            rds_raw(f"ueb-{set_id}", disk - timedelta(seconds=5), "available", tags(ME, set_id))
        )
        world.rp(rp_raw(set_id, disk, "COMPLETED", tags(ME, set_id), GB))
    decision = run(world, {"keep_last": 1, "keep_days": 0, "now": NOW})
    return decision, sets


def listing(copies, problem=None):
    return {"copies": [c.as_json() for c in copies], "problem": problem}


def test_each_kind_is_read_from_the_shapes_aws_returns():
    until = datetime(2026, 5, 1, tzinfo=UTC)
    set_id = BackupSet.for_run(ME, T0).id
    efs, rds, manifest, rdb = locked_copies(set_id, until)
    assert (efs.kind, rds.kind, manifest.kind, rdb.kind) == (
        EFS_IMMUTABLE,
        RDS_IMMUTABLE,
        MANIFEST_IMMUTABLE,
        MEMORYDB_IMMUTABLE,
    )
    for copy in (efs, rds, manifest, rdb):
        assert (copy.installation, copy.backup_set) == (ME, set_id)
        assert copy.locked_until == "2026-05-01T00:00:00+00:00"
    assert (rds.size_bytes, rds.container) == (20 * GB, LOCKED_VAULT)
    assert (manifest.version_id, manifest.mode, manifest.container) == (
        "v1",
        "COMPLIANCE",
        LOCKED_BUCKET,
    )


@pytest.mark.parametrize(
    "key",
    [
        f"{PREFIX}ue-test/elsewhere.json",  # not where a set's copy is written
        f"{PREFIX}ue-test/ue-test-20260101t000000z/notes.txt",
        "other-prefix/ue-test/ue-test-20260101t000000z/manifest.json",
    ],
)
def test_an_object_not_where_a_sets_copy_is_written_claims_nothing(key):
    copy = locked_version(version_raw(key), {}, LOCKED_BUCKET, HOME, PREFIX)
    assert (copy.installation, copy.backup_set) == (None, None)


def test_every_set_shows_its_protected_copies_locked_until_and_the_delete_step_never_gets_one():
    decision, sets = three_sets()
    until = NOW + timedelta(days=20)
    copies = [c for s in sets for c in locked_copies(s, until)]

    shown = with_protected(decision, listing(copies), NOW, PRICES)

    by_set = {s["backup_set"]: s for s in shown["sets"]}
    assert by_set[sets[0]]["action"] == DELETE  # its home set goes...
    assert by_set[sets[-1]]["action"] == KEEP
    for set_id in sets:  # ...its protected copies are shown, each locked until its date
        assert by_set[set_id]["locked"] == f"locked until {iso(until)}"
        assert len(by_set[set_id]["protected_copies"]) == 4
        assert {c["status"] for c in by_set[set_id]["protected_copies"]} == {
            by_set[set_id]["locked"]
        }
    # the artifacts retention deletes are exactly the home ones, the decision's as before
    assert [s["artifacts"] for s in shown["sets"]] == [s["artifacts"] for s in decision["sets"]]
    pairs = retention_delete._check(shown, ME)
    assert {a.backup_set for _, a in pairs} == set(sets[:2])
    assert {a.kind for _, a in pairs} == {"rds_snapshot", "efs_recovery_point"}
    # and the installation's own costs are those of its own artifacts only
    assert component_costs(shown, PRICES) == component_costs(decision, PRICES)
    table = plan_table(shown, PRICES)
    assert "protected copies" in table.splitlines()[0]
    assert table.count("locked until") == 3
    assert protected_table(shown).count("locked until") == 12


def test_the_delete_step_refuses_a_protected_copy_handed_to_it_as_an_artifact():
    """Defence in depth: a decision naming a locked copy among a set's artifacts."""
    decision, _ = three_sets()
    doomed = next(s for s in decision["sets"] if s["action"] == DELETE)
    point = locked_point(point_raw(doomed["backup_set"], "EFS", NOW), HOME)
    smuggled = Artifact(
        kind=point.kind,
        service="backup",
        id=point.id,
        region=HOME,
        container=point.container,
        installation=ME,
        backup_set=doomed["backup_set"],
    )
    doomed["artifacts"].append(smuggled.as_json())
    with pytest.raises(PermanentFailure, match="a protected copy: retention never deletes one"):
        retention_delete._check(decision, ME)


def test_a_lock_whose_date_passed_is_shown_as_what_aws_does_with_it_not_deleted():
    decision, sets = three_sets()
    expired = NOW - timedelta(days=1)
    copies = locked_copies(sets[0], expired)

    shown = with_protected(decision, listing(copies), NOW, PRICES)

    oldest = next(s for s in shown["sets"] if s["backup_set"] == sets[0])
    status = {c["kind"]: c["status"] for c in oldest["protected_copies"]}
    assert status[EFS_IMMUTABLE] == status[RDS_IMMUTABLE] == VAULT_EXPIRED
    assert status[MANIFEST_IMMUTABLE] == status[MEMORYDB_IMMUTABLE] == OBJECT_EXPIRED
    assert oldest["locked"] == VAULT_EXPIRED
    assert all(a["kind"] in ("rds_snapshot", "efs_recovery_point") for a in oldest["artifacts"])


def test_sets_left_only_in_the_protected_account_and_other_installations_copies():
    decision, _ = three_sets()
    gone = BackupSet.for_run(ME, T0 - timedelta(days=10)).id  # deleted at home long ago
    theirs = BackupSet.for_run(OTHER, T0).id
    until = NOW + timedelta(days=3)
    copies = locked_copies(gone, until) + locked_copies(theirs, until, installation=OTHER)

    shown = with_protected(decision, listing(copies), NOW, PRICES)

    [only] = shown["protected"]["only_protected"]
    assert only["backup_set"] == gone
    assert only["locked"].startswith("locked until ")
    assert {i["copy"]["backup_set"] for i in shown["protected"]["ignored"]} == {theirs}
    assert [s["backup_set"] for s in shown["sets"]] == [s["backup_set"] for s in decision["sets"]]
    assert all(s["locked"] is None for s in shown["sets"])
    table = protected_table(shown)
    assert f"{gone}  gone" in table
    assert "not this installation's" in table
    # another installation's copies are not this one's cost
    assert shown["protected"]["costs"]["components"][EFS_IMMUTABLE]["count"] == 1


def test_the_protected_accounts_cost_is_counted_apart_at_the_configured_prices():
    decision, sets = three_sets()
    copies = [c for s in sets for c in locked_copies(s, NOW + timedelta(days=5))]
    prices = PricesConfig(
        efs_warm_gb_month=0.05, rds_snapshot_gb_month=0.095, s3_standard_gb_month=0.023
    )

    costs = with_protected(decision, listing(copies), NOW, prices)["protected"]["costs"]

    parts = costs["components"]
    assert parts[EFS_IMMUTABLE] == {
        "count": 3,
        "size_bytes": 3 * GB,
        "unknown_size": 0,
        "monthly_usd": pytest.approx(3 * 0.05),
    }
    assert parts[RDS_IMMUTABLE]["monthly_usd"] == pytest.approx(3 * 20 * 0.095)
    assert parts[MEMORYDB_IMMUTABLE]["monthly_usd"] == pytest.approx(3 * 0.023)
    assert parts[MANIFEST_IMMUTABLE]["count"] == 3  # counted, not priced (as at home)
    assert parts[MANIFEST_IMMUTABLE]["monthly_usd"] is None
    assert costs["total_monthly_usd"] == pytest.approx(3 * (0.05 + 20 * 0.095 + 0.023))
    assert "total: 5.92 USD/month" in protected_cost_lines({"problem": None, "costs": costs})


def test_a_protected_account_that_could_not_be_read_is_shown_and_changes_nothing_at_home():
    decision, _ = three_sets()
    problem = "connection aws_immutable is not defined"

    shown = with_protected(decision, {"copies": [], "problem": problem}, NOW, PRICES)

    assert [(s["backup_set"], s["action"]) for s in shown["sets"]] == [
        (s["backup_set"], s["action"]) for s in decision["sets"]
    ]
    assert shown["protected"]["problem"] == problem
    assert shown["protected"]["costs"] is None  # nothing listed is not nothing paid
    expected = f"protected copies not listed: {problem}"
    assert expected in protected_table(shown)
    assert expected in protected_cost_lines(shown["protected"])


def test_without_the_immutable_section_nothing_changes():
    decision, _ = three_sets()
    shown = with_protected(decision, None, NOW, PRICES)
    assert shown == {**decision, "protected": None}
    assert plan_table(shown, PRICES) == plan_table(decision, PRICES)
    assert protected_cost_lines(None) == ""
