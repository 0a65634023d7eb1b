"""Preflight's estimate of the coming cold window, read from this installation's history.

The rule is ``window_estimate`` (pure); this step reads what it learns from, the
past runs of the last ``cold_window.estimate_history_days`` (read only, made
``past_runs.PastRun`` by ``past_runs``): with AWS Backup the completed jobs of the
live file system (``ListBackupJobs``; AWS lists those of the last 30 days only, so
the configuration refuses more) and its recovery points in the installation's
vault (``ListRecoveryPointsByBackupVault``: which job made the first, full copy),
with DataSync each backup set's successful execution (``DataSyncHook.set_copies``:
``ListTasks``, ``ListTagsForResource``, ``DescribeTask``, ``DescribeLocationEfs``,
``ListTaskExecutions``, ``DescribeTaskExecution``); both with the live file
system's current size (``DescribeFileSystems``' ``SizeInBytes``), and the waits the
run will make inside the window before the copy starts (``waits_before_the_copy``).
It logs the estimate and its basis in both modes, and warns loudly in managed mode
when the estimate does not fit in ``max_window_minutes`` after the drain:
the workflows would stay suspended longer than the platform's budget (the
watchdog alerts the window overdue and never resumes a running backup's
ECDs). External mode's refusal is ``backup_steps.check_external_window``'s,
against ``suspend.until``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ue_backup.config import ColdWindowMode, InstallationConfig
from ue_backup.database_point import DEFAULT_WAIT_MINUTES, SNAPSHOT_TIME_FIXED_SECONDS
from ue_backup.hooks.aws_backup import AwsBackupHook
from ue_backup.hooks.datasync import DataSyncHook
from ue_backup.hooks.efs import EfsHook
from ue_backup.past_runs import PastRun, aws_backup_runs, datasync_runs, first_full_copy
from ue_backup.run_settings import botocore_config
from ue_backup.transient import is_transient
from ue_backup.window_estimate import HISTORY, describe, estimate

log = logging.getLogger(__name__)


def _hook(cfg: InstallationConfig, hook_class: type) -> Any:
    return hook_class(
        aws_conn_id=cfg.aws_conn_id,
        region_name=cfg.region,
        config=botocore_config(cfg.aws_retries),
    )


def waits_before_the_copy(
    cfg: InstallationConfig, components: Iterable[str] | None = None
) -> list[tuple[str, float]]:
    """What the run waits for inside the window before the disk's copy starts, each at its
    bound (``window_estimate``'s ``lead``): the database's points come first (rule 1).

    - the set's RDS snapshot, until RDS gives its ``SnapshotCreateTime``
      (``RdsStartSnapshotOperator``, failing the run past its bound);
    - with the ``immutable`` section, the database's AWS Backup job, until RDS has taken
      its snapshot (``wait_rds_backup_point``; past its bound the disk goes on).
    """
    wanted = set(components) if components is not None else {"database"}
    if not (cfg.uses_rds and "database" in wanted):
        return []
    waits = [("the RDS snapshot's point in time", float(SNAPSHOT_TIME_FIXED_SECONDS))]
    if cfg.immutable:
        waits.append(("the database's AWS Backup point", DEFAULT_WAIT_MINUTES * 60.0))
    return waits


def past_runs(cfg: InstallationConfig, now: datetime) -> tuple[list[PastRun], str, int | None]:
    """(the live file system's past copies in the history's days, what they are in words,
    the file system's size now in bytes or None)."""
    since = now - timedelta(days=cfg.cold_window.estimate_history_days)
    live = _hook(cfg, EfsHook).describe_file_system(cfg.efs.file_system_id)
    size = (live.get("SizeInBytes") or {}).get("Value")
    if cfg.efs.datasync:
        copies = _hook(cfg, DataSyncHook).set_copies(cfg.installation)
        return datasync_runs(copies, since), f"DataSync copies of {cfg.installation}", size
    arn = live["FileSystemArn"]
    backup = _hook(cfg, AwsBackupHook)
    jobs = backup.completed_backup_jobs(arn, since)
    vault = cfg.efs.aws_backup.vault_name if cfg.efs.aws_backup else None
    points = backup.resource_points(vault, arn) if vault else []
    full = first_full_copy(jobs, vault, points)
    return aws_backup_runs(jobs, arn, full), f"EFS backup jobs of {cfg.efs.file_system_id}", size


def window_estimate(
    cfg: InstallationConfig,
    warnings: list[str],
    now: datetime | None = None,
    components: Iterable[str] | None = None,
) -> dict[str, Any] | None:
    """The estimate's record (``WindowEstimate.record``), logged; None without a cold window.

    ``components``: what this run backs up (params.components; None: all configured).

    A history that cannot be read (a permission missing) is a warning and the
    fixed fallback, not a refusal: the estimate sharpens a check, it is not the
    backup. A transient error that outlasted the retries fails this try instead.
    """
    window = cfg.cold_window
    if not window.required:
        return None
    now = now or datetime.now(UTC)
    fallback = window.expected_backup_minutes
    size = None
    try:
        runs, what, size = past_runs(cfg, now)
    except Exception as error:
        if is_transient(error) or not isinstance(error, ClientError):
            raise
        method = "DataSync copies" if cfg.efs.datasync else "EFS backup jobs"
        warnings.append(
            f"cold_window: the past {method} could not be read ({error}); the window "
            f"is estimated with the fixed expected_backup_minutes ({fallback} min)"
        )
        runs, what = [], method
    record = estimate(
        runs,
        fallback_minutes=fallback,
        margin_percent=window.estimate_margin_percent,
        what=what,
        current_size=size,
        lead=waits_before_the_copy(cfg, components),
    ).record()
    log.info("Cold window estimate (%s mode): %s", window.mode.value, describe(record))
    room = window.max_window_minutes - window.drain_timeout_minutes
    managed = window.mode == ColdWindowMode.MANAGED
    if managed and record["source"] == HISTORY and record["seconds"] > room * 60:
        warnings.append(
            f"cold_window: the window is estimated at {describe(record)}, more than the "
            f"{room:g} min that max_window_minutes ({window.max_window_minutes:g}) leaves after "
            f"drain_timeout_minutes ({window.drain_timeout_minutes:g}): the workflows will "
            "likely stay suspended past max_window_minutes (the watchdog alerts the window "
            "overdue; it never resumes a running backup's ECDs); raise max_window_minutes to "
            "the outage the platform can afford (README, The cold window)"
        )
    return record
