"""MemoryDB: the set's snapshot of the aggregation cluster, restores and copies.

Restoring MemoryDB always makes a new cluster (``create_cluster`` with a
snapshot); its settings are copied from the source cluster so it can stand
in for it.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from ue_backup.errors import PermanentFailure
from ue_backup.hooks.memorydb import MemoryDbHook
from ue_backup.links.console import MemoryDbSnapshotLink
from ue_backup.operators.base import BackupSetMixin
from ue_backup.planning import iso, memorydb_snapshot_time


def snapshot_record(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The manifest's view of a MemoryDB snapshot (time: its earliest shard's)."""
    when = memorydb_snapshot_time(snapshot)
    shards = (snapshot.get("ClusterConfiguration") or {}).get("Shards") or []
    sizes = [s.get("Size") for s in shards if s.get("Size")]
    return {
        "id": snapshot["Name"],
        "arn": snapshot.get("ARN"),
        "time": iso(when) if when else None,
        "state": snapshot.get("Status"),
        "size_bytes": _size_bytes(sizes),
        "cluster": (snapshot.get("ClusterConfiguration") or {}).get("Name"),
    }


def _size_bytes(sizes: list[str]) -> int | None:
    """MemoryDB reports shard sizes as strings such as ``"11 MB"``."""
    units = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
    total = 0
    for size in sizes:
        number, _, unit = str(size).partition(" ")
        try:
            total += int(float(number) * units.get(unit.upper() or "B", 1))
        except ValueError:
            return None
    return total or None


class MemoryDbCreateSnapshotOperator(BackupSetMixin, AwsBaseOperator[MemoryDbHook]):
    """Create the set's snapshot of the cluster (a retry reuses it); returns its record."""

    aws_hook_class = MemoryDbHook
    template_fields = aws_template_fields("backup_set_id", "cluster_name")
    operator_extra_links = (MemoryDbSnapshotLink(),)

    def __init__(self, *, backup_set_id: str, cluster_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.backup_set_id = backup_set_id
        self.cluster_name = cluster_name

    def execute(self, context: Any) -> dict[str, Any]:
        backup_set = self.backup_set(context)
        snapshot = self.hook.create_snapshot(
            cluster_name=self.cluster_name,
            snapshot_name=backup_set.memorydb_snapshot_name,
            tags=backup_set.tag_list,
        )
        MemoryDbSnapshotLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            snapshot_name=snapshot["Name"],
        )
        self.log.info("MemoryDB snapshot %s of %s started", snapshot["Name"], self.cluster_name)
        return snapshot_record(snapshot)


class MemoryDbRestoreClusterOperator(AwsBaseOperator[MemoryDbHook]):
    """Create a new cluster from a snapshot, shaped like the source cluster."""

    aws_hook_class = MemoryDbHook
    template_fields = aws_template_fields(
        "snapshot_name", "target_cluster_name", "source_cluster_name", "tags"
    )

    def __init__(
        self,
        *,
        snapshot_name: str,
        target_cluster_name: str,
        source_cluster_name: str,
        tags: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.snapshot_name = snapshot_name
        self.target_cluster_name = target_cluster_name
        self.source_cluster_name = source_cluster_name
        self.tags = tags or {}

    def execute(self, context: Any) -> dict[str, Any]:
        existing = self.hook.get_cluster(self.target_cluster_name)
        if existing is not None:
            self.log.info("Cluster %s exists already (a retry)", self.target_cluster_name)
            return {"id": self.target_cluster_name, "state": existing.get("Status")}
        source = self.hook.get_cluster(self.source_cluster_name)
        if source is None:
            raise PermanentFailure(f"source MemoryDB cluster {self.source_cluster_name} not found")
        settings = {
            "NodeType": source["NodeType"],
            "ACLName": source.get("ACLName", "open-access"),
            "SubnetGroupName": source.get("SubnetGroupName"),
            "SecurityGroupIds": [g["SecurityGroupId"] for g in source.get("SecurityGroups", [])],
            "NumShards": source.get("NumberOfShards"),
            "TLSEnabled": source.get("TLSEnabled"),
        }
        settings = {k: v for k, v in settings.items() if v not in (None, [])}
        self.hook.conn.create_cluster(
            ClusterName=self.target_cluster_name,
            SnapshotName=self.snapshot_name,
            Tags=[{"Key": k, "Value": v} for k, v in self.tags.items()],
            **settings,
        )
        self.log.info(
            "Restoring MemoryDB cluster %s from %s", self.target_cluster_name, self.snapshot_name
        )
        return {"id": self.target_cluster_name, "state": "creating"}


class MemoryDbCopySnapshotOperator(AwsBaseOperator[MemoryDbHook]):
    """Copy a snapshot (to another name, optionally exported to an S3 bucket)."""

    aws_hook_class = MemoryDbHook
    template_fields = aws_template_fields("source_snapshot_name", "target_snapshot_name")

    def __init__(
        self,
        *,
        source_snapshot_name: str,
        target_snapshot_name: str,
        target_bucket: str | None = None,
        kms_key_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_snapshot_name = source_snapshot_name
        self.target_snapshot_name = target_snapshot_name
        self.target_bucket = target_bucket
        self.kms_key_id = kms_key_id

    def execute(self, context: Any) -> dict[str, Any]:
        existing = self.hook.get_snapshot(self.target_snapshot_name)
        if existing is not None:
            return snapshot_record(existing)
        kwargs = {"TargetBucket": self.target_bucket, "KmsKeyId": self.kms_key_id}
        copied = self.hook.conn.copy_snapshot(
            SourceSnapshotName=self.source_snapshot_name,
            TargetSnapshotName=self.target_snapshot_name,
            **{k: v for k, v in kwargs.items() if v},
        )["Snapshot"]
        return snapshot_record(copied)
