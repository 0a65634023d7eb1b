"""Restored resources shaped like the live ones, on the sandbox (``restored_shape``).

The live instance and file system are unlike AWS's defaults (``seed_installation(
shaped=True)``): their own parameter and option groups, gp3 with IOPS and
throughput, deletion protection and tags; maxIO, provisioned throughput and a
customer managed key. The sandbox restores as AWS does (the defaults where a
restore names nothing, a group that does not exist refused), so only what the
operators pass makes the restored ones equal.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from sandbox.installation import ROLE_ARN, seed_installation
from tests.plugins.support import SET_ID, eventually, make_context
from ue_backup.hooks.aws_backup import AwsBackupHook
from ue_backup.hooks.efs import EfsHook
from ue_backup.operators.aws_backup import (
    AwsBackupStartEfsBackupJobOperator,
    AwsBackupStartEfsRestoreJobOperator,
)
from ue_backup.operators.memorydb import (
    MemoryDbCreateSnapshotOperator,
    MemoryDbRestoreClusterOperator,
)
from ue_backup.operators.rds import RdsRestoreInstanceOperator, RdsStartSnapshotOperator
from ue_backup.recorded_network import network_record
from ue_backup.tasks.restored_efs import match_throughput

SNAPSHOT_ID = f"ueb-{SET_ID}"
TARGET = "ue-test-db-restored"
RESTORE_TAG = {"ue-backup:restore": "r-1"}


@pytest.fixture
def installation(sandbox, fast):
    sandbox.durations.update(
        rds_snapshot=0.1, rds_instance=0.1, backup_job=0.2, restore_job=0.1, rds_delete=0.1
    )
    return seed_installation(sandbox, memorydb=False, velero=False, ecds=(), shaped=True)


@pytest.fixture
def rds(sandbox):
    return sandbox.client("rds")


def describe(rds, identifier: str) -> dict:
    return rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]


def snapshot(sandbox, installation, rds) -> None:
    RdsStartSnapshotOperator(
        task_id="start_rds_snapshot",
        backup_set_id=SET_ID,
        db_instance_identifier=installation.rds_instance,
    ).execute(make_context())
    eventually(
        sandbox,
        lambda: (
            rds.describe_db_snapshots(DBSnapshotIdentifier=SNAPSHOT_ID)["DBSnapshots"][0]["Status"]
            == "available"
        ),
    )


def restore(installation, **kwargs) -> dict:
    return RdsRestoreInstanceOperator(
        task_id="restore_database",
        target_instance_identifier=TARGET,
        source_instance_identifier=installation.rds_instance,
        **{"snapshot_id": SNAPSHOT_ID, **kwargs},
        tags=RESTORE_TAG,
    ).execute(make_context())


# The instance settings both restores take (storage autoscaling's maximum: only the
# point-in-time restore takes it).
SETTINGS = (
    "BackupRetentionPeriod",
    "PreferredBackupWindow",
    "IAMDatabaseAuthenticationEnabled",
    "EnabledCloudwatchLogsExports",
    "AutoMinorVersionUpgrade",
    "CACertificateIdentifier",
    "NetworkType",
)


def kept(instance: dict) -> dict:
    """What a restore must keep of the live instance, as RDS describes it."""
    return {
        "parameter_group": instance["DBParameterGroups"][0]["DBParameterGroupName"],
        "option_group": instance["OptionGroupMemberships"][0]["OptionGroupName"],
        "storage": (
            instance["StorageType"],
            instance["AllocatedStorage"],
            instance.get("Iops"),
            instance.get("StorageThroughput"),
        ),
        "deletion_protection": instance["DeletionProtection"],
        "copy_tags_to_snapshot": instance["CopyTagsToSnapshot"],
        "kms_key": instance.get("KmsKeyId"),
        **{setting: instance.get(setting) for setting in SETTINGS},
    }


def last_restore_request(sandbox) -> dict:
    """The parameters of the operator's latest RestoreDBInstanceFromDBSnapshot (the request
    log outlives each test's reset)."""
    return [
        e.params
        for e in sandbox.requests.entries("aws", caller="system")
        if e.operation == "RestoreDBInstanceFromDBSnapshot"
    ][-1]


def tags(instance: dict) -> dict:
    return {t["Key"]: t["Value"] for t in instance.get("TagList") or ()}


