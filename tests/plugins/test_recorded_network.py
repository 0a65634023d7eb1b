"""The live network a manifest records, and what a restore needs of it (pure rules)."""

from __future__ import annotations

from ue_backup.recorded_network import (
    memorydb_shape,
    missing,
    mount_targets,
    network_record,
    other_vpcs,
    rds_shape,
    subnet_group,
    thin_subnet_groups,
    unrecorded,
    wanted,
)
from ue_backup.restored_shape import rds_shape as rds_shape_record

TARGETS = [
    {"MountTargetId": "fsmt-2", "SubnetId": "subnet-b", "SecurityGroups": ["sg-nfs"]},
    {"MountTargetId": "fsmt-1", "SubnetId": "subnet-a", "SecurityGroups": ["sg-nfs", "sg-x"]},
]
INSTANCE = {
    "DBSubnetGroup": {"DBSubnetGroupName": "platform-db", "VpcId": "vpc-1"},
    "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-db", "Status": "active"}],
    "MultiAZ": True,
}
CLUSTER = {
    "SubnetGroupName": "platform-cache",
    "SecurityGroups": [{"SecurityGroupId": "sg-cache", "Status": "active"}],
    "ACLName": "platform",
    "TLSEnabled": True,
}
RECORDED = network_record(efs=TARGETS, database=INSTANCE, memorydb=CLUSTER)


def network_only(record: dict) -> dict:
    """The record without the shapes (``restored_shape``) it keeps beside the network."""
    return {
        component: {k: v for k, v in entry.items() if k != "shape"} if entry else entry
        for component, entry in record.items()
    }


def test_the_record_keeps_each_components_network_and_shape_and_nothing_else():
    assert RECORDED["database"]["shape"] == rds_shape_record(INSTANCE)
    assert RECORDED["efs"]["shape"] is None  # no file system description given
    assert network_only(RECORDED) == {
        "efs": {
            "mount_targets": [
                {"subnet_id": "subnet-a", "security_group_ids": ["sg-nfs", "sg-x"]},
                {"subnet_id": "subnet-b", "security_group_ids": ["sg-nfs"]},
            ]
        },
        "database": {
            "db_subnet_group": "platform-db",
            "vpc_security_group_ids": ["sg-db"],
            "multi_az": True,
        },
        "memorydb": {
            "subnet_group": "platform-cache",
            "security_group_ids": ["sg-cache"],
            "acl_name": "platform",
            "tls_enabled": True,
        },
    }
    assert network_record(efs=None, database=None, memorydb=None) == {
        "efs": None,
        "database": None,
        "memorydb": None,
    }


def test_the_restore_arguments_come_from_the_record():
    assert rds_shape(RECORDED) == {
        "DBSubnetGroupName": "platform-db",
        "VpcSecurityGroupIds": ["sg-db"],
        "MultiAZ": True,  # a restore is Single-AZ unless told (botocore's model)
    }
    assert memorydb_shape(RECORDED) == {
        "SubnetGroupName": "platform-cache",
        "SecurityGroupIds": ["sg-cache"],
        "ACLName": "platform",
        "TLSEnabled": True,
    }
    assert [t["subnet_id"] for t in mount_targets(RECORDED)] == ["subnet-a", "subnet-b"]
    # nothing recorded: nothing to give (the operators keep their old behaviour)
    assert rds_shape(None)["DBSubnetGroupName"] is None
    assert memorydb_shape(None)["ACLName"] is None
    assert mount_targets(None) == []


def test_only_the_components_whose_live_resource_is_gone_need_their_network():
    assert wanted(RECORDED, ["efs"]) == {
        "subnets": {"subnet-a", "subnet-b"},
        "security_groups": {"sg-nfs", "sg-x"},
        "db_subnet_groups": set(),
        "memorydb_subnet_groups": set(),
        "acls": set(),
        "db_parameter_groups": set(),
        "db_option_groups": set(),
        "memorydb_parameter_groups": set(),
    }
    need = wanted(RECORDED, ["database", "memorydb"])
    assert need["security_groups"] == {"sg-db", "sg-cache"}
    assert need["db_subnet_groups"] == {"platform-db"}
    assert need["memorydb_subnet_groups"] == {"platform-cache"}
    assert need["acls"] == {"platform"}
    open_cluster = network_record(
        efs=None, database=None, memorydb={**CLUSTER, "ACLName": "open-access"}
    )
    assert wanted(open_cluster, ["memorydb"])["acls"] == set()  # built in: always there


def test_what_is_gone_is_named_with_what_to_recreate():
    need = wanted(RECORDED, ["efs", "database", "memorydb"])
    found = {**need, "subnets": {"subnet-a"}, "acls": set()}

    problems = missing(need, found)

    assert len(problems) == 2
    assert problems[0].startswith(
        "the recorded subnet subnet-b no longer exists (EC2 ids cannot be recreated"
    )
    assert "params.network by_hand" in problems[0]
    assert "the recorded MemoryDB ACL platform no longer exists" in problems[1]
    assert "with its users" in problems[1]
    assert missing(need, need) == []


