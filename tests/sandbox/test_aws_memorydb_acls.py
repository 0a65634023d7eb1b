"""MemoryDB's access control lists, modelled by hand (moto 5 has none).

As the MemoryDB API reference describes them: ``open-access`` is built in,
``CreateACL`` makes another, ``DescribeACLs`` names one or lists them all
(``ACLNotFoundFault`` for one that does not exist), and ``CreateCluster``
refuses an ACL or a subnet group that does not exist (moto took any ACL name,
and answered an unknown subnet group with an internal error).
"""

from __future__ import annotations

import pytest

from sandbox.aws.network import platform_network


@pytest.fixture
def memorydb(sandbox):
    return sandbox.client("memorydb")


def test_open_access_is_built_in_and_another_acl_is_made_and_described(memorydb):
    assert [a["Name"] for a in memorydb.describe_acls()["ACLs"]] == ["open-access"]

    memorydb.create_acl(ACLName="platform")

    [acl] = memorydb.describe_acls(ACLName="platform")["ACLs"]
    assert (acl["Name"], acl["Status"]) == ("platform", "active")
    assert acl["ARN"].endswith(":acl/platform")
    with pytest.raises(memorydb.exceptions.ACLAlreadyExistsFault):
        memorydb.create_acl(ACLName="platform")
    with pytest.raises(memorydb.exceptions.ACLNotFoundFault):
        memorydb.describe_acls(ACLName="gone")


def test_a_cluster_needs_an_acl_and_a_subnet_group_that_exist(sandbox, memorydb):
    fs_id = sandbox.aws.create_file_system("live")
    network = platform_network(sandbox.aws, "ue-test", fs_id, acl=True)
    shape = {"NodeType": "db.t4g.small", "NumShards": 1, "TLSEnabled": True}

    with pytest.raises(memorydb.exceptions.ACLNotFoundFault):
        memorydb.create_cluster(ClusterName="a", ACLName="gone", **shape)
    with pytest.raises(memorydb.exceptions.SubnetGroupNotFoundFault):
        memorydb.create_cluster(
            ClusterName="b", ACLName=network["acl"], SubnetGroupName="gone", **shape
        )
    cluster = memorydb.create_cluster(
        ClusterName="c",
        ACLName=network["acl"],
        SubnetGroupName=network["cache_subnet_group"],
        SecurityGroupIds=[network["cache_security_group"]],
        **shape,
    )["Cluster"]

    assert (cluster["ACLName"], cluster["SubnetGroupName"]) == (
        "ue-test-platform",
        "ue-test-cache",
    )
    assert memorydb.describe_acls(ACLName=network["acl"])["ACLs"][0]["Clusters"] == ["c"]