def test_the_sandbox_restores_with_awss_defaults_where_nothing_is_named(sandbox, installation, rds):
    """Not kinder than AWS: a restore naming nothing gets the engine's default parameter
    (and option) group, gp3, no deletion protection and only the tags it names."""
    snapshot(sandbox, installation, rds)
    rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier=TARGET,
        DBSnapshotIdentifier=SNAPSHOT_ID,
        Tags=[{"Key": "ue-backup:restore", "Value": "r-1"}],
    )
    restored = describe(rds, TARGET)
    assert restored["DBParameterGroups"][0]["DBParameterGroupName"].startswith("default.")
    assert restored["OptionGroupMemberships"][0]["OptionGroupName"].startswith("default:")
    assert restored["DeletionProtection"] is False
    assert tags(restored) == RESTORE_TAG


def test_a_restored_instance_keeps_the_live_groups_storage_protection_and_tags(
    sandbox, installation, rds
):
    snapshot(sandbox, installation, rds)

    restore(installation)

    restored, live = describe(rds, TARGET), describe(rds, installation.rds_instance)
    assert kept(restored) == kept(live)
    assert kept(restored)["parameter_group"] == f"{installation.name}-pg"
    assert kept(restored)["option_group"] == f"{installation.name}-og"
    assert tags(restored) == {**tags(live), **RESTORE_TAG}


