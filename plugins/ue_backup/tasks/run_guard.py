"""Refuse to start while another ue-backup DAG is running that would race this one.

The one table of which runs collide (``COLLISIONS``), read by the first task
of every DAG it names, before anything is changed, with the reason in the
message. Every collision is refused from both sides: a backup never starts
during a restore (it would capture a half-restored system), nor a restore
during a backup (both suspend the same workflows); a drill never starts during a
restore (one way only: a restore in an emergency never waits for a drill, whose
cleanup never deletes what it cannot prove its own); retention never deletes
while a restore or a drill may be reading a set, nor do they start while it
deletes.
"""

from __future__ import annotations

from typing import Any

from ue_backup.errors import PermanentFailure

# DAG about to start -> {DAG whose running run it must not race: why}. Every collision is
# refused from both sides, except those in ONE_WAY.
COLLISIONS: dict[str, dict[str, str]] = {
    "ue_backup": {
        "ue_restore": "a backup now would capture a half-restored system",
    },
    "ue_restore": {
        "ue_backup": "it suspends the same workflows",
        "ue_backup_retention": "it may delete the backup set being restored",
    },
    "ue_restore_drill": {
        "ue_backup_retention": "it may delete the backup set being drilled",
        "ue_restore": (
            "a drill now would compete with the restore for the same vault, keys and quotas"
        ),
    },
    "ue_backup_retention": {
        "ue_restore": "it may be reading any backup set",
        "ue_restore_drill": "it may be reading any backup set",
    },
}

# (starting, running) pairs refused in one direction only, and why not the other.
ONE_WAY = {
    ("ue_restore_drill", "ue_restore"): (
        "a restore in an emergency must never wait for a drill (a drill run stays running "
        "until its cleanup teardown ends, which may take hours)"
    ),
}


def running_collisions(ti: Any, dag_id: str) -> dict[str, int]:
    """The DAGs ``dag_id`` must not race that have running runs, with how many."""
    counts = {
        other: ti.get_dr_count(dag_id=other, states=["running"]) for other in COLLISIONS[dag_id]
    }
    return {other: count for other, count in counts.items() if count}


def refuse_while_running(ti: Any, dag_id: str) -> None:
    """Fail when a DAG that ``dag_id`` must not race has a running run, naming it and why."""
    why = COLLISIONS[dag_id]
    busy = [
        f"a {other} run is in progress: {why[other]}" for other in running_collisions(ti, dag_id)
    ]
    if busy:
        raise PermanentFailure("; ".join(busy) + ". Start again when it has finished.")
