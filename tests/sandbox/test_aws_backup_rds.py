"""AWS Backup of RDS instances in the sandbox: backup, copy (across accounts) and restore jobs.

What the database's immutable copy relies on: an on-demand backup job of the
instance makes an RDS snapshot ``awsbackup:job-<id>`` (the recovery point's ARN is
the snapshot's), a copy job puts ``awsbackup:copyjob-<id>`` into the other
account's (locked) vault behind the same gates as EFS, and a restore job makes a
new instance holding the data the backup saw. Shapes are checked against
botocore's service model, since boto3 drops what its model does not know.
"""

from __future__ import annotations

import botocore.session
import pytest
from botocore.exceptions import ClientError
from moto.backup.models import backup_backends

from sandbox.aws.backup import backup_store
from sandbox.aws.fixtures import aws, create_db_instance, real_data, wait_until  # noqa: F401
from sandbox.aws.server import AwsSandbox
from sandbox.installation import copy_in_policy
from tests.sandbox.test_aws_backup_vault_lock import LOCKED, PROTECTED, _grant, _protected
from tests.sandbox.test_aws_rds_data import available, connect, rows

ROLE = "arn:aws:iam::123456789012:role/backup"
HOME = "ue-vault"
TAGS = {"ue-backup:installation": "prod", "ue-backup:backup-set": "set-1"}
PROTECTED_ROLE = f"arn:aws:iam::{PROTECTED}:role/ue-backup-immutable"


@pytest.fixture
def db(aws: AwsSandbox) -> str:  # noqa: F811
    """An available instance ``ue-db`` and the home vault; jobs take 0.1 s. Its ARN."""
    aws.durations.update(backup_job=0.1, restore_job=0.1, copy_job=0.1)
    rds = aws.client("rds")
    create_db_instance(rds, "ue-db", DBName="ue")
    aws.client("backup").create_backup_vault(BackupVaultName=HOME)
    return available(rds, "ue-db")["DBInstanceArn"]


def back_up(aws: AwsSandbox, arn: str, token: str = "set-1", **extra) -> dict:  # noqa: F811
    """Start the job; its recovery point's ARN read from DescribeBackupJob, as AWS's
    StartBackupJob gives it for EFS only (botocore's model)."""
    backup = aws.client("backup")
    job = backup.start_backup_job(
        BackupVaultName=HOME,
        ResourceArn=arn,
        IamRoleArn=ROLE,
        IdempotencyToken=token,
        RecoveryPointTags=TAGS,
        **extra,
    )
    assert "RecoveryPointArn" not in job
    described = backup.describe_backup_job(BackupJobId=job["BackupJobId"])
    return {**job, "RecoveryPointArn": described["RecoveryPointArn"]}


def done(client, kind: str, job_id: str) -> dict:
    """The job once it has ended (``kind``: backup, copy, restore)."""
    describe = {
        "backup": lambda: client.describe_backup_job(BackupJobId=job_id),
        "copy": lambda: client.describe_copy_job(CopyJobId=job_id)["CopyJob"],
        "restore": lambda: client.describe_restore_job(RestoreJobId=job_id),
    }[kind]
    return wait_until(
        describe,
        lambda j: (j.get("State") or j.get("Status")) in ("COMPLETED", "FAILED", "ABORTED"),
    )[-1]


def backed_up(aws: AwsSandbox, arn: str, token: str = "set-1") -> dict:  # noqa: F811
    job = back_up(aws, arn, token)
    assert done(aws.client("backup"), "backup", job["BackupJobId"])["State"] == "COMPLETED"
    return job


def awsbackup_snapshots(rds) -> list[dict]:
    return rds.describe_db_snapshots(SnapshotType="awsbackup")["DBSnapshots"]


def locked_vault(aws: AwsSandbox) -> str:  # noqa: F811
    """The protected account's vault, locked at 35 days, that lets the home account copy in."""
    backup = _protected(aws, "backup")
    arn = backup.create_backup_vault(BackupVaultName=LOCKED)["BackupVaultArn"]
    backup.put_backup_vault_lock_configuration(BackupVaultName=LOCKED, MinRetentionDays=35)
    _grant(backup, aws.account)
    return arn


