"""ue_restore from the copy region: disaster recovery when the home region is lost.

A module of its own (not in test_ue_restore.py): each test starts from an empty
sandbox with its own installation, so it needs none of that module's shared
world, and runs on any pytest-xdist worker beside it.
"""

from __future__ import annotations

import threading

import pytest

from sandbox.airflow_harness.dag_runner import run_dag, write_config
from sandbox.installation import COPY_REGION, LIVE_FILES, add_cross_region, seed_installation
from tests.dags.restore_support import MARKER, state_changes, tree

pytestmark = pytest.mark.e2e


@pytest.fixture
def copied_world(sandbox_session, tmp_path, monkeypatch):
    """A fresh installation with copies configured, and one backup set copied."""
    sandbox = sandbox_session
    sandbox.reset()
    for name, value in sandbox.connection_env().items():
        monkeypatch.setenv(name, value)
    inst = seed_installation(sandbox, "ue-test")
    inst.config["cold_window"]["drain_timeout_minutes"] = 0.05
    add_cross_region(sandbox, inst)
    write_config(inst.config, tmp_path, monkeypatch)
    backup = run_dag("ue_backup")
    assert backup.state == "success", backup.tasks
    sandbox.log.clear()
    return sandbox, inst, backup.xcom("manifest")


@pytest.fixture
def operator_there(copied_world):
    """The copy region's network set-up, by the operator, as the README asks: a subnet and
    an NFS security group there, and the file system a restore makes there given a mount
    target while the run waits (the log says so: there is no live file system there to copy
    them from). Without one no Job can mount it, as the sandbox now models: the purge Job
    would wait until its deadline. Yields the file systems it gave one."""
    sandbox = copied_world[0]
    ec2 = sandbox.client("ec2", region=COPY_REGION)
    efs = sandbox.client("efs", region=COPY_REGION)
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(
        VpcId=vpc, CidrBlock="10.30.0.0/24", AvailabilityZone=f"{COPY_REGION}a"
    )["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="efs", Description="nfs", VpcId=vpc)["GroupId"]
    stop, given = threading.Event(), []

    def give_mount_targets() -> None:
        while not stop.wait(0.2):
            for fs in efs.describe_file_systems()["FileSystems"]:
                if fs["NumberOfMountTargets"] == 0 and fs["FileSystemId"] not in given:
                    efs.create_mount_target(
                        FileSystemId=fs["FileSystemId"], SubnetId=subnet, SecurityGroups=[group]
                    )
                    given.append(fs["FileSystemId"])

    thread = threading.Thread(target=give_mount_targets, daemon=True)
    thread.start()
    yield given
    stop.set()
    thread.join()


def test_a_restore_from_the_copy_region_creates_everything_there(copied_world, operator_there):
    sandbox, installation, manifest = copied_world

    result = run_dag("ue_restore", {"mode": "restore", "source_region": COPY_REGION})

    assert result.state == "success", result.tasks
    report = result.xcom("report")
    assert report["backup_set"] == manifest["backup_set"]
    plan = result.xcom("plan")
    assert plan["rds_snapshot_id"] == manifest["artifacts"]["rds_snapshot_copy"]["id"]
    assert plan["recovery_point_arn"] == manifest["artifacts"]["efs_recovery_point_copy"]["arn"]
    # the database, the file system and the cluster are new resources in the copy region
    far_rds = sandbox.client("rds", region=COPY_REGION)
    database = far_rds.describe_db_instances(DBInstanceIdentifier=report["restored"]["database"])
    assert database["DBInstances"][0]["DBInstanceStatus"] == "available"
    far_efs = sandbox.client("efs", region=COPY_REGION)
    fs_id = report["restored"]["efs_file_system_id"]
    assert far_efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"]
    files = tree(sandbox.aws.efs_path(fs_id))
    assert set(files) == set(LIVE_FILES) | {MARKER}  # temporary files purged there too
    assert operator_there == [fs_id]  # mounted through the mount target the operator gave
    far_memorydb = sandbox.client("memorydb", region=COPY_REGION)
    cluster = far_memorydb.describe_clusters(ClusterName=report["restored"]["memorydb_cluster"])
    assert cluster["Clusters"][0]["Status"] == "available"
    # nothing was restored in the home region, and the live workflows never stopped
    home = {
        i["DBInstanceIdentifier"]
        for i in sandbox.client("rds").describe_db_instances()["DBInstances"]
    }
    assert home == {installation.rds_instance}
    assert sandbox.log.entries("rds", "RestoreDBInstanceToPointInTime") == []
    assert not [m for m in sandbox.log.entries("k8s", "patch") if "ecdeployments" in m.target]


def test_the_copy_region_refuses_an_in_place_restore(copied_world, capfd, caplog):
    sandbox, installation, _ = copied_world
    conf = {
        "mode": "restore",
        "source_region": COPY_REGION,
        "target": "in_place",
        "confirm": installation.name,
    }

    result = run_dag("ue_restore", conf)

    assert result.state == "failed"
    assert result.tasks["validate"] == "failed"
    assert state_changes(sandbox) == []
    out, err = capfd.readouterr()
    assert "side_by_side only" in out + err + caplog.text
