"""Wait for a new file system, and for its mount targets, without holding a worker slot."""

from __future__ import annotations

from ue_backup.hooks.efs import EfsHook
from ue_backup.triggers.base import ResourceWaiterTrigger


class EfsMountTargetsAvailableTrigger(ResourceWaiterTrigger):
    """Fires when every mount target of a file system is ``available`` (none: at once)."""

    aws_hook_class = EfsHook
    WAITER = "mount_targets_available"
    ID_ARGUMENT = "FileSystemId"
    WHAT = "EFS mount targets of"
    STATUS_QUERIES = ["MountTargets[].LifeCycleState"]
    DELAY = 10


class EfsFileSystemAvailableTrigger(ResourceWaiterTrigger):
    """Fires when a new file system is ``available`` (EFS refuses mount targets before)."""

    aws_hook_class = EfsHook
    WAITER = "file_system_available"
    ID_ARGUMENT = "FileSystemId"
    WHAT = "EFS file system"
    STATUS_QUERIES = ["FileSystems[0].LifeCycleState"]
    DELAY = 10
