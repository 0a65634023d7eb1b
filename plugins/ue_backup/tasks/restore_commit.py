"""An in-place restore changes the live system all at once or not at all.

The restore prepares every component beside the live one first: the
restored instance and cluster available, the EFS restore job done, its tree
staged as ``ue-backup-restoring_<id>/`` and checked clean, Velero's restore
done. Only then does ``commit_point`` succeed; after it, and only after it,
``switch_over_database`` renames the instances and ``place_efs`` sets the live
tree aside and moves the restored one to the root. The teardown
``resume_workflows`` asks ``stage`` where the run stopped:

- ``untouched`` (it stopped before the commit point): nothing live was
  changed; the ECDs go back to exactly what they were, this restore's trees
  have been removed from the live file system (``discard_restored_tree``),
  and what it created elsewhere (instance, cluster, Velero restore) is named
  in the run's failure for the operator to delete;
- ``committed``: every commit step succeeded; the workflows are resumed,
  unless the application checks (``check_application``) failed: the ECDs are
  then held and the task fails naming the failed checks, what is live and
  how to roll back (``checks_failed_report``); or unless MemoryDB was
  restored too: a cluster cannot be renamed, so the
  platform still points at the live cluster, newer than the restored
  database and files. The ECDs are then held as in ``half`` and the task
  fails (so the alert fires) naming what is live, the restored cluster and
  its endpoint to point the platform at, and the commands that resume the
  ECDs afterwards (``repoint_report``);
- ``half``: the commit began and did not finish. The ECDs stay off, held for
  good (``EcdHook.hold``: the watchdog leaves them alone), nothing set aside
  is touched, and the task fails naming what is live now and how to roll
  back. Nothing rolls back by itself: a rename or a move undone in a hurry
  could lose the one good copy; the operator chooses.

Side by side nothing live is ever changed: the stage is always ``untouched``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ue_backup.datasync_sets import restore_folder, restore_task_name
from ue_backup.errors import PermanentFailure
from ue_backup.restore_scripts import (
    ASIDE_PREFIX,
    PLACING_MARKER,
    RESTORE_DIR_PREFIX,
    STAGE_PREFIX,
)
from ue_backup.run_settings import RestorePlanResult, RestoreRunSettings
from ue_backup.states import state_value

log = logging.getLogger(__name__)

COMMIT_POINT = "commit_point"
# The steps after the commit point that change the live system, in their order.
COMMIT_TASKS = ("switch_over_database", "place_efs")
DISCARD_TASK = "discard_restored_tree"
# The application checks, after the commit (in place): a failure holds the workflows.
CHECK_TASK = "check_application"


def _hook(run: RestoreRunSettings, hook_class: type) -> Any:
    """A hook of ``hook_class`` for the run: its connection, region and retries."""
    return hook_class(
        aws_conn_id=run.aws_conn_id, region_name=run.region, config=run.aws_botocore_config
    )


def _plan_of(planned: Mapping[str, Any] | None) -> RestorePlanResult | None:
    """``plan``'s XCom, typed; None when the run stopped before it planned."""
    return RestorePlanResult.model_validate(planned) if planned else None


def built_commit_tasks(states: Mapping[str, Any]) -> list[str]:
    """The commit steps this run has: every task of the run has a state entry (None before
    it ran); a step its DAG never built (no database switch-over for Derby, ``DagShape``)
    has none, and has nothing to finish."""
    return [task for task in COMMIT_TASKS if task in states]


# The plan's flag that makes each commit step necessary (a step it does not need may skip).
COMMIT_NEEDS = {"switch_over_database": "switch_over_database", "place_efs": "restore_efs"}


