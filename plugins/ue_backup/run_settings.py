"""The settings of one DAG run, typed: one model per DAG, built from the configuration here.

Each DAG's first task turns the installation's configuration (``config.py``)
and the run's inputs into one of these models and returns it dumped as JSON
(``model_dump(mode="json")``): the later tasks read it from XCom, through the
templates ``dag_support.settings_templates`` makes from the same model. A
template for a field that does not exist fails when the DAG file is parsed,
so the keys the DAG files read and the keys the first task writes are one
list: the model's fields. Every model is frozen and refuses unknown fields.

Pure: no AWS, Kubernetes or Airflow call; the effects (checks, listing,
planning) stay in the task steps, which hand their results in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from ue_backup.app_checks import checks_for_restore
from ue_backup.backup_set import COMPONENTS, INSTALLATION_TAG
from ue_backup.config import AwsRetriesConfig, InstallationConfig, VerificationConfig
from ue_backup.datasync_sets import restore_task_name
from ue_backup.locked_inventory import LOCKED_COMPONENTS, STAGING_PREFIX
from ue_backup.rpo import targets as rpo_targets
from ue_backup.switch_over import replaced_name

# Minutes as the configuration has them: an int stays an int (the templates render it as given).
Minutes = int | float
DRILL_TAG = "ue-backup:drill"


def botocore_config(retries: AwsRetriesConfig | None = None) -> dict[str, Any]:
    """The botocore configuration (a dict, as operators, sensors and triggers serialize it)."""
    retries = retries or AwsRetriesConfig()
    return {"retries": {"mode": retries.mode.value, "total_max_attempts": retries.max_attempts}}


def metrics_region(cfg: InstallationConfig) -> str:
    """Where the RPO metric and the alarms live: the alerts topic's region, else the home one."""
    return cfg.alerts.region if cfg.alerts else cfg.region


def aws_access(cfg: InstallationConfig, region: str | None = None) -> dict[str, Any]:
    """What every AWS or Kubernetes call of a run needs: connections, region, retries."""
    return {
        "installation": cfg.installation,
        "region": region or cfg.region,
        "aws_conn_id": cfg.aws_conn_id,
        "aws_botocore_config": botocore_config(cfg.aws_retries),
        "kubernetes_conn_id": cfg.kubernetes_conn_id,
    }


def _field(description: str, default: Any = ...) -> Any:
    return Field(default, description=description)


