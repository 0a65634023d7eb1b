"""When the database's AWS Backup job has fixed its point in time: what the cold window waits for.

With the ``immutable`` section the cold window backs the RDS instance up twice:
the set's manual snapshot, then an AWS Backup job whose recovery point is
copied into the locked vault. Rule 1 holds for the locked set only if that
job's snapshot is older than the disk's point. AWS Backup starts the job at
once, but RDS takes one snapshot of an instance at a time: while the manual
snapshot (or an automated backup) is still being taken, the instance is
``backing-up`` and the job's snapshot comes later, in minutes. A job that has
left its queue has therefore not necessarily fixed anything.

So the window waits until the job's snapshot exists, in any state: an RDS
snapshot holds the data as of the moment it began, and RDS gives its
``SnapshotCreateTime`` only later (while it is ``creating`` the field may be
absent), so the wait does not hold the workflows for the whole snapshot. The
snapshot is found by the job's ``RecoveryPointArn``, which is the snapshot's ARN
(``StartBackupJob`` returns it for EFS only: botocore's model says so; it is read
from ``DescribeBackupJob``). The wait also ends when the job ended without a
snapshot (a failed job must never cost the night's disk backup: it is judged
after the window), and at a bound: past it, the disk goes on and ``verify``
judges rule 1 for the locked set by the snapshot's own time, loudly.

Pure: the trigger reads the job and the snapshot, this module decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Job states after which no snapshot will come (AWS Backup's BackupJobState).
ENDED_WITHOUT_POINT = frozenset({"FAILED", "ABORTED", "EXPIRED"})
# How long the window waits at most, by default (the sensor's timeout overrides it).
DEFAULT_WAIT_MINUTES = 30
# How long the set's manual snapshot may take to give its SnapshotCreateTime, inside the
# window, before the run fails (``RdsStartSnapshotOperator``'s bound).
SNAPSHOT_TIME_FIXED_SECONDS = 600


@dataclass(frozen=True)
class PointVerdict:
    """``fixed``: the job's snapshot exists (``at``: its time, once RDS gives it);
    ``ended``: the job ended without one; ``wait``: neither yet. ``why`` says it in
    words for the log."""

    kind: str
    why: str
    at: str | None = None


def backup_snapshot_id(recovery_point_arn: str | None) -> str | None:
    """The RDS snapshot behind an RDS recovery point: its ARN *is* the snapshot's
    (``arn:aws:rds:<region>:<account>:snapshot:awsbackup:job-<id>``); None without one."""
    if recovery_point_arn and ":snapshot:" in recovery_point_arn:
        return recovery_point_arn.split(":snapshot:", 1)[1]
    return None


def judge(job: Mapping[str, Any], snapshot: Mapping[str, Any] | None) -> PointVerdict:
    """Has the job fixed the database's point? ``job``: DescribeBackupJob's answer;
    ``snapshot``: DescribeDBSnapshots' entry for the snapshot its recovery point names,
    or None (no recovery point yet, or RDS has not begun the snapshot)."""
    if snapshot is not None and snapshot.get("Status") not in ("failed", "deleting"):
        created = snapshot.get("SnapshotCreateTime")
        at = (
            (created.isoformat() if hasattr(created, "isoformat") else str(created))
            if created
            else None
        )
        when = f"taken at {at}" if at else f"{snapshot.get('Status')}, its time not given yet"
        return PointVerdict("fixed", f"snapshot {snapshot.get('DBSnapshotIdentifier')} {when}", at)
    state = job.get("State")
    if state in ENDED_WITHOUT_POINT or state in ("COMPLETED", "PARTIAL"):
        message = job.get("StatusMessage") or "no message"
        return PointVerdict(
            "ended", f"backup job {job.get('BackupJobId')} is {state} without a snapshot: {message}"
        )
    seen = f"snapshot {snapshot.get('Status')}" if snapshot else "no snapshot yet"
    return PointVerdict("wait", f"backup job {job.get('BackupJobId')} is {state}, {seen}")
