"""A restore from the protected copies: the locked vault and bucket, as the planner sees them.

``ue_restore`` with ``source: immutable`` plans from the copies the Airflow
role cannot delete (config: ``immutable``): the recovery points in the
protected account's locked vault and the manifests in its Object Lock
bucket, both read through the protected connection. Nothing in the
installation's own account is trusted for the plan: after an attack, what is
left there may be gone or altered.

The planner takes the shapes the home inventory has (``inventory.list_inventory``):

- an EFS recovery point in the locked vault is one as the vault lists it;
- the database's recovery point (an RDS snapshot AWS Backup manages) is
  presented as a DB snapshot: its ARN as the identifier, its ``CreationDate``
  (the source's, which a copy keeps) as the point in time;
- a set's verdict is its locked manifest: the backup locks the manifest only
  after the home set and its protected copies each passed their verification
  (``verification``, ``locked_verification``), so a set whose manifest is in
  the bucket was verified, and its cold window's verdict is in it. The
  verdict is given to the planner as the tags it reads at home
  (``ue-backup:verified``, ``ue-backup:cold-window``); a recovery point's own
  tags there are ignored (they say what they said when the copy was made,
  before verification).

- MemoryDB's locked ``.rdb`` files are presented as snapshots, as the
  cross-region copies' are (``records.rdb_snapshots``).

The Kubernetes resources are not restored from the protected copies (see the
README, "Immutable copies"). A pure rule: the listing is
``inventory.locked_inventory``'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from ue_backup.backup_set import BACKUP_SET_TAG, INSTALLATION_TAG, VERIFIED_TAG, WINDOW_TAG
from ue_backup.planning import RESTORABLE_POINT_STATUSES, to_utc
from ue_backup.recorded_network import unrecorded

# Where ue_restore and the drill restore from (params.source): the installation's own
# backups, or the protected copies.
SOURCES = ("home", "immutable")


def source_problem(params: Mapping[str, Any]) -> str | None:
    """What is wrong with ``params.source`` (None: home, the default, or immutable)."""
    if (params.get("source") or "home") in SOURCES:
        return None
    return f"params.source: {params.get('source')!r} is not one of {', '.join(SOURCES)}"


# The components a restore from the protected copies restores.
LOCKED_COMPONENTS = ("database", "efs", "memorydb")
# Where a restore (or a drill) stages MemoryDB's locked files, in
# immutable.memorydb_export_bucket: ``<STAGING_PREFIX><restore or drill id>/``.
STAGING_PREFIX = "ue-backup-restores/"


def verdicts(manifests: Iterable[Mapping[str, Any]], installation: str) -> dict[str, dict]:
    """Each set's verdict from its locked manifest: ``{set id: {tag: value}}``."""
    found: dict[str, dict] = {}
    for manifest in manifests:
        if manifest.get("installation") != installation or not manifest.get("backup_set"):
            continue
        window = manifest.get("cold_window") or {}
        found[manifest["backup_set"]] = {
            VERIFIED_TAG: _verdict(manifest),
            WINDOW_TAG: window.get("state") or "none",
        }
    return found


def _verdict(manifest: Mapping[str, Any]) -> str:
    """Passed only when the home set and its protected copies both passed. A manifest
    written before the copies had a verdict of their own (no ``locked_verification``)
    was locked only after one verification covering both."""
    home = (manifest.get("verification") or {}).get("result") or "failed"
    if "locked_verification" not in manifest:
        return home
    locked = (manifest.get("locked_verification") or {}).get("result") or "failed"
    return home if locked == "passed" else locked


def _locked_records(
    manifests: Iterable[Mapping[str, Any]],
) -> Iterator[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """Each manifest's ``*_immutable`` records that name a locked point: (manifest, record)."""
    for manifest in manifests:
        for kind, record in (manifest.get("artifacts") or {}).items():
            if kind.endswith("_immutable") and isinstance(record, Mapping) and record.get("arn"):
                yield manifest, record


def recorded_points(manifests: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, str]]:
    """``{locked point ARN: (installation, set)}`` from the manifests' ``*_immutable`` records."""
    return {
        record["arn"]: (manifest.get("installation"), manifest.get("backup_set"))
        for manifest, record in _locked_records(manifests)
    }


def recorded_times(manifests: Iterable[Mapping[str, Any]]) -> dict[str, datetime]:
    """``{locked point ARN: its point in time}`` as the manifests record it: for the
    database, when RDS took the snapshot (``database_point``), which may be later than
    the recovery point's ``CreationDate`` (the job's)."""
    return {
        record["arn"]: to_utc(record["time"])
        for _, record in _locked_records(manifests)
        if record.get("time")
    }


