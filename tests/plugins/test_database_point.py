"""The cold window's rule for the database's AWS Backup point: fixed, ended without one, or wait."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ue_backup.database_point import backup_snapshot_id, judge

JOB = {"BackupJobId": "ABC-1", "State": "RUNNING"}
TAKEN = datetime(2026, 12, 7, 2, 0, 3, tzinfo=UTC)
NAME = "awsbackup:job-abc-1"


def test_the_point_is_fixed_once_the_snapshot_exists_with_or_without_its_time():
    """A snapshot holds the data as of when it began; RDS may give its time only later."""
    creating = judge(JOB, {"DBSnapshotIdentifier": NAME, "Status": "creating"})
    assert (creating.kind, creating.at) == ("fixed", None)
    timed = judge(
        JOB, {"DBSnapshotIdentifier": NAME, "Status": "available", "SnapshotCreateTime": TAKEN}
    )
    assert (timed.kind, timed.at) == ("fixed", TAKEN.isoformat())


def test_a_job_whose_snapshot_rds_has_not_begun_is_waited_for():
    assert judge(JOB, None).kind == "wait"
    assert judge({**JOB, "State": "CREATED"}, None).kind == "wait"
    assert judge({**JOB, "State": "PENDING"}, None).kind == "wait"


@pytest.mark.parametrize("state", ["FAILED", "ABORTED", "EXPIRED", "COMPLETED", "PARTIAL"])
def test_a_job_that_ended_without_a_snapshot_ends_the_wait_naming_aws_message(state):
    verdict = judge({**JOB, "State": state, "StatusMessage": "instance busy"}, None)
    assert verdict.kind == "ended"
    assert state in verdict.why
    assert "instance busy" in verdict.why


def test_a_failed_snapshot_fixes_nothing():
    failed = {"DBSnapshotIdentifier": NAME, "Status": "failed"}
    assert judge(JOB, failed).kind == "wait"
    assert judge({**JOB, "State": "FAILED"}, failed).kind == "ended"


def test_the_snapshot_is_the_one_the_recovery_point_names():
    arn = "arn:aws:rds:eu-west-1:111122223333:snapshot:awsbackup:job-abc-1"
    assert backup_snapshot_id(arn) == NAME
    assert backup_snapshot_id(None) is None  # not named yet: wait
    assert backup_snapshot_id("arn:aws:backup:eu-west-1:1:recovery-point:X") is None
