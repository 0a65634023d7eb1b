"""Preflight's estimate of the coming cold window, read from this installation's history.

The rule is ``window_estimate`` (pure); this step reads what it learns from, the
past runs of the last ``cold_window.estimate_history_days`` (read only, made
``past_runs.PastRun`` by ``past_runs``): with AWS Backup the completed jobs of the
live file system (``ListBackupJobs``), with DataSync each backup set's successful
execution (``DataSyncHook.set_copies``: ``ListTasks``, ``ListTagsForResource``,
``DescribeTask``, ``DescribeLocationEfs``, ``ListTaskExecutions``,
``DescribeTaskExecution``). It logs
the estimate and its basis in both modes, and warns loudly in managed mode
when the estimate does not fit in ``max_window_minutes`` after the drain:
the workflows would stay suspended longer than the platform's budget (the
watchdog alerts the window overdue and never resumes a running backup's
ECDs). External mode's refusal is ``backup_steps.check_external_window``'s,
against ``suspend.until``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ue_backup.config import ColdWindowMode, InstallationConfig
from ue_backup.hooks.aws_backup import AwsBackupHook
from ue_backup.hooks.datasync import DataSyncHook
from ue_backup.hooks.efs import EfsHook
from ue_backup.past_runs import PastRun, aws_backup_runs, datasync_runs
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


def past_runs(cfg: InstallationConfig, now: datetime) -> tuple[list[PastRun], str]:
    """(the live file system's past copies in the history's days, what they are, in words)."""
    since = now - timedelta(days=cfg.cold_window.estimate_history_days)
    if cfg.efs.datasync:
        copies = _hook(cfg, DataSyncHook).set_copies(cfg.installation)
        return datasync_runs(copies, since), f"DataSync copies of {cfg.installation}"
    arn = _hook(cfg, EfsHook).describe_file_system(cfg.efs.file_system_id)["FileSystemArn"]
    jobs = _hook(cfg, AwsBackupHook).completed_backup_jobs(arn, since)
    return aws_backup_runs(jobs, arn), f"EFS backup jobs of {cfg.efs.file_system_id}"


def window_estimate(
    cfg: InstallationConfig, warnings: list[str], now: datetime | None = None
) -> dict[str, Any] | None:
    """The estimate's record (``WindowEstimate.record``), logged; None without a cold window.

    A history that cannot be read (a permission missing) is a warning and the
    fixed fallback, not a refusal: the estimate sharpens a check, it is not the
    backup. A transient error that outlasted the retries fails this try instead.
    """
    window = cfg.cold_window
    if not window.required:
        return None
    now = now or datetime.now(UTC)
    fallback = window.expected_backup_minutes
    try:
        runs, what = past_runs(cfg, now)
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
        runs, fallback_minutes=fallback, margin_percent=window.estimate_margin_percent, what=what
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
