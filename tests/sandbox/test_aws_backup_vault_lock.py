"""AWS Backup Vault Lock in the sandbox: a copy into another account's locked vault.

What the immutable copies rely on: a copy job may put the recovery point into a
vault of another account (the protected one); a locked vault fails a job whose
retention is shorter than its minimum, and refuses to delete a recovery point
before its retention ends, whoever asks (the protected account's own role too).
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from sandbox.aws.fixtures import aws, wait_until  # noqa: F401
from sandbox.aws.server import AwsSandbox
from sandbox.installation import copy_in_policy
from tests.sandbox.test_aws_backup import ROLE, TAGS, efs, finished, start  # noqa: F401

PROTECTED = "222233334444"
LOCKED = "ue-locked"


def _protected(aws: AwsSandbox, service: str):  # noqa: F811
    """A client with the protected account's credentials (AssumeRole, as the provider does)."""
    return aws.client_as(f"arn:aws:iam::{PROTECTED}:role/ue-backup-immutable", service)


@pytest.fixture
def locked_vault(aws):  # noqa: F811
    backup = _protected(aws, "backup")
    arn = backup.create_backup_vault(BackupVaultName=LOCKED)["BackupVaultArn"]
    backup.put_backup_vault_lock_configuration(BackupVaultName=LOCKED, MinRetentionDays=35)
    _grant(backup, aws.account)
    return arn


def _grant(backup, account: str) -> None:
    """The locked vault's access policy: ``account`` may copy into it."""
    backup.put_backup_vault_access_policy(BackupVaultName=LOCKED, Policy=copy_in_policy(account))


def _copy(aws, efs, destination: str, days: int | None, token: str) -> dict:  # noqa: F811
    job = start(aws, efs, token=f"backup-{token}")
    finished(aws, job["BackupJobId"])
    backup = aws.client("backup")
    copy = backup.start_copy_job(
        RecoveryPointArn=job["RecoveryPointArn"],
        SourceBackupVaultName=efs.vault,
        DestinationBackupVaultArn=destination,
        IamRoleArn=ROLE,
        IdempotencyToken=token,
        **({"Lifecycle": {"DeleteAfterDays": days}} if days else {}),
    )
    return wait_until(
        lambda: backup.describe_copy_job(CopyJobId=copy["CopyJobId"])["CopyJob"],
        lambda c: c["State"] in ("COMPLETED", "FAILED"),
    )[-1]


def test_a_copy_lands_in_the_other_accounts_locked_vault_with_its_tags(aws, efs, locked_vault):  # noqa: F811
    assert f":{PROTECTED}:" in locked_vault
    copy = _copy(aws, efs, locked_vault, 35, "c1")
    assert copy["State"] == "COMPLETED", copy
    protected = _protected(aws, "backup")
    [point] = protected.list_recovery_points_by_backup_vault(BackupVaultName=LOCKED)[
        "RecoveryPoints"
    ]
    assert point["RecoveryPointArn"] == copy["DestinationRecoveryPointArn"]
    assert f":{PROTECTED}:recovery-point:" in point["RecoveryPointArn"]
    assert protected.list_tags(ResourceArn=point["RecoveryPointArn"])["Tags"] == TAGS
    # the installation's account has nothing of it to list (or delete)
    assert aws.client("backup").list_backup_vaults()["BackupVaultList"][0]["BackupVaultName"] == (
        efs.vault
    )


@pytest.mark.parametrize("days", [None, 7], ids=["no-lifecycle", "shorter-than-the-lock"])
def test_a_locked_vault_fails_a_copy_kept_less_than_its_minimum(aws, efs, locked_vault, days):  # noqa: F811
    copy = _copy(aws, efs, locked_vault, days, f"c-{days}")
    assert copy["State"] == "FAILED"
    assert (
        "shorter than the minimum retention period of the locked vault (35 days)"
        in (copy["StatusMessage"])
    )
    assert (
        _protected(aws, "backup").list_recovery_points_by_backup_vault(BackupVaultName=LOCKED)[
            "RecoveryPoints"
        ]
        == []
    )


def test_nobody_deletes_a_recovery_point_of_a_locked_vault_before_its_retention(
    aws,  # noqa: F811
    efs,  # noqa: F811
    locked_vault,
):
    copy = _copy(aws, efs, locked_vault, 35, "c2")
    protected = _protected(aws, "backup")
    with pytest.raises(ClientError) as refused:
        protected.delete_recovery_point(
            BackupVaultName=LOCKED, RecoveryPointArn=copy["DestinationRecoveryPointArn"]
        )
    assert refused.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "cannot be deleted before" in str(refused.value)
    assert (
        len(
            protected.list_recovery_points_by_backup_vault(BackupVaultName=LOCKED)["RecoveryPoints"]
        )
        == 1
    )
    # an unlocked vault's point is deleted as before
    source = copy["SourceRecoveryPointArn"]
    aws.client("backup").delete_recovery_point(BackupVaultName=efs.vault, RecoveryPointArn=source)


def test_a_copy_into_another_account_needs_its_vaults_grant(aws, efs, locked_vault):  # noqa: F811
    """AWS: the destination vault's access policy must allow backup:CopyIntoBackupVault
    from the source account; without it the copy job fails."""
    protected = _protected(aws, "backup")
    protected.delete_backup_vault_access_policy(BackupVaultName=LOCKED)
    copy = _copy(aws, efs, locked_vault, 35, "c3")
    assert copy["State"] == "FAILED"
    assert "does not allow backup:CopyIntoBackupVault from account" in copy["StatusMessage"]
    _grant(protected, "999988887777")  # another account's grant is not this one's
    assert _copy(aws, efs, locked_vault, 35, "c4")["State"] == "FAILED"
    protected.delete_backup_vault_access_policy(BackupVaultName=LOCKED)
    with pytest.raises(ClientError):
        protected.get_backup_vault_access_policy(BackupVaultName=LOCKED)


def test_an_explicit_deny_or_a_grant_to_one_role_does_not_let_the_account_copy_in(
    aws,  # noqa: F811
    efs,  # noqa: F811
    locked_vault,
):
    """IAM's evaluation: an explicit Deny wins over the grant; a statement naming one
    role of the account is not a grant to the account's copies (the unkinder reading)."""
    import json

    protected = _protected(aws, "backup")
    granted = json.loads(copy_in_policy(aws.account))
    deny = {**granted["Statement"][0], "Effect": "Deny", "Principal": "*"}
    protected.put_backup_vault_access_policy(
        BackupVaultName=LOCKED,
        Policy=json.dumps({**granted, "Statement": [*granted["Statement"], deny]}),
    )
    assert _copy(aws, efs, locked_vault, 35, "d1")["State"] == "FAILED"
    one_role = {
        **granted["Statement"][0],
        "Principal": {"AWS": f"arn:aws:iam::{aws.account}:role/someone"},
    }
    protected.put_backup_vault_access_policy(
        BackupVaultName=LOCKED, Policy=json.dumps({**granted, "Statement": [one_role]})
    )
    assert _copy(aws, efs, locked_vault, 35, "d2")["State"] == "FAILED"
    _grant(protected, aws.account)
    assert _copy(aws, efs, locked_vault, 35, "d3")["State"] == "COMPLETED"
