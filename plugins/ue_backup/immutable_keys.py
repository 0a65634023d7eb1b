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
  its key must be usable by the installation's account, and, for the database's points,
  the installation's vault, where the copies land, under a customer managed key.
- Resources fully managed by AWS Backup (EFS) are encrypted independently with the
  destination vault's key ("Encryption for backups in AWS Backup", independent
  encryption): their copies, either way, need no customer managed vault key, so an
  installation without RDS may keep both vaults under ``aws/backup``.
- What only a later restore needs (the copy back) is a warning before a backup, not a
  refusal: the nightly backup does not need it, and refusing it would lose backups.
- Restoring an encrypted recovery point makes a grant on its key for the new resource
  (``kms:CreateGrant`` through the service, in the restore role's policy: ``include/iam``).

KMS is regional: a key is described through a client in the region its ARN names
(``key_region``), else AWS answers ``NotFoundException`` ("Invalid arn").

Whether a key is shared is probed as AWS would see it: ``kms:DescribeKey`` of its ARN
*from the other account* (``tasks/key_checks``). Across accounts KMS answers only when
the key policy allows that account (and the caller's own IAM policy allows it too);
it is the one read-only call that reaches another account's key (``GetKeyPolicy`` does
not work across accounts, and a trial grant would change something). It proves the
key policy names the account, not every action the copy uses: a policy that shares
``kms:DescribeKey`` but not ``kms:Decrypt`` or ``kms:CreateGrant`` still fails the
copy. Nor does a denial prove the copy will fail: a key policy may grant only the role
that copies, or only through the service (``kms:ViaService``), not the whole account.
So a denied probe is a warning naming the key policy (the copy job is then the proof,
and its failure is loud); a key that is not found stays a refusal. The key policies
themselves stay the operator's (README, "Immutable copies").

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


def key_region(key_id: str, default: str) -> str:
    """The region of a key: the one its ARN names (``arn:<partition>:kms:<region>:...``),
    or ``default`` for a key id or alias, which KMS looks up in the caller's own region
    (the region the key belongs to by configuration)."""
    parts = key_id.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[2] == "kms" and parts[3]:
        return parts[3]
    return default


def is_denied(error: str) -> bool:
    """Whether a read's error (``Code: message``) is KMS's denial, not a missing key."""
    return error.startswith(("AccessDeniedException", "AccessDenied"))


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


def usable(field: str, what: str, key: Mapping[str, Any]) -> list[str]:
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
    return usable(RDS_FIELD, what, key)


def managed_vault_key(
    field: str, vault_name: str, vault: Mapping[str, Any], key: Mapping[str, Any]
) -> str | None:
    """A vault the database's copies from another account land in must be under a
    customer managed key (RDS is not fully managed by AWS Backup); None when it is."""
    if key.get("KeyManager") == "CUSTOMER":
        return None
    return (
        f"{field}: backup vault {vault_name}'s key {vault.get('EncryptionKeyArn') or '?'} is "
        "AWS managed (aws/backup): the database's copies from another account cannot land "
        "in it, so a restore of the database from the protected copies would fail when it "
        "copies them back. Use a vault under a customer managed key"
    )


def vault_key_problems(
    field: str, vault_name: str, vault: Mapping[str, Any], key: Mapping[str, Any]
) -> list[str]:
    """A vault the database's copies from another account land in: customer managed and
    enabled."""
    managed = managed_vault_key(field, vault_name, vault, key)
    return [managed] if managed else usable(field, f"backup vault {vault_name}'s key", key)


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


def denied_warning(
    field: str, what: str, key_arn: str, account: str, consequence: str, error: str
) -> str:
    """The key could not be described from ``account`` (``AccessDeniedException``): said
    loudly, not refused. The key policy may share the key with a role or through a service
    only (which a copy can use), or not at all (or the key is AWS managed, never shared)."""
    return (
        f"{field}: {what} {key_arn} could not be described as account {account} ({error}). "
        "Check its key policy: it must let that account (or the role that copies) use it "
        f"({SHARED_ACTIONS}); a policy granting only a role or through kms:ViaService is "
        f"fine, an AWS managed key never is. If it is not shared, {consequence}"
    )


def shared_key_problems(field: str, what: str, account: str, key: Mapping[str, Any]) -> list[str]:
    """A key another account could describe: it must still be customer managed and enabled
    (an AWS managed key is never usable across accounts; said plainly if AWS ever shows one)."""
    if key.get("KeyManager") != "CUSTOMER":
        return [
            f"{field}: {what} {key.get('Arn', '?')} is AWS managed: it cannot be shared with "
            f"account {account}; use a customer managed key"
        ]
    return usable(field, what, key)