def stage(states: Mapping[str, Any], plan: RestorePlanResult | None = None) -> str:
    """``untouched``, ``committed`` or ``half``, from the run's task states.

    A commit step that never ran (``None``) or was ``removed`` from the run
    counts as not done: the live system may be half changed. So does a step
    the ``plan`` needs that was ``skipped`` (the run marked failed by hand
    while it waited): only a step the plan does not need may skip.
    """
    states = {task: state_value(state) for task, state in states.items()}
    if states.get(COMMIT_POINT) != "success":
        return "untouched"

    def done(task: str) -> bool:
        needed = plan is not None and getattr(plan, COMMIT_NEEDS[task])
        return states[task] == "success" or (states[task] == "skipped" and not needed)

    if all(done(task) for task in built_commit_tasks(states)):
        return "committed"
    return "half"


def checks_not_passed(plan: RestorePlanResult | None, states: Mapping[str, Any]) -> str | None:
    """The application checks' state when the plan runs them and they did not pass.

    Fails closed: a check that failed, was skipped (the run marked failed while
    it waited), was removed, or never ran leaves the restore unverified.
    """
    if not (plan and plan.check_application):
        return None
    state = state_value(states.get(CHECK_TASK))
    return None if state == "success" else (state or "not run")


class WorkflowsHeld(PermanentFailure):
    """The restore's teardown kept the workflows off; the message says what is live and why.

    ``resume_workflows`` pushes the message as its XCom ``summary`` before it
    fails, so the run's outcome repeats it instead of guessing.
    """


# The step after which each planned component is restored and checked (restore_chain).
READY_STEPS = {
    "restore_database": "wait_database",
    "restore_efs": "check_efs_clean",
    "restore_memorydb": "wait_memorydb",
    "restore_velero": "wait_kubernetes",
}


def not_ready(plan: RestorePlanResult, states: Mapping[str, Any]) -> list[str]:
    """Each planned component whose ready step did not succeed, as ``step (state)``.

    The commit point's trigger rule lets it run after skipped steps, and a
    component taken out of the configuration file while the run waited has
    its steps ``removed``: neither may reach the point of no return.
    """
    states = {task: state_value(state) for task, state in states.items()}
    return [
        f"{step} ({states.get(step) or 'not in this run'})"
        for flag, step in READY_STEPS.items()
        if getattr(plan, flag) and states.get(step) != "success"
    ]


def commit(
    settings: Mapping[str, Any], planned: Mapping[str, Any], states: Mapping[str, Any]
) -> dict[str, Any]:
    """The commit point: every restored component is ready; from here the live system changes.

    Refuses, with nothing live changed, unless every component the plan
    restores reached its ready step (``not_ready``).
    """
    run = RestoreRunSettings.model_validate(settings)
    missing = not_ready(RestorePlanResult.model_validate(planned), states)
    if missing:
        raise PermanentFailure(
            f"the in-place restore {run.restore_id} does not commit: planned components are "
            f"not ready: {', '.join(missing)}. Nothing live was changed; the workflows are "
            "resumed as they were."
        )
    held = hold_for_commit(run, RestorePlanResult.model_validate(planned))
    log.info(
        "Every restored component of %s is ready: committing (the database switch-over, "
        "then the EFS placement). A failure from here keeps the workflows off; held until "
        "resume_workflows: %s.",
        run.restore_id,
        held,
    )
    return {"restore_id": run.restore_id, "at": datetime.now(UTC).isoformat(), "held": held}


HOLD_WHILE_COMMITTING = (
    "an in-place restore is replacing the live data: resume_workflows resumes it once the "
    "commit is done; see that run's log"
)


def hold_for_commit(run: RestoreRunSettings, plan: RestorePlanResult) -> list[str]:
    """Before the first live change: the suspensions lose their resume deadline.

    The suspend step gave them one (``max_window_minutes``) so that a run killed
    while nothing live had changed cannot leave the workflows off for good. From
    the commit on, the watchdog must never resume them (nor scale Derby's writer
    back) on a half-placed tree, whether the run is slow or killed: they are held
    (``EcdHook.hold``, ``PlatformHook.hold``), and only ``resume_workflows`` (or the
    operator, with its commands) resumes them. Idempotent. Returns what is held.
    """
    from ue_backup.hooks.ecd import EcdHook

    owners = list(plan.resume_owners or [run.restore_id])
    hook = EcdHook(conn_id=run.kubernetes_conn_id)
    held = sorted(
        {
            name
            for owner in owners
            for name in hook.hold(run.namespace, owner, HOLD_WHILE_COMMITTING)
        }
    )
    workload = run.platform
    if workload:
        from ue_backup.hooks.derby_platform import PlatformHook

        platform = PlatformHook(conn_id=run.kubernetes_conn_id)
        for owner in owners:
            if platform.hold(
                run.namespace, workload["kind"], workload["name"], owner, HOLD_WHILE_COMMITTING
            ):
                held.append(f"{workload['kind']}/{workload['name']}")
    return held


