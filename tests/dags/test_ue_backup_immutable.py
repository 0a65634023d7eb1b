"""ue_backup with an immutable section: the EFS recovery point lands in the protected
account's locked vault, out of the Airflow role's reach, and the manifest says so.

Marked ``e2e``: the permission checks judge its requests by the account that signed
them (the sandbox's request log knows it from the credentials). The Airflow role's
(the copy job, its description, the AssumeRole into the protected role) against
include/iam/ue-backup-policy.json; those made through the protected connection
(``aws_immutable``: preflight's reads of the vault, its access policy and the
bucket's Object Lock, verify's read of the copy) against the protected role's
include/iam/ue-backup-immutable-policy.json (tests/include/test_iam_immutable_policy).
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from sandbox.airflow_harness.dag_runner import run_dag, write_config
from sandbox.faults import Fault
from sandbox.installation import COPY_REGION, add_cross_region, seed_installation
from tests.plugins.tasks.test_preflight_immutable import (
    BACKUP_ROLE,
    BUCKET,
    PROTECTED,
    ROLE,
    VAULT,
    _bucket,
    _protected_client,
    _vault,
)

pytestmark = pytest.mark.e2e  # a whole DAG run (make check leaves e2e out)
STAGING = "ue-test-memorydb-locked-export"


@pytest.fixture
def installation(sandbox, tmp_path, monkeypatch):
    return _installation(sandbox, tmp_path, monkeypatch, memorydb=False)


def _installation(sandbox, tmp_path, monkeypatch, memorydb: bool):
    # The instance and the vault under a customer managed key shared with the protected
    # account, as the copies there need (preflight refuses anything else).
    inst = seed_installation(
        sandbox, "ue-test", memorydb=memorydb, velero=False, key_shared_with=PROTECTED
    )
    inst.config["cold_window"]["drain_timeout_minutes"] = 0.05
    connection = json.loads(sandbox.aws.airflow_connection())
    connection["extra"]["role_arn"] = ROLE
    monkeypatch.setenv("AIRFLOW_CONN_AWS_IMMUTABLE", json.dumps(connection))
    inst.config["immutable"] = {
        "account_id": PROTECTED,
        "role_arn": ROLE,
        "backup_role_arn": BACKUP_ROLE,
        "backup_vault_name": VAULT,
        "bucket": BUCKET,
        "min_retention_days": 35,
    }
    if memorydb:  # MemoryDB exports to a staging bucket of the installation's, at home
        sandbox.client("s3").create_bucket(
            Bucket=STAGING, CreateBucketConfiguration={"LocationConstraint": sandbox.region}
        )
        inst.config["immutable"]["memorydb_export_bucket"] = STAGING
    _vault(sandbox)
    _bucket(sandbox)
    write_config(inst.config, tmp_path, monkeypatch)
    return inst


def _manifest(sandbox, installation) -> dict:
    s3 = sandbox.client("s3")
    [key] = [o["Key"] for o in s3.list_objects_v2(Bucket=installation.bucket)["Contents"]]
    return json.loads(s3.get_object(Bucket=installation.bucket, Key=key)["Body"].read())


def test_the_recovery_point_is_copied_into_the_locked_vault_where_nobody_deletes_it(
    sandbox, installation, tmp_path, monkeypatch
):
    add_cross_region(sandbox, installation)
    write_config(installation.config, tmp_path, monkeypatch)

    result = run_dag("ue_backup")

    assert result.state == "success", result.tasks
    assert result.tasks["copy_efs_immutable"] == "success"
    assert result.tasks["wait_efs_immutable_copy"] == "success"
    manifest = _manifest(sandbox, installation)
    assert manifest["verification"]["result"] == "passed"
    assert manifest["locked_verification"]["result"] == "passed"
    checks = {c["check"]: c["ok"] for c in manifest["locked_verification"]["checks"]}
    assert checks["efs immutable copy completed"]
    assert checks["efs immutable copy in the protected account"]
    assert checks["efs immutable copy retention"]
    assert checks["efs immutable copy in a locked vault"]
    assert checks["efs immutable copy locked until"]
    locked = manifest["artifacts"]["efs_recovery_point_immutable"]
    assert (locked["account"], locked["state"], locked["retention_days"]) == (
        PROTECTED,
        "COMPLETED",
        35,
    )
    assert locked["time"] == manifest["artifacts"]["efs_recovery_point"]["time"]
    assert locked["locked_until"] > locked["time"]
    # the database too: backed up by AWS Backup before the disk's point (rule 1), copied
    assert result.tasks["rds_backup_job"] == "success"
    assert result.tasks["wait_rds_immutable_copy"] == "success"
    for check in ("completed", "in the protected account", "in a locked vault", "locked until"):
        assert checks[f"rds immutable copy {check}"], check
    assert checks["rds recovery point completed"]
    assert checks["rule 1: database (locked copy) older than efs"]
    database = manifest["artifacts"]["rds_recovery_point_immutable"]
    assert (database["account"], database["state"]) == (PROTECTED, "COMPLETED")
    assert database["time"] == manifest["artifacts"]["rds_recovery_point"]["time"]
    assert database["time"] < locked["time"]
    assert database["locked_until"] > database["time"]
    # both are in the protected account's locked vault, with the set's tags
    protected = _protected_client(sandbox, "backup")
    points = protected.list_recovery_points_by_backup_vault(BackupVaultName=VAULT)["RecoveryPoints"]
    assert {(p["ResourceType"], p["RecoveryPointArn"]) for p in points} == {
        ("EFS", locked["arn"]),
        ("RDS", database["arn"]),
    }
    # the database's copy is an RDS snapshot AWS Backup manages: RDS will not delete it
    with pytest.raises(ClientError) as refused:
        _protected_client(sandbox, "rds").delete_db_snapshot(
            DBSnapshotIdentifier=database["arn"].split(":snapshot:", 1)[1]
        )
    assert refused.value.response["Error"]["Code"] == "InvalidDBSnapshotState"
    with pytest.raises(ClientError):
        protected.delete_recovery_point(BackupVaultName=VAULT, RecoveryPointArn=database["arn"])
    tags = protected.list_tags(ResourceArn=locked["arn"])["Tags"]
    assert tags["ue-backup:backup-set"] == manifest["backup_set"]
    # and nobody deletes it before its retention: not the protected account's own role
    with pytest.raises(ClientError) as refused:
        protected.delete_recovery_point(BackupVaultName=VAULT, RecoveryPointArn=locked["arn"])
    assert refused.value.response["Error"]["Code"] == "InvalidRequestException"
    # nor remove the lock first: it is past its grace time
    with pytest.raises(ClientError):
        protected.delete_backup_vault_lock_configuration(BackupVaultName=VAULT)
    # and the manifest, in the protected account's Object Lock bucket, locked: the same
    # JSON as at home, that the installation's own role cannot delete
    assert result.tasks["lock_manifest"] == "success"
    s3 = _protected_client(sandbox, "s3")
    [home_key] = [
        o["Key"]
        for o in sandbox.client("s3").list_objects_v2(Bucket=installation.bucket)["Contents"]
    ]
    [version] = s3.list_object_versions(Bucket=BUCKET, Prefix=home_key)["Versions"]
    retention = s3.get_object_retention(
        Bucket=BUCKET, Key=home_key, VersionId=version["VersionId"]
    )["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    body = s3.get_object(Bucket=BUCKET, Key=home_key, VersionId=version["VersionId"])["Body"]
    assert json.loads(body.read()) == manifest
    with pytest.raises(ClientError) as refused:
        sandbox.client("s3").delete_object(
            Bucket=BUCKET, Key=home_key, VersionId=version["VersionId"]
        )
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    # beside the cross-region copy: three copy jobs, each with a token of its own (a shared
    # token would have AWS answer the first job again, and one copy would be missing)
    assert len(sandbox.log.entries("backup", "StartCopyJob")) == 3
    far = sandbox.client("backup", region=COPY_REGION)
    vault = installation.config["cross_region"]["backup_vault_arn"].rsplit(":", 1)[-1]
    assert (
        len(far.list_recovery_points_by_backup_vault(BackupVaultName=vault)["RecoveryPoints"]) == 1
    )


def test_a_busy_instance_delays_the_databases_point_and_the_window_waits_for_it(
    sandbox, installation
):
    """Another snapshot keeps the instance busy (RDS's own backup window, or the set's
    manual snapshot on a large database): AWS Backup's job starts at once but RDS takes
    its snapshot only after it. The disk's point must still come later (rule 1 for the
    locked set): the window waits for the snapshot's time, not for the job's start.

    The busy snapshot is started by the test, not by the DAG: ``dag.test`` runs one task
    at a time and would wait for the set's own snapshot before starting the job."""
    sandbox.durations.update(rds_snapshot=12.0, rds_snapshot_time_fixed=0.0)
    sandbox.client("rds").create_db_snapshot(
        DBInstanceIdentifier=installation.rds_instance, DBSnapshotIdentifier="busy-elsewhere"
    )
    sandbox.durations.update(rds_snapshot=0.5)

    result = run_dag("ue_backup")

    assert result.state == "success", result.tasks
    assert result.tasks["wait_rds_backup_point"] == "success"
    manifest = _manifest(sandbox, installation)
    checks = {c["check"]: c for c in manifest["locked_verification"]["checks"]}
    assert checks["rule 1: database (locked copy) older than efs"]["ok"], checks
    database = manifest["artifacts"]["rds_recovery_point"]
    # recorded as the snapshot's time, later than the job's own
    assert database["time"] > database["job_time"]
    locked = manifest["artifacts"]["rds_recovery_point_immutable"]
    assert locked["time"] == database["time"]
    assert database["time"] < manifest["artifacts"]["efs_recovery_point"]["time"]


