"""
### ue_backup: a consistent backup set of one Usage Engine installation

Suspends the workflows (the cold window), fixes the database point first
(RDS snapshot), then takes the disk backup (AWS Backup job, or DataSync
EFS-to-EFS) and the MemoryDB snapshot, captures the Kubernetes resources
with Velero, and resumes the workflows as soon as every point in time is
fixed and the EFS job has finished. Waiting for snapshots, verification and
the manifest happen after the window, and so do the copies to the
`cross_region` region when one is configured (RDS snapshot copy, AWS Backup
copy job, MemoryDB export copied to a bucket there), and with an `immutable`
section the copies out of the Airflow role's reach (the locked vault's copy
jobs, MemoryDB's export streamed into the Object Lock bucket, the manifest).

Once the set is verified and its manifest written, `publish_rpo_metric` tells
CloudWatch (`UeBackup/VerifiedBackupSets`), which the RPO guard's alarm
watches from outside Airflow. The copies in the protected account have a
verdict of their own (`verify_locked`, after the manifest): a failed locked
copy fails the run loudly but never hides the verified home set; only a
passed one lets `lock_manifest` lock the manifest.

Resume is a teardown: it runs whatever fails, is skipped or is marked failed
by hand; the `ue_backup_watchdog` DAG resumes what a killed run left behind.

Params: `components` (default: everything configured; `efs` is always
required) and an optional free-text `reason` that is logged and kept in the manifest.
"""

from __future__ import annotations

from typing import Any

# Named here so that the dag-processor imports them once and forks every later parse of
# this file with them loaded ([dag_processor] parsing_pre_import_modules, on by default):
# the operators below build on them, and they are most of this file's import time.
import airflow.api_fastapi.auth.managers.models.resource_details
import airflow.providers.amazon.aws.assets.s3
import airflow.providers.amazon.aws.hooks.datasync
import airflow.providers.amazon.aws.hooks.rds
import airflow.providers.amazon.aws.hooks.s3
import airflow.providers.amazon.aws.links.base_aws
import airflow.providers.amazon.aws.operators.base_aws
import airflow.providers.amazon.aws.sensors.base_aws
import airflow.providers.amazon.aws.triggers.base
import airflow.providers.common.compat.notifier
import airflow.providers.common.io.assets.file
import airflow.providers.standard.decorators.python
import airflow.sdk.bases.operatorlink
import airflow.sdk.definitions.decorators  # noqa: F401
from airflow.sdk import DAG, task

from ue_backup.compat import TriggerRule
from ue_backup.dag_shape import backup_steps_needed
from ue_backup.dag_support import (
    BACKUP,
    BACKUP_SET_ASSET,
    START_DATE,
    backup_schedule,
    dag_shape,
    default_args,
    fail_run_if_any_task_failed,
    only_if,
    refuse_unbuilt_steps,
    xcom,
    xcom_if_any,
)
from ue_backup.forms import backup_params
from ue_backup.operators.aws_backup import (
    AwsBackupStartCopyJobOperator,
    AwsBackupStartEfsBackupJobOperator,
    AwsBackupStartRdsBackupJobOperator,
)
from ue_backup.operators.datasync import DataSyncStartCopyOperator
from ue_backup.operators.ecd import EcdResumeOperator, EcdSuspendOperator
from ue_backup.operators.memorydb import (
    MemoryDbCopyExportOperator,
    MemoryDbCreateSnapshotOperator,
    MemoryDbExportSnapshotOperator,
)
from ue_backup.operators.rds import RdsCopySnapshotOperator, RdsStartSnapshotOperator
from ue_backup.operators.velero import VeleroCreateBackupOperator
from ue_backup.run_settings import BackupRunSettings
from ue_backup.sensors.aws_backup import (
    AwsBackupCopyJobCompletedSensor,
    AwsBackupJobCompletedSensor,
    RdsBackupPointFixedSensor,
)
from ue_backup.sensors.datasync import DataSyncTaskExecutionCompletedSensor
from ue_backup.sensors.ecd import EcdDrainedSensor
from ue_backup.sensors.memorydb import MemoryDbSnapshotAvailableSensor
from ue_backup.sensors.rds import RdsSnapshotAvailableSensor
from ue_backup.sensors.velero import VeleroBackupCompletedSensor
from ue_backup.triggers.waits import critical_path_wait

