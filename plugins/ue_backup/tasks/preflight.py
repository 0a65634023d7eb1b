"""The backup DAG's first task: refuse bad input, check every resource, then plan the run.

Nothing is changed in AWS or Kubernetes here but the RPO guard's CloudWatch
alarm (created or updated once params, configuration and RPO are known good,
see ``tasks.rpo``). Every problem found is reported at once; warnings an
operator should act on (no Multi-AZ standby, no automated backups, no copy
region, no MemoryDB retention, a managed window estimated longer than
``max_window_minutes`` allows) are logged loudly but do not stop the backup.
The cold window's estimate (``tasks.window_history``) is logged and kept in
the settings, for the external window's check and the manifest.
The result is the run's *settings*: a ``run_settings.BackupRunSettings``,
returned as its JSON dump, that the later tasks read through templates
checked against that model, with ``None`` for every component this
installation (or this run's params) leaves out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ue_backup import immutable, rpo
from ue_backup.backup_set import COMPONENTS, BackupSet, tag_dict
from ue_backup.config import ConfigError, InstallationConfig, load_config
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.aws_backup import AwsBackupHook
from ue_backup.hooks.datasync import DataSyncHook
from ue_backup.hooks.ecd import EcdHook
from ue_backup.hooks.efs import EfsHook
from ue_backup.hooks.kms import KmsHook
from ue_backup.hooks.memorydb import MemoryDbHook
from ue_backup.hooks.rds import RdsHook
from ue_backup.hooks.s3 import S3Hook
from ue_backup.hooks.sts import StsHook
from ue_backup.hooks.velero import VeleroHook
from ue_backup.notifications import send_alert
from ue_backup.run_settings import BackupRunSettings, botocore_config
from ue_backup.tasks.key_checks import check_backup_keys
from ue_backup.tasks.rpo import ensure_alarms
from ue_backup.tasks.run_guard import refuse_while_running
from ue_backup.tasks.window_history import window_estimate
from ue_backup.transient import is_transient

log = logging.getLogger(__name__)

BACKUP_PARAMS = ("components", "reason")
# The tag that puts an RDS instance under the IAM policy's tag-based guard
# (RdsGuardProtectedInstances), which follows the instance through a rename.
PROTECTED_TAG = "ue-backup:protected"


def check_params(params: Mapping[str, Any], conf: Mapping[str, Any]) -> list[str]:
    """Problems with the run's params; unknown keys in the trigger's conf count too."""
    problems = [
        f"params.{key}: is not a parameter of this DAG (known: {', '.join(BACKUP_PARAMS)})"
        for key in sorted(set(conf or {}) - set(BACKUP_PARAMS))
    ]
    components = params.get("components")
    if components is not None:
        if not isinstance(components, list):
            problems.append(f"params.components: must be a list, got {components!r}")
        else:
            unknown = sorted(set(components) - set(COMPONENTS))
            if unknown:
                problems.append(
                    f"params.components: {unknown} are not components "
                    f"(choose from {', '.join(COMPONENTS)})"
                )
            if "efs" not in components:
                problems.append(
                    "params.components: 'efs' is required: the disk backup anchors every backup set"
                )
    reason = params.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
        problems.append("params.reason: must be text of at most 500 characters")
    return problems


def _hook(
    cfg: InstallationConfig,
    hook_class: type,
    region: str | None = None,
    conn_id: str | None = None,
) -> Any:
    """A hook of ``hook_class`` on the installation's connection (or ``conn_id``, the
    protected account's) and retries, in ``region`` (the home region unless given)."""
    return hook_class(
        aws_conn_id=conn_id or cfg.aws_conn_id,
        region_name=region or cfg.region,
        config=botocore_config(cfg.aws_retries),
    )


