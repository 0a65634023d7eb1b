"""Injected faults on any AWS call: errors in each protocol, throttling, hangs.

(Faults on the outcome of asynchronous jobs are shown with each service.)
"""

from __future__ import annotations

import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from sandbox.aws.fixtures import aws  # noqa: F401


@pytest.mark.parametrize(
    ("service", "operation", "call"),
    [
        ("backup", "ListBackupVaults", lambda c: c.list_backup_vaults()),  # rest-json
        ("memorydb", "DescribeClusters", lambda c: c.describe_clusters()),  # json
        ("rds", "DescribeDBInstances", lambda c: c.describe_db_instances()),  # query
        ("efs", "DescribeFileSystems", lambda c: c.describe_file_systems()),  # rest-json
        ("datasync", "ListTasks", lambda c: c.list_tasks()),  # json
    ],
)
def test_an_error_is_answered_in_the_services_own_format(aws, service, operation, call):  # noqa: F811
    aws.faults.add(
        service=service, operation=operation, code="AccessDenied", message="no", status=403
    )
    client = aws.client(service)

    with pytest.raises(ClientError) as refused:
        call(client)

    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert refused.value.response["Error"]["Message"] == "no"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    call(client)  # the fault was used up


def test_a_modelled_error_raises_the_clients_exception_and_changes_nothing(aws):  # noqa: F811
    aws.faults.add(
        service="backup",
        operation="CreateBackupVault",
        code="LimitExceededException",
        message="too many vaults",
        status=400,
    )
    backup = aws.client("backup")

    with pytest.raises(backup.exceptions.LimitExceededException):
        backup.create_backup_vault(BackupVaultName="ue-vault")

    assert backup.list_backup_vaults()["BackupVaultList"] == []


def test_a_fault_applies_only_to_its_target(aws):  # noqa: F811
    aws.faults.add(
        service="backup", operation="CreateBackupVault", target="doomed", times=None, status=400
    )
    backup = aws.client("backup")

    backup.create_backup_vault(BackupVaultName="fine")
    for _ in range(2):
        with pytest.raises(ClientError, match="InternalFailure"):
            backup.create_backup_vault(BackupVaultName="doomed")

    assert [v["BackupVaultName"] for v in backup.list_backup_vaults()["BackupVaultList"]] == [
        "fine"
    ]


def test_throttling_is_retried_by_botocore(aws):  # noqa: F811
    aws.faults.add(
        service="rds", operation="DescribeDBInstances", code="ThrottlingException", status=400
    )

    answer = aws.client("rds").describe_db_instances()

    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert aws.faults.armed() == []


def test_throttling_that_persists_exhausts_the_retries(aws):  # noqa: F811
    aws.faults.add(
        service="memorydb",
        operation="DescribeSnapshots",
        code="ThrottlingException",
        status=400,
        times=None,
    )
    client = aws.client("memorydb", config=Config(retries={"total_max_attempts": 2}))

    with pytest.raises(ClientError) as throttled:
        client.describe_snapshots()

    assert throttled.value.response["Error"]["Code"] == "ThrottlingException"
    assert throttled.value.response["ResponseMetadata"]["RetryAttempts"] == 1


def test_a_hang_holds_the_answer(aws):  # noqa: F811
    aws.faults.add(service="datasync", operation="ListTasks", kind="hang", seconds=0.3)
    datasync = aws.client("datasync")
    began = time.monotonic()

    assert datasync.list_tasks()["Tasks"] == []

    assert time.monotonic() - began >= 0.3


def test_a_hang_longer_than_the_read_timeout_times_the_client_out(aws):  # noqa: F811
    aws.faults.add(service="efs", operation="DescribeFileSystems", kind="hang", seconds=0.5)
    efs = aws.client("efs", config=Config(read_timeout=0.1, retries={"total_max_attempts": 1}))

    with pytest.raises(ReadTimeoutError):
        efs.describe_file_systems()


def test_a_lost_answer_comes_after_the_call_was_carried_out(aws):  # noqa: F811
    aws.faults.add(service="backup", operation="CreateBackupVault", kind="lost", times=2)
    backup = aws.client("backup", config=Config(retries={"total_max_attempts": 2}))

    with pytest.raises(ClientError) as lost:  # botocore retried once: the vault existed then
        backup.create_backup_vault(BackupVaultName="ue-vault")

    assert lost.value.response["Error"]["Code"] == "InternalFailure"
    assert lost.value.response["ResponseMetadata"]["RetryAttempts"] == 1
    assert [v["BackupVaultName"] for v in backup.list_backup_vaults()["BackupVaultList"]] == [
        "ue-vault"
    ]
    entries = aws.log.entries("backup", "CreateBackupVault")
    assert [(e.detail["status"], e.detail["served"], e.detail["lost"]) for e in entries] == [
        (500, 200, True),
        (500, 400, True),  # the retry was refused (AlreadyExistsException), lost too
    ]


def test_a_lost_answer_of_a_query_call_is_retried_into_the_real_refusal(aws):  # noqa: F811
    rds = aws.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="db", Engine="postgres", DBInstanceClass="db.t3.micro"
    )
    aws.faults.add(
        service="rds",
        operation="CreateDBSnapshot",
        kind="lost",
        code="ServiceUnavailable",
        status=503,
    )

    with pytest.raises(rds.exceptions.DBSnapshotAlreadyExistsFault):
        rds.create_db_snapshot(DBSnapshotIdentifier="snap", DBInstanceIdentifier="db")

    assert len(rds.describe_db_snapshots(DBSnapshotIdentifier="snap")["DBSnapshots"]) == 1
    assert [e.detail["status"] for e in aws.log.entries("rds", "CreateDBSnapshot")] == [503, 400]
    assert aws.faults.armed() == []
