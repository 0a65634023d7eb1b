"""Airflow run and task states as plain values, whatever type Airflow hands back.

In a task, the Task SDK answers ``ti.get_dagrun_state`` and ``ti.get_task_states``
with its own ``DagRunState`` / ``TaskInstanceState``, ``(str, Enum)`` classes
whose ``str()`` is ``"DagRunState.RUNNING"`` on Python 3.11, not ``"running"``;
tests and older code paths hand back plain strings. Comparing either with a
plain string must go through ``state_value``: comparing ``str(state)`` made the
watchdog take every live run for a dead one.
"""

from __future__ import annotations

from typing import Any


def state_value(state: Any) -> str | None:
    """``"running"`` for ``DagRunState.RUNNING`` and for ``"running"``; None for None."""
    if state is None:
        return None
    return str(getattr(state, "value", state)).lower()


def run_task_states(ti: Any) -> dict[str, Any]:
    """Every task's state in ``ti``'s own DAG run, as the Task SDK reports it.

    Read from the run (through the API server), not from the DAG file as parsed now:
    a run keeps the task set it was created with.
    """
    return ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
