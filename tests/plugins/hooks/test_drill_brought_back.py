"""The drill cleanup's judgement of what a bring-back left (a drill from the protected copies).

Fakes stand in for AWS Backup in most of these: the states' rules (a copy job still
running, a job that brought nothing, a point gone, a point in the protected account)
are what is tested; the listing of an earlier try's copy jobs runs against the
sandbox's two accounts (named for the operator, never deleted), and the end-to-end
test (tests/dags/test_ue_restore_drill_immutable.py) runs the whole cleanup against
the sandbox.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from sandbox.faults import Fault
from tests.plugins.operators.test_locked_copies import (
    HOME_VAULT,
    FakeTaskInstance,
    _bring_back,
    _ended,
    locked_database_point,  # noqa: F401 (the fixture)
)
from tests.plugins.tasks.test_preflight_immutable import _protected_client
from ue_backup.compat import TaskDeferred
from ue_backup.drill_resources import BUSY, BY_HAND, GONE, PRESENT
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.drill import DrillResources

PROTECTED, HOME = "222233334444", "123456789012"
HOME_POINT = f"arn:aws:backup:eu-west-1:{HOME}:recovery-point:BACK"
LOCKED_POINT = f"arn:aws:backup:eu-west-1:{PROTECTED}:recovery-point:LOCKED"


class FakeBackup:
    """DescribeCopyJob, DescribeRecoveryPoint and DescribeRestoreJob as AWS Backup answers."""

    def __init__(self, jobs=None, points=None, restore_status="COMPLETED", owner="ue-test"):
        self.jobs, self.points, self.restore_status = jobs or {}, points or {}, restore_status
        self.owner = owner

    def list_tags(self, ResourceArn):
        return {"Tags": {"ue-backup:installation": self.owner}}

    def describe_copy_job(self, CopyJobId):
        return {"CopyJob": self.jobs[CopyJobId]}

    def describe_recovery_point(self, BackupVaultName, RecoveryPointArn):
        if RecoveryPointArn not in self.points:
            raise ClientError(
                {"Error": {"Code": "ResourceNotFoundException"}}, "DescribeRecoveryPoint"
            )
        return {"Status": self.points[RecoveryPointArn]}

    def describe_restore_job(self, RestoreJobId):
        return {"Status": self.restore_status}


def resources(
    job: dict, points=None, restore_status="COMPLETED", owner="ue-test"
) -> DrillResources:
    found = DrillResources(
        {
            "live": {},
            "brought_back": {
                "installation": "ue-test",
                "vault": "ue-test-vault",
                "protected_conn_id": "aws_immutable",
                "protected_region": "eu-west-1",
                "protected_account": PROTECTED,
                "staging_bucket": None,
                "staging_prefix": "ue-backup-restores/ue-test-drill-1/",
            },
        },
        efs_restore_job="restore-1",
        copy_jobs={"efs": "job-1"},
    )
    found.protected_backup = FakeBackup(jobs={"job-1": {"CopyJobId": "job-1", **job}})
    found.backup = FakeBackup(points=points, restore_status=restore_status, owner=owner)
    return found


def test_a_copy_job_still_running_is_waited_for():
    state = resources({"State": "RUNNING"})._point_state("efs")
    assert (state.status, "job-1 is RUNNING" in state.detail) == (BUSY, True)


def test_a_copy_job_that_brought_nothing_back_leaves_nothing():
    state = resources({"State": "FAILED"})._point_state("efs")
    assert state.status == GONE
    assert "ended FAILED" in state.detail


def test_the_brought_back_point_is_deleted_once_no_restore_reads_it():
    done = {"State": "COMPLETED", "DestinationRecoveryPointArn": HOME_POINT}
    assert resources(done, {HOME_POINT: "COMPLETED"})._point_state("efs").status == PRESENT
    reading = resources(done, {HOME_POINT: "COMPLETED"}, restore_status="RUNNING")
    assert reading._point_state("efs").status == BUSY
    assert resources(done, {HOME_POINT: "DELETING"})._point_state("efs").status == BUSY
    assert resources(done, {})._point_state("efs").status == GONE


def test_a_point_in_the_protected_account_is_never_the_cleanups():
    locked = {"State": "COMPLETED", "DestinationRecoveryPointArn": LOCKED_POINT}
    with pytest.raises(PermanentFailure, match="refusing to delete a locked copy"):
        resources(locked, {LOCKED_POINT: "COMPLETED"})._point_state("efs")
    with pytest.raises(PermanentFailure, match="refusing to delete a locked copy"):
        resources(locked)._delete_point("efs")


def test_a_drill_from_home_has_no_brought_back_point_to_judge():
    home = DrillResources({"live": {}}, copy_jobs={"efs": "job-1"})
    assert home.copy_jobs == {}


def test_a_brought_back_point_of_another_installation_is_never_deleted():
    """The copy job's destination is read from the protected account: it must not be able
    to point the cleanup at another installation's point in the vault."""
    point = "arn:aws:backup:eu-west-1:123456789012:recovery-point:HOME"
    job = {"State": "COMPLETED", "DestinationRecoveryPointArn": point}
    with pytest.raises(PermanentFailure, match=r"refusing to delete .*'other'"):
        resources(job, points={point: "COMPLETED"}, owner="other")._point_state("efs")


