"""The live resources' shape, recorded in each manifest, and what a restore sets of it.

Left to AWS's defaults, a restored RDS instance gets the engine's default
parameter group, ``gp3`` storage, no deletion protection and only the tags
the restore names; a file system restored by AWS Backup gets
``generalPurpose``, bursting throughput and the AWS managed key. None of
that is the live resource the restored one stands in for. So a restore
passes what AWS lets it set, read from the live resource (or, the live one
gone, from what the backup set recorded: the manifest's ``network`` holds
each component's ``shape`` beside its network, see ``recorded_network``):

- RDS (``RestoreDBInstanceFromDBSnapshot``, ``RestoreDBInstanceToPointInTime``):
  parameter group, option group, storage type, IOPS and throughput, deletion
  protection, ``CopyTagsToSnapshot`` and the tags. Not the KMS key: neither
  restore takes one; a restored instance keeps its snapshot's key, which is
  the live instance's for the set's own snapshot.
- EFS (AWS Backup's restore metadata): ``PerformanceMode``, ``Encrypted`` and
  ``KmsKeyId``. The throughput mode is no restore metadata key: it is set
  after the restore with ``UpdateFileSystem`` (``throughput_update``). A
  DataSync copy is restored into a file system ue-backup creates itself
  (``CreateFileSystem``, ``efs_create_arguments``): it takes all of these at
  once, throughput included, and the live file system's tags beside the
  restore's own.
- MemoryDB (``CreateCluster``, always a new cluster): beside the node type,
  shards and network (``recorded_network``), the engine and its version, the
  parameter group (made for one engine family: the version comes with it),
  data tiering (required on, and only allowed on, ``r6gd`` nodes) and the IP
  settings (``NetworkType``, ``IpDiscovery``). Left to AWS, a restored cluster
  gets the default parameter group and no data tiering, which ``CreateCluster``
  refuses for an ``r6gd`` node type.

A drill's temporary instance takes the groups and storage but neither the
live deletion protection (its cleanup must delete it) nor the live tags (a
backup plan selecting by tag would back it up). Nothing here calls AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# gp3 IOPS and throughput can be set only from this size (GiB) on; below it every gp3
# volume has the baseline and RDS refuses the two arguments (RDS User Guide, gp3 storage).
GP3_PROVISIONED_FROM_GIB = {"oracle": 200, "sqlserver": 20}
GP3_PROVISIONED_DEFAULT_GIB = 400


def _first(entries: Any, key: str) -> str | None:
    return next((e.get(key) for e in entries or () if e.get(key)), None)


def rds_shape(instance: Mapping[str, Any]) -> dict[str, Any]:
    """What a restore can keep of the instance (``describe_db_instances``' entry)."""
    return {
        "engine": instance.get("Engine"),
        "parameter_group": _first(instance.get("DBParameterGroups"), "DBParameterGroupName"),
        "option_group": _first(instance.get("OptionGroupMemberships"), "OptionGroupName"),
        "storage_type": instance.get("StorageType"),
        "allocated_storage": instance.get("AllocatedStorage"),
        "iops": instance.get("Iops"),
        "storage_throughput": instance.get("StorageThroughput"),
        "deletion_protection": bool(instance.get("DeletionProtection")),
        "copy_tags_to_snapshot": bool(instance.get("CopyTagsToSnapshot")),
        # AWS's own (aws:*) nobody may set; ue-backup's own (ue-backup:*) name the live
        # instance or a set, and the role may not set ue-backup:protected (IAM guard).
        "tags": {
            t["Key"]: t["Value"]
            for t in instance.get("TagList") or ()
            if not t["Key"].startswith(("aws:", "ue-backup:"))
        },
        # Recorded for the report; no restore can set it (the snapshot's key is kept).
        "kms_key_id": instance.get("KmsKeyId"),
    }


def gp3_provisioned(engine: str | None, allocated_gib: int | None) -> bool:
    """Whether RDS lets gp3 IOPS and throughput be set for this engine and size."""
    floor = next(
        (
            gib
            for prefix, gib in GP3_PROVISIONED_FROM_GIB.items()
            if (engine or "").startswith(prefix)
        ),
        GP3_PROVISIONED_DEFAULT_GIB,
    )
    return (allocated_gib or 0) >= floor


def rds_restore_arguments(
    shape: Mapping[str, Any] | None, *, tags: Mapping[str, str], temporary: bool = False
) -> dict[str, Any]:
    """The restore's arguments that give the new instance ``shape`` (``rds_shape``).

    ``tags``: the restore's own, which win over the live ones. A default group
    (``default.*``, ``default:*``) is not named: AWS gives the default of the
    snapshot's engine version anyway, which may not be the live one's.
    ``temporary`` (a drill): no deletion protection, no live tags.
    """
    shape = shape or {}
    args: dict[str, Any] = {}
    group = shape.get("parameter_group")
    if group and not group.startswith("default."):
        args["DBParameterGroupName"] = group
    option = shape.get("option_group")
    if option and not option.startswith("default:"):
        args["OptionGroupName"] = option
    storage = shape.get("storage_type")
    if storage:
        args["StorageType"] = storage
    if storage in ("io1", "io2") and shape.get("iops"):
        args["Iops"] = shape["iops"]
    if storage == "gp3" and gp3_provisioned(shape.get("engine"), shape.get("allocated_storage")):
        if shape.get("iops"):
            args["Iops"] = shape["iops"]
        if shape.get("storage_throughput"):
            args["StorageThroughput"] = shape["storage_throughput"]
    if shape:
        args["CopyTagsToSnapshot"] = bool(shape.get("copy_tags_to_snapshot"))
    args["DeletionProtection"] = False if temporary else bool(shape.get("deletion_protection"))
    live_tags = {} if temporary else dict(shape.get("tags") or {})
    args["Tags"] = [{"Key": k, "Value": v} for k, v in {**live_tags, **tags}.items()]
    return args


def efs_shape(file_system: Mapping[str, Any]) -> dict[str, Any]:
    """What a restore can keep of the file system (``describe_file_systems``' entry)."""
    return {
        "performance_mode": file_system.get("PerformanceMode"),
        "throughput_mode": file_system.get("ThroughputMode"),
        "provisioned_throughput_mibps": file_system.get("ProvisionedThroughputInMibps"),
        "encrypted": bool(file_system.get("Encrypted")),
        "kms_key_id": file_system.get("KmsKeyId"),
    }


def efs_tags(file_system: Mapping[str, Any]) -> dict[str, str]:
    """The live file system's own tags a new one may take: not AWS's (``aws:*``), not
    ue-backup's (``ue-backup:*``, which name the live one), not its ``Name``."""
    return {
        t["Key"]: t["Value"]
        for t in file_system.get("Tags") or ()
        if not t["Key"].startswith(("aws:", "ue-backup:")) and t["Key"] != "Name"
    }


def efs_create_arguments(
    shape: Mapping[str, Any] | None,
    region: str,
    *,
    creation_token: str,
    tags: Mapping[str, str],
    live_tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``CreateFileSystem``'s arguments for a new file system shaped like ``shape``.

    What AWS Backup's restore metadata gives (``efs_restore_metadata``: the
    performance mode, always encrypted, the live key in ``region``) and the
    throughput mode, which ``CreateFileSystem`` takes at once. ``tags``: the
    restore's own, which win over ``live_tags`` (``efs_tags``); the file system is
    named after ``creation_token``, so it is told apart from the live one.
    """
    shape = shape or {}
    metadata = efs_restore_metadata(shape, region)
    args: dict[str, Any] = {
        "CreationToken": creation_token,
        "PerformanceMode": metadata["PerformanceMode"],
        "Encrypted": True,
    }
    if metadata.get("KmsKeyId"):
        args["KmsKeyId"] = metadata["KmsKeyId"]
    mode = shape.get("throughput_mode")
    if mode:
        args["ThroughputMode"] = mode
        if mode == "provisioned":
            args["ProvisionedThroughputInMibps"] = shape["provisioned_throughput_mibps"]
    named = {**dict(live_tags or {}), "Name": creation_token, **dict(tags)}
    args["Tags"] = [{"Key": k, "Value": str(v)} for k, v in named.items()]
    return args


def key_region(key: str | None) -> str | None:
    """The region of a KMS key ARN (None: not an ARN)."""
    parts = (key or "").split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" else None


def efs_restore_metadata(shape: Mapping[str, Any] | None, region: str) -> dict[str, str]:
    """AWS Backup's EFS restore metadata for a new file system shaped like ``shape``.

    Always encrypted (as before: never less protected than a restore was); under
    the live key when it has one in ``region`` (a key of another region cannot
    encrypt it: the region's AWS managed key then does).
    """
    shape = shape or {}
    metadata = {
        "PerformanceMode": shape.get("performance_mode") or "generalPurpose",
        "Encrypted": "true",
    }
    key = shape.get("kms_key_id")
    if key and shape.get("encrypted") and key_region(key) in (None, region):
        metadata["KmsKeyId"] = key
    return metadata


def throughput_update(
    shape: Mapping[str, Any] | None, restored: Mapping[str, Any]
) -> dict[str, Any] | None:
    """``UpdateFileSystem``'s arguments giving ``restored`` the shape's throughput mode;
    None when it has it already (a retry changes nothing) or no mode is known."""
    mode = (shape or {}).get("throughput_mode")
    if not mode:
        return None
    args: dict[str, Any] = {"ThroughputMode": mode}
    if mode == "provisioned":
        args["ProvisionedThroughputInMibps"] = shape["provisioned_throughput_mibps"]  # type: ignore[index]
    same_mode = restored.get("ThroughputMode") == mode
    if same_mode and (
        mode != "provisioned"
        or restored.get("ProvisionedThroughputInMibps") == args["ProvisionedThroughputInMibps"]
    ):
        return None
    return args


# MemoryDB's node types with data tiering: ``CreateCluster`` needs ``DataTiering`` on for
# them and refuses it for any other (botocore's model, CreateCluster.DataTiering).
DATA_TIERING_NODE_TYPES = ("db.r6gd.",)


def data_tiering_required(node_type: str | None) -> bool:
    return (node_type or "").startswith(DATA_TIERING_NODE_TYPES)


def memorydb_shape(cluster: Mapping[str, Any]) -> dict[str, Any]:
    """What a restore can keep of the cluster beyond its node type, shards and network
    (``describe_clusters``' entry; ``DataTiering`` is described as ``"true"``/``"false"``)."""
    return {
        "engine": cluster.get("Engine"),
        "engine_version": cluster.get("EngineVersion"),
        "parameter_group": cluster.get("ParameterGroupName"),
        "data_tiering": str(cluster.get("DataTiering")).lower() == "true",
        "network_type": cluster.get("NetworkType"),
        "ip_discovery": cluster.get("IpDiscovery"),
    }


def memorydb_create_arguments(
    shape: Mapping[str, Any] | None, node_type: str | None
) -> dict[str, Any]:
    """``CreateCluster``'s arguments that give a cluster of ``node_type`` ``shape``
    (``memorydb_shape``; None: nothing recorded, only what the node type requires).

    A default parameter group (``default.*``) is not named: AWS gives the engine
    version's own. Data tiering is on where the shape had it or the node type needs it.
    """
    shape = shape or {}
    args: dict[str, Any] = {}
    for key, name in (
        ("engine", "Engine"),
        ("engine_version", "EngineVersion"),
        ("network_type", "NetworkType"),
        ("ip_discovery", "IpDiscovery"),
    ):
        if shape.get(key):
            args[name] = shape[key]
    group = shape.get("parameter_group")
    if group and not group.startswith("default."):
        args["ParameterGroupName"] = group
    if shape.get("data_tiering") or data_tiering_required(node_type):
        args["DataTiering"] = True
    return args


def recorded(network: Mapping[str, Any] | None, component: str) -> dict[str, Any] | None:
    """The shape the set recorded for ``component`` (``database``, ``efs``, ``memorydb``);
    None: none."""
    entry = (network or {}).get(component) or {}
    return entry.get("shape") or None
