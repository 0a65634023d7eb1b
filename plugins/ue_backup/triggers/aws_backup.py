"""Wait for AWS Backup jobs without holding a worker slot.

A failed, aborted, expired or partial job yields an error event whose
message carries the job's state and AWS's ``StatusMessage``.
"""

from __future__ import annotations

from ue_backup.hooks.aws_backup import AwsBackupHook
from ue_backup.triggers.base import ResourceWaiterTrigger


class AwsBackupJobCompleteTrigger(ResourceWaiterTrigger):
    """Fires when an on-demand backup job ends (``resource_id`` is the BackupJobId)."""

    aws_hook_class = AwsBackupHook
    WAITER = "backup_job_complete"
    ID_ARGUMENT = "BackupJobId"
    WHAT = "AWS Backup backup job"
    STATUS_QUERIES = ["State", "PercentDone", "StatusMessage"]


class AwsBackupJobStartedTrigger(ResourceWaiterTrigger):
    """Fires when a backup job has left its queue (``resource_id`` is the BackupJobId).

    For the database's job, the cold window waits for this before the disk's point
    is fixed: a job still CREATED or PENDING has not taken its snapshot yet, and
    the database point must be the older one (rule 1). Any state after the queue
    fires it, a failed one too: judging the job is the completion wait's work
    (after the window), and a failed copy of the database must not cost the
    night's disk backup.
    """

    aws_hook_class = AwsBackupHook
    WAITER = "backup_job_started"
    ID_ARGUMENT = "BackupJobId"
    WHAT = "AWS Backup backup job"
    STATUS_QUERIES = ["State", "StatusMessage"]


class AwsBackupRestoreJobCompleteTrigger(ResourceWaiterTrigger):
    """Fires when a restore job ends (``resource_id`` is the RestoreJobId)."""

    aws_hook_class = AwsBackupHook
    WAITER = "restore_job_complete"
    ID_ARGUMENT = "RestoreJobId"
    WHAT = "AWS Backup restore job"
    STATUS_QUERIES = ["Status", "PercentDone", "StatusMessage"]


class AwsBackupCopyJobCompleteTrigger(ResourceWaiterTrigger):
    """Fires when a cross-region copy job ends (``resource_id`` is the CopyJobId)."""

    aws_hook_class = AwsBackupHook
    WAITER = "copy_job_complete"
    ID_ARGUMENT = "CopyJobId"
    WHAT = "AWS Backup copy job"
    STATUS_QUERIES = ["CopyJob.State", "CopyJob.StatusMessage"]
