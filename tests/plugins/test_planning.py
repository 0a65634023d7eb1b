"""The restore planner: rule 1 (database strictly older than disk and MemoryDB), exhaustively."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ue_backup.backup_set import VERIFIED_TAG
from ue_backup.planning import (
    BACKUP_SET_TAG,
    RestorePlanError,
    memorydb_snapshot_time,
    plan_restore,
    to_utc,
)

T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def rds(name, minutes, status="available", backup_set=None, kind="manual"):
    tags = [{"Key": BACKUP_SET_TAG, "Value": backup_set}] if backup_set else []
    return {
        "DBSnapshotIdentifier": name,
        "SnapshotCreateTime": at(minutes),
        "Status": status,
        "SnapshotType": kind,
        "TagList": tags,
    }


def rp(name, minutes, status="COMPLETED", backup_set=None, verified="passed"):
    """A recovery point; ``verified`` is its set's verdict tag (None: never verified)."""
    tags = {BACKUP_SET_TAG: backup_set} if backup_set else {}
    if verified:
        tags[VERIFIED_TAG] = verified
    return {
        "RecoveryPointArn": f"arn:aws:backup:eu-west-1:123456789012:recovery-point:{name}",
        "CreationDate": at(minutes),
        "Status": status,
        "Tags": tags,
    }


def mdb(name, minutes, status="available", backup_set=None, shard_offsets=(0,)):
    return {
        "Name": name,
        "Status": status,
        "ClusterConfiguration": {
            "Shards": [
                {"Name": f"000{i}", "SnapshotCreationTime": at(minutes + off)}
                for i, off in enumerate(shard_offsets)
            ]
        },
        "Tags": {BACKUP_SET_TAG: backup_set} if backup_set else {},
    }


def velero(name, minutes, phase="Completed", backup_set=None):
    labels = {"ue-backup/backup-set": backup_set} if backup_set else {}
    return {
        "metadata": {"name": name, "labels": labels},
        "status": {"phase": phase, "startTimestamp": at(minutes).isoformat()},
    }


def inventory(**overrides):
    base = {
        "database": "rds",
        "rds_snapshots": [],
        "rds_restore_window": None,
        "efs_recovery_points": [],
        "memorydb_snapshots": None,
        "velero_backups": None,
    }
    return {**base, **overrides}


LATEST = {"type": "latest"}


# --- examples ------------------------------------------------------------------


def test_latest_takes_the_newest_complete_set():
    inv = inventory(
        rds_snapshots=[rds("s1", 0, backup_set="b1"), rds("s2", 60, backup_set="b2")],
        efs_recovery_points=[rp("r1", 1, backup_set="b1"), rp("r2", 61, backup_set="b2")],
    )
    plan = plan_restore(inv, {"type": "latest", "allow_point_in_time_restore": False})
    assert plan["backup_set"] == "b2"
    assert plan["database"] == {
        "kind": "snapshot",
        "snapshot_id": "s2",
        "snapshot_arn": None,
        "backup_set": "b2",
        "time": at(60).isoformat(),
    }
    assert plan["disk"]["time"] == at(61).isoformat()
    assert plan["memorydb"] is None
    assert plan["velero"] is None
    assert plan["rejected"] == []


# --- verified means restorable ----------------------------------------------------


def three_sets(newest_verified, middle_verified="passed"):
    """b1 verified; b2 and b3 as given (None: their run never verified them)."""
    return inventory(
        rds_snapshots=[rds(f"s{i}", 60 * i, backup_set=f"b{i}") for i in (1, 2, 3)],
        efs_recovery_points=[
            rp("r1", 61, backup_set="b1"),
            rp("r2", 121, backup_set="b2", verified=middle_verified),
            rp("r3", 181, backup_set="b3", verified=newest_verified),
        ],
    )


NO_PITR = {"type": "latest", "allow_point_in_time_restore": False}


def test_latest_skips_newer_unverified_sets_and_lists_each_with_its_reason():
    inv = three_sets(newest_verified=None, middle_verified="failed")
    inv["efs_recovery_points"][1]["Tags"]["ue-backup:window"] = "broken"

    plan = plan_restore(inv, NO_PITR)

    assert (plan["backup_set"], plan["verified"]) == ("b1", True)
    assert "warning" not in plan
    assert [(r["backup_set"], r["reason"]) for r in plan["rejected"]] == [
        (
            "b3",
            "backup set b3 was never verified: its backup run failed before verification, "
            "or still runs",
        ),
        ("b2", "backup set b2 failed its verification (cold window broken)"),
    ]