def test_a_subnet_group_recreated_in_another_vpc_than_its_security_groups_is_named():
    """Security group ids cannot change VPC; a subnet group recreated by its name can be
    anywhere, and AWS would refuse the restore midway."""
    found = {
        "subnets": {"subnet-a": "vpc-1", "subnet-b": "vpc-1"},
        "security_groups": {
            "sg-nfs": "vpc-1",
            "sg-x": "vpc-1",
            "sg-db": "vpc-1",
            "sg-cache": "vpc-1",
        },
        "db_subnet_groups": {"platform-db": "vpc-1"},
        "memorydb_subnet_groups": {"platform-cache": "vpc-1"},
    }
    everything = ["efs", "database", "memorydb"]
    assert other_vpcs(RECORDED, everything, found) == []
    moved = {**found, "db_subnet_groups": {"platform-db": "vpc-9"}}
    [problem] = other_vpcs(RECORDED, everything, moved)
    assert problem.startswith(
        "the recorded security group sg-db is in vpc-1, but the DB subnet group platform-db "
        "is in vpc-9: recreate the DB subnet group platform-db in vpc-1"
    )
    assert other_vpcs(RECORDED, ["efs", "memorydb"], moved) == []  # the database not restored
    wrong_subnet = {**found, "subnets": {"subnet-a": "vpc-1", "subnet-b": "vpc-2"}}
    [problem] = other_vpcs(RECORDED, everything, wrong_subnet)
    assert "the subnet subnet-b is in vpc-2" in problem
    cache = {**found, "security_groups": {**found["security_groups"], "sg-cache": "vpc-3"}}
    [problem] = other_vpcs(RECORDED, everything, cache)
    assert "the MemoryDB subnet group platform-cache is in vpc-1" in problem
    # what does not exist is missing's to name, not this rule's
    assert other_vpcs(RECORDED, everything, {**moved, "db_subnet_groups": {}}) == []


def test_a_set_recorded_before_the_network_was_is_told_apart():
    assert unrecorded(None, ["efs", "database"]) == ["database", "efs"]
    assert unrecorded(RECORDED, ["efs", "database", "memorydb"]) == []
    no_targets = network_record(efs=[], database=INSTANCE, memorydb=None)
    assert unrecorded(no_targets, ["efs", "database", "memorydb"]) == ["efs", "memorydb"]


def test_the_groups_the_recorded_shape_names_are_needed_and_never_a_default():
    """A recorded DB parameter or option group deleted since would fail the restore call
    late, after the workflows were suspended: the plan asks for it first."""
    shaped = {
        **INSTANCE,
        "DBParameterGroups": [{"DBParameterGroupName": "platform-pg"}],
        "OptionGroupMemberships": [{"OptionGroupName": "platform-og"}],
    }
    recorded = network_record(efs=None, database=shaped, memorydb=None)
    need = wanted(recorded, ["database"])
    assert need["db_parameter_groups"] == {"platform-pg"}
    assert need["db_option_groups"] == {"platform-og"}
    assert wanted(recorded, ["efs"])["db_parameter_groups"] == set()  # the live one is there
    defaults = {
        **INSTANCE,
        "DBParameterGroups": [{"DBParameterGroupName": "default.postgres16"}],
        "OptionGroupMemberships": [{"OptionGroupName": "default:postgres-16"}],
    }
    need = wanted(network_record(efs=None, database=defaults, memorydb=None), ["database"])
    assert need["db_parameter_groups"] == need["db_option_groups"] == set()  # never named

    found = {**need, "db_parameter_groups": {}, "db_option_groups": {"platform-og": None}}
    [problem] = missing(wanted(recorded, ["database"]), found)
    assert problem.startswith(
        "the recorded DB parameter group platform-pg no longer exists (recreate the RDS DB "
        "parameter group by that name, of the snapshot's engine family"
    )
    assert "params.network by_hand: the database then lands in the region's default " in problem
    assert "with the engine's default groups" in problem


def test_the_parameter_group_the_recorded_cluster_names_is_needed_unless_a_default():
    own = network_record(
        efs=None, database=None, memorydb={**CLUSTER, "ParameterGroupName": "platform-cache-pg"}
    )
    assert wanted(own, ["memorydb"])["memorydb_parameter_groups"] == {"platform-cache-pg"}
    assert wanted(own, ["database"])["memorydb_parameter_groups"] == set()
    default = network_record(
        efs=None,
        database=None,
        memorydb={**CLUSTER, "ParameterGroupName": "default.memorydb-redis7"},
    )
    assert wanted(default, ["memorydb"])["memorydb_parameter_groups"] == set()
    need = wanted(own, ["memorydb"])
    [problem] = missing(need, {**need, "memorydb_parameter_groups": {}})
    assert problem.startswith(
        "the recorded MemoryDB parameter group platform-cache-pg no longer exists (recreate "
        "the MemoryDB parameter group by that name"
    )