def copy(client, point: str, source_vault: str, destination: str, days: int | None = 35) -> dict:
    job = client.start_copy_job(
        RecoveryPointArn=point,
        SourceBackupVaultName=source_vault,
        DestinationBackupVaultArn=destination,
        IamRoleArn=ROLE,
        **({"Lifecycle": {"DeleteAfterDays": days}} if days else {}),
    )
    return done(client, "copy", job["CopyJobId"])


def restore(client, point: str, **metadata: str) -> dict:
    job = client.start_restore_job(RecoveryPointArn=point, Metadata=metadata, IamRoleArn=ROLE)
    return done(client, "restore", job["RestoreJobId"])


# --- backup jobs -------------------------------------------------------------------------------


def test_a_backup_job_makes_an_awsbackup_snapshot_that_is_the_recovery_point(aws, db):  # noqa: F811
    aws.durations.update(backup_job=0.8)
    job = back_up(aws, db)
    backup, rds = aws.client("backup"), aws.client("rds")

    job_id = job["BackupJobId"]
    seen = wait_until(
        lambda: backup.describe_backup_job(BackupJobId=job_id),
        lambda j: j["State"] == "RUNNING",
    )
    assert seen[0]["State"] == "CREATED"
    assert job["RecoveryPointArn"] == (
        f"arn:aws:rds:{aws.region}:{aws.account}:snapshot:awsbackup:job-{job_id}"
    )
    [creating] = awsbackup_snapshots(rds)
    assert creating["Status"] == "creating"
    assert creating["DBSnapshotIdentifier"] == f"awsbackup:job-{job_id}"
    assert creating["SnapshotType"] == "awsbackup"
    default = rds.describe_db_snapshots()["DBSnapshots"]  # manual and automated ones only
    assert [s["SnapshotType"] for s in default] == ["automated"]
    completed = done(backup, "backup", job_id)
    assert completed["State"] == "COMPLETED"
    assert completed["ResourceType"] == "RDS"
    assert completed["ResourceArn"] == db
    assert completed["BackupSizeInBytes"] == 20 * 1024**3  # the allocated storage

    point = backup.describe_recovery_point(
        BackupVaultName=HOME, RecoveryPointArn=job["RecoveryPointArn"]
    )
    assert point["ResourceType"] == "RDS"
    assert point["Status"] == "COMPLETED"
    assert point["CreationDate"] == job["CreationDate"]
    [snapshot] = awsbackup_snapshots(rds)
    assert snapshot["Status"] == "available"
    assert snapshot["SnapshotCreateTime"] == point["CreationDate"]  # the point in time
    assert snapshot["DBSnapshotArn"] == point["RecoveryPointArn"]
    assert backup.list_tags(ResourceArn=point["RecoveryPointArn"])["Tags"] == TAGS
    metadata = backup.get_recovery_point_restore_metadata(
        BackupVaultName=HOME, RecoveryPointArn=point["RecoveryPointArn"]
    )
    assert metadata["ResourceType"] == "RDS"
    assert metadata["RestoreMetadata"]["DBInstanceIdentifier"] == "ue-db"
    assert metadata["RestoreMetadata"]["Engine"] == "postgres"


def test_an_instance_that_is_missing_or_not_available_is_refused(aws, db):  # noqa: F811
    missing = db.replace(":db:ue-db", ":db:no-such-db")
    with pytest.raises(ClientError) as refused:
        back_up(aws, missing)
    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"

    aws.client("rds").delete_db_instance(DBInstanceIdentifier="ue-db", SkipFinalSnapshot=True)
    with pytest.raises(ClientError) as refused:
        back_up(aws, db, token="set-2")
    assert refused.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "is deleting" in refused.value.response["Error"]["Message"]
    assert awsbackup_snapshots(aws.client("rds")) == []
    assert aws.client("backup").list_backup_jobs()["BackupJobs"] == []


