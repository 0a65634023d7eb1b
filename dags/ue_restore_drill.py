"""
### ue_restore_drill: prove that the newest backup set restores, and measure how fast

Restores the newest restorable backup set (or `backup_set`), planned by the
same planner as `ue_restore` (database strictly older than disk and
MemoryDB), **side by side into temporary resources named after this run**:
an RDS instance, a new EFS file system (temporary files purged as a restore
does), a MemoryDB cluster, and the Velero backup into the drill namespace
with every ECD disabled and every workload at zero replicas. The live
installation is only read.

Then verifies each one usable (instance and cluster available with an
endpoint, EFS tree present and free of temporary files, Kubernetes objects
restored with ECDs disabled), and writes a report with the measured restore
time (RTO) per component and in total to the task log, the XCom and S3
(`<manifests prefix>drills/<installation>/<drill id>.json`).

The `cleanup` teardown deletes every temporary resource whatever happened,
and waits until they are gone. Runs on `drill.schedule` (weekly by default)
and after each backup (the backup set's Asset). `dry_run` plans and names
the resources without creating any.
"""

from __future__ import annotations

from typing import Any

# Named here so that the dag-processor imports them once and forks every later parse of
# this file with them loaded ([dag_processor] parsing_pre_import_modules, on by default):
# the operators below build on them, and they are most of this file's import time.
import airflow.api_fastapi.auth.managers.models.resource_details
import airflow.providers.amazon.aws.assets.s3
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
from airflow.sdk import DAG, Param, task

from ue_backup.compat import TriggerRule
from ue_backup.dag_support import (
    DRILL,
    START_DATE,
    default_args,
    drill_schedule,
    fail_run_if_any_task_failed,
    xcom,
)
from ue_backup.drill_dag import DrillReportNotifier, drill_step
from ue_backup.operators.aws_backup import AwsBackupStartEfsRestoreJobOperator
from ue_backup.operators.drill import DrillCleanupOperator
from ue_backup.operators.kube_job import KubeEfsJobOperator
from ue_backup.operators.memorydb import MemoryDbRestoreClusterOperator
from ue_backup.operators.rds import RdsRestoreInstanceOperator
from ue_backup.operators.velero import VeleroCreateRestoreOperator
from ue_backup.restore_scripts import place_restored_tree
from ue_backup.sensors.aws_backup import AwsBackupRestoreJobCompletedSensor
from ue_backup.sensors.efs import EfsMountTargetsAvailableSensor
from ue_backup.sensors.memorydb import MemoryDbClusterAvailableSensor
from ue_backup.sensors.rds import RdsInstanceAvailableSensor
from ue_backup.sensors.velero import VeleroRestoreCompletedSensor
from ue_backup.tasks.drill_steps import (
    modifier_rules,
    tree_check_script,
    velero_resource_names,
)
from ue_backup.triggers.waits import critical_path_wait

# prepare's DrillRunSettings (ue_backup.run_settings): DRILL.<field> is its template,
# checked when this file is parsed.
# Every AWS step retries as the configuration says (aws_retries; ue_backup.aws).
AWS = {
    "aws_conn_id": DRILL.aws_conn_id,
    "region_name": DRILL.region,
    "botocore_config": DRILL.aws_botocore_config,
}
K8S = {"kubernetes_conn_id": DRILL.kubernetes_conn_id}
MOUNT = "/efs"
# The drill's id, which names what it creates (double quotes: it is also shell-quoted).
DID = DRILL.drill_id