def _probe(problems: list[str], field: str, what: str, call: Callable[[], Any]) -> Any:
    """Run one existence check; a failure becomes a problem naming the field.

    Except a transient error (throttling, 5xx, no connection) that outlasted
    botocore's retries: it says nothing about the resource, so it fails this
    try, and Airflow retries the task, instead of refusing the run.
    """
    try:
        return call()
    except Exception as error:
        if is_transient(error):
            raise RuntimeError(f"{field}: {what} could not be checked now: {error}") from error
        if not isinstance(error, ClientError):
            problems.append(f"{field}: {what} cannot be used ({error})")
            return None
        code = error.response.get("Error", {}).get("Code", "ClientError")
        problems.append(f"{field}: {what} cannot be used ({code}: {error})")
    return None


def _datasync_problems(cfg: InstallationConfig) -> list[str]:
    """What each set's DataSync task would be made of: the target file system, and the
    template task (its source must be the live file system), when one is configured."""
    datasync, problems = cfg.efs.datasync, []
    assert datasync is not None
    _probe(
        problems,
        "efs.datasync.target_file_system_id",
        f"EFS file system {datasync.target_file_system_id}",
        lambda: _hook(cfg, EfsHook).describe_file_system(datasync.target_file_system_id),
    )
    if not datasync.task_arn:
        return problems
    hook = _hook(cfg, DataSyncHook)
    task = _probe(
        problems,
        "efs.datasync.task_arn",
        f"DataSync task {datasync.task_arn}",
        lambda: hook.get_task_description(datasync.task_arn),
    )
    if task is not None:
        source = hook.describe_location_efs(task["SourceLocationArn"])
        if f".{cfg.efs.file_system_id}/" not in str(source.get("LocationUri")):
            problems.append(
                f"efs.datasync.task_arn: task {datasync.task_arn} copies from "
                f"{source.get('LocationUri')}, not from the live file system "
                f"{cfg.efs.file_system_id}: each set's task takes its source from it"
            )
    return problems


# DataSync's default quota of tasks per account and region (adjustable); each set has one.
DATASYNC_TASK_QUOTA = 100
DATASYNC_TASK_WARNING = 90


def _datasync_quota_warnings(cfg: InstallationConfig) -> list[str]:
    """A warning while the region's DataSync tasks near the default quota.

    Each backup set has a task of its own until retention deletes it; at the quota
    ``CreateTask`` fails inside the cold window. Only a warning: the quota may have
    been raised (ue-backup cannot read it without Service Quotas access).
    """
    count = _hook(cfg, DataSyncHook).task_count()
    if count < DATASYNC_TASK_WARNING:
        return []
    return [
        f"efs.datasync: {count} DataSync tasks exist in {cfg.region}, near the default quota "
        f"of {DATASYNC_TASK_QUOTA} per region (one per backup set until retention deletes it): "
        "check retention runs (retention.keep_last, keep_days) and the account's quota, or "
        "the next set's CreateTask fails inside the cold window"
    ]


def keep_rpo_alarm(cfg: InstallationConfig, warnings: list[str]) -> None:
    """Create or update the RPO alarm; a failure is loud but never stops the backup.

    The alarm watches for backups that stop: refusing a backup because the watch
    could not be set (CloudWatch down, a permission missing) would cause the very
    loss it is there to report. The failure is a warning and an alert instead.
    """
    try:
        ensure_alarms(cfg)
    except Exception as error:
        warning = (
            f"rpo: the CloudWatch RPO alarm could not be kept ({type(error).__name__}: {error}); "
            "backing up anyway, but nothing outside Airflow watches the RPO until it is fixed"
        )
        warnings.append(warning)
        send_alert(cfg, f"ue-backup {cfg.installation}: RPO alarm not kept", warning)


