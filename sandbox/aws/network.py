"""The platform's network: a VPC with a subnet per zone, and what the live resources use of it.

The EFS CSI driver mounts a file system through a mount target in the node's
zone (the sandbox's kubelet refuses a file system without an available one,
as a node does: ``sandbox.k8s.mounts``); the live file system therefore has
mount targets, and so must whatever the tests mount. The live instance and
cluster sit in the platform's subnet groups with their own security groups,
the cluster behind an ACL of its own: a restore that loses them (the region's
default network, ``open-access``) is visible. moto checks subnets and
security groups exist.
"""

from __future__ import annotations

from typing import Any

CIDR = "10.20.0.0/16"


def add_mount_targets(aws: Any, file_system_id: str, zones: tuple[str, ...] = ("a", "b")) -> dict:
    """Give ``file_system_id`` a mount target per zone; returns the subnets and security group.

    ``aws`` is the AWS half of the sandbox (or anything with ``client`` and ``region``).
    A file system that has mount targets already keeps them: their subnets, group and
    VPC are returned (the installation's live one is given some when it is seeded).
    """
    ec2, efs = aws.client("ec2"), aws.client("efs")
    present = efs.describe_mount_targets(FileSystemId=file_system_id)["MountTargets"]
    if present:
        groups = efs.describe_mount_target_security_groups(
            MountTargetId=present[0]["MountTargetId"]
        )["SecurityGroups"]
        return {
            "vpc": present[0].get("VpcId"),
            "subnets": [t["SubnetId"] for t in present],
            "security_group": groups[0],
        }
    vpc = ec2.create_vpc(CidrBlock=CIDR)["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="efs", Description="nfs", VpcId=vpc)["GroupId"]
    subnets = [
        ec2.create_subnet(
            VpcId=vpc, CidrBlock=f"10.20.{n}.0/24", AvailabilityZone=f"{aws.region}{zone}"
        )["Subnet"]["SubnetId"]
        for n, zone in enumerate(zones)
    ]
    for subnet in subnets:
        efs.create_mount_target(
            FileSystemId=file_system_id, SubnetId=subnet, SecurityGroups=[group]
        )
    return {"vpc": vpc, "subnets": subnets, "security_group": group}


def platform_network(aws: Any, name: str, file_system_id: str, *, acl: bool) -> dict[str, Any]:
    """The live network of installation ``name``: mount targets for its file system (two
    zones), a DB subnet group and a security group for its instance, a MemoryDB subnet
    group, a security group and (``acl``: a cluster with TLS) an ACL for its cluster.
    Returns their names and ids, for ``create_db_instance`` and ``create_cluster``."""
    efs = add_mount_targets(aws, file_system_id)
    ec2 = aws.client("ec2")
    database_group = ec2.create_security_group(
        GroupName=f"{name}-db", Description="postgres", VpcId=efs["vpc"]
    )["GroupId"]
    cache_group = ec2.create_security_group(
        GroupName=f"{name}-cache", Description="redis", VpcId=efs["vpc"]
    )["GroupId"]
    aws.client("rds").create_db_subnet_group(
        DBSubnetGroupName=f"{name}-db",
        DBSubnetGroupDescription="the platform's database subnets",
        SubnetIds=efs["subnets"],
    )
    memorydb = aws.client("memorydb")
    memorydb.create_subnet_group(SubnetGroupName=f"{name}-cache", SubnetIds=efs["subnets"])
    acl_name = None
    if acl:
        acl_name = f"{name}-platform"
        memorydb.create_acl(ACLName=acl_name)
    return {
        **efs,
        "db_subnet_group": f"{name}-db",
        "db_security_group": database_group,
        "cache_subnet_group": f"{name}-cache",
        "cache_security_group": cache_group,
        "acl": acl_name,
    }
