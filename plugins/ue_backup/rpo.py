"""The RPO guard's rules: how old the newest restorable set may be, and what to say when not.

Alerts on failed tasks say nothing when nothing runs: a paused DAG, a dead
scheduler, a lost Airflow database, or runs that fail before they alert. The
guard watches the result instead of the runs, in two layers:

- inside Airflow, ``ue_backup_rpo`` asks the restore planner every few
  minutes for the newest restorable set in each region and alerts once when
  its age passes the RPO, and once when it is back within it (``judge``);
- outside Airflow, every verified set publishes a CloudWatch metric and a
  CloudWatch alarm on it (``alarm_spec``) pages when none arrived within the
  RPO, so it fires even when Airflow is gone.

This module is pure: no AWS or Airflow call. The RPO per region comes from
the configuration's ``rpo`` section, or, left out, from the schedule
(``default_minutes``).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ue_backup.config import InstallationConfig

NAMESPACE = "UeBackup"
METRIC = "VerifiedBackupSets"
# CloudWatch evaluates a metric alarm over at most 7 days (Period x EvaluationPeriods <=
# 604,800 s), and over at most one day when the period is shorter than an hour.
MAX_ALARM_SECONDS = 7 * 24 * 3600
SHORT_PERIOD_MAX_SECONDS = 24 * 3600
MAX_MINUTES = MAX_ALARM_SECONDS // 60
# Where the schedule's longest gap is looked for: at least 8 days of runs (a weekly
# pattern shows whole), at most this many runs (a run every minute: two days).
_SCAN_DAYS = 8
_SCAN_RUNS = 3000
_SCAN_FROM = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday; any fixed start keeps it repeatable


# --- the RPO of each region --------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def schedule_interval(cron: str) -> timedelta:
    """The longest gap between two runs of ``cron`` (UTC): what one missed run can cost."""
    from croniter import croniter

    runs = croniter(cron, _SCAN_FROM)
    times = [runs.get_next(float)]
    end = times[0] + _SCAN_DAYS * 86400
    while times[-1] < end and len(times) < _SCAN_RUNS:
        times.append(runs.get_next(float))
    return timedelta(seconds=max(b - a for a, b in itertools.pairwise(times)))


def default_minutes(schedule: str | None, max_window_minutes: float) -> int | None:
    """Twice the schedule's longest interval plus the window's maximum, at most 7 days.

    One failed or skipped run is tolerated without a page (the next run
    replaces its set); two in a row page: a daily backup pages after about
    two days without a new set. The window's maximum covers the time a run
    takes before its set counts. None without a schedule: the guard is off
    unless the ``rpo`` section gives a value.
    """
    if not schedule:
        return None
    interval = schedule_interval(schedule).total_seconds() / 60
    return min(int(2 * interval + max_window_minutes + 0.999), MAX_MINUTES)


def targets(cfg: InstallationConfig) -> dict[str, int]:
    """The RPO in minutes of every region watched: the home region, and the copy region
    when there is a ``cross_region`` section. Empty when the guard is off."""
    default = default_minutes(cfg.schedule, cfg.cold_window.max_window_minutes)
    out = {}
    home = cfg.rpo.home_minutes or default
    if home:
        out[cfg.region] = home
    if cfg.cross_region:
        copy = cfg.rpo.copy_minutes or home
        if copy:
            out[cfg.cross_region.region] = copy
    return out


def problems(cfg: InstallationConfig) -> Iterator[tuple[str, str]]:
    """What is wrong with the ``rpo`` section against the rest: (field path, message).

    Checked by preflight (it needs the schedule's runs, which costs too much for
    every DAG parse): an RPO shorter than the schedule's interval is late before the
    next run could meet it; one the schedule cannot meet within the 7 days a
    CloudWatch alarm can watch cannot be guarded at all.
    """
    if cfg.rpo.copy_minutes and not cfg.cross_region:
        yield (
            "rpo.copy_minutes",
            "needs a cross_region section: there is no copy region to watch",
        )
    if not cfg.schedule:
        return
    interval = schedule_interval(cfg.schedule)
    minutes = interval.total_seconds() / 60
    for field, value in (
        ("rpo.home_minutes", cfg.rpo.home_minutes),
        ("rpo.copy_minutes", cfg.rpo.copy_minutes),
    ):
        if value is not None and value < minutes:
            yield (
                field,
                f"{value} minutes is shorter than the schedule's interval ({minutes:g} minutes "
                f"between runs of {cfg.schedule!r}): every set would be late before the next run "
                "could replace it; give at least the interval (the default is twice it plus "
                "cold_window.max_window_minutes)",
            )
    if minutes > MAX_MINUTES and cfg.rpo.home_minutes is None:
        yield (
            "rpo.home_minutes",
            f"the schedule {cfg.schedule!r} leaves {minutes:g} minutes between runs, more than "
            f"the {MAX_MINUTES} minutes (7 days) a CloudWatch alarm can watch: back up at least "
            "weekly",
        )


# --- inside Airflow: the age and the breach ---------------------------------------------------


def plan_time(plan: Mapping[str, Any]) -> datetime:
    """The point a restore of this plan goes back to: its oldest component's time.

    Rule 1 makes the database strictly older than the disk and MemoryDB
    points, so what a restore loses is measured from there.
    """
    times = [
        datetime.fromisoformat(part["time"])
        for part in (plan.get("database"), plan.get("disk"), plan.get("memorydb"))
        if part and part.get("time")
    ]
    return min(times).astimezone(UTC)


def judge(
    newest: datetime | None, now: datetime, rpo_minutes: int, was_in_breach: bool
) -> dict[str, Any]:
    """The state of one region: age, breach, and the alert this check owes (if any).

    ``newest`` is the newest restorable set's point (None: nothing is
    restorable, which is a breach). ``transition`` is ``"breach"`` the first
    time the age passes the RPO, ``"recovered"`` the first time it is within
    it again, else None: one alert per change, none while nothing changes.
    """
    age = None if newest is None else (now - newest).total_seconds() / 60
    in_breach = age is None or age > rpo_minutes
    transition = None
    if in_breach and not was_in_breach:
        transition = "breach"
    elif was_in_breach and not in_breach:
        transition = "recovered"
    return {
        "newest": newest.isoformat() if newest else None,
        "age_minutes": None if age is None else round(age, 1),
        "rpo_minutes": rpo_minutes,
        "in_breach": in_breach,
        "transition": transition,
    }


def alert_text(installation: str, region: str, verdict: Mapping[str, Any]) -> tuple[str, str]:
    """Subject and message for a breach or a recovery of one region."""
    age, rpo = verdict["age_minutes"], verdict["rpo_minutes"]
    where = f"{installation} in {region}"
    if verdict["transition"] == "recovered":
        return (
            f"ue-backup {installation}: RPO met again in {region}",
            f"The newest restorable backup set of {where} is {age:g} minutes old "
            f"(point {verdict['newest']}), within the RPO of {rpo} minutes.",
        )
    if verdict["newest"] is None:
        state = "no backup set can be restored at all"
    else:
        state = f"the newest restorable set is {age:g} minutes old (point {verdict['newest']})"
    return (
        f"ue-backup {installation}: RPO breached in {region}",
        f"RPO breached for {where}: {state}, past the RPO of {rpo} minutes. Backups have "
        "stopped or keep failing: check that ue_backup is unpaused and its runs succeed, that "
        "the scheduler runs, and the failed runs' alerts. This alert is sent once; another "
        "follows when the RPO is met again.",
    )


# --- outside Airflow: the CloudWatch metric and alarm -----------------------------------------


def dimensions(installation: str, region: str) -> list[dict[str, str]]:
    """The metric's dimensions: one series per installation and region of the set."""
    return [{"Name": "Installation", "Value": installation}, {"Name": "Region", "Value": region}]


