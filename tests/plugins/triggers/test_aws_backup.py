"""AWS Backup triggers run against the sandbox, rebuilt from their serialized form."""

from __future__ import annotations

import time

import pytest

from sandbox.faults import Fault
from sandbox.installation import ROLE_ARN, seed_installation
from tests.plugins.support import round_trip
from ue_backup.database_point import backup_snapshot_id
from ue_backup.hooks.aws_backup import AwsBackupHook
from ue_backup.triggers.aws_backup import (
    AwsBackupCopyJobCompleteTrigger,
    AwsBackupJobCompleteTrigger,
    AwsBackupRestoreJobCompleteTrigger,
    RdsBackupPointFixedTrigger,
)
from ue_backup.triggers.base import run_inline


@pytest.fixture
def start_job(sandbox):
    sandbox.durations.update(backup_job=0.1)
    installation = seed_installation(sandbox, memorydb=False, velero=False, ecds=())
    efs = sandbox.client("efs")
    arn = efs.describe_file_systems(FileSystemId=installation.file_system_id)["FileSystems"][0][
        "FileSystemArn"
    ]
    hook = AwsBackupHook()

    def start(token: str) -> str:
        return hook.start_backup_job(
            vault_name=installation.vault,
            resource_arn=arn,
            iam_role_arn=ROLE_ARN,
            idempotency_token=token,
            recovery_point_tags={},
        )["BackupJobId"]

    return start


def test_the_backup_trigger_fires_success_when_the_job_completes(start_job):
    job_id = start_job("ok")
    trigger = round_trip(AwsBackupJobCompleteTrigger(resource_id=job_id, waiter_delay=0.1))

    assert run_inline(trigger) == {"status": "success", "resource_id": job_id}
    assert AwsBackupHook().describe_backup_job(job_id)["State"] == "COMPLETED"


def test_the_backup_trigger_fires_an_error_with_the_state_and_status_message(sandbox, start_job):
    sandbox.faults.add(
        Fault("backup", "StartBackupJob", kind="outcome", state="EXPIRED", message="window over")
    )
    job_id = start_job("late")
    trigger = round_trip(AwsBackupJobCompleteTrigger(resource_id=job_id, waiter_delay=0.1))

    event = run_inline(trigger)

    assert event["status"] == "error"
    assert event["resource_id"] == job_id
    assert f"AWS Backup backup job {job_id} failed" in event["message"]
    assert "EXPIRED" in event["message"]
    assert "window over" in event["message"]


def test_a_job_aws_does_not_know_is_an_error_event(sandbox):
    trigger = round_trip(AwsBackupRestoreJobCompleteTrigger(resource_id="no-such-job"))

    event = run_inline(trigger)

    assert event["status"] == "error"
    assert "no-such-job" in event["message"]


def test_restore_and_copy_triggers_wait_on_their_own_jobs():
    restore = AwsBackupRestoreJobCompleteTrigger(resource_id="r")
    copy = AwsBackupCopyJobCompleteTrigger(resource_id="c")
    assert (restore.waiter_name, restore.waiter_args) == (
        "restore_job_complete",
        {"RestoreJobId": "r"},
    )
    assert (copy.waiter_name, copy.waiter_args) == ("copy_job_complete", {"CopyJobId": "c"})
    assert "CopyJob.StatusMessage" in copy.status_queries
    assert "StatusMessage" in restore.status_queries


@pytest.fixture
def database_job(sandbox):
    """Start the database's AWS Backup job after a manual snapshot that takes ``busy`` s."""
    installation = seed_installation(sandbox, memorydb=False, velero=False, ecds=())
    rds = sandbox.client("rds")

    def start(busy: float, token: str = "db") -> str:
        sandbox.durations.update(rds_snapshot=busy, rds_snapshot_time_fixed=0.0, backup_job=0.1)
        rds.create_db_snapshot(
            DBInstanceIdentifier=installation.rds_instance, DBSnapshotIdentifier=f"{token}-manual"
        )
        arn = rds.describe_db_instances(DBInstanceIdentifier=installation.rds_instance)[
            "DBInstances"
        ][0]["DBInstanceArn"]
        job = AwsBackupHook().start_backup_job(
            vault_name=installation.vault,
            resource_arn=arn,
            iam_role_arn=ROLE_ARN,
            idempotency_token=token,
            recovery_point_tags={},
        )
        return job["BackupJobId"]

    return start


def point_trigger(job_id: str, within: float) -> RdsBackupPointFixedTrigger:
    return round_trip(
        RdsBackupPointFixedTrigger(job_id=job_id, deadline=time.time() + within, poll_interval=0.1)
    )


def test_the_database_point_wait_ends_when_rds_has_begun_the_jobs_snapshot(database_job):
    job_id = database_job(busy=1.0)
    started = time.time()

    event = run_inline(point_trigger(job_id, within=30))

    assert event["status"] == "success"
    assert event["fixed"] is True
    assert time.time() - started >= 0.5  # waited for the manual snapshot, not the queue
    arn = AwsBackupHook().describe_backup_job(job_id)["RecoveryPointArn"]
    assert backup_snapshot_id(arn) in event["why"]


def test_the_database_point_wait_gives_up_at_its_bound_without_failing(database_job):
    job_id = database_job(busy=5.0)

    event = run_inline(point_trigger(job_id, within=0.3))

    assert event["status"] == "success"
    assert event["fixed"] is False
    assert "window's bound" in event["why"]
    assert "no snapshot yet" in event["why"]


def test_a_job_aws_does_not_know_ends_the_database_point_wait_as_an_error(sandbox):
    event = run_inline(point_trigger("no-such-job", within=30))
    assert event["status"] == "error"
    assert "no-such-job" in event["message"]