def test_a_database_backup_job_that_cannot_start_costs_the_locked_copy_not_the_disk_backup(
    sandbox, installation
):
    """AWS refuses the database's AWS Backup job (access denied, say): the window still
    backs up the disk, resumes, and the run fails loudly naming the job."""
    sandbox.faults.add(
        Fault(
            "backup",
            "StartBackupJob",
            target=":rds:",
            code="AccessDeniedException",
            message="not allowed",
            status=400,
            times=None,
        )
    )

    result = run_dag("ue_backup")

    assert result.state == "failed"
    assert result.tasks["rds_backup_job"] == "failed"
    assert result.tasks["wait_rds_backup_point"] == "success"  # a warning, not a failure
    assert result.tasks["efs_backup"] == "success"
    assert result.tasks["wait_efs_backup"] == "success"
    assert result.tasks["resume_workflows"] == "success"
    points = sandbox.client("backup").list_recovery_points_by_backup_vault(
        BackupVaultName=installation.vault
    )["RecoveryPoints"]
    assert [p["ResourceType"] for p in points] == ["EFS"]
    # The home set is verified, written and counted by the RPO guard: the locked copies
    # have a verdict of their own, which fails, says why, and locks no manifest.
    for step in ("verify", "manifest", "publish_rpo_metric"):
        assert result.tasks[step] == "success", (step, result.tasks)
    assert result.tasks["verify_locked"] == "failed"
    assert result.tasks["lock_manifest"] == "upstream_failed"
    manifest = _manifest(sandbox, installation)
    assert manifest["verification"]["result"] == "passed"
    assert manifest["locked_verification"]["result"] == "failed"
    failed = {c["check"] for c in manifest["locked_verification"]["checks"] if not c["ok"]}
    assert failed == {"rds immutable copy made"}
    assert manifest["artifacts"]["efs_recovery_point_immutable"]["state"] == "COMPLETED"
    [disk] = [p for p in points if p["ResourceType"] == "EFS"]
    tags = sandbox.client("backup").list_tags(ResourceArn=disk["RecoveryPointArn"])["Tags"]
    assert tags["ue-backup:verified"] == "passed"
    assert (
        _protected_client(sandbox, "s3").list_object_versions(Bucket=BUCKET).get("Versions", [])
        == []
    )


