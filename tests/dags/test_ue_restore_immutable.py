"""Ransomware: everything the Airflow role can delete is gone; the protected copies restore.

After a backup with the ``immutable`` section, an attacker holding the
installation's own credentials deletes every backup artifact there (RDS and
MemoryDB snapshots, every recovery point of the installation's vault, the
manifests) and the live instance, file system and cluster. What the Airflow role cannot reach
survives: the copies in the protected account's locked vault and the manifest
in its Object Lock bucket. ``ue_restore`` with ``source: immutable`` plans from
those alone, brings the chosen points back into the installation's vault
(MemoryDB's locked ``.rdb`` files into its staging bucket), and restores them
side by side; the restored set obeys rule 1, and lands in the network the
locked manifest recorded (the VPC, subnets, groups and ACL are not the Airflow
role's to delete, and are checked before anything changes).
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from botocore.exceptions import ClientError
from moto.kms.models import kms_backends

from sandbox.airflow_harness.dag_runner import run_dag, write_config
from sandbox.installation import (
    LIVE_FILES,
    TEMPORARY_FILES,
    copy_in_policy,
    shared_key_policy,
)
from tests.dags.restore_support import MARKER, tree
from tests.dags.test_ue_backup_immutable import (
    STAGING,
    _installation,
    installation,  # noqa: F401 (the fixture)
)
from tests.plugins.support import eventually
from tests.plugins.tasks.test_preflight_immutable import (
    BUCKET,
    PROTECTED,
    VAULT,
    _protected_client,
)

pytestmark = pytest.mark.e2e

HOME_ACCOUNT = "123456789012"


def _let_the_protected_account_copy_home(sandbox, vault: str) -> None:
    """The installation's vault lets the protected account copy its points back in: set up
    once, beside the locked vault (the Airflow role's policy denies changing it)."""
    sandbox.client("backup").put_backup_vault_access_policy(
        BackupVaultName=vault, Policy=copy_in_policy(PROTECTED)
    )


def _attack(sandbox, inst) -> dict[str, int]:
    """Delete, with the installation's own credentials, everything they may delete."""
    deleted = {"snapshots": 0, "recovery_points": 0, "manifests": 0}
    rds, backup, efs = sandbox.client("rds"), sandbox.client("backup"), sandbox.client("efs")
    for snapshot in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]:
        rds.delete_db_snapshot(DBSnapshotIdentifier=snapshot["DBSnapshotIdentifier"])
        deleted["snapshots"] += 1
    points = backup.list_recovery_points_by_backup_vault(BackupVaultName=inst.vault)
    for point in points["RecoveryPoints"]:
        backup.delete_recovery_point(
            BackupVaultName=inst.vault, RecoveryPointArn=point["RecoveryPointArn"]
        )
        deleted["recovery_points"] += 1
    s3 = sandbox.client("s3")
    versions = s3.list_object_versions(Bucket=inst.bucket)
    for version in versions.get("Versions", []) + versions.get("DeleteMarkers", []):
        s3.delete_object(Bucket=inst.bucket, Key=version["Key"], VersionId=version["VersionId"])
        deleted["manifests"] += 1
    memorydb = sandbox.client("memorydb")
    for snapshot in memorydb.describe_snapshots()["Snapshots"]:
        memorydb.delete_snapshot(SnapshotName=snapshot["Name"])
        deleted["snapshots"] += 1
    if inst.memorydb_cluster:
        memorydb.delete_cluster(ClusterName=inst.memorydb_cluster)
    rds.delete_db_instance(
        DBInstanceIdentifier=inst.rds_instance,
        SkipFinalSnapshot=True,
        DeleteAutomatedBackups=True,
    )
    for target in efs.describe_mount_targets(FileSystemId=inst.file_system_id)["MountTargets"]:
        efs.delete_mount_target(MountTargetId=target["MountTargetId"])
    efs.delete_file_system(FileSystemId=inst.file_system_id)
    # The locked copies are out of reach: not in this account, and locked in their own.
    protected = _protected_client(sandbox, "backup")
    for point in protected.list_recovery_points_by_backup_vault(BackupVaultName=VAULT)[
        "RecoveryPoints"
    ]:
        with pytest.raises(ClientError):
            backup.delete_recovery_point(
                BackupVaultName=VAULT, RecoveryPointArn=point["RecoveryPointArn"]
            )
        with pytest.raises(ClientError):
            protected.delete_recovery_point(
                BackupVaultName=VAULT, RecoveryPointArn=point["RecoveryPointArn"]
            )
    return deleted