def check_resources(cfg: InstallationConfig, wanted: set[str]) -> tuple[list[str], list[str]]:
    """(problems, warnings) for every configured resource this run will touch."""
    problems: list[str] = []
    warnings: list[str] = []
    instance = None
    if cfg.uses_rds and "database" in wanted:
        instance = _probe(
            problems,
            "database.rds_instance_identifier",
            f"RDS instance {cfg.database.rds_instance_identifier}",
            lambda: _hook(cfg, RdsHook).describe_instance(cfg.database.rds_instance_identifier),
        )
        if instance is not None:
            if not instance.get("MultiAZ"):
                warnings.append(
                    f"RDS instance {cfg.database.rds_instance_identifier} has no Multi-AZ standby"
                )
            if tag_dict(instance.get("TagList")).get(PROTECTED_TAG) != "true":
                warnings.append(
                    f"RDS instance {cfg.database.rds_instance_identifier} lacks the tag "
                    f"{PROTECTED_TAG}=true: the IAM guard that keeps it from being renamed and "
                    "deleted as a drill's copy needs it (README, Permissions); set it outside "
                    "ue-backup, which may neither set nor remove it"
                )
            if not instance.get("BackupRetentionPeriod"):
                warnings.append(
                    f"RDS instance {cfg.database.rds_instance_identifier} has automated backups "
                    "disabled (retention 0): no point-in-time restore is possible"
                )
    _probe(
        problems,
        "efs.file_system_id",
        f"EFS file system {cfg.efs.file_system_id}",
        lambda: _hook(cfg, EfsHook).describe_file_system(cfg.efs.file_system_id),
    )
    if cfg.efs.aws_backup:
        _probe(
            problems,
            "efs.aws_backup.vault_name",
            f"backup vault {cfg.efs.aws_backup.vault_name}",
            lambda: _hook(cfg, AwsBackupHook).describe_vault(cfg.efs.aws_backup.vault_name),
        )
    if cfg.efs.datasync:
        problems += _datasync_problems(cfg)
        warnings += _datasync_quota_warnings(cfg)
    if cfg.memorydb and "memorydb" in wanted:
        cluster = _probe(
            problems,
            "memorydb.cluster_name",
            f"MemoryDB cluster {cfg.memorydb.cluster_name}",
            lambda: _hook(cfg, MemoryDbHook).describe_cluster(cfg.memorydb.cluster_name),
        )
        if cluster is not None and not cluster.get("SnapshotRetentionLimit"):
            warnings.append(
                f"MemoryDB cluster {cfg.memorydb.cluster_name} keeps no automatic snapshots "
                "(SnapshotRetentionLimit 0)"
            )
    _probe(
        problems,
        "manifests.bucket",
        f"S3 bucket {cfg.manifests.bucket}",
        lambda: _hook(cfg, S3Hook).head_bucket(cfg.manifests.bucket),
    )
    if cfg.cold_window.required:
        selection = cfg.kubernetes.ecd_selection
        ecds = _probe(
            problems,
            "kubernetes.ecd_selection",
            f"ECDs in namespace {cfg.kubernetes.namespace}",
            lambda: EcdHook(conn_id=cfg.kubernetes_conn_id).select_ecds(
                cfg.kubernetes.namespace, selection.label_selector, selection.names
            ),
        )
        if ecds == []:
            problems.append(
                f"kubernetes.ecd_selection: selects no ECD in namespace {cfg.kubernetes.namespace}"
            )
    if cfg.velero and "velero" in wanted:
        _probe(
            problems,
            "velero.namespace",
            f"Velero in namespace {cfg.velero.namespace}",
            lambda: VeleroHook(conn_id=cfg.kubernetes_conn_id).list_backups(cfg.velero.namespace),
        )
    if cfg.cross_region is None:
        warnings.append("no cross_region copy is configured: a lost region loses every backup")
    else:
        check_copy_resources(cfg, wanted, instance, problems, warnings)
    if cfg.immutable is None:
        warnings.append(
            "no immutable section is configured: the Airflow role can delete every backup it made"
        )
    else:
        home = check_immutable_locks(cfg, problems, warnings)
        if home is not None:  # the keys, read through identities known to be right
            check_backup_keys(cfg, instance, home, problems, warnings)
    return problems, warnings


