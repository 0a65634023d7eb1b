"""The drill rehearses a restore from the protected copies (``source: immutable``).

After a backup with the ``immutable`` section (MemoryDB included), the drill
plans from the protected account alone (the locked vault's points, MemoryDB's
locked files, the locked manifests), brings the chosen points back into the
installation's vault and stages MemoryDB's files, exactly as ``ue_restore``
from the protected copies does, restores them into its temporary resources and
verifies them. Its report says where it restored from and counts the
bring-back in the recovery time. Its cleanup leaves nothing: not the
temporary instance, cluster or file system, not the brought-back points (nor
the database's snapshot that goes with its point), not the staged files. The
locked copies are never touched: the protected account sees only reads and
copy jobs out of the locked vault into the installation's.
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from sandbox.airflow_harness.dag_runner import run_dag, write_config
from sandbox.aws.network import add_mount_targets
from tests.dags.test_ue_backup_immutable import (
    STAGING,
    _installation,
    installation,  # noqa: F401 (the fixture)
)
from tests.dags.test_ue_restore_drill import assert_drill_resources_gone
from tests.dags.test_ue_restore_immutable import _let_the_protected_account_copy_home
from tests.plugins.tasks.test_preflight_immutable import BUCKET, PROTECTED, VAULT, _protected_client

pytestmark = pytest.mark.e2e

BROUGHT_BACK = ("database", "efs", "memorydb")
READS = ("Describe", "Get", "Head", "List")


def _home_artifacts(sandbox, vault: str) -> dict:
    """What the installation's account holds that a bring-back adds to: its vault's points,
    the RDS snapshots AWS Backup manages, the staging bucket's files."""
    backup, rds, s3 = sandbox.client("backup"), sandbox.client("rds"), sandbox.client("s3")
    return {
        "points": sorted(
            p["RecoveryPointArn"]
            for p in backup.list_recovery_points_by_backup_vault(BackupVaultName=vault)[
                "RecoveryPoints"
            ]
        ),
        "awsbackup snapshots": sorted(
            s["DBSnapshotIdentifier"]
            for s in rds.describe_db_snapshots(SnapshotType="awsbackup")["DBSnapshots"]
        ),
        "staged": sorted(o["Key"] for o in s3.list_objects_v2(Bucket=STAGING).get("Contents", [])),
    }


def _locked(sandbox) -> dict:
    """The protected copies as the protected account sees them: points and object versions."""
    backup, s3 = _protected_client(sandbox, "backup"), _protected_client(sandbox, "s3")
    points = backup.list_recovery_points_by_backup_vault(BackupVaultName=VAULT)["RecoveryPoints"]
    versions = s3.list_object_versions(Bucket=BUCKET)
    return {
        "points": sorted((p["RecoveryPointArn"], p["Status"]) for p in points),
        "versions": sorted((v["Key"], v["VersionId"]) for v in versions.get("Versions", [])),
        "delete markers": versions.get("DeleteMarkers", []),
    }


