"""AWS Backup triggers run against the sandbox, rebuilt from their serialized form."""

from __future__ import annotations

import pytest

from sandbox.faults import Fault
from sandbox.installation import ROLE_ARN, seed_installation
from tests.plugins.support import round_trip
from ue_backup.hooks.aws_backup import AwsBackupHook
from ue_backup.triggers.aws_backup import (
    AwsBackupCopyJobCompleteTrigger,
    AwsBackupJobCompleteTrigger,
    AwsBackupRestoreJobCompleteTrigger,
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
