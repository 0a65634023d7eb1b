"""Deleting restored resources in the sandbox: RDS instances and MemoryDB clusters take time.

moto deletes both at once; the real services show ``deleting`` for minutes
and refuse to delete what is still being created. The restore drill's
cleanup must wait for both, so the sandbox models them.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from sandbox.aws.fixtures import aws, create_db_instance, wait_until  # noqa: F401
from sandbox.faults import Fault


def create_instance(aws, name: str = "drill-db") -> None:  # noqa: F811
    create_db_instance(aws.client("rds"), name)


def instance_status(rds, name: str) -> str | None:
    try:
        return rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0][
            "DBInstanceStatus"
        ]
    except rds.exceptions.DBInstanceNotFoundFault:
        return None


def test_a_deleted_instance_is_deleting_for_its_duration_then_gone(aws):  # noqa: F811
    aws.durations.update(rds_delete=0.4)
    create_instance(aws)
    rds = aws.client("rds")

    answer = rds.delete_db_instance(DBInstanceIdentifier="drill-db", SkipFinalSnapshot=True)
    seen = wait_until(lambda: instance_status(rds, "drill-db"), lambda status: status is None)

    assert answer["DBInstance"]["DBInstanceStatus"] == "deleting"
    assert seen[0] == "deleting"
    with pytest.raises(rds.exceptions.DBInstanceNotFoundFault):
        rds.delete_db_instance(DBInstanceIdentifier="drill-db", SkipFinalSnapshot=True)


def test_an_instance_cannot_be_deleted_twice_or_while_it_is_created(aws):  # noqa: F811
    aws.durations.update(rds_delete=5, rds_instance=5)
    create_instance(aws)
    rds = aws.client("rds")
    rds.create_db_snapshot(DBInstanceIdentifier="drill-db", DBSnapshotIdentifier="s")
    wait_until(
        lambda: rds.describe_db_snapshots(DBSnapshotIdentifier="s")["DBSnapshots"][0]["Status"],
        lambda status: status == "available",
    )
    rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="restored", DBSnapshotIdentifier="s"
    )
    rds.delete_db_instance(DBInstanceIdentifier="drill-db", SkipFinalSnapshot=True)

    for name in ("drill-db", "restored"):
        with pytest.raises(ClientError) as refused:
            rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True)
        assert refused.value.response["Error"]["Code"] == "InvalidDBInstanceState"
    assert instance_status(rds, "restored") == "creating"


def test_deleting_an_instance_needs_a_final_snapshot_or_skip(aws):  # noqa: F811
    create_instance(aws)
    rds = aws.client("rds")

    with pytest.raises(ClientError) as refused:
        rds.delete_db_instance(DBInstanceIdentifier="drill-db")

    assert refused.value.response["Error"]["Code"] == "InvalidParameterCombination"
    assert instance_status(rds, "drill-db") == "available"


def cluster_status(memorydb, name: str) -> str | None:
    try:
        return memorydb.describe_clusters(ClusterName=name)["Clusters"][0]["Status"]
    except memorydb.exceptions.ClusterNotFoundFault:
        return None


def test_a_deleted_cluster_is_deleting_for_its_duration_then_gone(aws):  # noqa: F811
    aws.durations.update(memorydb_delete=0.4)
    memorydb = aws.client("memorydb")
    memorydb.create_cluster(ClusterName="drill", NodeType="db.t4g.small", ACLName="open-access")

    answer = memorydb.delete_cluster(ClusterName="drill")
    seen = wait_until(lambda: cluster_status(memorydb, "drill"), lambda status: status is None)

    assert answer["Cluster"]["Status"] == "deleting"
    assert seen[0] == "deleting"
    with pytest.raises(memorydb.exceptions.ClusterNotFoundFault):
        memorydb.delete_cluster(ClusterName="drill")


def test_a_cluster_being_created_cannot_be_deleted_but_a_failed_one_can(aws):  # noqa: F811
    aws.durations.update(memorydb_snapshot=0.05, memorydb_cluster=0.3, memorydb_delete=0.1)
    memorydb = aws.client("memorydb")
    memorydb.create_cluster(ClusterName="live", NodeType="db.t4g.small", ACLName="open-access")
    memorydb.create_snapshot(ClusterName="live", SnapshotName="s")
    wait_until(
        lambda: memorydb.describe_snapshots(SnapshotName="s")["Snapshots"][0]["Status"],
        lambda status: status == "available",
    )
    aws.faults.add(Fault("memorydb", "CreateCluster", kind="outcome", state="create-failed"))
    memorydb.create_cluster(
        ClusterName="drill", NodeType="db.t4g.small", ACLName="open-access", SnapshotName="s"
    )

    with pytest.raises(memorydb.exceptions.InvalidClusterStateFault):
        memorydb.delete_cluster(ClusterName="drill")
    wait_until(lambda: cluster_status(memorydb, "drill"), lambda status: status == "create-failed")
    memorydb.delete_cluster(ClusterName="drill")
    wait_until(lambda: cluster_status(memorydb, "drill"), lambda status: status is None)
    assert cluster_status(memorydb, "live") == "available"