def test_an_unverified_set_is_taken_only_when_the_request_allows_it_and_the_plan_says_so():
    plan = plan_restore(three_sets(newest_verified=None), {**NO_PITR, "allow_unverified": True})

    assert (plan["backup_set"], plan["verified"]) == ("b3", False)
    assert plan["warning"].startswith("UNVERIFIED: backup set b3 was never verified")
    assert plan["rejected"] == []


def test_a_named_unverified_set_is_refused_unless_allowed():
    inv = three_sets(newest_verified="failed")
    with pytest.raises(RestorePlanError, match="b3 failed its verification; to restore it anyway"):
        plan_restore(inv, {"type": "backup_set", "backup_set": "b3"})
    plan = plan_restore(inv, {"type": "backup_set", "backup_set": "b3", "allow_unverified": True})
    assert (plan["backup_set"], plan["verified"]) == ("b3", False)


def test_with_no_verified_set_nothing_is_planned_and_the_refusal_says_why():
    inv = inventory(
        rds_snapshots=[rds("s1", 0, backup_set="b1")],
        efs_recovery_points=[rp("r1", 1, backup_set="b1", verified=None)],
    )
    with pytest.raises(RestorePlanError, match="b1 was never verified"):
        plan_restore(inv, NO_PITR)


def test_failed_efs_job_is_passed_over():
    inv = inventory(
        rds_snapshots=[rds("s1", 0), rds("s2", 60), rds("s3", 120)],
        efs_recovery_points=[rp("r1", 1), rp("r2", 61), rp("r3", 121, status="PARTIAL")],
    )
    plan = plan_restore(inv, {"type": "latest", "allow_point_in_time_restore": False})
    assert plan["disk"]["recovery_point_arn"].endswith(":r2")


def test_equal_times_are_not_older():
    inv = inventory(rds_snapshots=[rds("s1", 10)], efs_recovery_points=[rp("r1", 10)])
    with pytest.raises(RestorePlanError, match="strictly before"):
        plan_restore(inv, LATEST)


def test_newer_disk_point_without_older_database_is_rejected_with_reason():
    inv = inventory(
        rds_snapshots=[rds("s1", 0), rds("s2", 65)],
        efs_recovery_points=[rp("r1", 1), rp("r2", 61)],
    )
    plan = plan_restore(inv, LATEST)
    assert plan["disk"]["recovery_point_arn"].endswith(":r2")  # s1 qualifies for r2
    assert plan["database"]["snapshot_id"] == "s1"


def test_point_in_time_restore_lands_one_second_before_the_bound():
    inv = inventory(
        rds_restore_window={"EarliestTime": at(-1000), "LatestTime": at(500)},
        efs_recovery_points=[rp("r1", 100)],
        memorydb_snapshots=[mdb("m1", 99.5)],
    )
    plan = plan_restore(inv, LATEST)
    assert plan["database"]["kind"] == "point_in_time"
    assert plan["database"]["restore_time"] == (at(99.5) - timedelta(seconds=1)).isoformat()
    assert plan["memorydb"]["snapshot_name"] == "m1"


def test_point_in_time_restore_is_capped_at_latest_restorable_time():
    inv = inventory(
        rds_restore_window={"EarliestTime": at(-1000), "LatestTime": at(50)},
        efs_recovery_points=[rp("r1", 100)],
    )
    assert plan_restore(inv, LATEST)["database"]["restore_time"] == at(50).isoformat()


def test_point_in_time_not_allowed_falls_back_to_snapshot():
    inv = inventory(
        rds_snapshots=[rds("s1", 90)],
        rds_restore_window={"EarliestTime": at(-1000), "LatestTime": at(500)},
        efs_recovery_points=[rp("r1", 100)],
    )
    plan = plan_restore(inv, {"type": "latest", "allow_point_in_time_restore": False})
    assert plan["database"]["kind"] == "snapshot"


