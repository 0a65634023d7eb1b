"""Wait for a DataSync task execution without holding a worker slot."""

from __future__ import annotations

from ue_backup.hooks.datasync import DataSyncHook
from ue_backup.triggers.base import ResourceWaiterTrigger


class DataSyncTaskExecutionCompleteTrigger(ResourceWaiterTrigger):
    """Fires when a task execution ends (``resource_id`` is its ARN); ERROR is a failure."""

    aws_hook_class = DataSyncHook
    WAITER = "task_execution_complete"
    ID_ARGUMENT = "TaskExecutionArn"
    WHAT = "DataSync task execution"
    STATUS_QUERIES = ["Status", "Result.ErrorCode", "Result.ErrorDetail"]
    DELAY = 15