def test_rds_refuses_to_delete_the_snapshot_and_deleting_the_point_deletes_it(aws, db):  # noqa: F811
    job = backed_up(aws, db)
    rds, backup = aws.client("rds"), aws.client("backup")
    identifier = awsbackup_snapshots(rds)[0]["DBSnapshotIdentifier"]

    with pytest.raises(ClientError) as refused:
        rds.delete_db_snapshot(DBSnapshotIdentifier=identifier)
    assert refused.value.response["Error"]["Code"] == "InvalidDBSnapshotState"
    assert len(awsbackup_snapshots(rds)) == 1

    backup.delete_recovery_point(BackupVaultName=HOME, RecoveryPointArn=job["RecoveryPointArn"])
    assert awsbackup_snapshots(rds) == []
    assert backup.list_recovery_points_by_backup_vault(BackupVaultName=HOME)["RecoveryPoints"] == []


def test_a_failed_backup_job_leaves_no_point_and_no_snapshot(aws, db):  # noqa: F811
    aws.faults.add(service="backup", operation="StartBackupJob", kind="outcome", state="FAILED")
    job = back_up(aws, db)
    assert done(aws.client("backup"), "backup", job["BackupJobId"])["State"] == "FAILED"
    assert awsbackup_snapshots(aws.client("rds")) == []


def test_listings_filter_by_resource_type(aws, db):  # noqa: F811
    job = backed_up(aws, db)
    backup = aws.client("backup")

    def jobs(**filters) -> list[str]:
        return [j["BackupJobId"] for j in backup.list_backup_jobs(**filters)["BackupJobs"]]

    def points(**filters) -> list[str]:
        listed = backup.list_recovery_points_by_backup_vault(BackupVaultName=HOME, **filters)
        return [p["RecoveryPointArn"] for p in listed["RecoveryPoints"]]

    assert jobs(ByResourceType="RDS") == [job["BackupJobId"]]
    assert jobs(ByResourceType="EFS") == []
    assert points(ByResourceType="RDS") == [job["RecoveryPointArn"]]
    assert points(ByResourceType="EFS") == []
    assert points(ByResourceArn=db) == [job["RecoveryPointArn"]]
    by_resource = backup.list_recovery_points_by_resource(ResourceArn=db)["RecoveryPoints"]
    assert [p["RecoveryPointArn"] for p in by_resource] == [job["RecoveryPointArn"]]


# --- copy jobs ---------------------------------------------------------------------------------


def test_a_copy_lands_in_the_protected_accounts_locked_vault_as_its_own_snapshot(aws, db):  # noqa: F811
    destination = locked_vault(aws)
    job = backed_up(aws, db)

    copied = copy(aws.client("backup"), job["RecoveryPointArn"], HOME, destination)

    assert copied["State"] == "COMPLETED", copied
    assert copied["ResourceType"] == "RDS"
    copy_id = copied["CopyJobId"]
    arn = copied["DestinationRecoveryPointArn"]
    assert arn == f"arn:aws:rds:{aws.region}:{PROTECTED}:snapshot:awsbackup:copyjob-{copy_id}"
    point = _protected(aws, "backup").describe_recovery_point(
        BackupVaultName=LOCKED, RecoveryPointArn=arn
    )
    assert point["ResourceType"] == "RDS"
    assert point["Status"] == "COMPLETED"
    assert point["SourceBackupVaultArn"].endswith(f":{aws.account}:backup-vault:{HOME}")
    assert point["CreationDate"] == job["CreationDate"]  # a copy keeps the source's
    [snapshot] = awsbackup_snapshots(_protected(aws, "rds"))
    assert snapshot["DBSnapshotArn"] == arn
    assert [s["DBSnapshotArn"] for s in awsbackup_snapshots(aws.client("rds"))] == [
        job["RecoveryPointArn"]
    ]  # the home account has only its own


def test_a_copy_into_another_vault_of_the_same_account_works_too(aws, db):  # noqa: F811
    backup = aws.client("backup")
    other = backup.create_backup_vault(BackupVaultName="ue-other")["BackupVaultArn"]
    job = backed_up(aws, db)

    copied = copy(backup, job["RecoveryPointArn"], HOME, other, days=None)

    assert copied["State"] == "COMPLETED", copied
    assert f":{aws.account}:snapshot:awsbackup:copyjob-" in copied["DestinationRecoveryPointArn"]
    assert len(awsbackup_snapshots(aws.client("rds"))) == 2