def test_a_drill_from_the_protected_copies_restores_times_the_bring_back_and_leaves_nothing(
    sandbox, tmp_path, monkeypatch
):
    inst = _installation(sandbox, tmp_path, monkeypatch, memorydb=True)
    _let_the_protected_account_copy_home(sandbox, inst.vault)
    add_mount_targets(sandbox.aws, inst.file_system_id)  # the drill's file system copies them
    backed_up = run_dag("ue_backup")
    assert backed_up.state == "success", backed_up.tasks
    backup_set = backed_up.xcom("preflight")["backup_set"]
    home_before, locked_before = _home_artifacts(sandbox, inst.vault), _locked(sandbox)
    began = time.time()

    result = run_dag("ue_restore_drill", {"source": "immutable"})

    asked = [e for e in sandbox.requests.entries(api="aws", caller="system") if e.at >= began]

    assert result.state == "success", result.tasks
    settings = result.xcom("prepare")
    drill_id, plan = settings["drill_id"], settings["plan"]
    assert (settings["source"], settings["from_immutable"]) == ("immutable", True)
    # planned from the protected account's copies, rule 1 as everywhere
    assert plan["backup_set"] == backup_set
    assert plan["verified"] is True  # the locked manifest's verdict
    assert f":{PROTECTED}:" in plan["database"]["snapshot_id"]
    assert f":{PROTECTED}:" in plan["disk"]["recovery_point_arn"]
    database = datetime.fromisoformat(plan["database"]["time"])
    assert database < datetime.fromisoformat(plan["disk"]["time"])
    assert database < datetime.fromisoformat(plan["memorydb"]["time"])
    # brought back home first, and restored from there
    back = result.xcom("bring_back_locked_copies")
    assert set(back) == set(BROUGHT_BACK)
    assert back["database"]["source"] == plan["database"]["snapshot_id"]
    assert back["efs"]["source"] == plan["disk"]["recovery_point_arn"]
    assert all(
        arn.startswith(f"arn:aws:s3:::{STAGING}/ue-backup-restores/{drill_id}/")
        for arn in back["memorydb"]["snapshot_arns"]
    )
    [database_restore] = [e for e in asked if e.operation == "RestoreDBInstanceFromDBSnapshot"]
    snapshot = database_restore.params["DBSnapshotIdentifier"]
    assert snapshot in back["database"]["recovery_point_arn"], snapshot
    assert f":{PROTECTED}:" not in back["database"]["recovery_point_arn"]
    [efs_restore] = [e for e in asked if e.operation == "StartRestoreJob"]
    assert efs_restore.params["RecoveryPointArn"] == back["efs"]["recovery_point_arn"]
    # every component verified; the report says where from and counts the bring-back
    for task in ("verify_database", "verify_efs", "verify_memorydb", "cleanup", "run_outcome"):
        assert result.tasks[task] == "success", task
    report = result.xcom("report")
    assert (report["outcome"], report["source"]) == ("passed", "immutable")
    bring_back = report["bring_back"]
    assert bring_back["status"] == "brought back"
    assert bring_back["seconds"] is not None
    assert bring_back["seconds"] > 0
    assert report["rto_seconds"]["bring_back"] == bring_back["seconds"]
    assert set(bring_back["points"]) == {"database", "efs"}
    assert bring_back["staged_files"] == back["memorydb"]["snapshot_arns"]
    for name in BROUGHT_BACK:
        component = report["components"][name]
        assert component["status"] == "verified", name
        assert component["rto_from"] == "bring_back", name
        # timed from the bring-back's start: the copy home is part of its recovery time
        assert component["rto_seconds"] >= bring_back["seconds"], name
        assert component["started_at"] >= bring_back["finished_at"], name
    assert report["components"]["kubernetes"]["status"] == "not restored"
    total = report["rto_seconds"]["total"]
    assert report["started_at"] <= bring_back["started_at"]
    assert total >= max(report["rto_seconds"][name] for name in BROUGHT_BACK)
    # the cleanup left nothing: no temporary instance, cluster or file system, no
    # brought-back point (nor its snapshot) in the installation's vault, no staged file
    assert_drill_resources_gone(sandbox, drill_id)
    assert _home_artifacts(sandbox, inst.vault) == home_before
    states = result.xcom("cleanup")["states"]
    assert {"brought-back database point", "brought-back efs point"} <= set(states)
    assert "staged memorydb files" in states
    # the locked copies are untouched; the protected account saw only reads and the copy
    # jobs out of the locked vault into the installation's vault
    assert _locked(sandbox) == locked_before
    protected = [e for e in asked if e.account == PROTECTED]
    writes = [e for e in protected if not e.operation.startswith(READS)]
    assert writes, "the bring-back's copy jobs run in the protected account"
    for entry in writes:
        assert entry.operation == "StartCopyJob", entry
        assert entry.params["SourceBackupVaultName"] == VAULT, entry
        assert entry.params["DestinationBackupVaultArn"].endswith(f":backup-vault:{inst.vault}")
    assert len(writes) == 2  # the database and EFS; MemoryDB's files are read, never copied


def test_a_drill_from_the_protected_copies_without_the_section_is_refused_before_anything(
    sandbox,
    installation,  # noqa: F811
    tmp_path,
    monkeypatch,
    capfd,
    caplog,
):
    del installation.config["immutable"]
    write_config(installation.config, tmp_path, monkeypatch)

    result = run_dag("ue_restore_drill", {"source": "immutable"})

    assert result.state == "failed"
    assert result.tasks["prepare"] == "failed"
    out, err = capfd.readouterr()
    said = out + err + caplog.text
    assert "params.source: immutable drills a restore from the protected copies" in said
    assert "no immutable section" in said
    assert sandbox.log.entries("backup", "StartCopyJob") == []
    assert sandbox.log.entries("backup", "StartRestoreJob") == []
    assert sandbox.log.entries("rds", "RestoreDBInstanceFromDBSnapshot") == []


def test_a_drill_refuses_a_home_vault_a_copy_back_cannot_land_in(
    sandbox, tmp_path, monkeypatch, capfd, caplog
):
    """The installation's vault under AWS Backup's AWS managed key: the drill's bring-back
    would fail, so prepare refuses naming the field, before anything is listed or copied."""
    inst = _installation(sandbox, tmp_path, monkeypatch, memorydb=False)
    backup = sandbox.client("backup")
    backup.delete_backup_vault(BackupVaultName=inst.vault)
    backup.create_backup_vault(BackupVaultName=inst.vault)  # aws/backup, AWS's default

    result = run_dag("ue_restore_drill", {"source": "immutable", "dry_run": True})

    assert result.tasks["prepare"] == "failed"
    out, err = capfd.readouterr()
    said = out + err + caplog.text
    assert f"efs.aws_backup.vault_name: backup vault {inst.vault}'s key" in said
    assert "is AWS managed (aws/backup)" in said
    assert "(the drill refused before anything is copied back)" in said
    assert sandbox.log.entries("backup", "StartCopyJob") == []
