"""What retention may delete: every artifact of a backup set, reduced to one shape.

The retention policy (``retention.py``) judges sets, not API responses. Each
listed artifact (RDS snapshot, AWS Backup recovery point, MemoryDB snapshot,
Velero backup, manifest, the copies of the first three in another region, and a
DataSync set's copy: its folder on the target file system with its task and
destination location) becomes an ``Artifact`` here: the id a delete call needs, where it lives, the
installation and set it claims through its tags, its state, time and size.
Sizes are what AWS reports, read the way the manifest reads them, so the cost
figures of retention and of a manifest agree. Nothing here calls AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from ue_backup.backup_set import (
    BACKUP_SET_LABEL,
    BACKUP_SET_TAG,
    INSTALLATION_LABEL,
    INSTALLATION_TAG,
    tag_dict,
)
from ue_backup.manifest import GB
from ue_backup.planning import iso, memorydb_snapshot_time, rds_snapshot_time, to_utc
from ue_backup.records import memorydb_snapshot_record

# The kinds, as the manifest names them; a copy in another region adds "_copy".
RDS_SNAPSHOT = "rds_snapshot"
EFS_RECOVERY_POINT = "efs_recovery_point"
# The database's AWS Backup recovery point, made with the immutable section (the source of
# its locked copy): in the same vault as the EFS points, deleted with its set like them.
RDS_RECOVERY_POINT = "rds_recovery_point"
MEMORYDB_SNAPSHOT = "memorydb_snapshot"
VELERO_BACKUP = "velero_backup"
MANIFEST = "manifest"
# A DataSync set's copy: the folder on the target file system, its task and its destination
# location, deleted together (the folder first, by a Kubernetes Job: tasks/retention_datasync).
DATASYNC_FOLDER = "datasync_folder"
# The state of a DataSync copy whose task could not be read when listed (set_copies' Error).
UNREADABLE = "UNREADABLE"
COPY = "_copy"

# States in which an artifact is still being made: its set's backup (or copy) runs.
BEING_MADE = {
    RDS_SNAPSHOT: {"creating", "copying", "pending"},
    EFS_RECOVERY_POINT: {"CREATING"},
    RDS_RECOVERY_POINT: {"CREATING"},
    # "restoring": a cluster is being restored from it right now (in use).
    MEMORYDB_SNAPSHOT: {"creating", "copying", "restoring"},
    # The set's execution (TaskExecutionStatus); a task with none yet is not being made: the
    # newest sets are kept by keep_last anyway, and a crashed run's task must not stay forever.
    DATASYNC_FOLDER: {
        "QUEUED",
        "LAUNCHING",
        "PREPARING",
        "TRANSFERRING",
        "VERIFYING",
        "CANCELLING",
    },
    VELERO_BACKUP: {
        "",
        "New",
        "Queued",
        "ReadyToStart",
        "InProgress",
        "WaitingForPluginOperations",
        "WaitingForPluginOperationsPartiallyFailed",
        "Finalizing",
        "FinalizingPartiallyFailed",
    },
}


def base_kind(kind: str) -> str:
    """``rds_snapshot_copy`` -> ``rds_snapshot``: a copy is priced and deleted like its source."""
    return kind.removesuffix(COPY)


@dataclass(frozen=True)
class Artifact:
    """One deletable artifact and the installation and set its tags (or labels) claim."""

    kind: str
    service: str  # what deletes it: rds, backup, memorydb, s3, velero or datasync
    # snapshot id, recovery point ARN, MemoryDB snapshot name, Velero name, S3 key, the
    # DataSync set's task ARN
    id: str
    region: str | None  # None for Velero (Kubernetes)
    # backup vault, S3 bucket, Velero namespace, the DataSync target's file system id
    container: str | None
    installation: str | None
    backup_set: str | None
    state: str | None = None
    time: str | None = None  # ISO 8601, UTC
    size_bytes: int | None = None
    group: str | None = None  # MemoryDB: the cluster (one snapshot per cluster is free)
    location: str | None = None  # DataSync: the set's destination location (its folder's)
    folder: str | None = None  # DataSync: the set's folder on the target file system

    @property
    def being_made(self) -> bool:
        return (self.state or "") in BEING_MADE.get(base_kind(self.kind), set())

    @property
    def label(self) -> str:
        if self.folder:  # a DataSync copy: where its data is, then its task
            return f"{self.kind} {self.container}:{self.folder} (task {self.id})"
        where = f" in {self.region}" if self.kind.endswith(COPY) else ""
        return f"{self.kind} {self.id}{where}"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Artifact:
        return cls(**data)


def _kind(kind: str, region: str, home_region: str) -> str:
    return kind if region == home_region else kind + COPY


def _time(value: datetime | str | None) -> str | None:
    moment = to_utc(value)
    return iso(moment) if moment else None


def rds_snapshot(snapshot: Mapping[str, Any], region: str, home_region: str) -> Artifact:
    """A manual DB snapshot as ``DescribeDBSnapshots`` returns it (with its ``TagList``)."""
    tags = tag_dict(snapshot.get("TagList"))
    storage = snapshot.get("AllocatedStorage")
    return Artifact(
        kind=_kind(RDS_SNAPSHOT, region, home_region),
        service="rds",
        id=snapshot["DBSnapshotIdentifier"],
        region=region,
        container=snapshot.get("DBInstanceIdentifier"),
        installation=tags.get(INSTALLATION_TAG),
        backup_set=tags.get(BACKUP_SET_TAG),
        state=snapshot.get("Status"),
        time=_time(rds_snapshot_time(snapshot)),  # a copy: its source's time
        size_bytes=storage * GB if storage else None,
    )


def recovery_point(point: Mapping[str, Any], region: str, home_region: str) -> Artifact:
    """An AWS Backup recovery point as the vault lists it, with ``Tags`` (``ListTags``)."""
    tags = point.get("Tags") or {}
    kind = RDS_RECOVERY_POINT if point.get("ResourceType") == "RDS" else EFS_RECOVERY_POINT
    return Artifact(
        kind=_kind(kind, region, home_region),
        service="backup",
        id=point["RecoveryPointArn"],
        region=region,
        container=point.get("BackupVaultName"),
        installation=tags.get(INSTALLATION_TAG),
        backup_set=tags.get(BACKUP_SET_TAG),
        state=point.get("Status"),
        time=_time(point.get("CreationDate")),
        size_bytes=point.get("BackupSizeInBytes"),
    )


def memorydb_snapshot(snapshot: Mapping[str, Any], region: str, home_region: str) -> Artifact:
    """A MemoryDB snapshot (``ShowDetail``) with ``Tags`` as a dict; size: its shards' sizes."""
    tags = snapshot.get("Tags") or {}
    when = memorydb_snapshot_time(snapshot)
    return Artifact(
        kind=_kind(MEMORYDB_SNAPSHOT, region, home_region),
        service="memorydb",
        id=snapshot["Name"],
        region=region,
        container=None,
        installation=tags.get(INSTALLATION_TAG),
        backup_set=tags.get(BACKUP_SET_TAG),
        state=snapshot.get("Status"),
        time=iso(when) if when else None,
        size_bytes=memorydb_snapshot_record(dict(snapshot))["size_bytes"],
        group=(snapshot.get("ClusterConfiguration") or {}).get("Name"),
    )


