"""The watchdog: resume ECDs that a dead run left suspended past their deadline.

A killed worker, a lost scheduler or a run deleted by hand can leave ECDs
switched off with nobody to switch them back. Their annotations say who
suspended them and until when; once the deadline has passed and the
suspending run is no longer running, the watchdog resumes them and says so
loudly. A run that is still running past its deadline is reported, not
overridden: it may be finishing its EFS job.

A Derby installation's platform (``database.derby.platform``), scaled to zero
by the window and recorded the same way (``hooks.derby_platform``), is treated like
an ECD: scaled back once its deadline has passed and its run is gone; a held
scale-down (no deadline) is left alone.

Both cases raise an alert (``alert(subject, message)``): a window still open
past its configured maximum once per window (the ECD records that it was
announced), and every resume the watchdog had to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ue_backup.hooks.ecd import EcdHook
from ue_backup.states import state_value

log = logging.getLogger(__name__)

LIVE_RUN_STATES = ("queued", "running")


def not_found(error: Exception) -> bool:
    """Whether a failed run lookup means the run (or its DAG) does not exist.

    The Execution API answers 404 (or 410) for a deleted run. A worker's task gets
    it as ``AirflowRuntimeError`` with the status in its ``ErrorResponse``; a task
    run in-process (``dag.test``) as the API client's ``ServerResponseError``, with
    the HTTP response. Anything else (a 5xx, a timeout, a lost connection) says
    nothing about the run.
    """
    detail = getattr(getattr(error, "error", None), "detail", None) or {}
    status = detail.get("status_code") if isinstance(detail, dict) else None
    response = getattr(error, "response", None)
    status = status or getattr(response, "status_code", None)
    return status in (404, 410)


def run_state(get_dagrun_state: Callable[[str, str], Any], run: str) -> str:
    """The state of ``<dag_id>/<run_id>``: ``"gone"`` when Airflow no longer knows it,
    ``"unknown"`` when it could not be asked (the suspension is then left alone)."""
    dag_id, _, run_id = run.partition("/")
    if not dag_id or not run_id:
        return "gone"
    try:
        state = get_dagrun_state(dag_id, run_id)
    except Exception as error:
        if not_found(error):  # a deleted run or DAG is as dead as a failed one
            log.info("Run %s does not exist (%s): treating it as gone", run, error)
            return "gone"
        log.error("WATCHDOG: cannot tell whether run %s lives (%s): leaving it for now", run, error)
        return "unknown"
    return state_value(state) if state is not None else "gone"


Alert = Callable[[str, str], Any]


def _no_alert(subject: str, message: str) -> None:
    return None


def repair(
    hook: EcdHook,
    namespace: str,
    get_dagrun_state: Callable[[str, str], Any],
    now: datetime | None = None,
    alert: Alert = _no_alert,
    platform: dict[str, str] | None = None,
    platform_hook: Any = None,
) -> dict[str, Any]:
    """Resume every expired suspension whose run is not live; returns what was done.

    ``platform`` (``{"kind", "name"}``) with its ``platform_hook`` (a ``PlatformHook``):
    Derby's writer, scaled back like an ECD.
    """
    now = now or datetime.now(UTC)
    resumed, overdue, announce = {}, {}, {}
    platform_overdue, restored_platform = None, []
    if platform and platform_hook is not None:
        platform_overdue, restored_platform = _repair_platform(
            platform_hook, namespace, platform, get_dagrun_state, now, resumed, overdue
        )
        if platform_overdue and not platform_overdue.overdue_alerted:
            announce.setdefault((platform_overdue.owner, platform_overdue.run), [])
    for suspension in hook.expired_suspensions(namespace, now):
        state = run_state(get_dagrun_state, suspension.run)
        if state == "unknown":  # never resume what may still be copying; next round asks again
            continue
        if state in LIVE_RUN_STATES:
            log.error(
                "WATCHDOG: ECD %s is past its resume deadline %s, but run %s is still %s: "
                "leaving it to that run",
                suspension.name,
                suspension.deadline,
                suspension.run,
                state,
            )
            overdue[suspension.name] = suspension.run
            if not suspension.overdue_alerted:
                announce.setdefault((suspension.owner, suspension.run), []).append(suspension)
            continue
        outcome = hook.resume_one(namespace, suspension.name, suspension.owner)
        log.error(
            "WATCHDOG RESUMED ECD %s/%s (%s): suspended by %s (run %s, now %s), "
            "resume deadline %s passed",
            namespace,
            suspension.name,
            outcome,
            suspension.owner,
            suspension.run or "unknown",
            state,
            suspension.deadline,
        )
        resumed[suspension.name] = outcome
    for (owner, run), suspensions in announce.items():
        stopped = platform_overdue if platform_overdue and platform_overdue.owner == owner else None
        _alert_overdue(hook, namespace, owner, run, suspensions, now, alert, stopped)
        if stopped and not stopped.overdue_alerted:
            platform_hook.mark_overdue_alerted(namespace, stopped.kind, stopped.name, owner, now)
    if resumed:
        alert(
            f"ue-backup watchdog resumed {len(resumed)} ECD(s) in {namespace}",
            "The run that suspended them is gone and their resume deadline passed; "
            f"the watchdog switched them back: {resumed}. Check the backup run's logs.",
        )
    restored = sorted(s.name for s in hook.suspensions(namespace) if s.restored)
    restored += restored_platform
    if restored:
        log.info(
            "Left to the restore that brought them back (their suspension is older than the "
            "ECD itself): %s",
            restored,
        )
    if not resumed and not overdue:
        log.info("No ECD in %s is suspended past its deadline", namespace)
    return {
        "resumed": resumed,
        "overdue": overdue,
        "restored": restored,
        "checked_at": now.isoformat(),
    }


def _repair_platform(
    hook: Any,
    namespace: str,
    platform: dict[str, str],
    get_dagrun_state: Callable[[str, str], Any],
    now: datetime,
    resumed: dict[str, str],
    overdue: dict[str, str],
) -> tuple[Any, list[str]]:
    """Scale the platform back when its scale-down expired and its run is gone.

    Returns (its suspension when overdue with its run still live, for the alert;
    ``[label]`` when the scale-down came back with a restore, which is left to it).
    """
    kind, name = platform["kind"], platform["name"]
    suspension = hook.suspension(namespace, kind, name)
    if not suspension or not suspension.deadline or suspension.deadline >= now:
        return None, []
    if suspension.restored:
        return None, [suspension.label]
    state = run_state(get_dagrun_state, suspension.run)
    if state == "unknown":
        return None, []
    if state in LIVE_RUN_STATES:
        log.error(
            "WATCHDOG: platform %s is past its resume deadline %s, but run %s is still %s",
            suspension.label,
            suspension.deadline,
            suspension.run,
            state,
        )
        overdue[suspension.label] = suspension.run
        return suspension, []
    outcome = hook.resume(namespace, kind, name, suspension.owner)
    log.error(
        "WATCHDOG SCALED BACK platform %s/%s (%s): scaled to zero by %s (run %s, now %s), "
        "resume deadline %s passed",
        namespace,
        suspension.label,
        outcome,
        suspension.owner,
        suspension.run or "unknown",
        state,
        suspension.deadline,
    )
    resumed[suspension.label] = outcome
    return None, []


def _alert_overdue(
    hook: EcdHook,
    namespace: str,
    owner: str,
    run: str,
    suspensions: list[Any],
    now: datetime,
    alert: Alert,
    platform: Any = None,
) -> None:
    """One alert for a cold window still open past its maximum, then mark it announced.

    ``platform``: Derby's writer, scaled to zero by the same window (a
    ``PlatformSuspension``), named in the same alert; its caller marks it.
    """
    names = sorted(s.name for s in suspensions)
    deadline = min([s.deadline for s in suspensions] + ([platform.deadline] if platform else []))
    stopped = f" Platform scaled to zero: {platform.label}." if platform else ""
    alert(
        f"ue-backup cold window overdue in {namespace}: {owner}",
        f"The cold window of {owner} (run {run or 'unknown'}) is still open at "
        f"{now.isoformat()}, past its configured maximum (resume deadline {deadline.isoformat()}). "
        f"Suspended ECDs: {names}.{stopped} The run is still going and keeps them: look at "
        "its current step; the watchdog resumes them once the run has ended.",
    )
    for name in names:
        hook.mark_overdue_alerted(namespace, name, owner, now)