@pytest.mark.parametrize("gate", ["no-grant", "shorter-than-the-lock"])
def test_a_copy_past_the_gates_fails_and_makes_no_snapshot(aws, db, gate):  # noqa: F811
    destination = locked_vault(aws)
    if gate == "no-grant":
        _protected(aws, "backup").delete_backup_vault_access_policy(BackupVaultName=LOCKED)
    job = backed_up(aws, db)

    copied = copy(
        aws.client("backup"),
        job["RecoveryPointArn"],
        HOME,
        destination,
        35 if gate == "no-grant" else 7,
    )

    assert copied["State"] == "FAILED"
    expected = {
        "no-grant": "does not allow backup:CopyIntoBackupVault",
        "shorter-than-the-lock": "shorter than the minimum retention period",
    }[gate]
    assert expected in copied["StatusMessage"]
    assert awsbackup_snapshots(_protected(aws, "rds")) == []


def test_the_protected_role_copies_back_into_the_home_vault_once_its_policy_lets_it(aws, db):  # noqa: F811
    destination = locked_vault(aws)
    job = backed_up(aws, db)
    locked = copy(aws.client("backup"), job["RecoveryPointArn"], HOME, destination)
    home = aws.client("backup").describe_backup_vault(BackupVaultName=HOME)["BackupVaultArn"]
    protected = _protected(aws, "backup")

    refused = copy(protected, locked["DestinationRecoveryPointArn"], LOCKED, home, days=None)
    assert refused["State"] == "FAILED"
    assert f"from account {PROTECTED}" in refused["StatusMessage"]

    aws.client("backup").put_backup_vault_access_policy(
        BackupVaultName=HOME,
        Policy=copy_in_policy(PROTECTED),
    )
    back = copy(protected, locked["DestinationRecoveryPointArn"], LOCKED, home, days=None)

    assert back["State"] == "COMPLETED", back
    arn = back["DestinationRecoveryPointArn"]
    assert arn.startswith(f"arn:aws:rds:{aws.region}:{aws.account}:snapshot:awsbackup:copyjob-")
    point = aws.client("backup").describe_recovery_point(BackupVaultName=HOME, RecoveryPointArn=arn)
    assert point["SourceBackupVaultArn"] == destination
    assert point["ResourceType"] == "RDS"


# --- restore jobs ------------------------------------------------------------------------------


def test_a_restore_job_makes_a_new_instance_and_names_it(aws, db):  # noqa: F811
    job = backed_up(aws, db)
    backup, rds = aws.client("backup"), aws.client("rds")

    restored = restore(
        backup,
        job["RecoveryPointArn"],
        dbInstanceIdentifier="ue-db-copy",
        DBInstanceClass="db.t3.small",
    )

    assert restored["Status"] == "COMPLETED", restored
    assert restored["ResourceType"] == "RDS"
    assert restored["CreatedResourceArn"] == f"arn:aws:rds:{aws.region}:{aws.account}:db:ue-db-copy"
    instance = available(rds, "ue-db-copy")
    assert instance["DBInstanceClass"] == "db.t3.small"
    assert instance["Engine"] == "postgres"


def test_a_restore_onto_an_identifier_in_use_fails_like_rds(aws, db):  # noqa: F811
    job = backed_up(aws, db)

    restored = restore(aws.client("backup"), job["RecoveryPointArn"], DBInstanceIdentifier="ue-db")

    assert restored["Status"] == "FAILED"
    assert "DBInstanceAlreadyExists" in restored["StatusMessage"]
    assert "CreatedResourceArn" not in restored


