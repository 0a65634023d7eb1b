"""Immutable copies out of the Airflow role's reach: the configuration and its lock rules.

The role behind ``aws_default`` can delete every backup it made (retention
does so daily): one leaked Airflow credential, or one bad retention change,
would erase the whole history. The answer is a copy that role cannot delete:

- in another AWS account (the *protected* account), reached through its own
  Airflow connection (``aws_conn_id``) whose role lives there;
- EFS and database copies in an AWS Backup vault under Vault Lock (compliance
  mode: once its grace time is over, nobody, the account's root included, can
  delete a recovery point before its retention ends, nor remove the lock);
- MemoryDB ``.rdb`` files and the manifests in an S3 bucket with Object Lock
  in compliance mode (the same guarantee, per object version).

This module holds the pure rules a lock must satisfy (the typed section,
``config.ImmutableConfig``, is with the other sections);
preflight (``tasks/preflight.py``) reads the vault's and the bucket's lock
through the protected connection and applies them. Built so far: the section,
those checks, the EFS recovery point's and the database's copies into the locked
vault (the backup DAG's ``copy_efs_immutable``, ``copy_rds_immutable``), the
manifest's and MemoryDB's ``.rdb`` files' into the Object Lock bucket
(``lock_manifest``, ``lock_memorydb_immutable``), restoring from them
(``ue_restore`` with ``source: immutable``), and retention listing them "locked
until" (``retention_locked``), and the restore drill rehearsing that restore
(``ue_restore_drill`` with ``source: immutable``). What they do not hold, the
Kubernetes resources (Velero's backups stay in the installation's reach),
preflight says in a warning on every run, so a configured section is never
mistaken for whole protection.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ue_backup.config import ImmutableConfig

SECTION = "immutable"
NOT_COVERED = (
    f"{SECTION}: the Kubernetes resources are not in the protected copies: Velero's backups "
    "stay where the installation's credentials can delete them (see the README, 'Immutable "
    "copies')"
)


# --- the rules a lock must satisfy (inputs: AWS's answers, outputs: problems) ------------


def identity_problems(
    immutable: ImmutableConfig, protected: Mapping[str, Any], home_account: str | None
) -> list[str]:
    """Problems with who ``aws_conn_id`` is (``sts:GetCallerIdentity``'s answer).

    A "protected" copy in the installation's own account is in the Airflow role's
    reach after all; a connection that is not the configured role may have rights
    the checks here do not see.
    """
    problems = []
    account = str(protected.get("Account", ""))
    if account != immutable.account_id:
        problems.append(
            f"{SECTION}.aws_conn_id: connection {immutable.aws_conn_id} reaches account "
            f"{account or '?'}, not account_id {immutable.account_id}"
        )
    if home_account is not None and home_account == immutable.account_id:
        problems.append(
            f"{SECTION}.account_id: {immutable.account_id} is the installation's own account "
            "(the Airflow role's): copies there are not out of its reach"
        )
    role_name = immutable.role_arn.rsplit("/", 1)[-1]
    arn = str(protected.get("Arn", ""))
    # An assumed role's identity: arn:aws:sts::<account>:assumed-role/<role name>/<session>
    if f":assumed-role/{role_name}/" not in arn:
        problems.append(
            f"{SECTION}.role_arn: connection {immutable.aws_conn_id} is {arn or '?'}, not the "
            f"role {immutable.role_arn} (set the connection's role_arn extra to it)"
        )
    return problems


def vault_lock_problems(immutable: ImmutableConfig, vault: Mapping[str, Any]) -> list[str]:
    """Problems with the vault's lock (``backup:DescribeBackupVault``'s answer).

    A locked vault refuses to delete any recovery point before its retention ends and
    to shorten it: that is the protection. Its ``MinRetentionDays`` and
    ``MaxRetentionDays`` bound the retention of every job into it; the copies are
    kept ``min_retention_days`` (``ImmutableConfig.lifecycle``), so a lock whose
    bounds exclude that would fail every copy: refused here, before the first.
    ``Locked`` is true also during the lock's grace time (``vault_lock_warnings``).
    """
    field = f"{SECTION}.backup_vault_name"
    name = immutable.backup_vault_name
    days = immutable.min_retention_days
    if not vault.get("Locked"):
        return [f"{field}: vault {name} has no Vault Lock: its recovery points can be deleted"]
    problems = []
    if vault.get("LockDate") is None:
        problems.append(
            f"{field}: vault {name}'s Vault Lock is in governance mode (set without "
            "ChangeableForDays): anyone allowed backup:DeleteBackupVaultLockConfiguration can "
            "remove it at any time, and then delete the copies; lock it in compliance mode"
        )
    least, most = vault.get("MinRetentionDays"), vault.get("MaxRetentionDays")
    if least is None:
        problems.append(
            f"{field}: vault {name}'s lock sets no MinRetentionDays: it would accept copies "
            "kept a day, so nothing makes the vault keep what it holds long enough"
        )
    elif int(least) > days:
        problems.append(
            f"{field}: vault {name} accepts only copies kept at least {least} days; "
            f"min_retention_days {days} would fail every copy (raise it to {least})"
        )
    if most is not None and int(most) < days:
        problems.append(
            f"{field}: vault {name} accepts only copies kept at most {most} days; "
            f"min_retention_days {days} would fail every copy"
        )
    return problems


def vault_lock_warnings(vault: Mapping[str, Any], now: Any) -> list[str]:
    """A compliance lock still in its grace time can be removed: loud, but the copies may go
    on (refusing would leave the installation without copies for the grace time's days)."""
    lock_date = vault.get("LockDate")
    if lock_date is not None and lock_date > now:
        return [
            f"{SECTION}.backup_vault_name: the Vault Lock is in its grace time until {lock_date}: "
            "until then anyone allowed backup:DeleteBackupVaultLockConfiguration in the "
            "protected account (its role in Airflow included) can remove it and delete the copies"
        ]
    return []


def access_policy_problems(
    immutable: ImmutableConfig,
    policy: str | None,
    home_account: str | None,
    runs_as: str | None = None,
) -> list[str]:
    """Problems with the locked vault's access policy: a copy job started in the
    installation's account (``home_account``, as its AWS Backup role ``runs_as``) lands
    there only when it allows ``backup:CopyIntoBackupVault`` from that account (AWS also
    needs cross-account backup enabled in the organization, which only AWS Organizations
    tells).

    Without the grant every copy fails after the cold window, on every run.
    """
    field, name = f"{SECTION}.backup_vault_name", immutable.backup_vault_name
    if not policy:
        return [
            f"{field}: vault {name} has no access policy: copies from account "
            f"{home_account or '?'} are refused (allow backup:CopyIntoBackupVault from it)"
        ]
    why, _ = _grant(policy, home_account, runs_as)
    if why:
        return [f"{field}: vault {name}'s {why}: every copy would be refused"]
    return []


def access_policy_warnings(
    immutable: ImmutableConfig, policy: str | None, home_account: str | None
) -> list[str]:
    """The locked vault's grant names only principals of the account, not the account."""
    _, warning = _grant(policy or "{}", home_account)
    if not warning:
        return []
    return [f"{SECTION}.backup_vault_name: vault {immutable.backup_vault_name}'s {warning}"]


def home_grant_problems(
    vault_name: str, policy: str | None, protected_account: str, runs_as: str | None = None
) -> list[str]:
    """Problems with the installation's own vault for a restore from the protected copies:
    the copies are brought back by copy jobs started in the protected account (as its AWS
    Backup role ``runs_as``), which land only when this vault's access policy lets that
    account copy in. After an attack the policy may be gone with everything else; refused
    before anything is changed, saying what to put back."""
    field = "efs.aws_backup.vault_name"
    grant = (
        f"put back an access policy on {vault_name} allowing backup:CopyIntoBackupVault to "
        f"arn:aws:iam::{protected_account}:root (include/iam/"
        "ue-backup-immutable-home-vault-access-policy.json)"
    )
    if not policy:
        return [f"{field}: vault {vault_name} has no access policy: {grant}"]
    why, _ = _grant(policy, protected_account, runs_as)
    if why:
        return [f"{field}: vault {vault_name}'s {why}, so nothing could be brought back: {grant}"]
    return []


def home_grant_warnings(vault_name: str, policy: str | None, protected_account: str) -> list[str]:
    """The installation's vault's grant names only principals of the protected account."""
    _, warning = _grant(policy or "{}", protected_account)
    if not warning:
        return []
    return [f"efs.aws_backup.vault_name: vault {vault_name}'s {warning}"]


def _grant(
    policy: str, account: str | None, runs_as: str | None = None
) -> tuple[str | None, str | None]:
    """(why a vault access policy does not let ``account`` copy recovery points in, None
    when it does; a warning about the grant, or None).

    An explicit Deny wins over any Allow (IAM's evaluation), whatever its condition says:
    a Deny left by whoever removed the grant would fail every copy. It counts when it
    names everyone, the account, or the role the copy runs as (``runs_as``). AWS
    documents the grant to the account itself (its root, or its id); an Allow naming
    only users or roles of the account may not cover the copy: a warning, not a
    refusal, since nothing proves it fails (the copies' own verdict would say so).
    """
    try:
        document = json.loads(policy)
    except ValueError:
        return "access policy is not JSON", None
    statements = document.get("Statement") or []
    statements = statements if isinstance(statements, list) else [statements]
    who = account or "?"
    if any(
        s.get("Effect") == "Deny" and _names_the_copy_in(s, account, also=runs_as)
        for s in statements
    ):
        return f"access policy denies backup:CopyIntoBackupVault to account {who}", None
    if any(s.get("Effect") == "Allow" and _names_the_copy_in(s, account) for s in statements):
        return None, None
    if any(
        s.get("Effect") == "Allow" and _names_the_copy_in(s, account, any_principal=True)
        for s in statements
    ):
        return None, (
            f"access policy allows backup:CopyIntoBackupVault to principals of account {who} "
            f"but not to the account: AWS documents the grant to arn:aws:iam::{who}:root; if "
            "the copies fail, grant it so"
        )
    return f"access policy does not allow backup:CopyIntoBackupVault from account {who}", None


def _names_the_copy_in(
    statement: Mapping[str, Any],
    account: str | None,
    any_principal: bool = False,
    also: str | None = None,
) -> bool:
    """Whether a statement is about ``account`` copying into the vault: its action covers
    ``backup:CopyIntoBackupVault`` and its principal is everyone or that account (its root
    or its bare id; ``also``, one more principal; with ``any_principal``, any user or role
    of the account)."""
    actions = statement.get("Action") or []
    actions = actions if isinstance(actions, list) else [actions]
    principal = statement.get("Principal")
    aws = principal.get("AWS") if isinstance(principal, Mapping) else principal
    who = [str(w) for w in (aws if isinstance(aws, list) else [aws])]

    def names(w: str) -> bool:
        if w == "*" or (also and w == also):
            return True
        if not account:
            return False
        if w == account or w.endswith(f"::{account}:root"):
            return True
        return any_principal and f"::{account}:" in w

    return bool(set(actions) & {"backup:CopyIntoBackupVault", "backup:*", "*"}) and any(
        names(w) for w in who
    )


def bucket_lock_problems(immutable: ImmutableConfig, lock: Mapping[str, Any]) -> list[str]:
    """Problems with the bucket's Object Lock (``s3:GetObjectLockConfiguration``'s answer;
    ``{}``: the bucket has no Object Lock configuration)."""
    field = f"{SECTION}.bucket"
    name = immutable.bucket
    configuration = lock.get("ObjectLockConfiguration") or {}
    if configuration.get("ObjectLockEnabled") != "Enabled":
        return [f"{field}: bucket {name} has no Object Lock: its objects can be deleted"]
    retention = (configuration.get("Rule") or {}).get("DefaultRetention") or {}
    if retention.get("Mode") != "COMPLIANCE":
        mode = retention.get("Mode") or "no default retention"
        return [
            f"{field}: bucket {name}'s default retention is {mode}, not COMPLIANCE: a role with "
            "s3:BypassGovernanceRetention (or none at all) can delete the objects"
        ]
    days = retention.get("Days") or 365 * (retention.get("Years") or 0)
    if days < immutable.min_retention_days:
        return [
            f"{field}: bucket {name} keeps objects {days} days by default, fewer than "
            f"min_retention_days {immutable.min_retention_days}"
        ]
    return []


def object_lock_problems(
    where: str, retention: Mapping[str, Any], required_until: datetime, days: int
) -> list[str]:
    """Problems with one object version's lock (``s3:GetObjectRetention``'s ``Retention``;
    ``{}``: the version has none), ``where`` naming bucket, key and version.

    Good enough: COMPLIANCE mode (a governance retention yields to anyone allowed
    ``s3:BypassGovernanceRetention``, and then the version can be deleted) until at least
    ``required_until`` (the backup set's time + ``min_retention_days``: the locked copy
    outlives the set's minimum retention, as the vault's copies do).
    """
    mode, until = retention.get("Mode"), retention.get("RetainUntilDate")
    if not mode or until is None:
        return [f"{SECTION}.bucket: {where} has no retention: it can be deleted"]
    problems = []
    if mode != "COMPLIANCE":
        problems.append(
            f"{SECTION}.bucket: {where} is locked in {mode} mode, not COMPLIANCE: a role allowed "
            "s3:BypassGovernanceRetention can shorten the lock and delete it"
        )
    if until < required_until:
        problems.append(
            f"{SECTION}.bucket: {where} is locked until {until.astimezone(UTC).isoformat()}, "
            f"before {required_until.astimezone(UTC).isoformat()} "
            f"(the backup set's time + min_retention_days {days})"
        )
    return problems