def discard_needed(context: Any) -> None:
    """``pre_execute`` of ``discard_restored_tree``: run only where there is something to remove.

    In place, once the EFS restore job was started, and never once the
    commit point was passed (the trees are then the operator's to judge).
    """
    from ue_backup.compat import AirflowSkipException

    ti = context["ti"]
    settings = ti.xcom_pull(task_ids="validate")
    run = RestoreRunSettings.model_validate(settings) if settings else None
    if run is None or not run.in_place:
        raise AirflowSkipException("side by side: nothing of the restore is on a live file system")
    if ti.xcom_pull(task_ids="restore_efs") is None:
        raise AirflowSkipException("no EFS restore job was started: nothing to remove")
    if ti.xcom_pull(task_ids=COMMIT_POINT) is not None:
        raise AirflowSkipException("the commit point was passed: the trees stay as they are")
    started = ti.xcom_pull(task_ids="restore_efs")
    if "job_id" in started:
        wait_for_restore_job_end(run, started["job_id"])
        return
    copy = ti.xcom_pull(task_ids="copy_efs")  # a DataSync copy into the live file system
    if copy:
        wait_for_copy_end(run, copy["task_execution_arn"])


# EFS restore jobs in a final state: nothing writes into the live file system any more.
RESTORE_JOB_ENDED = ("COMPLETED", "ABORTED", "FAILED")
# How long one attempt of discard_restored_tree waits for a restore job still writing (its
# retries wait again); the poll's pace is the sensors' (UE_BACKUP_POLL_SECONDS in tests).
RESTORE_JOB_WAIT_MINUTES = 20
RESTORE_JOB_POLL_SECONDS = 30.0


def wait_for_restore_job_end(
    run: RestoreRunSettings, job_id: str, timeout_seconds: float | None = None
) -> str:
    """Wait until the EFS restore job has stopped writing into the live file system.

    The clean-up must not remove a tree the job is still writing: it would
    leave a partial tree at the live root. ``wait_efs`` may have failed or
    timed out, or the run been marked failed, while the job runs on, and
    AWS Backup cannot cancel a restore job. So the clean-up waits, bounded,
    for a final state and otherwise fails, removing nothing, naming the job
    and the directory it writes. Returns the job's final state.
    """
    import time

    from ue_backup.hooks.aws_backup import AwsBackupHook
    from ue_backup.transient import is_transient
    from ue_backup.triggers.waits import poll_interval

    timeout = RESTORE_JOB_WAIT_MINUTES * 60 if timeout_seconds is None else timeout_seconds
    deadline, interval = time.monotonic() + timeout, poll_interval(RESTORE_JOB_POLL_SECONDS)
    hook = _hook(run, AwsBackupHook)
    status = "not known"
    while True:
        try:
            status = hook.describe_restore_job(job_id).get("Status") or "not known"
        except Exception as error:
            if not is_transient(error):
                raise RuntimeError(
                    f"{still_writing(run, job_id, 'not known')}; describing it failed: {error}"
                ) from error
            log.warning("AWS Backup did not answer (%s): not yet", error)
        if status in RESTORE_JOB_ENDED:
            log.info("EFS restore job %s is %s: its trees can be removed", job_id, status)
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(still_writing(run, job_id, status))
        log.info("EFS restore job %s is %s: waiting before removing its trees", job_id, status)
        time.sleep(interval)


# DataSync executions in a final state (its copy writes nothing more).
COPY_ENDED = ("SUCCESS", "ERROR")


