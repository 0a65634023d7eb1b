"""The protected copies' KMS keys, read before anything is copied or brought back.

Preflight (``check_backup_keys``: the instance's key, both vaults' keys) and
``ue_restore``/the drill with ``source: immutable`` (``check_restore_keys``: what
the copy back needs) read the keys through the hooks and apply the rules of
``immutable_keys``. Each read is made through the connection of the account that
will use the key, because that is what AWS checks: a key of the installation is
described through ``immutable.aws_conn_id`` (the protected account) and the locked
vault's key through ``aws_conn_id``; across accounts KMS answers only when the key
policy shares the key. A read refused or not found is a problem naming the field;
a transient error (throttling, 5xx, no connection) fails the try, and Airflow
retries it, instead of refusing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from ue_backup import immutable_keys as rules
from ue_backup.config import InstallationConfig
from ue_backup.hooks.aws_backup import AwsBackupHook
from ue_backup.hooks.kms import KmsHook
from ue_backup.run_settings import botocore_config
from ue_backup.transient import is_transient


def _hook(cfg: InstallationConfig, hook_class: type, *, protected: bool = False) -> Any:
    """A hook on the installation's connection, or the protected account's, with retries."""
    locked = cfg.immutable
    assert locked is not None
    return hook_class(
        aws_conn_id=locked.aws_conn_id if protected else cfg.aws_conn_id,
        region_name=locked.region_or(cfg.region) if protected else cfg.region,
        config=botocore_config(cfg.aws_retries),
    )


def _read(field: str, what: str, call: Callable[[], Any]) -> tuple[Any, str | None]:
    """(AWS's answer, None) or (None, the error as ``Code: message``); transient errors raise."""
    try:
        return call(), None
    except Exception as error:
        if is_transient(error):
            raise RuntimeError(f"{field}: {what} could not be checked now: {error}") from error
        if isinstance(error, ClientError):
            code = error.response.get("Error", {}).get("Code", "ClientError")
            return None, f"{code}: {error.response.get('Error', {}).get('Message', error)}"
        return None, str(error)


def _own_key(cfg: InstallationConfig, field: str, what: str, key_id: str, problems: list[str]):
    """A key read through the installation's own connection (its own account's key)."""
    key, error = _read(field, what, lambda: _hook(cfg, KmsHook).describe_key(key_id))
    if error:
        problems.append(f"{field}: {what} {key_id} cannot be read ({error})")
    return key


def _home_vault_key(cfg: InstallationConfig, problems: list[str]) -> None:
    """The installation's vault, where a copy back lands: under a customer managed key."""
    assert cfg.efs.aws_backup is not None
    name = cfg.efs.aws_backup.vault_name
    field = rules.HOME_VAULT_FIELD
    vault, error = _read(
        field, f"backup vault {name}", lambda: _hook(cfg, AwsBackupHook).describe_vault(name)
    )
    if error:
        return  # preflight's resource check names the missing vault already
    arn, missing = rules.vault_key_arn(field, name, vault)
    problems += missing
    if arn:
        key = _own_key(cfg, field, f"backup vault {name}'s key", arn, problems)
        if key is not None:
            problems += rules.vault_key_problems(field, name, vault, key)


def _locked_vault_key(cfg: InstallationConfig, home_account: str, problems: list[str]) -> None:
    """The locked vault's key, described as the installation's account: a copy back reads it."""
    locked = cfg.immutable
    assert locked is not None
    name, field = locked.backup_vault_name, rules.LOCKED_VAULT_FIELD
    vault, error = _read(
        field,
        f"backup vault {name}",
        lambda: _hook(cfg, AwsBackupHook, protected=True).describe_vault(name),
    )
    if error:
        return  # the lock check names the missing vault already
    arn, missing = rules.vault_key_arn(field, name, vault)
    problems += missing
    if not arn:
        return
    what = f"locked vault {name}'s key"
    key, error = _read(field, what, lambda: _hook(cfg, KmsHook).describe_key(arn))
    if error:
        problems.append(
            rules.not_shared_problem(
                field, what, arn, home_account, "copying the protected copies back", error
            )
        )
        return
    problems += rules.shared_key_problems(field, what, home_account, key)


def check_backup_keys(
    cfg: InstallationConfig,
    instance: dict[str, Any] | None,
    home_account: str,
    problems: list[str],
    warnings: list[str],
) -> None:
    """Before the first copy: the instance's key (customer managed, shared with the protected
    account), the installation's vault's key and the locked vault's key (for the copy back).

    ``instance`` is preflight's read of the RDS instance (None: no database this run, or
    it could not be read, which is a problem already).
    """
    locked = cfg.immutable
    assert locked is not None
    if instance is not None:
        identifier = cfg.database.rds_instance_identifier
        key_id = rules.instance_key(instance)
        if key_id is None:
            warnings.append(rules.unencrypted_warning(identifier))
        else:
            what = f"RDS instance {identifier}'s KMS key"
            key = _own_key(cfg, rules.RDS_FIELD, what, key_id, problems)
            if key is not None:
                found = rules.rds_key_problems(identifier, locked.account_id, key)
                problems += found
                if not found:
                    _shared_with_protected(cfg, what, key["Arn"], problems)
    if cfg.efs.aws_backup:
        _home_vault_key(cfg, problems)
    _locked_vault_key(cfg, home_account, problems)


def _shared_with_protected(cfg: InstallationConfig, what: str, arn: str, problems: list[str]):
    """The instance's key described as the protected account: the copy there reads it."""
    locked = cfg.immutable
    assert locked is not None
    field = rules.RDS_FIELD
    key, error = _read(field, what, lambda: _hook(cfg, KmsHook, protected=True).describe_key(arn))
    if error:
        problems.append(
            rules.not_shared_problem(
                field, what, arn, locked.account_id, "copying its recovery points there", error
            )
        )
    elif key is not None:
        problems += rules.shared_key_problems(field, what, locked.account_id, key)


def check_restore_keys(cfg: InstallationConfig, home_account: str) -> list[str]:
    """Before a restore from the protected copies brings them back: the locked vault's key
    usable by the installation's account, the installation's vault under a customer managed
    key (a restore of what lands there then needs the restore role's grant, ``include/iam``)."""
    problems: list[str] = []
    if cfg.efs.aws_backup:
        _home_vault_key(cfg, problems)
    _locked_vault_key(cfg, home_account, problems)
    return problems


def refuse_unusable_restore_keys(cfg: InstallationConfig, what: str) -> list[str]:
    """``check_restore_keys`` for ``ue_restore`` and the drill with ``source: immutable``,
    the installation's account read through its connection (``sts:GetCallerIdentity``)."""
    from ue_backup.hooks.sts import StsHook

    account, error = _read(
        "aws_conn_id",
        f"connection {cfg.aws_conn_id}",
        lambda: _hook(cfg, StsHook).get_account_number(),
    )
    if error:
        return [f"aws_conn_id: connection {cfg.aws_conn_id} cannot be used ({error})"]
    problems = check_restore_keys(cfg, account)
    return [f"{p} ({what} refused before anything is copied back)" for p in problems]
