"""Sensors for AWS Backup jobs: FAILED, ABORTED, EXPIRED and PARTIAL fail the task."""

from __future__ import annotations

from ue_backup.sensors.base import AwsWaiterSensor
from ue_backup.triggers.aws_backup import (
    AwsBackupCopyJobCompleteTrigger,
    AwsBackupJobCompleteTrigger,
    AwsBackupRestoreJobCompleteTrigger,
)


class AwsBackupJobCompletedSensor(AwsWaiterSensor):
    """Wait for a backup job (``resource_id``: BackupJobId)."""

    trigger_class = AwsBackupJobCompleteTrigger


class AwsBackupRestoreJobCompletedSensor(AwsWaiterSensor):
    """Wait for a restore job (``resource_id``: RestoreJobId)."""

    trigger_class = AwsBackupRestoreJobCompleteTrigger


class AwsBackupCopyJobCompletedSensor(AwsWaiterSensor):
    """Wait for a copy job (``resource_id``: CopyJobId)."""

    trigger_class = AwsBackupCopyJobCompleteTrigger
