"""KMS in the sandbox, as the protected copies meet it (``sandbox/aws/kms.py``).

AWS managed keys say so and never leave their account; a key of another account is
described only when its key policy shares it (principals matched exactly: the account,
or that very role); a key ARN is found only through its own region's endpoint; an
encrypted instance and a vault report their key as an ARN (the AWS managed one by
default); AWS Backup fails a copy of an RDS recovery point into another account unless
the keys allow it, and the copy is under the destination vault's key; a restore from
an encrypted snapshot is logged with the key RDS used for the caller. Every field read
here is in botocore's model.
"""

from __future__ import annotations

import json

import botocore.session
import pytest
from botocore.exceptions import ClientError

from sandbox.aws.fixtures import aws, create_db_instance, wait_until  # noqa: F401
from sandbox.aws.server import AwsSandbox
from sandbox.installation import copy_in_policy, create_key
from tests.sandbox.test_aws_backup_rds import HOME, backed_up, copy, db, locked_vault  # noqa: F401
from tests.sandbox.test_aws_backup_vault_lock import LOCKED, PROTECTED, _protected
from tests.sandbox.test_aws_rds_data import available


def _home_key(aws: AwsSandbox, shared: bool = True) -> str:  # noqa: F811
    return create_key(aws.client("kms"), aws.account, PROTECTED if shared else None)


def test_the_fields_read_here_are_in_botocores_models():
    session = botocore.session.get_session()

    def members(service: str, operation: str, shape: str = "output") -> set[str]:
        model = session.get_service_model(service).operation_model(operation)
        return set(getattr(model, f"{shape}_shape").members)

    metadata = session.get_service_model("kms").shape_for("KeyMetadata").members
    assert {"KeyManager", "Enabled", "KeyState", "Arn"} <= set(metadata)
    assert "EncryptionKeyArn" in members("backup", "DescribeBackupVault")
    assert "EncryptionKeyArn" in members("backup", "CreateBackupVault", "input")
    instance = session.get_service_model("rds").shape_for("DBInstance").members
    assert {"KmsKeyId", "StorageEncrypted"} <= set(instance)


def test_aws_managed_keys_say_so_and_customer_managed_keys_too(aws):  # noqa: F811
    kms = aws.client("kms")
    assert kms.describe_key(KeyId="alias/aws/rds")["KeyMetadata"]["KeyManager"] == "AWS"
    assert kms.describe_key(KeyId=_home_key(aws))["KeyMetadata"]["KeyManager"] == "CUSTOMER"


def test_an_encrypted_instance_and_a_vault_name_their_key_as_an_arn(aws):  # noqa: F811
    rds, kms = aws.client("rds"), aws.client("kms")
    create_db_instance(rds, "default", StorageEncrypted=True)
    key = _home_key(aws)
    create_db_instance(rds, "mine", StorageEncrypted=True, KmsKeyId=key.split("/")[-1])
    create_db_instance(rds, "plain")
    instances = {i["DBInstanceIdentifier"]: i for i in rds.describe_db_instances()["DBInstances"]}
    aws_rds = kms.describe_key(KeyId="alias/aws/rds")["KeyMetadata"]["Arn"]
    assert instances["default"]["KmsKeyId"] == aws_rds
    assert instances["mine"]["KmsKeyId"] == key
    assert "KmsKeyId" not in instances["plain"]
    with pytest.raises(ClientError) as missing:
        create_db_instance(rds, "nokey", StorageEncrypted=True, KmsKeyId="alias/not-there")
    assert missing.value.response["Error"]["Code"] == "KMSKeyNotAccessibleFault"

    backup = aws.client("backup")
    backup.create_backup_vault(BackupVaultName="default")
    backup.create_backup_vault(BackupVaultName="mine", EncryptionKeyArn=key)
    default = backup.describe_backup_vault(BackupVaultName="default")["EncryptionKeyArn"]
    assert kms.describe_key(KeyId=default)["KeyMetadata"]["KeyManager"] == "AWS"
    assert kms.describe_key(KeyId="alias/aws/backup")["KeyMetadata"]["Arn"] == default
    assert backup.describe_backup_vault(BackupVaultName="mine")["EncryptionKeyArn"] == key