def test_window_starting_after_bound_is_not_used():
    inv = inventory(
        rds_restore_window={"EarliestTime": at(200), "LatestTime": at(500)},
        efs_recovery_points=[rp("r1", 100)],
    )
    with pytest.raises(RestorePlanError, match="restore window starts"):
        plan_restore(inv, LATEST)


def test_only_manual_available_snapshots_count():
    inv = inventory(
        rds_snapshots=[rds("auto", 10, kind="automated"), rds("c", 11, status="creating")],
        efs_recovery_points=[rp("r1", 100)],
    )
    with pytest.raises(RestorePlanError, match="no database point"):
        plan_restore(inv, LATEST)


def test_memorydb_time_is_the_earliest_shard():
    snap = mdb("m", 10, shard_offsets=(3, 0.5, 7))
    assert memorydb_snapshot_time(snap) == at(10.5)


def test_memorydb_bound_applies_to_the_database():
    inv = inventory(
        rds_snapshots=[rds("s1", 5), rds("s2", 9)],
        efs_recovery_points=[rp("r1", 10, backup_set="b")],
        memorydb_snapshots=[mdb("m", 8, backup_set="b")],
    )
    plan = plan_restore(inv, LATEST)
    assert plan["database"]["snapshot_id"] == "s1"  # s2 is older than disk but not MemoryDB
    assert plan["memorydb"]["snapshot_name"] == "m"


def test_memorydb_configured_but_missing_refuses():
    inv = inventory(
        rds_snapshots=[rds("s1", 5)],
        efs_recovery_points=[rp("r1", 10)],
        memorydb_snapshots=[mdb("late", 11)],
    )
    with pytest.raises(RestorePlanError, match="no available MemoryDB snapshot"):
        plan_restore(inv, LATEST)


def test_backup_set_request_uses_exactly_that_set():
    inv = inventory(
        rds_snapshots=[rds("s1", 0, backup_set="b1"), rds("s2", 60, backup_set="b2")],
        efs_recovery_points=[rp("r1", 1, backup_set="b1"), rp("r2", 61, backup_set="b2")],
        memorydb_snapshots=[mdb("m1", 2, backup_set="b1"), mdb("m2", 62, backup_set="b2")],
        velero_backups=[velero("v1", 3, backup_set="b1"), velero("v2", 63, backup_set="b2")],
    )
    plan = plan_restore(inv, {"type": "backup_set", "backup_set": "b1"})
    assert plan["backup_set"] == "b1"
    assert plan["memorydb"]["snapshot_name"] == "m1"
    assert plan["velero"]["backup_name"] == "v1"
    assert plan["database"]["snapshot_id"] == "s1"


def test_incomplete_backup_set_is_refused():
    inv = inventory(
        rds_snapshots=[rds("s1", 0, backup_set="b1")],
        efs_recovery_points=[
            rp("r0", 0.5, backup_set="b0"),
            rp("r1", 1, backup_set="b1", status="PARTIAL"),
        ],
    )
    with pytest.raises(RestorePlanError, match="incomplete"):
        plan_restore(inv, {"type": "backup_set", "backup_set": "b1"})
    inv["efs_recovery_points"] = [rp("r1", 1, backup_set="b1")]
    inv["memorydb_snapshots"] = [mdb("other", 0.5, backup_set="b0")]
    with pytest.raises(RestorePlanError, match="of its backup set"):
        plan_restore(inv, {"type": "backup_set", "backup_set": "b1"})


def test_point_in_time_request_takes_newest_disk_not_after_target():
    inv = inventory(
        rds_snapshots=[rds("s1", 0), rds("s2", 60), rds("s3", 120)],
        efs_recovery_points=[rp("r1", 1), rp("r2", 61), rp("r3", 121)],
    )
    plan = plan_restore(
        inv, {"type": "point_in_time", "target_time": at(100).isoformat().replace("+00:00", "Z")}
    )
    assert plan["disk"]["recovery_point_arn"].endswith(":r2")
    assert plan["rejected"][0]["reason"].startswith("after the target time")
    with pytest.raises(RestorePlanError, match="no EFS recovery point at or before"):
        plan_restore(inv, {"type": "point_in_time", "target_time": at(0).isoformat()})


