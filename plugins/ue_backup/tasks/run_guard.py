"""Refuse to start while another ue-backup DAG is running that would race this one.

A restore must not run while a backup suspends the same workflows, nor while
retention deletes artifacts (it could delete the set being restored); a
drill must not restore a set retention is deleting. Checked in the first
task, before anything is changed, with the reason in the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ue_backup.errors import PermanentFailure


def refuse_while_running(ti: Any, guards: Mapping[str, str]) -> None:
    """Fail when any DAG in ``guards`` has a running run; ``guards`` maps dag id to why."""
    busy = [
        f"a {dag_id} run is in progress: {why}"
        for dag_id, why in guards.items()
        if ti.get_dr_count(dag_id=dag_id, states=["running"])
    ]
    if busy:
        raise PermanentFailure("; ".join(busy) + ". Start again when it has finished.")
