"""The protected copies' KMS keys, read before the first copy and before a copy back.

Against the sandbox, which decides a cross-account ``DescribeKey`` by the key's
policy and answers ``KeyManager: AWS`` for AWS managed keys (``sandbox/aws/kms.py``):
the installation's instance and vault, and the protected account's locked vault,
each set up right or wrong in one way. Each wrong set-up is one problem naming its
field, before anything is changed.
"""

from __future__ import annotations

import copy

import pytest
from botocore.exceptions import ClientError

from sandbox.faults import Fault
from sandbox.installation import create_key
from tests.plugins.tasks.test_preflight_immutable import (
    CONFIG,
    HOME,
    PROTECTED,
    _bucket,
    _protected_client,
    _vault,
)
from tests.plugins.tasks.test_preflight_immutable import (
    protected as protected,  # the fixture, under its own name
)
from ue_backup.config import parse_config
from ue_backup.tasks.key_checks import check_backup_keys, check_restore_keys
from ue_backup.tasks.preflight import check_resources

DB = CONFIG["database"]["rds_instance_identifier"]
HOME_VAULT = CONFIG["efs"]["aws_backup"]["vault_name"]


def _home(sandbox, *, instance: str = "shared", vault: str = "customer") -> dict:
    """The installation's instance (on a key ``shared`` with the protected account, an
    ``unshared`` one, ``aws/rds``, or ``none``: not encrypted) and vault (a ``customer``
    managed key, or ``aws/backup``); the instance as DescribeDBInstances answers it."""
    kms = sandbox.client("kms")
    key = create_key(kms, HOME, PROTECTED if instance == "shared" else None)
    encryption = {}
    if instance in ("shared", "unshared"):
        encryption = {"StorageEncrypted": True, "KmsKeyId": key}
    elif instance == "aws/rds":
        encryption = {"StorageEncrypted": True}
    rds = sandbox.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier=DB,
        DBInstanceClass="db.t3.medium",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="platform",
        MasterUserPassword="not-a-secret-1",
        **encryption,
    )
    sandbox.client("backup").create_backup_vault(
        BackupVaultName=HOME_VAULT, **({"EncryptionKeyArn": key} if vault == "customer" else {})
    )
    return rds.describe_db_instances(DBInstanceIdentifier=DB)["DBInstances"][0]


def _check(instance: dict | None) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    warnings: list[str] = []
    cfg = parse_config(copy.deepcopy(CONFIG))
    check_backup_keys(cfg, instance, HOME, problems, warnings)
    return problems, warnings


def test_keys_set_up_for_the_copies_pass(protected):
    instance = _home(protected)
    _vault(protected)
    assert _check(instance) == ([], [])


@pytest.mark.parametrize(
    ("home", "locked", "expected"),
    [
        (
            {"instance": "aws/rds"},
            {},
            "database.rds_instance_identifier: RDS instance ue-test-db's KMS key arn:aws:kms:",
        ),
        (
            {"instance": "unshared"},
            {},
            "database.rds_instance_identifier: RDS instance ue-test-db's KMS key arn:aws:kms:",
        ),
        ({"vault": "aws/backup"}, {}, "efs.aws_backup.vault_name: backup vault ue-test-vault's"),
        ({}, {"key": "unshared"}, "immutable.backup_vault_name: locked vault ue-test-locked's"),
        ({}, {"key": "aws"}, "immutable.backup_vault_name: locked vault ue-test-locked's"),
    ],
    ids=[
        "instance-on-aws-rds",
        "instance-key-not-shared",
        "home-vault-on-aws-backup",
        "locked-key-not-shared",
        "locked-vault-on-aws-backup",
    ],
)
def test_each_wrong_key_is_one_problem_naming_the_field(protected, home, locked, expected):
    instance = _home(protected, **home)
    _vault(protected, **locked)
    problems, _ = _check(instance)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems
    why = {
        "instance-on-aws-rds": "is AWS managed (aws/rds)",
        "instance-key-not-shared": "is not usable by account 222233334444 (AccessDenied",
        "home-vault-on-aws-backup": "is AWS managed (aws/backup)",
        "locked-key-not-shared": "is not usable by account 123456789012 (AccessDenied",
        "locked-vault-on-aws-backup": "is not usable by account 123456789012 (AccessDenied",
    }
    assert any(reason in problems[0] for reason in why.values()), problems