def test_derby_database_is_inside_the_disk_backup():
    inv = inventory(database="derby", efs_recovery_points=[rp("r1", 1)])
    plan = plan_restore(inv, LATEST)
    assert plan["database"] == {"kind": "derby", "time": at(1).isoformat()}


def test_velero_falls_back_to_newest_completed_before_disk():
    inv = inventory(
        rds_snapshots=[rds("s1", 0)],
        efs_recovery_points=[rp("r1", 10)],
        velero_backups=[
            velero("v0", 5),
            velero("v1", 8, phase="PartiallyFailed"),
            velero("v2", 11),
        ],
    )
    assert plan_restore(inv, LATEST)["velero"]["backup_name"] == "v0"


def copied(snapshot: dict, copied_minutes: float) -> dict:
    """``snapshot`` as its cross-region copy describes it: a SnapshotCreateTime of its own."""
    return {
        **snapshot,
        "SnapshotCreateTime": at(copied_minutes),
        "OriginalSnapshotCreateTime": snapshot["SnapshotCreateTime"],
        "SourceDBSnapshotIdentifier": (
            f"arn:aws:rds:eu-west-1:123456789012:snapshot:{snapshot['DBSnapshotIdentifier']}"
        ),
    }


def test_a_cross_region_copy_is_planned_at_its_original_time():
    """A copy made after the disk backup still holds the data of before it."""
    inv = inventory(
        rds_snapshots=[copied(rds("s1", 0, backup_set="b1"), copied_minutes=30)],
        efs_recovery_points=[rp("r1", 1, backup_set="b1")],
    )
    plan = plan_restore(inv, {"type": "backup_set", "backup_set": "b1"})
    assert plan["database"]["snapshot_id"] == "s1"
    assert plan["database"]["time"] == at(0).isoformat()


def test_a_copy_time_alone_would_break_rule_1():
    """Without the source's time the copy looks newer than the disk point: refused, not used."""
    copy = copied(rds("s1", 0, backup_set="b1"), copied_minutes=30)
    del copy["SourceDBSnapshotIdentifier"]  # not known as a copy: its own time is used
    inv = inventory(rds_snapshots=[copy], efs_recovery_points=[rp("r1", 1, backup_set="b1")])
    with pytest.raises(RestorePlanError, match="no database point strictly before"):
        plan_restore(inv, {"type": "backup_set", "backup_set": "b1"})


def test_timestamps_as_strings_and_naive_datetimes():
    inv = inventory(
        rds_snapshots=[{**rds("s1", 0), "SnapshotCreateTime": "2026-11-01T02:00:00Z"}],
        efs_recovery_points=[{**rp("r1", 1), "CreationDate": datetime(2026, 11, 1, 2, 1)}],
    )
    plan = plan_restore(inv, LATEST)
    assert plan["database"]["time"] == "2026-11-01T02:00:00+00:00"
    assert plan["disk"]["time"] == "2026-11-01T02:01:00+00:00"


@pytest.mark.parametrize(
    ("request_", "words"),
    [
        ({"type": "newest"}, "not one of"),
        ({}, "not one of"),
        ({"type": "backup_set"}, "needs a backup_set id"),
        ({"type": "point_in_time"}, "needs target_time"),
        ({"type": "point_in_time", "target_time": "yesterday"}, "needs target_time"),
    ],
)
def test_bad_requests_are_refused(request_, words):
    with pytest.raises(RestorePlanError, match=words):
        plan_restore(inventory(efs_recovery_points=[rp("r1", 1)]), request_)


def test_nothing_to_restore():
    with pytest.raises(RestorePlanError, match="no COMPLETED EFS recovery point"):
        plan_restore(inventory(), LATEST)


# --- properties over generated inventories ---------------------------------------

minutes = st.integers(min_value=0, max_value=40)
sets = st.sampled_from([None, "b1", "b2", "b3"])

