"""The live resources' network, recorded in each manifest, and what a restore needs of it.

A restore from the protected copies (``source: immutable``) is for the case
where an attacker deleted the live instance, file system and cluster. The
restored resources must then land in the platform's network, not in the
region's default one (an RDS instance in the default VPC, a MemoryDB cluster
with the ``open-access`` ACL, a file system without mount targets that no
Job can mount). So every backup records, in its manifest (and so in the
manifest's locked copy), where the live resources were:

- ``efs``: the file system's mount targets, each a subnet and its security groups;
- ``database``: the RDS instance's DB subnet group and VPC security groups;
- ``memorydb``: the cluster's subnet group, security groups, ACL and TLS.

Beside its network, each component's entry holds its ``shape``
(``restored_shape``: performance and throughput modes and key; parameter and
option groups, storage, deletion protection, tags; the cluster's engine,
parameter group, data tiering and IP settings), which a restored one takes
when the live one is gone.

The VPC, subnets, groups and ACL themselves are not backed up, nor are the
parameter and option groups the recorded shapes name: the restore checks they
still exist before anything is changed (``missing``), that a
subnet group recreated by name is in the VPC of the recorded security groups
(``other_vpcs``), and that a subnet group still there by name still has the
subnets its service needs (``thin_subnet_groups``: RDS two availability zones,
MemoryDB one subnet; a group keeps listing subnets deleted since), and refuses
naming what to recreate or fix. Nothing here calls AWS: each function reshapes an
API answer or judges what the hooks read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ue_backup.restored_shape import efs_shape, memorydb_create_arguments, rds_restore_arguments
from ue_backup.restored_shape import memorydb_shape as memorydb_shape_record
from ue_backup.restored_shape import rds_shape as rds_shape_record

# MemoryDB's built-in ACL: anyone who reaches the cluster may use it. Never given to a
# restored cluster silently.
OPEN_ACCESS = "open-access"


def efs_network(mount_targets: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The file system's mount targets as ``[{subnet_id, security_group_ids}]`` by subnet.

    Each target is ``describe_mount_targets``' entry with its ``SecurityGroups``
    (``describe_mount_target_security_groups``) added.
    """
    return sorted(
        (
            {
                "subnet_id": target["SubnetId"],
                "security_group_ids": sorted(target.get("SecurityGroups") or []),
            }
            for target in mount_targets
        ),
        key=lambda t: t["subnet_id"],
    )


def rds_network(instance: Mapping[str, Any]) -> dict[str, Any]:
    """The instance's DB subnet group and VPC security groups, and whether it is Multi-AZ
    (``describe_db_instances``): a restore is Single-AZ unless told (botocore's model)."""
    return {
        "db_subnet_group": (instance.get("DBSubnetGroup") or {}).get("DBSubnetGroupName"),
        "vpc_security_group_ids": sorted(
            g["VpcSecurityGroupId"] for g in instance.get("VpcSecurityGroups") or []
        ),
        "multi_az": instance.get("MultiAZ"),
    }


def memorydb_network(cluster: Mapping[str, Any]) -> dict[str, Any]:
    """The cluster's subnet group, security groups, ACL and TLS (``describe_clusters``)."""
    return {
        "subnet_group": cluster.get("SubnetGroupName"),
        "security_group_ids": sorted(
            g["SecurityGroupId"] for g in cluster.get("SecurityGroups") or []
        ),
        "acl_name": cluster.get("ACLName"),
        "tls_enabled": cluster.get("TLSEnabled"),
    }


