"""How long the sandbox's asynchronous work takes, in seconds.

Tests keep these short; the demo and the benchmarks set realistic ones
(EFS job 30 s, RDS snapshot 20 s, ...). Changed at any time through
``Sandbox.durations`` (in process) or the control API (``sandbox/control.py``, out of process).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Durations:
    backup_job: float = 0.5  # AWS Backup backup job CREATED -> COMPLETED
    restore_job: float = 0.5  # AWS Backup restore job
    copy_job: float = 0.5  # AWS Backup copy job
    rds_snapshot: float = 0.5  # RDS snapshot creating -> available
    rds_snapshot_time_fixed: float = 0.1  # until SnapshotCreateTime appears
    rds_snapshot_copy: float = 0.5  # RDS snapshot copy (any region) pending -> available
    rds_instance: float = 0.5  # RDS restored instance creating -> available
    rds_delete: float = 0.5  # RDS instance deleting -> gone
    rds_rename: float = 0.5  # RDS rename: old id renaming, new id unknown -> new id available
    memorydb_snapshot: float = 0.5  # MemoryDB snapshot creating -> available
    memorydb_export: float = 0.5  # MemoryDB snapshot exporting to S3 -> available
    memorydb_cluster: float = 0.5  # MemoryDB cluster (restore) creating -> available
    memorydb_delete: float = 0.5  # MemoryDB cluster deleting -> gone
    efs_file_system: float = 0.2  # EFS file system made by CreateFileSystem creating -> available
    efs_mount_target: float = 0.3  # EFS mount target creating -> available
    datasync_execution: float = 0.5  # DataSync task execution QUEUED -> SUCCESS
    velero: float = 0.5  # Velero Backup/Restore New -> Completed
    ecd_drain: float = 0.3  # disabled ECD: pods gone after this
    ecd_start: float = 0.2  # enabled ECD: pods running after this
    job: float = 0.0  # extra time before a Kubernetes Job's command runs

    def update(self, **values: float) -> None:
        unknown = set(values) - set(asdict(self))
        if unknown:
            raise ValueError(f"unknown durations: {sorted(unknown)}")
        for name, value in values.items():
            if value < 0:
                raise ValueError(f"{name} must not be negative")
            setattr(self, name, float(value))

    def as_dict(self) -> dict[str, float]:
        return asdict(self)
