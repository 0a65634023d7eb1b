"""Verify a backup set after the cold window: states, rule 1, tags, temporary files.

Each check judges the artifacts as read back from AWS or Kubernetes
(``tasks/backup_steps`` describes them) rather than trusting what the
starting task returned. A failed check fails the run with the exact reason;
all checks are run and reported together. A pure rule: it calls nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ue_backup.backup_set import BACKUP_SET_LABEL, BackupSet, tag_dict
from ue_backup.datasync_sets import options_problems
from ue_backup.planning import RESTORABLE_POINT_STATUSES, memorydb_snapshot_time, to_utc
from ue_backup.records import META_SHARDS, META_TIME
from ue_backup.temp_files import datasync_excludes


def tags_ok(found: Mapping[str, str], backup_set: BackupSet) -> bool:
    return all(found.get(k) == v for k, v in backup_set.tags.items() if k != "ue-backup:run-id")


def verify_set(
    backup_set: BackupSet,
    *,
    rds_snapshot: Mapping[str, Any] | None,
    recovery_point: Mapping[str, Any] | None,
    recovery_point_tags: Mapping[str, str] | None,
    memorydb_snapshot: Mapping[str, Any] | None,
    memorydb_tags: Mapping[str, str] | None,
    velero_backup: Mapping[str, Any] | None,
    datasync_execution: Mapping[str, Any] | None,
    allow_velero_partially_failed: bool = False,
    rds_snapshot_copy: Mapping[str, Any] | None = None,
    recovery_point_copy: Mapping[str, Any] | None = None,
    recovery_point_copy_tags: Mapping[str, str] | None = None,
    memorydb_copy: list[Mapping[str, Any]] | None = None,
    cold_window: Mapping[str, Any] | None = None,
    window_required: bool = False,
) -> dict[str, Any]:
    """Judge the artifacts as AWS and Kubernetes describe them now.

    Arguments are the raw API shapes (DBSnapshot, DescribeRecoveryPoint,
    MemoryDB Snapshot with ShowDetail, Velero Backup, DescribeTaskExecution);
    None for a component the set does not have. The cross-region copies are
    the same shapes as their region describes them; ``memorydb_copy`` is the
    copied ``.rdb`` files (HeadObject with ``Key`` and ``Tags`` added).
    The copies in the protected account have a verdict of their own
    (``verify_locked``): a failed locked copy never hides this set from the planner.
    ``cold_window`` is the window's verdict at its close (``cold_window.judge``);
    with ``window_required`` (a managed or external window) a set without one fails.
    Returns ``{"result", "checks": [{"check", "ok", "detail"}]}``.
    """
    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"check": name, "ok": bool(ok), "detail": detail})

    _check_copies(
        check,
        backup_set,
        rds_snapshot=rds_snapshot,
        rds_snapshot_copy=rds_snapshot_copy,
        recovery_point=recovery_point,
        recovery_point_copy=recovery_point_copy,
        recovery_point_copy_tags=recovery_point_copy_tags,
        memorydb_snapshot=memorydb_snapshot,
        memorydb_copy=memorydb_copy,
    )

    times: dict[str, Any] = {}
    if rds_snapshot is not None:
        status = rds_snapshot.get("Status")
        check("rds snapshot available", status == "available", f"status {status}")
        tags = tag_dict(rds_snapshot.get("TagList"))
        check("rds snapshot tags", tags_ok(tags, backup_set), f"tags {tags}")
        times["database"] = to_utc(rds_snapshot.get("SnapshotCreateTime"))
    if recovery_point is not None:
        times["efs"] = check_recovery_point(
            check, "efs", recovery_point, recovery_point_tags, backup_set
        )
    if datasync_execution is not None:
        status = datasync_execution.get("Status")
        check("datasync execution succeeded", status == "SUCCESS", f"status {status}")
        expected = datasync_excludes()
        applied = datasync_execution.get("Excludes") or []
        check(
            "datasync excluded temporary files",
            applied == expected,
            f"excludes {applied}, expected {expected}",
        )
        wrong = options_problems(datasync_execution.get("Options"))
        check(
            "datasync copied the whole tree into the set's folder",
            not wrong,
            "; ".join(wrong) or "TransferMode ALL, PreserveDeletedFiles REMOVE",
        )
        times["efs"] = to_utc(datasync_execution.get("StartTime"))
    if memorydb_snapshot is not None:
        status = memorydb_snapshot.get("Status")
        check("memorydb snapshot available", status == "available", f"status {status}")
        tags = dict(memorydb_tags or {})
        check("memorydb snapshot tags", tags_ok(tags, backup_set), f"tags {tags}")
        times["memorydb"] = memorydb_snapshot_time(memorydb_snapshot)
    if velero_backup is not None:
        phase = (velero_backup.get("status") or {}).get("phase")
        allowed = (
            ("Completed", "PartiallyFailed") if allow_velero_partially_failed else ("Completed",)
        )
        check("velero backup completed", phase in allowed, f"phase {phase}")
        labels = (velero_backup.get("metadata") or {}).get("labels") or {}
        check(
            "velero backup labels",
            labels.get(BACKUP_SET_LABEL) == backup_set.id,
            f"labels {labels}",
        )
    check(
        "disk backup present",
        recovery_point is not None or datasync_execution is not None,
        "every backup set needs its EFS backup",
    )
    check_rule_one(check, "database", times)
    if cold_window is not None or window_required:
        problems = (cold_window or {}).get("problems") or []
        detail = (
            "; ".join(problems)
            if problems
            else f"every selected ECD stayed stopped from {cold_window['start']} until the "
            f"copies completed ({cold_window['closed_at']})"
            if cold_window
            else "the window's close was never judged (did resume_workflows run?)"
        )
        check("cold window intact", bool(cold_window) and not problems, detail)
    if cold_window and memorydb_snapshot is not None:
        # The window closes when the EFS job completes, not when the MemoryDB snapshot
        # does: its data is each shard's fork, at SnapshotCreationTime, which must
        # therefore fall inside the window.
        shards = (memorydb_snapshot.get("ClusterConfiguration") or {}).get("Shards") or []
        forks = [to_utc(s["SnapshotCreationTime"]) for s in shards if s.get("SnapshotCreationTime")]
        closed = to_utc(cold_window["closed_at"])
        check(
            "memorydb snapshot inside the cold window",
            bool(forks) and max(forks) <= closed,
            f"last shard forked {max(forks).isoformat() if forks else 'never'}, "
            f"window closed {closed.isoformat()}",
        )
    failed = [c for c in checks if not c["ok"]]
    return {"result": "failed" if failed else "passed", "checks": checks}


def check_rule_one(check, point: str, times: Mapping[str, datetime | None]) -> None:
    """Rule 1: the database's point (``times[point]``) strictly older than the disk's
    (``efs``) and the cache's (``memorydb``), each that the set has."""
    database = times.get(point)
    if database is None:
        return
    for other in ("efs", "memorydb"):
        when = times.get(other)
        if when is None:
            continue
        check(
            f"rule 1: {point} older than {other}",
            database < when,
            f"{point} {database.isoformat()} vs {other} {when.isoformat()}",
        )


