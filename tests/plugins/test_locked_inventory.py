"""locked_inventory.planner_view: the protected copies in the planner's shapes (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ue_backup.backup_set import BACKUP_SET_TAG, INSTALLATION_TAG, VERIFIED_TAG, WINDOW_TAG
from ue_backup.locked_inventory import planner_view
from ue_backup.planning import RestorePlanError, plan_restore

T0 = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
SET = "ue-test-20261206t020000z"
LOCKED_POINT = "arn:aws:backup:eu-west-1:222233334444:recovery-point:"


def point(kind: str, seconds: int, *, installation="ue-test", backup_set=SET, **tags) -> dict:
    return {
        "RecoveryPointArn": f"{LOCKED_POINT}{kind}-{seconds}",
        "ResourceType": kind,
        "Status": "COMPLETED",
        "CreationDate": T0 + timedelta(seconds=seconds),
        "Tags": {INSTALLATION_TAG: installation, BACKUP_SET_TAG: backup_set, **tags},
    }


def manifest(result="passed", window="intact", installation="ue-test", backup_set=SET) -> dict:
    return {
        "installation": installation,
        "backup_set": backup_set,
        "verification": {"result": result},
        "cold_window": {"state": window},
    }


def test_a_set_with_a_locked_manifest_is_planned_from_its_locked_points_under_rule_1():
    view = planner_view([point("RDS", 10), point("EFS", 20)], [manifest()], "ue-test")

    plan = plan_restore(view, {"type": "latest"})

    assert plan["backup_set"] == SET
    assert plan["verified"] is True
    assert plan["database"]["snapshot_id"].endswith("recovery-point:RDS-10")
    assert plan["disk"]["recovery_point_arn"].endswith("recovery-point:EFS-20")


def test_the_verdict_is_the_locked_manifests_never_the_points_own_tags():
    lying = {VERIFIED_TAG: "passed", WINDOW_TAG: "intact"}
    view = planner_view([point("RDS", 10, **lying), point("EFS", 20, **lying)], [], "ue-test")
    [disk] = view["efs_recovery_points"]
    assert VERIFIED_TAG not in disk["Tags"]  # no manifest: never verified
    failed = planner_view(
        [point("RDS", 10), point("EFS", 20)], [manifest("failed", "broken")], "ue-test"
    )
    [disk] = failed["efs_recovery_points"]
    assert (disk["Tags"][VERIFIED_TAG], disk["Tags"][WINDOW_TAG]) == ("failed", "broken")


def test_a_set_is_verified_from_the_protected_copies_only_when_both_verdicts_passed():
    """The home set and its protected copies each have a verdict; a manifest from before
    the split has one, which covered both."""

    def verdict(locked):
        written = {**manifest(), "locked_verification": locked}
        [disk] = planner_view([point("EFS", 20)], [written], "ue-test")["efs_recovery_points"]
        return disk["Tags"][VERIFIED_TAG]

    assert verdict({"result": "passed"}) == "passed"
    assert verdict({"result": "failed"}) == "failed"
    assert verdict(None) == "failed"  # recorded, but not judged
    [older] = planner_view([point("EFS", 20)], [manifest()], "ue-test")["efs_recovery_points"]
    assert older["Tags"][VERIFIED_TAG] == "passed"


def test_another_installations_points_and_manifests_are_left_out():
    view = planner_view(
        [point("RDS", 10, installation="other"), point("EFS", 20, installation="other")],
        [manifest(installation="other")],
        "ue-test",
    )
    assert view["rds_snapshots"] == []
    assert view["efs_recovery_points"] == []


def test_a_database_point_newer_than_the_disk_is_not_restored_with_it():
    view = planner_view([point("EFS", 10), point("RDS", 20)], [manifest()], "ue-test")
    assert view["rds_restore_window"] is None  # no point-in-time restore from a copy
    with pytest.raises(RestorePlanError, match="database"):
        plan_restore(view, {"type": "latest"})


def rdb(backup_set=SET, installation="ue-test", seconds=30, shard=1, shards=1) -> dict:
    """A locked .rdb file as records.rdb_snapshots reads it."""
    return {
        "Name": f"ue-backup/{installation}/{backup_set}/memorydb/ueb-{backup_set}-000{shard}.rdb",
        "SnapshotCreationTime": (T0 + timedelta(seconds=seconds)).isoformat(),
    }


def snapshot(*files, shards=1) -> dict:
    return {
        "Name": f"ueb-{SET}",
        "Status": "available",
        "ClusterConfiguration": {"NodeType": "db.t4g.small", "NumShards": shards, "Shards": files},
        "SnapshotArns": [f"arn:aws:s3:::locked/{f['Name']}" for f in files],
    }


def test_memorydbs_locked_files_are_planned_with_their_set_and_rule_1():
    view = planner_view(
        [point("RDS", 10), point("EFS", 20)], [manifest()], "ue-test", [snapshot(rdb())]
    )
    plan = plan_restore(view, {"type": "latest"})
    assert plan["memorydb"]["snapshot_name"] == f"ueb-{SET}"
    [planned] = view["memorydb_snapshots"]
    assert planned["Tags"] == {INSTALLATION_TAG: "ue-test", BACKUP_SET_TAG: SET}
    # another installation's files, or files naming two sets, are never this one's
    other = planner_view([], [], "ue-test", [snapshot(rdb(installation="other"))])
    assert other["memorydb_snapshots"] == []
    mixed = snapshot(rdb(), rdb(backup_set="ue-test-20261207t020000z", shard=2), shards=2)
    assert planner_view([], [], "ue-test", [mixed])["memorydb_snapshots"] == []
    assert planner_view([], [], "ue-test")["memorydb_snapshots"] is None  # no MemoryDB


def test_a_derby_installation_restores_from_its_locked_disk_point_alone():
    """Derby lives in the EFS tree: the locked disk point is the database's too (outside
    review: planned as RDS, no Derby installation could restore from the protected copies)."""
    view = planner_view([point("EFS", 20)], [manifest()], "ue-test", database="derby")
    plan = plan_restore(view, {"type": "latest"})
    assert plan["database"]["kind"] == "derby"
    assert plan["disk"]["recovery_point_arn"].endswith("recovery-point:EFS-20")
    with pytest.raises(RestorePlanError):
        plan_restore(planner_view([point("EFS", 20)], [manifest()], "ue-test"), {"type": "latest"})


def test_a_locked_point_without_tags_is_found_by_its_manifests_record():
    """A cross-account copy may come without its source's tags: the locked manifest's
    record of the copy names its set (outside review)."""
    bare = [{**point("RDS", 10), "Tags": {}}, {**point("EFS", 20), "Tags": {}}]
    recorded = {
        **manifest(),
        "artifacts": {
            "rds_recovery_point_immutable": {"arn": bare[0]["RecoveryPointArn"]},
            "efs_recovery_point_immutable": {"arn": bare[1]["RecoveryPointArn"]},
        },
    }
    plan = plan_restore(planner_view(bare, [recorded], "ue-test"), {"type": "latest"})
    assert (plan["backup_set"], plan["verified"]) == (SET, True)
    # a manifest's record outweighs a point's tags claiming another installation
    lying = [{**p, "Tags": {INSTALLATION_TAG: "other"}} for p in bare]
    assert planner_view(lying, [recorded], "ue-test")["efs_recovery_points"]
    assert planner_view(bare, [manifest()], "ue-test")["efs_recovery_points"] == []


def test_the_database_point_is_the_later_of_the_copys_date_and_the_manifests_record():
    """RDS may take the AWS Backup job's snapshot after the job started (the instance was
    busy): the locked manifest records the snapshot's time, and a set whose recorded
    database point is not older than its disk's is not restorable (rule 1)."""
    database, disk = point("RDS", 10), point("EFS", 20)

    def recorded(seconds: int) -> dict:
        at = (T0 + timedelta(seconds=seconds)).isoformat()
        artifacts = {
            "rds_recovery_point_immutable": {"arn": database["RecoveryPointArn"], "time": at}
        }
        return {**manifest(), "artifacts": artifacts}

    view = planner_view([database, disk], [recorded(15)], "ue-test")
    [planned] = view["rds_snapshots"]
    assert planned["SnapshotCreateTime"] == T0 + timedelta(seconds=15)
    assert plan_restore(view, {"type": "latest"})["backup_set"] == SET
    with pytest.raises(RestorePlanError, match="database"):
        plan_restore(planner_view([database, disk], [recorded(25)], "ue-test"), {"type": "latest"})
    # an earlier record never makes the point older than the copy says
    [kept] = planner_view([database, disk], [recorded(5)], "ue-test")["rds_snapshots"]
    assert kept["SnapshotCreateTime"] == T0 + timedelta(seconds=10)


