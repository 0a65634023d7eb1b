"""Where a restored resource lands: the sandbox refuses a network as AWS refuses it.

A restore from the protected copies names the recorded subnet groups and security
groups; its plan refuses what AWS would refuse midway (``ue_backup.recorded_network``).
These are AWS's refusals behind that plan (``sandbox.aws.placement``; moto makes
none of them): security groups of another VPC than the subnets (RDS, MemoryDB,
EFS, an AWS Backup restore job of RDS), a DB subnet group short of two
availability zones, made so or thinned since, a MemoryDB subnet group with no
subnet left. A subnet group keeps listing subnets deleted since, as RDS's does:
only EC2 tells which are left.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from sandbox.aws.fixtures import aws, create_db_instance, wait_until  # noqa: F401
from sandbox.aws.network import platform_network
from tests.sandbox.test_aws_backup_rds import ROLE, done
from tests.sandbox.test_aws_rds_data import available


@pytest.fixture
def network(aws):  # noqa: F811
    """The platform's network (two zones) and, beside it, another VPC with a group."""
    found = platform_network(aws, "ue-test", aws.create_file_system("live"), acl=False)
    ec2 = aws.client("ec2")
    elsewhere = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    stray = ec2.create_security_group(GroupName="stray", Description="x", VpcId=elsewhere)
    return {**found, "elsewhere": elsewhere, "stray_group": stray["GroupId"]}


def _code(refused: pytest.ExceptionInfo) -> str:
    return refused.value.response["Error"]["Code"]


def _snapshot(aws, network) -> str:  # noqa: F811
    rds = aws.client("rds")
    create_db_instance(
        rds,
        "live",
        DBSubnetGroupName=network["db_subnet_group"],
        VpcSecurityGroupIds=[network["db_security_group"]],
    )
    available(rds, "live")
    rds.create_db_snapshot(DBInstanceIdentifier="live", DBSnapshotIdentifier="s1")
    wait_until(
        lambda: rds.describe_db_snapshots(DBSnapshotIdentifier="s1")["DBSnapshots"][0]["Status"],
        lambda status: status == "available",
    )
    return "s1"


def _third_zone_subnet(aws, network) -> str:  # noqa: F811
    return aws.client("ec2").create_subnet(
        VpcId=network["vpc"], CidrBlock="10.20.9.0/24", AvailabilityZone=f"{aws.region}c"
    )["Subnet"]["SubnetId"]


# --- RDS ------------------------------------------------------------------------------------


def test_a_db_subnet_group_needs_two_availability_zones(aws, network):  # noqa: F811
    rds = aws.client("rds")
    one_zone = [network["subnets"][0]]

    with pytest.raises(ClientError) as refused:
        rds.create_db_subnet_group(
            DBSubnetGroupName="one", DBSubnetGroupDescription="d", SubnetIds=one_zone
        )
    assert _code(refused) == "DBSubnetGroupDoesNotCoverEnoughAZs"
    with pytest.raises(ClientError) as refused:
        rds.modify_db_subnet_group(DBSubnetGroupName=network["db_subnet_group"], SubnetIds=one_zone)
    assert _code(refused) == "DBSubnetGroupDoesNotCoverEnoughAZs"
    # two zones: made, and changed (moto dropped a group it changed)
    rds.create_db_subnet_group(
        DBSubnetGroupName="two", DBSubnetGroupDescription="d", SubnetIds=network["subnets"]
    )
    third = _third_zone_subnet(aws, network)
    rds.modify_db_subnet_group(DBSubnetGroupName="two", SubnetIds=[one_zone[0], third])
    [group] = rds.describe_db_subnet_groups(DBSubnetGroupName="two")["DBSubnetGroups"]
    assert sorted(s["SubnetIdentifier"] for s in group["Subnets"]) == sorted([one_zone[0], third])


