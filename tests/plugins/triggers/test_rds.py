"""RDS triggers run against the sandbox, rebuilt from their serialized form."""

from __future__ import annotations

import time

import pytest

from sandbox.faults import Fault
from sandbox.installation import seed_installation
from tests.plugins.support import round_trip
from ue_backup.triggers.base import run_inline
from ue_backup.triggers.rds import (
    RdsInstanceAvailableTrigger,
    RdsSnapshotAvailableTrigger,
    RdsSwitchOverTrigger,
)


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


# --- the switch-over's wait ----------------------------------------------------------------

LIVE, ASIDE, RESTORED = "ue-db", "ue-db-replaced-r1", "r1-db"


@pytest.fixture
def switching(sandbox):
    """The live and the restored instance, both available; renames take 1 s."""
    from sandbox.aws.fixtures import create_db_instance

    sandbox.durations.update(rds_instance=0, rds_rename=1.0)
    client = sandbox.client("rds")
    for name in (LIVE, RESTORED):
        create_db_instance(client, name)
    return client


def switch_over_trigger(deadline_in: float = 30.0, **kwargs) -> RdsSwitchOverTrigger:
    return round_trip(
        RdsSwitchOverTrigger(
            live=LIVE,
            aside=ASIDE,
            restored=RESTORED,
            deadline=time.time() + deadline_in,
            poll_interval=0.05,
            **kwargs,
        )
    )


def test_the_switch_over_trigger_fires_once_a_rename_is_over(switching):
    switching.modify_db_instance(
        DBInstanceIdentifier=LIVE, NewDBInstanceIdentifier=ASIDE, ApplyImmediately=True
    )

    event = run_inline(switch_over_trigger())

    assert event["status"] == "success"
    assert event["step"] == "rename"  # the restored one may now take the live name
    assert "takes the live name" in event["why"]


def test_the_switch_over_trigger_fires_done_when_both_renames_are_over(switching):
    for old, new in ((LIVE, ASIDE), (RESTORED, LIVE)):
        switching.modify_db_instance(
            DBInstanceIdentifier=old, NewDBInstanceIdentifier=new, ApplyImmediately=True
        )
        run_inline(switch_over_trigger())

    assert run_inline(switch_over_trigger())["step"] == "done"


def test_the_switch_over_trigger_gives_up_at_its_deadline_naming_the_states(sandbox, switching):
    sandbox.durations.update(rds_rename=60)
    switching.modify_db_instance(
        DBInstanceIdentifier=LIVE, NewDBInstanceIdentifier=ASIDE, ApplyImmediately=True
    )

    event = run_inline(switch_over_trigger(deadline_in=0.3))

    assert event["status"] == "error"
    assert event["kind"] == "timeout"
    assert f"{LIVE}: renaming to {ASIDE}" in event["message"]


def test_states_that_make_no_sense_fail_it_only_when_read_twice(switching):
    switching.delete_db_instance(DBInstanceIdentifier=RESTORED, SkipFinalSnapshot=True)
    with_doubt = switch_over_trigger(doubt="something else")

    event = run_inline(with_doubt)

    assert event["status"] == "error"
    assert event["kind"] == "failed"
    assert event["message"].startswith(f"RDS switch-over of {LIVE} cannot go on: unexpected")
