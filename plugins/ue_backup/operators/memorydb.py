"""MemoryDB: the set's snapshot of the aggregation cluster, restores and copies.

A copy in another region is not a MemoryDB snapshot: MemoryDB copies only
within a region and exports only to a bucket of its own region, so the
set's snapshot is exported there and its files are copied to a bucket of
the copy region (``MemoryDbExportSnapshotOperator``,
``MemoryDbCopyExportOperator``); a cluster is seeded from them.

Restoring MemoryDB always makes a new cluster (``create_cluster`` with a
snapshot); its settings are copied from the source cluster so it can stand
in for it: node type, shards and network, and what ``restored_shape`` keeps
(engine and version, parameter group, data tiering, IP settings).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from ue_backup.errors import PermanentFailure
from ue_backup.hooks.memorydb import MemoryDbHook
from ue_backup.hooks.s3 import S3Hook
from ue_backup.links.console import MemoryDbSnapshotLink
from ue_backup.operators.base import BackupSetMixin
from ue_backup.recorded_network import OPEN_ACCESS, memorydb_shape
from ue_backup.records import (
    META_NODE_TYPE,
    META_SHARDS,
    META_TIME,
    memorydb_copy_metadata,
    memorydb_snapshot_record,
    s3_object_arn,
)
from ue_backup.restored_shape import memorydb_create_arguments
from ue_backup.restored_shape import memorydb_shape as memorydb_shape_record
from ue_backup.restored_shape import recorded as recorded_shape


class MemoryDbCreateSnapshotOperator(BackupSetMixin, AwsBaseOperator[MemoryDbHook]):
    """Create the set's snapshot of the cluster (a retry reuses it); returns its record."""

    aws_hook_class = MemoryDbHook
    template_fields = aws_template_fields("botocore_config", "backup_set_id", "cluster_name")
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
        return memorydb_snapshot_record(snapshot)


