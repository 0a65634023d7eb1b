"""Preflight's window estimate, read from the file system's past AWS Backup jobs in the sandbox.

The hook asks AWS Backup for the completed jobs of the live file system only
(ByResourceArn, ByState, ByCreatedAfter) and reads every page; the estimate is
logged in both modes, warned of in managed mode when it does not fit the
window, and a history that cannot be read is a warning and the fixed fallback.
The installation has an RDS instance: a learned estimate adds the RDS snapshot's
time-fixed bound (``LEAD``, 10 minutes) before the copy.
"""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from sandbox.faults import Fault
from sandbox.installation import seed_installation
from tests.plugins.datasync_history import add_past_copies
from ue_backup.config import parse_config
from ue_backup.hooks.aws_backup import AwsBackupHook
from ue_backup.tasks.window_history import window_estimate
from ue_backup.window_estimate import FALLBACK, GIB, HISTORY

NOW = datetime.now(UTC).replace(microsecond=0)
LEAD = 10 * 60  # the RDS snapshot's point in time, at most (database_point)


@pytest.fixture
def installation(sandbox):
    return seed_installation(sandbox, memorydb=False, velero=False, ecds=())


def fs_arn(sandbox, fs_id: str) -> str:
    efs = sandbox.client("efs")
    return efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]["FileSystemArn"]


def history(
    sandbox,
    installation,
    minutes: list[float],
    gib: float = 10,
    days_ago: int = 10,
    points_kept_from: int | None = None,
):
    """Completed jobs of the live file system, one a day from ``days_ago``; the recovery
    points of those from index ``points_kept_from`` on are still in the vault."""
    arn = fs_arn(sandbox, installation.file_system_id)
    for i, m in enumerate(minutes):
        sandbox.aws.add_past_backup_job(
            installation.vault,
            arn,
            NOW - timedelta(days=days_ago - i),
            m * 60,
            int(gib * GIB),
            keep_point=points_kept_from is not None and i >= points_kept_from,
        )


def config(installation, **window):
    data = copy.deepcopy(installation.config)
    data["cold_window"].update(window)
    return parse_config(data)


def test_the_hook_lists_only_the_completed_jobs_of_the_file_system_since_the_day_asked(
    sandbox, installation
):
    history(sandbox, installation, [10, 11, 12])
    arn = fs_arn(sandbox, installation.file_system_id)
    other = fs_arn(sandbox, sandbox.aws.create_file_system("other"))
    sandbox.aws.add_past_backup_job(installation.vault, other, NOW - timedelta(days=2), 60, 1)
    sandbox.aws.add_past_backup_job(installation.vault, arn, NOW - timedelta(days=40), 60, 1)

    jobs = AwsBackupHook().completed_backup_jobs(arn, NOW - timedelta(days=30))

    assert sorted(j["CompletionDate"] - j["CreationDate"] for j in jobs) == [
        timedelta(minutes=m) for m in (10, 11, 12)
    ]
    listing = [e for e in sandbox.requests.entries("aws") if e.operation == "ListBackupJobs"]
    assert listing[-1].params["ByResourceArn"] == arn
    assert listing[-1].params["ByState"] == "COMPLETED"
    assert "ByCreatedAfter" in listing[-1].params


def test_the_hook_reads_every_page(sandbox, installation):
    arn = fs_arn(sandbox, installation.file_system_id)
    for i in range(1003):  # AWS Backup's pages hold up to 1000
        sandbox.aws.add_past_backup_job(
            installation.vault, arn, NOW - timedelta(hours=i + 1), 60, 1
        )
    assert len(AwsBackupHook().completed_backup_jobs(arn, NOW - timedelta(days=60))) == 1003


def test_a_history_is_learned_from_and_logged(sandbox, installation, caplog):
    history(sandbox, installation, [20, 22, 24, 21])
    warnings: list[str] = []
    with caplog.at_level(logging.INFO):
        record = window_estimate(
            config(installation, max_window_minutes=60, drain_timeout_minutes=15), warnings
        )
    assert record["source"] == HISTORY
    assert record["seconds"] == pytest.approx(24 * 60 * 1.25 + LEAD)
    assert record["jobs"] == 4
    assert record["lead_seconds"] == LEAD
    assert "Cold window estimate (managed mode): 40 min 00 s (p90 of the last 4" in caplog.text
    assert "before the copy starts (the RDS snapshot's point in time: at most 10 min" in (
        caplog.text
    )
    assert warnings == []


