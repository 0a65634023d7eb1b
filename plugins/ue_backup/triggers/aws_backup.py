"""Wait for AWS Backup jobs without holding a worker slot.

A failed, aborted, expired or partial job yields an error event whose
message carries the job's state and AWS's ``StatusMessage``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from ue_backup.database_point import PointVerdict, backup_snapshot_id, judge
from ue_backup.hooks.aws_backup import AwsBackupHook
from ue_backup.hooks.rds import RdsHook
from ue_backup.transient import is_transient
from ue_backup.triggers.base import (
    AwsConnectionFields,
    EndsTaskOnSuccess,
    ResourceWaiterTrigger,
    failure,
    success,
    trigger_classpath,
)


class AwsBackupJobCompleteTrigger(ResourceWaiterTrigger):
    """Fires when an on-demand backup job ends (``resource_id`` is the BackupJobId)."""

    aws_hook_class = AwsBackupHook
    WAITER = "backup_job_complete"
    ID_ARGUMENT = "BackupJobId"
    WHAT = "AWS Backup backup job"
    STATUS_QUERIES = ["State", "PercentDone", "StatusMessage"]


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


class RdsBackupPointFixedTrigger(AwsConnectionFields, EndsTaskOnSuccess, BaseTrigger):
    """Fires when the database's AWS Backup job has fixed its point, or never will, or at a bound.

    Two services per check, so no botocore waiter: DescribeBackupJob for the
    job's state and its recovery point (the snapshot's ARN), DescribeDBSnapshots
    (``SnapshotType="awsbackup"``) for that snapshot; ``database_point.judge``
    decides. Every outcome is a success event (``fixed`` True or False, with
    ``why``): the window must go on to the disk's backup whatever the database's
    second backup does; only the first case ends the task in the triggerer
    (``end_task``), so the worker logs the others as warnings. A transient error
    or a check that does not answer within ``CHECK_SECONDS`` is "not yet";
    another error (access denied) ends the wait as an error, which the sensor
    also turns into a warning.
    """

    CHECK_SECONDS = 60.0

    def __init__(
        self,
        *,
        job_id: str,
        deadline: float,
        poll_interval: float,
        end_task: bool = False,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.job_id = job_id
        self.deadline, self.poll_interval, self.end_task = deadline, poll_interval, end_task
        self.aws_conn_id, self.region_name = aws_conn_id, region_name
        self.verify, self.botocore_config = verify, botocore_config

    def serialize(self) -> tuple[str, dict[str, Any]]:
        names = ("job_id", "deadline", "poll_interval", "end_task", *self.CONNECTION_FIELDS)
        return trigger_classpath(self), {name: getattr(self, name) for name in names}

    async def check(self) -> PointVerdict:
        """One reading of the job and its snapshot, judged."""
        async with await self.aws_hook(AwsBackupHook).get_async_conn() as backup:
            job = await backup.describe_backup_job(BackupJobId=self.job_id)
        snapshot_id = backup_snapshot_id(job.get("RecoveryPointArn"))
        found: dict[str, Any] = {}
        if snapshot_id:
            async with await self.aws_hook(RdsHook).get_async_conn() as rds:
                try:
                    found = await rds.describe_db_snapshots(
                        DBSnapshotIdentifier=snapshot_id, SnapshotType="awsbackup"
                    )
                except rds.exceptions.DBSnapshotNotFoundFault:
                    found = {}
        return judge(job, next(iter(found.get("DBSnapshots") or ()), None))

    async def run(self) -> AsyncIterator[TriggerEvent]:
        seen = "not read yet"
        while True:
            try:
                verdict = await asyncio.wait_for(self.check(), self.CHECK_SECONDS)
            except Exception as error:
                if not (isinstance(error, TimeoutError) or is_transient(error)):
                    yield failure(f"database point of backup job {self.job_id}: {error}", "error")
                    return
                self.log.info("AWS did not answer (%s): not yet", error or "no answer")
            else:
                if verdict.kind != "wait":
                    fixed = verdict.kind == "fixed"
                    yield self.ending(success(fixed=fixed, why=verdict.why, at=verdict.at))
                    return
                seen = verdict.why
                self.log.info("Database point not fixed yet: %s", seen)
            if time.time() > self.deadline:
                why = f"not fixed at the window's bound ({seen})"
                yield success(fixed=False, why=why, at=None)
                return
            await asyncio.sleep(self.poll_interval)
