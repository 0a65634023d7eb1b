"""AWS Backup start operators against the sandbox: backup, restore and copy jobs.

The operators only start jobs (the sensors wait); what matters here is what
they start, that a retry finds the job its first try started, and the
console links they leave.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from sandbox.faults import Fault
from sandbox.installation import LIVE_FILES, ROLE_ARN, seed_installation
from tests.plugins.support import (
    RUN_ID,
    SET_ID,
    defer,
    eventually,
    make_context,
    mutations,
    pushed_links,
)
from ue_backup.backup_set import BackupSet
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.aws_backup import BACKUP_JOB_FAILED, AwsBackupHook
from ue_backup.links.console import AwsBackupJobLink, AwsBackupRecoveryPointLink
from ue_backup.operators.aws_backup import (
    MAX_JOB_ATTEMPTS,
    AwsBackupStartCopyJobOperator,
    AwsBackupStartEfsBackupJobOperator,
    AwsBackupStartEfsRestoreJobOperator,
)
from ue_backup.sensors.aws_backup import (
    AwsBackupCopyJobCompletedSensor,
    AwsBackupRestoreJobCompletedSensor,
)


@pytest.fixture
def installation(sandbox, fast):
    sandbox.durations.update(backup_job=0.2, restore_job=0.1, copy_job=0.1)
    return seed_installation(sandbox, memorydb=False, velero=False, ecds=())


def backup_operator(installation, **kwargs) -> AwsBackupStartEfsBackupJobOperator:
    return AwsBackupStartEfsBackupJobOperator(
        task_id="start_efs_backup",
        backup_set_id=SET_ID,
        file_system_id=installation.file_system_id,
        backup_vault_name=installation.vault,
        iam_role_arn=ROLE_ARN,
        **kwargs,
    )


@pytest.fixture
def hook(sandbox) -> AwsBackupHook:
    return AwsBackupHook()


def completed_backup(sandbox, installation, hook) -> dict:
    result = backup_operator(installation).execute(make_context())
    eventually(sandbox, lambda: hook.describe_backup_job(result["job_id"])["State"] == "COMPLETED")
    return result


def files_under(path) -> dict[str, str]:
    return {p.relative_to(path).as_posix(): p.read_text() for p in path.rglob("*") if p.is_file()}


# --- backup -------------------------------------------------------------------------------


def test_backup_job_of_the_file_system_tagged_with_the_set(sandbox, installation, context, hook):
    result = backup_operator(installation, lifecycle={"DeleteAfterDays": 35}).execute(context)

    job = hook.describe_backup_job(result["job_id"])
    assert job["ResourceArn"].endswith(f"file-system/{installation.file_system_id}")
    assert job["RecoveryPointArn"] == result["recovery_point_arn"]
    assert job["RecoveryPointLifecycle"] == {"DeleteAfterDays": 35}
    assert result["vault_name"] == installation.vault
    assert result["region"] == sandbox.region
    assert result["creation_date"] == job["CreationDate"].isoformat()
    assert (
        hook.recovery_point_tags(result["recovery_point_arn"])
        == BackupSet.parse(SET_ID, RUN_ID).tags
    )
    (start,) = mutations(sandbox, "backup", "StartBackupJob")
    assert installation.vault in start.target


def test_backup_leaves_console_links_to_the_job_and_the_recovery_point(installation, context):
    result = backup_operator(installation).execute(context)

    links = pushed_links(context)
    job_url = AwsBackupJobLink().format_link(**links[AwsBackupJobLink.key])
    assert job_url.startswith("https://console.aws.amazon.com/backup/home?region=eu-west-1")
    assert job_url.endswith(f"#/jobs/backup/details/{result['job_id']}")
    point_url = AwsBackupRecoveryPointLink().format_link(**links[AwsBackupRecoveryPointLink.key])
    assert f"/backupvaults/details/{installation.vault}/" in point_url
    assert result["recovery_point_arn"].rsplit(":", 1)[1] in point_url


def test_a_retry_after_success_finds_the_same_job(sandbox, installation, hook):
    first = completed_backup(sandbox, installation, hook)
    again = backup_operator(installation).execute(make_context())

    assert again["job_id"] == first["job_id"]
    assert again["recovery_point_arn"] == first["recovery_point_arn"]
    starts = mutations(sandbox, "backup", "StartBackupJob")
    assert len(starts) == 2  # both asked AWS with the same token, and got the same job
    assert len(hook.list_recovery_points(installation.vault)) == 1


def test_a_retry_after_a_failed_job_starts_the_next_job_of_the_chain(sandbox, installation, hook):
    sandbox.faults.add(
        Fault("backup", "StartBackupJob", kind="outcome", state="FAILED", message="EFS busy")
    )
    failed = backup_operator(installation).execute(make_context())
    eventually(sandbox, lambda: hook.describe_backup_job(failed["job_id"])["State"] == "FAILED")

    retried = backup_operator(installation).execute(make_context())

    assert retried["job_id"] != failed["job_id"]
    assert hook.describe_backup_job(retried["job_id"])["State"] not in BACKUP_JOB_FAILED
    # The retry asked for the failed token's job first, then started the next one.
    assert len(mutations(sandbox, "backup", "StartBackupJob")) == 3


def test_it_gives_up_when_every_job_of_the_chain_ended_badly(sandbox, installation, context):
    sandbox.durations.update(backup_job=0)
    sandbox.faults.add(
        Fault("backup", "StartBackupJob", kind="outcome", state="ABORTED", times=MAX_JOB_ATTEMPTS)
    )
    with pytest.raises(
        PermanentFailure, match=f"{MAX_JOB_ATTEMPTS} backup jobs of fs-[0-9a-f]+ in set {SET_ID}"
    ):
        backup_operator(installation).execute(context)
    assert len(mutations(sandbox, "backup", "StartBackupJob")) == MAX_JOB_ATTEMPTS


def test_a_missing_file_system_fails_before_any_job_is_started(sandbox, installation, context):
    operator = AwsBackupStartEfsBackupJobOperator(
        task_id="start_efs_backup",
        backup_set_id=SET_ID,
        file_system_id="fs-00000000",
        backup_vault_name=installation.vault,
        iam_role_arn=ROLE_ARN,
    )
    with pytest.raises(ClientError, match="FileSystemNotFound"):
        operator.execute(context)
    assert sandbox.log.entries("backup") == []


def test_a_missing_vault_fails_with_awss_error(sandbox, installation, context):
    operator = AwsBackupStartEfsBackupJobOperator(
        task_id="start_efs_backup",
        backup_set_id=SET_ID,
        file_system_id=installation.file_system_id,
        backup_vault_name="no-such-vault",
        iam_role_arn=ROLE_ARN,
    )
    with pytest.raises(ClientError, match="no-such-vault"):
        operator.execute(context)


def test_a_bad_set_id_is_refused_before_anything_is_asked(sandbox, installation, context):
    operator = AwsBackupStartEfsBackupJobOperator(
        task_id="start_efs_backup",
        backup_set_id="Not A Set",
        file_system_id=installation.file_system_id,
        backup_vault_name=installation.vault,
        iam_role_arn=ROLE_ARN,
    )
    with pytest.raises(ValueError, match="is not a backup set id"):
        operator.execute(context)
    assert sandbox.log.entries() == []


# --- restore ------------------------------------------------------------------------------


def restore_operator(installation, point: str, **kwargs) -> AwsBackupStartEfsRestoreJobOperator:
    return AwsBackupStartEfsRestoreJobOperator(
        task_id="restore_efs",
        recovery_point_arn=point,
        iam_role_arn=ROLE_ARN,
        idempotency_token=f"{SET_ID}-restore-efs",
        file_system_id=installation.file_system_id,
        **kwargs,
    )


def test_restore_to_a_new_file_system_then_wait_deferred(sandbox, installation, context, hook):
    point = completed_backup(sandbox, installation, hook)["recovery_point_arn"]

    started = restore_operator(installation, point).execute(context)
    sensor = AwsBackupRestoreJobCompletedSensor(task_id="wait_efs", resource_id=started["job_id"])
    assert defer(sensor, context).resume() == started["job_id"]

    job = hook.describe_restore_job(started["job_id"])
    new_fs = job["CreatedResourceArn"].rsplit("/", 1)[1]
    assert new_fs != installation.file_system_id
    (restored,) = sandbox.aws.efs_path(new_fs).glob("aws-backup-restore_*")
    assert LIVE_FILES.items() <= files_under(restored).items()
    url = AwsBackupJobLink().format_link(**pushed_links(context)[AwsBackupJobLink.key])
    assert url.endswith(f"#/jobs/restore/details/{started['job_id']}")


@pytest.mark.parametrize("in_place", [False, "False"])
def test_restore_into_a_directory_of_the_existing_file_system(
    sandbox, installation, context, in_place, hook
):
    """``new_file_system`` may come rendered from a template: "False" means False."""
    point = completed_backup(sandbox, installation, hook)["recovery_point_arn"]
    assert "new_file_system" in AwsBackupStartEfsRestoreJobOperator.template_fields

    started = restore_operator(installation, point, new_file_system=in_place).execute(context)
    sensor = AwsBackupRestoreJobCompletedSensor(
        task_id="wait_efs", resource_id=started["job_id"], deferrable=False
    )
    sensor.execute(context)

    job = hook.describe_restore_job(started["job_id"])
    assert job["CreatedResourceArn"].endswith(installation.file_system_id)
    (restored,) = sandbox.aws.efs_path(installation.file_system_id).glob("aws-backup-restore_*")
    assert LIVE_FILES.items() <= files_under(restored).items()


def test_a_restore_of_an_unknown_recovery_point_fails_with_awss_error(
    sandbox, installation, context
):
    unknown = "arn:aws:backup:eu-west-1:123456789012:recovery-point:0000-NOPE"
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        restore_operator(installation, unknown).execute(context)
    assert mutations(sandbox, "backup", "StartRestoreJob") == []


def test_a_restore_retry_finds_the_same_job(sandbox, installation, hook):
    point = completed_backup(sandbox, installation, hook)["recovery_point_arn"]
    first = restore_operator(installation, point).execute(make_context())
    again = restore_operator(installation, point).execute(make_context())

    assert again["job_id"] == first["job_id"]
    assert len(mutations(sandbox, "backup", "StartRestoreJob")) == 2
    assert len(mutations(sandbox, "efs", "CreateFileSystem")) == 0  # nothing made twice


# --- copy ---------------------------------------------------------------------------------


@pytest.fixture
def far_vault(sandbox) -> str:
    far = sandbox.client("backup", region="eu-central-1")
    return far.create_backup_vault(BackupVaultName="dr-vault")["BackupVaultArn"]


def copy_operator(installation, point: str, destination: str) -> AwsBackupStartCopyJobOperator:
    return AwsBackupStartCopyJobOperator(
        task_id="copy_efs",
        recovery_point_arn=point,
        source_vault_name=installation.vault,
        destination_vault_arn=destination,
        iam_role_arn=ROLE_ARN,
        idempotency_token=BackupSet.parse(SET_ID).copy_token("efs"),
        lifecycle={"DeleteAfterDays": 90},
    )


def test_copy_to_another_regions_vault_then_wait_deferred(
    sandbox, installation, far_vault, context, hook
):
    point = completed_backup(sandbox, installation, hook)["recovery_point_arn"]

    started = copy_operator(installation, point, far_vault).execute(context)
    sensor = AwsBackupCopyJobCompletedSensor(task_id="wait_copy", resource_id=started["job_id"])
    assert defer(sensor, context).resume() == started["job_id"]

    (copied,) = AwsBackupHook(region_name="eu-central-1").list_recovery_points("dr-vault")
    assert copied["Tags"] == BackupSet.parse(SET_ID, RUN_ID).tags
    assert copied["Lifecycle"]["DeleteAfterDays"] == 90
    url = AwsBackupJobLink().format_link(**pushed_links(context)[AwsBackupJobLink.key])
    assert url.endswith(f"#/jobs/copy/details/{started['job_id']}")


def test_a_copy_retry_finds_the_same_job(sandbox, installation, far_vault, hook):
    point = completed_backup(sandbox, installation, hook)["recovery_point_arn"]
    first = copy_operator(installation, point, far_vault).execute(make_context())
    again = copy_operator(installation, point, far_vault).execute(make_context())

    assert again["job_id"] == first["job_id"]
    eventually(
        sandbox,
        lambda: hook.describe_copy_job(first["job_id"])["State"] == "COMPLETED",
    )
    assert len(AwsBackupHook(region_name="eu-central-1").list_recovery_points("dr-vault")) == 1


def set_copy_operator(installation, point: str, destination: str) -> AwsBackupStartCopyJobOperator:
    """The copy as the backup DAG starts it: tokens derived from the set."""
    return AwsBackupStartCopyJobOperator(
        task_id="copy_efs_recovery_point",
        recovery_point_arn=point,
        source_vault_name=installation.vault,
        destination_vault_arn=destination,
        iam_role_arn=ROLE_ARN,
        backup_set_id=SET_ID,
    )


def test_a_set_copy_retry_after_success_starts_nothing_new(sandbox, installation, far_vault, hook):
    point = completed_backup(sandbox, installation, hook)["recovery_point_arn"]
    first = set_copy_operator(installation, point, far_vault).execute(make_context())
    eventually(sandbox, lambda: hook.describe_copy_job(first["job_id"])["State"] == "COMPLETED")

    again = set_copy_operator(installation, point, far_vault).execute(make_context())

    assert again == first
    assert first["destination_vault_arn"] == far_vault
    assert first["recovery_point_arn"] == point
    far = AwsBackupHook(region_name="eu-central-1")
    (copied,) = far.list_recovery_points("dr-vault")
    assert copied["Tags"] == BackupSet.parse(SET_ID, RUN_ID).tags


def test_a_set_copy_that_ended_badly_is_started_again_with_the_next_token(
    sandbox, installation, far_vault, hook, context
):
    point = completed_backup(sandbox, installation, hook)["recovery_point_arn"]
    sandbox.faults.add(Fault("backup", "StartCopyJob", kind="outcome", state="FAILED"))
    first = set_copy_operator(installation, point, far_vault).execute(make_context())
    sensor = AwsBackupCopyJobCompletedSensor(
        task_id="wait_copy", resource_id=first["job_id"], deferrable=False
    )
    with pytest.raises(PermanentFailure, match="FAILED"):
        sensor.execute(context)

    again = set_copy_operator(installation, point, far_vault).execute(make_context())

    assert again["job_id"] != first["job_id"]
    # the first try; then the retry: the failed job's token again, and the next token
    assert len(mutations(sandbox, "backup", "StartCopyJob")) == 3
    eventually(sandbox, lambda: hook.describe_copy_job(again["job_id"])["State"] == "COMPLETED")


def test_a_copy_needs_exactly_one_way_to_its_token(installation):
    with pytest.raises(ValueError, match="exactly one of idempotency_token and backup_set_id"):
        AwsBackupStartCopyJobOperator(
            task_id="copy",
            recovery_point_arn="arn",
            source_vault_name="v",
            destination_vault_arn="arn",
            iam_role_arn=ROLE_ARN,
        )
