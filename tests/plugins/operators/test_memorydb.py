"""MemoryDB operators against the sandbox: the set's snapshot, restores, copies."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from sandbox.installation import seed_installation
from tests.plugins.support import (
    RUN_ID,
    SET_ID,
    defer,
    eventually,
    make_context,
    mutations,
    pushed_links,
)
from ue_backup.backup_set import BackupSet
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.memorydb import MemoryDbHook
from ue_backup.links.console import MemoryDbSnapshotLink
from ue_backup.operators.memorydb import (
    MemoryDbCopyExportOperator,
    MemoryDbCreateSnapshotOperator,
    MemoryDbExportSnapshotOperator,
    MemoryDbRestoreClusterOperator,
)
from ue_backup.records import META_NODE_TYPE, META_SHARDS, META_TIME, memorydb_snapshot_record
from ue_backup.sensors.memorydb import (
    MemoryDbClusterAvailableSensor,
    MemoryDbSnapshotAvailableSensor,
)

SNAPSHOT = f"ueb-{SET_ID}"
TARGET = "ue-test-agg-restored"


@pytest.fixture
def cluster(sandbox, fast) -> str:
    sandbox.durations.update(memorydb_snapshot=0.1, memorydb_cluster=0.1)
    return seed_installation(sandbox, velero=False, ecds=()).memorydb_cluster


@pytest.fixture
def hook(sandbox) -> MemoryDbHook:
    return MemoryDbHook()


def snapshot_operator(cluster: str) -> MemoryDbCreateSnapshotOperator:
    return MemoryDbCreateSnapshotOperator(
        task_id="start_memorydb_snapshot", backup_set_id=SET_ID, cluster_name=cluster
    )


def available_snapshot(sandbox, hook, cluster) -> dict:
    record = snapshot_operator(cluster).execute(make_context())
    eventually(sandbox, lambda: hook.get_snapshot(SNAPSHOT)["Status"] == "available")
    return record


def test_the_snapshot_is_named_and_tagged_from_the_set(sandbox, hook, cluster, context):
    record = snapshot_operator(cluster).execute(context)

    assert record["id"] == SNAPSHOT
    assert record["state"] == "creating"
    assert record["cluster"] == cluster
    (snapshot,) = hook.list_snapshots(cluster)
    assert snapshot["Tags"] == BackupSet.parse(SET_ID, RUN_ID).tags
    (created,) = mutations(sandbox, "memorydb", "CreateSnapshot")
    assert SNAPSHOT in created.target
    url = MemoryDbSnapshotLink().format_link(**pushed_links(context)[MemoryDbSnapshotLink.key])
    assert url == (
        f"https://console.aws.amazon.com/memorydb/home?region=eu-west-1#/snapshots/{SNAPSHOT}"
    )


def test_a_retry_after_success_reuses_the_snapshot_with_its_point_in_time(sandbox, hook, cluster):
    available_snapshot(sandbox, hook, cluster)

    again = snapshot_operator(cluster).execute(make_context())

    assert again["id"] == SNAPSHOT
    assert again["state"] == "available"
    assert again["time"]  # the shards' SnapshotCreationTime
    assert len(mutations(sandbox, "memorydb", "CreateSnapshot")) == 1


def test_a_missing_cluster_fails_and_creates_nothing(sandbox, cluster, context):
    with pytest.raises(ClientError, match="ClusterNotFound"):
        snapshot_operator("no-such-cluster").execute(context)
    assert mutations(sandbox, "memorydb", "CreateSnapshot") == []


def restore_operator(cluster: str, source: str | None = None) -> MemoryDbRestoreClusterOperator:
    return MemoryDbRestoreClusterOperator(
        task_id="restore_memorydb",
        snapshot_name=SNAPSHOT,
        target_cluster_name=TARGET,
        source_cluster_name=source or cluster,
        tags={"ue-backup:restore": "r-1"},
    )


def test_restore_a_new_cluster_shaped_like_the_source_then_wait_deferred(
    sandbox, hook, cluster, context
):
    available_snapshot(sandbox, hook, cluster)

    assert restore_operator(cluster).execute(context) == {"id": TARGET, "state": "creating"}

    restored, source = hook.get_cluster(TARGET), hook.get_cluster(cluster)
    assert restored["NodeType"] == source["NodeType"]
    assert restored["NumberOfShards"] == source["NumberOfShards"]
    tags = hook.conn.list_tags(ResourceArn=restored["ARN"])["TagList"]
    assert {"Key": "ue-backup:restore", "Value": "r-1"} in tags
    sensor = MemoryDbClusterAvailableSensor(task_id="wait_memorydb", resource_id=TARGET)
    assert defer(sensor, context).resume() == TARGET
    assert hook.get_cluster(TARGET)["Status"] == "available"


def test_a_restore_retry_finds_the_cluster_it_created(sandbox, hook, cluster):
    available_snapshot(sandbox, hook, cluster)
    restore_operator(cluster).execute(make_context())

    again = restore_operator(cluster).execute(make_context())

    assert again["id"] == TARGET
    assert len(mutations(sandbox, "memorydb", "CreateCluster")) == 1


def test_a_missing_source_cluster_is_refused(sandbox, cluster, context):
    with pytest.raises(PermanentFailure, match="source MemoryDB cluster nope not found"):
        restore_operator(cluster, source="nope").execute(context)
    assert mutations(sandbox, "memorydb", "CreateCluster") == []


def test_a_missing_source_cluster_gives_way_to_the_recorded_shape(sandbox, hook, cluster, context):
    """Deleted by mistake or by an attacker: seeded all the same, in the shape the copied
    files recorded (node type, shards), when the run has it."""
    available_snapshot(sandbox, hook, cluster)
    operator = restore_operator(cluster, source="nope")
    operator.node_type, operator.num_shards = "db.t4g.small", 1

    assert operator.execute(context) == {"id": TARGET, "state": "creating"}
    assert hook.get_cluster(TARGET)["NodeType"] == "db.t4g.small"


# --- the cross-region copy: export at home, files copied to a bucket there ------------------

FAR = "eu-central-1"
EXPORT, DR = "ue-test-memorydb-export", "ue-test-memorydb-dr"


@pytest.fixture
def buckets(sandbox, cluster) -> None:
    sandbox.durations.update(memorydb_export=0.1)
    for name, region in ((EXPORT, sandbox.region), (DR, FAR)):
        sandbox.client("s3", region=region).create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": region}
        )
    sandbox.log.clear()


def export_operator() -> MemoryDbExportSnapshotOperator:
    return MemoryDbExportSnapshotOperator(
        task_id="export_memorydb_snapshot", backup_set_id=SET_ID, bucket=EXPORT
    )


def copy_export_operator() -> MemoryDbCopyExportOperator:
    return MemoryDbCopyExportOperator(
        task_id="copy_memorydb_snapshot",
        backup_set_id=SET_ID,
        export_bucket=EXPORT,
        target_bucket=DR,
        destination_region=FAR,
    )


def exported(sandbox, hook, cluster, context) -> dict:
    """The set's snapshot, exported and waited for as the DAG does."""
    available_snapshot(sandbox, hook, cluster)
    started = export_operator().execute(context)
    sensor = MemoryDbSnapshotAvailableSensor(task_id="wait", resource_id=started["snapshot"])
    assert defer(sensor, context).resume() == SNAPSHOT
    return started


