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
restored with ECDs disabled), runs the configured application checks
(`verification`: SQL and reference checks, in a Job in the drill namespace)
on the restored system, and writes a report with the measured restore time
(RTO) per component and in total, and the checks' results and time apart
from it, to the task log, the XCom and S3
(`<manifests prefix>drills/<installation>/<drill id>.json`).

`source` `immutable` rehearses the restore after an attack on the
installation's account: planned from the protected copies (database, EFS,
MemoryDB; no Kubernetes resources, which they do not hold), brought back into
the installation's vault first (`bring_back_locked_copies`, whose time the
report counts in the RTO), restored from there.

The `cleanup` teardown deletes every temporary resource whatever happened
(from the protected copies also the brought-back points and staged files),
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
from ue_backup.dag_shape import restore_steps_needed
from ue_backup.dag_support import (
    DRILL,
    START_DATE,
    dag_shape,
    default_args,
    drill_schedule,
    fail_run_if_any_task_failed,
    refuse_unbuilt_steps,
)
from ue_backup.drill_dag import DrillReportNotifier, drill_step
from ue_backup.forms import SOURCE_LABELS
from ue_backup.locked_inventory import SOURCES
from ue_backup.operators.drill import DrillCleanupOperator
from ue_backup.operators.locked_copies import JOBS_KEY
from ue_backup.restore_chain import (
    EfsJob,
    RestoreChainSpec,
    bring_back_locked_copies,
    check_application,
    restore_chain,
)
from ue_backup.restore_scripts import place_restored_tree
from ue_backup.run_settings import DrillRunSettings
from ue_backup.tasks.drill_steps import (
    modifier_rules,
    tree_check_script,
    velero_resource_names,
)

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
# The components the configuration file has (all of them with the Variable): no task for others.
SHAPE = dag_shape()


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
            description=(
                "Empty: the newest restorable set. Format <installation>-<YYYYMMDD>t<HHMMSS>z; "
                "find one in the Backup catalog or a ue_backup run's summary."
            ),
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
        "source": Param(
            "home",
            enum=list(SOURCES),
            values_display=SOURCE_LABELS,
            title="Restore from",
            description=(
                "home: the installation's own backups. immutable: the protected copies "
                "(config: immutable), brought back first, as ue_restore does after an attack: "
                "database, EFS and MemoryDB (no Kubernetes resources)."
            ),
        ),
    },
) as dag:

    @task
    def prepare(params: dict[str, Any] | None = None, **context: Any) -> dict[str, Any]:
        """Refuse bad input, plan with rule 1, name every temporary resource; changes nothing."""
        from ue_backup.tasks.drill_steps import prepare as run_prepare

        settings = run_prepare(params or {}, context)
        run = DrillRunSettings.model_validate(settings)
        needed = {**restore_steps_needed(run), "bring_back_locked_copies": run.from_immutable}
        refuse_unbuilt_steps(context["ti"], needed)
        return settings

    prepared = prepare()

    # From the protected copies (params.source immutable): the planned locked points are
    # copied back into the installation's vault (MemoryDB's files staged) first, as
    # ue_restore does, and the restores start from there. Never skipped (it does nothing
    # for source home), so the restore starts after it never see a skip; its time is part
    # of the drill's RTO (drill_report).
    bring_back = None
    BROUGHT_BACK: dict[str, str] = {}
    if SHAPE.restore_from_immutable:
        bring_back, BROUGHT_BACK = bring_back_locked_copies(
            DRILL, DRILL, token_prefix=DID, home_region=DRILL.region
        )

    # --- the restore chain, as ue_restore builds it, into temporary resources --------------
    spec = RestoreChainSpec(
        steps=DRILL,
        settings_task="prepare",
        settings_model=DrillRunSettings,
        gate=drill_step,  # also starts the component's clock (its RTO)
        aws=AWS,
        kubernetes=K8S,
        rds_target=DRILL.rds_target,
        rds_source=DRILL.rds_instance,
        memorydb_target=DRILL.memorydb_target,
        memorydb_source=DRILL.memorydb_cluster,
        tags=DRILL.tags,
        backup_role_arn=DRILL.backup_role_arn,
        efs_file_system_id=DRILL.efs_file_system_id,
        efs_token=DRILL.efs_token,
        new_file_system=True,
        efs_job={
            "namespace": DRILL.drill_namespace,
            "claim_name": DRILL.efs_claim,
            "image": DRILL.job_image,
            "job": DRILL.jobs,  # resources, TTL, deadline (config: kubernetes.jobs)
        },
        purge=EfsJob(DRILL.place_job, place_restored_tree(MOUNT, DID)),
        check=EfsJob(DRILL.check_job, tree_check_script(MOUNT)),
        check_result_read=True,  # verify_efs reads its log
        new_file_system_only=True,  # never the live file system
        velero={
            "velero_namespace": DRILL.velero_namespace,
            "restore_name": DRILL.velero_restore,
            "ecd_namespaces": DRILL.ecd_namespaces,
            "included_namespaces": [DRILL.namespace],
            "namespace_mapping": DRILL.namespace_mapping,
            "include_cluster_resources": False,
            "included_resources": velero_resource_names(),
            "extra_modifier_rules": modifier_rules(),
        },
        restore_id=DID,  # a DataSync copy's task: ue-backup-restore-<drill id>
        shape=SHAPE,
        # shaped like the live resources (restored_shape), but temporary: the instance gets
        # no deletion protection (the cleanup must delete it) and none of the live tags
        efs_shape_source=DRILL.efs_file_system_id,
        temporary=True,
        **BROUGHT_BACK,
    )
    restored = restore_chain(spec)

    # --- each restored component checked usable -------------------------------------------
    @task
    def verify_database(**context: Any) -> dict[str, Any]:
        """Available with an endpoint: what the sandbox and a credential-less drill can check."""
        from ue_backup.tasks.drill_steps import verify_database as verify

        return verify(context["ti"].xcom_pull(task_ids="prepare"))

    @task
    def verify_efs(**context: Any) -> dict[str, Any]:
        """The check Job passed: files present, none temporary (and, a DataSync copy, it
        succeeded)."""
        from ue_backup.tasks.drill_steps import verify_efs as verify

        ti = context["ti"]
        return verify(
            ti.xcom_pull(task_ids="restored_file_system"),
            ti.xcom_pull(task_ids="check_efs_clean"),
            copy=ti.xcom_pull(task_ids="release_efs_copy"),  # a DataSync copy's record
        )

    @task
    def verify_memorydb(**context: Any) -> dict[str, Any]:
        """Available with an endpoint."""
        from ue_backup.tasks.drill_steps import verify_memorydb as verify

        return verify(context["ti"].xcom_pull(task_ids="prepare"))

    @task
    def verify_kubernetes(**context: Any) -> dict[str, Any]:
        """Objects restored into the drill namespace, every ECD disabled, no replica running."""
        from ue_backup.tasks.drill_steps import verify_kubernetes as verify

        return verify(context["ti"].xcom_pull(task_ids="prepare"))

    checks = {
        "database": verify_database,
        "efs": verify_efs,
        "memorydb": verify_memorydb,
        "kubernetes": verify_kubernetes,
    }
    verified = [ready >> checks[part]() for part, ready in restored.ready.items()]
    if bring_back:
        prepared >> bring_back >> restored.starts
    else:
        prepared >> restored.starts

    # --- the application checks (config: verification), timed apart from the RTO ----------
    if SHAPE.app_checks:
        checked = check_application(
            spec,
            job_name=DRILL.app_check_job,
            namespace=DRILL.drill_namespace,
            claim_name=DRILL.efs_claim,
            job=DRILL.jobs,
            trigger_rule=TriggerRule.NONE_FAILED,  # after the components the plan restored
        )
        verified >> checked
        verified = [*verified, checked]

    # The report runs whatever happened: a failed drill leaves its evidence too. It is the
    # run's leaf, so a failed step (or a refused drill) fails the run; it alerts only for
    # its own failures (the failed step has alerted already).
    @task(trigger_rule=TriggerRule.ALL_DONE, on_failure_callback=[DrillReportNotifier()])
    def report(**context: Any) -> dict[str, Any]:
        """RTO per component and in total: task log, XCom, and S3 beside the manifests."""
        from ue_backup.tasks.drill_steps import report as write_report

        return write_report(context)

    verified >> report()

    cleanup = DrillCleanupOperator(
        task_id="cleanup",
        drill_resources=DRILL.resources,
        efs_restore_job="{{ (ti.xcom_pull(task_ids='restore_efs') or {}).get('job_id') }}",
        # the copy jobs the bring-back started (each one's point is the drill's to delete)
        copy_jobs=(
            f"{{{{ ti.xcom_pull(task_ids='bring_back_locked_copies', key='{JOBS_KEY}') }}}}"
            if bring_back
            else None
        ),
        retries=5,
    ).as_teardown(setups=prepared, on_failure_fail_dagrun=True)
    verified >> cleanup
    fail_run_if_any_task_failed(
        prepared,
        after=cleanup,
        done="the drill's temporary resources were deleted",
        not_done="the drill's temporary resources were NOT all deleted",
    )