def network_record(
    *,
    efs: Iterable[Mapping[str, Any]] | None,
    database: Mapping[str, Any] | None,
    memorydb: Mapping[str, Any] | None,
    efs_file_system: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest's ``network``: each component's record, None where it is absent.

    ``efs_file_system`` (``describe_file_systems``' entry), ``database`` and
    ``memorydb`` also give their component's ``shape`` (``restored_shape``).
    """
    return {
        "efs": {
            "mount_targets": efs_network(efs),
            "shape": efs_shape(efs_file_system) if efs_file_system else None,
        }
        if efs is not None
        else None,
        "database": {**rds_network(database), "shape": rds_shape_record(database)}
        if database is not None
        else None,
        "memorydb": {**memorydb_network(memorydb), "shape": memorydb_shape_record(memorydb)}
        if memorydb is not None
        else None,
    }


def rds_shape(recorded: Mapping[str, Any] | None) -> dict[str, Any]:
    """``RestoreDBInstanceFromDBSnapshot``'s network arguments from a recorded network."""
    database = (recorded or {}).get("database") or {}
    return {
        "DBSubnetGroupName": database.get("db_subnet_group"),
        "VpcSecurityGroupIds": list(database.get("vpc_security_group_ids") or []),
        "MultiAZ": database.get("multi_az"),
    }


def memorydb_shape(recorded: Mapping[str, Any] | None) -> dict[str, Any]:
    """``CreateCluster``'s network and access arguments from a recorded network."""
    cluster = (recorded or {}).get("memorydb") or {}
    return {
        "SubnetGroupName": cluster.get("subnet_group"),
        "SecurityGroupIds": list(cluster.get("security_group_ids") or []),
        "ACLName": cluster.get("acl_name"),
        "TLSEnabled": cluster.get("tls_enabled"),
    }


def mount_targets(recorded: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The recorded file system's mount targets (``[]``: none recorded)."""
    return list(((recorded or {}).get("efs") or {}).get("mount_targets") or [])


def wanted(recorded: Mapping[str, Any] | None, components: Iterable[str]) -> dict[str, set[str]]:
    """What of the recorded network the given components need to exist, by kind.

    ``components``: those restored whose live resource is gone (``efs``,
    ``database``, ``memorydb``). Kinds: ``subnets``, ``security_groups``,
    ``db_subnet_groups``, ``memorydb_subnet_groups``, ``acls`` (the built-in
    ``open-access`` is never asked for: it always exists), and the groups the
    recorded shape makes the restore name: ``db_parameter_groups``,
    ``db_option_groups``, ``memorydb_parameter_groups`` (a default group is never
    named, ``restored_shape``).
    """
    need: dict[str, set[str]] = {
        "subnets": set(),
        "security_groups": set(),
        "db_subnet_groups": set(),
        "memorydb_subnet_groups": set(),
        "acls": set(),
        "db_parameter_groups": set(),
        "db_option_groups": set(),
        "memorydb_parameter_groups": set(),
    }
    recorded = recorded or {}
    components = set(components)
    if "efs" in components:
        for target in mount_targets(recorded):
            need["subnets"].add(target["subnet_id"])
            need["security_groups"].update(target["security_group_ids"])
    database = recorded.get("database") or {}
    if "database" in components and database:
        if database.get("db_subnet_group"):
            need["db_subnet_groups"].add(database["db_subnet_group"])
        need["security_groups"].update(database.get("vpc_security_group_ids") or [])
        named = rds_restore_arguments(database.get("shape"), tags={})
        if named.get("DBParameterGroupName"):
            need["db_parameter_groups"].add(named["DBParameterGroupName"])
        if named.get("OptionGroupName"):
            need["db_option_groups"].add(named["OptionGroupName"])
    cluster = recorded.get("memorydb") or {}
    if "memorydb" in components and cluster:
        if cluster.get("subnet_group"):
            need["memorydb_subnet_groups"].add(cluster["subnet_group"])
        need["security_groups"].update(cluster.get("security_group_ids") or [])
        if cluster.get("acl_name") and cluster["acl_name"] != OPEN_ACCESS:
            need["acls"].add(cluster["acl_name"])
        group = memorydb_create_arguments(cluster.get("shape"), None).get("ParameterGroupName")
        if group:
            need["memorydb_parameter_groups"].add(group)
    return need


# params.network: from the protected copies, what is restored in place of a live resource
# that is gone goes into the network the backup set recorded, or (the recorded one is gone
# for good) is left to the operator: the database in the default network, the file
# system's mount targets given by hand, MemoryDB left out.
NETWORKS = ("recorded", "by_hand")

# By kind: its label, and what the operator can do when the recorded one is gone. Subnets
# and security groups have ids EC2 assigns: one deleted can never come back under its id.
WHAT = {
    "subnets": ("subnet", "EC2 ids cannot be recreated"),
    "security_groups": ("security group", "EC2 ids cannot be recreated"),
    "db_subnet_groups": ("DB subnet group", "recreate the RDS DB subnet group by that name"),
    "memorydb_subnet_groups": (
        "MemoryDB subnet group",
        "recreate the MemoryDB subnet group by that name",
    ),
    "acls": ("MemoryDB ACL", "recreate the MemoryDB ACL by that name, with its users"),
    "db_parameter_groups": (
        "DB parameter group",
        "recreate the RDS DB parameter group by that name, of the snapshot's engine family, "
        "with the platform's parameters",
    ),
    "db_option_groups": (
        "DB option group",
        "recreate the RDS option group by that name, for the snapshot's engine and major "
        "version, with the platform's options",
    ),
    "memorydb_parameter_groups": (
        "MemoryDB parameter group",
        "recreate the MemoryDB parameter group by that name, of the recorded engine's "
        "family, with the platform's parameters",
    ),
}
BY_HAND = (
    "or restore with params.network by_hand: the database then lands in the region's "
    "default network with the engine's default groups and the file system stops at "
    "restored_file_system until given mount targets by hand (MemoryDB is then left out: "
    "params.components database, efs)"
)


def missing(need: Mapping[str, set[str]], found: Mapping[str, Iterable[str]]) -> list[str]:
    """Each recorded network resource that no longer exists, and what to recreate.

    ``found`` holds, by kind, those of ``need`` that the hooks found. An empty
    list: everything the restore will use is there.
    """
    problems = []
    for kind, names in need.items():
        for name in sorted(set(names) - set(found.get(kind) or ())):
            label, remedy = WHAT[kind]
            problems.append(
                f"the recorded {label} {name} no longer exists ({remedy}; ue-backup does "
                f"not back it up), {BY_HAND}"
            )
    return problems


def other_vpcs(
    recorded: Mapping[str, Any] | None,
    components: Iterable[str],
    found: Mapping[str, Mapping[str, str | None]],
) -> list[str]:
    """Each recorded security group that is not in the VPC of what it goes with.

    A subnet group recreated by its name (as ``missing`` tells the operator to) may be
    in another VPC than the recorded security groups, whose ids cannot change VPC: AWS
    then refuses the restore midway (RDS: the instance and its security groups in
    different VPCs). ``found`` is ``missing``'s, with each resource's VPC. Only what
    exists is compared (``missing`` names the rest).
    """
    recorded, components = recorded or {}, set(components)
    groups = found.get("security_groups") or {}

    def compare(what: str, vpc: str | None, security_groups: Iterable[str]) -> list[str]:
        return [
            f"the recorded security group {group} is in {groups[group]}, but {what} is in "
            f"{vpc}: recreate {what} in {groups[group]}, {BY_HAND}"
            for group in sorted(security_groups)
            if vpc and groups.get(group) and groups[group] != vpc
        ]

    problems = []
    if "efs" in components:
        subnets = found.get("subnets") or {}
        for target in mount_targets(recorded):
            subnet = target["subnet_id"]
            problems += compare(
                f"the subnet {subnet}", subnets.get(subnet), target["security_group_ids"]
            )
    database = recorded.get("database") or {}
    if "database" in components and database.get("db_subnet_group"):
        name = database["db_subnet_group"]
        problems += compare(
            f"the DB subnet group {name}",
            (found.get("db_subnet_groups") or {}).get(name),
            database.get("vpc_security_group_ids") or [],
        )
    cluster = recorded.get("memorydb") or {}
    if "memorydb" in components and cluster.get("subnet_group"):
        name = cluster["subnet_group"]
        problems += compare(
            f"the MemoryDB subnet group {name}",
            (found.get("memorydb_subnet_groups") or {}).get(name),
            cluster.get("security_group_ids") or [],
        )
    return problems


def subnet_group(
    kind: str, described: Mapping[str, Any], existing: Iterable[str]
) -> dict[str, Any]:
    """A subnet group as described (``kind``: ``db_subnet_groups``, RDS's
    ``DescribeDBSubnetGroups``; ``memorydb_subnet_groups``, MemoryDB's
    ``DescribeSubnetGroups``) as ``{vpc_id, subnets: [{subnet_id, availability_zone,
    status, exists}]}``; ``existing``: the subnet ids EC2 still has (a group keeps
    listing a subnet deleted since: RDS's list "might not reflect the current state of
    your VPC"). ``status`` is RDS's ``SubnetStatus`` (MemoryDB gives none)."""
    existing = set(existing)
    if kind == "db_subnet_groups":
        subnets = [
            {
                "subnet_id": s.get("SubnetIdentifier"),
                "availability_zone": (s.get("SubnetAvailabilityZone") or {}).get("Name"),
                "status": s.get("SubnetStatus"),
            }
            for s in described.get("Subnets") or []
        ]
    else:
        subnets = [
            {
                "subnet_id": s.get("Identifier"),
                "availability_zone": (s.get("AvailabilityZone") or {}).get("Name"),
                "status": None,
            }
            for s in described.get("Subnets") or []
        ]
    return {
        "vpc_id": described.get("VpcId"),
        "subnets": [{**s, "exists": s["subnet_id"] in existing} for s in subnets],
    }


def listed_subnets(kind: str, described: Mapping[str, Any]) -> list[str]:
    """The subnet ids a described subnet group lists (deleted ones too)."""
    return [s["subnet_id"] for s in subnet_group(kind, described, ())["subnets"]]


# By kind of subnet group: the availability zones its service needs its subnets to cover
# (RDS: "Subnets in the DB subnet group should cover at least two Availability Zones",
# DBSubnetGroupDoesNotCoverEnoughAZs, and InvalidVPCNetworkStateFault for a group thinned
# since; MemoryDB: a subnet), the service, and how to add a subnet to it.
SUBNET_GROUP_RULES = {
    "db_subnet_groups": (2, "RDS", "aws rds modify-db-subnet-group"),
    "memorydb_subnet_groups": (1, "MemoryDB", "aws memorydb update-subnet-group"),
}
# RDS's SubnetStatus of a usable subnet (botocore documents no other value).
ACTIVE = "Active"


def thin_subnet_groups(groups: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[str]:
    """Each subnet group still there by name whose usable subnets cover fewer availability
    zones than its service needs, naming the subnets lost and what to do.

    ``groups``: by kind, the groups found, as ``subnet_group`` reshapes them. A usable
    subnet still exists in EC2 (and, for RDS, is ``Active``). Such a group passes
    ``missing`` and ``other_vpcs``, and AWS would refuse the restore call only once the
    workflows are suspended.
    """
    problems = []
    for kind, (zones_needed, service, command) in SUBNET_GROUP_RULES.items():
        label = WHAT[kind][0]
        for name, group in sorted((groups.get(kind) or {}).items()):
            subnets = group.get("subnets") or []
            usable = [s for s in subnets if s["exists"] and s.get("status") in (None, ACTIVE)]
            zones = sorted({s["availability_zone"] or s["subnet_id"] for s in usable})
            if len(zones) >= zones_needed:
                continue
            lost = [
                f"{s['subnet_id']} ({s['availability_zone']}) "
                + ("no longer exists" if not s["exists"] else f"is {s['status']}")
                for s in subnets
                if s not in usable
            ]
            problems.append(
                f"the recorded {label} {name} exists, but "
                + (f"of its subnets {', '.join(lost)}: " if lost else "")
                + f"its usable subnets cover {len(zones)} availability zone(s)"
                + (f" ({', '.join(zones)})" if zones else "")
                + f" and {service} needs {zones_needed}: add subnets of {group.get('vpc_id')} "
                f"to it until they do ({command}), {BY_HAND}"
            )
    return problems


def unrecorded(recorded: Mapping[str, Any] | None, components: Iterable[str]) -> list[str]:
    """The components (whose live resource is gone) the set has no network record for."""
    recorded = recorded or {}
    found = []
    for component in sorted(set(components)):
        entry = recorded.get(component)
        if not entry or (component == "efs" and not mount_targets(recorded)):
            found.append(component)
    return found
