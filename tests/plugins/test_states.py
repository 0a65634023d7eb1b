"""state_value: the Task SDK's state enums and plain strings compare alike."""

from __future__ import annotations

import pytest
from airflow.sdk.api.datamodels._generated import DagRunState, TaskInstanceState

from ue_backup.states import state_value


@pytest.mark.parametrize(
    ("state", "value"),
    [
        (DagRunState.RUNNING, "running"),
        (DagRunState.QUEUED, "queued"),
        (TaskInstanceState.UPSTREAM_FAILED, "upstream_failed"),
        ("success", "success"),
        (None, None),
    ],
)
def test_a_state_is_its_plain_value_whatever_its_type(state, value):
    assert state_value(state) == value


def test_the_enums_str_is_not_its_value():
    """Why state_value exists: str() of the Task SDK's enum names the class."""
    assert str(DagRunState.RUNNING) != "running"
