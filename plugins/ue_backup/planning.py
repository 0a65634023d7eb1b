"""Rule 1: a restored database is strictly older than the restored disk and MemoryDB data.

The planner is a pure function. It takes what AWS and Kubernetes list (in the
shapes their APIs return) and what the user asks for, and returns a plan or
refuses with a reason a person can act on. It makes no call of its own, so it
is tested exhaustively and a dry run shows exactly what a restore would do.

Why strictly older: the system database holds references into runtime
storage (EFS and MemoryDB). A database newer than the disk data may reference
files or keys that the restored disk does not hold, which aborts workflows; a
database that is older only loses work, which a disaster recovery accepts.
Equal times do not count as older: the order of two writes in the same
instant is unknown.

Verified means restorable: by default only a set whose backup run verified it
(every artifact in its success state, rule 1, the cold window intact) is
planned. The verdict is read from the disk point's ``ue-backup:verified`` tag
(``tasks.set_marks``); a set without it (its run failed before verification,
or still runs) or with ``failed`` is skipped, and the plan lists it with the
reason. A request with ``allow_unverified`` may still take one, and the plan
then says so in words (``warning``).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ue_backup.backup_set import BACKUP_SET_LABEL as VELERO_BACKUP_SET_LABEL
from ue_backup.backup_set import (
    BACKUP_SET_TAG,
    DELETING,
    RETENTION_TAG,
    VERIFIED_TAG,
    WINDOW_TAG,
    tag_dict,
)

PITR_MARGIN = timedelta(seconds=1)

REQUEST_TYPES = ("latest", "backup_set", "point_in_time")

# An AWS Backup recovery point that can be restored: COMPLETED, or AVAILABLE, the newer
# status of a complete point (both in RecoveryPointStatus, botocore's model of the API).
RESTORABLE_POINT_STATUSES = frozenset({"COMPLETED", "AVAILABLE"})


class RestorePlanError(ValueError):
    """No restore satisfies the request and rule 1; the message says why."""


# --- normalising what the APIs return -----------------------------------------


def to_utc(value: datetime | str | None) -> datetime | None:
    """A timezone-aware UTC datetime from a datetime or an ISO 8601 string (naive = UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class Point:
    """One restorable artifact reduced to what the planner needs."""

    id: str
    time: datetime
    backup_set: str | None
    raw: Mapping[str, Any]


def rds_snapshot_time(snapshot: Mapping[str, Any]) -> datetime | None:
    """A DB snapshot's point in time.

    ``SnapshotCreateTime``, except for a copy from another region
    (``SourceDBSnapshotIdentifier`` set): AWS gives a copy a
    ``SnapshotCreateTime`` of its own, the time of the copy, and keeps the
    data's time as ``OriginalSnapshotCreateTime``. Planned with its copy
    time, a copy would look newer than its own set's disk point, and the
    set would be refused in the copy region.
    """
    if snapshot.get("SourceDBSnapshotIdentifier") and snapshot.get("OriginalSnapshotCreateTime"):
        return to_utc(snapshot["OriginalSnapshotCreateTime"])
    return to_utc(snapshot.get("SnapshotCreateTime"))


def _rds_snapshots(entries: Iterable[Mapping[str, Any]] | None) -> list[Point]:
    """Available manual snapshots; automated ones are reached through point-in-time restore."""
    points = []
    for s in entries or ():
        if s.get("Status") != "available" or s.get("SnapshotType", "manual") != "manual":
            continue
        time = rds_snapshot_time(s)
        if time is None:
            continue
        tags = tag_dict(s.get("TagList"))
        points.append(Point(s["DBSnapshotIdentifier"], time, tags.get(BACKUP_SET_TAG), s))
    return sorted(points, key=lambda p: p.time)


def _recovery_points(entries: Iterable[Mapping[str, Any]] | None) -> list[Point]:
    points = []
    for rp in entries or ():
        if rp.get("Status") not in RESTORABLE_POINT_STATUSES:
            continue
        tags = rp.get("Tags") or {}
        points.append(
            Point(rp["RecoveryPointArn"], to_utc(rp["CreationDate"]), tags.get(BACKUP_SET_TAG), rp)
        )
    return sorted(points, key=lambda p: p.time)


def _datasync_copies(entries: Iterable[Mapping[str, Any]] | None) -> list[Point]:
    """The successful DataSync copies (``datasync_sets.set_copy``): each set's folder.

    Its time is the moment the cold copy began (the execution's ``StartTime``),
    inside the window, as a recovery point's is its job's start. A copy retention
    has begun to delete (``ue-backup:retention`` ``deleting`` on its task) is none.
    """
    points = []
    for copy in entries or ():
        time = to_utc(copy.get("StartTime"))
        if copy.get("Status") != "SUCCESS" or time is None or not copy.get("LocationArn"):
            continue
        tags = copy.get("Tags") or {}
        if tags.get(RETENTION_TAG) == DELETING:  # retention is removing its folder
            continue
        points.append(Point(copy["LocationArn"], time, tags.get(BACKUP_SET_TAG), copy))
    return sorted(points, key=lambda p: p.time)


def disk_points(inventory: Mapping[str, Any]) -> tuple[list[Point], str, str]:
    """The disk points the inventory holds, what one is called in a refusal, and a
    restorable one.

    A DataSync installation lists ``datasync_copies`` (its sets' folders); one
    with AWS Backup ``efs_recovery_points``.
    """
    if inventory.get("datasync_copies") is not None:
        copies = _datasync_copies(inventory["datasync_copies"])
        return copies, "DataSync copy", "successful DataSync copy"
    points = _recovery_points(inventory.get("efs_recovery_points"))
    return points, "EFS recovery point", "COMPLETED EFS recovery point"


def disk_entry(disk: Point) -> dict[str, Any]:
    """The plan's ``disk``: what the EFS restore starts from.

    ``kind`` aws_backup: ``recovery_point_arn`` (and its vault and resource).
    ``kind`` datasync: ``recovery_point_arn`` None; the set's task (``task_arn``),
    whose destination location (``location_arn``) is the folder ``folder`` on
    ``file_system_id`` that the restore copies from.
    """
    common = {"time": iso(disk.time), "backup_set": disk.backup_set}
    if "LocationArn" in disk.raw:
        return {
            "kind": "datasync",
            "recovery_point_arn": None,
            "task_arn": disk.raw["TaskArn"],
            "task_execution_arn": disk.raw.get("TaskExecutionArn"),
            "location_arn": disk.id,
            "file_system_id": disk.raw.get("FileSystemId"),
            "folder": disk.raw.get("Folder"),
            **common,
        }
    return {
        "kind": "aws_backup",
        "recovery_point_arn": disk.id,
        **common,
        "backup_vault_name": disk.raw.get("BackupVaultName"),
        "resource_arn": disk.raw.get("ResourceArn"),
    }


def memorydb_snapshot_time(snapshot: Mapping[str, Any]) -> datetime | None:
    """A MemoryDB snapshot's point in time: its earliest shard's SnapshotCreationTime."""
    shards = (snapshot.get("ClusterConfiguration") or {}).get("Shards") or []
    times = [to_utc(s["SnapshotCreationTime"]) for s in shards if s.get("SnapshotCreationTime")]
    return min(times) if times else None


def _memorydb_snapshots(entries: Iterable[Mapping[str, Any]] | None) -> list[Point]:
    points = []
    for s in entries or ():
        time = memorydb_snapshot_time(s)
        if s.get("Status") != "available" or time is None:
            continue
        tags = s.get("Tags") or {}
        points.append(Point(s["Name"], time, tags.get(BACKUP_SET_TAG), s))
    return sorted(points, key=lambda p: p.time)


def _velero_backups(entries: Iterable[Mapping[str, Any]] | None) -> list[Point]:
    points = []
    for b in entries or ():
        status, meta = b.get("status") or {}, b.get("metadata") or {}
        time = to_utc(status.get("startTimestamp") or meta.get("creationTimestamp"))
        if status.get("phase") != "Completed" or time is None:
            continue
        labels = meta.get("labels") or {}
        points.append(Point(meta["name"], time, labels.get(VELERO_BACKUP_SET_LABEL), b))
    return sorted(points, key=lambda p: p.time)


# --- the request ---------------------------------------------------------------


def normalise_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """Check the request and return it with defaults; refuse what cannot be understood."""
    kind = request.get("type")
    if kind not in REQUEST_TYPES:
        raise RestorePlanError(f"request type {kind!r} is not one of {', '.join(REQUEST_TYPES)}")
    out: dict[str, Any] = {
        "type": kind,
        "allow_point_in_time_restore": bool(request.get("allow_point_in_time_restore", True)),
        "allow_unverified": bool(request.get("allow_unverified", False)),
    }
    if kind == "backup_set":
        if not request.get("backup_set"):
            raise RestorePlanError("request type 'backup_set' needs a backup_set id")
        out["backup_set"] = str(request["backup_set"])
    if kind == "point_in_time":
        try:
            target = to_utc(request.get("target_time"))
        except (TypeError, ValueError):
            target = None
        if target is None:
            raise RestorePlanError(
                f"request type 'point_in_time' needs target_time as ISO 8601, "
                f"got {request.get('target_time')!r}"
            )
        out["target_time"] = iso(target)
    return out


# --- choosing ------------------------------------------------------------------


def _newest_before(points: list[Point], times: list[datetime], bound: datetime) -> Point | None:
    """The newest point strictly before ``bound`` (``times`` is ``points``' sorted times)."""
    i = bisect.bisect_left(times, bound)
    return points[i - 1] if i else None


def _newest_not_after(points: list[Point], times: list[datetime], bound: datetime) -> Point | None:
    i = bisect.bisect_right(times, bound)
    return points[i - 1] if i else None


class _Planner:
    """Judges one disk point at a time against the inventory (sorted once)."""

    def __init__(self, inventory: Mapping[str, Any], request: dict[str, Any]):
        self.database = inventory.get("database") or "rds"
        if self.database not in ("rds", "derby"):
            raise RestorePlanError(f"inventory database {self.database!r} is not 'rds' or 'derby'")
        self.allow_pitr = request["allow_point_in_time_restore"]
        self.snapshots = _rds_snapshots(inventory.get("rds_snapshots"))
        self.snapshot_times = [p.time for p in self.snapshots]
        window = inventory.get("rds_restore_window") or None
        self.window = (
            (to_utc(window.get("EarliestTime")), to_utc(window.get("LatestTime")))
            if window and window.get("LatestTime")
            else None
        )
        self.memorydb_configured = inventory.get("memorydb_snapshots") is not None
        self.memorydb = _memorydb_snapshots(inventory.get("memorydb_snapshots"))
        self.memorydb_times = [p.time for p in self.memorydb]
        self.memorydb_by_set = {p.backup_set: p for p in self.memorydb if p.backup_set}
        self.velero_configured = inventory.get("velero_backups") is not None
        self.velero = _velero_backups(inventory.get("velero_backups"))
        self.velero_times = [p.time for p in self.velero]
        self.velero_by_set = {p.backup_set: p for p in self.velero if p.backup_set}

    def memorydb_for(self, disk: Point, same_set_only: bool) -> Point | None:
        if disk.backup_set and disk.backup_set in self.memorydb_by_set:
            return self.memorydb_by_set[disk.backup_set]
        if same_set_only:
            return None
        return _newest_not_after(self.memorydb, self.memorydb_times, disk.time)

    def database_for(self, bound: datetime) -> dict[str, Any] | None:
        """The newest database point strictly before ``bound``, or None."""
        candidates = []
        if self.allow_pitr and self.window:
            earliest, latest = self.window
            restore_time = min(bound - PITR_MARGIN, latest)
            if earliest is None or restore_time >= earliest:
                candidates.append(
                    {"kind": "point_in_time", "restore_time": iso(restore_time), "_t": restore_time}
                )
        snapshot = _newest_before(self.snapshots, self.snapshot_times, bound)
        if snapshot:
            candidates.append(
                {
                    "kind": "snapshot",
                    "snapshot_id": snapshot.id,
                    "snapshot_arn": snapshot.raw.get("DBSnapshotArn"),
                    "backup_set": snapshot.backup_set,
                    "_t": snapshot.time,
                }
            )
        if not candidates:
            return None
        # Newest wins; on a tie the snapshot (listed last), an artifact of its own.
        best = max(reversed(candidates), key=lambda c: c["_t"])
        return {**{k: v for k, v in best.items() if k != "_t"}, "time": iso(best["_t"])}

    def no_database_reason(self, bound: datetime) -> str:
        why = []
        if not self.allow_pitr:
            why.append("point-in-time restore not allowed by the request")
        elif not self.window:
            why.append("no RDS automated-backup restore window (retention 0?)")
        else:
            why.append(f"restore window starts at {iso(self.window[0])}")
        why.append("no available manual RDS snapshot before it")
        return f"no database point strictly before {iso(bound)}: " + "; ".join(why)

    def judge(self, disk: Point, same_set_only: bool = False) -> dict[str, Any] | str:
        """A plan for this disk point, or the reason it cannot be restored consistently."""
        memorydb = None
        bound = disk.time
        if self.memorydb_configured:
            memorydb = self.memorydb_for(disk, same_set_only)
            if memorydb is None:
                where = "of its backup set" if same_set_only else "at or before it"
                return f"no available MemoryDB snapshot {where}"
            bound = min(bound, memorydb.time)
        if self.database == "derby":
            database = {"kind": "derby", "time": iso(disk.time)}
        else:
            database = self.database_for(bound)
            if database is None:
                return self.no_database_reason(bound)
        return {
            "backup_set": disk.backup_set,
            "disk": disk_entry(disk),
            "database": database,
            "memorydb": (
                {
                    "snapshot_name": memorydb.id,
                    "time": iso(memorydb.time),
                    "backup_set": memorydb.backup_set,
                }
                if memorydb
                else None
            ),
            "velero": self.velero_for(disk),
        }

    def velero_for(self, disk: Point) -> dict[str, Any] | None:
        """The Velero backup of the same set, else the newest completed one not after the disk."""
        if not self.velero_configured:
            return None
        backup = self.velero_by_set.get(disk.backup_set) if disk.backup_set else None
        backup = backup or _newest_not_after(self.velero, self.velero_times, disk.time)
        if backup is None:
            return None
        return {"backup_name": backup.id, "time": iso(backup.time), "backup_set": backup.backup_set}


def unverified_reason(disk: Point) -> str | None:
    """Why the disk point's set does not count as verified, or None when it does."""
    tags = disk.raw.get("Tags") or {}
    verdict, window = tags.get(VERIFIED_TAG), tags.get(WINDOW_TAG)
    if verdict == "passed":
        return None
    if verdict is None:
        return (
            f"backup set {disk.backup_set or '(none)'} was never verified: its backup run "
            "failed before verification, or still runs"
        )
    broken = f" (cold window {window})" if window and window != "intact" else ""
    return f"backup set {disk.backup_set or '(none)'} failed its verification{broken}"


def _with_verdict(plan: dict[str, Any], disk: Point) -> dict[str, Any]:
    """The plan, saying whether its set was verified, and in words when it was not."""
    reason = unverified_reason(disk)
    plan = {**plan, "verified": reason is None}
    if reason:
        plan["warning"] = (
            f"UNVERIFIED: {reason}; restored only because the request allows unverified sets"
        )
    return plan


def _rejection(disk: Point, reason: str) -> dict[str, Any]:
    """A disk point the planner passed over (``recovery_point_arn``: the point's id, a
    recovery point ARN or a DataSync copy's folder location)."""
    return {
        "recovery_point_arn": disk.id,
        "time": iso(disk.time),
        "backup_set": disk.backup_set,
        "reason": reason,
    }


def _refusal(summary: str, rejected: list[dict[str, Any]], limit: int = 5) -> RestorePlanError:
    lines = [summary]
    lines += [
        f"  - {r['recovery_point_arn']} ({r['time']}): {r['reason']}" for r in rejected[:limit]
    ]
    if len(rejected) > limit:
        lines.append(f"  ... and {len(rejected) - limit} more")
    return RestorePlanError("\n".join(lines))


def plan_restore(inventory: Mapping[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
    """Choose a consistent restore: disk point, a database point strictly before it, MemoryDB.

    Returns a JSON-serialisable plan (see the module docs and issue 6) or
    raises ``RestorePlanError`` naming why nothing qualifies.
    """
    req = normalise_request(request)
    planner = _Planner(inventory, req)
    disks, called, restorable = disk_points(inventory)
    if not disks:
        raise RestorePlanError(f"no {restorable} exists: nothing to restore")

    rejected: list[dict[str, Any]] = []
    if req["type"] == "backup_set":
        wanted = req["backup_set"]
        of_set = [d for d in disks if d.backup_set == wanted]
        if not of_set:
            raise RestorePlanError(
                f"backup set {wanted!r} has no {restorable} "
                "(the set is incomplete, failed or does not exist)"
            )
        unverified = unverified_reason(of_set[-1])
        if unverified and not req["allow_unverified"]:
            raise RestorePlanError(f"{unverified}; to restore it anyway, ask with allow_unverified")
        verdict = planner.judge(of_set[-1], same_set_only=True)
        if isinstance(verdict, str):
            raise RestorePlanError(
                f"backup set {wanted!r} cannot be restored consistently: {verdict}"
            )
        return _with_verdict({**verdict, "request": req, "rejected": []}, of_set[-1])

    target = to_utc(req.get("target_time"))
    for disk in reversed(disks):
        if target is not None and disk.time > target:
            rejected.append(_rejection(disk, f"after the target time {iso(target)}"))
            continue
        unverified = unverified_reason(disk)
        if unverified and not req["allow_unverified"]:
            rejected.append(_rejection(disk, unverified))
            continue
        verdict = planner.judge(disk)
        if isinstance(verdict, str):
            rejected.append(_rejection(disk, verdict))
            continue
        return _with_verdict({**verdict, "request": req, "rejected": rejected}, disk)

    if target is not None and all(d.time > target for d in disks):
        raise RestorePlanError(
            f"no {called} at or before the target time {iso(target)}; "
            f"the oldest is {iso(disks[0].time)}"
        )
    raise _refusal(
        f"no {called} of a verified set can be restored with a database point strictly before it:",
        [r for r in rejected if not r["reason"].startswith("after the target")],
    )
