"""Sensors for RDS snapshots and restored instances, without the provider's 20-minute cap."""

from __future__ import annotations

from ue_backup.sensors.base import AwsWaiterSensor
from ue_backup.triggers.rds import RdsInstanceAvailableTrigger, RdsSnapshotAvailableTrigger


class RdsSnapshotAvailableSensor(AwsWaiterSensor):
    """Wait for a manual DB snapshot (``resource_id``: DBSnapshotIdentifier)."""

    trigger_class = RdsSnapshotAvailableTrigger


class RdsInstanceAvailableSensor(AwsWaiterSensor):
    """Wait for a DB instance (``resource_id``: DBInstanceIdentifier)."""

    trigger_class = RdsInstanceAvailableTrigger
