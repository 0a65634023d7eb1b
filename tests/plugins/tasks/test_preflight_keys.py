"""The protected copies' KMS keys, read before the first copy and before a copy back.

Against the sandbox, which decides a cross-account ``DescribeKey`` by the key's
policy and answers ``KeyManager: AWS`` for AWS managed keys (``sandbox/aws/kms.py``):
the installation's instance and vault, and the protected account's locked vault,
each set up right or wrong in one way. Each wrong set-up is one problem naming its
field, before anything is changed, when the nightly copies need it; one warning when
only a later restore needs it, or when only the copy job can prove it (a denied probe).
Keys are read in their own regions (``immutable.region`` apart from ``region``).
"""

from __future__ import annotations

import copy

import pytest
from botocore.exceptions import ClientError
from moto.kms.models import kms_backends

from sandbox.aws.fixtures import create_db_instance
from sandbox.faults import Fault
from sandbox.installation import create_key
from tests.plugins.tasks.test_preflight_immutable import (
    CONFIG,
    HOME,
    PROTECTED,
    ROLE,
    _bucket,
    _protected_client,
    _vault,
)
from tests.plugins.tasks.test_preflight_immutable import (
    protected as protected,  # the fixture, under its own name
)
from tests.plugins.test_config import DERBY
from ue_backup.config import parse_config
from ue_backup.tasks.key_checks import (
    check_backup_keys,
    check_restore_keys,
    refuse_unusable_restore_keys,
)
from ue_backup.tasks.preflight import check_resources

DB = CONFIG["database"]["rds_instance_identifier"]
HOME_VAULT = CONFIG["efs"]["aws_backup"]["vault_name"]
LOCKED_VAULT = CONFIG["immutable"]["backup_vault_name"]


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
    create_db_instance(rds, DB, **encryption)
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


def test_an_instance_on_aws_rds_is_the_one_problem_naming_the_field(protected):
    """The nightly copy of the database needs a customer managed key: refused."""
    instance = _home(protected, instance="aws/rds")
    _vault(protected)
    problems, warnings = _check(instance)
    assert len(problems) == 1, problems
    assert problems[0].startswith(
        "database.rds_instance_identifier: RDS instance ue-test-db's KMS key arn:aws:kms:"
    ), problems
    assert "is AWS managed (aws/rds)" in problems[0]
    assert warnings == []


@pytest.mark.parametrize(
    ("home", "locked", "expected", "why"),
    [
        (
            {"instance": "unshared"},
            {},
            "database.rds_instance_identifier: RDS instance ue-test-db's KMS key arn:aws:kms:",
            "could not be described as account 222233334444 (AccessDenied",
        ),
        (
            {"vault": "aws/backup"},
            {},
            "efs.aws_backup.vault_name: backup vault ue-test-vault's key",
            "is AWS managed (aws/backup)",
        ),
        (
            {},
            {"key": "unshared"},
            "immutable.backup_vault_name: locked vault ue-test-locked's key",
            "could not be described as account 123456789012 (AccessDenied",
        ),
        (
            {},
            {"key": "aws"},
            "immutable.backup_vault_name: locked vault ue-test-locked's key",
            "could not be described as account 123456789012 (AccessDenied",
        ),
    ],
    ids=[
        "instance-key-not-shared",
        "home-vault-on-aws-backup",
        "locked-key-not-shared",
        "locked-vault-on-aws-backup",
    ],
)
def test_what_only_a_restore_or_the_copy_job_proves_is_one_warning_naming_the_field(
    protected, home, locked, expected, why
):
    """Not refused: the copy back matters only to a later restore, and a denied probe may
    be a key policy granting the role (or kms:ViaService) rather than the account."""
    instance = _home(protected, **home)
    _vault(protected, **locked)
    problems, warnings = _check(instance)
    assert problems == []
    [warning] = warnings
    assert warning.startswith(expected), warning
    assert why in warning, warning
    if "AccessDenied" in why:
        assert "Check its key policy" in warning
        assert "kms:ViaService" in warning
    else:
        assert "a restore of the database from the protected copies would fail" in warning