def test_the_live_settings_are_shaped_unlike_awss_defaults(installation, rds):
    """So that only what the restore passes can make the restored instance equal."""
    live = describe(rds, installation.rds_instance)
    assert live["IAMDatabaseAuthenticationEnabled"] is True
    assert live["EnabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    assert live["AutoMinorVersionUpgrade"] is False
    assert live["CACertificateIdentifier"] == "rds-ca-rsa4096-g1"
    assert live["NetworkType"] == "DUAL"
    assert live["PreferredBackupWindow"] == "03:00-03:30"
    assert live["MaxAllocatedStorage"] == 1000


def test_a_drills_instance_keeps_the_groups_but_no_deletion_protection_or_live_tags(
    sandbox, installation, rds
):
    snapshot(sandbox, installation, rds)

    restore(installation, temporary=True)

    restored, live = describe(rds, TARGET), describe(rds, installation.rds_instance)
    assert kept(restored)["parameter_group"] == kept(live)["parameter_group"]
    assert kept(restored)["option_group"] == kept(live)["option_group"]
    assert restored["DeletionProtection"] is False
    assert tags(restored) == RESTORE_TAG
    # what a check may depend on, kept; what costs or outlives the drill, not
    for setting in (
        "IAMDatabaseAuthenticationEnabled",
        "AutoMinorVersionUpgrade",
        "CACertificateIdentifier",
        "NetworkType",
    ):
        assert restored[setting] == live[setting], setting
    assert restored["BackupRetentionPeriod"] == 0
    assert restored["EnabledCloudwatchLogsExports"] == []
    eventually(sandbox, lambda: describe(rds, TARGET)["DBInstanceStatus"] == "available")
    rds.delete_db_instance(DBInstanceIdentifier=TARGET, SkipFinalSnapshot=True)  # the cleanup


def grow_after_the_snapshot(sandbox, installation, rds) -> None:
    """The set's snapshot taken at 300 GiB (gp3 then had the baseline: no IOPS of its
    own), then storage autoscaling took the live instance to 600 GiB."""
    rds.modify_db_instance(
        DBInstanceIdentifier=installation.rds_instance, AllocatedStorage=300, ApplyImmediately=True
    )
    snapshot(sandbox, installation, rds)
    rds.modify_db_instance(
        DBInstanceIdentifier=installation.rds_instance, AllocatedStorage=600, ApplyImmediately=True
    )


def test_a_snapshot_taken_before_the_live_grew_past_400_gib_restores(sandbox, installation, rds):
    """RDS judges gp3 IOPS at the size the restore really gets; the live size alone made
    the operator name IOPS for a 300 GiB snapshot, which RDS refuses."""
    grow_after_the_snapshot(sandbox, installation, rds)
    assert (
        rds.describe_db_snapshots(DBSnapshotIdentifier=SNAPSHOT_ID)["DBSnapshots"][0][
            "AllocatedStorage"
        ]
        == 300
    )

    restore(installation)

    restored, live = describe(rds, TARGET), describe(rds, installation.rds_instance)
    assert kept(restored)["storage"] == kept(live)["storage"] == ("gp3", 600, 12000, 500)
    request = last_restore_request(sandbox)
    assert request["AllocatedStorage"] == 600


def test_a_drill_of_that_snapshot_keeps_its_size_and_names_no_iops(sandbox, installation, rds):
    grow_after_the_snapshot(sandbox, installation, rds)

    restore(installation, temporary=True)

    assert describe(rds, TARGET)["AllocatedStorage"] == 300
    request = last_restore_request(sandbox)
    assert "AllocatedStorage" not in request
    assert "Iops" not in request
    assert "StorageThroughput" not in request


def restore_window_reached(sandbox, rds, installation) -> str:
    """A time inside the live instance's restore window, once there is one."""

    def window():
        (backups,) = rds.describe_db_instance_automated_backups(
            DBInstanceIdentifier=installation.rds_instance
        )["DBInstanceAutomatedBackups"]
        return backups["RestoreWindow"]

    earliest = window()["EarliestTime"].replace(microsecond=0) + timedelta(seconds=1)
    eventually(sandbox, lambda: window()["LatestTime"] > earliest)
    return earliest.isoformat()


def test_a_point_in_time_restore_keeps_the_size_and_storage_autoscaling(sandbox, installation, rds):
    when = restore_window_reached(sandbox, rds, installation)

    restore(installation, snapshot_id=None, restore_time=when)

    restored, live = describe(rds, TARGET), describe(rds, installation.rds_instance)
    assert kept(restored) == kept(live)
    assert restored["MaxAllocatedStorage"] == live["MaxAllocatedStorage"] == 1000


def test_the_live_instance_gone_the_recorded_shape_is_kept(sandbox, installation, rds):
    """After an attack that deleted it: the shape the backup set recorded."""
    live = describe(rds, installation.rds_instance)
    record = network_record(efs=None, database=live, memorydb=None)
    snapshot(sandbox, installation, rds)
    rds.modify_db_instance(
        DBInstanceIdentifier=installation.rds_instance,
        DeletionProtection=False,
        ApplyImmediately=True,
    )
    rds.delete_db_instance(DBInstanceIdentifier=installation.rds_instance, SkipFinalSnapshot=True)
    eventually(sandbox, lambda: not rds.describe_db_instances()["DBInstances"])

    restore(installation, recorded_network=record)

    restored = describe(rds, TARGET)
    assert kept(restored) == kept(live)
    assert (
        restored["DBSubnetGroup"]["DBSubnetGroupName"] == live["DBSubnetGroup"]["DBSubnetGroupName"]
    )


def test_a_recorded_parameter_group_that_no_longer_exists_is_refused_by_rds(
    sandbox, installation, rds
):
    live = describe(rds, installation.rds_instance)
    record = network_record(efs=None, database=live, memorydb=None)
    record["database"]["shape"]["parameter_group"] = "gone-pg"
    snapshot(sandbox, installation, rds)
    rds.modify_db_instance(
        DBInstanceIdentifier=installation.rds_instance,
        DeletionProtection=False,
        ApplyImmediately=True,
    )
    rds.delete_db_instance(DBInstanceIdentifier=installation.rds_instance, SkipFinalSnapshot=True)
    eventually(sandbox, lambda: not rds.describe_db_instances()["DBInstances"])

    with pytest.raises(ClientError, match="DBParameterGroupNotFound"):
        restore(installation, recorded_network=record)


# --- EFS ----------------------------------------------------------------------------------


def efs_point(sandbox, installation) -> str:
    hook = AwsBackupHook()
    started = AwsBackupStartEfsBackupJobOperator(
        task_id="start_efs_backup",
        backup_set_id=SET_ID,
        file_system_id=installation.file_system_id,
        backup_vault_name=installation.vault,
        iam_role_arn=ROLE_ARN,
    ).execute(make_context())
    eventually(sandbox, lambda: hook.describe_backup_job(started["job_id"])["State"] == "COMPLETED")
    return started["recovery_point_arn"]


def restored_file_system(sandbox, point: str, **kwargs) -> tuple[str, dict]:
    """Restore to a new file system, then the step after the job: its throughput."""
    hook = AwsBackupHook()
    started = AwsBackupStartEfsRestoreJobOperator(
        task_id="restore_efs",
        recovery_point_arn=point,
        iam_role_arn=ROLE_ARN,
        idempotency_token=f"{SET_ID}-restore-efs",
        **kwargs,
    ).execute(make_context())
    eventually(
        sandbox, lambda: hook.describe_restore_job(started["job_id"])["Status"] == "COMPLETED"
    )
    fs_id = hook.describe_restore_job(started["job_id"])["CreatedResourceArn"].rsplit("/", 1)[-1]
    match_throughput(EfsHook(), fs_id, started["shape"])
    return fs_id, started


def modes_and_key(file_system: dict) -> dict:
    return {
        key: file_system.get(key)
        for key in (
            "PerformanceMode",
            "ThroughputMode",
            "ProvisionedThroughputInMibps",
            "Encrypted",
            "KmsKeyId",
        )
    }


def test_a_restored_file_system_keeps_the_live_modes_and_key(sandbox, installation):
    point = efs_point(sandbox, installation)

    fs_id, _ = restored_file_system(
        sandbox,
        point,
        file_system_id=installation.file_system_id,
        shape_source=installation.file_system_id,
    )

    efs = EfsHook()
    live = efs.describe_file_system(installation.file_system_id)
    assert modes_and_key(efs.describe_file_system(fs_id)) == modes_and_key(live)
    assert live["PerformanceMode"] == "maxIO"
    assert live["ThroughputMode"] == "provisioned"
    assert sandbox.log.entries("efs", "UpdateFileSystem")
    match_throughput(efs, fs_id, efs_shape_of(live))  # a retry: changes nothing
    assert len(sandbox.log.entries("efs", "UpdateFileSystem")) == 1


def efs_shape_of(file_system: dict) -> dict:
    from ue_backup.restored_shape import efs_shape

    return efs_shape(file_system)


def test_the_live_file_system_gone_the_recorded_shape_is_kept(sandbox, installation):
    efs = EfsHook()
    live = efs.describe_file_system(installation.file_system_id)
    record = network_record(efs=[], database=None, memorydb=None, efs_file_system=live)
    point = efs_point(sandbox, installation)
    client = sandbox.client("efs")  # deleted by an attacker: mount targets first, as EFS wants
    for target in efs.mount_targets(installation.file_system_id):
        client.delete_mount_target(MountTargetId=target["MountTargetId"])
    client.delete_file_system(FileSystemId=installation.file_system_id)

    fs_id, _ = restored_file_system(
        sandbox,
        point,
        file_system_id=installation.file_system_id,
        shape_source=installation.file_system_id,
        recorded_network=record,
    )

    assert modes_and_key(efs.describe_file_system(fs_id)) == modes_and_key(live)


def test_efs_refuses_elastic_throughput_on_maxio(sandbox, installation):
    with pytest.raises(ClientError, match="generalPurpose"):
        sandbox.client("efs").update_file_system(
            FileSystemId=installation.file_system_id, ThroughputMode="elastic"
        )


def test_gp3_settings_below_their_size_are_refused_so_a_small_instance_names_none(
    sandbox, installation, rds
):
    """RDS refuses gp3 IOPS or throughput below the engine's size for them (400 GiB for
    PostgreSQL): a small gp3 instance's restore names neither, and succeeds."""
    from sandbox.aws.fixtures import create_db_instance

    create_db_instance(rds, "small-db", StorageType="gp3")  # 20 GiB
    rds.create_db_snapshot(DBSnapshotIdentifier="small-snap", DBInstanceIdentifier="small-db")
    eventually(
        sandbox,
        lambda: (
            rds.describe_db_snapshots(DBSnapshotIdentifier="small-snap")["DBSnapshots"][0]["Status"]
            == "available"
        ),
    )
    with pytest.raises(ClientError, match="storage size less than 400"):
        rds.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier="small-refused",
            DBSnapshotIdentifier="small-snap",
            StorageType="gp3",
            Iops=3000,
        )

    # as RDS describes a small gp3 instance: the baseline (moto reports none), recorded,
    # then the instance gone
    small = {**describe(rds, "small-db"), "Iops": 3000, "StorageThroughput": 125}
    record = network_record(efs=None, database=small, memorydb=None)
    rds.delete_db_instance(DBInstanceIdentifier="small-db", SkipFinalSnapshot=True)
    eventually(sandbox, lambda: "small-db" not in str(rds.describe_db_instances()))

    RdsRestoreInstanceOperator(
        task_id="restore_database",
        target_instance_identifier="small-restored",
        source_instance_identifier="small-db",
        snapshot_id="small-snap",
        tags=RESTORE_TAG,
        recorded_network=record,
    ).execute(make_context())

    assert describe(rds, "small-restored")["StorageType"] == "gp3"


