"""RDS sensors against the sandbox: snapshots and restored instances, both ways of waiting."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sandbox.faults import Fault
from sandbox.installation import seed_installation
from tests.plugins.support import defer
from ue_backup.errors import PermanentFailure
from ue_backup.sensors.rds import RdsInstanceAvailableSensor, RdsSnapshotAvailableSensor

SNAPSHOT = "ueb-ue-test-20250101t000000z"
TARGET = "ue-test-db-restored"


@pytest.fixture
def rds(sandbox, fast):
    sandbox.durations.update(rds_snapshot=0.15, rds_instance=0.15)
    installation = seed_installation(sandbox, memorydb=False, velero=False, ecds=())
    client = sandbox.client("rds")
    client.source = installation.rds_instance
    return client


def start_snapshot(rds, name: str = SNAPSHOT) -> str:
    rds.create_db_snapshot(DBSnapshotIdentifier=name, DBInstanceIdentifier=rds.source)
    return name


def start_restore(rds) -> str:
    rds.restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier=rds.source,
        TargetDBInstanceIdentifier=TARGET,
        UseLatestRestorableTime=True,
    )
    return TARGET


def assert_both_paths_fail(sensor_class, resource_id: str, context, *expected: str) -> None:
    deferral = defer(sensor_class(task_id="wait", resource_id=resource_id), context)
    assert deferral.wait()["status"] == "error"
    with pytest.raises(PermanentFailure) as deferred_failure:
        deferral.resume()
    poking = sensor_class(task_id="wait", resource_id=resource_id, deferrable=False)
    with pytest.raises(PermanentFailure) as poked_failure:
        poking.execute(context)
    for text in expected:
        assert text in str(deferred_failure.value)
        assert text in str(poked_failure.value)


def test_an_available_snapshot_deferred_without_a_short_cap(rds, context):
    start_snapshot(rds)
    deferral = defer(RdsSnapshotAvailableSensor(task_id="wait", resource_id=SNAPSHOT), context)

    assert deferral.deferred.timeout >= timedelta(days=1)  # the provider's waits stop at ~20 min
    assert deferral.resume() == SNAPSHOT
    status = rds.describe_db_snapshots(DBSnapshotIdentifier=SNAPSHOT)["DBSnapshots"][0]["Status"]
    assert status == "available"


def test_an_available_snapshot_poked(sandbox, rds, context):
    sandbox.faults.add(Fault("rds", "CreateDBSnapshot", kind="never", target="stuck"))
    start_snapshot(rds, "stuck")
    start_snapshot(rds)

    stuck = RdsSnapshotAvailableSensor(task_id="w", resource_id="stuck", deferrable=False)
    assert stuck.poke(context) is False
    sensor = RdsSnapshotAvailableSensor(task_id="w", resource_id=SNAPSHOT, deferrable=False)
    assert sensor.execute(context) == SNAPSHOT


def test_a_failed_snapshot_fails_both_ways(sandbox, rds, context):
    sandbox.faults.add(Fault("rds", "CreateDBSnapshot", kind="outcome", state="failed"))
    start_snapshot(rds)

    assert_both_paths_fail(RdsSnapshotAvailableSensor, SNAPSHOT, context, SNAPSHOT, "failed")


def test_an_available_restored_instance_both_ways(rds, context):
    start_restore(rds)

    deferral = defer(RdsInstanceAvailableSensor(task_id="wait", resource_id=TARGET), context)
    assert deferral.resume() == TARGET
    poking = RdsInstanceAvailableSensor(task_id="wait", resource_id=TARGET, deferrable=False)
    assert poking.execute(context) == TARGET


def test_a_failed_restored_instance_fails_both_ways(sandbox, rds, context):
    sandbox.faults.add(
        Fault("rds", "RestoreDBInstanceToPointInTime", kind="outcome", state="failed")
    )
    start_restore(rds)

    assert_both_paths_fail(RdsInstanceAvailableSensor, TARGET, context, TARGET, "failed")