def alarm_name(installation: str, region: str) -> str:
    return f"ue-backup-rpo-{installation}-{region}"


def alarm_shape(rpo_minutes: int) -> tuple[int, int]:
    """(Period, EvaluationPeriods) whose product is the RPO, within CloudWatch's limits.

    One-minute periods up to a day (CloudWatch allows at most a day of
    evaluation with periods under an hour), hourly periods up to 7 days (the
    RPO rounded up to the hour). The alarm fires within one period after the
    RPO has passed. Longer is refused: no metric alarm evaluates more than
    7 days of data.
    """
    seconds = rpo_minutes * 60
    if seconds <= 0 or seconds > MAX_ALARM_SECONDS:
        raise ValueError(
            f"an RPO of {rpo_minutes} minutes cannot be watched by a CloudWatch alarm "
            f"(1 to {MAX_MINUTES} minutes)"
        )
    if seconds <= SHORT_PERIOD_MAX_SECONDS:
        return 60, rpo_minutes
    return 3600, -(-seconds // 3600)


def alarm_spec(
    installation: str, region: str, rpo_minutes: int, topic_arn: str | None
) -> dict[str, Any]:
    """The ``PutMetricAlarm`` arguments of one watched region's alarm.

    ALARM when every period of the RPO saw no verified set (Sum < 1), missing
    data counting as breaching, so the alarm fires when nothing is published
    at all. ALARM and OK notify the alerts topic.
    """
    period, periods = alarm_shape(rpo_minutes)
    actions = [topic_arn] if topic_arn else []
    return {
        "AlarmName": alarm_name(installation, region),
        "AlarmDescription": (
            f"ue-backup RPO guard: no verified backup set of {installation} in {region} "
            f"within the RPO of {rpo_minutes} minutes"
        ),
        "ActionsEnabled": True,
        "AlarmActions": actions,
        "OKActions": actions,
        "Namespace": NAMESPACE,
        "MetricName": METRIC,
        "Dimensions": dimensions(installation, region),
        "Statistic": "Sum",
        "Period": period,
        "EvaluationPeriods": periods,
        "DatapointsToAlarm": periods,
        "Threshold": 1.0,
        "ComparisonOperator": "LessThanThreshold",
        "TreatMissingData": "breaching",
        "Unit": "Count",
    }


def alarm_differs(spec: Mapping[str, Any], existing: Mapping[str, Any] | None) -> bool:
    """Whether ``PutMetricAlarm`` must be called: the alarm is missing or set otherwise."""
    if existing is None:
        return True

    def plain(key: str, value: Any) -> Any:
        return sorted(value, key=lambda d: d["Name"]) if key == "Dimensions" else value

    return any(plain(k, existing.get(k)) != plain(k, v) for k, v in spec.items())
