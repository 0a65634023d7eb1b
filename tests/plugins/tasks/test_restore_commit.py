"""Where an in-place restore stopped, from its task states (as Airflow hands them back)."""

from __future__ import annotations

import pytest
from airflow.utils.state import TaskInstanceState

from ue_backup.tasks.restore_commit import stage

S, F, UF, SK = "success", "failed", "upstream_failed", "skipped"


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ({"commit_point": UF, "switch_over_database": UF, "place_efs": UF}, "untouched"),
        ({"commit_point": SK, "switch_over_database": SK, "place_efs": S}, "untouched"),
        ({"commit_point": S, "switch_over_database": S, "place_efs": S}, "committed"),
        ({"commit_point": S, "switch_over_database": SK, "place_efs": S}, "committed"),
        ({"commit_point": S, "switch_over_database": F, "place_efs": UF}, "half"),
        ({"commit_point": S, "switch_over_database": S, "place_efs": F}, "half"),
        ({"commit_point": S}, "half"),  # a commit step that never ran (the run was stopped)
    ],
)
def test_stage(states, expected):
    assert stage(states) == expected
    # Airflow may hand back its (str, Enum) states, whose str() is not the value
    assert stage({k: TaskInstanceState(v) for k, v in states.items()}) == expected
