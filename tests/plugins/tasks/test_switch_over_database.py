"""The switch-over (``RdsSwitchOverOperator``) on the sandbox's RDS, which renames asynchronously.

Right after a rename the old id is ``renaming`` and the new one not found; the
switch-over must wait through that (the DBInstanceAvailable waiter raises at
once) and a retry must go on from where RDS is, whatever existence says.
"""

from __future__ import annotations

import pytest

from sandbox.aws.fixtures import create_db_instance
from ue_backup.errors import PermanentFailure
from ue_backup.operators.rds_switch_over import RdsSwitchOverOperator
from ue_backup.switch_over import replaced_name

LIVE, RID = "ue-db", "ue-test-r260101000000"
RESTORED = f"{RID}-db"
ASIDE = replaced_name(LIVE, RID)


@pytest.fixture
def rds(sandbox, monkeypatch):
    monkeypatch.setenv("UE_BACKUP_POLL_SECONDS", "0.05")
    sandbox.durations.update(rds_instance=0, rds_rename=1.5)  # checkable on a busy machine
    client = sandbox.client("rds")
    for name in (LIVE, RESTORED):
        create_db_instance(client, name)
    return client


def settings(rds):
    return {
        "aws_conn_id": "aws_default",
        "region": rds.meta.region_name,
        "rds_instance": LIVE,
        "rds_target": RESTORED,
        "restore_id": RID,
    }


def switch_over_database(settings, timeout_seconds=None):
    """The DAG's switch-over task, its waits run in this process (the trigger, inline)."""
    return RdsSwitchOverOperator(
        task_id="switch_over_database",
        live_instance=settings["rds_instance"],
        restored_instance=settings["rds_target"],
        restore_id=settings["restore_id"],
        attempt_seconds=timeout_seconds,
        deferrable=False,
        aws_conn_id=settings["aws_conn_id"],
        region_name=settings["region"],
    ).execute({})


def status(rds, name):
    try:
        return rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0][
            "DBInstanceStatus"
        ]
    except rds.exceptions.DBInstanceNotFoundFault:
        return None


def test_it_waits_through_each_asynchronous_rename(rds):
    result = switch_over_database(settings(rds))

    assert result["renamed"] == [f"{LIVE} -> {ASIDE}", f"{RESTORED} -> {LIVE}"]
    assert (status(rds, LIVE), status(rds, ASIDE), status(rds, RESTORED)) == (
        "available",
        "available",
        None,
    )


@pytest.mark.parametrize("first", [(LIVE, ASIDE), (RESTORED, LIVE)], ids=["aside", "restored"])
def test_a_retry_during_a_rename_waits_for_it_and_goes_on(rds, first):
    if first[0] == RESTORED:  # the first rename is done; the second is under way
        rds.modify_db_instance(
            DBInstanceIdentifier=LIVE, NewDBInstanceIdentifier=ASIDE, ApplyImmediately=True
        )
        switch_over_database_until(rds, lambda: status(rds, ASIDE) == "available")
    rds.modify_db_instance(
        DBInstanceIdentifier=first[0], NewDBInstanceIdentifier=first[1], ApplyImmediately=True
    )
    assert status(rds, first[0]) == "renaming"
    assert status(rds, first[1]) is None

    result = switch_over_database(settings(rds))

    assert result["renamed"] == ([f"{RESTORED} -> {LIVE}"] if first[1] == ASIDE else [])
    assert (status(rds, LIVE), status(rds, ASIDE), status(rds, RESTORED)) == (
        "available",
        "available",
        None,
    )


def test_a_second_run_after_the_switch_over_changes_nothing(rds):
    switch_over_database(settings(rds))
    assert switch_over_database(settings(rds))["renamed"] == []


def test_an_attempt_gives_up_at_its_deadline_naming_the_states(rds, sandbox):
    sandbox.durations.update(rds_rename=60)
    with pytest.raises(TimeoutError, match=f"{LIVE}: renaming to {ASIDE}"):
        switch_over_database(settings(rds), timeout_seconds=0.3)


def test_states_it_did_not_make_stop_it_before_any_rename(rds):
    rds.delete_db_instance(DBInstanceIdentifier=RESTORED, SkipFinalSnapshot=True)
    switch_over_database_until(rds, lambda: status(rds, RESTORED) is None)
    with pytest.raises(PermanentFailure, match="unexpected instances"):
        switch_over_database(settings(rds))
    assert status(rds, LIVE) == "available"


def switch_over_database_until(rds, done, timeout=5.0):
    """Wait (outside the code under test) until ``done()``."""
    import time

    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the sandbox never got there"
        time.sleep(0.05)
