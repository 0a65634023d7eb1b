"""MemoryDB operators against the sandbox: the set's snapshot, restores, copies."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.plugins.support import (
    RUN_ID,
    SET_ID,
    defer,
    eventually,
    make_context,
    mutations,
    pushed_links,
)
from tests.sandbox.installation import seed_installation
from ue_backup.backup_set import BackupSet
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.memorydb import MemoryDbHook
from ue_backup.links.console import MemoryDbSnapshotLink
from ue_backup.operators.memorydb import (
    MemoryDbCopySnapshotOperator,
    MemoryDbCreateSnapshotOperator,
    MemoryDbRestoreClusterOperator,
    snapshot_record,
)
from ue_backup.sensors.memorydb import MemoryDbClusterAvailableSensor

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


def test_copy_a_snapshot_once(sandbox, hook, cluster):
    available_snapshot(sandbox, hook, cluster)
    operator = MemoryDbCopySnapshotOperator(
        task_id="copy_memorydb", source_snapshot_name=SNAPSHOT, target_snapshot_name="copy-1"
    )

    first = operator.execute(make_context())
    again = operator.execute(make_context())

    assert first["id"] == again["id"] == "copy-1"
    assert len(mutations(sandbox, "memorydb", "CopySnapshot")) == 1
    # The copy keeps the data's point in time, not the time of the copy.
    assert again["time"] == snapshot_record(hook.get_snapshot(SNAPSHOT))["time"]
    assert again["time"] is not None
