"""Sensors for EFS: the mount targets of a file system restored side by side."""

from __future__ import annotations

from ue_backup.sensors.base import AwsWaiterSensor
from ue_backup.triggers.efs import EfsMountTargetsAvailableTrigger


class EfsMountTargetsAvailableSensor(AwsWaiterSensor):
    """Wait for a file system's mount targets (``resource_id``: FileSystemId)."""

    trigger_class = EfsMountTargetsAvailableTrigger
