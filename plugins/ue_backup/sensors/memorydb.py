"""Sensors for MemoryDB snapshots and clusters."""

from __future__ import annotations

from ue_backup.sensors.base import AwsWaiterSensor
from ue_backup.triggers.memorydb import (
    MemoryDbClusterAvailableTrigger,
    MemoryDbSnapshotAvailableTrigger,
)


class MemoryDbSnapshotAvailableSensor(AwsWaiterSensor):
    """Wait for a snapshot (``resource_id``: snapshot name)."""

    trigger_class = MemoryDbSnapshotAvailableTrigger


class MemoryDbClusterAvailableSensor(AwsWaiterSensor):
    """Wait for a cluster (``resource_id``: cluster name)."""

    trigger_class = MemoryDbClusterAvailableTrigger
