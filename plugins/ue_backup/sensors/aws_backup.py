"""Sensors for AWS Backup jobs: FAILED, ABORTED, EXPIRED and PARTIAL fail a completion wait."""

from __future__ import annotations

from ue_backup.sensors.base import AwsWaiterSensor
from ue_backup.triggers.aws_backup import (
    AwsBackupCopyJobCompleteTrigger,
    AwsBackupJobCompleteTrigger,
    AwsBackupJobStartedTrigger,
    AwsBackupRestoreJobCompleteTrigger,
)


class AwsBackupJobCompletedSensor(AwsWaiterSensor):
    """Wait for a backup job (``resource_id``: BackupJobId)."""

    trigger_class = AwsBackupJobCompleteTrigger


class AwsBackupJobStartedSensor(AwsWaiterSensor):
    """Wait until a backup job has left its queue (``resource_id``: BackupJobId), in any state."""

    trigger_class = AwsBackupJobStartedTrigger


class AwsBackupRestoreJobCompletedSensor(AwsWaiterSensor):
    """Wait for a restore job (``resource_id``: RestoreJobId)."""

    trigger_class = AwsBackupRestoreJobCompleteTrigger


class AwsBackupCopyJobCompletedSensor(AwsWaiterSensor):
    """Wait for a copy job (``resource_id``: CopyJobId)."""

    trigger_class = AwsBackupCopyJobCompleteTrigger
