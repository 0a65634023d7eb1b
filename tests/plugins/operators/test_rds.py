"""RDS operators against the sandbox: the set's snapshot, and instances restored from it.

Rule 1 needs the snapshot's point in time before the EFS backup starts, so the
snapshot operator must return as soon as ``SnapshotCreateTime`` is fixed, not
when the snapshot is available.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk.exceptions import TaskDeferred
from botocore.exceptions import ClientError

from sandbox.faults import Fault
from sandbox.installation import seed_installation
from tests.plugins.support import (
    RUN_ID,
    SET_ID,
    defer,
    eventually,
    make_context,
    mutations,
    pushed_links,
    round_trip,
)
from ue_backup.backup_set import BackupSet
from ue_backup.errors import PermanentFailure
from ue_backup.links.console import RdsSnapshotLink
from ue_backup.operators.rds import (
    RdsCopySnapshotOperator,
    RdsRestoreInstanceOperator,
    RdsStartSnapshotOperator,
)
from ue_backup.sensors.rds import RdsInstanceAvailableSensor, RdsSnapshotAvailableSensor
from ue_backup.triggers.base import run_inline

SNAPSHOT_ID = f"ueb-{SET_ID}"
TARGET = "ue-test-db-restored"


@pytest.fixture
def installation(sandbox, fast):
    sandbox.durations.update(rds_snapshot=0.15, rds_instance=0.15, rds_snapshot_copy=0.15)
    return seed_installation(sandbox, memorydb=False, velero=False, ecds=())


@pytest.fixture
def rds(sandbox):
    return sandbox.client("rds")


def snapshot_operator(installation, **kwargs) -> RdsStartSnapshotOperator:
    return RdsStartSnapshotOperator(
        task_id="start_rds_snapshot",
        backup_set_id=SET_ID,
        db_instance_identifier=installation.rds_instance,
        **kwargs,
    )


def snapshot_status(rds, snapshot_id: str = SNAPSHOT_ID) -> str:
    return rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)["DBSnapshots"][0]["Status"]


def available_snapshot(sandbox, installation, rds) -> dict:
    record = snapshot_operator(installation).execute(make_context())
    eventually(sandbox, lambda: snapshot_status(rds) == "available")
    return record


# --- the set's snapshot -------------------------------------------------------------------


def test_the_snapshot_returns_as_soon_as_its_time_is_fixed(sandbox, installation, rds, context):
    sandbox.durations.update(rds_snapshot=5, rds_snapshot_time_fixed=0.1)

    record = snapshot_operator(installation).execute(context)

    assert record["id"] == SNAPSHOT_ID
    assert record["state"] == "creating"  # not waited for: the sensor does that later
    assert record["instance"] == installation.rds_instance
    assert datetime.fromisoformat(record["time"]) <= datetime.now(UTC)
    assert record["size_bytes"] == 20 * 1024**3
    tags = rds.list_tags_for_resource(ResourceName=record["arn"])["TagList"]
    assert {t["Key"]: t["Value"] for t in tags} == BackupSet.parse(SET_ID, RUN_ID).tags
    (created,) = mutations(sandbox, "rds", "CreateDBSnapshot")
    assert SNAPSHOT_ID in created.target


def test_the_snapshot_leaves_a_console_link(installation, context):
    snapshot_operator(installation).execute(context)

    url = RdsSnapshotLink().format_link(**pushed_links(context)[RdsSnapshotLink.key])
    assert url == (
        f"https://console.aws.amazon.com/rds/home?region=eu-west-1#db-snapshot:id={SNAPSHOT_ID}"
    )


def test_a_retry_after_success_reuses_the_snapshot(sandbox, installation, rds):
    first = available_snapshot(sandbox, installation, rds)

    again = snapshot_operator(installation).execute(make_context())

    assert (again["id"], again["time"]) == (first["id"], first["time"])
    assert again["state"] == "available"
    assert len(mutations(sandbox, "rds", "CreateDBSnapshot")) == 1


def test_a_create_whose_answer_was_lost_adopts_its_snapshot_in_the_same_try(
    sandbox, installation, rds, context
):
    sandbox.faults.add(Fault("rds", "CreateDBSnapshot", kind="lost"))

    record = snapshot_operator(installation).execute(context)  # botocore retried: "exists"

    assert record["id"] == SNAPSHOT_ID
    made, refused = sandbox.log.entries("rds", "CreateDBSnapshot")
    assert (made.detail["served"], refused.detail["status"]) == (200, 400)
    assert len(rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]) == 1


def foreign_snapshot(rds, installation, tags: list[dict]) -> None:
    rds.create_db_snapshot(
        DBSnapshotIdentifier=SNAPSHOT_ID,
        DBInstanceIdentifier=installation.rds_instance,
        Tags=tags,
    )


OTHER_SET = [
    {"Key": "ue-backup:installation", "Value": "ue-test"},
    {"Key": "ue-backup:backup-set", "Value": "ue-test-20990101t000000z"},
]


@pytest.mark.parametrize("tags", [[], OTHER_SET], ids=["untagged", "another-set"])
def test_a_snapshot_of_the_name_that_is_not_the_sets_is_never_adopted(
    sandbox, installation, rds, context, tags
):
    foreign_snapshot(rds, installation, tags)

    with pytest.raises(PermanentFailure, match=f"{SNAPSHOT_ID} exists but is not set"):
        snapshot_operator(installation).execute(context)

    assert len(mutations(sandbox, "rds", "CreateDBSnapshot")) == 1  # the foreign one only


def test_a_snapshot_made_by_another_between_look_and_create_is_not_adopted(
    sandbox, installation, rds, context
):
    foreign_snapshot(rds, installation, OTHER_SET)
    # the look finds nothing (it came before the other's create), the create meets it
    sandbox.faults.add(Fault("rds", "DescribeDBSnapshots", code="DBSnapshotNotFound", status=404))

    with pytest.raises(PermanentFailure, match="ue-test-20990101t000000z"):
        snapshot_operator(installation).execute(context)

    assert [m.detail["status"] for m in sandbox.log.entries("rds", "CreateDBSnapshot")] == [
        200,
        400,
    ]


def test_a_snapshot_that_fails_before_its_time_is_fixed_fails_the_task(
    sandbox, installation, context
):
    sandbox.durations.update(rds_snapshot=0.2, rds_snapshot_time_fixed=30)
    sandbox.faults.add(Fault("rds", "CreateDBSnapshot", kind="outcome", state="failed"))

    with pytest.raises(PermanentFailure, match=f"RDS snapshot {SNAPSHOT_ID} is failed"):
        snapshot_operator(installation).execute(context)


def test_a_snapshot_time_that_never_comes_fails_at_the_timeout(sandbox, installation, context):
    sandbox.durations.update(rds_snapshot=30, rds_snapshot_time_fixed=30)

    with pytest.raises(PermanentFailure, match=r"has no SnapshotCreateTime after 0\.5 s"):
        snapshot_operator(installation, time_fixed_timeout=0.5).execute(context)


def test_a_missing_instance_fails_and_creates_nothing(sandbox, installation, context):
    operator = RdsStartSnapshotOperator(
        task_id="start_rds_snapshot", backup_set_id=SET_ID, db_instance_identifier="no-such-db"
    )
    with pytest.raises(ClientError, match="no-such-db"):
        operator.execute(context)
    assert mutations(sandbox, "rds", "CreateDBSnapshot") == []


# --- restores -------------------------------------------------------------------------------


def restore_operator(installation, **kwargs) -> RdsRestoreInstanceOperator:
    return RdsRestoreInstanceOperator(
        task_id="restore_database",
        target_instance_identifier=TARGET,
        source_instance_identifier=installation.rds_instance,
        tags={"ue-backup:restore": "r-1"},
        **kwargs,
    )


def describe(rds, identifier: str) -> dict:
    return rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]


def test_restore_from_the_snapshot_shaped_like_the_source_then_wait_deferred(
    sandbox, installation, rds, context
):
    available_snapshot(sandbox, installation, rds)

    result = restore_operator(installation, snapshot_id=SNAPSHOT_ID).execute(context)

    assert result == {"id": TARGET, "state": "creating", "from": f"snapshot {SNAPSHOT_ID}"}
    restored, source = describe(rds, TARGET), describe(rds, installation.rds_instance)
    assert restored["DBInstanceClass"] == source["DBInstanceClass"]
    assert restored["MultiAZ"] is True
    assert {"Key": "ue-backup:restore", "Value": "r-1"} in restored["TagList"]
    sensor = RdsInstanceAvailableSensor(task_id="wait_database", resource_id=TARGET)
    assert defer(sensor, context).resume() == TARGET
    assert describe(rds, TARGET)["DBInstanceStatus"] == "available"


def test_a_restore_retry_finds_the_instance_it_created(sandbox, installation, rds):
    available_snapshot(sandbox, installation, rds)
    restore_operator(installation, snapshot_id=SNAPSHOT_ID).execute(make_context())

    again = restore_operator(installation, snapshot_id=SNAPSHOT_ID).execute(make_context())

    assert again["id"] == TARGET
    assert len(mutations(sandbox, "rds", "RestoreDBInstanceFromDBSnapshot")) == 1


def restore_window(rds, installation) -> tuple[datetime, datetime]:
    (backups,) = rds.describe_db_instance_automated_backups(
        DBInstanceIdentifier=installation.rds_instance
    )["DBInstanceAutomatedBackups"]
    window = backups["RestoreWindow"]
    return window["EarliestTime"], window["LatestTime"]


def test_restore_to_an_explicit_point_in_time_then_wait_poking(sandbox, installation, rds, context):
    earliest, latest = restore_window(rds, installation)
    when = (earliest + (latest - earliest) / 2).replace(microsecond=0)
    when = max(when, earliest.replace(microsecond=0) + timedelta(seconds=1))
    eventually(sandbox, lambda: restore_window(rds, installation)[1] > when)

    result = restore_operator(installation, restore_time=when.isoformat()).execute(context)

    assert result["from"] == f"point in time {when.isoformat()}"
    assert sandbox.aws.rds_restore_time(TARGET) == when
    sensor = RdsInstanceAvailableSensor(
        task_id="wait_database", resource_id=TARGET, deferrable=False
    )
    assert sensor.execute(context) == TARGET


def test_a_point_in_time_outside_the_window_is_refused_before_aws_is_asked(
    sandbox, installation, rds, context
):
    earliest, _ = restore_window(rds, installation)
    too_early = (earliest - timedelta(hours=1)).isoformat()

    with pytest.raises(PermanentFailure, match="outside the restore window"):
        restore_operator(installation, restore_time=too_early).execute(context)
    assert sandbox.log.entries("rds", "RestoreDBInstanceToPointInTime") == []


@pytest.mark.parametrize(
    "source", [{}, {"snapshot_id": SNAPSHOT_ID, "restore_time": "2025-01-01T00:00:00+00:00"}]
)
def test_exactly_one_of_snapshot_and_time(sandbox, installation, context, source):
    with pytest.raises(PermanentFailure, match="exactly one of snapshot_id and restore_time"):
        restore_operator(installation, **source).execute(context)
    assert sandbox.log.entries("rds") == []


def test_a_point_in_time_restore_of_a_missing_source_instance_is_refused(
    sandbox, installation, context
):
    operator = RdsRestoreInstanceOperator(
        task_id="restore_database",
        target_instance_identifier=TARGET,
        source_instance_identifier="no-such-db",
        restore_time="2025-01-01T00:00:00+00:00",
    )
    with pytest.raises(PermanentFailure, match="source instance no-such-db not found"):
        operator.execute(context)
    assert sandbox.log.entries("rds") == []


def test_a_snapshot_restore_outlives_its_source_instance(sandbox, installation, rds, context):
    """Deleted by mistake or by an attacker: the snapshot still restores, in its own shape
    (the log says the network is the region's default)."""
    available_snapshot(sandbox, installation, rds)
    rds.delete_db_instance(DBInstanceIdentifier=installation.rds_instance, SkipFinalSnapshot=True)

    result = restore_operator(installation, snapshot_id=SNAPSHOT_ID).execute(context)

    assert result["from"] == f"snapshot {SNAPSHOT_ID}"
    assert describe(rds, TARGET)["DBInstanceStatus"] in ("creating", "available")


# --- cross-region copies ----------------------------------------------------------------------

FAR = "eu-central-1"


def copy_operator(source_arn: str, **kwargs) -> RdsCopySnapshotOperator:
    return RdsCopySnapshotOperator(
        task_id="copy_rds_snapshot",
        backup_set_id=SET_ID,
        source_snapshot_arn=source_arn,
        region_name=FAR,
        **kwargs,
    )


def far_snapshot(sandbox, snapshot_id: str = SNAPSHOT_ID) -> dict:
    far = sandbox.client("rds", region=FAR)
    return far.describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)["DBSnapshots"][0]


