"""Make Airflow report a DAG as running, for the run guard's end-to-end tests."""

from __future__ import annotations

import pytest


def pretend_running(monkeypatch: pytest.MonkeyPatch, running: str) -> None:
    """Airflow counts one running run of ``running``; every other count is the real one."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    original = RuntimeTaskInstance.get_dr_count

    def count(dag_id: str, *args, **kwargs):  # the Task SDK passes dag_id by keyword
        return 1 if dag_id == running else original(dag_id, *args, **kwargs)

    monkeypatch.setattr(RuntimeTaskInstance, "get_dr_count", staticmethod(count))