class MemoryDbRestoreClusterOperator(AwsBaseOperator[MemoryDbHook]):
    """Create a new cluster from a snapshot, shaped like the source cluster.

    From a MemoryDB snapshot (``snapshot_name``), or seeded from ``.rdb``
    files in S3 (``snapshot_arns``: a snapshot's cross-region copy). In a
    region without the source cluster (``source_cluster_name`` None), the
    shape comes from ``node_type`` and ``num_shards`` (recorded with the
    copy), with the region's default network and the ``open-access`` ACL.
    """

    aws_hook_class = MemoryDbHook
    template_fields = aws_template_fields(
        "botocore_config",
        "snapshot_name",
        "snapshot_arns",
        "target_cluster_name",
        "source_cluster_name",
        "node_type",
        "num_shards",
        "tags",
        "recorded_network",
    )

    def __init__(
        self,
        *,
        target_cluster_name: str,
        source_cluster_name: str | None,
        snapshot_name: str | None = None,
        snapshot_arns: list[str] | None = None,
        node_type: str | None = None,
        num_shards: int | None = None,
        tags: dict[str, str] | None = None,
        recorded_network: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.recorded_network = recorded_network
        self.snapshot_name = snapshot_name
        self.snapshot_arns = snapshot_arns
        self.target_cluster_name = target_cluster_name
        self.source_cluster_name = source_cluster_name
        self.node_type = node_type
        self.num_shards = num_shards
        self.tags = tags or {}

    def _recorded_shape(self) -> dict[str, Any]:
        """The files' node type and shard count; the network and shape the set recorded.

        Without a recorded network (a restore in the copy region, an older set), the
        ``open-access`` ACL and the default network, as before; with one, never
        ``open-access`` unless that is what the live cluster had. Without a recorded
        shape, only what the node type requires (data tiering on ``r6gd``).
        """
        if not self.node_type:
            raise PermanentFailure("without a source cluster, node_type is required")
        shape = {"NodeType": self.node_type, "ACLName": OPEN_ACCESS, "NumShards": self.num_shards}
        recorded = memorydb_shape(self.recorded_network)
        if recorded["ACLName"]:
            self.log.info(
                "%s gets the recorded network: subnet group %s, security groups %s, ACL %s, TLS %s",
                self.target_cluster_name,
                recorded["SubnetGroupName"],
                ", ".join(recorded["SecurityGroupIds"]) or "none",
                recorded["ACLName"],
                recorded["TLSEnabled"],
            )
            shape.update(recorded)
        kept = recorded_shape(self.recorded_network, "memorydb")
        return {**shape, **self._kept(kept, self.node_type, "as recorded" if kept else None)}

    def _kept(
        self, shape: dict[str, Any] | None, node_type: str | None, whence: str | None
    ) -> dict[str, Any]:
        """``CreateCluster``'s arguments for what the restore keeps (``restored_shape``)."""
        arguments = memorydb_create_arguments(shape, node_type)
        if whence:
            self.log.info(
                "%s keeps %s's engine %s %s, parameter group %s, data tiering %s, network "
                "type %s, IP discovery %s",
                self.target_cluster_name,
                f"{self.source_cluster_name} ({whence})",
                arguments.get("Engine", "(the default)"),
                arguments.get("EngineVersion", "(the default)"),
                arguments.get("ParameterGroupName", "(the default)"),
                "on" if arguments.get("DataTiering") else "off",
                arguments.get("NetworkType", "(the default)"),
                arguments.get("IpDiscovery", "(the default)"),
            )
        return arguments

    def _shape(self) -> dict[str, Any]:
        if not self.source_cluster_name:
            return self._recorded_shape()
        source = self.hook.get_cluster(self.source_cluster_name)
        if source is None and self.node_type and memorydb_shape(self.recorded_network)["ACLName"]:
            # Deleted by an attacker (a restore from the protected copies): the recorded
            # network (the plan checked it still exists).
            return self._recorded_shape()
        if source is None and self.node_type:
            # Deleted (by mistake, or by an attacker: a restore from the protected copies):
            # seeded all the same, in the shape the files recorded.
            self.log.warning(
                "Source cluster %s not found: %s gets the recorded node type and shard count, "
                "the open-access ACL and the default network; secure it before use",
                self.source_cluster_name,
                self.target_cluster_name,
            )
            return self._recorded_shape()
        if source is None:
            raise PermanentFailure(f"source MemoryDB cluster {self.source_cluster_name} not found")
        return {
            "NodeType": source["NodeType"],
            "ACLName": source.get("ACLName", "open-access"),
            "SubnetGroupName": source.get("SubnetGroupName"),
            "SecurityGroupIds": [g["SecurityGroupId"] for g in source.get("SecurityGroups", [])],
            "NumShards": source.get("NumberOfShards"),
            "TLSEnabled": source.get("TLSEnabled"),
            **self._kept(memorydb_shape_record(source), source["NodeType"], "live"),
        }

    def execute(self, context: Any) -> dict[str, Any]:
        if bool(self.snapshot_name) == bool(self.snapshot_arns):
            raise PermanentFailure("give exactly one of snapshot_name and snapshot_arns")
        existing = self.hook.get_cluster(self.target_cluster_name)
        if existing is not None:
            self.log.info("Cluster %s exists already (a retry)", self.target_cluster_name)
            return {"id": self.target_cluster_name, "state": existing.get("Status")}
        settings = {k: v for k, v in self._shape().items() if v not in (None, [])}
        source = (
            {"SnapshotName": self.snapshot_name}
            if self.snapshot_name
            else {"SnapshotArns": list(self.snapshot_arns or [])}
        )
        self.hook.conn.create_cluster(
            ClusterName=self.target_cluster_name,
            Tags=[{"Key": k, "Value": v} for k, v in self.tags.items()],
            **source,
            **settings,
        )
        self.log.info(
            "Restoring MemoryDB cluster %s from %s",
            self.target_cluster_name,
            self.snapshot_name or ", ".join(self.snapshot_arns or []),
        )
        return {"id": self.target_cluster_name, "state": "creating"}


# --- cross-region copies -----------------------------------------------------------------
# MemoryDB has no cross-region snapshot copy, and exports a snapshot only to an S3
# bucket of its own region. The set's copy in another region is therefore its
# export's .rdb files, copied to a bucket there, from which a cluster is seeded.


def export_prefix(snapshot_name: str) -> str:
    """The key prefix of a snapshot's export: MemoryDB writes ``<name>-0001.rdb``, ..."""
    return f"{snapshot_name}-"


def rdb_keys(s3: Any, bucket: str, snapshot_name: str) -> list[dict[str, Any]]:
    """The ``.rdb`` objects of one snapshot's export in ``bucket``, by key."""
    paginator = s3.get_paginator("list_objects_v2")
    found = [
        obj
        for page in paginator.paginate(Bucket=bucket, Prefix=export_prefix(snapshot_name))
        for obj in page.get("Contents", [])
        if obj["Key"].endswith(".rdb")
    ]
    return sorted(found, key=lambda o: o["Key"])


def s3_client(hook: AwsBaseHook, region: str) -> Any:
    """An S3 client through the hook's connection, in ``region``."""
    return S3Hook(aws_conn_id=hook.aws_conn_id, region_name=region, config=hook.config).conn


class MemoryDbExportSnapshotOperator(BackupSetMixin, AwsBaseOperator[MemoryDbHook]):
    """Export the set's snapshot to an S3 bucket of the home region (``CopySnapshot``).

    MemoryDB writes one ``<snapshot>-<shard>.rdb`` object per shard; the
    snapshot shows ``exporting`` meanwhile, so ``MemoryDbSnapshotAvailableSensor``
    on it waits for the export. A retry that finds the export's objects
    starts nothing. Returns ``{"snapshot", "bucket", "prefix", "region"}``.
    """

    aws_hook_class = MemoryDbHook
    template_fields = aws_template_fields("botocore_config", "backup_set_id", "bucket")

    def __init__(self, *, backup_set_id: str, bucket: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.backup_set_id = backup_set_id
        self.bucket = bucket

    def execute(self, context: Any) -> dict[str, Any]:
        name = self.backup_set(context).memorydb_snapshot_name
        region = self.hook.conn_region_name
        if rdb_keys(s3_client(self.hook, region), self.bucket, name):
            self.log.info("Snapshot %s is exported to %s already (a retry)", name, self.bucket)
        else:
            self.hook.conn.copy_snapshot(
                SourceSnapshotName=name, TargetSnapshotName=name, TargetBucket=self.bucket
            )
            self.log.info("Exporting MemoryDB snapshot %s to s3://%s/", name, self.bucket)
        return {
            "snapshot": name,
            "bucket": self.bucket,
            "prefix": export_prefix(name),
            "region": region,
        }


class MemoryDbCopyExportOperator(BackupSetMixin, AwsBaseOperator[MemoryDbHook]):
    """Copy the set's exported snapshot into a bucket of another region.

    Each ``.rdb`` file is copied (S3 managed copy: multipart when large) to
    ``target_bucket`` in ``destination_region``, tagged with the set and
    carrying, as user metadata, what a restore there needs: the snapshot's
    point in time (its earliest shard's), node type, shard count and engine
    version, read from the snapshot itself (``region_name``, the home
    region). A file already copied is left alone, so a retry copies only
    what is missing. Fails, to be retried, while the export is incomplete.
    Returns the copy's record: region, id, arn, time, state, size_bytes,
    bucket, snapshot_arns.
    """

    aws_hook_class = MemoryDbHook
    template_fields = aws_template_fields(
        "botocore_config", "backup_set_id", "export_bucket", "target_bucket", "destination_region"
    )

    def __init__(
        self,
        *,
        backup_set_id: str,
        export_bucket: str,
        target_bucket: str,
        destination_region: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.backup_set_id = backup_set_id
        self.export_bucket = export_bucket
        self.target_bucket = target_bucket
        self.destination_region = destination_region

    def execute(self, context: Any) -> dict[str, Any]:
        backup_set = self.backup_set(context)
        name = backup_set.memorydb_snapshot_name
        snapshot = self.hook.get_snapshot(name)
        if snapshot is None:
            raise PermanentFailure(f"MemoryDB snapshot {name} not found")
        metadata = memorydb_copy_metadata(snapshot)
        source = s3_client(self.hook, self.hook.conn_region_name)
        target = s3_client(self.hook, self.destination_region)
        exported = rdb_keys(source, self.export_bucket, name)
        if len(exported) < int(metadata[META_SHARDS]):
            raise RuntimeError(  # not a PermanentFailure: retried, MemoryDB may still be writing
                f"the export of {name} to s3://{self.export_bucket}/ holds {len(exported)} of "
                f"{metadata[META_SHARDS]} shard files"
            )
        copied = {o["Key"]: o for o in rdb_keys(target, self.target_bucket, name)}
        for obj in exported:
            if obj["Key"] in copied and copied[obj["Key"]]["Size"] == obj["Size"]:
                self.log.info("%s is copied already (a retry)", obj["Key"])
                continue
            target.copy(
                {"Bucket": self.export_bucket, "Key": obj["Key"]},
                self.target_bucket,
                obj["Key"],
                ExtraArgs={
                    "Metadata": metadata,
                    "MetadataDirective": "REPLACE",
                    "Tagging": urlencode(backup_set.tags),
                    "TaggingDirective": "REPLACE",
                },
                SourceClient=source,
            )
            self.log.info(
                "Copied s3://%s/%s to s3://%s/ in %s",
                self.export_bucket,
                obj["Key"],
                self.target_bucket,
                self.destination_region,
            )
        return copy_export_record(
            name, self.target_bucket, self.destination_region, exported, metadata
        )


def copy_export_record(
    name: str, bucket: str, region: str, objects: list[dict[str, Any]], metadata: dict[str, str]
) -> dict[str, Any]:
    """The manifest's view of a MemoryDB snapshot's cross-region copy (its .rdb files)."""
    arns = [s3_object_arn(bucket, o["Key"]) for o in objects]
    return {
        "id": f"s3://{bucket}/{export_prefix(name)}",
        "arn": arns[0] if len(arns) == 1 else None,
        "snapshot_arns": arns,
        "time": metadata[META_TIME],
        "state": "available",
        "size_bytes": sum(int(o.get("Size") or o.get("ContentLength") or 0) for o in objects),
        "region": region,
        "bucket": bucket,
        "node_type": metadata[META_NODE_TYPE],
        "num_shards": int(metadata[META_SHARDS]),
        "snapshot": name,
    }