def test_another_accounts_key_is_described_only_when_its_policy_shares_it(aws):  # noqa: F811
    protected = _protected(aws, "kms")
    shared, unshared = _home_key(aws), _home_key(aws, shared=False)
    aws_rds = aws.client("kms").describe_key(KeyId="alias/aws/rds")["KeyMetadata"]["Arn"]

    assert protected.describe_key(KeyId=shared)["KeyMetadata"]["AWSAccountId"] == aws.account
    for key in (unshared, aws_rds):  # an AWS managed key is never shared
        with pytest.raises(ClientError) as denied:
            protected.describe_key(KeyId=key)
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
        assert "no resource-based policy allows the kms:DescribeKey action" in str(denied.value)
    with pytest.raises(ClientError) as missing:
        protected.describe_key(KeyId=shared[:-1] + ("0" if shared[-1] != "0" else "1"))
    assert missing.value.response["Error"]["Code"] == "NotFoundException"
    # a key id (no account in it) is looked up in the caller's own account, as AWS does
    with pytest.raises(ClientError) as own:
        protected.describe_key(KeyId=shared.split("/")[-1])
    assert own.value.response["Error"]["Code"] == "NotFoundException"


OTHER_REGION = "eu-central-1"


def test_a_key_arn_is_found_only_through_its_own_regions_endpoint(aws):  # noqa: F811
    """KMS is regional: an ARN sent to another region answers NotFoundException "Invalid
    arn <its region>" (as AWS words it), in the key's account and from another one."""
    shared = _home_key(aws)
    region = shared.split(":")[3]
    assert region != OTHER_REGION
    for kms in (
        aws.client("kms", OTHER_REGION),
        aws.client_as(f"arn:aws:iam::{PROTECTED}:role/ue-backup-immutable", "kms", OTHER_REGION),
    ):
        with pytest.raises(ClientError) as wrong:
            kms.describe_key(KeyId=shared)
        assert wrong.value.response["Error"]["Code"] == "NotFoundException"
        assert wrong.value.response["Error"]["Message"] == f"Invalid arn {region}"
    assert _protected(aws, "kms").describe_key(KeyId=shared)["KeyMetadata"]["Arn"] == shared