def check_immutable_locks(
    cfg: InstallationConfig, problems: list[str], warnings: list[str]
) -> str | None:
    """The protected account's locks, read through its own connection, before any copy.

    Who the connection is (the protected account, the configured role, not the
    installation's account), the vault's Vault Lock and the bucket's Object Lock
    in compliance mode, each at least ``min_retention_days`` (``immutable``'s rules).
    Returns the installation's account when both connections are who they must be
    (the KMS keys are then read through them: ``tasks/key_checks``), else None.
    """
    locked = cfg.immutable
    assert locked is not None
    region = locked.region_or(cfg.region)

    def hook(hook_class: type) -> Any:
        return _hook(cfg, hook_class, region, conn_id=locked.aws_conn_id)

    field = f"{immutable.SECTION}.aws_conn_id"
    who = _probe(
        problems,
        field,
        f"connection {locked.aws_conn_id}",
        lambda: hook(StsHook).caller_identity(),
    )
    if who is None:
        return None  # the rest would only repeat that the connection does not work
    home = _probe(
        problems,
        "aws_conn_id",
        f"connection {cfg.aws_conn_id}",
        lambda: _hook(cfg, StsHook).get_account_number(),
    )
    identity = immutable.identity_problems(locked, who, home)
    if identity:
        problems += identity
        return None  # the locks read through the wrong identity would say nothing
    vault = _probe(
        problems,
        f"{immutable.SECTION}.backup_vault_name",
        f"backup vault {locked.backup_vault_name} in {region} of {locked.account_id}",
        lambda: hook(AwsBackupHook).describe_vault(locked.backup_vault_name),
    )
    if vault is not None:
        problems += immutable.vault_lock_problems(locked, vault)
        warnings += immutable.vault_lock_warnings(vault, datetime.now(UTC))
        policy = _probe(
            problems,
            f"{immutable.SECTION}.backup_vault_name",
            f"the access policy of backup vault {locked.backup_vault_name}",
            lambda: hook(AwsBackupHook).vault_access_policy(locked.backup_vault_name) or "",
        )
        if policy is not None:
            runs_as = cfg.efs.aws_backup.iam_role_arn if cfg.efs.aws_backup else None
            problems += immutable.access_policy_problems(locked, policy, home, runs_as)
            warnings += immutable.access_policy_warnings(locked, policy, home)
    lock = _probe(
        problems,
        f"{immutable.SECTION}.bucket",
        f"S3 bucket {locked.bucket} of {locked.account_id}",
        lambda: hook(S3Hook).object_lock(locked.bucket),
    )
    if lock is not None:
        problems += immutable.bucket_lock_problems(locked, lock)
    staging = locked.memorydb_export_bucket
    if cfg.memorydb and staging:  # the installation's own bucket: read through its connection
        field = f"{immutable.SECTION}.memorydb_export_bucket"
        where = _probe(
            problems,
            field,
            f"S3 bucket {staging}",
            lambda: _hook(cfg, S3Hook, cfg.region).bucket_region(staging),
        )
        if where and where != cfg.region:
            problems.append(
                f"{field}: S3 bucket {staging} is in {where}, not in {cfg.region}: MemoryDB "
                "exports a snapshot only to a bucket of its own region"
            )
    warnings.append(immutable.NOT_COVERED)
    return home