def test_a_point_aws_reports_available_is_restorable_like_a_completed_one():
    available = [{**p, "Status": "AVAILABLE"} for p in (point("RDS", 10), point("EFS", 20))]
    plan = plan_restore(planner_view(available, [manifest()], "ue-test"), {"type": "latest"})
    assert plan["backup_set"] == SET
    creating = [{**p, "Status": "CREATING"} for p in (point("RDS", 10), point("EFS", 20))]
    with pytest.raises(RestorePlanError):
        plan_restore(planner_view(creating, [manifest()], "ue-test"), {"type": "latest"})


def test_the_source_param_is_home_or_immutable_for_the_restore_and_the_drill():
    from ue_backup.locked_inventory import source_problem

    assert source_problem({}) is None
    assert source_problem({"source": "immutable"}) is None
    assert source_problem({"source": "locked"}) == (
        "params.source: 'locked' is not one of home, immutable"
    )


def test_a_component_the_chosen_set_did_not_record_takes_the_newest_record_of_it():
    """The night the chosen set was taken, the cache's network could not be read: the
    restore takes the newest record of it another locked manifest holds, and says so."""
    from ue_backup.locked_inventory import chosen_network

    database = {"db_subnet_group": "db", "vpc_security_group_ids": ["sg-1"], "multi_az": False}
    cache = {"subnet_group": "cache", "security_group_ids": ["sg-2"], "acl_name": "platform"}
    targets = {"mount_targets": [{"subnet_id": "subnet-a", "security_group_ids": ["sg-3"]}]}
    older, chosen, newer, newest = (f"ue-test-2026120{d}t020000z" for d in (4, 5, 6, 7))
    inventory = {
        "networks": {
            older: {"efs": targets, "database": database, "memorydb": {**cache, "acl_name": "x"}},
            chosen: {"efs": {"mount_targets": []}, "database": database, "memorydb": None},
            newer: {"efs": targets, "database": None, "memorydb": cache},
            newest: None,
        }
    }

    network = chosen_network(inventory, {"backup_set": chosen})

    assert network["database"] == database  # its own
    assert network["memorydb"] == cache  # the newest that recorded it, not the older one
    assert network["efs"] == targets
    assert network["recorded_from"] == {"efs": newer, "memorydb": newer}
    assert chosen_network({"networks": {chosen: None}}, {"backup_set": chosen}) is None
