"""Each backup method's records become the same past runs the window estimate learns from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ue_backup.past_runs import (
    PastRun,
    aws_backup_runs,
    datasync_runs,
    datasync_seconds,
    first_full_copy,
)

T0 = datetime(2026, 11, 1, 2, tzinfo=UTC)
FS = "arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-1"


# --- AWS Backup: the completed jobs of the live file system ---------------------------------------


def listed(state="COMPLETED", arn=FS, **extra):
    return {
        "State": state,
        "ResourceArn": arn,
        "CreationDate": T0,
        "CompletionDate": T0 + timedelta(minutes=7),
        "BackupSizeInBytes": 3,
        **extra,
    }


def test_only_completed_jobs_of_the_file_system_are_learned_from():
    jobs = [
        listed(),
        listed(state="FAILED"),
        listed(state="RUNNING", CompletionDate=None),
        listed(arn=FS.replace("fs-1", "fs-2")),
    ]
    assert aws_backup_runs(jobs, FS) == [PastRun(T0, 7 * 60, 3)]


def test_a_job_completed_before_it_was_created_took_no_time():
    assert aws_backup_runs([listed(CompletionDate=T0 - timedelta(seconds=5))], FS)[0].seconds == 0


# --- AWS Backup's first, full copy --------------------------------------------------------------

VAULT = "ue-vault"


def job_into(day: int, vault: str = VAULT) -> dict:
    """A completed job of the file system on ``day``, its point ``rp-<day>``."""
    created = T0 + timedelta(days=day)
    return listed(
        BackupJobId=f"job-{day}",
        BackupVaultName=vault,
        RecoveryPointArn=f"rp-{day}",
        CreationDate=created,
        CompletionDate=created + timedelta(minutes=10),
    )


def point(day: int) -> dict:
    return {"RecoveryPointArn": f"rp-{day}", "CreationDate": T0 + timedelta(days=day, seconds=1)}


def test_the_job_whose_point_is_the_vaults_oldest_made_the_full_copy():
    """A new installation: its first job's point is still there, nothing older."""
    jobs = [job_into(day) for day in range(4)]
    points = [point(day) for day in range(4)]

    assert first_full_copy(jobs, VAULT, points) == "job-0"
    runs = aws_backup_runs(jobs, FS, "job-0")
    assert [r.full_copy for r in runs] == [True, False, False, False]


@pytest.mark.parametrize(
    ("jobs", "points", "why"),
    [
        # an older point, whose job is older than the listing: the chain began before
        ([job_into(d) for d in range(1, 4)], [point(d) for d in range(4)], "older point"),
        # the oldest listed job's point expired (shorter retention than the listing): day
        # 1's point is now the oldest, but day 0's job came before it
        ([job_into(d) for d in range(4)], [point(d) for d in range(1, 4)], "point expired"),
        # jobs of another vault: its points are not read
        ([job_into(d, "other") for d in range(4)], [point(d) for d in range(4)], "other vault"),
        ([job_into(d) for d in range(4)], [], "no points"),
    ],
)
def test_no_job_is_judged_full_without_evidence(jobs, points, why):
    assert first_full_copy(jobs, VAULT, points) is None, why
    assert not any(r.full_copy for r in aws_backup_runs(jobs, FS, None))


def test_no_vault_no_full_copy():
    assert first_full_copy([job_into(0)], None, [point(0)]) is None


# --- DataSync: each set's own execution (datasync_sets.set_copy) ----------------------------------


def copy(status="SUCCESS", start=T0, minutes=12.0, total_ms=None, written=5, **extra):
    """A set's copy as ``DataSyncHook.set_copies`` gives it (the execution's pieces)."""
    end = None if minutes is None else start + timedelta(minutes=minutes)
    result = {"VerifyStatus": "SUCCESS"} | ({} if total_ms is None else {"TotalDuration": total_ms})
    return {
        "TaskArn": "arn:task",
        "Status": status,
        "StartTime": start,
        "EndTime": end,
        "Result": result,
        "BytesWritten": written,
        **extra,
    }


def test_a_successful_copy_is_a_run_from_its_start_to_its_end_with_what_it_wrote():
    assert datasync_runs([copy()], T0 - timedelta(days=1)) == [PastRun(T0, 12 * 60, 5)]


@pytest.mark.parametrize("status", ["ERROR", "TRANSFERRING", "QUEUED", None])
def test_a_copy_that_failed_or_still_runs_is_not_learned_from(status):
    assert datasync_runs([copy(status=status)], T0 - timedelta(days=1)) == []


def test_copies_before_the_history_days_are_left_out():
    since = T0 + timedelta(days=1)
    copies = [copy(), copy(start=since), copy(start=since + timedelta(hours=1))]
    assert [r.started for r in datasync_runs(copies, since)] == [
        since,
        since + timedelta(hours=1),
    ]


@pytest.mark.parametrize(
    ("minutes", "total_ms", "seconds"),
    [
        (12, None, 720),  # the wall clock
        (None, 600_000, 600),  # no EndTime: DataSync's own TotalDuration
        (12, 600_000, 720),  # queued for two minutes: the wall clock is longer
        (10, 660_000, 660),  # TotalDuration longer (clock skew): never the shorter
        (None, None, None),  # nothing says how long: not learned from
    ],
)
def test_a_copys_duration_is_the_longer_of_its_wall_clock_and_total_duration(
    minutes, total_ms, seconds
):
    assert datasync_seconds(copy(minutes=minutes, total_ms=total_ms)) == seconds


def test_a_copy_without_a_duration_or_a_start_is_not_learned_from():
    since = T0 - timedelta(days=1)
    assert datasync_runs([copy(minutes=None)], since) == []
    assert datasync_runs([copy(start=None, minutes=None, total_ms=60_000)], since) == []


def test_a_copy_without_its_size_is_still_a_run_taken_as_it_ran():
    assert datasync_runs([copy(written=None)], T0 - timedelta(days=1)) == [PastRun(T0, 720, None)]
