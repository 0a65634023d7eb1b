"""
### ue_restore: restore a consistent backup set of one Usage Engine installation

Plans first, always: lists what AWS and Kubernetes hold and asks the planner
for a combination whose **database point is strictly older than its EFS and
MemoryDB points**. Mode `plan` stops there (a dry run: nothing changes).

Mode `restore` restores RDS, EFS and MemoryDB in parallel, removes the
temporary files from the restored EFS tree before any workflow can see it,
restores the Kubernetes resources beside them with every ECD kept
disabled, checks the restored tree, runs the configured application checks
(`verification`) on the restored system, and only then resumes. In place, a
failed application check keeps the workflows off (resuming onto
inconsistent data would be worse) and names the check and what is missing. Target
`side_by_side` (the default) creates new resources named after the
restore; `in_place` replaces the live ones, only once approved: the run
stops after `plan` at `approve_in_place` and waits for a person to approve
it in the run's Required Actions, where the plan and exactly what will be
replaced and set aside are shown (Airflow 3.1+; reject, or no answer within
4 hours, ends the run with nothing changed). `confirm` set to the
installation name approves it ahead, for scripts, and is the only way on
Airflow 3.0.

In place, nothing live changes until every restored component is ready
(`commit_point`); then the database is switched over and the EFS tree
placed. A failure before that point leaves the live system as it was (the
workflows as they were, the restore's trees removed from the live file
system, what else it created named in the run's failure); a failure after
it keeps the workflows off and names what is live and how to roll back
(`resume_workflows` fails with it). MemoryDB cannot be renamed: a complete
in-place restore with MemoryDB also keeps the workflows off and fails,
naming the restored cluster to point the platform at and how to resume.

A backfill run (`point_in_time` without a target time) restores to the
run's logical date.

`source_region` set to the configured copy region (`cross_region.region`)
plans from the set's copies there and restores there, side by side: the
disaster-recovery path when the home region is lost. The Kubernetes steps
use the `kubernetes_default` connection, which must then name a cluster
in that region.
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
from airflow.sdk import DAG, chain, task

from ue_backup.compat import TriggerRule
from ue_backup.dag_shape import restore_steps_needed
from ue_backup.dag_support import (
    PLANNED,
    RESTORE,
    START_DATE,
    dag_shape,
    default_args,
    expression,
    fail_run_if_any_task_failed,
    fail_run_if_not_approved,
    installation_for_form,
    only_if,
    refuse_unbuilt_steps,
    xcom,
)
from ue_backup.forms import restore_params
from ue_backup.notifications import UnlessInPlaceNotifier
from ue_backup.operators.approval import HUMAN_IN_THE_LOOP, InPlaceApprovalOperator
from ue_backup.operators.ecd import EcdSuspendOperator
from ue_backup.operators.kube_job import KubeEfsJobOperator
from ue_backup.operators.rds_switch_over import RdsSwitchOverOperator
from ue_backup.restore_chain import (
    EfsJob,
    RestoreChainSpec,
    bring_back_locked_copies,
    check_application,
    restore_chain,
)
from ue_backup.restore_scripts import (
    check_staged_tree,
    discard_staged_tree,
    place_staged_tree,
    restore_dir_name_since,
    stage_restored_tree,
)
from ue_backup.run_settings import RestorePlanResult, RestoreRunSettings
from ue_backup.sensors.ecd import EcdDrainedSensor
from ue_backup.states import run_task_states
from ue_backup.switch_over import SWITCH_OVER_TIMEOUT
from ue_backup.tasks.restore_commit import discard_needed
from ue_backup.tasks.run_guard import refuse_while_running
from ue_backup.triggers.waits import critical_path_wait

# validate's RestoreRunSettings and plan's RestorePlanResult (ue_backup.run_settings):
# RESTORE.<field> and PLANNED.<field> are their templates, checked when this file is parsed.
# Every AWS step retries as the configuration says (aws_retries; ue_backup.aws).
AWS = {
    "aws_conn_id": RESTORE.aws_conn_id,
    "region_name": RESTORE.region,
    "botocore_config": RESTORE.aws_botocore_config,
}
K8S = {"kubernetes_conn_id": RESTORE.kubernetes_conn_id}
MOUNT = "/efs"
# The restore's id, which names what it creates (double quotes: it is also shell-quoted).
RID = RESTORE.restore_id
# This restore's EFS directory is named after a time past the suspension (empty side by side).
SINCE = (
    '{{ restore_dir_name_since((ti.xcom_pull(task_ids="suspend_workflows") or {})'
    '.get("window_start")) }}'
)
# The components the configuration file has (all of them with the Variable): no task for others.
SHAPE = dag_shape()


with DAG(
    dag_id="ue_restore",
    description="Plan and restore a consistent backup set (database older than disk)",
    doc_md=__doc__,
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["ue-backup", "restore"],
    render_template_as_native_obj=True,
    user_defined_macros={"restore_dir_name_since": restore_dir_name_since},
    # Sections, labels, help and what the form refuses: ue_backup.forms.
    params=restore_params(installation_for_form()),
) as dag:

    @task
    def validate(params: dict[str, Any] | None = None, **context: Any) -> dict[str, Any]:
        """Refuse bad params and configuration before anything is listed or changed."""
        from ue_backup.tasks.restore_steps import validate as run_validate

        return run_validate(params or {}, context)

    @task
    def plan(**context: Any) -> dict[str, Any]:
        """List what exists, plan with rule 1, log the plan; mode plan stops after this."""
        from ue_backup.tasks.restore_steps import plan as run_plan

        ti = context["ti"]
        planned = run_plan(ti.xcom_pull(task_ids="validate"))
        steps = RestorePlanResult.model_validate(planned)
        refuse_unbuilt_steps(
            ti,
            {**restore_steps_needed(steps), "bring_back_locked_copies": steps.from_immutable},
        )
        return planned

    settings, planned_restore = validate(), plan()
    settings >> planned_restore

    suspend = EcdSuspendOperator(
        task_id="suspend_workflows",
        namespace=RESTORE.namespace,
        label_selector=RESTORE.ecd_label_selector,
        names=RESTORE.ecd_names,
        max_window_minutes=RESTORE.max_window_minutes,
        suspended_by=RESTORE.restore_id,
        active=RESTORE.in_place,
        platform=RESTORE.platform,  # Derby's writer: stopped until the tree is placed, checked
        **K8S,
    )
    drained = EcdDrainedSensor(
        task_id="wait_workflows_drained",
        namespace=RESTORE.namespace,
        names=xcom("suspend_workflows", "drain"),  # every selected ECD's pods, the platform's
        drain_timeout_minutes=RESTORE.drain_timeout_minutes,
        **K8S,
        **critical_path_wait(),
    )
    # From the protected copies (params.source immutable): the planned locked points are
    # copied back into the installation's vault first, and restored from there.
    bring_back = None
    BROUGHT_BACK: dict[str, str] = {}
    if SHAPE.restore_from_immutable:
        bring_back, BROUGHT_BACK = bring_back_locked_copies(
            RESTORE, PLANNED, token_prefix=RID, home_region=RESTORE.home_region
        )
    # Preparation: nothing live is touched. In place the restore directory lies on the live
    # file system; it becomes ue-backup-restoring_<id>/, is purged and checked there.
    efs_job = {
        "namespace": RESTORE.namespace,
        "file_system_id": xcom("restored_file_system", "file_system_id"),
        "claim_name": f"{RID}-efs",
        "image": RESTORE.purge_image,
        "job": RESTORE.jobs,  # resources, TTL, deadline (config: kubernetes.jobs)
        "pre_execute": only_if(PLANNED.restore_efs),
        **K8S,
        **critical_path_wait(short=True),
    }
    spec = RestoreChainSpec(
        steps=PLANNED,
        settings_task="validate",
        settings_model=RestoreRunSettings,
        gate=only_if,
        aws=AWS,
        kubernetes=K8S,
        rds_target=RESTORE.rds_target,
        rds_source=RESTORE.rds_shape_source,
        # What the restore creates carries its id and installation: the IAM policy lets it
        # create an instance or a cluster only with them (include/iam, aws:RequestTag).
        tags={"ue-backup:installation": RESTORE.installation, "ue-backup:restore": RID},
        memorydb_target=RESTORE.memorydb_target,
        memorydb_source=RESTORE.memorydb_shape_source,
        backup_role_arn=RESTORE.backup_role_arn,
        efs_file_system_id=RESTORE.efs_file_system_id,
        efs_token=f"{RID}-efs",
        new_file_system=f"{{{{ not {expression(RESTORE.in_place)} }}}}",
        efs_job=efs_job,
        purge=EfsJob(f"{RID}-stage", stage_restored_tree(MOUNT, RID, SINCE)),
        check=EfsJob(f"{RID}-check", check_staged_tree(MOUNT, RID)),
        check_result_read=False,
        new_file_system_only=False,
        velero={
            "velero_namespace": RESTORE.velero_namespace,
            "restore_name": RID,
            "ecd_namespaces": [RESTORE.namespace],
            "existing_resource_policy": "none",
            "trigger_rule": TriggerRule.NONE_FAILED,
        },
        restore_id=RID,  # a DataSync copy's task: ue-backup-restore-<id>
        shape=SHAPE,
        # from the protected copies: the chosen set's recorded network, for what is restored
        # when the live resource is gone (None otherwise)
        recorded_network=PLANNED.recorded_network,
        # a new file system is shaped like the live one (restored_shape); None in the copy region
        efs_shape_source=RESTORE.efs_shape_source,
        **BROUGHT_BACK,
    )
    restored = restore_chain(spec)

    @task(
        trigger_rule=TriggerRule.NONE_FAILED,
        pre_execute=only_if(RESTORE.in_place),
    )
    def commit_point(**context: Any) -> dict[str, Any]:
        """In place: every restored component is ready; from here the live system changes."""
        from ue_backup.tasks.restore_commit import commit

        ti = context["ti"]
        states = run_task_states(ti)
        return commit(ti.xcom_pull(task_ids="validate"), ti.xcom_pull(task_ids="plan"), states)

    # In place: the restored instance takes the live name; the old one is set aside. Each
    # asynchronous rename is waited for in the triggerer (RdsSwitchOverOperator). Derby
    # (no RDS in the configuration file) has no database to switch over.
    switch_over = []
    if SHAPE.database:
        switch_over.append(
            RdsSwitchOverOperator(
                task_id="switch_over_database",
                live_instance=RESTORE.rds_instance,
                restored_instance=RESTORE.rds_target,
                restore_id=RID,
                pre_execute=only_if(PLANNED.switch_over_database),
                execution_timeout=SWITCH_OVER_TIMEOUT,  # the attempt gives up first, naming why
                **AWS,
            )
        )

    # The commit on disk (in place: the live data set aside, the staged tree to the root).
    place_efs = KubeEfsJobOperator(
        task_id="place_efs",
        job_name=f"{RID}-place",
        script=place_staged_tree(MOUNT, RID),
        trigger_rule=TriggerRule.NONE_FAILED,
        **efs_job,
    )
    # After a failure before the commit point: this restore's trees leave the live file system.
    discard_efs = KubeEfsJobOperator(
        task_id="discard_restored_tree",
        job_name=f"{RID}-discard",
        script=discard_staged_tree(MOUNT, RID, SINCE),
        retries=5,
        **{
            **efs_job,
            "file_system_id": RESTORE.efs_file_system_id,
            "pre_execute": discard_needed,
        },
    ).as_teardown(setups=suspend)

    # The application checks (config: verification) on what was restored, once it is in
    # place: side by side on the new resources, in place on what is live now. In place a
    # failure holds the workflows, and resume_workflows' alert names it (one alert).
    checks = []
    if SHAPE.app_checks:
        checks.append(
            check_application(
                spec,
                job_name=f"{RID}-verify",
                namespace=RESTORE.namespace,
                claim_name=f"{RID}-efs",
                job=RESTORE.jobs,
                trigger_rule=TriggerRule.NONE_FAILED,
                on_failure_callback=[UnlessInPlaceNotifier()],
            )
        )

    @task(retries=5)
    def resume_workflows(**context: Any) -> dict[str, Any]:
        """Resume, unless an in-place commit began and did not finish: then hold and say why.

        Before the commit point nothing live changed: the ECDs go back to exactly
        what they were. After a complete commit, the backup set's own suspension,
        which Velero brought back, is resumed too; with MemoryDB restored in place
        the ECDs are held instead, until the platform points at the restored
        cluster (the task fails, so the alert names it). See ``tasks.restore_commit``.
        """
        from ue_backup.tasks.restore_commit import WorkflowsHeld, resume_after_restore

        ti = context["ti"]
        states = run_task_states(ti)
        try:
            return resume_after_restore(
                ti.xcom_pull(task_ids="validate"),
                ti.xcom_pull(task_ids="plan") or {},
                states,
                checks=ti.xcom_pull(task_ids="check_application"),
            )
        except WorkflowsHeld as held:
            ti.xcom_push(key="summary", value=str(held))  # run_outcome repeats it
            raise

    resume = resume_workflows().as_teardown(setups=suspend, on_failure_fail_dagrun=True)

    # All done: a restore whose only failure is its application checks still reports
    # what exists (the failed checks in it); after any other failure it skips, and
    # run_outcome fails the run.
    @task(trigger_rule=TriggerRule.ALL_DONE)
    def report(**context: Any) -> dict[str, Any]:
        """What was restored, from which points, and what is left for the operator."""
        from ue_backup.tasks.restore_steps import (
            password_managed,
            refuse_report_after_failure,
            restore_report,
        )

        ti = context["ti"]
        refuse_report_after_failure(run_task_states(ti))
        return restore_report(
            ti.xcom_pull(task_ids="validate"),
            ti.xcom_pull(task_ids="plan"),
            efs=ti.xcom_pull(task_ids="restored_file_system"),
            resumed=ti.xcom_pull(task_ids="resume_workflows"),
            checks=ti.xcom_pull(task_ids="check_application"),
            password_managed=password_managed(ti),
        )

    # In place, nothing live changes before a person approves the plan (Airflow 3.1+; a run
    # approved ahead with confirm, and any other run, passes straight through).
    if HUMAN_IN_THE_LOOP:
        approve = InPlaceApprovalOperator(
            task_id="approve_in_place",
            before_going_ahead=lambda ti: refuse_while_running(ti, "ue_restore"),
        )
        planned_restore >> approve >> suspend
        fail_run_if_not_approved(approve, setup=planned_restore)
    else:  # Airflow 3.0: confirm is the only approval (validate refuses an in-place run without)
        planned_restore >> suspend
    suspend >> drained
    # Kubernetes resources are restored beside the data, not after it: every ECD comes
    # back disabled, and only the resume, after the data is placed and checked, enables.
    if bring_back:
        drained >> bring_back >> restored.starts
    else:
        drained >> restored.starts
    # The commit comes after every preparation, its steps back to back.
    prepared = restored.ready_steps()
    committed = commit_point()
    commit_steps = [committed, *switch_over, place_efs]
    prepared >> committed
    chain(*commit_steps)
    restored.ready["efs"] >> place_efs  # side by side (no commit point): placed once checked
    # The checks see the restore complete: every component ready, in place also committed.
    for check in checks:
        [*prepared, *commit_steps[1:]] >> check
    [*prepared, *commit_steps, *checks] >> discard_efs >> resume
    if SHAPE.restore_from_immutable and SHAPE.memorydb:

        @task
        def remove_staged_files(**context: Any) -> list[str]:
            """MemoryDB's locked files, staged for the new cluster: deleted once it is seeded."""
            from ue_backup.tasks.restore_steps import remove_staged_files as remove

            ti = context["ti"]
            return remove(
                ti.xcom_pull(task_ids="validate"), ti.xcom_pull(task_ids="bring_back_locked_copies")
            )

        restored.ready["memorydb"] >> remove_staged_files()
    # The report comes last; run_outcome fails the run when any step failed.
    [*prepared, *commit_steps[1:], *checks, resume] >> report()
    fail_run_if_any_task_failed(suspend, after=resume, summary_from="resume_workflows")