def test_an_installation_without_rds_may_keep_both_vaults_on_aws_backup(protected):
    """EFS is fully managed by AWS Backup: its copies are encrypted with the destination
    vault's key, which may be aws/backup, both ways."""
    protected.client("backup").create_backup_vault(BackupVaultName=HOME_VAULT)
    _vault(protected, key="aws")
    config = copy.deepcopy(CONFIG)
    config["database"] = copy.deepcopy(DERBY)
    config["cold_window"] = {"disk_storage_used": ["derby"]}  # Derby is copied cold
    config["kubernetes"] = {"namespace": "uepe", "ecd_selection": {"names": ["ecd-a"]}}
    cfg = parse_config(config)
    problems: list[str] = []
    warnings: list[str] = []
    check_backup_keys(cfg, None, HOME, problems, warnings)
    assert problems == []
    # the locked vault's key cannot be described from home (an AWS managed key never is):
    # said once, as the key policy to check; nothing about the installation's vault
    assert [w.split(":")[0] for w in warnings] == ["immutable.backup_vault_name"], warnings
    assert check_restore_keys(cfg, HOME) == []


OTHER_REGION = "eu-central-1"


def test_keys_are_read_in_their_own_regions_when_the_locked_vault_is_elsewhere(protected):
    """immutable.region differs from region: the instance's key is described (as the
    protected account) in the home region, the locked vault's (as the installation) in
    immutable.region, as KMS is regional."""
    instance = _home(protected)
    backup = protected.aws.client_as(ROLE, "backup", OTHER_REGION)
    key = create_key(protected.aws.client_as(ROLE, "kms", OTHER_REGION), PROTECTED, HOME)
    backup.create_backup_vault(BackupVaultName=LOCKED_VAULT, EncryptionKeyArn=key)
    assert f":kms:{OTHER_REGION}:{PROTECTED}:key/" in key
    config = copy.deepcopy(CONFIG)
    config["immutable"]["region"] = OTHER_REGION
    problems: list[str] = []
    warnings: list[str] = []
    check_backup_keys(parse_config(config), instance, HOME, problems, warnings)
    assert (problems, warnings) == ([], [])
    assert check_restore_keys(parse_config(config), HOME) == []


def test_a_locked_vault_key_that_is_not_found_is_refused(protected):
    """Not a key policy's word: the key is gone (or the ARN wrong); the copies cannot land."""
    instance = _home(protected)
    _vault(protected)
    key = _protected_client(protected, "backup").describe_backup_vault(
        BackupVaultName=LOCKED_VAULT
    )["EncryptionKeyArn"]
    kms_backends[PROTECTED][protected.region].keys.pop(key.split("/")[-1])
    problems, _ = _check(instance)
    [problem] = problems
    assert problem.startswith(
        f"immutable.backup_vault_name: locked vault ue-test-locked's key {key}"
    )
    assert "(NotFoundException" in problem
    [refused] = check_restore_keys(parse_config(copy.deepcopy(CONFIG)), HOME)
    assert "(NotFoundException" in refused


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
    _home(protected, instance="aws/rds", vault="aws/backup")  # the instance: the copies are made
    _vault(protected, key="unshared")
    cfg = parse_config(copy.deepcopy(CONFIG))
    warnings: list[str] = []
    [problem] = check_restore_keys(cfg, HOME, warnings=warnings)
    assert problem.startswith("efs.aws_backup.vault_name: backup vault ue-test-vault's key")
    assert "is AWS managed (aws/backup)" in problem
    # the locked vault's key: denied is said, not refused (the copy back is the proof)
    [warning] = warnings
    assert warning.startswith("immutable.backup_vault_name: locked vault ue-test-locked's key")
    assert "could not be described as account 123456789012 (AccessDenied" in warning
    # a restore of EFS alone needs no customer managed vault key
    assert check_restore_keys(cfg, HOME, database=False) == []
    assert refuse_unusable_restore_keys(cfg, "the restore", ["efs", "memorydb"]) == []
    [refused] = refuse_unusable_restore_keys(cfg, "the restore", None)
    assert refused.endswith("(the restore refused before anything is copied back)")


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