class RunSettings(BaseModel):
    """What every run's settings carry: where and how to reach AWS and Kubernetes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    installation: str = _field("The installation's name (config: installation).")
    region: str = _field("The region every AWS step of the run works in.")
    aws_conn_id: str = _field("The Airflow connection to AWS.")
    aws_botocore_config: dict[str, Any] = _field(
        "How every AWS call retries (config: aws_retries), as botocore takes it."
    )
    kubernetes_conn_id: str = _field("The Airflow connection to the Kubernetes cluster.")

    def dump(self) -> dict[str, Any]:
        """The XCom value: JSON types, the keys the templates read."""
        return self.model_dump(mode="json")


# --- ue_backup ---------------------------------------------------------------------------


class BackupRunSettings(RunSettings):
    """``ue_backup``'s settings (preflight's return value); None marks a component left out."""

    backup_set: str = _field("The backup set's id, which names and tags every artifact.")
    reason: str = _field("The run's free-text reason (params.reason), or empty.")
    rds_instance: str | None = _field("The RDS instance to snapshot; None: no database step.")
    efs_file_system_id: str = _field("The live EFS file system.")
    efs_method: str = _field("How EFS is backed up: aws_backup or datasync.")
    backup_vault: str | None = _field("The AWS Backup vault of the recovery points.")
    backup_role_arn: str | None = _field("The IAM role AWS Backup jobs run as.")
    backup_lifecycle: dict[str, Any] | None = _field("The recovery points' lifecycle, as AWS.")
    backup_complete_window_minutes: int | None = _field("How long a backup job may take.")
    datasync_task_arn: str | None = _field(
        "A DataSync task whose source location and network each set's task reuses."
    )
    datasync_target: str | None = _field("The file system the DataSync copies go to.", None)
    datasync_subdirectory: str = _field("The folder on it holding each set's own.", "/")
    datasync_subnet_arn: str | None = _field("The subnet DataSync reaches EFS in.", None)
    datasync_security_group_arns: list[str] = _field("The groups DataSync uses.", [])
    memorydb_cluster: str | None = _field("The MemoryDB cluster to snapshot; None: no step.")
    velero_namespace: str | None = _field("Velero's namespace; None: no Kubernetes backup.")
    velero_included_namespaces: list[str] | None = _field("The namespaces Velero backs up.")
    velero_storage_location: str | None = _field("Velero's backup storage location.")
    velero_ttl: str | None = _field("How long Velero keeps the backup (spec.ttl).")
    velero_allow_partially_failed: bool = _field("Whether PartiallyFailed counts as done.")
    cold_window: str = _field("The cold window: managed, external, or none.")
    managed_window: bool = _field("Whether this run suspends and resumes the ECDs itself.")
    namespace: str = _field("The installation's Kubernetes namespace.")
    ecd_label_selector: str | None = _field("The label selector of the ECDs in the window.")
    ecd_names: list[str] = _field("The names of the ECDs in the window.")
    platform: dict[str, str] | None = _field(
        "Derby's writer (database.derby.platform: kind, name), scaled to zero in a managed "
        "window; None without Derby.",
        None,
    )
    drain_timeout_minutes: Minutes = _field("How long the ECDs may take to drain.")
    max_window_minutes: Minutes = _field("How long the workflows may stay suspended.")
    window_estimate: dict[str, Any] | None = _field(
        "How long the cold window is expected to last, and why (window_estimate); "
        "None without a window.",
        None,
    )
    manifest_bucket: str = _field("The S3 bucket of the manifests.")
    manifest_prefix: str = _field("The key prefix of the manifests.")
    prices: dict[str, float] = _field("Storage prices (config: prices), for the manifest.")
    copy_region: str | None = _field("The cross-region copies' region; None: no copies.")
    copy_rds: bool = _field("Whether the RDS snapshot is copied to copy_region.")
    copy_rds_kms_key_id: str | None = _field("The KMS key of the RDS copy in copy_region.")
    copy_efs: bool = _field("Whether the EFS recovery point is copied to copy_region.")
    copy_backup_vault_arn: str | None = _field("The AWS Backup vault the EFS copy goes to.")
    copy_memorydb: bool = _field("Whether the MemoryDB snapshot is exported and copied.")
    memorydb_export_bucket: str | None = _field("The home-region bucket MemoryDB exports to.")
    memorydb_copy_bucket: str | None = _field("The copy region's bucket the export goes to.")
    copy_efs_immutable: bool = _field(
        "Whether the EFS recovery point is copied into the locked vault (config: immutable).",
        False,
    )
    copy_rds_immutable: bool = _field(
        "Whether the RDS instance is also backed up with AWS Backup (into backup_vault) and "
        "that recovery point copied into the locked vault (config: immutable).",
        False,
    )
    immutable_vault_arn: str | None = _field("The locked vault in the protected account.", None)
    immutable_lifecycle: dict[str, int] | None = _field(
        "How long the locked copies are kept (immutable.min_retention_days).", None
    )
    immutable_account: str | None = _field("The protected account (immutable.account_id).", None)
    immutable_conn_id: str | None = _field(
        "The Airflow connection to the protected account (immutable.aws_conn_id).", None
    )
    immutable_region: str | None = _field("The locked vault's region.", None)
    immutable_vault: str | None = _field("The locked vault's name.", None)
    immutable_bucket: str | None = _field(
        "The protected account's Object Lock bucket (immutable.bucket).", None
    )
    copy_memorydb_immutable: bool = _field(
        "Whether the MemoryDB snapshot is exported (to immutable_memorydb_export_bucket) and "
        "its .rdb files copied, locked, into immutable_bucket (config: immutable).",
        False,
    )
    immutable_memorydb_export_bucket: str | None = _field(
        "The home-region bucket MemoryDB exports to for the locked copy (a staging area).", None
    )
    warnings: list[str] = _field("What preflight warned of (logged, kept in the manifest).")
    rpo_minutes: dict[str, int] | None = _field("The RPO per watched region; None: guard off.")
    metrics_region: str = _field("Where the RPO metric and alarms live.")

    @classmethod
    def build(
        cls,
        cfg: InstallationConfig,
        backup_set: str,
        wanted: set[str],
        reason: str | None = None,
        warnings: list[str] | None = None,
        window_estimate: dict[str, Any] | None = None,
    ) -> Self:
        """The settings of a backup of ``wanted`` components (params.components, checked)."""
        efs = cfg.efs
        window = cfg.cold_window
        mode = window.mode.value if window.required else "none"
        velero = cfg.velero if "velero" in wanted else None
        memorydb = cfg.memorydb if "memorydb" in wanted else None
        cross = cfg.cross_region
        targets = rpo_targets(cfg)
        return cls(
            **aws_access(cfg),
            backup_set=backup_set,
            reason=reason or "",
            rds_instance=cfg.database.rds_instance_identifier if "database" in wanted else None,
            efs_file_system_id=efs.file_system_id,
            efs_method=efs.backup_method.value,
            backup_vault=efs.aws_backup.vault_name if efs.aws_backup else None,
            backup_role_arn=efs.aws_backup.iam_role_arn if efs.aws_backup else None,
            backup_lifecycle=efs.aws_backup.lifecycle.as_aws() if efs.aws_backup else None,
            backup_complete_window_minutes=(
                efs.aws_backup.complete_window_minutes if efs.aws_backup else None
            ),
            datasync_task_arn=efs.datasync.task_arn if efs.datasync else None,
            datasync_target=efs.datasync.target_file_system_id if efs.datasync else None,
            datasync_subdirectory=efs.datasync.target_subdirectory if efs.datasync else "/",
            datasync_subnet_arn=efs.datasync.subnet_arn if efs.datasync else None,
            datasync_security_group_arns=(
                list(efs.datasync.security_group_arns) if efs.datasync else []
            ),
            memorydb_cluster=memorydb.cluster_name if memorydb else None,
            velero_namespace=velero.namespace if velero else None,
            velero_included_namespaces=velero.included_namespaces if velero else None,
            velero_storage_location=velero.storage_location if velero else None,
            velero_ttl=velero.ttl if velero else None,
            velero_allow_partially_failed=velero.allow_partially_failed if velero else False,
            cold_window=mode,
            managed_window=mode == "managed",
            namespace=cfg.kubernetes.namespace,
            ecd_label_selector=cfg.kubernetes.ecd_selection.label_selector,
            ecd_names=list(cfg.kubernetes.ecd_selection.names),
            platform=platform_of(cfg),
            drain_timeout_minutes=window.drain_timeout_minutes,
            max_window_minutes=window.max_window_minutes,
            window_estimate=window_estimate,
            manifest_bucket=cfg.manifests.bucket,
            manifest_prefix=cfg.manifests.prefix,
            prices=cfg.prices.model_dump(),
            # Where this run's cross-region copies go; each copy_* flag gates its tasks.
            copy_region=cross.region if cross else None,
            copy_rds=bool(cross and cfg.uses_rds and "database" in wanted),
            copy_rds_kms_key_id=cross.rds_kms_key_id if cross else None,
            copy_efs=bool(cross and efs.aws_backup),
            copy_backup_vault_arn=cross.backup_vault_arn if cross else None,
            copy_memorydb=bool(cross and memorydb),
            memorydb_export_bucket=cross.memorydb_export_bucket if cross else None,
            memorydb_copy_bucket=cross.memorydb_bucket if cross else None,
            # The copy out of the Airflow role's reach (config: immutable).
            copy_efs_immutable=bool(cfg.immutable and efs.aws_backup),
            copy_rds_immutable=bool(cfg.immutable and cfg.uses_rds and "database" in wanted),
            immutable_vault_arn=cfg.immutable.vault_arn(cfg.region) if cfg.immutable else None,
            immutable_lifecycle=cfg.immutable.lifecycle if cfg.immutable else None,
            immutable_account=cfg.immutable.account_id if cfg.immutable else None,
            immutable_conn_id=cfg.immutable.aws_conn_id if cfg.immutable else None,
            immutable_region=cfg.immutable.region_or(cfg.region) if cfg.immutable else None,
            immutable_vault=cfg.immutable.backup_vault_name if cfg.immutable else None,
            immutable_bucket=cfg.immutable.bucket if cfg.immutable else None,
            copy_memorydb_immutable=bool(cfg.immutable and memorydb),
            immutable_memorydb_export_bucket=(
                cfg.immutable.memorydb_export_bucket if cfg.immutable and memorydb else None
            ),
            warnings=list(warnings or []),
            # What the later tasks need of the RPO guard (tasks/rpo.py).
            rpo_minutes=targets or None,
            metrics_region=metrics_region(cfg),
        )


# --- ue_restore --------------------------------------------------------------------------


class RestoreRunSettings(RunSettings):
    """``ue_restore``'s settings (validate's return value); ``region`` may be the copy region."""

    restore_id: str = _field("The restore's id, which names what it creates.")
    rds_target: str = _field("The name of the instance a restore creates.")
    memorydb_target: str = _field("The name of the cluster a restore creates.")
    home_region: str = _field("The installation's home region (config: region).")
    from_copy: bool = _field("Whether the run restores from the copy region's copies.")
    from_immutable: bool = _field(
        "Whether the run restores from the protected copies (params.source: immutable).", False
    )
    immutable_conn_id: str | None = _field(
        "The connection to the protected account (immutable.aws_conn_id).", None
    )
    immutable_region: str | None = _field("The locked vault's region.", None)
    immutable_vault: str | None = _field("The locked vault's name.", None)
    immutable_backup_role_arn: str | None = _field(
        "The role AWS Backup copies the locked points back home as (immutable.backup_role_arn).",
        None,
    )
    immutable_staging_bucket: str | None = _field(
        "Where MemoryDB's locked files are staged to seed a cluster "
        "(immutable.memorydb_export_bucket).",
        None,
    )
    network_by_hand: bool = _field(
        "params.network by_hand: from the protected copies, the recorded network is not "
        "used for what is restored when the live resource is gone.",
        False,
    )
    request: dict[str, Any] = _field("The planner's request (what to restore).")
    mode: str = _field("params.mode: plan or restore.")
    target: str = _field("params.target: side_by_side or in_place.")
    restoring: bool = _field("Whether anything is restored (mode restore).")
    in_place: bool = _field("Whether the live resources are replaced.")
    approval: str = _field(
        "How an in-place restore is approved (APPROVALS): not_needed (nothing live is "
        "replaced), confirmed (params.confirm named the installation: a scripted run), "
        "or human (the run waits after plan for someone to approve it in the UI).",
        "not_needed",
    )
    components: list[str] = _field("The components to restore, sorted.")
    namespace: str = _field("The installation's Kubernetes namespace.")
    ecd_label_selector: str | None = _field("The label selector of the ECDs suspended.")
    ecd_names: list[str] = _field("The names of the ECDs suspended.")
    platform: dict[str, str] | None = _field(
        "Derby's writer (database.derby.platform: kind, name), scaled to zero with the ECDs "
        "until the tree is placed and checked; None without Derby.",
        None,
    )
    rds_instance: str | None = _field("The live RDS instance (None: Derby).")
    efs_file_system_id: str = _field("The live EFS file system.")
    backup_vault: str | None = _field("The AWS Backup vault in the run's region.")
    backup_role_arn: str | None = _field("The IAM role AWS Backup restore jobs run as.")
    memorydb_cluster: str | None = _field("The live MemoryDB cluster.")
    rds_shape_source: str | None = _field("The instance a restored one is shaped like.")
    memorydb_shape_source: str | None = _field("The cluster a restored one is shaped like.")
    efs_shape_source: str | None = _field(
        "The file system a new restored one is shaped like (None: the copy region).", None
    )
    velero_namespace: str | None = _field("Velero's namespace; None: no Kubernetes restore.")
    velero_included_namespaces: list[str] | None = _field("The namespaces Velero backed up.")
    max_window_minutes: Minutes = _field("How long the workflows may stay suspended.")
    drain_timeout_minutes: Minutes = _field("How long the ECDs may take to drain.")
    purge_image: str = _field("The image of the EFS Jobs (config: kubernetes.jobs.image).")
    jobs: dict[str, Any] = _field(
        "How the run's Kubernetes Jobs run (config: kubernetes.jobs), as JobsConfig takes it."
    )
    verification: dict[str, Any] | None = _field(
        "The configured application checks (config: verification); None: none.", None
    )
    manifest_bucket: str | None = _field("The S3 bucket the report is kept in.", None)
    manifest_prefix: str = _field("The key prefix of the manifests (and reports).", "")

    @classmethod
    def build(
        cls,
        cfg: InstallationConfig,
        names: dict[str, str],
        request: dict[str, Any],
        params: Mapping[str, Any],
    ) -> Self:
        """From checked params: ``names`` from ``restore_steps.restore_names``."""
        target = params.get("target", "side_by_side")
        region = params.get("source_region") or cfg.region
        from_copy = region != cfg.region
        restoring = params.get("mode") == "restore"
        locked = cfg.immutable if params.get("source") == "immutable" else None
        components = set(params.get("components") or COMPONENTS)
        if locked:  # only what the protected copies hold (restore_steps.check_source)
            components &= set(LOCKED_COMPONENTS)
        # A restored instance or cluster is shaped like the live one at home (when it is
        # gone, the snapshot decides: RdsRestoreInstanceOperator); in the copy region
        # there is none, and the snapshot (or the copy's metadata) decides.
        shaped_by_live = not from_copy
        return cls(
            **names,  # restore_id, rds_target, memorydb_target
            # Every AWS task of the run works in ``region``: the home region, or the copy region.
            **aws_access(cfg, region),
            home_region=cfg.region,
            from_copy=from_copy,
            from_immutable=locked is not None,
            immutable_conn_id=locked.aws_conn_id if locked else None,
            immutable_region=locked.region_or(cfg.region) if locked else None,
            immutable_vault=locked.backup_vault_name if locked else None,
            immutable_backup_role_arn=locked.backup_role_arn if locked else None,
            immutable_staging_bucket=locked.memorydb_export_bucket if locked else None,
            network_by_hand=locked is not None and params.get("network") == "by_hand",
            request=request,
            mode=params.get("mode", "plan"),
            target=target,
            restoring=restoring,
            in_place=target == "in_place" and restoring,
            approval=approval_of(target == "in_place" and restoring, params, cfg.installation),
            components=sorted(components),
            namespace=cfg.kubernetes.namespace,
            ecd_label_selector=cfg.kubernetes.ecd_selection.label_selector,
            ecd_names=list(cfg.kubernetes.ecd_selection.names),
            platform=platform_of(cfg),
            rds_instance=cfg.database.rds_instance_identifier,
            efs_file_system_id=cfg.efs.file_system_id,
            backup_vault=vault_in(cfg, region),
            backup_role_arn=cfg.efs.aws_backup.iam_role_arn if cfg.efs.aws_backup else None,
            memorydb_cluster=cfg.memorydb.cluster_name if cfg.memorydb else None,
            rds_shape_source=cfg.database.rds_instance_identifier if shaped_by_live else None,
            memorydb_shape_source=(
                cfg.memorydb.cluster_name if shaped_by_live and cfg.memorydb else None
            ),
            efs_shape_source=cfg.efs.file_system_id if shaped_by_live else None,
            velero_namespace=cfg.velero.namespace if cfg.velero else None,
            velero_included_namespaces=cfg.velero.included_namespaces if cfg.velero else None,
            max_window_minutes=cfg.cold_window.max_window_minutes,
            drain_timeout_minutes=cfg.cold_window.drain_timeout_minutes,
            purge_image=cfg.kubernetes.jobs.image,
            jobs=cfg.kubernetes.jobs.model_dump(mode="json"),
            verification=verification_of(cfg),
            manifest_bucket=cfg.manifests.bucket,
            manifest_prefix=cfg.manifests.prefix,
        )


APPROVALS = ("not_needed", "confirmed", "human")


def approval_of(in_place: bool, params: Mapping[str, Any], installation: str) -> str:
    """How a restore run is approved (``APPROVALS``): only an in-place one needs it, and
    ``confirm`` set to the installation's name approves it ahead (REST, CLI, Airflow 3.0)."""
    if not in_place:
        return "not_needed"
    return "confirmed" if params.get("confirm") == installation else "human"