@pytest.mark.parametrize(
    "metadata",
    [{}, {"DBInstanceClass": "db.t3.micro"}, {"DBInstanceIdentifier": "x", "file-system-id": "f"}],
    ids=["empty", "no-identifier", "unknown-key"],
)
def test_restore_metadata_without_an_identifier_or_with_unknown_keys_is_refused(
    aws,  # noqa: F811
    db,
    metadata,
):
    job = backed_up(aws, db)
    with pytest.raises(ClientError) as refused:
        aws.client("backup").start_restore_job(
            RecoveryPointArn=job["RecoveryPointArn"], Metadata=metadata, IamRoleArn=ROLE
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"


# --- the shapes, against botocore's model -------------------------------------------------------


def test_every_field_emitted_is_in_botocore_s_model(aws, db):  # noqa: F811
    destination = locked_vault(aws)
    job = backed_up(aws, db)
    copied = copy(aws.client("backup"), job["RecoveryPointArn"], HOME, destination)
    restored = restore(aws.client("backup"), job["RecoveryPointArn"], DBInstanceIdentifier="r1")
    model = botocore.session.get_session().get_service_model("backup")
    home = backup_store(backup_backends[aws.account][aws.region])
    protected = backup_store(backup_backends[PROTECTED][aws.region])

    def check(values: dict, shape_name: str) -> None:
        shape = model.shape_for(shape_name)
        assert set(values) <= set(shape.members), (shape_name, set(values) - set(shape.members))
        for name, value in values.items():
            enum = getattr(shape.members[name], "enum", None)
            assert not enum or value in enum, (shape_name, name, value)

    check(home.backup_job(job["BackupJobId"]).described(aws.account), "DescribeBackupJobOutput")
    check(home.copy_job(copied["CopyJobId"]).described(aws.account), "CopyJob")
    for shape in ("DescribeRestoreJobOutput", "RestoreJobsListMember"):
        check(home.restore_job(restored["RestoreJobId"]).described(aws.account), shape)
    for point in (
        home.point(job["RecoveryPointArn"]),
        protected.point(copied["DestinationRecoveryPointArn"]),
    ):
        check(point.described(), "DescribeRecoveryPointOutput")
        check(point.by_vault(), "RecoveryPointByBackupVault")
        check(point.by_resource(), "RecoveryPointByResource")


# --- the data ----------------------------------------------------------------------------------


def _live(real_data) -> dict:  # noqa: F811
    """A real ``ue-db`` holding rows 1..5 and the home vault; its description."""
    real_data.durations.update(backup_job=0.1, restore_job=0.1, copy_job=0.1)
    rds = real_data.client("rds")
    create_db_instance(rds, "ue-db", DBName="ue", ManageMasterUserPassword=True)
    instance = available(rds, "ue-db")
    with connect(real_data, instance) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE rows (n int PRIMARY KEY)")
        cursor.execute("INSERT INTO rows (n) SELECT generate_series(1, 5)")
    real_data.client("backup").create_backup_vault(BackupVaultName=HOME)
    return instance


def _write_after(real_data, instance: dict) -> None:  # noqa: F811
    with connect(real_data, instance) as connection, connection.cursor() as cursor:
        cursor.execute("INSERT INTO rows (n) VALUES (6)")


def test_the_restored_instance_holds_what_was_written_before_the_backup(real_data):  # noqa: F811
    instance = _live(real_data)
    job = back_up(real_data, instance["DBInstanceArn"])
    _write_after(real_data, instance)
    backup, rds = real_data.client("backup"), real_data.client("rds")
    assert done(backup, "backup", job["BackupJobId"])["State"] == "COMPLETED"

    restored = restore(backup, job["RecoveryPointArn"], DBInstanceIdentifier="ue-db-restored")
    assert restored["Status"] == "COMPLETED", restored
    assert rows(real_data, available(rds, "ue-db-restored"), login_of=instance) == [1, 2, 3, 4, 5]

    # RDS restores the snapshot behind the point just as well, by its identifier
    rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="ue-db-snap",
        DBSnapshotIdentifier=f"awsbackup:job-{job['BackupJobId']}",
    )
    assert rows(real_data, available(rds, "ue-db-snap"), login_of=instance) == [1, 2, 3, 4, 5]
    assert rows(real_data, instance) == [1, 2, 3, 4, 5, 6]


