"""Each backup method's records become the same past runs the window estimate learns from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ue_backup.past_runs import PastRun, aws_backup_runs, datasync_runs, datasync_seconds

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
