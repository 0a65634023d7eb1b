"""
### ue_backup_retention: delete old backup sets, never the newest restorable one

Daily (configurable: `retention.schedule`), keeps the newest `keep_last` backup
sets, the newest `keep_last` restorable ones and any set younger than
`keep_days` days, and deletes every artifact of the others: RDS snapshots,
AWS Backup recovery points, MemoryDB snapshots, their cross-region copies,
Velero backups and manifests. Only artifacts tagged with this installation
are ever touched. The newest set the restore planner can restore (rule 1
included) is never deleted, nor any set it draws on, nor a set listed in
`keep_sets`; while a `ue_restore` (or `ue_restore_drill`) run is in
progress nothing is deleted.

With the `immutable` section, the protected account's locked copies are
listed per set "locked until <date>" and their monthly cost counted apart;
retention never deletes them, and when that account cannot be read it says
so and still does its job at home.

With DataSync (`efs.backup_method: datasync`) a set's copy is its folder on
the target file system, its task and its destination location:
`delete_datasync_copies` removes the folders of the sets given up by a
Kubernetes Job on the target file system, then their tasks and locations,
before `delete` (never the target file system, the live one's location or
the template task).

`dry_run` lists what would go and what it would save, and changes nothing.
A scheduled run applies the policy (`dry_run` defaults to false); tick
`dry_run` in the trigger form to look first. The `plan` task's log has the
table (set, keep/delete, reason, cost); `summary` has the monthly cost kept
and removed per component.
"""

from __future__ import annotations

from typing import Any

# Named here so that the dag-processor imports them once and forks every later parse of
# this file with them loaded ([dag_processor] parsing_pre_import_modules, on by default).
# The S3 hook (boto3) comes in through the backup-set Asset in dag_support: Airflow checks
# an Asset's URI with every provider's asset handlers, the amazon provider's among them.
import airflow.api_fastapi.auth.managers.models.resource_details
import airflow.providers.amazon.aws.assets.s3
import airflow.providers.amazon.aws.hooks.s3
import airflow.providers.common.compat.notifier
import airflow.providers.common.io.assets.file
import airflow.providers.standard.decorators.python
import airflow.sdk.definitions.decorators  # noqa: F401
from airflow.sdk import DAG, Param, task

from ue_backup.compat import TriggerRule
from ue_backup.dag_shape import retention_steps_needed
from ue_backup.dag_support import (
    RETENTION,
    START_DATE,
    dag_shape,
    default_args,
    only_if,
    refuse_unbuilt_steps,
    retention_schedule,
)
from ue_backup.run_settings import RetentionRunSettings
from ue_backup.tasks.retention_datasync import RetentionDataSyncOperator
from ue_backup.tasks.retention_delete import RetentionDeleteOperator
from ue_backup.triggers.waits import SHORT_WAIT_INLINE_SECONDS, poll_interval

# The optional steps this configuration needs (dag_shape): the DataSync step or not.
SHAPE = dag_shape()

with DAG(
    dag_id="ue_backup_retention",
    description="Delete backup sets beyond the retention policy, never the newest restorable one",
    doc_md=__doc__,
    schedule=retention_schedule(),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["ue-backup", "retention"],
    render_template_as_native_obj=True,
    params={
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Only list what would be deleted and what it would save; change nothing.",
        ),
        "keep_sets": Param(
            None,
            type=["null", "array"],
            items={"type": "string"},
            title="Also keep these backup sets",
            description="Set ids kept whatever their age (e.g. one a later restore will use).",
        ),
    },
) as dag:

    @task
    def validate(params: dict[str, Any] | None = None, **context: Any) -> dict[str, Any]:
        """Refuse bad params and configuration, and deleting while a restore runs."""
        from ue_backup.tasks.retention_steps import validate as run_validate

        settings = run_validate(params or {}, context)
        needed = retention_steps_needed(RetentionRunSettings.model_validate(settings))
        refuse_unbuilt_steps(context["ti"], needed)
        return settings

    @task
    def inventory(**context: Any) -> dict[str, Any]:
        """List every artifact that may be this installation's, and the restore planner's view."""
        from ue_backup.tasks.retention_steps import inventory as run_inventory

        return run_inventory(context["ti"].xcom_pull(task_ids="validate"))

    @task
    def plan(**context: Any) -> dict[str, Any]:
        """Decide keep or delete per set (pure), and log it as a table with the costs."""
        from ue_backup.tasks.retention_steps import plan as run_plan

        ti = context["ti"]
        return run_plan(ti.xcom_pull(task_ids="validate"), ti.xcom_pull(task_ids="inventory"))

    # Delete the artifacts of the sets the plan gives up (skipped in a dry run), refusing while
    # a restore runs (one may have started since validate); waits for Velero in the triggerer.
    # A DataSync copy must be gone by then (delete_datasync_copies, when built, runs first).
    delete = RetentionDeleteOperator(
        task_id="delete",
        pre_execute=only_if(RETENTION.apply),
        trigger_rule=TriggerRule.NONE_FAILED,
    )

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def summary(**context: Any) -> dict[str, Any]:
        """What was (or would be) deleted, and the monthly cost kept and removed per component."""
        from ue_backup.tasks.retention_steps import summary as run_summary

        ti = context["ti"]
        return run_summary(
            ti.xcom_pull(task_ids="validate"),
            ti.xcom_pull(task_ids="plan"),
            ti.xcom_pull(task_ids="delete"),
        )

    planned = validate() >> inventory() >> plan()
    if SHAPE.efs_datasync:
        # DataSync: each doomed set's folder removed by a Job on the target file system (the
        # task waits for it in the triggerer), then its task and location; skipped in a dry
        # run. Refuses while a restore runs, as delete does.
        datasync = RetentionDataSyncOperator(
            task_id="delete_datasync_copies",
            namespace=RETENTION.namespace,
            job=RETENTION.jobs,
            kubernetes_conn_id=RETENTION.kubernetes_conn_id,
            pre_execute=only_if(RETENTION.delete_datasync),
            # removing a folder takes seconds to minutes: checked in the worker for a few
            # seconds first, then in the triggerer (the Job's deadline bounds the wait)
            poke_interval=poll_interval(10),
            inline_wait_seconds=SHORT_WAIT_INLINE_SECONDS,
        )
        planned >> datasync >> delete
    else:
        planned >> delete
    delete >> summary()
