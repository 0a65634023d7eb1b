"""verify_set: a set is verified only when every artifact, rule 1 and its cold window hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ue_backup.backup_set import BackupSet
from ue_backup.verify import verify_set

SET = BackupSet.parse("ue-test-20261206t020000z")
T0 = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
TAGS = {k: v for k, v in SET.tags.items()}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def snapshot(seconds=10):
    return {
        "Status": "available",
        "SnapshotCreateTime": at(seconds),
        "TagList": [{"Key": k, "Value": v} for k, v in TAGS.items()],
    }


def recovery_point(seconds=20):
    return {"Status": "COMPLETED", "CreationDate": at(seconds)}


def memorydb(*fork_seconds):
    shards = [
        {"Name": f"000{i}", "SnapshotCreationTime": at(s)} for i, s in enumerate(fork_seconds)
    ]
    return {"Status": "available", "ClusterConfiguration": {"Shards": shards}}


def window(closed_seconds=60, problems=()):
    return {
        "state": "broken" if problems else "intact",
        "problems": list(problems),
        "start": at(0).isoformat(),
        "closed_at": at(closed_seconds).isoformat(),
    }


def verify(**kwargs):
    args = {
        "rds_snapshot": snapshot(),
        "recovery_point": recovery_point(),
        "recovery_point_tags": TAGS,
        "memorydb_snapshot": None,
        "memorydb_tags": None,
        "velero_backup": None,
        "datasync_execution": None,
        **kwargs,
    }
    result = verify_set(SET, **args)
    return result["result"], {c["check"]: (c["ok"], c["detail"]) for c in result["checks"]}


def test_an_intact_window_passes_and_says_so():
    result, checks = verify(cold_window=window(), window_required=True)
    assert result == "passed"
    assert checks["cold window intact"][0] is True
    assert "stayed stopped" in checks["cold window intact"][1]


def test_a_broken_window_fails_the_set_naming_the_problem():
    result, checks = verify(
        cold_window=window(problems=["ECD x was changed"]), window_required=True
    )
    assert result == "failed"
    assert checks["cold window intact"] == (False, "ECD x was changed")


def test_a_window_that_was_never_judged_fails_when_one_was_required():
    result, checks = verify(cold_window=None, window_required=True)
    assert result == "failed"
    assert "never judged" in checks["cold window intact"][1]
    assert "cold window intact" not in verify(cold_window=None)[1]  # a hot backup has none


def test_every_memorydb_shard_must_fork_inside_the_window():
    inside = memorydb(30, 45)
    result, checks = verify(
        memorydb_snapshot=inside, memorydb_tags=TAGS, cold_window=window(closed_seconds=60)
    )
    assert (result, checks["memorydb snapshot inside the cold window"][0]) == ("passed", True)

    late = memorydb(30, 75)  # one shard forked after the workflows were resumed
    result, checks = verify(
        memorydb_snapshot=late, memorydb_tags=TAGS, cold_window=window(closed_seconds=60)
    )
    assert result == "failed"
    ok, detail = checks["memorydb snapshot inside the cold window"]
    assert not ok
    assert at(75).isoformat() in detail


def test_rule_1_fails_a_database_point_not_older_than_the_disk():
    result, checks = verify(rds_snapshot=snapshot(20), recovery_point=recovery_point(20))
    assert result == "failed"
    assert checks["rule 1: database older than efs"][0] is False


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
    assert checks["rule 1: database older than efs"][0] is True  # the home set is still fine
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