def test_copy_into_the_other_region_tagged_with_the_set_then_wait_deferred(
    sandbox, installation, rds, context
):
    source = available_snapshot(sandbox, installation, rds)

    record = copy_operator(source["arn"]).execute(context)

    assert (record["id"], record["region"], record["state"]) == (SNAPSHOT_ID, FAR, "pending")
    assert record["arn"].startswith(f"arn:aws:rds:{FAR}:")
    assert record["time"] == source["time"]  # the data's point in time, not the copy's
    sensor = RdsSnapshotAvailableSensor(
        task_id="wait_copy", resource_id=record["id"], region_name=FAR
    )
    assert defer(sensor, context).resume() == SNAPSHOT_ID
    copied = far_snapshot(sandbox)
    assert copied["Status"] == "available"
    tags = {t["Key"]: t["Value"] for t in copied["TagList"]}
    assert tags == BackupSet.parse(SET_ID, RUN_ID).tags
    (call,) = mutations(sandbox, "rds", "CopyDBSnapshot")
    assert source["arn"] in call.target
    url = RdsSnapshotLink().format_link(**pushed_links(context)[RdsSnapshotLink.key])
    assert f"region={FAR}#db-snapshot:id={SNAPSHOT_ID}" in url


def test_a_copy_retry_after_success_copies_nothing(sandbox, installation, rds):
    source = available_snapshot(sandbox, installation, rds)
    first = copy_operator(source["arn"]).execute(make_context())
    eventually(sandbox, lambda: far_snapshot(sandbox)["Status"] == "available")

    again = copy_operator(source["arn"]).execute(make_context())

    assert (again["id"], again["state"]) == (first["id"], "available")
    assert len(mutations(sandbox, "rds", "CopyDBSnapshot")) == 1