PARAMETER_GROUP, OPTION_GROUP, CACHE_GROUP = "ue-test-pg", "ue-test-og", "ue-test-cache-pg"


def _parameter_group(rds) -> None:
    rds.create_db_parameter_group(
        DBParameterGroupName=PARAMETER_GROUP,
        DBParameterGroupFamily="postgres13",
        Description="the platform's parameters",
    )


def _own_groups(sandbox, inst) -> None:
    """The live instance uses a parameter and an option group of its own, the cluster a
    parameter group (not the engines' defaults): the manifest records them in the shapes."""
    rds = sandbox.client("rds")
    _parameter_group(rds)
    rds.create_option_group(
        OptionGroupName=OPTION_GROUP,
        EngineName="postgres",
        MajorEngineVersion="13",
        OptionGroupDescription="the platform's options",
    )
    rds.modify_db_instance(
        DBInstanceIdentifier=inst.rds_instance,
        DBParameterGroupName=PARAMETER_GROUP,
        OptionGroupName=OPTION_GROUP,
        ApplyImmediately=True,
    )
    memorydb = sandbox.client("memorydb")
    memorydb.create_parameter_group(ParameterGroupName=CACHE_GROUP, Family="memorydb_redis7")
    memorydb.update_cluster(ClusterName=inst.memorydb_cluster, ParameterGroupName=CACHE_GROUP)
    sandbox.log.clear()


