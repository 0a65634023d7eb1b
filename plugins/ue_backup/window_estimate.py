"""How long the coming cold window will last, learned from the backups that already ran.

A fixed guess (``cold_window.expected_backup_minutes``) goes stale as the file
system grows: a window that fitted last month overruns today. The estimate is
therefore read off this installation's own history, the completed EFS backup
jobs of the live file system (AWS Backup's ``ListBackupJobs``):

1. each job's duration (``CompletionDate - CreationDate``) is scaled to the
   newest job's size (``BackupSizeInBytes``), never shrunk: a job that copied
   half of today's data would take about twice as long today, one that copied
   more is not assumed to be faster;
2. of the newest ``RECENT`` jobs, the 90th percentile (nearest rank: with few
   jobs, the slowest) of those scaled durations;
3. plus a margin (``cold_window.estimate_margin_percent``, 25 by default).

With fewer than ``MIN_JOBS`` jobs there is no history worth the name: the
fixed ``expected_backup_minutes`` is used and the estimate says so.

Pure: the caller reads the jobs (``tasks.window_history``) and hands them in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

PERCENTILE = 0.9
MIN_JOBS = 3  # fewer than this: the fixed expected_backup_minutes
RECENT = 20  # the newest jobs the percentile is taken over
HISTORY = "history"
FALLBACK = "fallback"
GIB = 1024**3
SCALE_FLOOR = GIB  # below this, a job's duration is its overhead: not scaled by size


@dataclass(frozen=True)
class PastJob:
    """One completed backup of the live file system: when it ran and what it copied."""

    created: datetime
    completed: datetime
    size_bytes: int | None = None

    @property
    def seconds(self) -> float:
        return max((self.completed - self.created).total_seconds(), 0.0)


@dataclass(frozen=True)
class WindowEstimate:
    """The estimate and what it rests on (shown by preflight, kept in the manifest)."""

    seconds: float
    source: str  # HISTORY or FALLBACK
    basis: str
    jobs: int
    margin_percent: float

    def record(self) -> dict[str, Any]:
        """JSON for the run's settings and the manifest's ``cold_window``."""
        return {
            "seconds": round(self.seconds, 3),
            "source": self.source,
            "basis": self.basis,
            "jobs": self.jobs,
            "margin_percent": self.margin_percent,
        }


def completed_jobs(jobs: Iterable[Mapping[str, Any]], resource_arn: str) -> list[PastJob]:
    """The COMPLETED jobs of ``resource_arn`` among AWS Backup's ``BackupJobs`` entries.

    The listing is already filtered by resource and state; filtering again keeps a
    job of another file system (or one still running) out of the estimate whatever
    the listing did.
    """
    return [
        PastJob(job["CreationDate"], job["CompletionDate"], job.get("BackupSizeInBytes"))
        for job in jobs
        if job.get("State") == "COMPLETED"
        and job.get("ResourceArn") == resource_arn
        and job.get("CreationDate")
        and job.get("CompletionDate")
    ]


def nearest_rank(values: list[float], percentile: float) -> float:
    """The ``percentile`` (0-1] of ``values`` by nearest rank: always one of the values."""
    ordered = sorted(values)
    rank = max(math.ceil(percentile * len(ordered)), 1)
    return ordered[rank - 1]


def scaled_seconds(job: PastJob, latest_size: int | None) -> float:
    """The job's duration at ``latest_size``: scaled up when it copied less, never down.

    Sizes below ``SCALE_FLOOR`` count as that floor: a small job's time is mostly the
    job's own overhead, not its bytes, and scaling a job of a nearly empty file system
    (a new installation's first nights) by its size would turn minutes into years and
    refuse every external window until it aged out of the history.
    """
    if not latest_size or not job.size_bytes or job.size_bytes <= 0:
        return job.seconds
    return job.seconds * max(max(latest_size, SCALE_FLOOR) / max(job.size_bytes, SCALE_FLOOR), 1.0)


def estimate(
    jobs: Iterable[PastJob],
    *,
    fallback_minutes: float,
    margin_percent: float = 25,
    what: str = "EFS backup jobs",
) -> WindowEstimate:
    """The coming window's length from ``jobs`` (see the module), or the fixed fallback."""
    recent = sorted(jobs, key=lambda j: j.created)[-RECENT:]
    if len(recent) < MIN_JOBS:
        why = f"fewer than {MIN_JOBS} completed {what} to learn from (found {len(recent)})"
        return fixed(fallback_minutes, why, jobs=len(recent))
    latest_size = recent[-1].size_bytes
    scaled = [scaled_seconds(job, latest_size) for job in recent]
    high = nearest_rank(scaled, PERCENTILE)
    seconds = high * (1 + margin_percent / 100)
    growth = max(
        (s / j.seconds for s, j in zip(scaled, recent, strict=True) if j.seconds), default=1
    )
    size = f"{latest_size / GIB:.2f} GiB, up to x{growth:.2f}" if latest_size else "unknown"
    return WindowEstimate(
        seconds=seconds,
        source=HISTORY,
        basis=(
            f"p{round(PERCENTILE * 100)} of the last {len(recent)} completed {what} "
            f"(since {recent[0].created.isoformat()}), "
            f"each scaled to the latest size ({size}), never shrunk: {_duration(high)}, "
            f"plus {margin_percent:g}% margin"
        ),
        jobs=len(recent),
        margin_percent=margin_percent,
    )


def fixed(minutes: float, why: str, jobs: int = 0) -> WindowEstimate:
    """The fixed ``cold_window.expected_backup_minutes``, saying why no history was used."""
    return WindowEstimate(
        seconds=minutes * 60.0,
        source=FALLBACK,
        basis=f"{why}: the fixed cold_window.expected_backup_minutes ({minutes:g} min)",
        jobs=jobs,
        margin_percent=0,
    )


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def describe(record: Mapping[str, Any]) -> str:
    """One line for logs and refusals: the estimate and its basis."""
    return f"{_duration(record['seconds'])} ({record['basis']})"
