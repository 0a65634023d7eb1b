"""A restore's steps as the planner hands them on, for tests that need one (pure data)."""

from __future__ import annotations

from typing import Any

COMPONENT_FLAGS = ("restore_database", "restore_efs", "restore_memorydb", "restore_velero")


def restore_steps(**changes: Any) -> dict[str, Any]:
    """The fields of ``run_settings.RestoreSteps``: nothing restored, then ``changes``."""
    return {
        **dict.fromkeys(COMPONENT_FLAGS, False),
        "rds_snapshot_id": None,
        "rds_restore_time": None,
        "recovery_point_arn": "arn:aws:backup:eu-west-1:123456789012:recovery-point:x",
        "memorydb_snapshot_name": None,
        "velero_backup_name": None,
        "velero_backup_set": None,
        "switch_over_database": False,
        "resume_owners": [],
        "memorydb_snapshot_arns": None,
        "memorydb_node_type": None,
        "memorydb_num_shards": None,
        **changes,
    }