def test_export_then_copy_to_a_bucket_of_the_other_region_with_the_sets_tags(
    sandbox, hook, cluster, buckets, context
):
    started = exported(sandbox, hook, cluster, context)
    assert started == {
        "snapshot": SNAPSHOT,
        "bucket": EXPORT,
        "prefix": f"{SNAPSHOT}-",
        "region": sandbox.region,
    }

    record = copy_export_operator().execute(context)

    far = sandbox.client("s3", region=FAR)
    keys = [o["Key"] for o in far.list_objects_v2(Bucket=DR)["Contents"]]
    assert keys == [f"{SNAPSHOT}-0001.rdb"]
    assert record["snapshot_arns"] == [f"arn:aws:s3:::{DR}/{SNAPSHOT}-0001.rdb"]
    assert (record["region"], record["state"], record["bucket"]) == (FAR, "available", DR)
    source = memorydb_snapshot_record(hook.get_snapshot(SNAPSHOT))
    assert record["time"] == source["time"]
    head = far.head_object(Bucket=DR, Key=keys[0])
    assert record["size_bytes"] == head["ContentLength"] > 0
    assert head["Metadata"][META_TIME] == source["time"]
    assert head["Metadata"][META_SHARDS] == "1"
    assert head["Metadata"][META_NODE_TYPE] == "db.t4g.small"
    tags = far.get_object_tagging(Bucket=DR, Key=keys[0])["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == BackupSet.parse(SET_ID, RUN_ID).tags
    assert len(mutations(sandbox, "memorydb", "CopySnapshot")) == 1
    (copied,) = mutations(sandbox, "s3", "CopyObject")
    assert DR in copied.target


def test_a_retry_after_success_exports_and_copies_nothing_again(
    sandbox, hook, cluster, buckets, context
):
    exported(sandbox, hook, cluster, context)
    first = copy_export_operator().execute(make_context())
    sandbox.log.clear()

    export_operator().execute(make_context())
    again = copy_export_operator().execute(make_context())

    assert again == first
    assert mutations(sandbox, "memorydb", "CopySnapshot") == []
    assert mutations(sandbox, "s3", "CopyObject") == []


def test_an_incomplete_export_fails_the_copy_for_a_retry(sandbox, hook, cluster, buckets, context):
    available_snapshot(sandbox, hook, cluster)  # not exported yet

    with pytest.raises(RuntimeError, match="holds 0 of 1 shard files"):
        copy_export_operator().execute(context)
    assert mutations(sandbox, "s3", "CopyObject") == []


def test_a_failed_export_fails_its_wait(sandbox, hook, cluster, buckets, context):
    from sandbox.faults import Fault

    available_snapshot(sandbox, hook, cluster)
    sandbox.faults.add(Fault("memorydb", "CopySnapshot", kind="outcome", state="failed"))
    started = export_operator().execute(context)

    sensor = MemoryDbSnapshotAvailableSensor(
        task_id="wait", resource_id=started["snapshot"], deferrable=False
    )
    with pytest.raises(PermanentFailure, match="failed"):
        sensor.execute(context)


def test_a_cluster_is_seeded_in_the_other_region_from_the_copy(
    sandbox, hook, cluster, buckets, context
):
    exported(sandbox, hook, cluster, context)
    record = copy_export_operator().execute(make_context())
    operator = MemoryDbRestoreClusterOperator(
        task_id="restore_memorydb",
        target_cluster_name=TARGET,
        source_cluster_name=None,
        snapshot_arns=record["snapshot_arns"],
        node_type=record["node_type"],
        num_shards=record["num_shards"],
        region_name=FAR,
    )

    assert operator.execute(context)["state"] == "creating"

    sensor = MemoryDbClusterAvailableSensor(task_id="w", resource_id=TARGET, region_name=FAR)
    assert defer(sensor, context).resume() == TARGET
    far = MemoryDbHook(region_name=FAR).get_cluster(TARGET)
    assert far["NodeType"] == "db.t4g.small"
    assert hook.get_cluster(TARGET) is None  # nothing at home


def test_a_restore_needs_exactly_one_source(sandbox, cluster, context):
    operator = MemoryDbRestoreClusterOperator(
        task_id="restore_memorydb",
        target_cluster_name=TARGET,
        source_cluster_name=cluster,
        snapshot_name=SNAPSHOT,
        snapshot_arns=["arn:aws:s3:::b/k.rdb"],
    )
    with pytest.raises(PermanentFailure, match="exactly one of snapshot_name and snapshot_arns"):
        operator.execute(context)
    assert mutations(sandbox, "memorydb", "CreateCluster") == []
