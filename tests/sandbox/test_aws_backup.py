"""AWS Backup in the sandbox: EFS backup jobs, recovery points, restores and copies."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from sandbox.aws.fixtures import aws, wait_until  # noqa: F401
from sandbox.aws.server import AwsSandbox

ROLE = "arn:aws:iam::123456789012:role/backup"
TAGS = {"ue-backup:installation": "prod", "ue-backup:backup-set": "set-1"}


@dataclass
class Efs:
    fs_id: str
    arn: str
    vault: str = "ue-vault"


@pytest.fixture
def efs(aws: AwsSandbox) -> Efs:  # noqa: F811
    """A file system with some data and a backup vault for it; jobs take 0.1 s."""
    aws.durations.update(backup_job=0.1, restore_job=0.1, copy_job=0.1)
    fs_id = aws.create_file_system("source")
    root = aws.efs_path(fs_id)
    (root / "aggregation").mkdir()
    (root / "aggregation" / "session.dat").write_text("aggregated")
    (root / "readme.txt").write_text("hello")
    arn = aws.client("efs").describe_file_systems(FileSystemId=fs_id)["FileSystems"][0][
        "FileSystemArn"
    ]
    aws.client("backup").create_backup_vault(BackupVaultName="ue-vault")
    return Efs(fs_id, arn)


def start(aws: AwsSandbox, efs: Efs, token: str = "set-1", **extra) -> dict:  # noqa: F811
    return aws.client("backup").start_backup_job(
        BackupVaultName=efs.vault,
        ResourceArn=efs.arn,
        IamRoleArn=ROLE,
        IdempotencyToken=token,
        RecoveryPointTags=TAGS,
        **extra,
    )


def finished(aws: AwsSandbox, job_id: str) -> dict:  # noqa: F811
    backup = aws.client("backup")
    return wait_until(
        lambda: backup.describe_backup_job(BackupJobId=job_id),
        lambda job: job["State"] not in ("CREATED", "RUNNING"),
    )[-1]


def files_under(path) -> set[str]:
    return {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}


def test_the_same_idempotency_token_returns_the_same_job(aws, efs):  # noqa: F811
    first = start(aws, efs, token="set-1")
    again = start(aws, efs, token="set-1")
    other = start(aws, efs, token="set-2")

    assert again["BackupJobId"] == first["BackupJobId"]
    assert again["RecoveryPointArn"] == first["RecoveryPointArn"]
    assert other["BackupJobId"] != first["BackupJobId"]
    assert first["RecoveryPointArn"].startswith(
        "arn:aws:backup:eu-west-1:123456789012:recovery-point:"
    )


def test_a_job_goes_created_running_completed_over_its_duration(aws, efs):  # noqa: F811
    aws.durations.update(backup_job=0.6)
    started = start(aws, efs)
    backup = aws.client("backup")

    seen = wait_until(
        lambda: backup.describe_backup_job(BackupJobId=started["BackupJobId"]),
        lambda job: job["State"] == "COMPLETED",
    )

    states = [job["State"] for job in seen]
    assert states[0] == "CREATED"
    assert "RUNNING" in states
    assert all("CompletionDate" not in job for job in seen[:-1])
    assert [float(job["PercentDone"]) for job in seen] == sorted(
        float(job["PercentDone"]) for job in seen
    )
    done = seen[-1]
    assert done["CreationDate"] == started["CreationDate"]
    assert done["CompletionDate"] - done["CreationDate"] == pytest.approx(
        timedelta(seconds=0.6), abs=timedelta(milliseconds=5)
    )
    assert done["PercentDone"] == "100.0"
    assert done["BackupSizeInBytes"] == len("aggregated") + len("hello")
    assert "StatusMessage" not in done


def test_list_backup_jobs_filters_by_resource_state_vault_and_time(aws, efs):  # noqa: F811
    aws.durations.update(backup_job=0.5)
    job = start(aws, efs)
    backup = aws.client("backup")

    def listed(**filters) -> list[str]:
        return [j["BackupJobId"] for j in backup.list_backup_jobs(**filters)["BackupJobs"]]

    created = wait_until(
        lambda: backup.describe_backup_job(BackupJobId=job["BackupJobId"]),
        lambda j: j["State"] == "RUNNING",
    )[-1]["CreationDate"]
    assert listed(ByResourceArn=efs.arn) == [job["BackupJobId"]]
    assert listed(ByBackupVaultName=efs.vault, ByState="RUNNING") == [job["BackupJobId"]]
    assert listed(ByState="COMPLETED") == []
    assert listed(ByBackupVaultName="other") == []
    assert listed(ByCreatedAfter=created - timedelta(seconds=1)) == [job["BackupJobId"]]
    assert listed(ByCreatedBefore=created - timedelta(seconds=1)) == []
    finished(aws, job["BackupJobId"])
    assert listed(ByState="COMPLETED") == [job["BackupJobId"]]


def test_list_backup_jobs_pages_with_max_results_and_next_token(aws, efs):  # noqa: F811
    created = datetime.now(UTC) - timedelta(days=3)
    [
        aws.add_past_backup_job(efs.vault, efs.arn, created + timedelta(hours=i), 60, 10)
        for i in range(5)
    ]
    backup = aws.client("backup")
    first = backup.list_backup_jobs(MaxResults=2)
    assert len(first["BackupJobs"]) == 2
    assert first["NextToken"]
    pages = backup.get_paginator("list_backup_jobs").paginate(PaginationConfig={"PageSize": 2})
    assert [len(page["BackupJobs"]) for page in pages] == [2, 2, 1]
    assert "NextToken" not in backup.list_backup_jobs()


def test_a_past_job_is_listed_completed_with_its_dates_and_size_and_no_recovery_point(
    aws,  # noqa: F811
    efs,
):
    created = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    job_id = aws.add_past_backup_job(efs.vault, efs.arn, created, 2400, 7 * 1024**3)
    backup = aws.client("backup")
    [job] = backup.list_backup_jobs(ByResourceArn=efs.arn, ByState="COMPLETED")["BackupJobs"]
    assert job["BackupJobId"] == job_id
    assert job["CreationDate"] == created
    assert job["CompletionDate"] == created + timedelta(seconds=2400)
    assert job["BackupSizeInBytes"] == 7 * 1024**3
    assert (
        backup.list_backup_jobs(ByCreatedAfter=created + timedelta(seconds=1))["BackupJobs"] == []
    )
    vault = backup.list_recovery_points_by_backup_vault(BackupVaultName=efs.vault)
    assert vault["RecoveryPoints"] == []  # long expired: only the job's record is left


def test_the_recovery_point_carries_the_job_start_time_tags_and_lifecycle(aws, efs):  # noqa: F811
    job = start(aws, efs, Lifecycle={"DeleteAfterDays": 35})
    done = finished(aws, job["BackupJobId"])
    backup = aws.client("backup")

    point = backup.describe_recovery_point(
        BackupVaultName=efs.vault, RecoveryPointArn=job["RecoveryPointArn"]
    )
    assert point["Status"] == "COMPLETED"
    assert point["CreationDate"] == done["CreationDate"]
    assert point["CompletionDate"] == done["CompletionDate"]
    assert point["ResourceArn"] == efs.arn
    assert point["Lifecycle"] == {"DeleteAfterDays": 35}
    assert point["CalculatedLifecycle"]["DeleteAt"] == point["CreationDate"] + timedelta(days=35)
    assert done["RecoveryPointLifecycle"] == {"DeleteAfterDays": 35}
    assert backup.list_tags(ResourceArn=job["RecoveryPointArn"])["Tags"] == TAGS

    by_vault = backup.list_recovery_points_by_backup_vault(BackupVaultName=efs.vault)
    by_resource = backup.list_recovery_points_by_resource(ResourceArn=efs.arn)
    assert [p["RecoveryPointArn"] for p in by_vault["RecoveryPoints"]] == [job["RecoveryPointArn"]]
    assert by_vault["RecoveryPoints"][0]["BackupSizeInBytes"] == done["BackupSizeInBytes"]
    assert by_resource["RecoveryPoints"][0]["BackupSizeBytes"] == done["BackupSizeInBytes"]
    assert by_resource["RecoveryPoints"][0]["CreationDate"] == done["CreationDate"]
    [vault] = backup.list_backup_vaults()["BackupVaultList"]
    assert vault["NumberOfRecoveryPoints"] == 1


def test_unknown_vault_or_file_system_is_refused_like_aws(aws, efs):  # noqa: F811
    backup = aws.client("backup")
    with pytest.raises(backup.exceptions.ResourceNotFoundException):
        backup.start_backup_job(BackupVaultName="missing", ResourceArn=efs.arn, IamRoleArn=ROLE)
    with pytest.raises(backup.exceptions.ResourceNotFoundException):
        backup.start_backup_job(
            BackupVaultName=efs.vault, ResourceArn=efs.arn[:-4] + "dead", IamRoleArn=ROLE
        )
    with pytest.raises(backup.exceptions.InvalidParameterValueException):
        start(aws, efs, StartWindowMinutes=30)
    assert backup.list_backup_jobs()["BackupJobs"] == []


def test_writes_during_a_running_job_land_in_the_recovery_point(aws, efs):  # noqa: F811
    """EFS backups are not atomic: why the workflows must be stopped while one runs."""
    aws.durations.update(backup_job=0.5)
    root = aws.efs_path(efs.fs_id)
    job = start(aws, efs)

    (root / "aggregation" / "session.dat").write_text("changed while the backup ran")
    (root / "aggregation" / "new.dat").write_text("written while the backup ran")
    finished(aws, job["BackupJobId"])
    (root / "after.dat").write_text("written after the backup")

    stored = aws.recovery_point_path(job["RecoveryPointArn"])
    assert files_under(stored) == {"readme.txt", "aggregation/session.dat", "aggregation/new.dat"}
    assert (stored / "aggregation" / "session.dat").read_text() == "changed while the backup ran"


def test_restore_into_the_existing_file_system_never_overwrites(aws, efs):  # noqa: F811
    job = start(aws, efs)
    finished(aws, job["BackupJobId"])
    root = aws.efs_path(efs.fs_id)
    (root / "readme.txt").write_text("newer than the backup")
    backup = aws.client("backup")
    metadata = backup.get_recovery_point_restore_metadata(
        BackupVaultName=efs.vault, RecoveryPointArn=job["RecoveryPointArn"]
    )["RestoreMetadata"]
    assert metadata["file-system-id"] == efs.fs_id

    aws.durations.update(restore_job=1.0)  # PENDING for 0.25 s: seen first even on a busy machine
    restore = backup.start_restore_job(
        RecoveryPointArn=job["RecoveryPointArn"],
        IamRoleArn=ROLE,
        Metadata={**metadata, "newFileSystem": "false"},
    )
    seen = wait_until(
        lambda: backup.describe_restore_job(RestoreJobId=restore["RestoreJobId"]),
        lambda r: r["Status"] == "COMPLETED",
    )

    assert seen[0]["Status"] == "PENDING"
    assert seen[-1]["CreatedResourceArn"] == efs.arn
    assert (root / "readme.txt").read_text() == "newer than the backup"
    [restored] = [p for p in root.iterdir() if p.name.startswith("aws-backup-restore_")]
    assert restored.name.endswith("Z")
    assert (restored / "readme.txt").read_text() == "hello"
    assert files_under(restored) == {"readme.txt", "aggregation/session.dat"}


def test_item_level_restore_brings_back_only_the_items(aws, efs):  # noqa: F811
    job = start(aws, efs)
    finished(aws, job["BackupJobId"])
    backup = aws.client("backup")

    restore = backup.start_restore_job(
        RecoveryPointArn=job["RecoveryPointArn"],
        IamRoleArn=ROLE,
        Metadata={
            "file-system-id": efs.fs_id,
            "newFileSystem": "false",
            "ItemsToRestore": json.dumps(["/aggregation"]),
        },
    )
    wait_until(
        lambda: backup.describe_restore_job(RestoreJobId=restore["RestoreJobId"]),
        lambda r: r["Status"] == "COMPLETED",
    )

    root = aws.efs_path(efs.fs_id)
    [restored] = [p for p in root.iterdir() if p.name.startswith("aws-backup-restore_")]
    assert files_under(restored) == {"aggregation/session.dat"}


def test_restore_to_a_new_file_system_creates_one_with_its_own_directory(aws, efs):  # noqa: F811
    job = start(aws, efs)
    finished(aws, job["BackupJobId"])
    backup = aws.client("backup")

    restore = backup.start_restore_job(
        RecoveryPointArn=job["RecoveryPointArn"],
        IamRoleArn=ROLE,
        ResourceType="EFS",
        Metadata={
            "file-system-id": efs.fs_id,
            "newFileSystem": "true",
            "CreationToken": "restore-set-1",
            "Encrypted": "true",
            "PerformanceMode": "generalPurpose",
        },
    )
    done = wait_until(
        lambda: backup.describe_restore_job(RestoreJobId=restore["RestoreJobId"]),
        lambda r: r["Status"] == "COMPLETED",
    )[-1]

    new_fs = aws.client("efs").describe_file_systems(CreationToken="restore-set-1")["FileSystems"]
    assert [fs["FileSystemArn"] for fs in new_fs] == [done["CreatedResourceArn"]]
    assert new_fs[0]["Encrypted"] is True
    new_root = aws.efs_path(new_fs[0]["FileSystemId"])
    [restored] = list(new_root.iterdir())
    assert restored.name.startswith("aws-backup-restore_")
    assert files_under(restored) == {"readme.txt", "aggregation/session.dat"}
    assert aws.client("efs").describe_file_systems(FileSystemId=new_fs[0]["FileSystemId"])[
        "FileSystems"
    ][0]["SizeInBytes"]["Value"] == len("aggregated") + len("hello")


def test_restore_metadata_is_checked(aws, efs):  # noqa: F811
    job = start(aws, efs)
    backup = aws.client("backup")
    with pytest.raises(backup.exceptions.InvalidRequestException):  # still running
        backup.start_restore_job(
            RecoveryPointArn=job["RecoveryPointArn"],
            Metadata={"file-system-id": efs.fs_id, "newFileSystem": "true"},
        )
    finished(aws, job["BackupJobId"])
    for bad in (
        {"newFileSystem": "true"},
        {"file-system-id": efs.fs_id, "newFileSystem": "yes"},
        {"file-system-id": efs.fs_id, "newFileSystem": "false", "ItemsToRestore": "[]"},
    ):
        with pytest.raises(backup.exceptions.InvalidParameterValueException):
            backup.start_restore_job(RecoveryPointArn=job["RecoveryPointArn"], Metadata=bad)


def test_a_copy_job_puts_the_recovery_point_into_the_other_regions_vault(aws, efs):  # noqa: F811
    job = start(aws, efs)
    finished(aws, job["BackupJobId"])
    backup, dr = aws.client("backup"), aws.client("backup", region="eu-central-1")
    dr_vault = dr.create_backup_vault(BackupVaultName="ue-dr")["BackupVaultArn"]

    copy = backup.start_copy_job(
        RecoveryPointArn=job["RecoveryPointArn"],
        SourceBackupVaultName=efs.vault,
        DestinationBackupVaultArn=dr_vault,
        IamRoleArn=ROLE,
        IdempotencyToken="copy-set-1",
    )
    seen = wait_until(
        lambda: backup.describe_copy_job(CopyJobId=copy["CopyJobId"])["CopyJob"],
        lambda c: c["State"] == "COMPLETED",
    )

    assert seen[0]["State"] == "CREATED"
    copied_arn = seen[-1]["DestinationRecoveryPointArn"]
    assert copied_arn.startswith("arn:aws:backup:eu-central-1:")
    [copied] = dr.list_recovery_points_by_backup_vault(BackupVaultName="ue-dr")["RecoveryPoints"]
    assert copied["RecoveryPointArn"] == copied_arn
    assert copied["SourceBackupVaultArn"].endswith(":backup-vault:ue-vault")
    assert copied["ResourceArn"] == efs.arn
    # AWS: copies keep the source's creation date (the data's point in time), not their own
    source = backup.describe_recovery_point(
        BackupVaultName=efs.vault, RecoveryPointArn=job["RecoveryPointArn"]
    )
    assert copied["CreationDate"] == source["CreationDate"] < seen[-1]["CreationDate"]
    assert dr.list_tags(ResourceArn=copied_arn)["Tags"] == TAGS
    assert files_under(aws.recovery_point_path(copied_arn)) == {
        "readme.txt",
        "aggregation/session.dat",
    }
    assert (
        backup.list_recovery_points_by_backup_vault(BackupVaultName=efs.vault)["RecoveryPoints"][0][
            "RecoveryPointArn"
        ]
        == job["RecoveryPointArn"]
    )


def test_delete_recovery_point_removes_it_and_its_data(aws, efs):  # noqa: F811
    job = start(aws, efs)
    backup = aws.client("backup")
    with pytest.raises(ClientError, match="InvalidResourceStateException"):
        backup.delete_recovery_point(
            BackupVaultName=efs.vault, RecoveryPointArn=job["RecoveryPointArn"]
        )
    finished(aws, job["BackupJobId"])

    backup.delete_recovery_point(
        BackupVaultName=efs.vault, RecoveryPointArn=job["RecoveryPointArn"]
    )

    assert (
        backup.list_recovery_points_by_backup_vault(BackupVaultName=efs.vault)["RecoveryPoints"]
        == []
    )
    assert not aws.recovery_point_path(job["RecoveryPointArn"]).exists()
    with pytest.raises(backup.exceptions.ResourceNotFoundException):
        backup.describe_recovery_point(
            BackupVaultName=efs.vault, RecoveryPointArn=job["RecoveryPointArn"]
        )


@pytest.mark.parametrize("state", ["FAILED", "ABORTED", "EXPIRED"])
def test_a_failed_job_ends_with_the_fault_message_and_no_recovery_point(aws, efs, state):  # noqa: F811
    aws.faults.add(
        service="backup",
        operation="StartBackupJob",
        kind="outcome",
        state=state,
        message="Access denied to the file system",
        target=efs.fs_id,
    )
    job = start(aws, efs)

    done = finished(aws, job["BackupJobId"])

    assert done["State"] == state
    assert done["StatusMessage"] == "Access denied to the file system"
    assert "CompletionDate" in done
    backup = aws.client("backup")
    assert (
        backup.list_recovery_points_by_backup_vault(BackupVaultName=efs.vault)["RecoveryPoints"]
        == []
    )


def test_a_partial_job_leaves_a_partial_recovery_point(aws, efs):  # noqa: F811
    aws.faults.add(service="backup", operation="StartBackupJob", kind="outcome", state="PARTIAL")
    job = start(aws, efs)

    assert finished(aws, job["BackupJobId"])["State"] == "PARTIAL"
    point = aws.client("backup").describe_recovery_point(
        BackupVaultName=efs.vault, RecoveryPointArn=job["RecoveryPointArn"]
    )
    assert point["Status"] == "PARTIAL"
    assert point["StatusMessage"] == "injected fault"


def test_a_job_that_never_ends_stays_running(aws, efs):  # noqa: F811
    aws.durations.update(backup_job=0.1)
    aws.faults.add(service="backup", operation="StartBackupJob", kind="never")
    job = start(aws, efs)
    time.sleep(0.3)

    described = aws.client("backup").describe_backup_job(BackupJobId=job["BackupJobId"])

    assert described["State"] == "RUNNING"
    assert "CompletionDate" not in described


@pytest.mark.parametrize(
    ("operation", "state"), [("StartRestoreJob", "ABORTED"), ("StartCopyJob", "FAILED")]
)
def test_restore_and_copy_jobs_take_outcome_faults(aws, efs, operation, state):  # noqa: F811
    job = start(aws, efs)
    finished(aws, job["BackupJobId"])
    backup = aws.client("backup")
    dr_vault = backup.create_backup_vault(BackupVaultName="ue-dr")["BackupVaultArn"]
    aws.faults.add(service="backup", operation=operation, kind="outcome", state=state, message="no")

    if operation == "StartRestoreJob":
        restore = backup.start_restore_job(
            RecoveryPointArn=job["RecoveryPointArn"],
            Metadata={"file-system-id": efs.fs_id, "newFileSystem": "true"},
        )
        done = wait_until(
            lambda: backup.describe_restore_job(RestoreJobId=restore["RestoreJobId"]),
            lambda r: r["Status"] not in ("PENDING", "RUNNING"),
        )[-1]
        assert (done["Status"], done["StatusMessage"]) == (state, "no")
        assert "CreatedResourceArn" not in done
        assert len(aws.client("efs").describe_file_systems()["FileSystems"]) == 1
    else:
        copy = backup.start_copy_job(
            RecoveryPointArn=job["RecoveryPointArn"],
            SourceBackupVaultName=efs.vault,
            DestinationBackupVaultArn=dr_vault,
            IamRoleArn=ROLE,
        )
        done = wait_until(
            lambda: backup.describe_copy_job(CopyJobId=copy["CopyJobId"])["CopyJob"],
            lambda c: c["State"] not in ("CREATED", "RUNNING"),
        )[-1]
        assert (done["State"], done["StatusMessage"]) == (state, "no")
        assert (
            backup.list_recovery_points_by_backup_vault(BackupVaultName="ue-dr")["RecoveryPoints"]
            == []
        )


def test_the_amazon_provider_hook_drives_it_through_the_connection(aws, efs, monkeypatch):  # noqa: F811
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", aws.airflow_connection())
    hook = AwsBaseHook(aws_conn_id="aws_default", client_type="backup")

    job = hook.conn.start_backup_job(
        BackupVaultName=efs.vault, ResourceArn=efs.arn, IamRoleArn=ROLE, IdempotencyToken="hook"
    )

    assert hook.conn.meta.endpoint_url == aws.endpoint_url
    assert finished(aws, job["BackupJobId"])["State"] == "COMPLETED"
    assert aws.log.entries("backup", "StartBackupJob")[0].target.endswith(efs.arn)
