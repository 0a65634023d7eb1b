"""The past backups of the live file system, in one shape whatever copied them.

The cold window's estimate (``window_estimate``) learns from how long the disk's
copy took on past nights and how much it copied. Each backup method keeps that
history in its own records:

- AWS Backup: the completed backup jobs of the live file system
  (``ListBackupJobs``): ``CompletionDate - CreationDate``, ``BackupSizeInBytes``.
  AWS Backup copies an EFS file system whole on its first backup and only what
  changed on each one after (EFS User Guide, incremental backups): that first job
  is marked ``full_copy`` (``first_full_copy``), so the estimate can tell it apart;
- DataSync: each backup set's own execution (``DataSyncHook.set_copies``, from
  ``DescribeTaskExecution``): ``EndTime - StartTime`` (``StartTime`` is when the
  start was asked, so any queueing counts, as it does in the window), or
  ``Result.TotalDuration`` (milliseconds) when longer or when ``EndTime`` is
  missing; ``BytesWritten`` (each set's copy goes into a new folder with
  ``TransferMode: ALL``, so what was written is the whole tree).

Both become ``PastRun`` (when it began, how long it took, what it copied), so one
rule estimates both. Pure: the caller lists the records and hands them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

DATASYNC_SUCCESS = "SUCCESS"
BACKUP_JOB_COMPLETED = "COMPLETED"


@dataclass(frozen=True)
class PastRun:
    """One finished copy of the live file system: when it began, how long, how much, and
    whether it was the whole file system where the others copied only what changed."""

    started: datetime
    seconds: float
    size_bytes: int | None = None
    full_copy: bool = False


def _seconds(start: datetime, end: datetime) -> float:
    return max((end - start).total_seconds(), 0.0)


def first_full_copy(
    jobs: Iterable[Mapping[str, Any]], vault: str | None, points: Iterable[Mapping[str, Any]]
) -> str | None:
    """The id of the listed job that made the file system's first, full copy in ``vault``,
    or None when no listed job is known to have.

    ``points``: the file system's recovery points in ``vault``
    (``ListRecoveryPointsByBackupVault`` by resource). A job is the first copy when its
    recovery point is the oldest one there (nothing was in the vault before it) and no
    completed job into the vault is listed before it (so no predecessor merely expired
    since). A job whose point has expired, or of another vault (whose points are not
    read), is never judged full: keeping a full copy only errs long.
    """
    ours = sorted(
        (j for j in jobs if vault and j.get("BackupVaultName") == vault and j.get("CreationDate")),
        key=lambda j: j["CreationDate"],
    )
    dated = [p for p in points if p.get("CreationDate") and p.get("RecoveryPointArn")]
    if not ours or not dated:
        return None
    oldest = min(dated, key=lambda p: p["CreationDate"])["RecoveryPointArn"]
    first = ours[0]
    return first.get("BackupJobId") if first.get("RecoveryPointArn") == oldest else None


def aws_backup_runs(
    jobs: Iterable[Mapping[str, Any]], resource_arn: str, full_copy: str | None = None
) -> list[PastRun]:
    """The COMPLETED jobs of ``resource_arn`` among AWS Backup's ``BackupJobs`` entries.

    The listing is already filtered by resource and state; filtering again keeps a
    job of another file system (or one still running) out of the estimate whatever
    the listing did. ``full_copy``: the job that made the first, full copy
    (``first_full_copy``).
    """
    return [
        PastRun(
            job["CreationDate"],
            _seconds(job["CreationDate"], job["CompletionDate"]),
            job.get("BackupSizeInBytes"),
            full_copy=bool(full_copy) and job.get("BackupJobId") == full_copy,
        )
        for job in jobs
        if job.get("State") == BACKUP_JOB_COMPLETED
        and job.get("ResourceArn") == resource_arn
        and job.get("CreationDate")
        and job.get("CompletionDate")
    ]


def datasync_seconds(copy: Mapping[str, Any]) -> float | None:
    """How long a set's execution held the window, or None when it does not say.

    The wall clock (``EndTime - StartTime``) and DataSync's own ``TotalDuration``
    (milliseconds) measure from different moments: the longer one is taken, so
    neither a queue nor a missing ``EndTime`` shortens the estimate.
    """
    start, end = copy.get("StartTime"), copy.get("EndTime")
    total_ms = (copy.get("Result") or {}).get("TotalDuration")
    measured = [
        *([_seconds(start, end)] if start and end else []),
        *([max(total_ms / 1000, 0.0)] if total_ms is not None else []),
    ]
    return max(measured) if measured else None


def datasync_runs(copies: Iterable[Mapping[str, Any]], since: datetime) -> list[PastRun]:
    """The successful set copies (``datasync_sets.set_copy``) that began at ``since`` or later.

    A copy still running or failed, or one whose execution gives no duration, is not
    learned from.
    """
    runs = []
    for copy in copies:
        start, seconds = copy.get("StartTime"), datasync_seconds(copy)
        if copy.get("Status") != DATASYNC_SUCCESS or not start or seconds is None:
            continue
        if start.astimezone(UTC) < since:
            continue
        runs.append(PastRun(start, seconds, copy.get("BytesWritten")))
    return runs
