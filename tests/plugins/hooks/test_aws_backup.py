"""AwsBackupHook against the sandbox: its waiters, idempotent jobs, recovery points, restores."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import WaiterError

from sandbox.faults import Fault
from sandbox.installation import LIVE_FILES, ROLE_ARN, seed_installation
from tests.plugins.support import RUN_ID, SET_ID, eventually
from ue_backup.backup_set import BackupSet
from ue_backup.hooks.aws_backup import (
    BACKUP_JOB_FAILED,
    COPY_JOB_FAILED,
    AwsBackupHook,
)
from ue_backup.waiters import WAITERS_DIR

FAST_WAIT = {"Delay": 0.1, "MaxAttempts": 100}
DONE = "COMPLETED"

# What AWS Backup calls a failed restore job (the waiter in waiters/backup.json says the same).
RESTORE_JOB_FAILED = ("FAILED", "ABORTED")


@pytest.fixture
def installation(sandbox):
    sandbox.durations.update(backup_job=0.1, restore_job=0.1, copy_job=0.1)
    return seed_installation(sandbox, memorydb=False, velero=False, ecds=())


@pytest.fixture
def hook(sandbox):
    return AwsBackupHook()


def fs_arn(sandbox, fs_id: str) -> str:
    efs = sandbox.client("efs")
    return efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]["FileSystemArn"]


def start(hook, sandbox, installation, token: str = "token-1", **kwargs) -> dict:
    return hook.start_backup_job(
        vault_name=installation.vault,
        resource_arn=fs_arn(sandbox, installation.file_system_id),
        iam_role_arn=ROLE_ARN,
        idempotency_token=token,
        recovery_point_tags=BackupSet.parse(SET_ID, RUN_ID).tags,
        **kwargs,
    )


def files_under(path) -> dict[str, str]:
    return {p.relative_to(path).as_posix(): p.read_text() for p in path.rglob("*") if p.is_file()}


def failure_states(waiter: str) -> set[str]:
    definition = json.loads((WAITERS_DIR / "backup.json").read_text())["waiters"][waiter]
    return {a["expected"] for a in definition["acceptors"] if a["state"] == "failure"}


def test_the_waiter_file_is_the_hooks_and_agrees_with_its_failure_states(sandbox, hook):
    assert hook.waiter_path == WAITERS_DIR / "backup.json"
    assert failure_states("backup_job_complete") == set(BACKUP_JOB_FAILED)
    assert failure_states("restore_job_complete") == set(RESTORE_JOB_FAILED)
    assert failure_states("copy_job_complete") == set(COPY_JOB_FAILED)
    for name in ("backup_job_complete", "restore_job_complete", "copy_job_complete"):
        assert hook.get_waiter(name).name == name


def test_the_same_token_finds_the_same_job_and_another_token_starts_one(
    sandbox, hook, installation
):
    first = start(hook, sandbox, installation, "token-1")
    again = start(hook, sandbox, installation, "token-1")
    other = start(hook, sandbox, installation, "token-2")

    assert again["BackupJobId"] == first["BackupJobId"]
    assert other["BackupJobId"] != first["BackupJobId"]
    points = hook.list_recovery_points(installation.vault)
    assert len(points) == 2


def test_a_job_carries_lifecycle_and_the_recovery_point_the_sets_tags(sandbox, hook, installation):
    job = start(hook, sandbox, installation, lifecycle={"DeleteAfterDays": 35})
    described = hook.describe_backup_job(job["BackupJobId"])

    assert described["RecoveryPointLifecycle"] == {"DeleteAfterDays": 35}
    assert described["ResourceArn"].endswith(installation.file_system_id)
    assert hook.recovery_point_tags(job["RecoveryPointArn"]) == {
        "ue-backup:installation": "ue-test",
        "ue-backup:backup-set": SET_ID,
        "ue-backup:run-id": RUN_ID,
    }
    (point,) = hook.list_recovery_points(
        installation.vault, fs_arn(sandbox, installation.file_system_id)
    )
    assert point["RecoveryPointArn"] == job["RecoveryPointArn"]
    assert point["Tags"]["ue-backup:backup-set"] == SET_ID
    assert hook.list_recovery_points(installation.vault, "arn:aws:elasticfilesystem:x") == []


def test_the_backup_waiter_succeeds_on_completed_and_fails_on_a_failed_job(
    sandbox, hook, installation
):
    good = start(hook, sandbox, installation, "good")
    hook.get_waiter("backup_job_complete").wait(
        BackupJobId=good["BackupJobId"], WaiterConfig=FAST_WAIT
    )
    assert hook.describe_backup_job(good["BackupJobId"])["State"] == "COMPLETED"
    point = hook.describe_recovery_point(installation.vault, good["RecoveryPointArn"])
    assert point["Status"] == "COMPLETED"

    sandbox.faults.add(Fault("backup", "StartBackupJob", kind="outcome", state="ABORTED"))
    bad = start(hook, sandbox, installation, "bad")
    with pytest.raises(WaiterError, match="terminal failure"):
        hook.get_waiter("backup_job_complete").wait(
            BackupJobId=bad["BackupJobId"], WaiterConfig=FAST_WAIT
        )
    assert hook.describe_backup_job(bad["BackupJobId"])["State"] == "ABORTED"


def completed_point(sandbox, hook, installation) -> str:
    job = start(hook, sandbox, installation, "for-restore")
    eventually(
        sandbox, lambda: hook.describe_backup_job(job["BackupJobId"])["State"] == "COMPLETED"
    )
    return job["RecoveryPointArn"]


def test_restore_items_into_a_directory_of_the_existing_file_system(sandbox, hook, installation):
    point = completed_point(sandbox, hook, installation)
    job = hook.start_efs_restore_job(
        recovery_point_arn=point,
        iam_role_arn=ROLE_ARN,
        idempotency_token="restore-1",
        file_system_id=installation.file_system_id,
        new_file_system=False,
        items_to_restore=["/aggregation"],
    )
    again = hook.start_efs_restore_job(
        recovery_point_arn=point,
        iam_role_arn=ROLE_ARN,
        idempotency_token="restore-1",
        file_system_id=installation.file_system_id,
        new_file_system=False,
        items_to_restore=["/aggregation"],
    )
    assert again["RestoreJobId"] == job["RestoreJobId"]
    eventually(
        sandbox, lambda: hook.describe_restore_job(job["RestoreJobId"])["Status"] == "COMPLETED"
    )
    described = hook.describe_restore_job(job["RestoreJobId"])
    assert described["Status"] == "COMPLETED"
    assert described["CreatedResourceArn"].endswith(installation.file_system_id)

    root = sandbox.aws.efs_path(installation.file_system_id)
    (restored,) = root.glob("aws-backup-restore_*")
    expected = {k: v for k, v in LIVE_FILES.items() if k.startswith("aggregation/")}
    assert {k: v for k, v in files_under(restored).items() if "TEMP." not in k} == expected


def test_restore_to_a_new_file_system(sandbox, hook, installation):
    point = completed_point(sandbox, hook, installation)
    job = hook.start_efs_restore_job(  # AWS wants the source file system id even here
        recovery_point_arn=point,
        iam_role_arn=ROLE_ARN,
        idempotency_token="restore-new",
        file_system_id=installation.file_system_id,
    )
    eventually(
        sandbox, lambda: hook.describe_restore_job(job["RestoreJobId"])["Status"] == "COMPLETED"
    )
    new_fs = hook.describe_restore_job(job["RestoreJobId"])["CreatedResourceArn"].rsplit("/", 1)[1]
    assert new_fs != installation.file_system_id
    (restored,) = sandbox.aws.efs_path(new_fs).glob("aws-backup-restore_*")
    assert LIVE_FILES.items() <= files_under(restored).items()


def test_copy_to_another_regions_vault(sandbox, hook, installation):
    point = completed_point(sandbox, hook, installation)
    far = sandbox.client("backup", region="eu-central-1")
    destination = far.create_backup_vault(BackupVaultName="dr-vault")["BackupVaultArn"]
    job = hook.start_copy_job(
        recovery_point_arn=point,
        source_vault_name=installation.vault,
        destination_vault_arn=destination,
        iam_role_arn=ROLE_ARN,
        idempotency_token="copy-1",
    )
    eventually(sandbox, lambda: hook.describe_copy_job(job["CopyJobId"])["State"] == DONE)
    described = hook.describe_copy_job(job["CopyJobId"])  # unwrapped from {"CopyJob": ...}
    assert described["State"] == "COMPLETED"
    assert described["DestinationBackupVaultArn"] == destination

    (copied,) = AwsBackupHook(region_name="eu-central-1").list_recovery_points("dr-vault")
    assert copied["Tags"]["ue-backup:backup-set"] == SET_ID


# --- vaults, deletion and marks (the calls preflight, retention and verify make) ----------


def test_describe_vault_raises_aws_backups_error_for_a_missing_vault(sandbox, hook, installation):
    from botocore.exceptions import ClientError

    assert hook.describe_vault(installation.vault)["BackupVaultName"] == installation.vault
    with pytest.raises(ClientError) as missing:
        hook.describe_vault("no-such-vault")
    assert missing.value.response["Error"]["Code"] in (
        "ResourceNotFoundException",
        "AccessDeniedException",
    )


def test_listed_arns_and_a_deleted_point_that_the_vault_no_longer_lists(
    sandbox, hook, installation
):
    jobs = [start(hook, sandbox, installation, token) for token in ("token-1", "token-2")]
    for job in jobs:
        hook.get_waiter("backup_job_complete").wait(
            BackupJobId=job["BackupJobId"], WaiterConfig=FAST_WAIT
        )
    kept, gone = (job["RecoveryPointArn"] for job in jobs)
    assert hook.recovery_point_arns(installation.vault) == {kept, gone}
    sandbox.log.clear()

    hook.delete_recovery_point(installation.vault, gone)

    assert hook.recovery_point_arns(installation.vault) == {kept}
    assert [m.operation for m in sandbox.log.entries("backup")] == ["DeleteRecoveryPoint"]


def test_tag_recovery_point_adds_the_tags_and_keeps_the_others(sandbox, hook, installation):
    arn = start(hook, sandbox, installation)["RecoveryPointArn"]

    hook.tag_recovery_point(arn, {"ue-backup:verified": "passed"})
    hook.tag_recovery_point(arn, {"ue-backup:verified": "passed"})  # a retry: the same

    tags = hook.recovery_point_tags(arn)
    assert tags["ue-backup:verified"] == "passed"
    assert tags["ue-backup:backup-set"] == SET_ID
