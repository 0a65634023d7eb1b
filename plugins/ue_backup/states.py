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