def test_a_point_an_earlier_try_brought_back_is_named_for_the_operator_never_deleted(
    sandbox,
    locked_database_point,  # noqa: F811 (the fixture)
):
    """Against the sandbox: a try brought the database back, the next try failed before
    it started anything (its XCom, cleared by Airflow, names no job). The protected
    account lists that copy job, but a restore's copy back of the same point would look
    the same: the point is named for the operator and left, never deleted. A job from
    before the drill, or out of another point, is not named; a listing that fails is."""
    protected, home = _protected_client(sandbox, "backup"), sandbox.client("backup")
    before = _bring_back(sandbox, locked_database_point)
    before.token_prefix = "ue-test-earlier-drill"
    with pytest.raises(TaskDeferred):
        before.execute({"ti": FakeTaskInstance()})
    since = datetime.now(UTC) + timedelta(milliseconds=50)
    time.sleep(0.1)
    first_try = FakeTaskInstance()
    with pytest.raises(TaskDeferred):
        _bring_back(sandbox, locked_database_point).execute({"ti": first_try})
    job = _ended(protected, first_try.xcoms["copy_jobs"]["database"])
    point = job["DestinationRecoveryPointArn"]

    def drill(sources=(locked_database_point,), copy_jobs=None) -> DrillResources:
        return DrillResources(
            {
                "live": {},
                "aws_conn_id": "aws_default",
                "region": sandbox.region,
                "brought_back": {
                    "installation": "ue-test",
                    "vault": HOME_VAULT,
                    "protected_conn_id": "aws_immutable",
                    "protected_region": sandbox.region,
                    "protected_account": PROTECTED,
                    "staging_bucket": None,
                    "since": since.isoformat(),
                    "sources": list(sources),
                },
            },
            copy_jobs=copy_jobs or {},  # the last try's XCom: it failed before starting
        )

    state = drill()._untracked_state()
    assert state.status == BY_HAND
    assert point in state.detail
    assert "delete those that are the drill's by hand" in state.detail
    home.describe_recovery_point(BackupVaultName=HOME_VAULT, RecoveryPointArn=point)  # kept
    # the recorded job's point is the cleanup's own (deleted by _point_state's rules)
    recorded = drill(copy_jobs={"database": job["CopyJobId"]})
    assert recorded._untracked_state().status == GONE
    assert drill(sources=["arn:of:another:point"])._untracked_state().status == GONE
    sandbox.faults.add(
        Fault("backup", "ListCopyJobs", code="AccessDeniedException", message="no", status=400)
    )
    failed = drill()._untracked_state()
    assert failed.status == BY_HAND
    assert "could not be listed" in failed.detail