def test_without_history_the_fixed_minutes_are_used_and_said(sandbox, installation, caplog):
    history(sandbox, installation, [50, 50])
    with caplog.at_level(logging.INFO):
        record = window_estimate(config(installation, expected_backup_minutes=30), [])
    assert record["source"] == FALLBACK
    assert record["seconds"] == 30 * 60
    assert "fewer than 3 completed EFS backup jobs" in caplog.text


def test_managed_mode_warns_when_the_estimate_does_not_fit_after_the_drain(sandbox, installation):
    history(sandbox, installation, [40, 40, 40])  # 50 min with the margin, 60 with the lead
    fits: list[str] = []
    window_estimate(config(installation, max_window_minutes=80, drain_timeout_minutes=15), fits)
    assert fits == []
    tight: list[str] = []
    window_estimate(config(installation, max_window_minutes=70, drain_timeout_minutes=15), tight)
    [warning] = tight
    assert "estimated at 60 min 00 s" in warning
    assert "55 min that max_window_minutes (70) leaves" in warning
    assert "raise max_window_minutes to the outage the platform can afford" in warning


def test_a_history_that_cannot_be_read_is_a_warning_and_the_fallback(sandbox, installation):
    history(sandbox, installation, [40, 40, 40])
    sandbox.faults.add(
        Fault("backup", "ListBackupJobs", code="AccessDeniedException", status=403, times=None)
    )
    warnings: list[str] = []
    record = window_estimate(config(installation), warnings)
    assert record["source"] == FALLBACK
    [warning] = warnings
    assert "past EFS backup jobs could not be read" in warning
    assert "AccessDeniedException" in warning


def test_a_throttled_history_fails_the_try_instead_of_guessing(sandbox, installation):
    """Throttling says nothing about the history: Airflow retries preflight."""
    history(sandbox, installation, [40, 40, 40])
    sandbox.faults.add(
        Fault("backup", "ListBackupJobs", code="ThrottlingException", status=400, times=None)
    )
    data = copy.deepcopy(installation.config)
    data["aws_retries"] = {"mode": "standard", "max_attempts": 1}
    with pytest.raises(ClientError, match="ThrottlingException"):
        window_estimate(parse_config(data), [])


# --- a DataSync installation: each set's execution is a past run ---------------------------------


@pytest.fixture
def datasync_installation(sandbox):
    return seed_installation(sandbox, memorydb=False, velero=False, ecds=(), method="datasync")


def test_a_datasync_installation_learns_from_its_sets_executions(
    sandbox, datasync_installation, caplog
):
    add_past_copies(sandbox, datasync_installation, [20, 22, 24, 21, 23, 20, 22])
    changes = len(sandbox.log.entries())
    warnings: list[str] = []
    with caplog.at_level(logging.INFO):
        record = window_estimate(
            config(datasync_installation, expected_backup_minutes=5, max_window_minutes=60),
            warnings,
        )
    assert record["source"] == HISTORY
    assert record["jobs"] == 7
    assert record["seconds"] == pytest.approx(24 * 60 * 1.25 + LEAD)
    name = datasync_installation.name
    assert record["basis"].startswith(f"p90 of the last 7 completed DataSync copies of {name}")
    assert "40 min 00 s (p90 of the last 7 completed DataSync copies" in caplog.text
    assert warnings == []
    assert len(sandbox.log.entries()) == changes  # read only: nothing started or tagged


