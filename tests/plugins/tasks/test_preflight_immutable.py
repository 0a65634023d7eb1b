"""Preflight reads the protected account's locks through its own connection (the sandbox).

The protected account is a second account of the sandbox, reached the way
the amazon provider reaches it in production: an Airflow connection whose
``role_arn`` extra names a role there (``sts:AssumeRole``). Its vault and
bucket are made with that account's credentials, locked or not.
"""

from __future__ import annotations

import copy
import json
import time

import pytest
from moto.backup.models import backup_backends

from sandbox.installation import ROLE_ARN, copy_in_policy, create_key
from ue_backup.config import parse_config
from ue_backup.immutable import NOT_COVERED
from ue_backup.tasks.preflight import check_immutable_locks

PROTECTED = "222233334444"
ROLE = f"arn:aws:iam::{PROTECTED}:role/ue-backup-immutable"
# The role AWS Backup runs as there when a restore copies the locked points back home.
BACKUP_ROLE = f"arn:aws:iam::{PROTECTED}:role/ue-backup-immutable-aws-backup"
VAULT = "ue-test-locked"
BUCKET = "ue-test-locked-artifacts"
CONFIG = {
    "installation": "ue-test",
    "region": "eu-west-1",
    "database": {"engine": "rds", "rds_instance_identifier": "ue-test-db"},
    "efs": {
        "file_system_id": "fs-0123456789abcdef0",
        "backup_method": "aws_backup",
        "aws_backup": {"vault_name": "ue-test-vault", "iam_role_arn": ROLE_ARN},
    },
    "kubernetes": {"namespace": "uepe"},
    "manifests": {"bucket": "ue-test-manifests"},
    "immutable": {
        "account_id": PROTECTED,
        "role_arn": ROLE,
        "backup_role_arn": BACKUP_ROLE,
        "backup_vault_name": VAULT,
        "bucket": BUCKET,
        "min_retention_days": 35,
    },
}


def _protected_client(sandbox, service: str):
    """A client of the protected account: credentials of its role, as the provider gets them."""
    return sandbox.aws.client_as(ROLE, service)


@pytest.fixture
def protected(sandbox, monkeypatch):
    """The connection ``aws_immutable``: the sandbox's, assuming the protected role."""
    connection = json.loads(sandbox.aws.airflow_connection())
    connection["extra"]["role_arn"] = ROLE
    monkeypatch.setenv("AIRFLOW_CONN_AWS_IMMUTABLE", json.dumps(connection))
    return sandbox


HOME = "123456789012"  # the sandbox's own account: the installation's


def _vault(
    sandbox,
    *,
    min_days: int | None = 35,
    mode: str = "compliance",
    grant: str | None = HOME,
    key: str = "shared",
) -> None:
    """The locked vault: in compliance mode past its grace time unless ``mode`` says
    ``grace`` (still removable) or ``governance`` (no ChangeableForDays: removable at any
    time); its access policy lets ``grant`` copy into it. Its key: a customer managed key
    of the protected account ``shared`` with the installation's (what a copy back needs),
    ``unshared``, or AWS Backup's AWS managed key (``aws``)."""
    backup = _protected_client(sandbox, "backup")
    made = {}
    if key != "aws":
        kms = _protected_client(sandbox, "kms")
        made["EncryptionKeyArn"] = create_key(kms, PROTECTED, HOME if key == "shared" else None)
    backup.create_backup_vault(BackupVaultName=VAULT, **made)
    if min_days is not None:
        lock = {"BackupVaultName": VAULT, "MinRetentionDays": min_days}
        if mode in ("compliance", "grace"):
            lock["ChangeableForDays"] = 3
        backup.put_backup_vault_lock_configuration(**lock)
        if mode == "compliance":
            # The grace time (at least 3 days) passed: moto keeps the lock date in its backend.
            vault = backup_backends[PROTECTED][sandbox.region].vaults[VAULT]
            vault.lock_date = time.time() - 60
    if grant is not None:
        backup.put_backup_vault_access_policy(BackupVaultName=VAULT, Policy=copy_in_policy(grant))