# --- MemoryDB -----------------------------------------------------------------------------

CLUSTER_TARGET = "ue-test-agg-restored"


@pytest.fixture
def shaped_cluster(sandbox, fast):
    """A cluster unlike MemoryDB's defaults: r6gd with data tiering, its own parameter
    group, dual-stack; with its set's snapshot, available."""
    sandbox.durations.update(memorydb_snapshot=0.1, memorydb_cluster=0.1, memorydb_delete=0.1)
    inst = seed_installation(sandbox, velero=False, ecds=(), shaped=True)
    MemoryDbCreateSnapshotOperator(
        task_id="start_memorydb_snapshot", backup_set_id=SET_ID, cluster_name=inst.memorydb_cluster
    ).execute(make_context())
    memorydb = sandbox.client("memorydb")
    eventually(
        sandbox,
        lambda: (
            memorydb.describe_snapshots(SnapshotName=SNAPSHOT_ID)["Snapshots"][0]["Status"]
            == "available"
        ),
    )
    return inst


def cluster_kept(cluster: dict) -> dict:
    """What a restore must keep of the live cluster, as MemoryDB describes it."""
    keys = (
        "NodeType",
        "Engine",
        "EngineVersion",
        "ParameterGroupName",
        "DataTiering",
        "NetworkType",
        "IpDiscovery",
    )
    return {key: cluster.get(key) for key in keys}


