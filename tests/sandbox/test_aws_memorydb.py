"""MemoryDB in the sandbox: snapshot and restore timing, lookups, copies and tags."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from sandbox.aws.fixtures import aws, wait_until  # noqa: F401

TAGS = [{"Key": "ue-backup:backup-set", "Value": "set-1"}]


@pytest.fixture
def memorydb(aws):  # noqa: F811
    client = aws.client("memorydb")
    client.create_cluster(ClusterName="ue-aggr", NodeType="db.t4g.small", ACLName="open-access")
    return client


def test_a_snapshot_is_creating_then_available_with_its_shard_times(aws, memorydb):  # noqa: F811
    aws.durations.update(memorydb_snapshot=0.3)
    before = datetime.now(UTC)

    created = memorydb.create_snapshot(ClusterName="ue-aggr", SnapshotName="set-1", Tags=TAGS)
    seen = wait_until(
        lambda: memorydb.describe_snapshots(SnapshotName="set-1", ShowDetail=True)["Snapshots"][0],
        lambda s: s["Status"] == "available",
    )

    assert created["Snapshot"]["Status"] == "creating"
    assert seen[0]["Status"] == "creating"
    shards = seen[-1]["ClusterConfiguration"]["Shards"]
    assert shards
    assert all(before <= shard["SnapshotCreationTime"] <= datetime.now(UTC) for shard in shards)
    arn = created["Snapshot"]["ARN"]
    assert memorydb.list_tags(ResourceArn=arn)["TagList"] == TAGS


def test_describe_by_cluster_and_name_finds_the_right_snapshot(aws, memorydb):  # noqa: F811
    """moto returns 'not found' unless the snapshot asked for is the first one."""
    for name in ("set-1", "set-2", "set-3"):
        memorydb.create_snapshot(ClusterName="ue-aggr", SnapshotName=name)

    found = memorydb.describe_snapshots(ClusterName="ue-aggr", SnapshotName="set-3")

    assert [s["Name"] for s in found["Snapshots"]] == ["set-3"]
    with pytest.raises(memorydb.exceptions.SnapshotNotFoundFault):
        memorydb.describe_snapshots(ClusterName="other", SnapshotName="set-3")


def test_restoring_a_cluster_needs_an_existing_available_snapshot(aws, memorydb):  # noqa: F811
    aws.durations.update(memorydb_snapshot=0.1, memorydb_cluster=0.3)
    with pytest.raises(memorydb.exceptions.SnapshotNotFoundFault):
        memorydb.create_cluster(
            ClusterName="restored", NodeType="db.t4g.small", ACLName="open-access", SnapshotName="x"
        )
    memorydb.create_snapshot(ClusterName="ue-aggr", SnapshotName="set-1")
    with pytest.raises(memorydb.exceptions.InvalidParameterValueException):
        memorydb.create_cluster(
            ClusterName="restored",
            NodeType="db.t4g.small",
            ACLName="open-access",
            SnapshotName="set-1",
        )
    time.sleep(0.15)

    restored = memorydb.create_cluster(
        ClusterName="restored", NodeType="db.t4g.small", ACLName="open-access", SnapshotName="set-1"
    )["Cluster"]
    seen = wait_until(
        lambda: memorydb.describe_clusters(ClusterName="restored")["Clusters"][0]["Status"],
        lambda status: status == "available",
    )

    assert restored["Status"] == "creating"
    assert seen[0] == "creating"
    assert memorydb.describe_clusters(ClusterName="ue-aggr")["Clusters"][0]["Status"] == "available"


def test_copy_snapshot_makes_the_target_with_the_source_point_in_time(aws, memorydb):  # noqa: F811
    aws.durations.update(memorydb_snapshot=0.1)
    memorydb.create_snapshot(ClusterName="ue-aggr", SnapshotName="set-1")
    time.sleep(0.15)

    copied = memorydb.copy_snapshot(
        SourceSnapshotName="set-1", TargetSnapshotName="set-1-copy", Tags=TAGS
    )["Snapshot"]
    wait_until(
        lambda: memorydb.describe_snapshots(SnapshotName="set-1-copy")["Snapshots"][0]["Status"],
        lambda status: status == "available",
    )

    assert copied["Status"] == "copying"
    details = {
        s["Name"]: s["ClusterConfiguration"]["Shards"]
        for s in memorydb.describe_snapshots(ShowDetail=True)["Snapshots"]
    }
    assert [s["SnapshotCreationTime"] for s in details["set-1-copy"]] == [
        s["SnapshotCreationTime"] for s in details["set-1"]
    ]
    assert memorydb.list_tags(ResourceArn=copied["ARN"])["TagList"] == TAGS
    with pytest.raises(memorydb.exceptions.SnapshotAlreadyExistsFault):
        memorydb.copy_snapshot(SourceSnapshotName="set-1", TargetSnapshotName="set-1-copy")


def test_snapshot_outcome_and_never_faults(aws, memorydb):  # noqa: F811
    aws.durations.update(memorydb_snapshot=0.05)
    aws.faults.add(service="memorydb", operation="CreateSnapshot", kind="outcome", target="broken")
    aws.faults.add(service="memorydb", operation="CreateSnapshot", kind="never", target="stuck")

    for name in ("broken", "stuck", "fine"):
        memorydb.create_snapshot(ClusterName="ue-aggr", SnapshotName=name)
    time.sleep(0.15)

    statuses = {s["Name"]: s["Status"] for s in memorydb.describe_snapshots()["Snapshots"]}
    assert statuses == {"broken": "failed", "stuck": "creating", "fine": "available"}


# --- export to S3 and seeding from it (the cross-region copy's way) ----------------------


def bucket(aws, name: str, region: str) -> None:  # noqa: F811
    aws.client("s3", region=region).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": region}
    )


def available(aws, memorydb, name: str = "set-1") -> dict:  # noqa: F811
    aws.durations.update(memorydb_snapshot=0.05)
    memorydb.create_snapshot(ClusterName="ue-aggr", SnapshotName=name, Tags=TAGS)
    return wait_until(
        lambda: memorydb.describe_snapshots(SnapshotName=name, ShowDetail=True)["Snapshots"][0],
        lambda s: s["Status"] == "available",
    )[-1]


def test_an_export_writes_one_rdb_file_per_shard_to_a_bucket_of_its_region(aws, memorydb):  # noqa: F811
    snapshot = available(aws, memorydb)
    bucket(aws, "ue-export", aws.region)
    aws.durations.update(memorydb_export=0.3)

    memorydb.copy_snapshot(
        SourceSnapshotName="set-1", TargetSnapshotName="set-1", TargetBucket="ue-export"
    )
    seen = wait_until(
        lambda: memorydb.describe_snapshots(SnapshotName="set-1")["Snapshots"][0]["Status"],
        lambda status: status == "available",
    )

    assert seen[0] == "exporting"
    keys = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket="ue-export")["Contents"]]
    shards = snapshot["ClusterConfiguration"]["Shards"]
    assert keys == [f"set-1-{i:04d}.rdb" for i in range(1, len(shards) + 1)]
    body = aws.client("s3").get_object(Bucket="ue-export", Key=keys[0])["Body"].read()
    assert body.startswith(b"REDIS")
    # an export is no MemoryDB snapshot of its own
    assert [s["Name"] for s in memorydb.describe_snapshots()["Snapshots"]] == ["set-1"]
    with pytest.raises(memorydb.exceptions.SnapshotAlreadyExistsFault):
        memorydb.copy_snapshot(
            SourceSnapshotName="set-1", TargetSnapshotName="set-1", TargetBucket="ue-export"
        )


def test_an_export_to_a_bucket_of_another_region_is_refused(aws, memorydb):  # noqa: F811
    available(aws, memorydb)
    bucket(aws, "ue-far", "eu-central-1")

    with pytest.raises(memorydb.exceptions.InvalidParameterValueException, match="own region"):
        memorydb.copy_snapshot(
            SourceSnapshotName="set-1", TargetSnapshotName="set-1", TargetBucket="ue-far"
        )
    with pytest.raises(memorydb.exceptions.InvalidParameterValueException, match="not exist"):
        memorydb.copy_snapshot(
            SourceSnapshotName="set-1", TargetSnapshotName="set-1", TargetBucket="no-such-bucket"
        )
    assert "Contents" not in aws.client("s3").list_objects_v2(Bucket="ue-far")


def test_a_cluster_is_seeded_from_rdb_files_in_a_bucket_of_its_region(aws):  # noqa: F811
    aws.durations.update(memorydb_cluster=0.2)
    far = aws.client("memorydb", region="eu-central-1")
    bucket(aws, "ue-far", "eu-central-1")
    bucket(aws, "ue-home", aws.region)
    s3 = aws.client("s3")
    for name in ("ue-far", "ue-home"):
        s3.put_object(Bucket=name, Key="set-1-0001.rdb", Body=b"REDIS0011")
    cluster = {"ClusterName": "ue-dr", "NodeType": "db.t4g.small", "ACLName": "open-access"}

    with pytest.raises(far.exceptions.InvalidParameterValueException, match="No snapshot object"):
        far.create_cluster(**cluster, SnapshotArns=["arn:aws:s3:::ue-far/missing.rdb"])
    with pytest.raises(far.exceptions.InvalidParameterValueException, match="not in eu-central-1"):
        far.create_cluster(**cluster, SnapshotArns=["arn:aws:s3:::ue-home/set-1-0001.rdb"])
    created = far.create_cluster(**cluster, SnapshotArns=["arn:aws:s3:::ue-far/set-1-0001.rdb"])

    assert created["Cluster"]["Status"] == "creating"
    wait_until(
        lambda: far.describe_clusters(ClusterName="ue-dr")["Clusters"][0]["Status"],
        lambda status: status == "available",
    )


def test_parameter_groups_are_created_described_and_kept_while_in_use(aws, memorydb):  # noqa: F811
    """moto has none: here as MemoryDB answers for them, the engines' defaults included."""
    described = memorydb.describe_clusters(ClusterName="ue-aggr")["Clusters"][0]
    assert described["ParameterGroupName"] == "default.memorydb-redis7"
    assert (described["Engine"], described["NetworkType"], described["IpDiscovery"]) == (
        "redis",
        "ipv4",
        "ipv4",
    )
    with pytest.raises(memorydb.exceptions.ParameterGroupNotFoundFault):
        memorydb.describe_parameter_groups(ParameterGroupName="platform")
    memorydb.create_parameter_group(ParameterGroupName="platform", Family="memorydb_redis7")
    [group] = memorydb.describe_parameter_groups(ParameterGroupName="platform")["ParameterGroups"]
    assert group["Family"] == "memorydb_redis7"
    memorydb.create_cluster(
        ClusterName="shaped",
        NodeType="db.t4g.small",
        ACLName="open-access",
        ParameterGroupName="platform",
        NetworkType="dual_stack",
        IpDiscovery="ipv6",
    )
    shaped = memorydb.describe_clusters(ClusterName="shaped")["Clusters"][0]
    assert shaped["ParameterGroupName"] == "platform"
    assert (shaped["NetworkType"], shaped["IpDiscovery"]) == ("dual_stack", "ipv6")
    with pytest.raises(memorydb.exceptions.InvalidParameterGroupStateFault):
        memorydb.delete_parameter_group(ParameterGroupName="platform")
    memorydb.delete_cluster(ClusterName="shaped")
    wait_until(lambda: memorydb.describe_clusters()["Clusters"], lambda c: len(c) == 1)
    memorydb.delete_parameter_group(ParameterGroupName="platform")
    with pytest.raises(memorydb.exceptions.ParameterGroupNotFoundFault):
        memorydb.describe_parameter_groups(ParameterGroupName="platform")


