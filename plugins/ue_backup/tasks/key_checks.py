"""The protected copies' KMS keys, read before anything is copied or brought back.

Preflight (``check_backup_keys``: the instance's key, both vaults' keys) and
``ue_restore``/the drill with ``source: immutable`` (``check_restore_keys``: what
the copy back needs) read the keys through the hooks and apply the rules of
``immutable_keys``. Each read is made through the connection of the account that
will use the key, because that is what AWS checks: a key of the installation is
described through ``immutable.aws_conn_id`` (the protected account) and the locked
vault's key through ``aws_conn_id``; across accounts KMS answers only when the key
policy shares the key. Each read goes to the key's own region (the one its ARN names:
KMS is regional, and a key ARN sent to another region's endpoint is "Invalid arn"),
whatever the region of the connection's account.

What refuses what: a backup is refused only for what the nightly copies need (the
instance's key customer managed, found and enabled; both vaults' keys found and
enabled; the locked vault under a customer managed key when RDS points are copied).
What only a later restore needs (the installation's vault under a customer managed key,
the locked vault's key shared back) is a warning before a backup, and a refusal before
a restore only when that restore needs it (the database's points; an EFS-only restore
works with ``aws/backup`` vaults). A cross-account probe that is denied is a warning
naming the key policy (which may grant the role, or go through ``kms:ViaService``,
rather than the account); a key not found is a refusal. A transient error (throttling,
5xx, no connection) fails the try, and Airflow retries it, instead of refusing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import Any

from botocore.exceptions import ClientError

from ue_backup import immutable_keys as rules
from ue_backup.config import InstallationConfig
from ue_backup.hooks.aws_backup import AwsBackupHook
from ue_backup.hooks.kms import KmsHook
from ue_backup.run_settings import botocore_config
from ue_backup.transient import is_transient

log = logging.getLogger(__name__)


def _hook(cfg: InstallationConfig, hook_class: type, *, protected: bool = False) -> Any:
    """A hook on the installation's connection (home region), or the protected account's
    (``immutable.region``), with retries."""
    locked = cfg.immutable
    assert locked is not None
    return hook_class(
        aws_conn_id=locked.aws_conn_id if protected else cfg.aws_conn_id,
        region_name=locked.region_or(cfg.region) if protected else cfg.region,
        config=botocore_config(cfg.aws_retries),
    )


def _kms(cfg: InstallationConfig, key_id: str, default_region: str, *, protected: bool) -> Any:
    """A KMS hook in the key's own region (its ARN's; ``default_region`` for a key id),
    through the connection of the account that reads it (``protected``: the protected
    account's), with retries."""
    locked = cfg.immutable
    assert locked is not None
    return KmsHook(
        aws_conn_id=locked.aws_conn_id if protected else cfg.aws_conn_id,
        region_name=rules.key_region(key_id, default_region),
        config=botocore_config(cfg.aws_retries),
    )


def _describe(cfg: InstallationConfig, key_id: str, default_region: str, *, protected: bool):
    """A call describing ``key_id`` in its region, as the given account."""
    return lambda: _kms(cfg, key_id, default_region, protected=protected).describe_key(key_id)


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
    """A key of the installation's account read through its own connection, in the key's
    region (the home region for a key id)."""
    key, error = _read(field, what, _describe(cfg, key_id, cfg.region, protected=False))
    if error:
        problems.append(f"{field}: {what} {key_id} cannot be read ({error})")
    return key


def _home_vault_key(
    cfg: InstallationConfig, problems: list[str], copy_back: list[str], *, database: bool
) -> None:
    """The installation's vault, where a copy back lands. Its key found and enabled is a
    problem (the nightly backups land there too); customer managed only when the
    database's points are copied back (``database``), and then said in ``copy_back``
    (a warning before a backup, a problem before a restore)."""
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
    if not arn:
        return
    key = _own_key(cfg, field, f"backup vault {name}'s key", arn, problems)
    if key is None:
        return
    managed = rules.managed_vault_key(field, name, vault, key)
    if managed:
        if database:
            copy_back.append(managed)
        return
    problems += rules.usable(field, f"backup vault {name}'s key", key)


def _locked_vault_key(
    cfg: InstallationConfig,
    home_account: str,
    problems: list[str],
    warnings: list[str],
    *,
    database: bool,
) -> None:
    """The locked vault's key, described as the installation's account in the key's region
    (``immutable.region``): a copy back reads it. Not found, or disabled: a problem (the
    nightly copies land under it too). AWS managed: a problem when the database's points
    are copied (``database``). Denied: a warning naming the key policy."""
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
    region = locked.region_or(cfg.region)
    key, error = _read(field, what, _describe(cfg, arn, region, protected=False))
    purpose = "copying the protected copies back"
    if error and rules.is_denied(error):
        consequence = "a restore from the protected copies would fail when it copies them back"
        warnings.append(rules.denied_warning(field, what, arn, home_account, consequence, error))
    elif error:
        problems.append(rules.not_shared_problem(field, what, arn, home_account, purpose, error))
    elif key.get("KeyManager") != "CUSTOMER":
        if database:
            problems += rules.shared_key_problems(field, what, home_account, key)
    else:
        problems += rules.usable(field, what, key)


def check_backup_keys(
    cfg: InstallationConfig,
    instance: dict[str, Any] | None,
    home_account: str,
    problems: list[str],
    warnings: list[str],
) -> None:
    """Before the first copy: the instance's key (customer managed, shared with the protected
    account), the installation's vault's key and the locked vault's key.

    Refused: what the nightly copies need. Warned: what only a restore from the protected
    copies needs (the installation's vault under a customer managed key, the locked vault's
    key shared back), and a denied cross-account probe (the copy job is then the proof).
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
                    _shared_with_protected(cfg, what, key["Arn"], problems, warnings)
    if cfg.efs.aws_backup:
        _home_vault_key(cfg, problems, warnings, database=cfg.uses_rds)
    _locked_vault_key(cfg, home_account, problems, warnings, database=cfg.uses_rds)


def _shared_with_protected(
    cfg: InstallationConfig, what: str, arn: str, problems: list[str], warnings: list[str]
) -> None:
    """The instance's key described as the protected account, in the key's region (the
    home region): the copy there reads it. Denied: a warning naming the key policy."""
    locked = cfg.immutable
    assert locked is not None
    field = rules.RDS_FIELD
    key, error = _read(field, what, _describe(cfg, arn, cfg.region, protected=True))
    if error and rules.is_denied(error):
        consequence = "copy_rds_immutable fails every run (its copy job is the proof)"
        warnings.append(
            rules.denied_warning(field, what, arn, locked.account_id, consequence, error)
        )
    elif error:
        problems.append(
            rules.not_shared_problem(
                field, what, arn, locked.account_id, "copying its recovery points there", error
            )
        )
    elif key is not None:
        problems += rules.shared_key_problems(field, what, locked.account_id, key)


def check_restore_keys(
    cfg: InstallationConfig,
    home_account: str,
    *,
    database: bool | None = None,
    warnings: list[str] | None = None,
) -> list[str]:
    """Before a restore from the protected copies brings them back: what that restore needs.

    The locked vault's key found and enabled, usable by the installation's account (a
    denied probe goes to ``warnings``: the copy back is then the proof); the installation's
    vault's key enabled, and customer managed when the database's points are copied back
    (``database``: by default, when the installation has RDS; a restore of what lands
    there then needs the restore role's grant, ``include/iam``). Returns the problems.
    """
    rds = cfg.uses_rds if database is None else database and cfg.uses_rds
    problems: list[str] = []
    said = warnings if warnings is not None else []
    if cfg.efs.aws_backup:
        _home_vault_key(cfg, problems, problems, database=rds)
    _locked_vault_key(cfg, home_account, problems, said, database=rds)
    return problems


def refuse_unusable_restore_keys(
    cfg: InstallationConfig, what: str, components: Collection[str] | None = None
) -> list[str]:
    """``check_restore_keys`` for ``ue_restore`` and the drill with ``source: immutable``,
    the installation's account read through its connection (``sts:GetCallerIdentity``).
    ``components``: those restored (empty or None: all); warnings are logged."""
    from ue_backup.hooks.sts import StsHook

    account, error = _read(
        "aws_conn_id",
        f"connection {cfg.aws_conn_id}",
        lambda: _hook(cfg, StsHook).get_account_number(),
    )
    if error:
        return [f"aws_conn_id: connection {cfg.aws_conn_id} cannot be used ({error})"]
    warnings: list[str] = []
    database = not components or "database" in components
    problems = check_restore_keys(cfg, account, database=database, warnings=warnings)
    for warning in warnings:
        log.warning("%s (%s goes ahead; the copy back is the proof)", warning, what)
    return [f"{p} ({what} refused before anything is copied back)" for p in problems]