def wait_for_copy_end(
    run: RestoreRunSettings, execution_arn: str, timeout_seconds: float | None = None
) -> str:
    """As ``wait_for_restore_job_end``, for a DataSync copy into the live file system's
    ``ue-backup-restoring_<id>/``: the clean-up waits, bounded, until it stopped writing."""
    import time

    from ue_backup.hooks.datasync import DataSyncHook
    from ue_backup.transient import is_transient
    from ue_backup.triggers.waits import poll_interval

    timeout = RESTORE_JOB_WAIT_MINUTES * 60 if timeout_seconds is None else timeout_seconds
    deadline, interval = time.monotonic() + timeout, poll_interval(RESTORE_JOB_POLL_SECONDS)
    hook = _hook(run, DataSyncHook)
    status = "not known"
    while True:
        try:
            status = hook.describe_task_execution(execution_arn).get("Status") or "not known"
        except Exception as error:
            if not is_transient(error):
                raise
            log.warning("DataSync did not answer (%s): not yet", error)
        if status in COPY_ENDED:
            log.info("DataSync copy %s is %s: its tree can be removed", execution_arn, status)
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the DataSync copy {execution_arn} is {status}, not ended: it may still be "
                f"writing {STAGE_PREFIX}{run.restore_id}/ on the live file system "
                f"{run.efs_file_system_id}, so nothing was removed. Once it has ended (or "
                "you cancelled it), clear discard_restored_tree"
            )
        log.info("DataSync copy %s is %s: waiting before removing its tree", execution_arn, status)
        time.sleep(interval)


def still_writing(run: RestoreRunSettings, job_id: str, status: str) -> str:
    """Why nothing is removed yet: the job, the directory it writes, and what to do."""
    return (
        f"the EFS restore job {job_id} is {status}, not ended: it may still be writing an "
        f"{RESTORE_DIR_PREFIX}* directory at the root of the live file system "
        f"{run.efs_file_system_id}, so nothing was removed (AWS Backup cannot cancel "
        "a restore job). Once the job has ended, clear discard_restored_tree: it removes "
        f"that directory and {STAGE_PREFIX}{run.restore_id}/"
    )


def replaced_instance(run: RestoreRunSettings) -> str:
    """The name the switch-over gives the instance that was live (the switch-over's own)."""
    from ue_backup.switch_over import replaced_name

    return replaced_name(run.rds_instance, run.restore_id)


