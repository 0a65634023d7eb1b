"""The records the manifest, verification and retention read, and the metadata a copy carries.

An operator returns a record of what it made (a snapshot's id, time, state,
size); the backup's read-back and retention describe the same resources and
must read them the same way, so the shapes live here, below both, not in the
operator modules. Likewise the user metadata keys written on each copied
MemoryDB ``.rdb`` file, which a restore and verification read back. Nothing
here calls AWS: each function reshapes an API answer.
"""

from __future__ import annotations

from typing import Any

from ue_backup.errors import PermanentFailure
from ue_backup.manifest import GB
from ue_backup.planning import iso, memorydb_snapshot_time


def rds_snapshot_record(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The manifest's view of a DB snapshot."""
    created = snapshot.get("SnapshotCreateTime")
    return {
        "id": snapshot["DBSnapshotIdentifier"],
        "arn": snapshot.get("DBSnapshotArn"),
        "time": created.isoformat() if created else None,
        "state": snapshot["Status"],
        "size_bytes": (snapshot.get("AllocatedStorage") or 0) * GB or None,
        "instance": snapshot.get("DBInstanceIdentifier"),
    }


def rds_copy_record(snapshot: dict[str, Any], region: str) -> dict[str, Any]:
    """The manifest's view of a snapshot's copy in another region.

    ``time`` is the data's point in time, ``OriginalSnapshotCreateTime``:
    AWS gives a copy a ``SnapshotCreateTime`` of its own (kept as
    ``copied_at``), which says nothing about the data.
    """
    original = snapshot.get("OriginalSnapshotCreateTime")
    copied = snapshot.get("SnapshotCreateTime")
    return {
        **rds_snapshot_record(snapshot),
        "time": (original or copied).isoformat() if (original or copied) else None,
        "copied_at": copied.isoformat() if copied else None,
        "region": region,
        "source_arn": snapshot.get("SourceDBSnapshotIdentifier"),
    }


def memorydb_snapshot_record(snapshot: dict[str, Any]) -> dict[str, Any]:
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


# User metadata on each copied .rdb file: what a restore there needs to know.
META_SNAPSHOT, META_TIME, META_NODE_TYPE, META_SHARDS, META_ENGINE = (
    "ue-backup-snapshot",
    "ue-backup-snapshot-time",
    "ue-backup-node-type",
    "ue-backup-num-shards",
    "ue-backup-engine-version",
)


# On each locked copy (config: immutable): the ETag of the staged export it was copied from,
# so a retry knows a locked version already holds that file.
META_SOURCE_ETAG = "ue-backup-source-etag"


def memorydb_copy_metadata(snapshot: dict[str, Any]) -> dict[str, str]:
    """The user metadata every copied ``.rdb`` file carries (the cross-region copy's and the
    locked copy's): the snapshot's point in time (its earliest shard's), node type, shard
    count and engine version, what a restore from the files alone needs to know."""
    config = snapshot.get("ClusterConfiguration") or {}
    when = memorydb_snapshot_time(snapshot)
    if when is None:
        raise PermanentFailure(f"MemoryDB snapshot {snapshot['Name']} has no point in time")
    return {
        META_SNAPSHOT: snapshot["Name"],
        META_TIME: iso(when),
        META_NODE_TYPE: str(config.get("NodeType") or ""),
        META_SHARDS: str(config.get("NumShards") or len(config.get("Shards") or [])),
        META_ENGINE: str(config.get("EngineVersion") or ""),
    }


def s3_object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def rdb_snapshots(files: list[dict[str, Any]], bucket: str) -> list[dict[str, Any]]:
    """Copied ``.rdb`` files (``Key``, ``Size``, ``Metadata``, ``Tags``) as MemoryDB snapshots.

    One snapshot per name in the files' metadata (``memorydb_copy_metadata``),
    ``available`` when every shard's file is there; its time, node type and shard
    count are the metadata's, its ``SnapshotArns`` what a cluster is seeded from.
    The cross-region copies and the protected account's locked copies are read so.
    """
    snapshots: dict[str, dict[str, Any]] = {}
    for obj in files:
        meta = obj.get("Metadata") or {}
        name = meta.get(META_SNAPSHOT)
        if not name or not meta.get(META_TIME):
            continue
        snapshot = snapshots.setdefault(
            name,
            {
                "Name": name,
                "Tags": obj.get("Tags") or {},
                "ClusterConfiguration": {
                    "NodeType": meta.get(META_NODE_TYPE),
                    "NumShards": int(meta.get(META_SHARDS) or 0),
                    "Shards": [],
                },
                "SnapshotArns": [],
            },
        )
        snapshot["SnapshotArns"].append(s3_object_arn(bucket, obj["Key"]))
        snapshot["ClusterConfiguration"]["Shards"].append(
            {"Name": obj["Key"], "SnapshotCreationTime": meta[META_TIME], "Size": obj.get("Size")}
        )
    for snapshot in snapshots.values():
        complete = len(snapshot["SnapshotArns"]) == snapshot["ClusterConfiguration"]["NumShards"]
        snapshot["Status"] = "available" if complete else "incomplete"
        snapshot["SnapshotArns"].sort()
    return list(snapshots.values())