rds_entries = st.lists(
    st.builds(
        rds,
        name=st.uuids().map(str),
        minutes=minutes,
        status=st.sampled_from(["available", "available", "creating", "failed"]),
        backup_set=sets,
        kind=st.sampled_from(["manual", "manual", "automated"]),
    ),
    max_size=6,
)
rp_entries = st.lists(
    st.builds(
        rp,
        name=st.uuids().map(str),
        minutes=minutes,
        status=st.sampled_from(["COMPLETED", "COMPLETED", "PARTIAL", "EXPIRED"]),
        backup_set=sets,
    ),
    max_size=6,
)
mdb_entries = st.one_of(
    st.none(),
    st.lists(
        st.builds(
            mdb,
            name=st.uuids().map(str),
            minutes=minutes,
            status=st.sampled_from(["available", "available", "creating"]),
            backup_set=sets,
            shard_offsets=st.lists(st.integers(0, 2), min_size=1, max_size=3).map(tuple),
        ),
        max_size=5,
    ),
)
windows = st.one_of(
    st.none(),
    st.tuples(minutes, minutes).map(
        lambda t: {"EarliestTime": at(min(t)), "LatestTime": at(max(t))}
    ),
)
requests = st.one_of(
    st.fixed_dictionaries({"type": st.just("latest")}),
    st.fixed_dictionaries({"type": st.just("backup_set"), "backup_set": sets.filter(bool)}),
    st.fixed_dictionaries(
        {"type": st.just("point_in_time"), "target_time": minutes.map(lambda m: at(m).isoformat())}
    ),
).flatmap(
    lambda r: st.builds(lambda allow: {**r, "allow_point_in_time_restore": allow}, st.booleans())
)
inventories = st.builds(
    inventory,
    database=st.sampled_from(["rds", "rds", "derby"]),
    rds_snapshots=rds_entries,
    rds_restore_window=windows,
    efs_recovery_points=rp_entries,
    memorydb_snapshots=mdb_entries,
)


def oracle_database_times(inv, request, bound):
    """Every qualifying database point strictly before ``bound``, by brute force."""
    if inv["database"] == "derby":
        return None
    times = [
        s["SnapshotCreateTime"]
        for s in inv["rds_snapshots"]
        if s["Status"] == "available"
        and s["SnapshotType"] == "manual"
        and s["SnapshotCreateTime"] < bound
    ]
    window = inv["rds_restore_window"]
    if request.get("allow_point_in_time_restore", True) and window:
        t = min(bound - timedelta(seconds=1), window["LatestTime"])
        if t >= window["EarliestTime"]:
            times.append(t)
    return times


def oracle_options(inv, request):
    """Each completed disk point the request allows: (disk, memorydb, newest database time)."""
    options = []
    for disk in inv["efs_recovery_points"]:
        if disk["Status"] != "COMPLETED":
            continue
        disk_set = disk["Tags"].get(BACKUP_SET_TAG)
        if request["type"] == "backup_set" and disk_set != request["backup_set"]:
            continue
        if request["type"] == "point_in_time" and disk["CreationDate"] > to_utc(
            request["target_time"]
        ):
            continue
        bound, memorydb = disk["CreationDate"], None
        if inv["memorydb_snapshots"] is not None:
            available = [s for s in inv["memorydb_snapshots"] if s["Status"] == "available"]
            same = [s for s in available if disk_set and s["Tags"].get(BACKUP_SET_TAG) == disk_set]
            if same:
                memorydb = max(same, key=memorydb_snapshot_time)
            elif request["type"] != "backup_set":
                older = [s for s in available if memorydb_snapshot_time(s) <= disk["CreationDate"]]
                memorydb = max(older, key=memorydb_snapshot_time, default=None)
            if memorydb is None:
                continue
            bound = min(bound, memorydb_snapshot_time(memorydb))
        db_times = oracle_database_times(inv, request, bound)
        if db_times is not None and not db_times:
            continue
        options.append((disk, memorydb, max(db_times) if db_times else None))
    return options


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inventories, requests)
def test_planner_against_brute_force(inv, request):
    if request["type"] == "backup_set":
        # A set has one recovery point; the planner judges exactly that one.
        completed = [
            d
            for d in inv["efs_recovery_points"]
            if d["Status"] == "COMPLETED" and d["Tags"].get(BACKUP_SET_TAG) == request["backup_set"]
        ]
        assume(len(completed) <= 1)
    options = oracle_options(inv, request)
    try:
        plan = plan_restore(inv, request)
    except RestorePlanError:
        assert options == [], "refused although a consistent combination exists"
        return
    assert options, "planned although no consistent combination exists"

    disk_time = to_utc(plan["disk"]["time"])
    db_time = to_utc(plan["database"]["time"])
    # rule 1, strictly
    if plan["database"]["kind"] == "derby":
        assert db_time == disk_time
    else:
        assert db_time < disk_time
    if plan["memorydb"] is not None:
        mdb_time = to_utc(plan["memorydb"]["time"])
        assert plan["database"]["kind"] == "derby" or db_time < mdb_time
    # the request
    if request["type"] == "point_in_time":
        assert disk_time <= to_utc(request["target_time"])
    if request["type"] == "backup_set":
        assert plan["backup_set"] == request["backup_set"]
    # the newest qualifying disk point, and the newest database point for it
    assert disk_time == max(o[0]["CreationDate"] for o in options)
    (chosen,) = [
        o for o in options if o[0]["RecoveryPointArn"] == plan["disk"]["recovery_point_arn"]
    ]
    if plan["database"]["kind"] != "derby":
        assert db_time == chosen[2]
    if chosen[1] is not None:  # the same snapshot, or one taken at the same instant
        assert to_utc(plan["memorydb"]["time"]) == memorydb_snapshot_time(chosen[1])
    # every rejected candidate is at least as new as the chosen one
    assert all(to_utc(r["time"]) >= disk_time for r in plan["rejected"])