@pytest.mark.parametrize(
    ("arguments", "refusal"),
    [
        ({"ParameterGroupName": "gone"}, "ParameterGroupNotFoundFault"),
        ({"ParameterGroupName": "six"}, "InvalidParameterCombinationException"),  # family
        ({"NodeType": "db.r6gd.xlarge"}, "InvalidParameterCombinationException"),  # no tiering
        ({"DataTiering": True}, "InvalidParameterCombinationException"),  # not r6gd
    ],
    ids=["unknown-group", "other-family", "r6gd-without-tiering", "tiering-not-r6gd"],
)
def test_create_cluster_refuses_what_memorydb_refuses(aws, memorydb, arguments, refusal):  # noqa: F811
    memorydb.create_parameter_group(ParameterGroupName="six", Family="memorydb_redis6")
    request = {"ClusterName": "c", "NodeType": "db.t4g.small", "ACLName": "open-access"}
    with pytest.raises(memorydb.exceptions.ClientError, match=refusal):
        memorydb.create_cluster(**{**request, **arguments})
    assert [c["Name"] for c in memorydb.describe_clusters()["Clusters"]] == ["ue-aggr"]
    tiered = {**request, "NodeType": "db.r6gd.xlarge", "DataTiering": True}
    assert memorydb.create_cluster(**tiered)["Cluster"]["DataTiering"] == "true"
