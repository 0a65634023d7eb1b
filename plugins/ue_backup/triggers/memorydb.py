"""Wait for MemoryDB snapshots and clusters without holding a worker slot."""

from __future__ import annotations

from ue_backup.hooks.memorydb import MemoryDbHook
from ue_backup.triggers.base import ResourceWaiterTrigger


class MemoryDbSnapshotAvailableTrigger(ResourceWaiterTrigger):
    """Fires when a snapshot is ``available`` (``resource_id`` is the snapshot name)."""

    aws_hook_class = MemoryDbHook
    WAITER = "snapshot_available"
    ID_ARGUMENT = "SnapshotName"
    WHAT = "MemoryDB snapshot"
    STATUS_QUERIES = ["Snapshots[0].Status"]
    DELAY = 15


class MemoryDbClusterAvailableTrigger(ResourceWaiterTrigger):
    """Fires when a cluster (restored from a snapshot) is ``available``."""

    aws_hook_class = MemoryDbHook
    WAITER = "cluster_available"
    ID_ARGUMENT = "ClusterName"
    WHAT = "MemoryDB cluster"
    STATUS_QUERIES = ["Clusters[0].Status"]
