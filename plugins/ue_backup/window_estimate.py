"""How long the coming cold window will last, learned from the backups that already ran.

A fixed guess (``cold_window.expected_backup_minutes``) goes stale as the file
system grows: a window that fitted last month overruns today. The estimate is
therefore read off this installation's own history, the finished copies of the
live file system (``past_runs``: AWS Backup's completed EFS jobs, or each
DataSync set's successful execution), one rule for both methods:

1. each run's duration is scaled to the newest run's size, never shrunk: a
   run that copied half of today's data would take about twice as long today,
   one that copied more is not assumed to be faster;
2. of the newest ``RECENT`` runs, the 90th percentile (nearest rank: with few
   runs, the slowest) of those scaled durations;
3. plus a margin (``cold_window.estimate_margin_percent``, 25 by default).

With fewer than ``MIN_JOBS`` runs there is no history worth the name: the
fixed ``expected_backup_minutes`` is used and the estimate says so.

Pure: the caller reads the runs (``tasks.window_history``) and hands them in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ue_backup.past_runs import PastRun

PERCENTILE = 0.9
MIN_JOBS = 3  # fewer past runs than this: the fixed expected_backup_minutes
RECENT = 20  # the newest runs the percentile is taken over
HISTORY = "history"
FALLBACK = "fallback"
GIB = 1024**3
SCALE_FLOOR = GIB  # below this, a run's duration is its overhead: not scaled by size


@dataclass(frozen=True)
class WindowEstimate:
    """The estimate and what it rests on (shown by preflight, kept in the manifest)."""

    seconds: float
    source: str  # HISTORY or FALLBACK
    basis: str
    jobs: int  # how many past runs it rests on (the key stored manifests already hold)
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


def nearest_rank(values: list[float], percentile: float) -> float:
    """The ``percentile`` (0-1] of ``values`` by nearest rank: always one of the values."""
    ordered = sorted(values)
    rank = max(math.ceil(percentile * len(ordered)), 1)
    return ordered[rank - 1]


def scaled_seconds(run: PastRun, latest_size: int | None) -> float:
    """The run's duration at ``latest_size``: scaled up when it copied less, never down.

    Sizes below ``SCALE_FLOOR`` count as that floor: a small run's time is mostly the
    copy's own overhead, not its bytes, and scaling a run of a nearly empty file system
    (a new installation's first nights) by its size would turn minutes into years and
    refuse every external window until it aged out of the history.
    """
    if not latest_size or not run.size_bytes or run.size_bytes <= 0:
        return run.seconds
    return run.seconds * max(max(latest_size, SCALE_FLOOR) / max(run.size_bytes, SCALE_FLOOR), 1.0)


def estimate(
    runs: Iterable[PastRun],
    *,
    fallback_minutes: float,
    margin_percent: float = 25,
    what: str = "EFS backup jobs",
) -> WindowEstimate:
    """The coming window's length from ``runs`` (see the module), or the fixed fallback.

    ``what`` names the runs in the basis ("EFS backup jobs of fs-1", "DataSync copies
    of ue-prod"), so the log says what the estimate was learned from.
    """
    recent = sorted(runs, key=lambda r: r.started)[-RECENT:]
    if len(recent) < MIN_JOBS:
        why = f"fewer than {MIN_JOBS} completed {what} to learn from (found {len(recent)})"
        return fixed(fallback_minutes, why, jobs=len(recent))
    latest_size = recent[-1].size_bytes
    scaled = [scaled_seconds(run, latest_size) for run in recent]
    high = nearest_rank(scaled, PERCENTILE)
    seconds = high * (1 + margin_percent / 100)
    growth = max(
        (s / r.seconds for s, r in zip(scaled, recent, strict=True) if r.seconds), default=1
    )
    size = f"{latest_size / GIB:.2f} GiB, up to x{growth:.2f}" if latest_size else "unknown"
    return WindowEstimate(
        seconds=seconds,
        source=HISTORY,
        basis=(
            f"p{round(PERCENTILE * 100)} of the last {len(recent)} completed {what} "
            f"(since {recent[0].started.isoformat()}), "
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
