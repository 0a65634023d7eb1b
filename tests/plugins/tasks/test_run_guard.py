"""The run guard: a DAG that would race a running one refuses, naming it and why."""

from __future__ import annotations

import pytest

from ue_backup.errors import PermanentFailure
from ue_backup.tasks.run_guard import refuse_while_running


class FakeTi:
    def __init__(self, running: dict[str, int]) -> None:
        self.running = running
        self.asked: list[tuple[str, list[str]]] = []

    def get_dr_count(self, dag_id: str, states: list[str]) -> int:
        self.asked.append((dag_id, states))
        return self.running.get(dag_id, 0)


GUARDS = {"ue_backup": "it suspends the workflows", "ue_backup_retention": "it deletes sets"}


def test_nothing_running_passes_and_asks_about_running_runs_only():
    ti = FakeTi({"ue_restore": 3})  # not guarded here
    refuse_while_running(ti, GUARDS)
    assert ti.asked == [("ue_backup", ["running"]), ("ue_backup_retention", ["running"])]


def test_every_running_dag_is_named_with_its_reason():
    with pytest.raises(PermanentFailure) as refused:
        refuse_while_running(FakeTi({"ue_backup": 1, "ue_backup_retention": 1}), GUARDS)
    assert str(refused.value) == (
        "a ue_backup run is in progress: it suspends the workflows; "
        "a ue_backup_retention run is in progress: it deletes sets. "
        "Start again when it has finished."
    )