def test_a_database_backup_job_that_fails_after_starting_is_named_by_the_locked_verdict(
    sandbox, installation
):
    """The job starts, then AWS fails it without a recovery point: the protected copies'
    verdict names the job and the copy it could not make, never a crash; the home set
    (the manual snapshot) is verified all the same."""
    sandbox.faults.add(
        Fault(
            "backup",
            "StartBackupJob",
            target=":rds:",
            kind="outcome",
            state="FAILED",
            message="the instance was deleted",
        )
    )

    result = run_dag("ue_backup")

    assert result.state == "failed"
    for step in ("verify", "manifest", "publish_rpo_metric"):
        assert result.tasks[step] == "success", (step, result.tasks)
    assert result.tasks["verify_locked"] == "failed"
    manifest = _manifest(sandbox, installation)
    checks = {c["check"]: c for c in manifest["locked_verification"]["checks"]}
    assert checks["rds backup job completed"]["ok"] is False
    assert "FAILED: the instance was deleted" in checks["rds backup job completed"]["detail"]
    assert checks["rds immutable copy made"]["ok"] is False
    assert checks["efs immutable copy completed"]["ok"] is True


def test_a_lock_that_would_fail_every_copy_refuses_the_run_before_anything_changes(
    sandbox, installation, tmp_path, monkeypatch
):
    """The vault accepts only copies kept 35 days or more; this installation keeps them 20
    (its lock, past its grace time, cannot be changed: the configuration must)."""
    installation.config["immutable"]["min_retention_days"] = 20
    write_config(installation.config, tmp_path, monkeypatch)

    result = run_dag("ue_backup")

    assert result.state == "failed"
    assert result.tasks["preflight"] == "failed"
    assert sandbox.log.entries("rds", "CreateDBSnapshot") == []
    assert sandbox.log.entries("backup", "StartBackupJob") == []
    assert sandbox.log.entries("k8s", "patch") == []  # the workflows were never suspended


