"""A VPC with a subnet per zone and mount targets in them, for file systems that get mounted.

The EFS CSI driver mounts a file system through a mount target in the node's
zone; tests of whatever gives a new file system its mount targets need a
live one that has some. moto checks subnets and security groups exist.
"""

from __future__ import annotations

from typing import Any


def add_mount_targets(aws: Any, file_system_id: str, zones: tuple[str, ...] = ("a", "b")) -> dict:
    """Give ``file_system_id`` a mount target per zone; returns the subnets and security group.

    ``aws`` is the AWS half of the sandbox (or anything with ``client`` and ``region``).
    """
    ec2, efs = aws.client("ec2"), aws.client("efs")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
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
