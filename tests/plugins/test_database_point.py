"""The cold window's rule for the database's AWS Backup point: fixed, ended without one, or wait."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ue_backup.database_point import backup_snapshot_id, judge

JOB = {"BackupJobId": "ABC-1", "State": "RUNNING"}
TAKEN = datetime(2026, 12, 7, 2, 0, 3, tzinfo=UTC)


def test_the_point_is_fixed_once_the_snapshot_has_its_time():
    verdict = judge(
        JOB, {"DBSnapshotIdentifier": "awsbackup:job-abc-1", "SnapshotCreateTime": TAKEN}
    )
    assert (verdict.kind, verdict.at) == ("fixed", TAKEN.isoformat())


@pytest.mark.parametrize(
    "snapshot",
    [None, {"DBSnapshotIdentifier": "awsbackup:job-abc-1", "Status": "creating"}],
    ids=["no snapshot yet", "snapshot without its time"],
)
def test_a_running_job_without_a_timed_snapshot_is_waited_for(snapshot):
    assert judge(JOB, snapshot).kind == "wait"
    assert judge({**JOB, "State": "CREATED"}, snapshot).kind == "wait"


@pytest.mark.parametrize("state", ["FAILED", "ABORTED", "EXPIRED"])
def test_a_job_that_ended_without_a_snapshot_ends_the_wait_naming_aws_message(state):
    verdict = judge({**JOB, "State": state, "StatusMessage": "instance busy"}, None)
    assert verdict.kind == "ended"
    assert state in verdict.why
    assert "instance busy" in verdict.why


def test_a_completed_job_whose_snapshot_is_gone_ends_the_wait():
    assert judge({**JOB, "State": "COMPLETED"}, None).kind == "ended"


def test_the_snapshot_is_named_by_the_recovery_point_or_after_the_job():
    arn = "arn:aws:rds:eu-west-1:111122223333:snapshot:awsbackup:job-abc-1"
    assert backup_snapshot_id(arn, "ABC-1") == "awsbackup:job-abc-1"
    assert backup_snapshot_id(None, "ABC-1") == "awsbackup:job-abc-1"
