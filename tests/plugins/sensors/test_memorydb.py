"""MemoryDB sensors against the sandbox: snapshots and restored clusters, both ways of waiting."""

from __future__ import annotations

import pytest

from sandbox.faults import Fault
from tests.plugins.support import defer, eventually
from ue_backup.errors import PermanentFailure
from ue_backup.sensors.memorydb import (
    MemoryDbClusterAvailableSensor,
    MemoryDbSnapshotAvailableSensor,
)

CLUSTER = "ue-test-agg"


@pytest.fixture
def memorydb(sandbox, fast):
    sandbox.durations.update(memorydb_snapshot=0.1, memorydb_cluster=0.1)
    client = sandbox.client("memorydb")
    client.create_cluster(
        ClusterName=CLUSTER, NodeType="db.t4g.small", ACLName="open-access", NumShards=1
    )
    return client


def status(memorydb, name: str) -> str:
    return memorydb.describe_snapshots(SnapshotName=name)["Snapshots"][0]["Status"]


def restore_from_snapshot(sandbox, memorydb, target: str) -> str:
    memorydb.create_snapshot(ClusterName=CLUSTER, SnapshotName="source")
    eventually(sandbox, lambda: status(memorydb, "source") == "available")
    memorydb.create_cluster(
        ClusterName=target, NodeType="db.t4g.small", ACLName="open-access", SnapshotName="source"
    )
    return target


def assert_both_paths_fail(sensor_class, resource_id: str, context, *expected: str) -> None:
    deferral = defer(sensor_class(task_id="wait", resource_id=resource_id), context)
    assert deferral.wait()["status"] == "error"
    with pytest.raises(PermanentFailure) as deferred_failure:
        deferral.resume()
    poking = sensor_class(task_id="wait", resource_id=resource_id, deferrable=False)
    with pytest.raises(PermanentFailure) as poked_failure:
        poking.execute(context)
    for text in expected:
        assert text in str(deferred_failure.value)
        assert text in str(poked_failure.value)


def test_an_available_snapshot_both_ways(sandbox, memorydb, context):
    sandbox.faults.add(Fault("memorydb", "CreateSnapshot", kind="never", target="stuck"))
    memorydb.create_snapshot(ClusterName=CLUSTER, SnapshotName="stuck")
    memorydb.create_snapshot(ClusterName=CLUSTER, SnapshotName="snap")

    deferral = defer(MemoryDbSnapshotAvailableSensor(task_id="w", resource_id="snap"), context)
    assert deferral.resume() == "snap"
    stuck = MemoryDbSnapshotAvailableSensor(task_id="w", resource_id="stuck", deferrable=False)
    assert stuck.poke(context) is False
    poking = MemoryDbSnapshotAvailableSensor(task_id="w", resource_id="snap", deferrable=False)
    assert poking.execute(context) == "snap"


def test_a_failed_snapshot_fails_both_ways(sandbox, memorydb, context):
    sandbox.faults.add(Fault("memorydb", "CreateSnapshot", kind="outcome", state="failed"))
    memorydb.create_snapshot(ClusterName=CLUSTER, SnapshotName="snap")

    assert_both_paths_fail(MemoryDbSnapshotAvailableSensor, "snap", context, "snap", "failed")


def test_a_snapshot_that_does_not_exist_fails_both_ways(sandbox, memorydb, context):
    assert_both_paths_fail(MemoryDbSnapshotAvailableSensor, "nope", context, "nope")


def test_an_available_restored_cluster_both_ways(sandbox, memorydb, context):
    restore_from_snapshot(sandbox, memorydb, "restored")

    deferral = defer(MemoryDbClusterAvailableSensor(task_id="w", resource_id="restored"), context)
    assert deferral.resume() == "restored"
    poking = MemoryDbClusterAvailableSensor(task_id="w", resource_id="restored", deferrable=False)
    assert poking.execute(context) == "restored"


def test_a_cluster_that_failed_to_create_fails_both_ways(sandbox, memorydb, context):
    sandbox.faults.add(Fault("memorydb", "CreateCluster", kind="outcome", state="create-failed"))
    restore_from_snapshot(sandbox, memorydb, "restored")

    assert_both_paths_fail(
        MemoryDbClusterAvailableSensor, "restored", context, "restored", "create-failed"
    )
