"""verify_locked_set: the protected copies' own verdict, apart from the home set's."""

from __future__ import annotations

from datetime import timedelta

from tests.plugins.test_verify import SET, TAGS, at, recovery_point
from ue_backup.verify_locked import verify_locked_set


def verify(expected=(), **kwargs):
    args = {"recovery_point": recovery_point(), "memorydb_snapshot": None, **kwargs}
    result = verify_locked_set(SET, expected=expected, **args)
    return result["result"], {c["check"]: (c["ok"], c["detail"]) for c in result["checks"]}


LOCKED_VAULT = "arn:aws:backup:eu-west-1:222233334444:backup-vault:ue-locked"


def immutable_job(state="COMPLETED", vault=LOCKED_VAULT, days=35):
    return {
        "State": state,
        "DestinationBackupVaultArn": vault,
        "DestinationRecoveryPointLifecycle": {"DeleteAfterDays": days} if days else None,
    }


def locked_point(seconds=20, days=35, status="COMPLETED"):
    return {
        "Status": status,
        "CreationDate": at(seconds),
        "CalculatedLifecycle": {"DeleteAt": at(seconds) + timedelta(days=days)},
    }


LOCKED = {"Locked": True, "LockDate": at(-86400)}


def test_the_locked_copy_must_be_complete_in_the_protected_account_and_kept_long_enough():
    def judged(job, point=None, vault=LOCKED):
        return verify(
            immutable_copies={"efs": {"job": job, "point": point or locked_point()}},
            immutable_vault=vault,
            immutable_lifecycle={"DeleteAfterDays": 35},
            immutable_account="222233334444",
        )

    result, checks = judged(immutable_job())
    assert result == "passed"
    assert checks["efs immutable copy retention"] == (True, "kept 35 days, at least 35 wanted")
    assert judged(immutable_job(state="FAILED"))[1]["efs immutable copy completed"][0] is False
    home_vault = LOCKED_VAULT.replace("222233334444", "123456789012")
    result, checks = judged(immutable_job(vault=home_vault))
    assert result == "failed"
    assert checks["efs immutable copy in the protected account"][0] is False
    assert judged(immutable_job(days=7))[1]["efs immutable copy retention"][0] is False
    assert judged(immutable_job(days=None))[0] == "failed"


def test_the_locked_copy_is_judged_where_it_lives():
    """Read through the protected account: the copy's own state, point in time, lock and
    the date before which nobody deletes it; the copy job alone cannot say these."""

    def judged(point, vault=LOCKED):
        return verify(
            immutable_copies={"efs": {"job": immutable_job(), "point": point}},
            immutable_vault=vault,
            immutable_lifecycle={"DeleteAfterDays": 35},
            immutable_account="222233334444",
        )

    result, checks = judged(locked_point())
    assert result == "passed", checks
    assert checks["efs immutable copy locked until"][0]
    assert judged(locked_point(days=7))[1]["efs immutable copy locked until"][0] is False
    assert judged(locked_point(seconds=21))[1]["efs immutable copy point in time"][0] is False
    assert judged(locked_point(status="EXPIRED"))[1]["efs immutable copy status"][0] is False
    governance = {"Locked": True}  # no lock date: removable at any time
    assert judged(locked_point(), governance)[1]["efs immutable copy in a locked vault"][0] is False
    result, checks = verify(
        immutable_copies={"efs": {"job": immutable_job(), "point": None}},
        immutable_vault=LOCKED,
        immutable_lifecycle={"DeleteAfterDays": 35},
        immutable_account="222233334444",
    )
    assert result == "failed"
    assert checks["efs immutable copy readable in the protected account"][0] is False


def rds_point(seconds=12, status="COMPLETED"):
    return {"Status": status, "CreationDate": at(seconds), "ResourceType": "RDS"}


def test_the_database_locked_copy_is_judged_like_the_disk_and_its_point_obeys_rule_1():
    """The database's AWS Backup point is the locked set's database point: complete,
    tagged, copied whole into the locked vault, and older than the disk's (rule 1)."""

    def judged(source=None, point=None, tags=TAGS, taken=12):
        return verify(
            rds_recovery_point=source or rds_point(),
            rds_recovery_point_tags=tags,
            rds_recovery_point_snapshot={"SnapshotCreateTime": at(taken)} if taken else None,
            immutable_copies={
                "efs": {"job": immutable_job(), "point": locked_point()},
                "rds": {"job": immutable_job(), "point": point or locked_point(seconds=12)},
            },
            immutable_vault=LOCKED,
            immutable_lifecycle={"DeleteAfterDays": 35},
            immutable_account="222233334444",
        )

    result, checks = judged()
    assert result == "passed", checks
    assert checks["rule 1: database (locked copy) older than efs"][0] is True
    assert checks["rds immutable copy locked until"][0] is True
    # The database's job took its snapshot after the disk's point: the locked set is unusable.
    result, checks = judged(source=rds_point(seconds=25), point=locked_point(seconds=25), taken=25)
    assert result == "failed"
    assert checks["rule 1: database (locked copy) older than efs"][0] is False
    # The job was created in time but RDS took its snapshot after the disk's point (the
    # instance was busy with the set's own snapshot): judged by the snapshot, not the job.
    result, checks = judged(taken=25)
    assert result == "failed"
    assert (
        "database (locked copy) " + at(25).isoformat()
        in (checks["rule 1: database (locked copy) older than efs"][1])
    )
    result, checks = judged(taken=None)  # the snapshot behind the point cannot be read
    assert result == "failed"
    assert checks["rds recovery point snapshot taken"][0] is False
    assert judged(point=locked_point(seconds=13))[1]["rds immutable copy point in time"][0] is False
    assert judged(source=rds_point(status="FAILED"))[1]["rds recovery point completed"][0] is False
    assert judged(tags={})[1]["rds recovery point tags"][0] is False


def test_a_copy_the_run_was_to_make_and_did_not_fails_the_verdict_by_name():
    """A copy task that failed leaves no record: that is a failed check, never silence."""
    made = {"efs": {"job": immutable_job(), "point": locked_point()}}
    kwargs = {
        "immutable_copies": made,
        "immutable_vault": LOCKED,
        "immutable_lifecycle": {"DeleteAfterDays": 35},
        "immutable_account": "222233334444",
    }
    result, checks = verify(expected=("efs",), **kwargs)
    assert result == "passed", checks
    assert checks["efs immutable copy made"] == (True, "made")
    result, checks = verify(expected=("efs", "rds", "memorydb"), **kwargs)
    assert result == "failed"
    assert checks["rds immutable copy made"][0] is False
    assert "copy task failed" in checks["memorydb immutable copy made"][1]


def test_a_recorded_copy_aws_no_longer_knows_fails_the_verdict():
    result, checks = verify(not_found=["rds_immutable"])
    assert result == "failed"
    assert checks["locked artifacts found"] == (False, "not found in AWS: ['rds_immutable']")