def test_memorydbs_rdb_files_are_locked_in_the_protected_bucket_where_nobody_deletes_them(
    sandbox, tmp_path, monkeypatch
):
    installation = _installation(sandbox, tmp_path, monkeypatch, memorydb=True)

    result = run_dag("ue_backup")

    assert result.state == "success", result.tasks
    for task in (
        "export_memorydb_immutable",
        "wait_memorydb_immutable_export",
        "lock_memorydb_immutable",
    ):
        assert result.tasks[task] == "success", task
    manifest = _manifest(sandbox, installation)
    checks = {c["check"]: c["ok"] for c in manifest["locked_verification"]["checks"]}
    locked = manifest["artifacts"]["memorydb_snapshot_immutable"]
    shards = locked["num_shards"]
    assert shards >= 1
    assert len(locked["files"]) == shards
    assert checks["memorydb immutable copy complete"]
    for file in locked["files"]:
        assert checks[f"memorydb immutable copy {file['key']} locked"]
        assert checks[f"memorydb immutable copy {file['key']} point in time"]
    assert (locked["account"], locked["bucket"]) == (PROTECTED, BUCKET)
    assert locked["time"] == manifest["artifacts"]["memorydb_snapshot"]["time"]
    assert locked["monthly_cost_usd"] is not None
    assert manifest["protected_account_monthly_cost_usd"] >= locked["monthly_cost_usd"]
    # in the protected bucket beside the locked manifest, each in COMPLIANCE mode
    s3 = _protected_client(sandbox, "s3")
    prefix = f"ue-backup/ue-test/{manifest['backup_set']}/memorydb/"
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=prefix)["Versions"]
    assert sorted(v["Key"] for v in versions) == sorted(f["key"] for f in locked["files"])
    for file in locked["files"]:
        assert file["key"].startswith(prefix)
        assert file["key"].endswith(".rdb")
        retention = s3.get_object_retention(
            Bucket=BUCKET, Key=file["key"], VersionId=file["version_id"]
        )["Retention"]
        assert retention["Mode"] == "COMPLIANCE"
        # the installation's own credentials (the Airflow role's) cannot delete it
        with pytest.raises(ClientError) as refused:
            sandbox.client("s3").delete_object(
                Bucket=BUCKET, Key=file["key"], VersionId=file["version_id"]
            )
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
        # nor can the protected account's own role
        with pytest.raises(ClientError):
            s3.delete_object(Bucket=BUCKET, Key=file["key"], VersionId=file["version_id"])
    # the staging area at home is emptied once the locked copies are proven
    assert sandbox.client("s3").list_objects_v2(Bucket=STAGING).get("Contents", []) == []
