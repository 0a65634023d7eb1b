"""AWS Backup sensors against the sandbox: each way of waiting, each failure state.

A failed job must end the task with AWS's own ``StatusMessage``, whether the
sensor deferred to the triggerer or poked in the worker: both use the same
waiter, so each failure test checks both paths on the same job.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from airflow.triggers.base import TaskSuccessEvent

from sandbox.faults import Fault
from sandbox.installation import ROLE_ARN, seed_installation
from tests.plugins.support import defer, eventually
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.aws_backup import (
    BACKUP_JOB_FAILED,
    COPY_JOB_FAILED,
    AwsBackupHook,
)
from ue_backup.sensors.aws_backup import (
    AwsBackupCopyJobCompletedSensor,
    AwsBackupJobCompletedSensor,
    AwsBackupRestoreJobCompletedSensor,
)
from ue_backup.triggers.aws_backup import AwsBackupJobCompleteTrigger
from ue_backup.triggers.base import first_event

DONE = "COMPLETED"

# What AWS Backup calls a failed restore job (the waiter in waiters/backup.json says the same).
RESTORE_JOB_FAILED = ("FAILED", "ABORTED")


@pytest.fixture
def installation(sandbox, fast):
    sandbox.durations.update(backup_job=0.1, restore_job=0.1, copy_job=0.1)
    return seed_installation(sandbox, memorydb=False, velero=False, ecds=())


@pytest.fixture
def hook(sandbox) -> AwsBackupHook:
    return AwsBackupHook()


@pytest.fixture
def start_backup(sandbox, installation, hook):
    efs = sandbox.client("efs")
    arn = efs.describe_file_systems(FileSystemId=installation.file_system_id)["FileSystems"][0][
        "FileSystemArn"
    ]

    def start(token: str = "token") -> dict:
        return hook.start_backup_job(
            vault_name=installation.vault,
            resource_arn=arn,
            iam_role_arn=ROLE_ARN,
            idempotency_token=token,
            recovery_point_tags={"ue-backup:backup-set": "s"},
        )

    return start


def completed_point(sandbox, hook, start_backup) -> str:
    job = start_backup("for-point")
    eventually(
        sandbox, lambda: hook.describe_backup_job(job["BackupJobId"])["State"] == "COMPLETED"
    )
    return job["RecoveryPointArn"]


def assert_both_paths_fail(sensor_class, job_id: str, context, *expected: str) -> None:
    """Deferred and poked, the sensor fails permanently with every ``expected`` text."""
    deferral = defer(sensor_class(task_id="wait", resource_id=job_id), context)
    event = deferral.wait()
    assert event["status"] == "error"
    for text in expected:
        assert text in event["message"]
    with pytest.raises(PermanentFailure) as deferred_failure:
        deferral.resume()

    poking = sensor_class(task_id="wait", resource_id=job_id, deferrable=False)
    with pytest.raises(PermanentFailure) as poked_failure:
        poking.execute(context)
    for text in expected:
        assert text in str(deferred_failure.value)
        assert text in str(poked_failure.value)


# --- backup jobs ------------------------------------------------------------------------


def test_a_completed_backup_job_deferred(sandbox, start_backup, context):
    job_id = start_backup()["BackupJobId"]
    sensor = AwsBackupJobCompletedSensor(task_id="wait_efs", resource_id=job_id)

    deferral = defer(sensor, context)

    assert deferral.deferred.timeout >= timedelta(days=1)  # no short fixed cap
    assert deferral.trigger.waiter_delay == pytest.approx(0.2)
    assert deferral.wait() == {"status": "success", "resource_id": job_id}
    assert deferral.resume() == job_id
    assert AwsBackupHook().describe_backup_job(job_id)["State"] == "COMPLETED"


def test_a_backup_job_wait_that_ends_in_the_triggerer(sandbox, start_backup, context):
    """The wait closing the cold window: no worker start between the job's end and resume."""
    job_id = start_backup()["BackupJobId"]
    sensor = AwsBackupJobCompletedSensor(
        task_id="wait_efs", resource_id=job_id, end_from_trigger=True
    )

    deferral = defer(sensor, context)
    event = first_event(deferral.trigger)

    assert isinstance(event, TaskSuccessEvent)
    assert event.xcoms is None
    assert deferral.resume() is None  # dag.test() resumes with the end event's payload


def test_a_failed_job_still_fails_on_the_worker_when_ending_in_the_triggerer(
    sandbox, start_backup, context
):
    sandbox.faults.add(Fault("backup", "StartBackupJob", kind="outcome", state="FAILED"))
    job_id = start_backup("bad")["BackupJobId"]
    sensor = AwsBackupJobCompletedSensor(task_id="w", resource_id=job_id, end_from_trigger=True)

    deferral = defer(sensor, context)

    assert deferral.wait()["status"] == "error"
    with pytest.raises(PermanentFailure, match="FAILED"):
        deferral.resume()


