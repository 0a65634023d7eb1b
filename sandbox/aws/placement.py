"""Where a new resource lands in the network, checked as AWS checks it (moto checks none of it).

A restore from the protected copies puts what it restores into the network the
backup recorded (``ue_backup.recorded_network``), and its plan refuses a
recorded network AWS would refuse midway. These are the refusals the plan
stands in for, so that a restore that got past a wrong plan fails here too:

- Security groups must be in the VPC the resource is made in: RDS
  (``CreateDBInstance``, ``RestoreDBInstanceFromDBSnapshot``,
  ``RestoreDBInstanceToPointInTime``, and an AWS Backup restore job's metadata)
  answers ``InvalidParameterCombination``, "The DB instance and EC2 security
  group are in different VPCs"; MemoryDB ``CreateCluster``
  ``InvalidParameterCombinationException``, "Subnet group ... belongs to a
  different VPC ... than ..."; EFS ``CreateMountTarget`` ``SecurityGroupNotFound``
  (botocore's model: a group that "doesn't exist in the subnet's VPC"). A
  resource made without a subnet group is in the region's default VPC.
- A DB subnet group covers at least two availability zones: when it is made or
  changed (``DBSubnetGroupDoesNotCoverEnoughAZs``), and when an instance is made
  in it after some of its subnets were deleted (``InvalidVPCNetworkStateFault``,
  "The DB subnet group doesn't cover all Availability Zones after it's created
  because of users' change"). A MemoryDB subnet group with none of its subnets
  left: ``InvalidVPCNetworkStateFault``.
- A subnet group keeps listing the subnets it was made with after they are
  deleted (RDS's model: the list "might not reflect the current state of your
  VPC"; the sandbox reads MemoryDB's the same way, the stricter reading): only
  EC2 tells which still exist.

The error codes are AWS's (botocore's model, and the messages AWS users quote);
the exact wording is the sandbox's where AWS's is not known.
"""

from __future__ import annotations

from collections.abc import Iterable

from moto.ec2.exceptions import InvalidSubnetIdError
from moto.ec2.models import EC2Backend, ec2_backends

from sandbox.aws.errors import AwsError

# RDS: "Subnets in the DB subnet group should cover at least two Availability Zones".
DB_SUBNET_GROUP_ZONES = 2


def _ec2(account: str, region: str) -> EC2Backend:
    return ec2_backends[account][region]


def default_vpc(account: str, region: str) -> str | None:
    """The region's default VPC, where a resource made without a subnet group lands."""
    for vpc in _ec2(account, region).vpcs.values():
        if vpc.is_default:
            return vpc.id
    return None


def subnet_zones(account: str, region: str, subnet_ids: Iterable[str]) -> dict[str, str]:
    """Those of ``subnet_ids`` that still exist in EC2, each with its availability zone."""
    ec2, found = _ec2(account, region), {}
    for subnet_id in subnet_ids:
        try:
            found[subnet_id] = ec2.get_subnet(subnet_id).availability_zone
        except InvalidSubnetIdError:
            continue
    return found


def subnet_vpc(account: str, region: str, subnet_id: str) -> str | None:
    try:
        return _ec2(account, region).get_subnet(subnet_id).vpc_id
    except InvalidSubnetIdError:
        return None


def groups_elsewhere(
    account: str, region: str, vpc: str | None, group_ids: Iterable[str]
) -> dict[str, str]:
    """Those of the security groups ``group_ids`` that exist in a VPC other than ``vpc``,
    each with its VPC (a group that does not exist is moto's, or the caller's, to refuse)."""
    ec2, elsewhere = _ec2(account, region), {}
    for group_id in group_ids:
        group = ec2.get_security_group_from_id(group_id)
        if group is not None and vpc is not None and group.vpc_id != vpc:
            elsewhere[group_id] = group.vpc_id
    return elsewhere


def refuse_too_few_zones(account: str, region: str, subnet_ids: Iterable[str]) -> None:
    """``CreateDBSubnetGroup`` and ``ModifyDBSubnetGroup``: two availability zones at least."""
    zones = set(subnet_zones(account, region, subnet_ids).values())
    if len(zones) < DB_SUBNET_GROUP_ZONES:
        raise AwsError(
            "DBSubnetGroupDoesNotCoverEnoughAZs",
            "The DB subnet group doesn't meet Availability Zone (AZ) coverage requirement. "
            f"Current AZ coverage: {', '.join(sorted(zones)) or 'none'}. Add subnets to cover "
            f"at least {DB_SUBNET_GROUP_ZONES} AZs.",
        )


def refuse_db_placement(
    account: str,
    region: str,
    subnet_group: tuple[str, str, list[str]] | None,
    security_group_ids: Iterable[str],
) -> None:
    """An instance made (or restored) in ``subnet_group`` (its name, VPC and listed
    subnets; None: none named, the default VPC) with ``security_group_ids``: refused as
    RDS refuses it."""
    vpc = default_vpc(account, region)
    if subnet_group is not None:
        name, vpc, listed = subnet_group
        zones = set(subnet_zones(account, region, listed).values())
        if len(zones) < DB_SUBNET_GROUP_ZONES:
            raise AwsError(
                "InvalidVPCNetworkStateFault",
                f"The DB subnet group {name} doesn't cover all Availability Zones after it's "
                "created because of users' change: its subnets that still exist cover "
                f"{', '.join(sorted(zones)) or 'no Availability Zone'}.",
            )
    elsewhere = groups_elsewhere(account, region, vpc, security_group_ids)
    if elsewhere:
        raise AwsError(
            "InvalidParameterCombination",
            "The DB instance and EC2 security group are in different VPCs. The DB instance is "
            f"in {vpc} and the EC2 security group is in {next(iter(elsewhere.values()))}",
        )


def refuse_cluster_placement(
    account: str,
    region: str,
    subnet_group: str,
    vpc: str | None,
    subnet_ids: Iterable[str],
    security_group_ids: Iterable[str],
) -> None:
    """A MemoryDB cluster made in ``subnet_group`` (its ``vpc`` and listed ``subnet_ids``)
    with ``security_group_ids``: refused as MemoryDB refuses it."""
    listed = list(subnet_ids)
    if not subnet_zones(account, region, listed):
        raise AwsError(
            "InvalidVPCNetworkStateFault",
            f"Subnet group {subnet_group} has none of its subnets left "
            f"({', '.join(listed) or 'none'}).",
        )
    elsewhere = groups_elsewhere(account, region, vpc, security_group_ids)
    if elsewhere:
        raise AwsError(
            "InvalidParameterCombinationException",
            f"Subnet group [{subnet_group}] belongs to a different VPC [{vpc}] than "
            f"[{next(iter(elsewhere.values()))}]",
        )


def refuse_mount_target_groups(
    account: str, region: str, subnet_id: str, security_group_ids: Iterable[str]
) -> None:
    """``CreateMountTarget``: each security group in the subnet's VPC."""
    vpc = subnet_vpc(account, region, subnet_id)
    elsewhere = sorted(groups_elsewhere(account, region, vpc, security_group_ids))
    if elsewhere:
        raise AwsError(
            "SecurityGroupNotFound",
            f"Security group {elsewhere[0]} does not exist in the VPC {vpc} of subnet "
            f"{subnet_id}: the security groups must be in the same VPC as the subnet.",
        )
