"""A restored instance's network: the one the restore names, else the region's default.

RestoreDBInstanceFromDBSnapshot without ``DBSubnetGroupName`` lands in the
default VPC (moto kept the snapshot's instance's subnet group, kinder than
AWS: a restore that lost the live network looked right).
"""

from __future__ import annotations

from sandbox.aws.fixtures import aws, wait_until  # noqa: F401
from sandbox.aws.network import platform_network


def test_a_restore_that_names_no_subnet_group_lands_in_the_default_one(aws):  # noqa: F811
    rds = aws.client("rds")
    network = platform_network(aws, "ue-test", aws.create_file_system("live"), acl=False)
    rds.create_db_instance(
        DBInstanceIdentifier="live",
        DBInstanceClass="db.t3.medium",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="platform",
        MasterUserPassword="secret-1234",
        DBSubnetGroupName=network["db_subnet_group"],
        VpcSecurityGroupIds=[network["db_security_group"]],
    )
    rds.create_db_snapshot(DBInstanceIdentifier="live", DBSnapshotIdentifier="s1")
    wait_until(
        lambda: rds.describe_db_snapshots(DBSnapshotIdentifier="s1")["DBSnapshots"][0]["Status"],
        lambda status: status == "available",
    )

    bare = rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="bare", DBSnapshotIdentifier="s1"
    )["DBInstance"]
    named = rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="named",
        DBSnapshotIdentifier="s1",
        DBSubnetGroupName=network["db_subnet_group"],
        VpcSecurityGroupIds=[network["db_security_group"]],
    )["DBInstance"]

    assert (bare.get("DBSubnetGroup") or {}).get("DBSubnetGroupName") != "ue-test-db"
    assert named["DBSubnetGroup"]["DBSubnetGroupName"] == "ue-test-db"
    assert [g["VpcSecurityGroupId"] for g in named["VpcSecurityGroups"]] == [
        network["db_security_group"]
    ]
