"""MemoryDB with real data (the sandbox's ``real_data``): a redis-server per cluster.

Keys written to a cluster, snapshots taken and restored, exported to S3 and seeded
back, clusters deleted and the sandbox reset: each checked by what the servers hold.
"""

from __future__ import annotations

import pytest

from sandbox.aws import memorydb_data
from sandbox.aws.fixtures import aws, real_data, wait_until  # noqa: F401
from sandbox.aws.resp import command

CLUSTER = {"NodeType": "db.t4g.small", "ACLName": "open-access"}


def create(client, name: str, **extra) -> dict:
    client.create_cluster(ClusterName=name, **CLUSTER, **extra)
    return wait_until(
        lambda: client.describe_clusters(ClusterName=name)["Clusters"][0],
        lambda c: c["Status"] in ("available", "create-failed"),
    )[-1]


def port_of(cluster: dict) -> int:
    endpoint = cluster["ClusterEndpoint"]
    assert endpoint["Address"] == "127.0.0.1"
    return endpoint["Port"]


def write(port: int, **values: str) -> None:
    for key, value in values.items():
        assert command(port, "SET", key, value) == "OK"


def contents(port: int) -> dict[str, str]:
    return {key: command(port, "GET", key) for key in command(port, "KEYS", "*")}


def snapshot(client, cluster: str, name: str) -> None:
    client.create_snapshot(ClusterName=cluster, SnapshotName=name)
    wait_until(
        lambda: client.describe_snapshots(SnapshotName=name)["Snapshots"][0]["Status"],
        lambda status: status == "available",
    )


def answers(port: int) -> bool:
    try:
        return command(port, "PING", timeout=1.0) == "PONG"
    except OSError:
        return False


@pytest.fixture
def memorydb(real_data):  # noqa: F811
    real_data.durations.update(memorydb_snapshot=0.05, memorydb_cluster=0.05)
    return real_data.client("memorydb")


def test_a_restored_cluster_holds_exactly_the_keys_of_the_snapshots_moment(memorydb):
    live = port_of(create(memorydb, "ue-aggr"))
    write(live, **{f"session:{i}": f"v{i}" for i in range(1, 6)})

    snapshot(memorydb, "ue-aggr", "set-1")
    write(live, **{"session:1": "changed", "session:6": "v6", "session:7": "v7"})
    memorydb.copy_snapshot(SourceSnapshotName="set-1", TargetSnapshotName="set-1-copy")
    wait_until(
        lambda: memorydb.describe_snapshots(SnapshotName="set-1-copy")["Snapshots"][0]["Status"],
        lambda status: status == "available",
    )

    at_snapshot = {f"session:{i}": f"v{i}" for i in range(1, 6)}
    restored = create(memorydb, "ue-aggr-restored", SnapshotName="set-1")
    from_copy = create(memorydb, "ue-aggr-copy", SnapshotName="set-1-copy")
    assert restored["Status"] == from_copy["Status"] == "available"
    assert contents(port_of(restored)) == at_snapshot
    assert contents(port_of(from_copy)) == at_snapshot
    assert len({live, port_of(restored), port_of(from_copy)}) == 3
    assert contents(live)["session:1"] == "changed"  # the live cluster is untouched


def test_a_cluster_seeded_from_rdb_objects_in_s3_holds_their_keys(memorydb, real_data):  # noqa: F811
    """The copy region's way: export to the home bucket, copy the objects, seed from them."""
    s3 = real_data.client("s3")
    far_s3 = real_data.client("s3", region="eu-central-1")
    s3.create_bucket(
        Bucket="ue-export", CreateBucketConfiguration={"LocationConstraint": real_data.region}
    )
    far_s3.create_bucket(
        Bucket="ue-dr", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
    )
    for cluster, keys in (("ue-a", {"a": "1", "shared": "a"}), ("ue-b", {"b": "2"})):
        write(port_of(create(memorydb, cluster)), **keys)
        snapshot(memorydb, cluster, f"{cluster}-set")
        memorydb.copy_snapshot(
            SourceSnapshotName=f"{cluster}-set",
            TargetSnapshotName=f"{cluster}-set",
            TargetBucket="ue-export",
        )
        key = f"{cluster}-set-0001.rdb"
        far_s3.copy_object(Bucket="ue-dr", Key=key, CopySource={"Bucket": "ue-export", "Key": key})
    far = real_data.client("memorydb", region="eu-central-1")

    one = create(far, "ue-dr-a", SnapshotArns=["arn:aws:s3:::ue-dr/ue-a-set-0001.rdb"])
    both = create(
        far,
        "ue-dr-ab",
        SnapshotArns=[
            "arn:aws:s3:::ue-dr/ue-a-set-0001.rdb",
            "arn:aws:s3:::ue-dr/ue-b-set-0001.rdb",
        ],
    )

    assert contents(port_of(one)) == {"a": "1", "shared": "a"}
    assert contents(port_of(both)) == {"a": "1", "shared": "a", "b": "2"}


def test_a_seed_redis_cannot_load_leaves_the_cluster_create_failed(memorydb, real_data):  # noqa: F811
    s3 = real_data.client("s3")
    s3.create_bucket(
        Bucket="ue-dr", CreateBucketConfiguration={"LocationConstraint": real_data.region}
    )
    s3.put_object(Bucket="ue-dr", Key="bad-0001.rdb", Body=b"REDIS0011 not really")

    failed = create(memorydb, "ue-dr", SnapshotArns=["arn:aws:s3:::ue-dr/bad-0001.rdb"])

    assert failed["Status"] == "create-failed"
    assert memorydb_data.running_ports() == []


def test_deleting_a_cluster_stops_its_server_after_its_final_snapshot(memorydb):
    port = port_of(create(memorydb, "ue-aggr"))
    write(port, kept="yes")

    memorydb.delete_cluster(ClusterName="ue-aggr", FinalSnapshotName="ue-aggr-final")

    assert not answers(port)
    assert memorydb_data.running_ports() == []
    restored = create(memorydb, "ue-aggr-again", SnapshotName="ue-aggr-final")
    assert contents(port_of(restored)) == {"kept": "yes"}


def test_a_reset_stops_every_server(memorydb, real_data):  # noqa: F811
    ports = [port_of(create(memorydb, name)) for name in ("ue-1", "ue-2")]
    assert all(answers(port) for port in ports)

    real_data.reset()

    assert memorydb_data.running_ports() == []
    assert not any(answers(port) for port in ports)


def test_with_real_data_off_nothing_is_started(aws):  # noqa: F811
    assert not aws.real_data
    aws.durations.update(memorydb_snapshot=0.05, memorydb_cluster=0.05)
    client = aws.client("memorydb")

    live = create(client, "ue-aggr")
    snapshot(client, "ue-aggr", "set-1")
    restored = create(client, "ue-aggr-restored", SnapshotName="set-1")

    assert memorydb_data.running_ports() == []
    for cluster in (live, restored):
        assert cluster["ClusterEndpoint"]["Address"].endswith(".amazonaws.com")
    assert memorydb_data.snapshot_rdb((aws.account, aws.region, "set-1")) is None