DB_GROUP = {  # DescribeDBSubnetGroups' entry (botocore's model)
    "DBSubnetGroupName": "platform-db",
    "VpcId": "vpc-1",
    "Subnets": [
        {
            "SubnetIdentifier": "subnet-a",
            "SubnetAvailabilityZone": {"Name": "eu-west-1a"},
            "SubnetStatus": "Active",
        },
        {
            "SubnetIdentifier": "subnet-b",
            "SubnetAvailabilityZone": {"Name": "eu-west-1b"},
            "SubnetStatus": "Active",
        },
    ],
}
CACHE_GROUP = {  # MemoryDB DescribeSubnetGroups' entry
    "Name": "platform-cache",
    "VpcId": "vpc-1",
    "Subnets": [{"Identifier": "subnet-a", "AvailabilityZone": {"Name": "eu-west-1a"}}],
}


def test_a_described_subnet_group_is_read_with_which_subnets_ec2_still_has():
    assert subnet_group("db_subnet_groups", DB_GROUP, ["subnet-b"]) == {
        "vpc_id": "vpc-1",
        "subnets": [
            {
                "subnet_id": "subnet-a",
                "availability_zone": "eu-west-1a",
                "status": "Active",
                "exists": False,
            },
            {
                "subnet_id": "subnet-b",
                "availability_zone": "eu-west-1b",
                "status": "Active",
                "exists": True,
            },
        ],
    }
    assert subnet_group("memorydb_subnet_groups", CACHE_GROUP, ["subnet-a"])["subnets"] == [
        {"subnet_id": "subnet-a", "availability_zone": "eu-west-1a", "status": None, "exists": True}
    ]


def test_a_subnet_group_short_of_the_zones_its_service_needs_is_named():
    """RDS: two availability zones (DBSubnetGroupDoesNotCoverEnoughAZs; a group thinned since:
    InvalidVPCNetworkStateFault); MemoryDB: a subnet. Subnets listed but deleted since, or
    not Active, do not count."""

    def groups(db_existing, cache_existing, db=DB_GROUP):
        return {
            "db_subnet_groups": {"platform-db": subnet_group("db_subnet_groups", db, db_existing)},
            "memorydb_subnet_groups": {
                "platform-cache": subnet_group(
                    "memorydb_subnet_groups", CACHE_GROUP, cache_existing
                )
            },
        }

    assert thin_subnet_groups(groups(["subnet-a", "subnet-b"], ["subnet-a"])) == []
    [problem] = thin_subnet_groups(groups(["subnet-a"], ["subnet-a"]))
    assert problem.startswith(
        "the recorded DB subnet group platform-db exists, but of its subnets subnet-b "
        "(eu-west-1b) no longer exists: its usable subnets cover 1 availability zone(s) "
        "(eu-west-1a) and RDS needs 2: add subnets of vpc-1 to it until they do "
        "(aws rds modify-db-subnet-group), or restore with params.network by_hand"
    )
    [problem] = thin_subnet_groups(groups(["subnet-a", "subnet-b"], []))
    assert problem.startswith(
        "the recorded MemoryDB subnet group platform-cache exists, but of its subnets "
        "subnet-a (eu-west-1a) no longer exists: its usable subnets cover 0 availability "
        "zone(s) and MemoryDB needs 1: add subnets of vpc-1 to it until they do "
        "(aws memorydb update-subnet-group)"
    )
    inactive = {
        **DB_GROUP,
        "Subnets": [DB_GROUP["Subnets"][0], {**DB_GROUP["Subnets"][1], "SubnetStatus": "Inactive"}],
    }
    [problem] = thin_subnet_groups(groups(["subnet-a", "subnet-b"], ["subnet-a"], inactive))
    assert "of its subnets subnet-b (eu-west-1b) is Inactive:" in problem
    same_zone = {
        **DB_GROUP,
        "Subnets": [
            DB_GROUP["Subnets"][0],
            {**DB_GROUP["Subnets"][1], "SubnetAvailabilityZone": {"Name": "eu-west-1a"}},
        ],
    }
    [problem] = thin_subnet_groups(groups(["subnet-a", "subnet-b"], ["subnet-a"], same_zone))
    assert problem.startswith(
        "the recorded DB subnet group platform-db exists, but its usable subnets cover 1 "
        "availability zone(s) (eu-west-1a) and RDS needs 2"
    )
    assert thin_subnet_groups({}) == []
