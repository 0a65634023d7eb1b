"""Running ue-backup tasks the way Airflow does, without a scheduler.

``execute`` with a minimal context; for a deferrable task, the deferral is
caught, its trigger serialized and rebuilt from the class path and keyword
arguments alone (as the triggerer does), run to its first event, and the
task resumed with that event through ``resume_execution``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from unittest.mock import MagicMock

import pytest
from airflow.sdk.exceptions import TaskDeferred
from airflow.sdk.module_loading import import_string
from airflow.triggers.base import BaseTrigger

from ue_backup.triggers.base import run_inline

SET_ID = "ue-test-20250101t000000z"
OTHER_SET_ID = "ue-test-20250102t000000z"
RUN_ID = "scheduled__2025-01-01T00:00:00+00:00"
DAG_ID = "ue_backup"


def make_context(run_id: str = RUN_ID, dag_id: str = DAG_ID) -> dict[str, Any]:
    """What the operators read from Airflow's context; ``ti`` records the console links."""
    return {"run_id": run_id, "dag": SimpleNamespace(dag_id=dag_id), "ti": MagicMock()}


def pushed_links(context: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The console-link values the task stored, by XCom key."""
    return {
        call.kwargs["key"]: call.kwargs["value"]
        for call in context["ti"].xcom_push.call_args_list
        if "key" in call.kwargs
    }


def round_trip(trigger: BaseTrigger) -> BaseTrigger:
    """Serialize ``trigger`` and rebuild it from the class path, as the triggerer does."""
    classpath, kwargs = trigger.serialize()
    assert classpath.startswith("ue_backup.triggers.")
    assert classpath == f"{type(trigger).__module__}.{type(trigger).__qualname__}"
    assert json.loads(json.dumps(kwargs)) == kwargs  # plain data only
    rebuilt = import_string(classpath)(**kwargs)
    assert type(rebuilt) is type(trigger)
    assert rebuilt.serialize() == (classpath, kwargs)
    return rebuilt


@dataclass
class Deferral:
    """A task that deferred: its rebuilt trigger, and the event once it has fired."""

    task: Any
    context: dict[str, Any]
    deferred: TaskDeferred
    trigger: BaseTrigger
    event: dict[str, Any] | None = None

    def wait(self) -> dict[str, Any]:
        """Run the rebuilt trigger to its first event (what the triggerer does)."""
        self.event = run_inline(self.trigger)
        return self.event

    def resume(self) -> Any:
        """Resume the task with the event, as the task runner does after the trigger fired."""
        if self.event is None:
            self.wait()
        kwargs = {**(self.deferred.kwargs or {}), "event": self.event}
        return self.task.resume_execution(self.deferred.method_name, kwargs, self.context)


def defer(task: Any, context: dict[str, Any]) -> Deferral:
    """``task.execute`` must defer; returns the deferral with its trigger rebuilt."""
    with pytest.raises(TaskDeferred) as info:
        task.execute(context)
    assert info.value.method_name == "execute_complete"
    return Deferral(task, context, info.value, round_trip(info.value.trigger))


def mutations(sandbox, service: str, operation: str, target: str = "") -> list:
    """Calls of one operation the sandbox received (and accepted), optionally by target."""
    return [
        m
        for m in sandbox.log.entries(service, operation)
        if target in m.target and m.detail.get("status", 200) < 400
    ]


def eventually(sandbox, probe, timeout: float = 10.0) -> Any:
    """Poll ``probe`` until it returns something truthy (set-up, never an assertion's proof)."""
    return sandbox.k8s.wait_until(probe, timeout=timeout, interval=0.05)