def _bucket(sandbox, *, mode: str | None = "COMPLIANCE", days: int = 35) -> None:
    s3 = _protected_client(sandbox, "s3")
    s3.create_bucket(
        Bucket=BUCKET,
        CreateBucketConfiguration={"LocationConstraint": sandbox.region},
        ObjectLockEnabledForBucket=mode is not None,
    )
    if mode is not None:
        s3.put_object_lock_configuration(
            Bucket=BUCKET,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": mode, "Days": days}},
            },
        )


def _check(config=CONFIG) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    warnings: list[str] = []
    check_immutable_locks(parse_config(copy.deepcopy(config)), problems, warnings)
    return problems, warnings


def test_locked_vault_and_bucket_in_the_protected_account_pass_and_say_what_is_not_covered(
    protected,
):
    _vault(protected)
    _bucket(protected)
    problems, warnings = _check()
    assert problems == []
    assert warnings == [NOT_COVERED]


def test_a_vault_lock_still_in_its_grace_time_is_a_warning(protected):
    _vault(protected, mode="grace")
    _bucket(protected)
    problems, warnings = _check()
    assert problems == []
    assert any("is in its grace time until" in w for w in warnings), warnings


@pytest.mark.parametrize(
    ("vault", "bucket", "expected"),
    [
        ({"min_days": None}, {}, "immutable.backup_vault_name: vault ue-test-locked has no Vault"),
        ({"min_days": 90}, {}, "min_retention_days 35 would fail every copy (raise it to 90)"),
        (
            {},
            {"mode": None},
            "immutable.bucket: bucket ue-test-locked-artifacts has no Object Lock",
        ),
        ({}, {"mode": "GOVERNANCE"}, "default retention is GOVERNANCE, not COMPLIANCE"),
        ({}, {"days": 7}, "keeps objects 7 days by default, fewer than min_retention_days 35"),
        ({"mode": "governance"}, {}, "Vault Lock is in governance mode"),
        ({"grant": None}, {}, "has no access policy: copies from account 123456789012"),
        ({"grant": "999988887777"}, {}, "does not allow backup:CopyIntoBackupVault from account"),
    ],
    ids=[
        "no-vault-lock",
        "lock-longer-than-the-copies",
        "no-object-lock",
        "governance",
        "short-retention",
        "governance-vault-lock",
        "no-access-policy",
        "another-accounts-grant",
    ],
)
def test_each_weak_lock_is_a_problem_naming_the_field(protected, vault, bucket, expected):
    _vault(protected, **vault)
    _bucket(protected, **bucket)
    problems, _ = _check()
    assert len(problems) == 1, problems
    assert expected in problems[0], problems


def test_a_connection_that_is_not_the_protected_role_is_refused(sandbox, monkeypatch):
    """Without the role_arn extra the connection is the installation's own account."""
    monkeypatch.setenv("AIRFLOW_CONN_AWS_IMMUTABLE", sandbox.aws.airflow_connection())
    problems, warnings = _check()
    assert [p.split(":")[0] for p in problems] == ["immutable.aws_conn_id", "immutable.role_arn"]
    assert f"reaches account {sandbox.aws.account}, not account_id {PROTECTED}" in problems[0]
    assert NOT_COVERED not in warnings  # nothing more is said through the wrong identity


def test_a_protected_account_that_is_the_installations_own_is_refused(sandbox, monkeypatch):
    own = sandbox.aws.account
    role = f"arn:aws:iam::{own}:role/ue-backup-immutable"
    connection = json.loads(sandbox.aws.airflow_connection())
    connection["extra"]["role_arn"] = role
    monkeypatch.setenv("AIRFLOW_CONN_AWS_IMMUTABLE", json.dumps(connection))
    config = copy.deepcopy(CONFIG)
    config["immutable"].update(
        account_id=own, role_arn=role, backup_role_arn=f"arn:aws:iam::{own}:role/aws-backup"
    )
    problems, _ = _check(config)
    assert problems == [
        f"immutable.account_id: {own} is the installation's own account (the Airflow role's): "
        "copies there are not out of its reach"
    ]


def test_a_missing_vault_and_bucket_are_named(protected):
    problems, _ = _check()
    assert [p.split(":")[0] for p in problems] == [
        "immutable.backup_vault_name",
        "immutable.bucket",
    ], problems