def platform_of(cfg: InstallationConfig) -> dict[str, str] | None:
    """Derby's writer as a run carries it (``{"kind", "name"}``); None without Derby."""
    derby = cfg.database.derby
    return derby.platform.model_dump(mode="json") if derby else None


def verification_of(cfg: InstallationConfig) -> dict[str, Any] | None:
    """The configured application checks as a run carries them; None when there are none."""
    return cfg.verification.model_dump(mode="json") if cfg.verification.has_checks else None


def vault_in(cfg: InstallationConfig, region: str) -> str | None:
    """The backup vault holding the installation's recovery points in ``region``."""
    if not cfg.efs.aws_backup:
        return None
    if region != cfg.region and cfg.cross_region and region == cfg.cross_region.region:
        return cfg.cross_region.backup_vault_name
    return cfg.efs.aws_backup.vault_name


class RestoreSteps(BaseModel):
    """Which restore tasks run and what each restores from: the plan, made flat.

    ``ue_restore``'s ``plan`` task returns these beside the plan
    (``RestorePlanResult``); the drill's settings carry them too.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    restore_database: bool = _field("Whether the database is restored.")
    restore_efs: bool = _field("Whether EFS is restored.")
    restore_memorydb: bool = _field("Whether MemoryDB is restored.")
    restore_velero: bool = _field("Whether the Kubernetes resources are restored.")
    rds_snapshot_id: str | None = _field("The RDS snapshot restored from, if any.")
    rds_restore_time: str | None = _field("The point-in-time restore's time, if any.")
    recovery_point_arn: str | None = _field(
        "The EFS recovery point restored from (None: a DataSync copy, datasync_task_arn)."
    )
    datasync_task_arn: str | None = _field(
        "A DataSync installation: the set's task, whose destination (the set's folder on the "
        "target file system) the EFS restore copies from.",
        None,
    )
    copy_efs: bool = _field(
        "Whether EFS is restored by a DataSync copy of the set's folder (a DataSync "
        "installation): copy_efs, wait_efs_copy and release_efs_copy run, wait_efs (an AWS "
        "Backup restore job's) does not.",
        False,
    )
    memorydb_snapshot_name: str | None = _field("The MemoryDB snapshot restored from.")
    velero_backup_name: str | None = _field("The Velero backup restored from.")
    velero_backup_set: str | None = _field("The backup set the Velero backup belongs to.")
    switch_over_database: bool = _field("Whether the restored instance takes the live name.")
    resume_owners: list[str] = _field("Whose suspensions the resume lifts.")
    memorydb_snapshot_arns: list[str] | None = _field("A MemoryDB copy's .rdb files (S3).")
    memorydb_node_type: str | None = _field("A MemoryDB copy's node type.")
    memorydb_num_shards: int | None = _field("A MemoryDB copy's shard count.")
    check_application: bool = _field(
        "Whether the application checks run (config: verification).", False
    )
    check_database: str | None = _field("The RDS instance the checks query.", None)
    check_cluster: str | None = _field(
        "The MemoryDB cluster the Redis reference check reads.", None
    )
    check_login_instance: str | None = _field(
        "The instance whose master secret logs the checks in (None: the checked one).", None
    )
    check_manage_password: bool = _field(
        "Whether the checked copy, not live, may get a managed master password.", False
    )
    verification: dict[str, Any] | None = _field(
        "The checks this run runs (a VerificationConfig): those its restore can judge.", None
    )

    def dump(self) -> dict[str, Any]:
        """The XCom value: JSON types, the keys the templates read."""
        return self.model_dump(mode="json")

    @staticmethod
    def checks_of(
        steps: Mapping[str, Any],
        verification: VerificationConfig | None,
        database: str | None,
        cluster: str | None,
        login_instance: str | None = None,
    ) -> dict[str, Any]:
        """Whether and against what the application checks run (``app_checks``).

        ``database`` and ``cluster``: the names the restored instance and
        cluster carry when the checks run (in place: the live name after the
        switch-over). The login: RDS restores a PostgreSQL copy with the
        source's password and no managed secret. A copy nobody uses yet (side
        by side, a drill) is given one (``ModifyDBInstance``); the database that
        is live after an in-place restore is not (the platform logs in with the
        password it has): ``login_instance``, the instance it replaced, lends
        its secret, and a login that fails is a check that fails.
        """
        chosen = (
            checks_for_restore(
                verification,
                database=steps["restore_database"],
                efs=steps["restore_efs"],
                redis=steps["restore_memorydb"],
            )
            if verification is not None
            else None
        )
        return {
            "check_application": chosen is not None,
            "check_database": database if chosen else None,
            "check_cluster": (
                cluster if chosen and chosen.reference_checks.redis_keys_query else None
            ),
            "verification": chosen.model_dump(mode="json") if chosen else None,
            "check_login_instance": login_instance if chosen else None,
            "check_manage_password": bool(chosen) and login_instance is None,
        }

    @staticmethod
    def steps_of(
        plan: dict[str, Any],
        restoring: bool,
        components: list[str],
        in_place: bool,
        restore_id: str,
    ) -> dict[str, Any]:
        """Which restore tasks run, and what each restores from."""
        wanted = set(components)
        database, memorydb, velero = plan["database"], plan.get("memorydb"), plan.get("velero")
        return {
            "restore_database": restoring and "database" in wanted and database["kind"] != "derby",
            "restore_efs": restoring and "efs" in wanted,
            "copy_efs": restoring and "efs" in wanted and plan["disk"].get("kind") == "datasync",
            "restore_memorydb": restoring and "memorydb" in wanted and memorydb is not None,
            "restore_velero": restoring and "velero" in wanted and velero is not None,
            "rds_snapshot_id": database.get("snapshot_id"),
            "rds_restore_time": database.get("restore_time"),
            "recovery_point_arn": plan["disk"].get("recovery_point_arn"),
            "datasync_task_arn": plan["disk"].get("task_arn"),
            "memorydb_snapshot_name": memorydb["snapshot_name"] if memorydb else None,
            "velero_backup_name": velero["backup_name"] if velero else None,
            "velero_backup_set": (velero or {}).get("backup_set") or plan.get("backup_set"),
            "switch_over_database": restoring
            and in_place
            and "database" in wanted
            and database["kind"] != "derby",
            "resume_owners": [restore_id]
            + ([plan["backup_set"]] if in_place and plan.get("backup_set") else []),
        }

    @staticmethod
    def memorydb_seed(plan: dict[str, Any], inventory: dict[str, Any]) -> dict[str, Any]:
        """For a MemoryDB copy (files in S3): the files and shape to seed a cluster from.

        A planned copy is restored from ``memorydb_snapshot_arns`` instead of a
        snapshot name; elsewhere these are None and the name is used.
        """
        chosen = (plan.get("memorydb") or {}).get("snapshot_name")
        for snapshot in inventory.get("memorydb_snapshots") or ():
            if snapshot["Name"] == chosen and snapshot.get("SnapshotArns"):
                config = snapshot["ClusterConfiguration"]
                return {
                    "memorydb_snapshot_name": None,
                    "memorydb_snapshot_arns": snapshot["SnapshotArns"],
                    "memorydb_node_type": config.get("NodeType"),
                    "memorydb_num_shards": config.get("NumShards"),
                }
        return {
            "memorydb_snapshot_arns": None,
            "memorydb_node_type": None,
            "memorydb_num_shards": None,
        }


class RestorePlanResult(RestoreSteps):
    """``ue_restore``'s ``plan`` task's return value: the plan and its steps."""

    plan: dict[str, Any] = _field("The planner's plan (planning.plan_restore).")
    region: str | None = _field("The region the plan was made in.")
    from_immutable: bool = _field(
        "Whether the plan's points are protected copies, to bring back first.", False
    )
    recorded_network: dict[str, Any] | None = _field(
        "From the protected copies: the live network the chosen set's manifest recorded "
        "(recorded_network), given to what is restored when the live resource is gone.",
        None,
    )

    @classmethod
    def build(
        cls,
        settings: RestoreRunSettings,
        plan: dict[str, Any],
        inventory: dict[str, Any],
        recorded_network: dict[str, Any] | None = None,
    ) -> Self:
        steps = cls.steps_of(
            plan, settings.restoring, settings.components, settings.in_place, settings.restore_id
        )
        checks = cls.checks_of(
            steps,
            VerificationConfig.model_validate(settings.verification)
            if settings.verification
            else None,
            # in place, the checks run after the switch-over: the restored instance is live
            settings.rds_instance if steps["switch_over_database"] else settings.rds_target,
            settings.memorydb_target,
            replaced_name(settings.rds_instance, settings.restore_id)
            if steps["switch_over_database"] and settings.rds_instance
            else None,
        )
        return cls(
            plan=plan,
            region=settings.region,
            from_immutable=settings.from_immutable,
            recorded_network=recorded_network,
            **{**steps, **cls.memorydb_seed(plan, inventory), **checks},
        )


# --- ue_restore_drill --------------------------------------------------------------------


class DrillRunSettings(RunSettings, RestoreSteps):
    """``ue_restore_drill``'s settings (prepare's return value): plan, names, steps, live names."""

    drill_id: str = _field("The drill's id, which names every temporary resource.")
    rds_target: str = _field("The temporary RDS instance's name.")
    memorydb_target: str = _field("The temporary MemoryDB cluster's name.")
    efs_token: str = _field("The EFS restore's idempotency token.")
    velero_restore: str = _field("The Velero restore's name.")
    drill_namespace: str = _field("The namespace the drill restores Kubernetes resources into.")
    efs_claim: str = _field("The PersistentVolumeClaim of the drill's EFS Jobs.")
    efs_volume: str = _field("The PersistentVolume made for that claim.")
    place_job: str = _field("The Job that purges the restored tree.")
    check_job: str = _field("The Job that checks the restored tree.")
    app_check_job: str = _field("The Job that runs the application checks.")
    dry_run: bool = _field("params.dry_run: plan and name, create nothing.")
    started_at: str = _field("When the drill run started (ISO 8601, UTC).")
    backup_set: str | None = _field("The backup set drilled.")
    plan: dict[str, Any] = _field("The planner's plan (planning.plan_restore).")
    namespace: str = _field("The installation's Kubernetes namespace.")
    namespace_mapping: dict[str, str] = _field("Velero's namespace mapping, live to drill.")
    ecd_namespaces: list[str] = _field("Where the restored ECDs are disabled.")
    velero_namespace: str | None = _field("Velero's namespace; None: no Kubernetes restore.")
    efs_file_system_id: str = _field("The live EFS file system (never the drill's).")
    backup_role_arn: str | None = _field("The IAM role AWS Backup restore jobs run as.")
    rds_instance: str | None = _field("The live RDS instance (a restored one's shape).")
    memorydb_cluster: str | None = _field("The live MemoryDB cluster (a restored one's shape).")
    job_image: str = _field("The image of the drill's EFS Jobs (config: kubernetes.jobs.image).")
    jobs: dict[str, Any] = _field(
        "How the drill's Kubernetes Jobs run (config: kubernetes.jobs), as JobsConfig takes it."
    )
    tags: dict[str, str] = _field("The tags of every temporary AWS resource.")
    manifest_bucket: str = _field("The S3 bucket the report is written to.")
    manifest_prefix: str = _field("The key prefix of the manifests (and reports).")
    live: dict[str, Any] = _field("The live names the cleanup must never delete.")
    resources: dict[str, Any] = _field("What the cleanup deletes (hooks/drill.py).")
    source: str = _field("params.source: home or immutable (the protected copies).", "home")
    from_immutable: bool = _field(
        "Whether the drill restores from the protected copies, brought back first.", False
    )
    backup_vault: str | None = _field(
        "The installation's vault, where the protected copies are brought back.", None
    )
    immutable_conn_id: str | None = _field(
        "The connection to the protected account (immutable.aws_conn_id).", None
    )
    immutable_region: str | None = _field("The locked vault's region.", None)
    immutable_vault: str | None = _field("The locked vault's name.", None)
    immutable_backup_role_arn: str | None = _field(
        "The role AWS Backup copies the locked points back home as (immutable.backup_role_arn).",
        None,
    )
    immutable_staging_bucket: str | None = _field(
        "Where MemoryDB's locked files are staged (immutable.memorydb_export_bucket).", None
    )

    @classmethod
    def build(
        cls,
        cfg: InstallationConfig,
        names: dict[str, str],
        plan: dict[str, Any],
        inventory: dict[str, Any],
        dry_run: bool,
        started: datetime,
        source: str = "home",
    ) -> Self:
        """From the plan prepare made and the names ``drill_steps.drill_names`` gave.

        ``source`` immutable: the plan's points are protected copies, brought back into
        the installation's vault first (``immutable`` must be configured).
        """
        base = aws_access(cfg)
        locked = cfg.immutable if source == "immutable" else None
        home_vault = cfg.efs.aws_backup.vault_name if cfg.efs.aws_backup else None
        steps = cls.steps_of(plan, not dry_run, list(COMPONENTS), False, names["drill_id"])
        checks = cls.checks_of(
            steps,
            cfg.verification,
            names["rds_target"],
            names["memorydb_target"],
        )
        live = {
            "rds_instance": cfg.database.rds_instance_identifier,
            "memorydb_cluster": cfg.memorydb.cluster_name if cfg.memorydb else None,
            "file_system_id": cfg.efs.file_system_id,
            "namespaces": sorted(
                {cfg.kubernetes.namespace}
                | set(cfg.velero.included_namespaces if cfg.velero else ())
            ),
        }
        return cls(
            **base,
            **names,
            **{**steps, **cls.memorydb_seed(plan, inventory), **checks},
            dry_run=dry_run,
            started_at=started.astimezone(UTC).isoformat(),
            backup_set=plan.get("backup_set"),
            plan=plan,
            namespace=cfg.kubernetes.namespace,
            namespace_mapping={cfg.kubernetes.namespace: names["drill_namespace"]},
            ecd_namespaces=[cfg.kubernetes.namespace, names["drill_namespace"]],
            velero_namespace=cfg.velero.namespace if cfg.velero else None,
            efs_file_system_id=cfg.efs.file_system_id,
            backup_role_arn=cfg.efs.aws_backup.iam_role_arn if cfg.efs.aws_backup else None,
            rds_instance=cfg.database.rds_instance_identifier,
            memorydb_cluster=cfg.memorydb.cluster_name if cfg.memorydb else None,
            job_image=cfg.kubernetes.jobs.image,
            jobs=cfg.kubernetes.jobs.model_dump(mode="json"),
            tags={DRILL_TAG: names["drill_id"], INSTALLATION_TAG: cfg.installation},
            manifest_bucket=cfg.manifests.bucket,
            manifest_prefix=cfg.manifests.prefix,
            live=live,
            resources={
                **base,
                "rds_instance": names["rds_target"] if cfg.uses_rds else None,
                "memorydb_cluster": names["memorydb_target"] if cfg.memorydb else None,
                "efs_creation_token": names["efs_token"],
                # A DataSync installation: the drill's own copy task and its destination
                # location (datasync_sets.restore_task_name), never a set's.
                "datasync_copy": {
                    "task_name": restore_task_name(names["drill_id"]),
                    "restore_id": names["drill_id"],
                    "owner": {DRILL_TAG: names["drill_id"]},
                }
                if cfg.efs.datasync
                else None,
                "velero_namespace": cfg.velero.namespace if cfg.velero else None,
                "velero_restore": names["velero_restore"] if cfg.velero else None,
                "namespace": names["drill_namespace"],
                "jobs": [names["place_job"], names["check_job"], names["app_check_job"]],
                "claim": names["efs_claim"],
                "volume": names["efs_volume"],
                "live": live,
                # From the protected copies: what the bring-back put in the installation's
                # account (the points in its vault, MemoryDB's staged files). The locked
                # copies are the protected account's and never the cleanup's.
                "brought_back": {
                    "installation": cfg.installation,
                    "vault": home_vault,
                    "protected_conn_id": locked.aws_conn_id,
                    "protected_region": locked.region_or(cfg.region),
                    "protected_account": locked.account_id,
                    "staging_bucket": locked.memorydb_export_bucket if cfg.memorydb else None,
                    "staging_prefix": f"{STAGING_PREFIX}{names['drill_id']}/",
                    # Copy jobs are listed from here: a retried bring-back's XCom names
                    # only its last try's, and each earlier try's point is the drill's too.
                    "since": started.astimezone(UTC).isoformat(),
                    # the planned locked points: only their copies back can be the drill's
                    "sources": sorted(
                        arn
                        for arn in (
                            (plan.get("database") or {}).get("snapshot_id"),
                            (plan.get("disk") or {}).get("recovery_point_arn"),
                        )
                        if arn
                    ),
                }
                if locked
                else None,
            },
            source="immutable" if locked else "home",
            from_immutable=locked is not None,
            backup_vault=home_vault,
            immutable_conn_id=locked.aws_conn_id if locked else None,
            immutable_region=locked.region_or(cfg.region) if locked else None,
            immutable_vault=locked.backup_vault_name if locked else None,
            immutable_backup_role_arn=locked.backup_role_arn if locked else None,
            immutable_staging_bucket=locked.memorydb_export_bucket if locked else None,
        )


# --- ue_backup_retention -----------------------------------------------------------------


class RetentionRunSettings(RunSettings):
    """``ue_backup_retention``'s settings (validate's return value)."""

    dry_run: bool = _field("params.dry_run: list what would go, delete nothing.")
    apply: bool = _field("Whether the delete step runs (not a dry run).")
    keep_sets: list[str] = _field("Sets kept whatever their age (params.keep_sets), sorted.")
    keep_last: int = _field("Keep the newest this many sets (config: retention.keep_last).")
    keep_days: int = _field("Keep sets younger than this (config: retention.keep_days).")
    prices: dict[str, float] = _field("Storage prices (config: prices), for the costs.")
    now: str = _field("The moment the policy is judged at: the run's run_after (ISO 8601).")
    # DataSync (efs.backup_method datasync): each deleted set's folder is removed by a Job.
    delete_datasync: bool = _field(
        "Whether delete_datasync_copies runs: not a dry run, and a DataSync installation.", False
    )
    efs_file_system_id: str | None = _field("The live EFS file system (never touched).", None)
    datasync_target: str | None = _field("The file system holding each set's folder.", None)
    datasync_subdirectory: str = _field("The folder on it holding each set's own.", "/")
    datasync_task_arn: str | None = _field("The template task (never deleted), if any.", None)
    namespace: str | None = _field(
        "Where the folder-removing Job runs (kubernetes.namespace).", None
    )
    jobs: dict[str, Any] = _field(
        "How that Job runs (config: kubernetes.jobs), as JobsConfig takes it.", {}
    )

    @classmethod
    def build(
        cls, cfg: InstallationConfig, dry_run: bool, keep_sets: list[str], now: datetime
    ) -> Self:
        datasync = cfg.efs.datasync
        return cls(
            **aws_access(cfg),
            dry_run=dry_run,
            apply=not dry_run,
            keep_sets=sorted(set(keep_sets)),
            keep_last=cfg.retention.keep_last,
            keep_days=cfg.retention.keep_days,
            prices=cfg.prices.model_dump(),
            now=now.astimezone(UTC).isoformat(),
            delete_datasync=datasync is not None and not dry_run,
            efs_file_system_id=cfg.efs.file_system_id,
            datasync_target=datasync.target_file_system_id if datasync else None,
            datasync_subdirectory=datasync.target_subdirectory if datasync else "/",
            datasync_task_arn=datasync.task_arn if datasync else None,
            namespace=cfg.kubernetes.namespace,
            jobs=cfg.kubernetes.jobs.model_dump(mode="json"),
        )
