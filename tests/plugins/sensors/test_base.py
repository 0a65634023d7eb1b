"""A sensor's poke judges a waiter attempt as its trigger does: transient errors are "not yet"."""

from __future__ import annotations

import pytest

from sandbox.faults import Fault
from ue_backup.sensors.memorydb import MemoryDbSnapshotAvailableSensor

ONE_ATTEMPT = {"retries": {"mode": "standard", "total_max_attempts": 1}}


@pytest.fixture
def sensor(sandbox, fast):
    sandbox.durations.update(memorydb_snapshot=0.1)
    client = sandbox.client("memorydb")
    client.create_cluster(
        ClusterName="agg", NodeType="db.t4g.small", ACLName="open-access", NumShards=1
    )
    client.create_snapshot(ClusterName="agg", SnapshotName="snap")
    return MemoryDbSnapshotAvailableSensor(
        task_id="wait", resource_id="snap", deferrable=False, botocore_config=ONE_ATTEMPT
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [("ThrottlingException", 400), ("ServiceUnavailableException", 503), ("InternalFailure", 500)],
)
def test_a_poke_that_meets_throttling_or_5xx_says_not_yet(sandbox, sensor, context, code, status):
    sandbox.faults.add(Fault("memorydb", "DescribeSnapshots", code=code, status=status, times=3))

    assert [sensor.poke(context) for _ in range(3)] == [False, False, False]
    assert sandbox.faults.armed() == []


def test_a_non_deferrable_wait_outlasts_throttling(sandbox, sensor, context):
    sandbox.faults.add(
        Fault("memorydb", "DescribeSnapshots", code="ThrottlingException", status=400, times=10)
    )

    assert sensor.execute(context) == "snap"


def test_a_poke_fails_this_try_on_an_error_that_is_not_transient(sandbox, sensor, context):
    sandbox.faults.add(Fault("memorydb", "DescribeSnapshots", code="AccessDenied", status=403))

    with pytest.raises(RuntimeError, match="AccessDenied"):
        sensor.poke(context)


# --- copy waits outlast AWS's own retries ----------------------------------------------------
# AWS Backup keeps a copy job CREATED for up to two hours while it retries after a system error
# (developer guide, "Creating backup copies"); the copy itself takes its time after that.


def copy_waits():
    from ue_backup.sensors.aws_backup import AwsBackupCopyJobCompletedSensor
    from ue_backup.sensors.rds import RdsSnapshotAvailableSensor

    return [
        AwsBackupCopyJobCompletedSensor(task_id="efs_copy", resource_id="c"),
        RdsSnapshotAvailableSensor(task_id="rds_copy", resource_id="s"),
        MemoryDbSnapshotAvailableSensor(task_id="memorydb_export", resource_id="m"),
    ]


@pytest.mark.parametrize("sensor", copy_waits(), ids=lambda s: s.task_id)
def test_a_copy_wait_allows_two_hours_created_and_the_copy_after(sensor):
    assert sensor.timeout >= 2 * 3600 + 6 * 3600
    trigger = sensor.trigger()
    assert trigger.waiter_delay * trigger.attempts >= sensor.timeout - sensor.poke_interval


def test_a_copy_job_created_is_not_yet_for_the_waiter(sandbox):
    from ue_backup.hooks.aws_backup import AwsBackupHook

    waiter = AwsBackupHook(region_name="eu-west-1").get_waiter("copy_job_complete")
    acceptors = {(a.expected, a.state) for a in waiter.config.acceptors}
    assert ("COMPLETED", "success") in acceptors
    assert not {state for expected, state in acceptors if expected in ("CREATED", "RUNNING")}