def test_a_failed_copy_fails_its_wait_and_a_retry_copies_under_the_next_name(
    sandbox, installation, rds, context
):
    source = available_snapshot(sandbox, installation, rds)
    sandbox.faults.add(Fault("rds", "CopyDBSnapshot", kind="outcome", state="failed"))
    first = copy_operator(source["arn"]).execute(make_context())
    sensor = RdsSnapshotAvailableSensor(
        task_id="wait_copy", resource_id=first["id"], region_name=FAR, deferrable=False
    )
    with pytest.raises(PermanentFailure, match=r"RDS snapshot .* failed"):
        sensor.execute(context)

    again = copy_operator(source["arn"]).execute(make_context())

    assert again["id"] == f"{SNAPSHOT_ID}-2"
    assert len(mutations(sandbox, "rds", "CopyDBSnapshot")) == 2
    eventually(sandbox, lambda: far_snapshot(sandbox, again["id"])["Status"] == "available")


def test_a_copy_with_a_key_of_the_destination_region_is_encrypted_with_it(
    sandbox, installation, rds, context
):
    source = available_snapshot(sandbox, installation, rds)
    key = sandbox.client("kms", region=FAR).create_key()["KeyMetadata"]["Arn"]

    copy_operator(source["arn"], kms_key_id=key).execute(context)

    copied = far_snapshot(sandbox)
    assert (copied["KmsKeyId"], copied["Encrypted"]) == (key, True)


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:rds:{FAR}:123456789012:snapshot:{SNAPSHOT_ID}",
        "not-an-arn",
    ],
    ids=["same-region", "malformed"],
)
def test_a_copy_that_cannot_leave_the_region_is_refused_before_aws_is_asked(
    sandbox, installation, context, arn
):
    with pytest.raises(PermanentFailure):
        copy_operator(arn).execute(context)
    assert sandbox.log.entries("rds") == []


