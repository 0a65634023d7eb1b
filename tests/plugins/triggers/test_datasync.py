"""DataSync trigger run against the sandbox, rebuilt from its serialized form."""

from __future__ import annotations

import pytest

from sandbox.faults import Fault
from sandbox.installation import seed_installation
from tests.plugins.support import round_trip
from ue_backup.hooks.datasync import DataSyncHook
from ue_backup.triggers.base import run_inline
from ue_backup.triggers.datasync import DataSyncTaskExecutionCompleteTrigger


@pytest.fixture
def start(sandbox):
    sandbox.durations.update(datasync_execution=0.15)
    installation = seed_installation(
        sandbox, method="datasync", memorydb=False, velero=False, ecds=()
    )
    task_arn = installation.config["efs"]["datasync"]["task_arn"]
    conn = DataSyncHook().get_conn()
    return lambda: conn.start_task_execution(TaskArn=task_arn)["TaskExecutionArn"]


def test_the_trigger_fires_success_when_the_copy_succeeded(start):
    arn = start()
    trigger = round_trip(DataSyncTaskExecutionCompleteTrigger(resource_id=arn, waiter_delay=0.1))

    assert run_inline(trigger) == {"status": "success", "resource_id": arn}


def test_the_trigger_reports_the_error_code_and_detail(sandbox, start):
    sandbox.faults.add(
        Fault("datasync", "StartTaskExecution", kind="outcome", state="ERROR", message="no space")
    )
    arn = start()
    trigger = round_trip(DataSyncTaskExecutionCompleteTrigger(resource_id=arn, waiter_delay=0.1))

    event = run_inline(trigger)

    assert event["status"] == "error"
    assert "ERROR - SandboxFault - no space" in event["message"]