def check_copy_resources(
    cfg: InstallationConfig,
    wanted: set[str],
    instance: dict[str, Any] | None,
    problems: list[str],
    warnings: list[str],
) -> None:
    """What the cross-region copies need: vault, key and buckets, each where AWS wants it."""
    cross = cfg.cross_region
    assert cross is not None

    if cfg.efs.aws_backup and cross.backup_vault_name:
        _probe(
            problems,
            "cross_region.backup_vault_arn",
            f"backup vault {cross.backup_vault_name} in {cross.region}",
            lambda: _hook(cfg, AwsBackupHook, cross.region).describe_vault(cross.backup_vault_name),
        )
    if cfg.efs.datasync:
        warnings.append(
            f"the DataSync copy of EFS is not copied to {cross.region}: only AWS Backup "
            "recovery points are (EFS replication can cover the file system)"
        )
    if cfg.uses_rds and "database" in wanted:
        if cross.rds_kms_key_id:
            _probe(
                problems,
                "cross_region.rds_kms_key_id",
                f"KMS key {cross.rds_kms_key_id} in {cross.region}",
                lambda: _hook(cfg, KmsHook, cross.region).describe_key(cross.rds_kms_key_id),
            )
        elif instance is not None and instance.get("StorageEncrypted"):
            problems.append(
                f"cross_region.rds_kms_key_id: RDS instance {cfg.database.rds_instance_identifier} "
                f"is encrypted; AWS copies an encrypted snapshot to {cross.region} only with a "
                "KMS key of that region"
            )
    if cfg.memorydb and "memorydb" in wanted:
        for field, bucket, region in (
            ("memorydb_export_bucket", cross.memorydb_export_bucket, cfg.region),
            ("memorydb_bucket", cross.memorydb_bucket, cross.region),
        ):
            where = _probe(
                problems,
                f"cross_region.{field}",
                f"S3 bucket {bucket}",
                lambda bucket=bucket, region=region: _hook(cfg, S3Hook, region).bucket_region(
                    bucket
                ),
            )
            if where and where != region:
                problems.append(
                    f"cross_region.{field}: S3 bucket {bucket} is in {where}, not in {region}"
                )


def preflight(params: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """Validate params and configuration, check resources, refuse overlaps; return settings."""
    dag_run = context["dag_run"]
    problems = check_params(params, dag_run.conf or {})
    try:
        cfg = load_config()
    except ConfigError as error:
        raise PermanentFailure(
            "\n".join([str(error), *problems]) if problems else str(error)
        ) from None
    if problems:
        raise PermanentFailure("invalid params:\n" + "\n".join(f"  - {p}" for p in problems))
    configured = {"efs"}
    configured |= {"database"} if cfg.uses_rds else set()
    configured |= {"memorydb"} if cfg.memorydb else set()
    configured |= {"velero"} if cfg.velero else set()
    requested = set(params.get("components") or configured)
    absent = sorted(requested - configured)
    if absent:
        raise PermanentFailure(
            f"params.components: {absent} are not configured for installation {cfg.installation}"
        )
    refuse_while_running(context["ti"], "ue_backup")
    problems = [f"{path}: {message}" for path, message in rpo.problems(cfg)]
    if problems:
        raise PermanentFailure("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))
    problems, warnings = check_resources(cfg, requested)
    # How long the window will last, learned from the past copies (read only): logged in
    # both modes, warned of in managed mode, refused against suspend.until in external mode.
    estimate = None if problems else window_estimate(cfg, warnings, components=requested)
    for warning in warnings:
        log.warning("PREFLIGHT WARNING: %s", warning)
    # The RPO alarm is the one thing preflight changes, once the input is known good: a
    # run whose resources are broken is exactly when the alarm must exist.
    keep_rpo_alarm(cfg, warnings)
    if problems:
        raise PermanentFailure(
            "preflight found problems (nothing was changed but the RPO alarm, if any):\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    backup_set = BackupSet.for_run(cfg.installation, dag_run.run_after, context["run_id"])
    settings = BackupRunSettings.build(
        cfg, backup_set.id, requested, params.get("reason"), warnings, estimate
    )
    log.info(
        "Backup set %s of %s: components %s, cold window %s%s",
        backup_set.id,
        cfg.installation,
        sorted(requested),
        settings.cold_window,
        f", reason: {settings.reason}" if settings.reason else "",
    )
    return settings.dump()