def test_restore_from_a_copy_without_a_source_instance_takes_the_snapshots_shape(
    sandbox, installation, rds, context
):
    source = available_snapshot(sandbox, installation, rds)
    copy_operator(source["arn"]).execute(make_context())
    eventually(sandbox, lambda: far_snapshot(sandbox)["Status"] == "available")
    operator = RdsRestoreInstanceOperator(
        task_id="restore_database",
        target_instance_identifier=TARGET,
        source_instance_identifier=None,
        snapshot_id=SNAPSHOT_ID,
        region_name=FAR,
    )

    assert operator.execute(context)["state"] == "creating"

    far = sandbox.client("rds", region=FAR)
    restored = far.describe_db_instances(DBInstanceIdentifier=TARGET)["DBInstances"][0]
    assert (
        restored["DBInstanceClass"] == describe(rds, installation.rds_instance)["DBInstanceClass"]
    )
    with pytest.raises(ClientError):
        describe(rds, TARGET)  # nothing was made at home


# --- the in-place switch-over ------------------------------------------------------------


class XcomTi:
    """A task instance that keeps the task's own XComs (the switch-over's progress)."""

    def __init__(self) -> None:
        self.xcoms: dict[str, object] = {}

    def xcom_push(self, key, value):
        self.xcoms[key] = value

    def xcom_pull(self, task_ids, key="return_value"):
        assert task_ids == "switch_over_database"
        return self.xcoms.get(key)


