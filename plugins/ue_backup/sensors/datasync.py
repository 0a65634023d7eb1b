"""Sensor for a DataSync task execution: ERROR fails the task with DataSync's error detail."""

from __future__ import annotations

from ue_backup.sensors.base import AwsWaiterSensor
from ue_backup.triggers.datasync import DataSyncTaskExecutionCompleteTrigger


class DataSyncTaskExecutionCompletedSensor(AwsWaiterSensor):
    """Wait for a task execution (``resource_id``: TaskExecutionArn)."""

    trigger_class = DataSyncTaskExecutionCompleteTrigger
