"""The run guard: a DAG that would race a running one refuses, naming it and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from ue_backup.errors import PermanentFailure
from ue_backup.tasks.run_guard import (
    COLLISIONS,
    ONE_WAY,
    refuse_while_running,
    running_collisions,
)

DAGS = Path(__file__).resolve().parents[3] / "dags"


class FakeTi:
    def __init__(self, running: dict[str, int]) -> None:
        self.running = running
        self.asked: list[tuple[str, list[str]]] = []

    def get_dr_count(self, dag_id: str, states: list[str]) -> int:
        self.asked.append((dag_id, states))
        return self.running.get(dag_id, 0)


def test_nothing_running_passes_and_asks_about_running_runs_only():
    ti = FakeTi({"ue_backup_rpo": 3})  # never a collision
    refuse_while_running(ti, "ue_restore")
    assert ti.asked == [("ue_backup", ["running"]), ("ue_backup_retention", ["running"])]


def test_a_drill_never_starts_during_a_restore_and_never_holds_one_up():
    with pytest.raises(PermanentFailure, match="a ue_restore run is in progress: a drill now"):
        refuse_while_running(FakeTi({"ue_restore": 1}), "ue_restore_drill")
    refuse_while_running(FakeTi({"ue_restore_drill": 1}), "ue_restore")  # an emergency


def test_every_running_dag_is_named_with_its_reason():
    with pytest.raises(PermanentFailure) as refused:
        refuse_while_running(FakeTi({"ue_backup": 1, "ue_backup_retention": 1}), "ue_restore")
    assert str(refused.value) == (
        "a ue_backup run is in progress: it suspends the same workflows; "
        "a ue_backup_retention run is in progress: it may delete the backup set being restored. "
        "Start again when it has finished."
    )


def test_a_backup_refuses_during_a_restore():
    with pytest.raises(PermanentFailure, match="a ue_restore run is in progress: a backup now"):
        refuse_while_running(FakeTi({"ue_restore": 1}), "ue_backup")
    refuse_while_running(FakeTi({"ue_backup_retention": 1, "ue_restore_drill": 1}), "ue_backup")


def test_retention_counts_every_restore_and_drill_running():
    ti = FakeTi({"ue_restore": 2, "ue_restore_drill": 1})
    busy = running_collisions(ti, "ue_backup_retention")
    assert busy == {"ue_restore": 2, "ue_restore_drill": 1}


def test_every_collision_is_refused_from_both_sides_between_real_dags():
    dag_ids = {path.stem for path in DAGS.glob("ue_*.py")}
    for starting, running in COLLISIONS.items():
        assert starting in dag_ids
        for other in running:
            assert other in dag_ids
            if (starting, other) in ONE_WAY:
                assert starting not in COLLISIONS.get(other, {})
                continue
            assert starting in COLLISIONS.get(other, {}), f"{other} does not refuse {starting}"