def test_the_copy_in_the_protected_account_restores_the_same_rows_there_and_back_home(
    real_data,  # noqa: F811
):
    instance = _live(real_data)
    destination = locked_vault(real_data)
    job = backed_up(real_data, instance["DBInstanceArn"])
    _write_after(real_data, instance)
    locked = copy(real_data.client("backup"), job["RecoveryPointArn"], HOME, destination)
    assert locked["State"] == "COMPLETED", locked
    # the home point, and the instance, are gone: the protected copy is all there is
    real_data.client("backup").delete_recovery_point(
        BackupVaultName=HOME, RecoveryPointArn=job["RecoveryPointArn"]
    )
    protected = _protected(real_data, "backup")

    there = restore(
        protected, locked["DestinationRecoveryPointArn"], DBInstanceIdentifier="ue-db-p"
    )
    assert there["Status"] == "COMPLETED", there
    assert f":{PROTECTED}:db:ue-db-p" in there["CreatedResourceArn"]
    protected_rds = _protected(real_data, "rds")
    assert rows(real_data, available(protected_rds, "ue-db-p"), login_of=instance) == [
        1,
        2,
        3,
        4,
        5,
    ]

    home = real_data.client("backup").describe_backup_vault(BackupVaultName=HOME)["BackupVaultArn"]
    real_data.client("backup").put_backup_vault_access_policy(
        BackupVaultName=HOME, Policy=copy_in_policy(PROTECTED)
    )
    back = copy(protected, locked["DestinationRecoveryPointArn"], LOCKED, home, days=None)
    assert back["State"] == "COMPLETED", back
    restored = restore(
        real_data.client("backup"),
        back["DestinationRecoveryPointArn"],
        DBInstanceIdentifier="ue-db-home",
    )
    assert restored["Status"] == "COMPLETED", restored
    assert rows(real_data, available(real_data.client("rds"), "ue-db-home"), login_of=instance) == [
        1,
        2,
        3,
        4,
        5,
    ]


def test_a_backup_job_takes_its_snapshot_only_once_the_instances_own_snapshot_is_done(
    aws,  # noqa: F811
    db,
):
    """RDS takes one snapshot of an instance at a time: the job runs at once, but RDS
    shows its snapshot only once the manual one is done, and that snapshot's point in
    time is then, not the job's start; its SnapshotCreateTime comes when it is available
    (boto/boto3#952: no time for a snapshot not yet available)."""
    aws.durations.update(rds_snapshot=1.5, rds_snapshot_time_fixed=0.0)
    rds = aws.client("rds")
    rds.create_db_snapshot(DBInstanceIdentifier="ue-db", DBSnapshotIdentifier="set-1-manual")
    job = back_up(aws, db)
    started = aws.client("backup").describe_backup_job(BackupJobId=job["BackupJobId"])
    name = job["RecoveryPointArn"].split(":snapshot:", 1)[1]

    def the_jobs_snapshot() -> list[dict]:
        try:
            found = rds.describe_db_snapshots(DBSnapshotIdentifier=name, SnapshotType="awsbackup")
        except rds.exceptions.DBSnapshotNotFoundFault:
            return []
        return found["DBSnapshots"]

    assert the_jobs_snapshot() == []  # RDS has not begun it: the instance is busy
    manual = wait_until(
        lambda: rds.describe_db_snapshots(DBSnapshotIdentifier="set-1-manual")["DBSnapshots"][0],
        lambda s: s["Status"] == "available",
    )[-1]
    [creating] = wait_until(the_jobs_snapshot, bool)[-1]
    assert creating["Status"] == "creating"
    assert "SnapshotCreateTime" not in creating
    assert done(aws.client("backup"), "backup", job["BackupJobId"])["State"] == "COMPLETED"
    [taken] = the_jobs_snapshot()
    assert taken["SnapshotCreateTime"] > started["CreationDate"]
    assert taken["SnapshotCreateTime"] >= manual["SnapshotCreateTime"]


def test_a_backup_job_of_a_free_instance_takes_its_snapshot_at_once(aws, db):  # noqa: F811
    job = back_up(aws, db)
    name = job["RecoveryPointArn"].split(":snapshot:", 1)[1]
    rds = aws.client("rds")
    [found] = rds.describe_db_snapshots(DBSnapshotIdentifier=name, SnapshotType="awsbackup")[
        "DBSnapshots"
    ]
    assert found["DBSnapshotArn"] == job["RecoveryPointArn"]  # there at once
    done(aws.client("backup"), "backup", job["BackupJobId"])
    [found] = rds.describe_db_snapshots(DBSnapshotIdentifier=name, SnapshotType="awsbackup")[
        "DBSnapshots"
    ]
    assert found["SnapshotCreateTime"] == job["CreationDate"]