def resume_after_restore(
    settings: Mapping[str, Any],
    planned: Mapping[str, Any],
    states: Mapping[str, Any],
    checks: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The restore's teardown: resume, or hold the workflows and say what is live.

    Returns ``{"stage", "outcomes", "left_over", "summary"}``; raises
    ``WorkflowsHeld``, after holding the ECDs, when the commit began and did
    not finish, when it finished and the application checks failed
    (``checks``: their summary, when they returned one), or when it finished
    with MemoryDB restored (the platform must first be pointed at the
    restored cluster).
    """
    from ue_backup.hooks.ecd import EcdHook
    from ue_backup.operators.ecd import resume_platform

    run, plan = RestoreRunSettings.model_validate(settings), _plan_of(planned)
    hook = EcdHook(conn_id=run.kubernetes_conn_id)
    namespace, rid = run.namespace, run.restore_id
    where = stage(states, plan) if run.in_place else "untouched"
    owners = list((plan.resume_owners if plan else None) or [rid])
    if where in ("half", "committed"):  # a failure below holds Derby's writer too
        hold_platform(run, owners, where, states, plan)
    stopped = stopped_platform(run, owners) if where in ("half", "committed") else None
    if where == "half":
        held = sorted({name for owner in owners for name in hook.hold(namespace, owner, HOLD)})
        raise WorkflowsHeld(
            half_done_report(run, plan, states, held)
            + "\n"
            + resume_commands(namespace, held_suspensions(hook, namespace, owners), stopped)
        )
    unverified = checks_not_passed(plan, states) if where == "committed" else None
    if unverified:
        held = sorted(
            {name for owner in owners for name in hook.hold(namespace, owner, HOLD_FOR_CHECKS)}
        )
        raise WorkflowsHeld(
            checks_failed_report(run, plan, states, held, checks, unverified)
            + "\n"
            + resume_commands(namespace, held_suspensions(hook, namespace, owners), stopped)
        )
    if where == "committed" and run.in_place and plan and plan.restore_memorydb:
        for owner in owners:
            hook.hold(namespace, owner, HOLD_FOR_MEMORYDB)
        raise WorkflowsHeld(
            repoint_report(run, plan, held_suspensions(hook, namespace, owners), stopped)
        )
    if where == "untouched":
        owners = [rid]  # what Velero brought back with the backup set's suspension stays off
    outcomes: dict[str, str] = {}
    # The platform (Derby's writer) first, now that the tree is placed and checked.
    outcomes.update(resume_platform(run.kubernetes_conn_id, namespace, run.platform, owners, log))
    for owner in owners:
        outcomes.update(hook.resume(namespace, owner))
    for name, outcome in sorted(outcomes.items()):
        log.info("ECD %s: %s", name, outcome)
    left = left_over(run, plan, states) if run.in_place else []
    failed = sorted(t for t, s in states.items() if state_value(s) in ("failed", "upstream_failed"))
    summary = ""
    if where == "untouched" and failed and run.in_place:
        summary = (
            f"the in-place restore {rid} stopped before its commit point: nothing live was "
            f"changed and the workflows are as they were ({_outcomes(outcomes)})"
        )
        if left:
            summary += "; left over for you to delete: " + "; ".join(left)
        log.warning("%s", summary)
    return {"stage": where, "outcomes": outcomes, "left_over": left, "summary": summary}


def hold_platform(
    run: RestoreRunSettings,
    owners: list[str],
    where: str,
    states: Mapping[str, Any],
    plan: RestorePlanResult | None,
) -> None:
    """Keep Derby's writer stopped with the workflows when they are held (no deadline).

    A half-done commit, or a placed tree whose checks did not pass: the platform must not
    open a Derby that is not proven whole. The report's resume commands scale it back
    first (``resume_commands``), then resume the ECDs.
    """
    workload = run.platform
    if not workload:
        return
    repoint = run.in_place and plan and plan.restore_memorydb
    if where == "committed" and not checks_not_passed(plan, states) and not repoint:
        return
    from ue_backup.hooks.derby_platform import PlatformHook

    hook = PlatformHook(conn_id=run.kubernetes_conn_id)
    for owner in owners:
        if hook.hold(run.namespace, workload["kind"], workload["name"], owner, HOLD):
            log.error(
                "Platform %s/%s stays at zero replicas (held for %s): scale it back to its "
                "ue-backup/previous-replicas once the system is consistent",
                workload["kind"],
                workload["name"],
                owner,
            )


def stopped_platform(run: RestoreRunSettings, owners: list[str]) -> Any:
    """Derby's writer when one of ``owners`` keeps it at zero (a ``PlatformSuspension``)."""
    workload = run.platform
    if not workload:
        return None
    from ue_backup.hooks.derby_platform import PlatformHook

    hook = PlatformHook(conn_id=run.kubernetes_conn_id)
    found = hook.suspension(run.namespace, workload["kind"], workload["name"])
    return found if found and found.owner in owners else None


HOLD = "an in-place restore failed during its commit: see the run's resume_workflows log"
HOLD_FOR_CHECKS = (
    "an in-place restore is done but its application checks failed: see the run's "
    "resume_workflows log"
)
HOLD_FOR_MEMORYDB = (
    "an in-place restore is done but the platform still uses the live MemoryDB cluster: "
    "see the run's resume_workflows log"
)


def held_suspensions(hook: Any, namespace: str, owners: list[str]) -> list[Any]:
    """The held ECDs' suspensions (``hooks.ecd.Suspension``), each once, by name."""
    found = {s.name: s for owner in owners for s in hook.suspensions(namespace, owner)}
    return [found[name] for name in sorted(found)]


def resume_commands(namespace: str, suspensions: list[Any], platform: Any = None) -> str:
    """The commands that resume each held ECD exactly as ``EcdHook.resume`` would.

    ``spec.enabled`` back to its ``ue-backup/previous-enabled`` value (null
    removes a field that was absent) and every ``ue-backup/`` annotation
    removed, in one merge patch per ECD. ``platform`` (a ``PlatformSuspension``):
    Derby's writer, held at zero with them, is scaled back first, as
    ``PlatformHook.resume`` would (its workflows need the database it opens).
    """
    from ue_backup.hooks.derby_platform import PLATFORM_ANNOTATIONS
    from ue_backup.hooks.ecd import SUSPENSION_ANNOTATIONS
    from ue_backup.kube_names import ECD_GROUP, ECD_PLURAL

    lines = []
    if platform is not None:
        patch = {
            "metadata": {"annotations": dict.fromkeys(PLATFORM_ANNOTATIONS)},
            "spec": {"replicas": platform.previous_replicas},
        }
        lines += [
            "First scale the platform (Derby's writer) back to its replicas:",
            f"  kubectl -n {namespace} patch {platform.kind.lower()} {platform.name} "
            f"--type merge -p '{json.dumps(patch, separators=(',', ':'))}'",
        ]
    if not suspensions:
        return "\n".join([*lines, "ECDs: none was suspended: nothing to resume."])
    lines.append("To resume the ECDs afterwards, run for each (it is what the restore would do):")
    for suspension in suspensions:
        patch = {
            "metadata": {"annotations": dict.fromkeys(SUSPENSION_ANNOTATIONS)},
            "spec": {"enabled": suspension.previous_enabled},
        }
        lines.append(
            f"  kubectl -n {namespace} patch {ECD_PLURAL}.{ECD_GROUP} {suspension.name} "
            f"--type merge -p '{json.dumps(patch, separators=(',', ':'))}'"
        )
    return "\n".join(lines)


def repoint_report(
    run: RestoreRunSettings, plan: RestorePlanResult, held: list[Any], platform: Any = None
) -> str:
    """A complete in-place commit with MemoryDB: what is live, and what the operator does now.

    The restored database and files are live, but MemoryDB cannot rename a
    cluster: the platform still points at the live one, whose state is newer
    than both. Workflows must not run on that mix, so they stay off until the
    platform points at the restored cluster.
    """
    rid, live_cluster, restored = run.restore_id, run.memorydb_cluster, run.memorydb_target
    lines = [
        f"ACTION REQUIRED: the in-place restore {rid} replaced the live data, but the "
        "workflows were NOT resumed: the platform still uses the LIVE MemoryDB cluster "
        f"{live_cluster}, whose state is newer than the restored database and files.",
    ]
    if plan.switch_over_database:
        lines.append(database_now(run))
    if plan.restore_efs:
        lines.append(efs_now(run, "success"))
    lines.append(f"MemoryDB: the platform still uses the LIVE cluster {live_cluster}.")
    lines.append(
        f"Point the platform at the restored MemoryDB cluster {restored} "
        f"({cluster_endpoint(run, restored)}): MemoryDB cannot rename a cluster, so the "
        "restore cannot put it in the live one's place."
    )
    lines.append(
        f"ECDs: kept off and held (no resume deadline, so the watchdog leaves them): "
        f"{', '.join(s.name for s in held) or 'none'}."
    )
    lines.append(resume_commands(run.namespace, held, platform))
    lines.append(
        f"Then {live_cluster} is yours to delete once you no longer need it. To go back "
        f"instead, roll the database and EFS back as above, delete {restored} and resume the "
        "ECDs the same way."
    )
    return "\n".join(lines)


def cluster_endpoint(run: RestoreRunSettings, cluster: str) -> str:
    """``endpoint host:port`` of a MemoryDB cluster, or why it is not known."""
    from ue_backup.hooks.memorydb import MemoryDbHook

    try:
        endpoint = _hook(run, MemoryDbHook).describe_cluster(cluster)["ClusterEndpoint"]
        return f"endpoint {endpoint['Address']}:{endpoint['Port']}"
    except Exception as error:  # the report must be given even when this is not known
        log.warning("The endpoint of MemoryDB cluster %s is not known: %s", cluster, error)
        return f"endpoint not known: {error}; see its ClusterEndpoint"


def _outcomes(outcomes: Mapping[str, str]) -> str:
    return ", ".join(f"{n}: {o}" for n, o in sorted(outcomes.items())) or "none was suspended"


def left_over(
    run: RestoreRunSettings, plan: RestorePlanResult | None, states: Mapping[str, Any]
) -> list[str]:
    """What a restore stopped before its commit point created and did not remove."""
    states = {task: state_value(state) for task, state in states.items()}
    rid, left = run.restore_id, []
    if plan is None:
        return left
    if plan.restore_database and states.get("restore_database") == "success":
        left.append(f"the restored RDS instance {run.rds_target}")
    if plan.restore_memorydb and states.get("restore_memorydb") == "success":
        left.append(f"the restored MemoryDB cluster {run.memorydb_target}")
    if plan.restore_velero and states.get("restore_kubernetes") == "success":
        left.append(
            f"what the Velero restore {rid} created (labelled velero.io/restore-name={rid}), "
            "ECDs disabled"
        )
    if (
        plan.restore_efs
        and states.get("restore_efs") == "success"
        and states.get(DISCARD_TASK) != "success"
    ):
        made = (
            "(if its DataSync copy still runs, wait for it to end first)"
            if plan.copy_efs
            else f"and any {RESTORE_DIR_PREFIX}* directory made by this restore (if its EFS "
            "restore job still runs, wait for it to end first: AWS Backup cannot cancel it)"
        )
        left.append(
            f"on the live file system {run.efs_file_system_id} (the Job "
            f"{DISCARD_TASK} did not remove them): {STAGE_PREFIX}{rid}/ {made}"
        )
    copied = plan.copy_efs and states.get("copy_efs") == "success"
    if copied and states.get("release_efs_copy") != "success":
        left.append(
            f"the DataSync task {restore_task_name(rid)} and its destination location (at "
            f"{restore_folder(rid)}/ of the file system; DataSync allows 100 tasks per "
            "region); never the set's own task or its folder"
        )
    return left


def half_done_report(
    run: RestoreRunSettings,
    plan: RestorePlanResult | None,
    states: Mapping[str, Any],
    held: list[str],
) -> str:
    """What is live after a commit that began and did not finish, and how to roll back."""
    states = {task: state_value(state) for task, state in states.items()}
    rid = run.restore_id
    steps = ", ".join(f"{task}: {states[task]}" for task in built_commit_tasks(states))
    lines = [
        f"The in-place restore {rid} failed during its commit ({steps}). "
        "The workflows were NOT resumed: the live system may mix restored and live data.",
    ]
    return "\n".join(lines + live_now(run, plan, states, held))


def checks_failed_report(
    run: RestoreRunSettings,
    plan: RestorePlanResult | None,
    states: Mapping[str, Any],
    held: list[str],
    checks: Mapping[str, Any] | None,
    state: str = "failed",
) -> str:
    """What is live after a complete commit whose application checks did not pass."""
    from ue_backup.app_checks import failures_of

    failures = failures_of(dict(checks) if checks else None)
    if failures:
        why = "failed: " + "; ".join(failures)
    elif state == "failed":
        why = f"failed without results ({CHECK_TASK}'s log says why: the Job could not run)"
    else:
        why = f"did not run ({CHECK_TASK}: {state})"
    lines = [
        f"The in-place restore {run.restore_id} is committed, but its application checks "
        f"{why}. The workflows were NOT resumed: resuming onto data not shown consistent "
        "would be worse. Find out why (a restore that broke a reference, or a check "
        "that no longer fits the data), then roll back or resume as below."
    ]
    return "\n".join(lines + live_now(run, plan, states, held))


def live_now(
    run: RestoreRunSettings,
    plan: RestorePlanResult | None,
    states: Mapping[str, Any],
    held: list[str],
) -> list[str]:
    """Per component, what is live now and how to undo it; then the held ECDs."""
    lines = []
    if plan and plan.switch_over_database:
        lines.append(database_now(run))
    if plan and plan.restore_efs:
        lines.append(efs_now(run, state_value(states.get("place_efs"))))
    if plan and plan.restore_memorydb:
        lines.append(
            "MemoryDB: nothing swapped (a cluster cannot be renamed): the platform still uses "
            f"{run.memorydb_cluster}; the restored cluster is {run.memorydb_target}."
        )
    lines.append(
        f"ECDs: kept off and held (no resume deadline, so the watchdog leaves them): "
        f"{', '.join(held) or 'none'}. Once the system is consistent, switch each back to its "
        "ue-backup/previous-enabled value and remove its ue-backup/ annotations."
    )
    return lines


def database_now(run: RestoreRunSettings) -> str:
    """Which instance carries the live name now, read from RDS, and the renames that undo it.

    Read as the switch-over reads it (status, ``PendingModifiedValues``): a
    rename RDS has not finished shows the old id ``renaming`` and no new id.
    """
    from ue_backup.hooks.rds import RdsHook
    from ue_backup.switch_over import describe

    live, restored, aside = run.rds_instance, run.rds_target, replaced_instance(run)
    seen = _hook(run, RdsHook).instance_states((restored, live, aside))
    renaming = [name for name, instance in seen.items() if instance and instance.in_rename]
    if renaming:
        return (
            f"Database: a rename is under way ({describe(seen)}): wait until RDS shows no "
            f"instance renaming, then read the states again: {restored} -> {live} finishes the "
            f"switch-over; {aside} back to {live} rolls it back."
        )
    found = tuple(seen[name] is not None for name in (live, aside, restored))
    if found == (True, False, True):
        return (
            f"Database: not switched over: {live} is still the instance that was live; "
            f"the restored one is {restored}. Nothing to roll back."
        )
    if found == (False, True, True):
        return (
            f"Database: NO instance carries the live name {live}: the one that was live is "
            f"now {aside}, the restored one is still {restored}. Roll back: rename {aside} to "
            f"{live}. Go forward: rename {restored} to {live}."
        )
    if found == (True, True, False):
        return (
            f"Database: switched over: {live} is the RESTORED instance; the one that was live "
            f"is {aside}. Roll back: rename {live} to {restored}, then {aside} to {live}."
        )
    return f"Database: unexpected instances: {describe(seen)}."


def efs_now(run: RestoreRunSettings, placed: str | None) -> str:
    """Where the live and the restored trees are on the live file system, and how to undo it."""
    fs, rid = run.efs_file_system_id, run.restore_id
    aside, staged = f"{ASIDE_PREFIX}{rid}/", f"{STAGE_PREFIX}{rid}/"
    if placed == "success":
        return (
            f"EFS {fs}: the restored tree is at the root; the data that was live is in {aside}. "
            f"Roll back: move the root's entries (but {aside}) into a new folder, then the "
            f"entries of {aside} back to the root."
        )
    if placed in (None, "upstream_failed", "skipped", "removed"):
        return (
            f"EFS {fs}: not touched: the live data is at the root; the restored tree waits in "
            f"{staged}. Roll back: delete {staged}."
        )
    return (
        f"EFS {fs}: the placement Job ({placed}) may have stopped part-way; each entry is in "
        f"one of three places: {aside} (the data that was live), {staged} (restored, not yet "
        f"placed), or the root (live data not yet set aside while {PLACING_MARKER} is absent; "
        f"restored data already placed once {PLACING_MARKER} names {rid}). Go forward: clear "
        f"place_efs, whose Job finishes the placement. Roll back: if {PLACING_MARKER} names "
        f"{rid}, move the root's entries (but {aside}, {staged}) into {staged}; then move the "
        f"entries of {aside} back to the root."
    )
