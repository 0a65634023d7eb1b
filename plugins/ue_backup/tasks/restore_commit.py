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
- ``committed``: every commit step succeeded; the workflows are resumed;
- ``half``: the commit began and did not finish. The ECDs stay off, held for
  good (``EcdHook.hold``: the watchdog leaves them alone), nothing set aside
  is touched, and the task fails naming what is live now and how to roll
  back. Nothing rolls back by itself: a rename or a move undone in a hurry
  could lose the one good copy; the operator chooses.

Side by side nothing live is ever changed: the stage is always ``untouched``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ue_backup.aws import settings_client
from ue_backup.errors import PermanentFailure
from ue_backup.restore_scripts import ASIDE_PREFIX, PLACING_MARKER, STAGE_PREFIX

log = logging.getLogger(__name__)

COMMIT_POINT = "commit_point"
# The steps after the commit point that change the live system, in their order.
COMMIT_TASKS = ("switch_over_database", "place_efs")
DISCARD_TASK = "discard_restored_tree"
DONE = ("success", "skipped")


def stage(states: Mapping[str, Any]) -> str:
    """``untouched``, ``committed`` or ``half``, from the run's task states."""
    states = {task: _value(state) for task, state in states.items()}
    if states.get(COMMIT_POINT) != "success":
        return "untouched"
    if all(states.get(task) in DONE for task in COMMIT_TASKS):
        return "committed"
    return "half"


def _value(state: Any) -> str | None:
    """A state as its plain value, whatever type Airflow hands back (an Enum's str differs)."""
    return getattr(state, "value", state)


