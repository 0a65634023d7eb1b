"""The protected copies' key rules (``immutable_keys``): AWS's answers in, problems out."""

from __future__ import annotations

from ue_backup import immutable_keys as rules

ARN = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
CUSTOMER = {"Arn": ARN, "KeyManager": "CUSTOMER", "Enabled": True, "KeyState": "Enabled"}
AWS_MANAGED = {**CUSTOMER, "KeyManager": "AWS"}
DISABLED = {**CUSTOMER, "Enabled": False, "KeyState": "Disabled"}
PENDING = {**CUSTOMER, "Enabled": False, "KeyState": "PendingDeletion"}


def test_an_instances_key_is_its_kms_key_id_when_encrypted_and_none_otherwise():
    assert rules.instance_key({"StorageEncrypted": True, "KmsKeyId": ARN}) == ARN
    assert rules.instance_key({"StorageEncrypted": False, "KmsKeyId": ARN}) is None
    assert rules.instance_key({}) is None
    assert "is not encrypted" in rules.unencrypted_warning("db")


def test_the_instances_key_must_be_customer_managed_and_enabled():
    assert rules.rds_key_problems("db", "222233334444", CUSTOMER) == []
    [managed] = rules.rds_key_problems("db", "222233334444", AWS_MANAGED)
    assert managed.startswith("database.rds_instance_identifier: RDS instance db's KMS key")
    assert "is AWS managed (aws/rds)" in managed
    assert "cannot copy a recovery point under an AWS managed key to account 222233334444" in (
        managed
    )
    assert "customer managed key whose key policy shares it" in managed  # what to do
    [disabled] = rules.rds_key_problems("db", "222233334444", DISABLED)
    assert f"{ARN} is Disabled" in disabled
    [pending] = rules.rds_key_problems("db", "222233334444", PENDING)
    assert "is PendingDeletion" in pending


def test_a_vault_a_copy_lands_in_must_be_under_a_customer_managed_key():
    vault = {"EncryptionKeyArn": ARN}
    field = rules.HOME_VAULT_FIELD
    assert rules.vault_key_problems(field, "v", vault, CUSTOMER) == []
    [managed] = rules.vault_key_problems(field, "v", vault, AWS_MANAGED)
    assert managed.startswith("efs.aws_backup.vault_name: backup vault v's key")
    assert "is AWS managed (aws/backup)" in managed
    assert rules.vault_key_arn(field, "v", vault) == (ARN, [])
    assert rules.vault_key_arn(field, "v", {}) == (
        None,
        ["efs.aws_backup.vault_name: backup vault v names no EncryptionKeyArn"],
    )


def test_a_key_another_account_cannot_describe_is_not_shared_with_it():
    problem = rules.not_shared_problem(
        rules.LOCKED_VAULT_FIELD,
        "locked vault l's key",
        ARN,
        "123456789012",
        "copying the protected copies back",
        "AccessDeniedException: no resource-based policy allows it",
    )
    assert problem.startswith(f"immutable.backup_vault_name: locked vault l's key {ARN} is not")
    assert "not usable by account 123456789012 (AccessDeniedException" in problem
    assert rules.SHARED_ACTIONS in problem


def test_a_key_another_account_can_describe_must_still_be_customer_managed_and_enabled():
    field = rules.RDS_FIELD
    assert rules.shared_key_problems(field, "k", "222233334444", CUSTOMER) == []
    [managed] = rules.shared_key_problems(field, "k", "222233334444", AWS_MANAGED)
    assert "is AWS managed: it cannot be shared with account 222233334444" in managed
    [disabled] = rules.shared_key_problems(field, "k", "222233334444", DISABLED)
    assert "is Disabled" in disabled


def test_a_key_is_read_in_the_region_its_arn_names_else_in_the_configured_one():
    assert rules.key_region(ARN, "eu-central-1") == "eu-west-1"
    assert rules.key_region("11111111-2222-3333-4444-555555555555", "eu-central-1") == (
        "eu-central-1"
    )
    assert rules.key_region("alias/ue-backup", "us-east-1") == "us-east-1"
    assert rules.key_region("arn:aws:kms:us-east-2:123456789012:alias/x", "x") == "us-east-2"


def test_a_denied_probe_is_told_apart_from_a_missing_key_and_names_the_key_policy():
    assert rules.is_denied("AccessDeniedException: no resource-based policy allows it")
    assert not rules.is_denied("NotFoundException: Invalid arn eu-west-1")
    warning = rules.denied_warning(
        rules.RDS_FIELD, "k", ARN, "222233334444", "copy_rds_immutable fails", "AccessDenied..."
    )
    assert warning.startswith(f"database.rds_instance_identifier: k {ARN} could not be")
    assert "Check its key policy" in warning
    assert "kms:ViaService" in warning
    assert warning.endswith("If it is not shared, copy_rds_immutable fails")


def test_a_vault_under_aws_backup_is_said_only_as_the_databases_copy_back():
    vault = {"EncryptionKeyArn": ARN}
    assert rules.managed_vault_key(rules.HOME_VAULT_FIELD, "v", vault, CUSTOMER) is None
    managed = rules.managed_vault_key(rules.HOME_VAULT_FIELD, "v", vault, AWS_MANAGED)
    assert "a restore of the database from the protected copies would fail" in managed
