"""Restored resources shaped like the live ones, end to end on the sandbox (issue 18).

The live instance and file system are unlike AWS's defaults
(``seed_installation(shaped=True)``): their own parameter and option groups, gp3
with IOPS and throughput, deletion protection and tags; maxIO, provisioned
throughput, a customer managed key. The sandbox restores as AWS does (its
defaults where a restore names nothing), so the restored ones equal the live
ones only through what ``ue_restore`` passes (``restored_shape``). A drill's
temporary instance takes the groups but no deletion protection: its cleanup
deletes it (the sandbox refuses to delete a protected instance, as RDS does).
"""

from __future__ import annotations

import pytest

from sandbox.airflow_harness.dag_runner import run_dag, write_config
from tests.dags.worlds import seeded

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def world(sandbox_session, tmp_path_factory):
    """One shaped installation and one complete backup set."""
    sandbox = sandbox_session
    with seeded(sandbox, "ue-test", memorydb=False, velero=False, shaped=True) as (patch, inst):
        write_config(inst.config, tmp_path_factory.mktemp("shape"), patch)
        result = run_dag("ue_backup")
        assert result.state == "success", result.tasks
        yield sandbox, inst, result.xcom("manifest")


@pytest.fixture
def sandbox(world):
    world[0].log.clear()
    world[0].faults.clear()
    return world[0]


@pytest.fixture
def installation(world):
    return world[1]


@pytest.fixture
def manifest(world):
    return world[2]


def instance_shape(rds, identifier: str) -> dict:
    """What a restore must keep of the live instance, as RDS describes it."""
    instance = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    return {
        "parameter_group": instance["DBParameterGroups"][0]["DBParameterGroupName"],
        "option_group": instance["OptionGroupMemberships"][0]["OptionGroupName"],
        "storage_type": instance["StorageType"],
        "iops": instance.get("Iops"),
        "storage_throughput": instance.get("StorageThroughput"),
        "deletion_protection": instance["DeletionProtection"],
        "kms_key": instance.get("KmsKeyId"),
        "tags": {t["Key"]: t["Value"] for t in instance["TagList"] if t["Key"] == "cost-center"},
    }


def file_system_shape(efs, fs_id: str) -> dict:
    found = efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]
    return {
        key: found.get(key)
        for key in (
            "PerformanceMode",
            "ThroughputMode",
            "ProvisionedThroughputInMibps",
            "Encrypted",
            "KmsKeyId",
        )
    }


def test_the_manifest_records_the_live_shape(installation, manifest):
    database = manifest["network"]["database"]["shape"]
    efs = manifest["network"]["efs"]["shape"]
    assert database["parameter_group"] == f"{installation.name}-pg"
    assert database["option_group"] == f"{installation.name}-og"
    assert efs["performance_mode"] == "maxIO"
    assert efs["throughput_mode"] == "provisioned"


def test_a_side_by_side_restore_is_shaped_like_the_live_resources(sandbox, installation):
    result = run_dag("ue_restore", {"mode": "restore"})

    assert result.state == "success", result.tasks
    restored = result.xcom("report")["restored"]
    rds, efs = sandbox.client("rds"), sandbox.client("efs")
    live = instance_shape(rds, installation.rds_instance)
    assert instance_shape(rds, restored["database"]) == live
    assert live["parameter_group"] == f"{installation.name}-pg"  # not the engine's default
    assert live["option_group"] == f"{installation.name}-og"
    live_fs = file_system_shape(efs, installation.file_system_id)
    assert file_system_shape(efs, restored["efs_file_system_id"]) == live_fs
    assert live_fs["PerformanceMode"] == "maxIO"  # not AWS Backup's defaults
    assert live_fs["ThroughputMode"] == "provisioned"
    assert live_fs["KmsKeyId"]  # the customer managed key, not the AWS managed one


def test_a_drills_instance_is_not_protected_so_its_cleanup_deletes_it(sandbox, installation):
    result = run_dag("ue_restore_drill")

    assert result.state == "success", result.tasks
    temporary = result.xcom("prepare")["rds_target"]
    rds = sandbox.client("rds")
    names = [i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]]
    assert temporary not in names
    assert [m.target for m in sandbox.log.entries("rds", "DeleteDBInstance")]