def planner_view(
    points: Iterable[Mapping[str, Any]],
    manifests: Iterable[Mapping[str, Any]],
    installation: str,
    memorydb: Iterable[Mapping[str, Any]] | None = None,
    database: str = "rds",
) -> dict[str, Any]:
    """The planner's inventory from the locked vault's points (with ``Tags``), the locked
    manifests and, with MemoryDB, its locked ``.rdb`` files as snapshots
    (``records.rdb_snapshots``; None: no MemoryDB). ``database``: ``rds``, or ``derby``
    (the database lives in the EFS tree: the disk's point is the database's).

    A point's set is the one whose locked manifest names its ARN (the manifest
    records each locked copy); only a point no manifest names is taken by its tags
    (AWS documents that a cross-Region copy keeps its source's tags, not that a
    cross-account one does). A point of another installation, or of no set, is
    left out; a point whose set has no locked manifest keeps no verdict (the
    planner calls it never verified).
    A MemoryDB snapshot's set is the one its files' key names
    (``<prefix><installation>/<set id>/memorydb/``).
    """
    manifests = list(manifests)
    judged = verdicts(manifests, installation)
    named, times = recorded_points(manifests), recorded_times(manifests)
    disks: list[dict[str, Any]] = []
    databases: list[dict[str, Any]] = []
    for point in points:
        tags = dict(point.get("Tags") or {})
        owner, backup_set = named.get(point["RecoveryPointArn"]) or (
            tags.get(INSTALLATION_TAG),
            tags.get(BACKUP_SET_TAG),
        )
        if owner != installation or not backup_set:
            continue
        tags.update({INSTALLATION_TAG: owner, BACKUP_SET_TAG: backup_set})
        # The verdict is the manifest's, never the point's own tags.
        tags = {k: v for k, v in tags.items() if k not in (VERIFIED_TAG, WINDOW_TAG)}
        tags.update(judged.get(backup_set, {}))
        if point.get("ResourceType") == "RDS":
            databases.append(_as_snapshot(point, tags, times.get(point["RecoveryPointArn"])))
        elif point.get("ResourceType", "EFS") == "EFS":
            disks.append({**point, "Tags": tags})
    return {
        "database": database,
        "rds_snapshots": databases if database == "rds" else None,
        "rds_restore_window": None,  # no point-in-time restore from a copy
        "efs_recovery_points": disks,
        "memorydb_snapshots": None if memorydb is None else _memorydb(memorydb, installation),
        "velero_backups": None,
        # Each set's recorded network (its locked manifest's ``network``; None: not recorded)
        "networks": networks(manifests, installation),
    }


def networks(manifests: Iterable[Mapping[str, Any]], installation: str) -> dict[str, Any]:
    """``{set id: the live network its manifest recorded, or None}`` (``recorded_network``)."""
    return {
        manifest["backup_set"]: manifest.get("network")
        for manifest in manifests
        if manifest.get("installation") == installation and manifest.get("backup_set")
    }


def chosen_network(inventory: Mapping[str, Any], plan: Mapping[str, Any]) -> dict[str, Any] | None:
    """The recorded network of the set a plan restores: its ``backup_set``, else (mixed
    points) the set of the planned EFS point, whose mount targets matter most.

    A component that set has no record of (its network could not be read that night,
    or the set is older than the record) takes the newest record of it that another
    locked manifest of the installation holds: the platform's network changes rarely,
    and that is the best knowledge of it left after an attack. ``recorded_from`` then
    says which set each such record came from (None: nothing was recorded at all).
    """
    recorded = inventory.get("networks") or {}
    backup_set = plan.get("backup_set")
    if not backup_set:
        arn = (plan.get("disk") or {}).get("recovery_point_arn")
        for point in inventory.get("efs_recovery_points") or []:
            if point.get("RecoveryPointArn") == arn:
                backup_set = (point.get("Tags") or {}).get(BACKUP_SET_TAG)
    chosen = dict((recorded.get(backup_set) if backup_set else None) or {})
    taken = {}
    for component in unrecorded(chosen, NETWORK_COMPONENTS):
        for other in sorted(recorded, reverse=True):  # set ids sort by their time
            if not unrecorded(recorded[other], [component]):
                chosen[component] = recorded[other][component]
                taken[component] = other
                break
    if taken:
        chosen["recorded_from"] = taken
    return chosen or None


NETWORK_COMPONENTS = ("efs", "database", "memorydb")


def _memorydb(snapshots: Iterable[Mapping[str, Any]], installation: str) -> list[dict]:
    """The installation's locked MemoryDB snapshots, tagged with the set their keys name."""
    found = []
    for snapshot in snapshots:
        # Each file's key: <prefix><installation>/<set id>/memorydb/<file>
        named = {
            tuple(shard["Name"].split("/memorydb/", 1)[0].rsplit("/", 2)[-2:])
            for shard in snapshot["ClusterConfiguration"]["Shards"]
        }
        if len(named) != 1:
            continue
        [(owner, backup_set)] = named
        if owner == installation:
            tags = {INSTALLATION_TAG: installation, BACKUP_SET_TAG: backup_set}
            found.append({**snapshot, "Tags": tags})
    return found


def _as_snapshot(
    point: Mapping[str, Any], tags: Mapping[str, str], recorded: datetime | None = None
) -> dict[str, Any]:
    """The database's recovery point in the shape of a manual DB snapshot (the planner's).

    Its time is the later of the point's ``CreationDate`` and the manifest's record
    (``recorded``): the later one is the safe side of rule 1."""
    created = to_utc(point.get("CreationDate"))
    return {
        "DBSnapshotIdentifier": point["RecoveryPointArn"],
        "SnapshotCreateTime": max((t for t in (created, recorded) if t), default=None),
        "Status": "available"
        if point.get("Status") in RESTORABLE_POINT_STATUSES
        else point.get("Status"),
        "SnapshotType": "manual",
        "TagList": [{"Key": k, "Value": v} for k, v in tags.items()],
        "RecoveryPointArn": point["RecoveryPointArn"],
    }