def test_after_the_installations_account_is_wiped_the_protected_copies_restore_side_by_side(
    sandbox, tmp_path, monkeypatch, capfd, caplog
):
    inst = _installation(sandbox, tmp_path, monkeypatch, memorydb=True)
    _let_the_protected_account_copy_home(sandbox, inst.vault)
    _own_groups(sandbox, inst)
    backed_up = run_dag("ue_backup")
    assert backed_up.state == "success", backed_up.tasks
    backup_set = backed_up.xcom("preflight")["backup_set"]

    deleted = _attack(sandbox, inst)
    # the set's RDS and MemoryDB snapshots, its database and disk recovery points, its manifest
    assert deleted == {"snapshots": 2, "recovery_points": 2, "manifests": 1}
    assert (
        sandbox.client("rds").describe_db_snapshots(SnapshotType="awsbackup")["DBSnapshots"] == []
    )  # the database's AWS Backup snapshot went with its recovery point

    # A plain restore finds nothing left to restore ...
    home = run_dag("ue_restore", {"mode": "plan"})
    assert home.state == "failed"
    assert home.tasks["plan"] == "failed"
    out, err = capfd.readouterr()
    assert "no consistent restore" in out + err + caplog.text

    # ... the protected copies would restore into the recorded network, which must exist,
    # with the groups the recorded shape names: a part of them deleted too is named before
    # anything changes ...
    rds = sandbox.client("rds")
    rds.delete_db_subnet_group(DBSubnetGroupName=inst.network["db_subnet_group"])
    eventually(sandbox, lambda: not rds.describe_db_instances()["DBInstances"])
    rds.delete_db_parameter_group(DBParameterGroupName=PARAMETER_GROUP)  # the instance gone
    sandbox.log.clear()
    refused = run_dag("ue_restore", {"mode": "restore", "source": "immutable"})
    assert refused.tasks["plan"] == "failed"
    out, err = capfd.readouterr()
    said = out + err + caplog.text
    assert "the recorded DB subnet group ue-test-db no longer exists (recreate" in said
    assert f"the recorded DB parameter group {PARAMETER_GROUP} no longer exists (recreate" in said
    assert "DB option group" not in said  # that one is still there
    assert "params.network by_hand" in said  # the way out when it cannot be recreated
    # nothing changed, nothing brought back (the protected connection's AssumeRole aside)
    assert [m.operation for m in sandbox.log.entries() if m.service != "sts"] == []
    # ... recreated by name, but in another VPC than its security groups: named too ...
    ec2 = sandbox.client("ec2")
    elsewhere = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    stray = [
        ec2.create_subnet(
            VpcId=elsewhere, CidrBlock=f"10.99.{n}.0/24", AvailabilityZone=f"{sandbox.region}{z}"
        )["Subnet"]["SubnetId"]
        for n, z in enumerate("ab")
    ]
    rds.create_db_subnet_group(
        DBSubnetGroupName=inst.network["db_subnet_group"],
        DBSubnetGroupDescription="recreated by the operator, in the wrong VPC",
        SubnetIds=stray,
    )
    refused = run_dag("ue_restore", {"mode": "plan", "source": "immutable"})
    assert refused.tasks["plan"] == "failed"
    out, err = capfd.readouterr()
    said = out + err + caplog.text
    assert (
        f"the recorded security group {inst.network['db_security_group']} is in "
        f"{inst.network['vpc']}, but the DB subnet group {inst.network['db_subnet_group']} is "
        f"in {elsewhere}"
    ) in said
    rds.delete_db_subnet_group(DBSubnetGroupName=inst.network["db_subnet_group"])
    rds.create_db_subnet_group(
        DBSubnetGroupName=inst.network["db_subnet_group"],
        DBSubnetGroupDescription="recreated by the operator",
        SubnetIds=inst.network["subnets"],
    )
    _parameter_group(rds)  # recreated by the operator, by its name

    # ... and, once it is back, they restore.
    result = run_dag("ue_restore", {"mode": "restore", "source": "immutable"})

    assert result.state == "success", result.tasks
    planned = result.xcom("plan")
    plan = planned["plan"]
    assert plan["backup_set"] == backup_set
    assert plan["verified"] is True  # the locked manifest says the set passed verification
    # planned from the locked copies in the protected account (rule 1: database first)
    assert plan["database"]["kind"] == "snapshot"
    assert f":{PROTECTED}:" in plan["database"]["snapshot_id"]
    assert f":{PROTECTED}:" in plan["disk"]["recovery_point_arn"]
    database = datetime.fromisoformat(plan["database"]["time"])
    assert database < datetime.fromisoformat(plan["disk"]["time"])
    assert database < datetime.fromisoformat(plan["memorydb"]["time"])
    assert all(f"arn:aws:s3:::{BUCKET}/" in arn for arn in planned["memorydb_snapshot_arns"])
    # brought back into the installation's vault, and restored from there
    back = result.xcom("bring_back_locked_copies")
    assert set(back) == {"database", "efs", "memorydb"}
    assert back["memorydb"]["source"] == sorted(planned["memorydb_snapshot_arns"])
    assert all(f"arn:aws:s3:::{STAGING}/" in arn for arn in back["memorydb"]["snapshot_arns"])
    for what in ("database", "efs"):
        assert f":{HOME_ACCOUNT}:" in back[what]["recovery_point_arn"], back
    assert back["database"]["source"] == plan["database"]["snapshot_id"]
    assert back["efs"]["source"] == plan["disk"]["recovery_point_arn"]
    report = result.xcom("report")
    assert report["backup_set"] == backup_set
    assert report["source"] == "immutable"
    assert any("restored from the protected copies" in step for step in report["next_steps"])
    rds = sandbox.client("rds")
    [restored] = rds.describe_db_instances(DBInstanceIdentifier=report["restored"]["database"])[
        "DBInstances"
    ]
    assert restored["DBInstanceStatus"] == "available"
    cluster = sandbox.client("memorydb").describe_clusters(
        ClusterName=report["restored"]["memorydb_cluster"]
    )["Clusters"][0]
    assert cluster["Status"] == "available"
    # the files staged for the cluster are gone once it is seeded, and only they
    removed = result.xcom("remove_staged_files")
    assert [f"arn:aws:s3:::{STAGING}/{key}" for key in removed] == back["memorydb"]["snapshot_arns"]
    staged = sandbox.client("s3").list_objects_v2(Bucket=STAGING, Prefix="ue-backup-restores/")
    assert staged.get("KeyCount") == 0
    files = tree(sandbox.aws.efs_path(report["restored"]["efs_file_system_id"]))
    assert set(files) == set(LIVE_FILES) | {MARKER}
    assert not set(files) & set(TEMPORARY_FILES)
    # in the network the locked manifest recorded, the live resources being gone
    network = inst.network
    assert planned["recorded_network"]["database"]["db_subnet_group"] == "ue-test-db"
    efs = sandbox.client("efs")
    targets = efs.describe_mount_targets(FileSystemId=report["restored"]["efs_file_system_id"])
    assert sorted(t["SubnetId"] for t in targets["MountTargets"]) == sorted(network["subnets"])
    for target in targets["MountTargets"]:
        groups = efs.describe_mount_target_security_groups(MountTargetId=target["MountTargetId"])
        assert groups["SecurityGroups"] == [network["security_group"]]
    assert restored["DBSubnetGroup"]["DBSubnetGroupName"] == network["db_subnet_group"]
    # with the groups the recorded shape names
    assert restored["DBParameterGroups"][0]["DBParameterGroupName"] == PARAMETER_GROUP
    assert restored["OptionGroupMemberships"][0]["OptionGroupName"] == OPTION_GROUP
    assert [g["VpcSecurityGroupId"] for g in restored["VpcSecurityGroups"]] == [
        network["db_security_group"]
    ]
    assert cluster["SubnetGroupName"] == network["cache_subnet_group"]
    assert [g["SecurityGroupId"] for g in cluster["SecurityGroups"]] == [
        network["cache_security_group"]
    ]
    assert (cluster["ACLName"], cluster["TLSEnabled"]) == (network["acl"], True)
    assert cluster["ParameterGroupName"] == CACHE_GROUP  # the recorded shape's
    assert network["acl"] != "open-access"
    # the locked copies are still there, untouched
    protected = _protected_client(sandbox, "backup")
    assert (
        len(protected.list_recovery_points_by_backup_vault(BackupVaultName=VAULT)["RecoveryPoints"])
        == 2
    )


