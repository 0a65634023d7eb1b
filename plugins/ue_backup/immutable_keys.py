"""The KMS keys the protected copies need, as rules on AWS's answers (no AWS call here).

AWS Backup copies a recovery point to another account, and back, only when the keys
allow it (AWS Backup's guide, "Creating backup copies across AWS accounts" and
"Encryption for copies to another account"; RDS's, "AWS KMS key management"):

- RDS is not fully managed by AWS Backup: its recovery point is a snapshot under the
  instance's own key. Another account can copy it only when that key is **customer
  managed** and its key policy **shares it with that account**; an instance on the AWS
  managed key ``aws/rds`` can never be copied there (``copy_rds_immutable`` would fail
  every night, after the cold window).
- The copy back (a restore from the protected copies) copies out of the locked vault:
  its key must be usable by the installation's account, and the installation's vault,
  where the copies land, under a customer managed key.
- Restoring an encrypted recovery point makes a grant on its key for the new resource
  (``kms:CreateGrant`` through the service, in the restore role's policy: ``include/iam``).

Whether a key is shared is probed as AWS would see it: ``kms:DescribeKey`` of its ARN
*from the other account* (``tasks/key_checks``). Across accounts KMS answers only when
the key policy allows that account (and the caller's own IAM policy allows it too);
it is the one read-only call that reaches another account's key (``GetKeyPolicy`` does
not work across accounts, and a trial grant would change something). It proves the
key policy names the account, not every action the copy uses: a policy that shares
``kms:DescribeKey`` but not ``kms:Decrypt`` or ``kms:CreateGrant`` still fails the
copy. The key policies themselves stay the operator's (README, "Immutable copies").

Inputs are ``DescribeKey``'s ``KeyMetadata``, ``DescribeDBInstances``' instance and
``DescribeBackupVault``'s answer; outputs are problems naming the configuration field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RDS_FIELD = "database.rds_instance_identifier"
HOME_VAULT_FIELD = "efs.aws_backup.vault_name"
LOCKED_VAULT_FIELD = "immutable.backup_vault_name"
# What a key policy must allow the other account for a copy (AWS Backup's guide).
SHARED_ACTIONS = "kms:DescribeKey, kms:Decrypt, kms:CreateGrant"


def instance_key(instance: Mapping[str, Any]) -> str | None:
    """The instance's key (``KmsKeyId``, an ARN), or None when its storage is not encrypted."""
    if not instance.get("StorageEncrypted"):
        return None
    return instance.get("KmsKeyId") or None


def unencrypted_warning(identifier: str) -> str:
    """An unencrypted instance copies to another account without a key; said, not refused."""
    return (
        f"{RDS_FIELD}: RDS instance {identifier} is not encrypted: its protected copies are "
        "not encrypted either (encrypting it means restoring a snapshot copied with a "
        "customer managed key)"
    )


def _usable(field: str, what: str, key: Mapping[str, Any]) -> list[str]:
    """A key that exists but cannot be used: disabled, pending deletion, ..."""
    state = key.get("KeyState") or ("Enabled" if key.get("Enabled") else "Disabled")
    if key.get("Enabled") and state == "Enabled":
        return []
    return [
        f"{field}: {what} {key.get('Arn', '?')} is {state}: nothing encrypted with it can be "
        "copied or restored until it is enabled again"
    ]


def rds_key_problems(identifier: str, protected_account: str, key: Mapping[str, Any]) -> list[str]:
    """The instance's key must be customer managed (and enabled) for the cross-account copy."""
    what = f"RDS instance {identifier}'s KMS key"
    if key.get("KeyManager") != "CUSTOMER":
        return [
            f"{RDS_FIELD}: {what} {key.get('Arn', '?')} is AWS managed (aws/rds): AWS Backup "
            f"cannot copy a recovery point under an AWS managed key to account "
            f"{protected_account}, so copy_rds_immutable would fail every run. Encrypt the "
            "instance with a customer managed key whose key policy shares it with that "
            f"account ({SHARED_ACTIONS}); an instance's key is changed by restoring a "
            "snapshot copied with the new key"
        ]
    return _usable(RDS_FIELD, what, key)


def vault_key_problems(
    field: str, vault_name: str, vault: Mapping[str, Any], key: Mapping[str, Any]
) -> list[str]:
    """A vault a copy from another account lands in must be under a customer managed key."""
    what = f"backup vault {vault_name}'s key"
    if key.get("KeyManager") != "CUSTOMER":
        return [
            f"{field}: {what} {vault.get('EncryptionKeyArn') or '?'} is AWS managed "
            "(aws/backup): copies from another account cannot land in it, so a restore from "
            "the protected copies would fail when it copies them back. Use a vault under a "
            "customer managed key"
        ]
    return _usable(field, what, key)


def vault_key_arn(
    field: str, vault_name: str, vault: Mapping[str, Any]
) -> tuple[str | None, list[str]]:
    """The vault's key ARN, or a problem when AWS's answer names none."""
    arn = vault.get("EncryptionKeyArn")
    if not arn:
        return None, [f"{field}: backup vault {vault_name} names no EncryptionKeyArn"]
    return arn, []


def not_shared_problem(
    field: str, what: str, key_arn: str, account: str, purpose: str, error: str
) -> str:
    """The key could not be described from ``account``: its key policy does not share it
    (``AccessDeniedException``), or it is gone (``NotFoundException``)."""
    return (
        f"{field}: {what} {key_arn} is not usable by account {account} ({error}); "
        f"{purpose} needs its key policy to allow that account {SHARED_ACTIONS} (and that "
        "account's role to allow kms:DescribeKey on it)"
    )


def shared_key_problems(field: str, what: str, account: str, key: Mapping[str, Any]) -> list[str]:
    """A key another account could describe: it must still be customer managed and enabled
    (an AWS managed key is never usable across accounts; said plainly if AWS ever shows one)."""
    if key.get("KeyManager") != "CUSTOMER":
        return [
            f"{field}: {what} {key.get('Arn', '?')} is AWS managed: it cannot be shared with "
            f"account {account}; use a customer managed key"
        ]
    return _usable(field, what, key)
