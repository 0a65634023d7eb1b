"""DataSync sensor against the sandbox: SUCCESS and ERROR, both ways of waiting."""

from __future__ import annotations

import pytest

from sandbox.faults import Fault
from sandbox.installation import seed_installation
from tests.plugins.support import defer
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.datasync import DataSyncHook
from ue_backup.sensors.datasync import DataSyncTaskExecutionCompletedSensor


@pytest.fixture
def start(sandbox, fast):
    sandbox.durations.update(datasync_execution=0.15)
    installation = seed_installation(
        sandbox, method="datasync", memorydb=False, velero=False, ecds=()
    )
    task_arn = installation.config["efs"]["datasync"]["task_arn"]
    conn = DataSyncHook().get_conn()
    return lambda: conn.start_task_execution(TaskArn=task_arn)["TaskExecutionArn"]


def test_a_successful_execution_both_ways(sandbox, start, context):
    arn = start()
    deferral = defer(DataSyncTaskExecutionCompletedSensor(task_id="w", resource_id=arn), context)
    assert deferral.resume() == arn

    poking = DataSyncTaskExecutionCompletedSensor(task_id="w", resource_id=arn, deferrable=False)
    assert poking.execute(context) == arn


def test_an_execution_in_error_fails_both_ways_with_datasyncs_detail(sandbox, start, context):
    detail = "injected: destination file system full"
    sandbox.faults.add(
        Fault("datasync", "StartTaskExecution", kind="outcome", state="ERROR", message=detail)
    )
    arn = start()

    deferral = defer(DataSyncTaskExecutionCompletedSensor(task_id="w", resource_id=arn), context)
    event = deferral.wait()
    assert event["status"] == "error"
    with pytest.raises(PermanentFailure) as deferred_failure:
        deferral.resume()
    poking = DataSyncTaskExecutionCompletedSensor(task_id="w", resource_id=arn, deferrable=False)
    with pytest.raises(PermanentFailure) as poked_failure:
        poking.execute(context)
    for failure in (deferred_failure.value, poked_failure.value):
        assert f"DataSync task execution {arn} failed" in str(failure)
        assert "ERROR" in str(failure)
        assert detail in str(failure)