def test_the_switch_over_defers_after_each_rename_and_resumes_from_its_xcom(sandbox, monkeypatch):
    from sandbox.aws.fixtures import create_db_instance
    from ue_backup.operators.rds_switch_over import PROGRESS_KEY, RdsSwitchOverOperator
    from ue_backup.switch_over import replaced_name
    from ue_backup.triggers.rds import RdsSwitchOverTrigger

    monkeypatch.setenv("UE_BACKUP_POLL_SECONDS", "0.05")
    sandbox.durations.update(rds_instance=0, rds_rename=0.5)
    rds = sandbox.client("rds")
    for name in ("ue-db", "r1-db"):
        create_db_instance(rds, name)
    aside = replaced_name("ue-db", "r1")
    task = RdsSwitchOverOperator(
        task_id="switch_over_database",
        live_instance="ue-db",
        restored_instance="r1-db",
        restore_id="r1",
    )
    context = {"ti": XcomTi()}

    first = defer(task, context)
    assert isinstance(first.trigger, RdsSwitchOverTrigger)
    assert context["ti"].xcoms[PROGRESS_KEY]["renamed"] == [f"ue-db -> {aside}"]
    with pytest.raises(TaskDeferred) as second:
        first.resume()
    assert context["ti"].xcoms[PROGRESS_KEY]["renamed"] == [f"ue-db -> {aside}", "r1-db -> ue-db"]
    event = run_inline(round_trip(second.value.trigger))
    result = task.resume_execution(second.value.method_name, {"event": event}, context)

    assert result == {
        "live": "ue-db",
        "replaced": aside,
        "renamed": [f"ue-db -> {aside}", "r1-db -> ue-db"],
    }
    assert len(mutations(sandbox, "rds", "ModifyDBInstance")) == 2