def test_a_db_subnet_group_keeps_listing_a_deleted_subnet_and_refuses_a_restore_into_it(
    aws,  # noqa: F811
    network,
):
    """RDS's model: the group's subnet list "might not reflect the current state of your
    VPC". A restore into a group left with one zone fails (InvalidVPCNetworkStateFault)."""
    rds, ec2 = aws.client("rds"), aws.client("ec2")
    snapshot = _snapshot(aws, network)
    third = _third_zone_subnet(aws, network)
    rds.create_db_subnet_group(
        DBSubnetGroupName="thin",
        DBSubnetGroupDescription="d",
        SubnetIds=[network["subnets"][0], third],
    )
    ec2.delete_subnet(SubnetId=third)

    [group] = rds.describe_db_subnet_groups(DBSubnetGroupName="thin")["DBSubnetGroups"]
    assert sorted(s["SubnetIdentifier"] for s in group["Subnets"]) == sorted(
        [network["subnets"][0], third]
    )  # the deleted one still listed
    assert {s["SubnetStatus"] for s in group["Subnets"]} == {"Active"}
    with pytest.raises(ClientError) as refused:
        rds.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier="restored",
            DBSnapshotIdentifier=snapshot,
            DBSubnetGroupName="thin",
            VpcSecurityGroupIds=[network["db_security_group"]],
        )
    assert _code(refused) == "InvalidVPCNetworkStateFault"
    assert "thin" in str(refused.value)
    with pytest.raises(ClientError) as refused:
        create_db_instance(rds, "new", DBSubnetGroupName="thin")
    assert _code(refused) == "InvalidVPCNetworkStateFault"
    # the platform's own group (two zones left) restores
    rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="restored",
        DBSnapshotIdentifier=snapshot,
        DBSubnetGroupName=network["db_subnet_group"],
        VpcSecurityGroupIds=[network["db_security_group"]],
    )


def test_an_instance_refuses_security_groups_of_another_vpc(aws, network):  # noqa: F811
    rds = aws.client("rds")
    snapshot = _snapshot(aws, network)

    with pytest.raises(ClientError) as refused:
        rds.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier="restored",
            DBSnapshotIdentifier=snapshot,
            DBSubnetGroupName=network["db_subnet_group"],
            VpcSecurityGroupIds=[network["stray_group"]],
        )
    assert _code(refused) == "InvalidParameterCombination"
    assert (
        "The DB instance and EC2 security group are in different VPCs. The DB instance is in "
        f"{network['vpc']} and the EC2 security group is in {network['elsewhere']}"
    ) in str(refused.value)
    # no subnet group named: the instance is in the default VPC, the platform's group is not
    with pytest.raises(ClientError) as refused:
        rds.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier="restored",
            DBSnapshotIdentifier=snapshot,
            VpcSecurityGroupIds=[network["db_security_group"]],
        )
    assert _code(refused) == "InvalidParameterCombination"
    with pytest.raises(ClientError) as refused:
        create_db_instance(rds, "new", VpcSecurityGroupIds=[network["db_security_group"]])
    assert _code(refused) == "InvalidParameterCombination"
    rds.modify_db_instance(DBInstanceIdentifier="live", BackupRetentionPeriod=1)
    with pytest.raises(ClientError) as refused:
        rds.restore_db_instance_to_point_in_time(
            SourceDBInstanceIdentifier="live",
            TargetDBInstanceIdentifier="pitr",
            UseLatestRestorableTime=True,
            VpcSecurityGroupIds=[network["stray_group"]],
        )
    assert _code(refused) == "InvalidParameterCombination"  # the source's group, by default
    assert rds.describe_db_instances()["DBInstances"][0]["DBInstanceIdentifier"] == "live"
    assert len(rds.describe_db_instances()["DBInstances"]) == 1  # nothing made


def test_an_aws_backup_restore_job_fails_with_rdss_reason(aws, network):  # noqa: F811
    aws.durations.update(backup_job=0.1, restore_job=0.1)
    rds, backup = aws.client("rds"), aws.client("backup")
    create_db_instance(
        rds,
        "live",
        DBSubnetGroupName=network["db_subnet_group"],
        VpcSecurityGroupIds=[network["db_security_group"]],
    )
    arn = available(rds, "live")["DBInstanceArn"]
    backup.create_backup_vault(BackupVaultName="v")
    job = backup.start_backup_job(BackupVaultName="v", ResourceArn=arn, IamRoleArn=ROLE)
    point = done(backup, "backup", job["BackupJobId"])["RecoveryPointArn"]

    def restore(**metadata: str) -> dict:
        started = backup.start_restore_job(
            RecoveryPointArn=point,
            Metadata={"DBInstanceIdentifier": "restored", **metadata},
            IamRoleArn=ROLE,
        )
        return done(backup, "restore", started["RestoreJobId"])

    wrong = restore(
        DBSubnetGroupName=network["db_subnet_group"], VpcSecurityGroupIds=network["stray_group"]
    )
    assert wrong["Status"] == "FAILED"
    assert "InvalidParameterCombination" in wrong["StatusMessage"]
    assert "different VPCs" in wrong["StatusMessage"]
    right = restore(
        DBSubnetGroupName=network["db_subnet_group"],
        VpcSecurityGroupIds=network["db_security_group"],
    )
    assert right["Status"] == "COMPLETED", right