# --- a DataSync installation: each set's folder is its disk point ---------------------


def ds(name, minutes, status="SUCCESS", backup_set=None, verified="passed"):
    """A set's DataSync copy (``datasync_sets.set_copy``): its time is the copy's start."""
    tags = {BACKUP_SET_TAG: backup_set} if backup_set else {}
    if verified:
        tags[VERIFIED_TAG] = verified
    return {
        "TaskArn": f"arn:aws:datasync:eu-west-1:123456789012:task/task-{name}",
        "LocationArn": f"arn:aws:datasync:eu-west-1:123456789012:location/loc-{name}",
        "FileSystemId": "fs-target",
        "Folder": f"/ue-backup/{backup_set}",
        "TaskExecutionArn": f"arn:aws:datasync:eu-west-1:123456789012:task/task-{name}/execution/e",
        "Status": status,
        "StartTime": at(minutes).isoformat(),
        "Tags": tags,
    }


def test_a_datasync_copy_is_the_disk_point_under_rule_1():
    inv = inventory(
        rds_snapshots=[rds("s1", 0, backup_set="b1")],
        datasync_copies=[
            ds("1", 1, backup_set="b1"),
            ds("2", 0, backup_set="b0"),  # began with the only snapshot: not older
            ds("3", 120, backup_set="b3", status="ERROR"),
        ],
        efs_recovery_points=[rp("r9", 200, backup_set="b9")],  # not this installation's method
    )
    plan = plan_restore(inv, NO_PITR)
    assert plan["backup_set"] == "b1"
    assert plan["disk"] == {
        "kind": "datasync",
        "recovery_point_arn": None,
        "task_arn": "arn:aws:datasync:eu-west-1:123456789012:task/task-1",
        "task_execution_arn": "arn:aws:datasync:eu-west-1:123456789012:task/task-1/execution/e",
        "location_arn": "arn:aws:datasync:eu-west-1:123456789012:location/loc-1",
        "file_system_id": "fs-target",
        "folder": "/ue-backup/b1",
        "time": at(1).isoformat(),
        "backup_set": "b1",
    }
    assert plan["rejected"] == []
    with pytest.raises(RestorePlanError, match="no database point strictly before"):
        plan_restore(inv, {"type": "backup_set", "backup_set": "b0"})


def test_an_unverified_datasync_copy_is_passed_over_and_none_is_named_as_a_copy():
    inv = inventory(
        rds_snapshots=[rds("s1", 0, backup_set="b1")],
        datasync_copies=[ds("1", 1, backup_set="b1", verified=None)],
    )
    with pytest.raises(RestorePlanError, match="no DataSync copy of a verified set"):
        plan_restore(inv, NO_PITR)
    with pytest.raises(RestorePlanError, match="no successful DataSync copy exists"):
        plan_restore(inventory(datasync_copies=[ds("1", 1, status="ERROR")]), NO_PITR)
