"""End to end on the sandbox: the code paths the other suites reach only by chance or not at all.

The permission checks (``tests/include``) grant exactly the AWS actions and
Kubernetes verbs the end-to-end tests are seen to use, so every call the
plugins can make in production has to happen here at least once, every time:
an RDS point-in-time restore (the planner prefers it only when the database
point it can reach is newer than the set's snapshot), a DataSync backup
run again (which looks up its own execution by its tags), and an RDS copy
encrypted with the copy region's key (``cross_region.rds_kms_key_id``).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from sandbox.airflow_harness.dag_runner import rerun, run_dag, write_config
from sandbox.installation import COPY_REGION, add_cross_region, seed_installation

pytestmark = pytest.mark.e2e


def installation(sandbox, tmp_path, monkeypatch, **options):
    inst = seed_installation(sandbox, "ue-test", **options)
    inst.config["cold_window"]["drain_timeout_minutes"] = 0.05
    write_config(inst.config, tmp_path, monkeypatch)
    return inst


def test_point_in_time_restore_lands_strictly_before_the_disk_point(sandbox, tmp_path, monkeypatch):
    installation(sandbox, tmp_path, monkeypatch, memorydb=False, velero=False)
    # The EFS job starts 1.5 s after the snapshot's time is fixed: the newest database
    # point strictly before the disk point is then a point-in-time restore, not the snapshot.
    sandbox.durations.update(rds_snapshot_time_fixed=1.5)
    backup = run_dag("ue_backup")
    assert backup.state == "success", backup.tasks

    result = run_dag("ue_restore", {"mode": "restore", "components": ["database", "efs"]})

    assert result.state == "success", result.tasks
    plan = result.xcom("plan")["plan"]
    database = plan["database"]
    assert database["kind"] == "point_in_time", plan
    assert datetime.fromisoformat(database["restore_time"]) < datetime.fromisoformat(
        plan["disk"]["time"]
    )
    restored = result.xcom("report")["restored"]["database"]
    used = sandbox.aws.rds_restore_time(restored)
    assert used.isoformat() == database["restore_time"]
    (instance,) = sandbox.client("rds").describe_db_instances(DBInstanceIdentifier=restored)[
        "DBInstances"
    ]
    assert instance["DBInstanceStatus"] == "available"
    assert len(sandbox.log.entries("rds", "RestoreDBInstanceToPointInTime")) == 1


def test_datasync_backup_run_again_finds_its_own_execution(sandbox, tmp_path, monkeypatch):
    installation(sandbox, tmp_path, monkeypatch, method="datasync", memorydb=False, velero=False)
    first = run_dag("ue_backup")
    assert first.state == "success", first.tasks

    second = rerun(first)

    assert second.state == "success", second.tasks
    assert len(sandbox.log.entries("datasync", "StartTaskExecution")) == 1
    assert second.xcom("datasync_copy") == first.xcom("datasync_copy")


def test_an_rds_copy_is_encrypted_with_the_configured_key(sandbox, tmp_path, monkeypatch):
    inst = seed_installation(sandbox, "ue-test", memorydb=False, velero=False)
    inst.config["cold_window"]["drain_timeout_minutes"] = 0.05
    add_cross_region(sandbox, inst)
    key = sandbox.client("kms", region=COPY_REGION).create_key()["KeyMetadata"]["Arn"]
    inst.config["cross_region"]["rds_kms_key_id"] = key
    write_config(inst.config, tmp_path, monkeypatch)

    result = run_dag("ue_backup")

    assert result.state == "success", result.tasks
    copy = result.xcom("copy_rds_snapshot")
    (snapshot,) = sandbox.client("rds", region=COPY_REGION).describe_db_snapshots(
        DBSnapshotIdentifier=copy["id"]
    )["DBSnapshots"]
    assert (snapshot["KmsKeyId"], snapshot["Encrypted"]) == (key, True)