# The run's settings are preflight's BackupRunSettings (ue_backup.run_settings): BACKUP.<field>
# is its template, and a field the model does not have fails this file's import.
# Every AWS step retries as the configuration says (aws_retries; ue_backup.aws).
RETRIES = {"botocore_config": BACKUP.aws_botocore_config}
AWS = {"aws_conn_id": BACKUP.aws_conn_id, "region_name": BACKUP.region, **RETRIES}
COPY_REGION = {
    "aws_conn_id": BACKUP.aws_conn_id,
    "region_name": BACKUP.copy_region,
    **RETRIES,
}
K8S = {"kubernetes_conn_id": BACKUP.kubernetes_conn_id}
SET = {"backup_set_id": BACKUP.backup_set}
# The components the configuration file has (all of them with the Variable): no task for others.
SHAPE = dag_shape()

with DAG(
    dag_id="ue_backup",
    description="Consistent backup set: RDS, EFS, MemoryDB, Velero inside a short cold window",
    doc_md=__doc__,
    schedule=backup_schedule(),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["ue-backup", "backup"],
    render_template_as_native_obj=True,
    params=backup_params(),  # both optional: ue_backup.forms
) as dag:

    @task
    def preflight(params: dict[str, Any] | None = None, **context: Any) -> dict[str, Any]:
        """Validate params and configuration, check every resource; nothing is changed."""
        from ue_backup.tasks.preflight import preflight as run_preflight

        settings = run_preflight(params or {}, context)
        needed = backup_steps_needed(BackupRunSettings.model_validate(settings))
        refuse_unbuilt_steps(context["ti"], needed)
        return settings

    settings = preflight()
    external = None
    if SHAPE.external_window:

        @task(pre_execute=only_if(BACKUP.cold_window, "external"))
        def check_external_window(**context: Any) -> dict[str, Any]:
            """External mode: inside the platform's window, every ECD stopped, time to finish."""
            from ue_backup.tasks.backup_steps import check_external_window as check

            return check(context["ti"].xcom_pull(task_ids="preflight"))

        external = check_external_window()

    # --- the cold window ---------------------------------------------------------
    suspend = EcdSuspendOperator(
        task_id="suspend_workflows",
        namespace=BACKUP.namespace,
        label_selector=BACKUP.ecd_label_selector,
        names=BACKUP.ecd_names,
        max_window_minutes=BACKUP.max_window_minutes,
        active=BACKUP.managed_window,
        platform=BACKUP.platform,  # Derby's writer, stopped with the ECDs
        suspended_by=BACKUP.backup_set,
        # after the external-window check, which is skipped in a managed window
        trigger_rule=TriggerRule.NONE_FAILED,
        **K8S,
    )
    drained = EcdDrainedSensor(
        task_id="wait_workflows_drained",
        namespace=BACKUP.namespace,
        names=xcom("suspend_workflows", "drain"),  # every selected ECD's pods, the platform's
        drain_timeout_minutes=BACKUP.drain_timeout_minutes,
        **K8S,
        **critical_path_wait(),
    )
    resume = EcdResumeOperator(
        task_id="resume_workflows",
        namespace=BACKUP.namespace,
        owners=BACKUP.backup_set,
        platform=BACKUP.platform,
        # judged before resuming: every ECD stayed stopped while the copies ran
        windows=[xcom("suspend_workflows"), xcom("check_external_window")],
        retries=5,
        **K8S,
    ).as_teardown(setups=suspend, on_failure_fail_dagrun=True)

    # Each component the configuration file has (all of them with the Variable): its point in
    # time inside the window (``in_window``, before the resume), its wait after the window
    # (``settled``, before the verification), and its cross-region copy after both.
    database = database_end = None  # its point is fixed before the disk's and cache's (rule 1)
    after_database: list[Any] = []
    in_window: list[Any] = []
    settled: list[Any] = []
    # The copies in the protected account: judged apart from the home set, after its
    # manifest, so a failed locked copy never hides the home set (verify_locked).
    locked: list[Any] = []
    after_verify: list[Any] = []  # what must not change an artifact while it is verified

    if SHAPE.database:
        rds = RdsStartSnapshotOperator(
            task_id="rds_snapshot",
            db_instance_identifier=BACKUP.rds_instance,
            trigger_rule=TriggerRule.NONE_FAILED,
            pre_execute=only_if(BACKUP.rds_instance),
            **SET,
            **AWS,
        )
        rds_available = RdsSnapshotAvailableSensor(
            task_id="wait_rds_snapshot", resource_id=xcom("rds_snapshot", "id"), **AWS
        )
        rds >> rds_available
        database = database_end = rds
        settled.append(rds_available)
        if SHAPE.copy_rds_immutable:
            # The database again, with AWS Backup: only a recovery point in a vault can be
            # copied into the locked vault (a manual snapshot cannot). Its point too is
            # fixed before the disk's: the window waits until RDS has taken the job's
            # snapshot (the instance may still be busy with the manual one), or the job
            # ended without one, or a bound (ue_backup.database_point).
            rds_job = AwsBackupStartRdsBackupJobOperator(
                task_id="rds_backup_job",
                db_instance_identifier=BACKUP.rds_instance,
                backup_vault_name=BACKUP.backup_vault,
                iam_role_arn=BACKUP.backup_role_arn,
                lifecycle=BACKUP.backup_lifecycle,
                complete_window_minutes=BACKUP.backup_complete_window_minutes,
                pre_execute=only_if(BACKUP.copy_rds_immutable),
                **SET,
                **AWS,
            )
            rds_point_fixed = RdsBackupPointFixedSensor(
                task_id="wait_rds_backup_point",
                job_id=xcom_if_any("rds_backup_job", "job_id"),
                job_task_id="rds_backup_job",
                # Runs whatever the job did: a job that failed to start costs the locked
                # copy, never the night's disk backup (the manual snapshot still gates it).
                trigger_rule=TriggerRule.ALL_DONE,
                **AWS,
                **critical_path_wait(),
            )
            rds_job_done = AwsBackupJobCompletedSensor(
                task_id="wait_rds_backup_job",
                resource_id=xcom("rds_backup_job", "job_id"),
                **AWS,
            )
            rds_locked_copy = AwsBackupStartCopyJobOperator(
                task_id="copy_rds_immutable",
                recovery_point_arn=xcom("rds_backup_job", "recovery_point_arn"),
                backup_job_id=xcom("rds_backup_job", "job_id"),
                source_vault_name=BACKUP.backup_vault,
                destination_vault_arn=BACKUP.immutable_vault_arn,
                iam_role_arn=BACKUP.backup_role_arn,
                lifecycle=BACKUP.immutable_lifecycle,
                copy_of="rds-immutable",
                **SET,
                **AWS,
            )
            rds_locked_copy_done = AwsBackupCopyJobCompletedSensor(
                task_id="wait_rds_immutable_copy",
                resource_id=xcom("copy_rds_immutable", "job_id"),
                **AWS,
            )
            rds >> rds_job >> rds_point_fixed
            database_end = rds_point_fixed
            in_window.append(rds_point_fixed)
            # Judged after the window: a copy never holds the workflows suspended.
            [rds_job, rds_point_fixed, resume] >> rds_job_done >> rds_locked_copy
            rds_locked_copy >> rds_locked_copy_done
            locked.append(rds_locked_copy_done)
        if SHAPE.copy_rds:
            rds_copy = RdsCopySnapshotOperator(
                task_id="copy_rds_snapshot",
                source_snapshot_arn=xcom("rds_snapshot", "arn"),
                kms_key_id=BACKUP.copy_rds_kms_key_id,
                pre_execute=only_if(BACKUP.copy_rds),
                **SET,
                **COPY_REGION,
            )
            rds_copy_available = RdsSnapshotAvailableSensor(
                task_id="wait_rds_snapshot_copy",
                resource_id=xcom("copy_rds_snapshot", "id"),
                **COPY_REGION,
            )
            # The window is closed first (resume): a copy never holds the workflows suspended.
            [rds_available, resume] >> rds_copy >> rds_copy_available
            settled.append(rds_copy_available)

    if SHAPE.efs_aws_backup:
        efs = AwsBackupStartEfsBackupJobOperator(
            task_id="efs_backup",
            file_system_id=BACKUP.efs_file_system_id,
            backup_vault_name=BACKUP.backup_vault,
            iam_role_arn=BACKUP.backup_role_arn,
            lifecycle=BACKUP.backup_lifecycle,
            complete_window_minutes=BACKUP.backup_complete_window_minutes,
            trigger_rule=TriggerRule.NONE_FAILED,
            pre_execute=only_if(BACKUP.efs_method, "aws_backup"),
            **SET,
            **AWS,
        )
        efs_done = AwsBackupJobCompletedSensor(
            task_id="wait_efs_backup",
            resource_id=xcom("efs_backup", "job_id"),
            **AWS,
            **critical_path_wait(),
        )
        # The disk point is fixed when the job has finished: the window waits for it.
        efs >> efs_done
        after_database.append(efs)
        in_window.append(efs_done)
        settled.append(efs_done)
        if SHAPE.copy_efs:
            efs_copy = AwsBackupStartCopyJobOperator(
                task_id="copy_efs_recovery_point",
                recovery_point_arn=xcom("efs_backup", "recovery_point_arn"),
                source_vault_name=BACKUP.backup_vault,
                destination_vault_arn=BACKUP.copy_backup_vault_arn,
                iam_role_arn=BACKUP.backup_role_arn,
                lifecycle=BACKUP.backup_lifecycle,
                pre_execute=only_if(BACKUP.copy_efs),
                **SET,
                **AWS,
            )
            efs_copy_done = AwsBackupCopyJobCompletedSensor(
                task_id="wait_efs_recovery_point_copy",
                resource_id=xcom("copy_efs_recovery_point", "job_id"),
                **AWS,
            )
            [efs_done, resume] >> efs_copy >> efs_copy_done
            settled.append(efs_copy_done)
        if SHAPE.copy_efs_immutable:
            # Out of the Airflow role's reach: into the protected account's locked vault.
            locked_copy = AwsBackupStartCopyJobOperator(
                task_id="copy_efs_immutable",
                recovery_point_arn=xcom("efs_backup", "recovery_point_arn"),
                source_vault_name=BACKUP.backup_vault,
                destination_vault_arn=BACKUP.immutable_vault_arn,
                iam_role_arn=BACKUP.backup_role_arn,
                lifecycle=BACKUP.immutable_lifecycle,
                copy_of="efs-immutable",
                pre_execute=only_if(BACKUP.copy_efs_immutable),
                **SET,
                **AWS,
            )
            locked_copy_done = AwsBackupCopyJobCompletedSensor(
                task_id="wait_efs_immutable_copy",
                resource_id=xcom("copy_efs_immutable", "job_id"),
                **AWS,
            )
            [efs_done, resume] >> locked_copy >> locked_copy_done
            locked.append(locked_copy_done)

    if SHAPE.efs_datasync:
        datasync = DataSyncStartCopyOperator(
            task_id="datasync_copy",
            # each set into its own folder on the target, by a task of its own
            task_arn=BACKUP.datasync_task_arn,
            source_file_system_id=BACKUP.efs_file_system_id,
            target_file_system_id=BACKUP.datasync_target,
            target_subdirectory=BACKUP.datasync_subdirectory,
            subnet_arn=BACKUP.datasync_subnet_arn,
            security_group_arns=BACKUP.datasync_security_group_arns,
            trigger_rule=TriggerRule.NONE_FAILED,
            pre_execute=only_if(BACKUP.efs_method, "datasync"),
            **SET,
            **AWS,
        )
        datasync_done = DataSyncTaskExecutionCompletedSensor(
            task_id="wait_datasync_copy",
            resource_id=xcom("datasync_copy", "task_execution_arn"),
            **AWS,
            **critical_path_wait(),
        )
        datasync >> datasync_done
        after_database.append(datasync)
        in_window.append(datasync_done)
        settled.append(datasync_done)

    if SHAPE.memorydb:
        memorydb = MemoryDbCreateSnapshotOperator(
            task_id="memorydb_snapshot",
            cluster_name=BACKUP.memorydb_cluster,
            trigger_rule=TriggerRule.NONE_FAILED,
            pre_execute=only_if(BACKUP.memorydb_cluster),
            **SET,
            **AWS,
        )
        memorydb_available = MemoryDbSnapshotAvailableSensor(
            task_id="wait_memorydb_snapshot",
            resource_id=xcom("memorydb_snapshot", "id"),
            **AWS,
        )
        memorydb >> memorydb_available
        after_database.append(memorydb)
        in_window.append(memorydb)
        settled.append(memorydb_available)
        if SHAPE.copy_memorydb:
            memorydb_export = MemoryDbExportSnapshotOperator(
                task_id="export_memorydb_snapshot",
                bucket=BACKUP.memorydb_export_bucket,
                pre_execute=only_if(BACKUP.copy_memorydb),
                **SET,
                **AWS,
            )
            memorydb_exported = MemoryDbSnapshotAvailableSensor(
                task_id="wait_memorydb_export",
                resource_id=xcom("export_memorydb_snapshot", "snapshot"),
                **AWS,
            )
            memorydb_copy = MemoryDbCopyExportOperator(
                task_id="copy_memorydb_snapshot",
                export_bucket=BACKUP.memorydb_export_bucket,
                target_bucket=BACKUP.memorydb_copy_bucket,
                destination_region=BACKUP.copy_region,
                **SET,
                **AWS,
            )
            [memorydb_available, resume] >> memorydb_export >> memorydb_exported
            memorydb_exported >> memorydb_copy
            settled.append(memorydb_copy)
        if SHAPE.copy_memorydb_immutable:
            # Out of the Airflow role's reach: the snapshot exported to a staging bucket at
            # home, its .rdb files streamed into the protected account's Object Lock bucket.
            locked_export = MemoryDbExportSnapshotOperator(
                task_id="export_memorydb_immutable",
                bucket=BACKUP.immutable_memorydb_export_bucket,
                # after the cross-region export, which a run without cross_region skips
                trigger_rule=TriggerRule.NONE_FAILED,
                pre_execute=only_if(BACKUP.copy_memorydb_immutable),
                **SET,
                **AWS,
            )
            locked_exported = MemoryDbSnapshotAvailableSensor(
                task_id="wait_memorydb_immutable_export",
                resource_id=xcom("export_memorydb_immutable", "snapshot"),
                **AWS,
            )

            @task(retries=2)
            def lock_memorydb_immutable(**context: Any) -> dict[str, Any]:
                """Copy the exported .rdb files into the protected account's Object Lock
                bucket, in compliance mode, read back; then delete the staged export."""
                from ue_backup.tasks.immutable_memorydb import lock_memorydb

                ti = context["ti"]
                return lock_memorydb(
                    ti.xcom_pull(task_ids="preflight"),
                    ti.xcom_pull(task_ids="export_memorydb_immutable"),
                )

            locked_rdb = lock_memorydb_immutable()
            # A snapshot exports to one bucket at a time, and shows as exporting meanwhile:
            # after the home set's verification, which follows the cross-region export.
            after_verify.append(locked_export)
            locked_export >> locked_exported >> locked_rdb
            locked.append(locked_rdb)

    if SHAPE.velero:
        velero = VeleroCreateBackupOperator(
            task_id="velero_backup",
            velero_namespace=BACKUP.velero_namespace,
            included_namespaces=BACKUP.velero_included_namespaces,
            storage_location=BACKUP.velero_storage_location,
            ttl=BACKUP.velero_ttl,
            trigger_rule=TriggerRule.NONE_FAILED,
            pre_execute=only_if(BACKUP.velero_namespace),
            **SET,
            **K8S,
        )
        velero_done = VeleroBackupCompletedSensor(
            task_id="wait_velero_backup",
            name=xcom("velero_backup", "name"),
            namespace=BACKUP.velero_namespace,
            allow_partially_failed=BACKUP.velero_allow_partially_failed,
            **K8S,
        )
        drained >> velero >> velero_done
        in_window.append(velero)
        settled.append(velero_done)

    # The external-window check comes before the window opens, not beside it: whatever
    # it takes (Airflow may take seconds to finish even a skipped task) never holds the
    # workflows suspended. In an external window nothing is suspended anyway.
    if external:
        settings >> external >> suspend
    else:
        settings >> suspend
    suspend >> drained
    if database:
        drained >> database
        database_end >> after_database
        if database is not database_end:  # the wait runs all_done: the snapshot still gates
            database >> after_database
    else:
        drained >> after_database
    in_window >> resume
    fail_run_if_any_task_failed(suspend, after=resume)

    @task(trigger_rule=TriggerRule.NONE_FAILED, retries=1)
    def verify(**context: Any) -> dict[str, Any]:
        """The home set: states, rule 1, tags, no temporary file, read back from AWS and
        Kubernetes; its verdict marks the artifacts the planner restores from."""
        from ue_backup.tasks.backup_steps import verify as run_verify

        ti = context["ti"]
        records = {
            "rds": ti.xcom_pull(task_ids="rds_snapshot"),
            "efs": ti.xcom_pull(task_ids="efs_backup"),
            "datasync": ti.xcom_pull(task_ids="datasync_copy"),
            "memorydb": ti.xcom_pull(task_ids="memorydb_snapshot"),
            "velero": ti.xcom_pull(task_ids="velero_backup"),
            "rds_copy": ti.xcom_pull(task_ids="copy_rds_snapshot"),
            "efs_copy": ti.xcom_pull(task_ids="copy_efs_recovery_point"),
            "memorydb_copy": ti.xcom_pull(task_ids="copy_memorydb_snapshot"),
        }
        window = (ti.xcom_pull(task_ids="resume_workflows") or {}).get("window")
        return run_verify(ti.xcom_pull(task_ids="preflight"), records, window)

    @task(trigger_rule=TriggerRule.NONE_FAILED, outlets=[BACKUP_SET_ASSET])
    def manifest(**context: Any) -> dict[str, Any]:
        """Write the manifest to S3, return it, and announce the set as an Asset event."""
        from ue_backup.tasks.backup_steps import write_manifest

        ti = context["ti"]
        settings = ti.xcom_pull(task_ids="preflight")
        start = (ti.xcom_pull(task_ids="suspend_workflows") or {}).get("window_start") or (
            ti.xcom_pull(task_ids="check_external_window") or {}
        ).get("window_start")
        closed = ti.xcom_pull(task_ids="resume_workflows") or {}
        proof = closed.get("window") or {}  # its verdict: intact, else verify failed
        window = (
            {
                "start": start,
                "end": closed.get("window_end"),
                "mode": settings["cold_window"],
                "state": proof.get("state", "none"),
            }
            if start
            else None
        )
        result = write_manifest(settings, ti.xcom_pull(task_ids="verify"), window, ti.run_id)
        context["outlet_events"][BACKUP_SET_ASSET].extra = {
            "installation": result["installation"],
            "backup_set": result["backup_set"],
            "manifest": result["location"],
        }
        return result

    @task
    def publish_rpo_metric(**context: Any) -> dict[str, Any]:
        """Tell CloudWatch a verified set exists, per region: the RPO alarm counts these."""
        from ue_backup.tasks.rpo import publish_verified

        ti = context["ti"]
        return publish_verified(
            ti.xcom_pull(task_ids="preflight"), ti.xcom_pull(task_ids="manifest")
        )

    checked = verify()
    settled >> checked
    checked >> after_verify
    resume >> checked  # verify reads the window's verdict, judged before resuming
    written = manifest()
    [checked, resume] >> written >> publish_rpo_metric()

    if SHAPE.lock_manifest:
        # The protected copies' own verdict, after the home set's manifest and beside its
        # RPO metric: it runs whatever the copies did (a copy that failed is a failed
        # check), fails the run loudly, and never hides the verified home set.
        @task(
            trigger_rule=TriggerRule.ALL_DONE,
            pre_execute=only_if(BACKUP.immutable_bucket),
            retries=1,
        )
        def verify_locked(**context: Any) -> dict[str, Any]:
            """The copies in the protected account: made, complete, locked, kept long
            enough, rule 1 for the locked set; recorded in the manifest either way."""
            from ue_backup.tasks.locked_verdict import verify_locked as run_verify_locked

            ti = context["ti"]
            records = {
                "efs": ti.xcom_pull(task_ids="efs_backup"),
                "memorydb": ti.xcom_pull(task_ids="memorydb_snapshot"),
                "rds_backup_job": ti.xcom_pull(task_ids="rds_backup_job"),
                "efs_immutable": ti.xcom_pull(task_ids="copy_efs_immutable"),
                "rds_immutable": ti.xcom_pull(task_ids="copy_rds_immutable"),
                "memorydb_immutable": ti.xcom_pull(task_ids="lock_memorydb_immutable"),
            }
            return run_verify_locked(
                ti.xcom_pull(task_ids="preflight"), records, ti.xcom_pull(task_ids="manifest")
            )

        @task(pre_execute=only_if(BACKUP.immutable_bucket), retries=2)
        def lock_manifest(**context: Any) -> dict[str, Any]:
            """Keep the manifest where the Airflow role cannot delete it: the protected
            account's Object Lock bucket, in compliance mode, read back (config: immutable)."""
            from ue_backup.tasks.immutable_manifest import lock_manifest as lock

            ti = context["ti"]
            return lock(ti.xcom_pull(task_ids="preflight"), ti.xcom_pull(task_ids="verify_locked"))

        locked_verdict = verify_locked()
        [*locked, written] >> locked_verdict >> lock_manifest()
