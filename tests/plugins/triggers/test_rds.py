"""RDS triggers run against the sandbox, rebuilt from their serialized form."""

from __future__ import annotations

import pytest

from sandbox.faults import Fault
from sandbox.installation import seed_installation
from tests.plugins.support import round_trip
from ue_backup.triggers.base import run_inline
from ue_backup.triggers.rds import RdsInstanceAvailableTrigger, RdsSnapshotAvailableTrigger


@pytest.fixture
def rds(sandbox):
    sandbox.durations.update(rds_snapshot=0.15, rds_instance=0.15)
    installation = seed_installation(sandbox, memorydb=False, velero=False, ecds=())
    client = sandbox.client("rds")
    client.source = installation.rds_instance
    return client


def test_the_snapshot_trigger_fires_when_the_snapshot_is_available(rds):
    rds.create_db_snapshot(DBSnapshotIdentifier="snap", DBInstanceIdentifier=rds.source)
    trigger = round_trip(RdsSnapshotAvailableTrigger(resource_id="snap", waiter_delay=0.1))

    assert run_inline(trigger) == {"status": "success", "resource_id": "snap"}


def test_the_snapshot_trigger_reports_a_failed_snapshot(sandbox, rds):
    sandbox.faults.add(Fault("rds", "CreateDBSnapshot", kind="outcome", state="failed"))
    rds.create_db_snapshot(DBSnapshotIdentifier="snap", DBInstanceIdentifier=rds.source)
    trigger = round_trip(RdsSnapshotAvailableTrigger(resource_id="snap", waiter_delay=0.1))

    event = run_inline(trigger)

    assert event["status"] == "error"
    assert "RDS snapshot snap failed: failed" in event["message"]


def test_the_instance_trigger_fires_when_the_restored_instance_is_available(rds):
    rds.restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier=rds.source,
        TargetDBInstanceIdentifier="restored",
        UseLatestRestorableTime=True,
    )
    trigger = round_trip(RdsInstanceAvailableTrigger(resource_id="restored", waiter_delay=0.1))

    assert run_inline(trigger) == {"status": "success", "resource_id": "restored"}
