"""The AWS sandbox as a whole: life cycle, reset, the mutation log, the Airflow connection."""

from __future__ import annotations

import json
import time

import pytest
from moto.backup import urls as backup_urls

from sandbox.aws import backup_api
from sandbox.aws.backup_api import SandboxBackupResponse
from sandbox.aws.extensions import MotoExtensions
from sandbox.aws.fixtures import aws  # noqa: F401
from sandbox.aws.server import AwsSandbox
from sandbox.faults import FaultBook
from sandbox.mutation_log import MutationLog
from sandbox.settings import Durations


def test_it_listens_on_loopback_only(aws):  # noqa: F811
    assert aws.endpoint_url.startswith("http://127.0.0.1:")
    assert aws.region == "eu-west-1"


def test_only_one_runs_per_process(aws, tmp_path):  # noqa: F811
    second = AwsSandbox(tmp_path, FaultBook(), MutationLog(), Durations())

    with pytest.raises(RuntimeError, match="already running"):
        second.start()

    assert aws.client("backup").list_backup_vaults()["BackupVaultList"] == []


def test_moto_is_extended_while_it_runs_and_given_back_after(aws):  # noqa: F811
    assert backup_urls.url_paths["{0}/backup-jobs$"] == SandboxBackupResponse.dispatch
    extensions = MotoExtensions([backup_api.EXTENSION])
    before = dict(backup_urls.url_paths)

    extensions.install()
    extensions.uninstall()

    assert backup_urls.url_paths == before


def test_reset_is_fast_and_forgets_everything(aws):  # noqa: F811
    fs_id = aws.create_file_system()
    (aws.efs_path(fs_id) / "data").write_text("x")
    backup = aws.client("backup")
    backup.create_backup_vault(BackupVaultName="v")
    arn = aws.client("efs").describe_file_systems()["FileSystems"][0]["FileSystemArn"]
    job = backup.start_backup_job(BackupVaultName="v", ResourceArn=arn, IamRoleArn="arn:r")

    began = time.monotonic()
    aws.reset()
    took = time.monotonic() - began

    assert took < 0.2
    assert backup.list_backup_vaults()["BackupVaultList"] == []
    assert backup.list_backup_jobs()["BackupJobs"] == []
    with pytest.raises(backup.exceptions.ResourceNotFoundException):
        backup.describe_backup_job(BackupJobId=job["BackupJobId"])
    assert not aws.recovery_point_path(job["RecoveryPointArn"]).exists()
    assert list((aws.root / "efs").iterdir()) == []


def test_reads_are_not_logged_and_writes_are_with_time_target_and_status(aws):  # noqa: F811
    rds, backup, s3 = aws.client("rds"), aws.client("backup"), aws.client("s3")
    began = time.time()

    backup.list_backup_vaults()
    rds.describe_db_instances()
    backup.create_backup_vault(BackupVaultName="ue-vault")
    with pytest.raises(backup.exceptions.AlreadyExistsException):
        backup.create_backup_vault(BackupVaultName="ue-vault")
    s3.create_bucket(
        Bucket="manifests", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    s3.put_object(Bucket="manifests", Key="set-1.json", Body=b"{}")
    s3.get_object(Bucket="manifests", Key="set-1.json")

    entries = aws.log.entries()
    assert [(e.service, e.operation) for e in entries] == [
        ("backup", "CreateBackupVault"),
        ("backup", "CreateBackupVault"),
        ("s3", "CreateBucket"),
        ("s3", "PutObject"),
    ]
    assert [e.detail["status"] for e in entries] == [200, 400, 200, 200]
    assert entries[0].target == "ue-vault"
    assert entries[3].target == "manifests set-1.json"
    assert began <= entries[0].at <= entries[1].at <= entries[3].at <= time.time()
    assert aws.log.entries("backup", "CreateBackupVault") == entries[:2]


def test_a_call_refused_by_a_fault_is_logged_as_received(aws):  # noqa: F811
    aws.faults.add(
        service="backup", operation="CreateBackupVault", code="InvalidRequestException", status=400
    )
    backup = aws.client("backup")

    with pytest.raises(backup.exceptions.InvalidRequestException):
        backup.create_backup_vault(BackupVaultName="ue-vault")

    [entry] = aws.log.entries()
    assert (entry.operation, entry.target, entry.detail["status"]) == (
        "CreateBackupVault",
        "ue-vault",
        400,
    )
    assert backup.list_backup_vaults()["BackupVaultList"] == []


def test_the_airflow_connection_points_the_amazon_provider_here(aws, monkeypatch):  # noqa: F811
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    connection = json.loads(aws.airflow_connection())
    assert connection["extra"] == {
        "endpoint_url": aws.endpoint_url,
        "region_name": "eu-west-1",
        # a connection's role_arn extra makes the provider call STS there, never AWS's
        "service_config": {"sts": {"endpoint_url": aws.endpoint_url}},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", aws.airflow_connection())

    hook = AwsBaseHook(aws_conn_id="aws_default", client_type="memorydb")
    hook.conn.create_cluster(ClusterName="c", NodeType="db.t4g.small", ACLName="open-access")

    assert hook.region_name == "eu-west-1"
    assert [c["Name"] for c in aws.client("memorydb").describe_clusters()["Clusters"]] == ["c"]
