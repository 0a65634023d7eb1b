"""Wait for RDS snapshots without holding a worker slot.

The provider's ``RdsSnapshotExistenceSensor`` only pokes and
``RdsCreateDbSnapshotOperator`` waits at most about 20 minutes; a large
snapshot can take hours, so this trigger uses botocore's own
``db_snapshot_available`` waiter with a day-long budget.
"""

from __future__ import annotations

from ue_backup.hooks.rds import RdsHook
from ue_backup.triggers.base import ResourceWaiterTrigger


class RdsSnapshotAvailableTrigger(ResourceWaiterTrigger):
    """Fires when a manual DB snapshot is ``available`` (``resource_id`` is its identifier)."""

    aws_hook_class = RdsHook
    WAITER = "db_snapshot_available"
    ID_ARGUMENT = "DBSnapshotIdentifier"
    WHAT = "RDS snapshot"
    STATUS_QUERIES = ["DBSnapshots[0].Status", "DBSnapshots[0].PercentProgress"]


class RdsInstanceAvailableTrigger(ResourceWaiterTrigger):
    """Fires when a (restored) DB instance is ``available``."""

    aws_hook_class = RdsHook
    WAITER = "db_instance_available"
    ID_ARGUMENT = "DBInstanceIdentifier"
    WHAT = "RDS DB instance"
    STATUS_QUERIES = ["DBInstances[0].DBInstanceStatus"]