def velero_backup(backup: Mapping[str, Any]) -> Artifact:
    """A Velero ``Backup`` object; its labels carry the installation and the set."""
    meta, status = backup.get("metadata") or {}, backup.get("status") or {}
    labels = meta.get("labels") or {}
    return Artifact(
        kind=VELERO_BACKUP,
        service="velero",
        id=meta["name"],
        region=None,
        container=meta.get("namespace"),
        installation=labels.get(INSTALLATION_LABEL),
        backup_set=labels.get(BACKUP_SET_LABEL),
        state=status.get("phase") or "",
        time=_time(status.get("startTimestamp") or meta.get("creationTimestamp")),
    )


def manifest(
    key: str, bucket: str, region: str, body: Mapping[str, Any] | None, size: int | None
) -> Artifact:
    """A manifest object; it claims what its own body says (unreadable: nothing).

    The key must be where that set's manifest is written, so a manifest
    copied or renamed elsewhere is never taken for the set it describes.
    """
    body = body if isinstance(body, Mapping) else {}
    installation, backup_set = body.get("installation"), body.get("backup_set")
    if not _written_at(key, installation, backup_set):
        installation = backup_set = None
    return Artifact(
        kind=MANIFEST,
        service="s3",
        id=key,
        region=region,
        container=bucket,
        installation=installation,
        backup_set=backup_set,
        state="available",
        time=_time(body.get("created_at")),
        size_bytes=size,
    )


def memorydb_copy_object(
    obj: Mapping[str, Any], bucket: str, region: str, tags: Mapping[str, str]
) -> Artifact:
    """One ``.rdb`` file of a MemoryDB snapshot's cross-region copy (an S3 object).

    MemoryDB cannot copy a snapshot to another region: the set's snapshot is
    exported and its files copied to a bucket there, tagged with the set
    (``ListObjectsV2`` entry, ``GetObjectTagging``'s tags as a dict).
    """
    return Artifact(
        kind=MEMORYDB_SNAPSHOT + COPY,
        service="s3",
        id=obj["Key"],
        region=region,
        container=bucket,
        installation=tags.get(INSTALLATION_TAG),
        backup_set=tags.get(BACKUP_SET_TAG),
        state="available",
        time=_time(obj.get("LastModified")),
        size_bytes=obj.get("Size"),
    )


def datasync_folder(copy: Mapping[str, Any], region: str) -> Artifact:
    """A DataSync set's copy (``DataSyncHook.set_copies``, ``datasync_sets.set_copy``).

    Its tags are the task's; its state and time its execution's (``UNREADABLE`` when
    its task could not be read: the listing's ``Error``). Its size is what
    the execution wrote (``BytesWritten``, else ``BytesTransferred``): logical bytes,
    so the cost figure approximates EFS's metered size (which rounds small files up
    and counts metadata) and ignores a lifecycle moving files to Infrequent Access.
    """
    tags = copy.get("Tags") or {}
    written = copy.get("BytesWritten")
    unreadable = bool(copy.get("Error"))  # no folder nor location known: never removed
    return Artifact(
        kind=DATASYNC_FOLDER,
        service="datasync",
        id=copy["TaskArn"],
        region=region,
        container=copy.get("FileSystemId"),
        installation=tags.get(INSTALLATION_TAG),
        backup_set=tags.get(BACKUP_SET_TAG),
        state=UNREADABLE if unreadable else copy.get("Status"),
        time=_time(copy.get("StartTime")),
        size_bytes=written if written is not None else copy.get("BytesTransferred"),
        location=copy.get("LocationArn"),
        folder=copy.get("Folder"),
    )


def _written_at(key: str, installation: Any, backup_set: Any) -> bool:
    """Whether ``key`` is where the manifest of that set is written (under any prefix)."""
    if not (isinstance(installation, str) and isinstance(backup_set, str)):
        return False
    expected = f"{installation}/{backup_set}/manifest.json"
    return key == expected or key.endswith("/" + expected)