# --- MemoryDB -------------------------------------------------------------------------------

CLUSTER = {"NodeType": "db.t4g.small", "NumShards": 1, "ACLName": "open-access"}


def test_a_memorydb_subnet_group_keeps_listing_deleted_subnets_and_refuses_a_cluster_if_none_left(
    aws,  # noqa: F811
    network,
):
    """moto read the list from EC2 each time: a deleted subnet vanished from it, and a group
    with none left answered its description with an internal error."""
    memorydb, ec2 = aws.client("memorydb"), aws.client("ec2")
    third = _third_zone_subnet(aws, network)
    memorydb.create_subnet_group(SubnetGroupName="lone", SubnetIds=[third])
    ec2.delete_subnet(SubnetId=third)

    [group] = memorydb.describe_subnet_groups(SubnetGroupName="lone")["SubnetGroups"]
    assert [s["Identifier"] for s in group["Subnets"]] == [third]
    assert group["Subnets"][0]["AvailabilityZone"]["Name"] == f"{aws.region}c"
    assert group["VpcId"] == network["vpc"]
    with pytest.raises(ClientError) as refused:
        memorydb.create_cluster(
            ClusterName="c",
            SubnetGroupName="lone",
            SecurityGroupIds=[network["cache_security_group"]],
            **CLUSTER,
        )
    assert _code(refused) == "InvalidVPCNetworkStateFault"
    assert memorydb.describe_clusters()["Clusters"] == []


def test_a_cluster_refuses_security_groups_of_another_vpc(aws, network):  # noqa: F811
    memorydb = aws.client("memorydb")

    with pytest.raises(ClientError) as refused:
        memorydb.create_cluster(
            ClusterName="c",
            SubnetGroupName=network["cache_subnet_group"],
            SecurityGroupIds=[network["stray_group"]],
            **CLUSTER,
        )

    assert _code(refused) == "InvalidParameterCombinationException"
    assert (
        f"Subnet group [{network['cache_subnet_group']}] belongs to a different VPC "
        f"[{network['vpc']}] than [{network['elsewhere']}]"
    ) in str(refused.value)
    # no subnet group named: the default one, in the default VPC
    with pytest.raises(ClientError) as refused:
        memorydb.create_cluster(
            ClusterName="c", SecurityGroupIds=[network["cache_security_group"]], **CLUSTER
        )
    assert _code(refused) == "InvalidParameterCombinationException"
    assert memorydb.describe_clusters()["Clusters"] == []
    memorydb.create_cluster(
        ClusterName="c",
        SubnetGroupName=network["cache_subnet_group"],
        SecurityGroupIds=[network["cache_security_group"]],
        **CLUSTER,
    )


# --- EFS ------------------------------------------------------------------------------------


def test_a_mount_target_refuses_security_groups_of_another_vpc(aws, network):  # noqa: F811
    efs = aws.client("efs")
    fs_id = aws.create_file_system("restored")

    with pytest.raises(ClientError) as refused:
        efs.create_mount_target(
            FileSystemId=fs_id,
            SubnetId=network["subnets"][0],
            SecurityGroups=[network["security_group"], network["stray_group"]],
        )

    assert _code(refused) == "SecurityGroupNotFound"
    assert network["stray_group"] in str(refused.value)
    assert efs.describe_mount_targets(FileSystemId=fs_id)["MountTargets"] == []
    efs.create_mount_target(
        FileSystemId=fs_id,
        SubnetId=network["subnets"][0],
        SecurityGroups=[network["security_group"]],
    )
