"""DataSyncHook: the provider's hook with this project's execution waiter."""

from __future__ import annotations

import pytest
from botocore.exceptions import WaiterError

from sandbox.faults import Fault
from sandbox.installation import seed_installation
from ue_backup.hooks.datasync import DataSyncHook
from ue_backup.waiters import WAITERS_DIR

FAST_WAIT = {"Delay": 0.1, "MaxAttempts": 100}


@pytest.fixture
def task_arn(sandbox) -> str:
    sandbox.durations.update(datasync_execution=0.15)
    installation = seed_installation(
        sandbox, method="datasync", memorydb=False, velero=False, ecds=()
    )
    return installation.config["efs"]["datasync"]["task_arn"]


def test_the_execution_waiter_succeeds_on_success_and_fails_on_error(sandbox, task_arn):
    hook = DataSyncHook()
    assert hook.waiter_path == WAITERS_DIR / "datasync.json"
    waiter = hook.get_waiter("task_execution_complete")

    good = hook.get_conn().start_task_execution(TaskArn=task_arn)["TaskExecutionArn"]
    waiter.wait(TaskExecutionArn=good, WaiterConfig=FAST_WAIT)
    assert hook.get_conn().describe_task_execution(TaskExecutionArn=good)["Status"] == "SUCCESS"

    sandbox.faults.add(Fault("datasync", "StartTaskExecution", kind="outcome", state="ERROR"))
    bad = hook.get_conn().start_task_execution(TaskArn=task_arn)["TaskExecutionArn"]
    with pytest.raises(WaiterError, match="terminal failure"):
        waiter.wait(TaskExecutionArn=bad, WaiterConfig=FAST_WAIT)