with DAG(
    dag_id="ue_restore_drill",
    description="Restore the newest backup set into temporary resources, verify, time, delete",
    doc_md=__doc__,
    schedule=drill_schedule(),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["ue-backup", "restore", "drill"],
    render_template_as_native_obj=True,
    params={
        "backup_set": Param(
            None,
            type=["null", "string"],
            title="Backup set id",
            description="Empty: the newest restorable set.",
        ),
        "allow_point_in_time_restore": Param(
            True,
            type="boolean",
            title="Allow RDS point-in-time restore",
            description="As a real restore would: the planner may choose it for the database.",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Plan and name the temporary resources; create nothing.",
        ),
    },
) as dag:

    @task
    def prepare(params: dict[str, Any] | None = None, **context: Any) -> dict[str, Any]:
        """Refuse bad input, plan with rule 1, name every temporary resource; changes nothing."""
        from ue_backup.tasks.drill_steps import prepare as run_prepare

        return run_prepare(params or {}, context)

    prepared = prepare()

    # --- the database ------------------------------------------------------------------
    restore_database = RdsRestoreInstanceOperator(
        task_id="restore_database",
        target_instance_identifier=DRILL.rds_target,
        source_instance_identifier=DRILL.rds_instance,
        snapshot_id=DRILL.rds_snapshot_id,
        restore_time=DRILL.rds_restore_time,
        tags=DRILL.tags,
        pre_execute=drill_step(DRILL.restore_database),
        **AWS,
    )
    wait_database = RdsInstanceAvailableSensor(
        task_id="wait_database",
        resource_id=DRILL.rds_target,
        **AWS,
        **critical_path_wait(),
    )

    @task
    def verify_database(**context: Any) -> dict[str, Any]:
        """Available with an endpoint: what the sandbox and a credential-less drill can check."""
        from ue_backup.tasks.drill_steps import verify_database as verify

        return verify(context["ti"].xcom_pull(task_ids="prepare"))

    # --- EFS ---------------------------------------------------------------------------
    restore_efs = AwsBackupStartEfsRestoreJobOperator(
        task_id="restore_efs",
        recovery_point_arn=DRILL.recovery_point_arn,
        iam_role_arn=DRILL.backup_role_arn,
        idempotency_token=DRILL.efs_token,
        file_system_id=DRILL.efs_file_system_id,
        new_file_system=True,
        pre_execute=drill_step(DRILL.restore_efs),
        **AWS,
    )
    wait_efs = AwsBackupRestoreJobCompletedSensor(
        task_id="wait_efs",
        resource_id=xcom("restore_efs", "job_id"),
        **AWS,
        **critical_path_wait(),
    )

    @task
    def drill_file_system(**context: Any) -> dict[str, Any]:
        """The new file system the restore made (never the live one), given mount targets."""
        from ue_backup.tasks.restored_efs import restored_file_system as find

        ti = context["ti"]
        job_id = ti.xcom_pull(task_ids="restore_efs")["job_id"]
        return find(ti.xcom_pull(task_ids="prepare"), job_id, new_only=True)

    wait_efs_mount_targets = EfsMountTargetsAvailableSensor(
        task_id="wait_efs_mount_targets",
        resource_id=xcom("drill_file_system", "file_system_id"),
        **AWS,
        **critical_path_wait(short=True),
    )
    efs_job = {
        "namespace": DRILL.drill_namespace,
        "file_system_id": xcom("drill_file_system", "file_system_id"),
        "claim_name": DRILL.efs_claim,
        "image": DRILL.job_image,
        **K8S,
    }
    purge_efs = KubeEfsJobOperator(
        task_id="purge_efs",
        job_name=DRILL.place_job,
        script=place_restored_tree(MOUNT, DID),
        **efs_job,
        **critical_path_wait(short=True),
    )
    check_efs = KubeEfsJobOperator(
        task_id="check_efs",
        job_name=DRILL.check_job,
        script=tree_check_script(MOUNT),
        **efs_job,
        **critical_path_wait(result_read=True, short=True),  # verify_efs reads its log
    )

    @task
    def verify_efs(**context: Any) -> dict[str, Any]:
        """The check Job passed: files present, none temporary."""
        from ue_backup.tasks.drill_steps import verify_efs as verify

        ti = context["ti"]
        return verify(
            ti.xcom_pull(task_ids="drill_file_system"), ti.xcom_pull(task_ids="check_efs")
        )

    # --- MemoryDB ------------------------------------------------------------------------
    restore_memorydb = MemoryDbRestoreClusterOperator(
        task_id="restore_memorydb",
        snapshot_name=DRILL.memorydb_snapshot_name,
        snapshot_arns=DRILL.memorydb_snapshot_arns,
        node_type=DRILL.memorydb_node_type,
        num_shards=DRILL.memorydb_num_shards,
        target_cluster_name=DRILL.memorydb_target,
        source_cluster_name=DRILL.memorydb_cluster,
        tags=DRILL.tags,
        pre_execute=drill_step(DRILL.restore_memorydb),
        **AWS,
    )
    wait_memorydb = MemoryDbClusterAvailableSensor(
        task_id="wait_memorydb",
        resource_id=DRILL.memorydb_target,
        **AWS,
        **critical_path_wait(),
    )

    @task
    def verify_memorydb(**context: Any) -> dict[str, Any]:
        """Available with an endpoint."""
        from ue_backup.tasks.drill_steps import verify_memorydb as verify

        return verify(context["ti"].xcom_pull(task_ids="prepare"))

    # --- Kubernetes ------------------------------------------------------------------------
    restore_kubernetes = VeleroCreateRestoreOperator(
        task_id="restore_kubernetes",
        backup_set_id=DRILL.velero_backup_set,
        velero_namespace=DRILL.velero_namespace,
        backup_name=DRILL.velero_backup_name,
        restore_name=DRILL.velero_restore,
        ecd_namespaces=DRILL.ecd_namespaces,
        included_namespaces=[DRILL.namespace],
        namespace_mapping=DRILL.namespace_mapping,
        include_cluster_resources=False,
        included_resources=velero_resource_names(),
        extra_modifier_rules=modifier_rules(),
        pre_execute=drill_step(DRILL.restore_velero),
        **K8S,
    )
    wait_kubernetes = VeleroRestoreCompletedSensor(
        task_id="wait_kubernetes",
        name=xcom("restore_kubernetes", "name"),
        namespace=DRILL.velero_namespace,
        **K8S,
        **critical_path_wait(),
    )

    @task
    def verify_kubernetes(**context: Any) -> dict[str, Any]:
        """Objects restored into the drill namespace, every ECD disabled, no replica running."""
        from ue_backup.tasks.drill_steps import verify_kubernetes as verify

        return verify(context["ti"].xcom_pull(task_ids="prepare"))

    # The report runs whatever happened: a failed drill leaves its evidence too. It is the
    # run's leaf, so a failed step (or a refused drill) fails the run; it alerts only for
    # its own failures (the failed step has alerted already).
    @task(trigger_rule=TriggerRule.ALL_DONE, on_failure_callback=[DrillReportNotifier()])
    def report(**context: Any) -> dict[str, Any]:
        """RTO per component and in total: task log, XCom, and S3 beside the manifests."""
        from ue_backup.tasks.drill_steps import report as write_report

        return write_report(context)

    verified = [
        verify_database(),
        verify_efs(),
        verify_memorydb(),
        verify_kubernetes(),
    ]
    prepared >> [restore_database, restore_efs, restore_memorydb, restore_kubernetes]
    restore_database >> wait_database >> verified[0]
    restore_efs >> wait_efs >> drill_file_system() >> wait_efs_mount_targets >> purge_efs
    purge_efs >> check_efs >> verified[1]
    restore_memorydb >> wait_memorydb >> verified[2]
    restore_kubernetes >> wait_kubernetes >> verified[3]
    verified >> report()

    cleanup = DrillCleanupOperator(
        task_id="cleanup",
        drill_resources=DRILL.resources,
        efs_restore_job="{{ (ti.xcom_pull(task_ids='restore_efs') or {}).get('job_id') }}",
        retries=5,
    ).as_teardown(setups=prepared, on_failure_fail_dagrun=True)
    verified >> cleanup
    fail_run_if_any_task_failed(
        prepared,
        after=cleanup,
        done="the drill's temporary resources were deleted",
        not_done="the drill's temporary resources were NOT all deleted",
    )