def test_a_disabled_key_is_a_problem(protected):
    instance = _home(protected)
    _vault(protected)
    protected.client("kms").disable_key(KeyId=instance["KmsKeyId"].split("/")[-1])
    problems, _ = _check(instance)
    # the instance's and the installation's vault's key (the same one here)
    assert [p.split(":")[0] for p in problems] == [
        "database.rds_instance_identifier",
        "efs.aws_backup.vault_name",
    ], problems
    assert all("is Disabled" in p for p in problems), problems


def test_a_locked_vault_key_scheduled_for_deletion_is_a_problem(protected):
    instance = _home(protected)
    _vault(protected)
    key = _protected_client(protected, "backup").describe_backup_vault(
        BackupVaultName=CONFIG["immutable"]["backup_vault_name"]
    )["EncryptionKeyArn"]
    _protected_client(protected, "kms").schedule_key_deletion(
        KeyId=key.split("/")[-1], PendingWindowInDays=7
    )
    problems, _ = _check(instance)
    assert problems == [
        f"immutable.backup_vault_name: locked vault ue-test-locked's key {key} is "
        "PendingDeletion: nothing encrypted with it can be copied or restored until it is "
        "enabled again"
    ]


def test_an_unencrypted_instance_is_a_warning_not_a_refusal(protected):
    instance = _home(protected, instance="none")
    _vault(protected)
    problems, warnings = _check(instance)
    assert problems == []
    assert warnings == [
        "database.rds_instance_identifier: RDS instance ue-test-db is not "
        "encrypted: its protected copies are not encrypted either (encrypting "
        "it means restoring a snapshot copied with a customer managed key)"
    ]


def test_a_transient_error_fails_the_try_instead_of_refusing(protected):
    instance = _home(protected)
    _vault(protected)
    protected.faults.add(
        Fault("kms", "DescribeKey", code="ThrottlingException", status=400, times=None)
    )
    with pytest.raises(RuntimeError, match="could not be checked now"):
        _check(instance)


def test_the_restore_checks_what_the_copy_back_needs(protected):
    _home(protected, instance="aws/rds")  # not the restore's concern: the copies are made
    _vault(protected, key="unshared")
    cfg = parse_config(copy.deepcopy(CONFIG))
    [problem] = check_restore_keys(cfg, HOME)
    assert problem.startswith("immutable.backup_vault_name: locked vault ue-test-locked's key")
    assert "is not usable by account 123456789012" in problem


def test_preflight_reads_the_keys_only_through_connections_that_are_right(protected):
    """Through check_resources: the keys are read once the identities are known good, and a
    wrong key refuses the run there too (the RDS instance read by preflight itself)."""
    _home(protected, instance="aws/rds")
    _vault(protected)
    _bucket(protected)
    protected.client("s3").create_bucket(
        Bucket=CONFIG["manifests"]["bucket"],
        CreateBucketConfiguration={"LocationConstraint": protected.region},
    )
    config = copy.deepcopy(CONFIG)
    config["efs"]["file_system_id"] = protected.aws.create_file_system("ue-test-efs")
    config["cold_window"] = {"disk_storage_used": []}
    problems, _ = check_resources(parse_config(config), {"database", "efs"})
    assert [p.split(":")[0] for p in problems] == ["database.rds_instance_identifier"], problems
    assert "is AWS managed (aws/rds)" in problems[0]
    # the protected account itself cannot read the installation's AWS managed key
    with pytest.raises(ClientError) as denied:
        _protected_client(protected, "kms").describe_key(
            KeyId=protected.client("rds").describe_db_instances()["DBInstances"][0]["KmsKeyId"]
        )
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