def check_recovery_point(
    check,
    what: str,
    point: Mapping[str, Any],
    tags: Mapping[str, str] | None,
    backup_set: BackupSet,
) -> Any:
    """An AWS Backup recovery point of the set: complete, tagged; returns its point in time."""
    status = point.get("Status")
    check(
        f"{what} recovery point completed",
        status in RESTORABLE_POINT_STATUSES,
        f"status {status}",
    )
    found = dict(tags or {})
    check(f"{what} recovery point tags", tags_ok(found, backup_set), f"tags {found}")
    return to_utc(point.get("CreationDate"))


def _check_copies(
    check,
    backup_set: BackupSet,
    *,
    rds_snapshot,
    rds_snapshot_copy,
    recovery_point,
    recovery_point_copy,
    recovery_point_copy_tags,
    memorydb_snapshot,
    memorydb_copy,
) -> None:
    """Each copy is complete, tagged with the set, and holds the same point in time.

    The point in time is what a restore in the copy region plans with, so it
    must be the source's: RDS keeps it as ``OriginalSnapshotCreateTime``,
    AWS Backup keeps the source's ``CreationDate`` on a copy, and the MemoryDB
    copy carries it as metadata.
    """
    if rds_snapshot_copy is not None:
        status = rds_snapshot_copy.get("Status")
        check("rds snapshot copy available", status == "available", f"status {status}")
        tags = tag_dict(rds_snapshot_copy.get("TagList"))
        check("rds snapshot copy tags", tags_ok(tags, backup_set), f"tags {tags}")
        source = rds_snapshot or {}
        original = to_utc(
            source.get("OriginalSnapshotCreateTime") or source.get("SnapshotCreateTime")
        )
        copied = to_utc(rds_snapshot_copy.get("OriginalSnapshotCreateTime"))
        check(
            "rds snapshot copy point in time",
            copied is not None and copied == original,
            f"copy {copied and copied.isoformat()} vs source {original and original.isoformat()}",
        )
    if recovery_point_copy is not None:
        status = recovery_point_copy.get("Status")
        check(
            "efs recovery point copy completed",
            status in RESTORABLE_POINT_STATUSES,
            f"status {status}",
        )
        tags = dict(recovery_point_copy_tags or {})
        check("efs recovery point copy tags", tags_ok(tags, backup_set), f"tags {tags}")
        copied = to_utc(recovery_point_copy.get("CreationDate"))
        original = to_utc((recovery_point or {}).get("CreationDate"))
        check(
            "efs recovery point copy point in time",
            copied is not None and copied == original,
            f"copy {copied and copied.isoformat()} vs source {original and original.isoformat()}",
        )
    if memorydb_copy is not None:
        shards = len(
            ((memorydb_snapshot or {}).get("ClusterConfiguration") or {}).get("Shards") or []
        )
        check(
            "memorydb snapshot copy complete",
            bool(memorydb_copy) and len(memorydb_copy) == shards,
            f"{len(memorydb_copy)} .rdb file(s) for {shards} shard(s)",
        )
        source_time = memorydb_snapshot_time(memorydb_snapshot or {})
        for obj in memorydb_copy:
            tags = dict(obj.get("Tags") or {})
            check(f"memorydb copy {obj['Key']} tags", tags_ok(tags, backup_set), f"tags {tags}")
            check_rdb_point_in_time(check, f"memorydb copy {obj['Key']}", obj, source_time, shards)


def check_rdb_point_in_time(check, name: str, obj: Mapping[str, Any], source, shards: int) -> None:
    """A copied ``.rdb`` file carries its snapshot's point in time and shard count (its
    metadata, ``records.META_*``): what a restore from the copy plans with."""
    meta = obj.get("Metadata") or {}
    when = to_utc(meta.get(META_TIME)) if meta.get(META_TIME) else None
    check(
        f"{name} point in time",
        when is not None and when == source and meta.get(META_SHARDS) == str(shards),
        f"time {meta.get(META_TIME)} vs snapshot "
        f"{source and source.isoformat()}, shards {meta.get(META_SHARDS)}",
    )


def failure_message(verification: Mapping[str, Any], what: str = "verification") -> str:
    failed = [c for c in verification["checks"] if not c["ok"]]
    return f"{what} failed:\n" + "\n".join(f"  - {c['check']}: {c['detail']}" for c in failed)
