"""MemoryDB triggers run against the sandbox, rebuilt from their serialized form."""

from __future__ import annotations

import pytest

from sandbox.faults import Fault
from tests.plugins.support import round_trip
from ue_backup.triggers.base import run_inline
from ue_backup.triggers.memorydb import (
    MemoryDbClusterAvailableTrigger,
    MemoryDbSnapshotAvailableTrigger,
)


@pytest.fixture
def memorydb(sandbox):
    sandbox.durations.update(memorydb_snapshot=0.1, memorydb_cluster=0.1)
    client = sandbox.client("memorydb")
    client.create_cluster(
        ClusterName="agg", NodeType="db.t4g.small", ACLName="open-access", NumShards=1
    )
    return client


def test_the_snapshot_trigger_fires_when_the_snapshot_is_available(memorydb):
    memorydb.create_snapshot(ClusterName="agg", SnapshotName="snap")
    trigger = round_trip(MemoryDbSnapshotAvailableTrigger(resource_id="snap", waiter_delay=0.1))

    assert run_inline(trigger) == {"status": "success", "resource_id": "snap"}


def test_the_snapshot_trigger_reports_a_failed_snapshot(sandbox, memorydb):
    sandbox.faults.add(Fault("memorydb", "CreateSnapshot", kind="outcome", state="failed"))
    memorydb.create_snapshot(ClusterName="agg", SnapshotName="snap")
    trigger = round_trip(MemoryDbSnapshotAvailableTrigger(resource_id="snap", waiter_delay=0.1))

    event = run_inline(trigger)

    assert event["status"] == "error"
    assert "MemoryDB snapshot snap failed: failed" in event["message"]


def test_the_cluster_trigger_fires_for_an_available_cluster(memorydb):
    trigger = round_trip(MemoryDbClusterAvailableTrigger(resource_id="agg", waiter_delay=0.1))

    assert run_inline(trigger) == {"status": "success", "resource_id": "agg"}


def test_the_cluster_trigger_reports_a_missing_cluster(memorydb):
    trigger = round_trip(MemoryDbClusterAvailableTrigger(resource_id="gone", waiter_delay=0.1))

    event = run_inline(trigger)

    assert event["status"] == "error"
    assert "MemoryDB cluster gone failed" in event["message"]
