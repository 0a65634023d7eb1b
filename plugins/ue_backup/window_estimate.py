"""How long the coming cold window will last, learned from the backups that already ran.

A fixed guess (``cold_window.expected_backup_minutes``) goes stale as the file
system grows: a window that fitted last month overruns today. The estimate is
therefore read off this installation's own history, the finished copies of the
live file system (``past_runs``: AWS Backup's completed EFS jobs, or each
DataSync set's successful execution), one rule for both methods:

1. AWS Backup copies an EFS file system whole on its first backup and only what
   changed on each later one: that first, full copy (``PastRun.full_copy``, told
   apart by ``past_runs.first_full_copy``) is left out once a newer run exists. A
   3-hour initial copy followed by 10-minute incrementals would otherwise be the
   nearest-rank p90 of every history of up to nine runs, and refuse, for nine
   nights, an external window that fits the copies the nights really make.
   DataSync copies every set whole into its own folder: none is left out.
2. each run's duration is scaled to the file system's current size
   (``SizeInBytes``, read just before; without it, the newest run's size), never
   shrunk: a run that copied half of today's data would take about twice as long
   today, one that copied more is not assumed to be faster. Growth since the
   newest run counts too. The metered size may run a little above what a copy
   reports: the estimate then errs long, never short;
3. of the newest ``RECENT`` runs left, the 90th percentile (nearest rank: with
   few runs, the slowest) of those scaled durations;
4. plus a margin (``cold_window.estimate_margin_percent``, 25 by default);
5. plus the waits inside the window before the copy starts, at their bounds
   (``lead``: what the caller knows the run will wait for, each named in the
   basis; the database's snapshot point, the database's AWS Backup point). A
   past run's duration starts at its job's creation and never saw them. What
   has no bound (the API calls and task starts between the steps: seconds) is
   left to the margin.

With fewer than ``MIN_JOBS`` runs left there is no history worth the name: the
fixed ``expected_backup_minutes`` is used and the estimate says so. That figure
is the operator's own for the whole backup: no wait is added to it.

Pure: the caller reads the runs and the current size (``tasks.window_history``)
and hands them in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
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
    lead_seconds: float = 0.0  # the waits before the copy, at their bounds

    def record(self) -> dict[str, Any]:
        """JSON for the run's settings and the manifest's ``cold_window``."""
        return {
            "seconds": round(self.seconds, 3),
            "source": self.source,
            "basis": self.basis,
            "jobs": self.jobs,
            "margin_percent": self.margin_percent,
            "lead_seconds": round(self.lead_seconds, 3),
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


def learned_from(runs: Iterable[PastRun]) -> tuple[list[PastRun], list[PastRun]]:
    """(the runs the estimate learns from, oldest first; the full copies left out: those
    with a newer run, see the module)."""
    ordered = sorted(runs, key=lambda r: r.started)
    newest = ordered[-1].started if ordered else None
    left_out = [r for r in ordered if r.full_copy and newest and r.started < newest]
    return [r for r in ordered if r not in left_out], left_out


def estimate(
    runs: Iterable[PastRun],
    *,
    fallback_minutes: float,
    margin_percent: float = 25,
    what: str = "EFS backup jobs",
    current_size: int | None = None,
    lead: Sequence[tuple[str, float]] = (),
) -> WindowEstimate:
    """The coming window's length from ``runs`` (see the module), or the fixed fallback.

    ``what`` names the runs in the basis ("EFS backup jobs of fs-1", "DataSync copies
    of ue-prod"), so the log says what the estimate was learned from. ``current_size``:
    the file system's size now (bytes; None: unknown). ``lead``: the waits before the
    copy starts, (what, at most how many seconds), added to a learned estimate.
    """
    kept, left_out = learned_from(runs)
    recent = kept[-RECENT:]
    full = (
        f", the first, full copy of {left_out[0].started.date().isoformat()} left out"
        if left_out
        else ""
    )
    if len(recent) < MIN_JOBS:
        why = f"fewer than {MIN_JOBS} completed {what} to learn from (found {len(recent)}{full})"
        return fixed(fallback_minutes, why, jobs=len(recent))
    target = current_size or recent[-1].size_bytes
    scaled = [scaled_seconds(run, target) for run in recent]
    high = nearest_rank(scaled, PERCENTILE)
    waits = sum(seconds for _, seconds in lead)
    seconds = high * (1 + margin_percent / 100) + waits
    growth = max(
        (s / r.seconds for s, r in zip(scaled, recent, strict=True) if r.seconds), default=1
    )
    which = "the file system's current size" if current_size else "the latest size"
    size = f"{target / GIB:.2f} GiB, up to x{growth:.2f}" if target else "unknown"
    before = (
        f", plus up to {_duration(waits)} before the copy starts ("
        + "; ".join(f"{name}: at most {_duration(limit)}" for name, limit in lead)
        + ")"
        if lead
        else ""
    )
    return WindowEstimate(
        seconds=seconds,
        source=HISTORY,
        basis=(
            f"p{round(PERCENTILE * 100)} of the last {len(recent)} completed {what} "
            f"(since {recent[0].started.isoformat()}{full}), "
            f"each scaled to {which} ({size}), never shrunk: {_duration(high)}, "
            f"plus {margin_percent:g}% margin{before}"
        ),
        jobs=len(recent),
        margin_percent=margin_percent,
        lead_seconds=waits,
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