def commit(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The commit point: every restored component is ready; from here the live system changes."""
    log.info(
        "Every restored component of %s is ready: committing (the database switch-over, "
        "then the EFS placement). A failure from here keeps the workflows off.",
        settings["restore_id"],
    )
    return {"restore_id": settings["restore_id"], "at": datetime.now(UTC).isoformat()}


def discard_needed(context: Any) -> None:
    """``pre_execute`` of ``discard_restored_tree``: run only where there is something to remove.

    In place, once the EFS restore job was started, and never once the
    commit point was passed (the trees are then the operator's to judge).
    """
    from ue_backup.compat import AirflowSkipException

    ti = context["ti"]
    settings = ti.xcom_pull(task_ids="validate") or {}
    if not settings.get("in_place"):
        raise AirflowSkipException("side by side: nothing of the restore is on a live file system")
    if ti.xcom_pull(task_ids="restore_efs") is None:
        raise AirflowSkipException("no EFS restore job was started: nothing to remove")
    if ti.xcom_pull(task_ids=COMMIT_POINT) is not None:
        raise AirflowSkipException("the commit point was passed: the trees stay as they are")


def replaced_instance(settings: Mapping[str, Any]) -> str:
    """The name the switch-over gives the instance that was live."""
    return f"{settings['rds_instance']}-replaced-{settings['restore_id']}"[:63].rstrip("-")


def resume_after_restore(
    settings: Mapping[str, Any], planned: Mapping[str, Any], states: Mapping[str, Any]
) -> dict[str, Any]:
    """The restore's teardown: resume, or hold the workflows and say what is live.

    Returns ``{"stage", "outcomes", "left_over", "summary"}``; raises, after
    holding the ECDs, when the commit began and did not finish.
    """
    from ue_backup.hooks.ecd import EcdHook

    hook = EcdHook(conn_id=settings["kubernetes_conn_id"])
    namespace, rid = settings["namespace"], settings["restore_id"]
    where = stage(states) if settings.get("in_place") else "untouched"
    owners = list(planned.get("resume_owners") or [rid])
    if where == "half":
        held = sorted({name for owner in owners for name in hook.hold(namespace, owner, HOLD)})
        raise PermanentFailure(half_done_report(settings, planned, states, held))
    if where == "untouched":
        owners = [rid]  # what Velero brought back with the backup set's suspension stays off
    outcomes: dict[str, str] = {}
    for owner in owners:
        outcomes.update(hook.resume(namespace, owner))
    for name, outcome in sorted(outcomes.items()):
        log.info("ECD %s: %s", name, outcome)
    left = left_over(settings, planned, states) if settings.get("in_place") else []
    failed = sorted(t for t, s in states.items() if _value(s) in ("failed", "upstream_failed"))
    summary = ""
    if where == "untouched" and failed and settings.get("in_place"):
        summary = (
            f"the in-place restore {rid} stopped before its commit point: nothing live was "
            f"changed and the workflows are as they were ({_outcomes(outcomes)})"
        )
        if left:
            summary += "; left over for you to delete: " + "; ".join(left)
        log.warning("%s", summary)
    return {"stage": where, "outcomes": outcomes, "left_over": left, "summary": summary}


HOLD = "an in-place restore failed during its commit: see the run's resume_workflows log"


def _outcomes(outcomes: Mapping[str, str]) -> str:
    return ", ".join(f"{n}: {o}" for n, o in sorted(outcomes.items())) or "none was suspended"


def left_over(
    settings: Mapping[str, Any], planned: Mapping[str, Any], states: Mapping[str, Any]
) -> list[str]:
    """What a restore stopped before its commit point created and did not remove."""
    states = {task: _value(state) for task, state in states.items()}
    rid, left = settings["restore_id"], []
    if planned.get("restore_database") and states.get("restore_database") == "success":
        left.append(f"the restored RDS instance {settings['rds_target']}")
    if planned.get("restore_memorydb") and states.get("restore_memorydb") == "success":
        left.append(f"the restored MemoryDB cluster {settings['memorydb_target']}")
    if planned.get("restore_velero") and states.get("restore_kubernetes") == "success":
        left.append(
            f"what the Velero restore {rid} created (labelled velero.io/restore-name={rid}), "
            "ECDs disabled"
        )
    if (
        planned.get("restore_efs")
        and states.get("restore_efs") == "success"
        and states.get(DISCARD_TASK) != "success"
    ):
        left.append(
            f"on the live file system {settings['efs_file_system_id']} (the Job "
            f"{DISCARD_TASK} did not remove them): {STAGE_PREFIX}{rid}/ and any "
            "aws-backup-restore_* directory made by this restore"
        )
    return left


def half_done_report(
    settings: Mapping[str, Any],
    planned: Mapping[str, Any],
    states: Mapping[str, Any],
    held: list[str],
) -> str:
    """What is live after a commit that began and did not finish, and how to roll back."""
    states = {task: _value(state) for task, state in states.items()}
    rid = settings["restore_id"]
    lines = [
        f"The in-place restore {rid} failed during its commit (switch_over_database: "
        f"{states.get('switch_over_database')}, place_efs: {states.get('place_efs')}). "
        "The workflows were NOT resumed: the live system may mix restored and live data.",
    ]
    if planned.get("switch_over_database"):
        lines.append(database_now(settings))
    if planned.get("restore_efs"):
        lines.append(efs_now(settings, states.get("place_efs")))
    if planned.get("restore_memorydb"):
        lines.append(
            "MemoryDB: nothing swapped (a cluster cannot be renamed): the platform still uses "
            f"{settings['memorydb_cluster']}; the restored cluster is "
            f"{settings['memorydb_target']}."
        )
    lines.append(
        f"ECDs: kept off and held (no resume deadline, so the watchdog leaves them): "
        f"{', '.join(held) or 'none'}. Once the system is consistent, switch each back to its "
        "ue-backup/previous-enabled value and remove its ue-backup/ annotations."
    )
    return "\n".join(lines)


def database_now(settings: Mapping[str, Any]) -> str:
    """Which instance carries the live name now, read from RDS, and the renames that undo it."""
    rds = settings_client(settings, "rds")
    live, restored, aside = (
        settings["rds_instance"],
        settings["rds_target"],
        replaced_instance(settings),
    )

    def exists(identifier: str) -> bool:
        try:
            rds.describe_db_instances(DBInstanceIdentifier=identifier)
        except rds.exceptions.DBInstanceNotFoundFault:
            return False
        return True

    found = (exists(live), exists(aside), exists(restored))
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
    named = dict(zip((live, aside, restored), found, strict=True))
    return f"Database: unexpected instances (name: exists): {named}; a rename may be under way."


def efs_now(settings: Mapping[str, Any], placed: str | None) -> str:
    """Where the live and the restored trees are on the live file system, and how to undo it."""
    fs, rid = settings["efs_file_system_id"], settings["restore_id"]
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