def restore_cluster(source: str | None, **kwargs) -> dict:
    return MemoryDbRestoreClusterOperator(
        task_id="restore_memorydb",
        snapshot_name=SNAPSHOT_ID,
        target_cluster_name=CLUSTER_TARGET,
        source_cluster_name=source,
        tags=RESTORE_TAG,
        **kwargs,
    ).execute(make_context())


def describe_cluster(sandbox, name: str) -> dict:
    return sandbox.client("memorydb").describe_clusters(ClusterName=name)["Clusters"][0]


def test_the_sandbox_refuses_an_r6gd_cluster_shaped_by_awss_defaults(sandbox, shaped_cluster):
    """Not kinder than MemoryDB: the live node type without data tiering is refused."""
    with pytest.raises(ClientError, match="DataTiering must be true"):
        sandbox.client("memorydb").create_cluster(
            ClusterName=CLUSTER_TARGET,
            NodeType="db.r6gd.xlarge",
            ACLName="open-access",
            SnapshotName=SNAPSHOT_ID,
        )


def test_a_restored_cluster_keeps_the_live_parameter_group_tiering_and_ip_settings(
    sandbox, shaped_cluster
):
    restore_cluster(shaped_cluster.memorydb_cluster)

    restored = describe_cluster(sandbox, CLUSTER_TARGET)
    live = describe_cluster(sandbox, shaped_cluster.memorydb_cluster)
    assert cluster_kept(restored) == cluster_kept(live)
    assert cluster_kept(live)["ParameterGroupName"] == f"{shaped_cluster.name}-cache-pg"
    assert (live["DataTiering"], live["NetworkType"], live["IpDiscovery"]) == (
        "true",
        "dual_stack",
        "ipv6",
    )


def test_the_live_cluster_gone_the_recorded_shape_is_kept(sandbox, shaped_cluster):
    """After an attack that deleted it: the shape the backup set recorded."""
    live = describe_cluster(sandbox, shaped_cluster.memorydb_cluster)
    record = network_record(efs=None, database=None, memorydb=live)
    memorydb = sandbox.client("memorydb")
    memorydb.delete_cluster(ClusterName=shaped_cluster.memorydb_cluster)
    eventually(sandbox, lambda: not memorydb.describe_clusters()["Clusters"])

    restore_cluster(
        shaped_cluster.memorydb_cluster,
        node_type=live["NodeType"],
        num_shards=1,
        recorded_network=record,
    )

    assert cluster_kept(describe_cluster(sandbox, CLUSTER_TARGET)) == cluster_kept(live)


def test_without_a_source_or_a_record_an_r6gd_cluster_still_gets_data_tiering(
    sandbox, shaped_cluster
):
    """A restore in the copy region knows the node type only (the files' metadata)."""
    restore_cluster(None, node_type="db.r6gd.xlarge", num_shards=1)

    restored = describe_cluster(sandbox, CLUSTER_TARGET)
    assert (restored["NodeType"], restored["DataTiering"]) == ("db.r6gd.xlarge", "true")
    assert restored["ParameterGroupName"] == "default.memorydb-redis7"