def test_a_live_file_system_left_without_mount_targets_gives_way_to_the_recorded_ones(
    sandbox,
    installation,  # noqa: F811
):
    """The attacker deletes only the live file system's mount targets (it stays, so the
    plan takes none of the recorded network for it): from the protected copies the
    restored file system gets the mount targets the locked manifest recorded, in their
    subnets with their security groups, and its data is reachable. (Outside review: the
    copy from the live one made none, and the purge Job hung until its deadline; covered
    before only with fakes, tests/plugins/tasks/test_restored_efs.py.)"""
    _let_the_protected_account_copy_home(sandbox, installation.vault)
    backed_up = run_dag("ue_backup")
    assert backed_up.state == "success", backed_up.tasks
    efs = sandbox.client("efs")
    live = installation.file_system_id
    for target in efs.describe_mount_targets(FileSystemId=live)["MountTargets"]:
        efs.delete_mount_target(MountTargetId=target["MountTargetId"])
    assert efs.describe_mount_targets(FileSystemId=live)["MountTargets"] == []

    result = run_dag(
        "ue_restore", {"mode": "restore", "source": "immutable", "components": ["efs"]}
    )

    assert result.state == "success", result.tasks
    restored = result.xcom("report")["restored"]["efs_file_system_id"]
    assert restored != live
    network = installation.network
    targets = efs.describe_mount_targets(FileSystemId=restored)["MountTargets"]
    assert sorted(t["SubnetId"] for t in targets) == sorted(network["subnets"])
    for target in targets:
        groups = efs.describe_mount_target_security_groups(MountTargetId=target["MountTargetId"])
        assert groups["SecurityGroups"] == [network["security_group"]]
    assert set(tree(sandbox.aws.efs_path(restored))) == set(LIVE_FILES) | {MARKER}
    # the live file system is left as the attacker left it
    assert efs.describe_mount_targets(FileSystemId=live)["MountTargets"] == []