@pytest.mark.parametrize(
    ("principal", "allowed"),
    [
        (f"arn:aws:iam::{PROTECTED}:root", True),
        (PROTECTED, True),
        (f"arn:aws:iam::{PROTECTED}:role/ue-backup-immutable", True),
        (f"arn:aws:iam::{PROTECTED}:role/someone-else", False),
        (f"arn:aws:iam::{PROTECTED}:user/ue-backup-immutable", False),
    ],
    ids=["account-root", "account-id", "the-callers-role", "another-role", "a-user"],
)
def test_a_key_policy_principal_is_matched_exactly(aws, principal, allowed):  # noqa: F811
    """The account (root or id) means the whole account; a role ARN that role only (the
    caller here is the protected role), not any principal of that account."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{aws.account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": principal},
                "Action": "kms:DescribeKey",
                "Resource": "*",
            },
        ],
    }
    key = aws.client("kms").create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]
    protected = _protected(aws, "kms")
    if allowed:
        assert protected.describe_key(KeyId=key)["KeyMetadata"]["Arn"] == key
    else:
        with pytest.raises(ClientError) as denied:
            protected.describe_key(KeyId=key)
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"


def _encrypted_db(aws: AwsSandbox, key: str | None) -> str:  # noqa: F811
    """An instance on ``key`` (None: aws/rds) and the home vault under a shared key."""
    aws.durations.update(backup_job=0.1, restore_job=0.1, copy_job=0.1)
    rds = aws.client("rds")
    create_db_instance(rds, "ue-db", StorageEncrypted=True, **({"KmsKeyId": key} if key else {}))
    aws.client("backup").create_backup_vault(BackupVaultName=HOME, EncryptionKeyArn=_home_key(aws))
    return available(rds, "ue-db")["DBInstanceArn"]


def _locked_vault_with_key(aws: AwsSandbox, key: str | None) -> str:  # noqa: F811
    """The locked vault, under ``key`` (a protected account's key; None: aws/backup)."""
    backup = _protected(aws, "backup")
    backup.create_backup_vault(BackupVaultName=LOCKED, **({"EncryptionKeyArn": key} if key else {}))
    backup.put_backup_vault_access_policy(
        BackupVaultName=LOCKED, Policy=copy_in_policy(aws.account)
    )
    return backup.describe_backup_vault(BackupVaultName=LOCKED)["BackupVaultArn"]


@pytest.mark.parametrize(
    ("instance_key", "locked_key", "expected"),
    [
        ("aws/rds", "shared", "encrypted with the AWS managed key"),
        ("unshared", "shared", f"account {PROTECTED} is not allowed kms:DescribeKey"),
        ("shared", "aws/backup", "a copy from another account needs a vault under a customer"),
    ],
    ids=["instance-on-aws-rds", "key-not-shared", "locked-vault-on-aws-backup"],
)
def test_a_copy_to_another_account_fails_unless_the_keys_allow_it(
    aws,  # noqa: F811
    instance_key,
    locked_key,
    expected,
):
    key = {"aws/rds": None, "unshared": _home_key(aws, False), "shared": _home_key(aws)}[
        instance_key
    ]
    instance = _encrypted_db(aws, key)
    protected_key = (
        create_key(_protected(aws, "kms"), PROTECTED, aws.account)
        if locked_key == "shared"
        else None
    )
    destination = _locked_vault_with_key(aws, protected_key)
    job = backed_up(aws, instance)

    copied = copy(aws.client("backup"), job["RecoveryPointArn"], HOME, destination, days=None)

    assert copied["State"] == "FAILED", copied
    assert expected in copied["StatusMessage"]


def test_a_copy_the_keys_allow_is_under_the_destination_vaults_key_there_and_back(aws):  # noqa: F811
    instance = _encrypted_db(aws, _home_key(aws))
    protected_key = create_key(_protected(aws, "kms"), PROTECTED, aws.account)
    destination = _locked_vault_with_key(aws, protected_key)
    job = backed_up(aws, instance)

    locked = copy(aws.client("backup"), job["RecoveryPointArn"], HOME, destination, days=None)

    assert locked["State"] == "COMPLETED", locked
    [there] = _protected(aws, "rds").describe_db_snapshots(SnapshotType="awsbackup")["DBSnapshots"]
    assert there["KmsKeyId"] == protected_key
    # the copy back lands under the home vault's key; RDS restores it as the caller, and
    # the request log names the key it made its grant on
    home_vault = aws.client("backup").describe_backup_vault(BackupVaultName=HOME)
    aws.client("backup").put_backup_vault_access_policy(
        BackupVaultName=HOME,
        Policy=copy_in_policy(PROTECTED),
    )
    back = copy(
        _protected(aws, "backup"),
        locked["DestinationRecoveryPointArn"],
        LOCKED,
        home_vault["BackupVaultArn"],
        days=None,
    )
    assert back["State"] == "COMPLETED", back
    rds = aws.client("rds")
    snapshot = back["DestinationRecoveryPointArn"]
    [home] = [
        s
        for s in rds.describe_db_snapshots(SnapshotType="awsbackup")["DBSnapshots"]
        if s["DBSnapshotArn"] == snapshot
    ]
    assert home["KmsKeyId"] == home_vault["EncryptionKeyArn"]
    aws.requests.clear()
    rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="ue-db-restored", DBSnapshotIdentifier=snapshot
    )
    [restore] = [
        r for r in aws.requests.entries("aws") if r.operation == "RestoreDBInstanceFromDBSnapshot"
    ]
    assert restore.kms_key == home_vault["EncryptionKeyArn"]


def test_a_restore_from_an_unencrypted_snapshot_uses_no_key(aws):  # noqa: F811
    rds = aws.client("rds")
    create_db_instance(rds, "plain")
    available(rds, "plain")
    rds.create_db_snapshot(DBInstanceIdentifier="plain", DBSnapshotIdentifier="s1")
    wait_until(
        lambda: rds.describe_db_snapshots(DBSnapshotIdentifier="s1")["DBSnapshots"][0],
        lambda s: s["Status"] == "available",
    )
    aws.requests.clear()
    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier="p2", DBSnapshotIdentifier="s1")
    [restore] = [
        r for r in aws.requests.entries("aws") if r.operation == "RestoreDBInstanceFromDBSnapshot"
    ]
    assert restore.kms_key == ""


def test_an_unencrypted_instance_copies_to_another_account_without_keys(aws, db):  # noqa: F811
    """What the existing copies did before keys were modelled: no key, no key rule."""
    copied = copy(
        aws.client("backup"), backed_up(aws, db)["RecoveryPointArn"], HOME, locked_vault(aws)
    )
    assert copied["State"] == "COMPLETED", copied