def test_a_completed_backup_job_poked(sandbox, start_backup, hook, context):
    sandbox.faults.add(Fault("backup", "StartBackupJob", kind="never"))
    stuck = start_backup("stuck")["BackupJobId"]
    job_id = start_backup()["BackupJobId"]

    stuck_sensor = AwsBackupJobCompletedSensor(task_id="w", resource_id=stuck, deferrable=False)
    assert stuck_sensor.poke(context) is False  # a running job is not done, and not failed
    sensor = AwsBackupJobCompletedSensor(task_id="wait_efs", resource_id=job_id, deferrable=False)
    assert sensor.execute(context) == job_id
    assert hook.describe_backup_job(job_id)["State"] == "COMPLETED"


@pytest.mark.parametrize("state", BACKUP_JOB_FAILED)
def test_a_backup_job_that_ends_badly_fails_with_its_status_message(
    sandbox, start_backup, context, state
):
    message = f"injected: the job ended {state.lower()} (EFS throttled)"
    sandbox.faults.add(
        Fault("backup", "StartBackupJob", kind="outcome", state=state, message=message)
    )
    job_id = start_backup()["BackupJobId"]

    assert_both_paths_fail(AwsBackupJobCompletedSensor, job_id, context, state, message, job_id)


def test_the_sensor_and_its_trigger_share_one_definition():
    sensor = AwsBackupJobCompletedSensor(task_id="wait", resource_id="job-1")
    assert sensor.aws_hook_class is AwsBackupHook
    trigger = sensor.trigger()
    assert isinstance(trigger, AwsBackupJobCompleteTrigger)
    assert trigger.waiter_name == "backup_job_complete"
    assert trigger.waiter_args == {"BackupJobId": "job-1"}


# --- restore jobs -----------------------------------------------------------------------


def start_restore(hook, installation, point: str) -> str:
    return hook.start_efs_restore_job(
        recovery_point_arn=point,
        iam_role_arn=ROLE_ARN,
        idempotency_token="restore",
        file_system_id=installation.file_system_id,
        new_file_system=False,
    )["RestoreJobId"]


def test_a_completed_restore_job_both_ways(sandbox, installation, hook, start_backup, context):
    job_id = start_restore(hook, installation, completed_point(sandbox, hook, start_backup))

    assert (
        defer(AwsBackupRestoreJobCompletedSensor(task_id="w", resource_id=job_id), context).resume()
        == job_id
    )
    poking = AwsBackupRestoreJobCompletedSensor(task_id="w", resource_id=job_id, deferrable=False)
    assert poking.execute(context) == job_id


@pytest.mark.parametrize("state", RESTORE_JOB_FAILED)
def test_a_restore_job_that_ends_badly_fails_with_its_status_message(
    sandbox, installation, hook, start_backup, context, state
):
    point = completed_point(sandbox, hook, start_backup)
    message = f"injected: restore {state.lower()}, access denied to the file system"
    sandbox.faults.add(
        Fault("backup", "StartRestoreJob", kind="outcome", state=state, message=message)
    )
    job_id = start_restore(hook, installation, point)

    assert_both_paths_fail(AwsBackupRestoreJobCompletedSensor, job_id, context, state, message)


# --- copy jobs --------------------------------------------------------------------------


def start_copy(sandbox, hook, installation, point: str) -> str:
    far = sandbox.client("backup", region="eu-central-1")
    destination = far.create_backup_vault(BackupVaultName="dr-vault")["BackupVaultArn"]
    return hook.start_copy_job(
        recovery_point_arn=point,
        source_vault_name=installation.vault,
        destination_vault_arn=destination,
        iam_role_arn=ROLE_ARN,
        idempotency_token="copy",
    )["CopyJobId"]


def test_a_completed_copy_job_both_ways(sandbox, installation, hook, start_backup, context):
    point = completed_point(sandbox, hook, start_backup)
    job_id = start_copy(sandbox, hook, installation, point)

    assert (
        defer(AwsBackupCopyJobCompletedSensor(task_id="w", resource_id=job_id), context).resume()
        == job_id
    )
    poking = AwsBackupCopyJobCompletedSensor(task_id="w", resource_id=job_id, deferrable=False)
    assert poking.execute(context) == job_id


@pytest.mark.parametrize("state", COPY_JOB_FAILED)
def test_a_copy_job_that_ends_badly_fails_with_its_status_message(
    sandbox, installation, hook, start_backup, context, state
):
    point = completed_point(sandbox, hook, start_backup)
    message = f"injected: copy {state.lower()}, destination vault key not usable"
    sandbox.faults.add(
        Fault("backup", "StartCopyJob", kind="outcome", state=state, message=message)
    )
    job_id = start_copy(sandbox, hook, installation, point)

    assert_both_paths_fail(AwsBackupCopyJobCompletedSensor, job_id, context, state, message)