def test_a_restore_from_the_protected_copies_refuses_what_they_cannot_do(
    sandbox,
    installation,  # noqa: F811
    tmp_path,
    monkeypatch,
    capfd,
    caplog,
):
    """In place, another region, or MemoryDB and Kubernetes: refused naming the param,
    before anything is listed or changed."""
    result = run_dag(
        "ue_restore",
        {
            "mode": "restore",
            "source": "immutable",
            "target": "in_place",
            "confirm": "ue-test",
            "components": ["database", "velero"],
        },
    )
    assert result.state == "failed"
    assert result.tasks["validate"] == "failed"
    out, err = capfd.readouterr()
    said = out + err + caplog.text
    assert "params.target: a restore from the protected copies is side_by_side only" in said
    assert "params.components: ['velero'] are not kept in the protected copies" in said
    assert sandbox.log.entries("backup", "StartCopyJob") == []
    assert sandbox.log.entries("rds", "RestoreDBInstanceFromDBSnapshot") == []

    del installation.config["immutable"]
    write_config(installation.config, tmp_path, monkeypatch)
    result = run_dag("ue_restore", {"mode": "plan", "source": "immutable"})
    assert result.tasks["validate"] == "failed"
    out, err = capfd.readouterr()
    assert "this configuration has no immutable section" in out + err + caplog.text


def test_a_restore_refuses_a_locked_vault_key_that_is_gone(
    sandbox,
    installation,  # noqa: F811
    capfd,
    caplog,
):
    """The locked vault's key is not found by the installation's account (gone, or its
    ARN wrong): the copy back would fail, so validate refuses naming the field, before
    any copy."""
    vault = _protected_client(sandbox, "backup").describe_backup_vault(BackupVaultName=VAULT)
    key = vault["EncryptionKeyArn"]
    kms_backends[PROTECTED][sandbox.region].keys.pop(key.split("/")[-1])

    result = run_dag("ue_restore", {"mode": "plan", "source": "immutable"})

    assert result.tasks["validate"] == "failed"
    out, err = capfd.readouterr()
    said = out + err + caplog.text
    assert (
        f"immutable.backup_vault_name: locked vault {VAULT}'s key {key} is not usable by "
        f"account {HOME_ACCOUNT} (NotFoundException" in said
    )
    assert "(the restore refused before anything is copied back)" in said
    assert sandbox.log.entries("backup", "StartCopyJob") == []


def test_a_restore_warns_of_a_locked_vault_key_its_account_cannot_describe(
    sandbox,
    installation,  # noqa: F811
    capfd,
    caplog,
):
    """The locked vault's key policy does not share the key with the installation's account
    as a whole (it may grant the role that copies, or go through kms:ViaService): said
    loudly, naming the key policy, and the restore goes ahead (the copy back is the proof)."""
    kms = _protected_client(sandbox, "kms")
    vault = _protected_client(sandbox, "backup").describe_backup_vault(BackupVaultName=VAULT)
    key = vault["EncryptionKeyArn"]
    kms.put_key_policy(
        KeyId=key.split("/")[-1],
        PolicyName="default",
        Policy=json.dumps(shared_key_policy(PROTECTED, "999988887777")),  # someone else
    )

    result = run_dag("ue_restore", {"mode": "plan", "source": "immutable"})

    assert result.tasks["validate"] == "success"
    out, err = capfd.readouterr()
    said = out + err + caplog.text
    assert (
        f"immutable.backup_vault_name: locked vault {VAULT}'s key {key} could not be "
        f"described as account {HOME_ACCOUNT} (AccessDeniedException" in said
    )
    assert "Check its key policy" in said
    assert "(the restore goes ahead; the copy back is the proof)" in said
    assert sandbox.log.entries("backup", "StartCopyJob") == []