def test_a_datasync_history_keeps_to_its_days(sandbox, datasync_installation):
    add_past_copies(sandbox, datasync_installation, [90, 90, 90], days_ago=40)  # too old
    add_past_copies(sandbox, datasync_installation, [10, 10], days_ago=5)
    record = window_estimate(config(datasync_installation, expected_backup_minutes=30), [])
    assert record["source"] == FALLBACK
    assert record["basis"].startswith(
        f"fewer than 3 completed DataSync copies of {datasync_installation.name} to learn "
        "from (found 2)"
    )
    longer = window_estimate(
        config(datasync_installation, expected_backup_minutes=30, estimate_history_days=60), []
    )
    assert longer["source"] == HISTORY
    assert longer["jobs"] == 5


def test_a_datasync_history_that_cannot_be_read_is_a_warning_and_the_fallback(
    sandbox, datasync_installation
):
    add_past_copies(sandbox, datasync_installation, [40, 40, 40])
    sandbox.faults.add(
        Fault("datasync", "ListTasks", code="AccessDeniedException", status=403, times=None)
    )
    warnings: list[str] = []
    record = window_estimate(config(datasync_installation, expected_backup_minutes=20), warnings)
    assert record["source"] == FALLBACK
    assert record["seconds"] == 20 * 60
    [warning] = warnings
    assert "past DataSync copies could not be read" in warning
    assert "AccessDeniedException" in warning


def test_no_window_no_estimate(sandbox, installation):
    assert window_estimate(config(installation, disk_storage_used=[]), []) is None


# --- what the history does not see -------------------------------------------------------------


def test_growth_since_the_newest_job_counts(sandbox, installation):
    """The jobs copied 10 GiB; the live file system holds 20 GiB now (a sparse file: its
    size is metered, nothing is written)."""
    history(sandbox, installation, [20, 20, 20])
    with open(sandbox.aws.efs_path(installation.file_system_id) / "grown.bin", "wb") as grown:
        grown.truncate(20 * GIB)

    record = window_estimate(config(installation), [])

    assert record["seconds"] == pytest.approx(20 * 60 * 2 * 1.25 + LEAD)
    assert "each scaled to the file system's current size (" in record["basis"]
    assert "up to x2.00" in record["basis"]


def test_the_first_full_copy_is_left_out_while_its_point_shows_it_began_the_chain(
    sandbox, installation
):
    """A new installation: a 3-hour first job, then incrementals of 10 minutes, every
    point still in the vault; the first job's is the oldest, so it was the full copy."""
    history(sandbox, installation, [180] + [10] * 8, points_kept_from=0)

    record = window_estimate(config(installation), [])

    assert record["seconds"] == pytest.approx(10 * 60 * 1.25 + LEAD)
    assert record["jobs"] == 8
    assert "the first, full copy of" in record["basis"]


def test_a_slow_job_whose_predecessor_expired_is_not_taken_for_the_full_copy(sandbox, installation):
    """Retention shorter than the listing: the slow first listed job's point has expired,
    and the vault's oldest point is a later job's; nothing is left out."""
    history(sandbox, installation, [180] + [10] * 8, points_kept_from=1)

    record = window_estimate(config(installation), [])

    assert record["seconds"] == pytest.approx(180 * 60 * 1.25 + LEAD)
    assert "full copy" not in record["basis"]


def test_the_immutable_copy_adds_the_database_points_wait_and_no_database_adds_none(
    sandbox, installation
):
    from ue_backup.tasks.window_history import waits_before_the_copy

    data = copy.deepcopy(installation.config)
    data["immutable"] = {
        "account_id": "210987654321",
        "role_arn": "arn:aws:iam::210987654321:role/ue-backup-immutable",
        "backup_role_arn": "arn:aws:iam::210987654321:role/ue-backup-copy-back",
        "backup_vault_name": "ue-test-locked",
        "bucket": "ue-test-locked",
        "min_retention_days": 35,
    }
    cfg = parse_config(data)

    assert waits_before_the_copy(cfg) == [
        ("the RDS snapshot's point in time", 600.0),
        ("the database's AWS Backup point", 1800.0),
    ]
    assert waits_before_the_copy(cfg, {"efs", "memorydb"}) == []  # params.components
    history(sandbox, installation, [20, 20, 20])
    record = window_estimate(cfg, [], components={"efs"})
    assert record["seconds"] == pytest.approx(20 * 60 * 1.25)
