"""Verify the set's copies in the protected account: a verdict of their own (issue 17).

The home verdict (``verify.verify_set``) says whether the installation's own
backup set restores; it marks those artifacts ``ue-backup:verified`` and the
set's manifest and RPO metric follow it. The copies out of the Airflow role's
reach are judged here, after the manifest is written, so that a locked copy
that failed fails the run loudly without making the night's good home set
look unrestorable to the planner and the RPO guard. This verdict decides
whether the manifest is locked (``immutable_manifest.lock_manifest``), and a
locked manifest is what makes a set restorable from the protected copies
(``locked_inventory``).

Judged: every locked copy the run was to make exists (a copy task that failed
leaves none: that is a failed check, not silence); each copy job and each copy
as the protected account describes it (complete, the source's point in time,
in a locked vault, kept long enough); MemoryDB's locked ``.rdb`` files; and
rule 1 for the locked set, whose database point is the AWS Backup point's
snapshot (``database_point``), not the home set's manual snapshot.
A pure rule: it calls nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from ue_backup.backup_set import BackupSet
from ue_backup.immutable import object_lock_problems
from ue_backup.planning import RESTORABLE_POINT_STATUSES, memorydb_snapshot_time, to_utc
from ue_backup.verify import check_rdb_point_in_time, check_recovery_point, check_rule_one

# What a run may copy into the protected account: the disk's and the database's AWS
# Backup points (into the locked vault) and MemoryDB's .rdb files (into the bucket).
LOCKED_COPIES = ("efs", "rds", "memorydb")
DATABASE_POINT = "database (locked copy)"


def verify_locked_set(
    backup_set: BackupSet,
    *,
    expected: Iterable[str],
    recovery_point: Mapping[str, Any] | None,
    memorydb_snapshot: Mapping[str, Any] | None,
    rds_backup_job: Mapping[str, Any] | None = None,
    rds_recovery_point: Mapping[str, Any] | None = None,
    rds_recovery_point_tags: Mapping[str, str] | None = None,
    rds_recovery_point_snapshot: Mapping[str, Any] | None = None,
    immutable_copies: Mapping[str, Mapping[str, Any]] | None = None,
    immutable_vault: Mapping[str, Any] | None = None,
    immutable_lifecycle: Mapping[str, int] | None = None,
    immutable_account: str | None = None,
    memorydb_immutable: list[Mapping[str, Any]] | None = None,
    not_found: Iterable[str] = (),
) -> dict[str, Any]:
    """Judge the locked copies as AWS describes them now.

    ``expected``: the locked copies the run was to make (of ``LOCKED_COPIES``).
    ``recovery_point`` and ``memorydb_snapshot``: the home set's disk and cache
    points (their sources, and the other side of rule 1).
    ``rds_backup_job`` is that job as DescribeBackupJob answers (None: never started).
    ``rds_recovery_point`` is the database's AWS Backup recovery point (the source of
    its locked copy), ``rds_recovery_point_snapshot`` the RDS snapshot behind it
    (DBSnapshot: its ``SnapshotCreateTime`` is the point in time, not the job's
    date); ``immutable_copies`` maps what was copied into the locked vault
    (``"efs"``, ``"rds"``) to ``{"job": DescribeCopyJob's CopyJob, "point":
    DescribeRecoveryPoint there, through the protected account}``.
    ``memorydb_immutable`` is MemoryDB's locked ``.rdb`` files as the protected
    account describes them (HeadObject with ``Key``, ``VersionId`` and
    ``Retention`` added). ``not_found``: records whose artifact AWS does not know.
    Returns ``{"result", "checks": [{"check", "ok", "detail"}]}``.
    """
    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"check": name, "ok": bool(ok), "detail": detail})

    copies = dict(immutable_copies or {})
    made = {
        "efs": "efs" in copies,
        "rds": "rds" in copies,
        "memorydb": memorydb_immutable is not None,
    }
    for what in expected:
        check(
            f"{what} immutable copy made",
            made[what],
            "made" if made[what] else "no copy was made (its copy task failed or never ran)",
        )
    missing = sorted(not_found)
    if missing:
        check("locked artifacts found", False, f"not found in AWS: {missing}")
    if rds_backup_job is not None:
        state = rds_backup_job.get("State")
        check(
            "rds backup job completed",
            state == "COMPLETED",
            f"job {rds_backup_job.get('BackupJobId')} {state}"
            + (
                f": {rds_backup_job['StatusMessage']}"
                if rds_backup_job.get("StatusMessage")
                else ""
            ),
        )
    sources = {"efs": recovery_point, "rds": rds_recovery_point}
    for what, copy in copies.items():
        _check_immutable_copy(check, what, copy["job"], immutable_lifecycle, immutable_account)
        _check_locked_copy(
            check, what, copy.get("point"), immutable_vault, sources[what], immutable_lifecycle
        )
    if memorydb_immutable is not None:
        _check_locked_rdb(
            check, backup_set, memorydb_snapshot, memorydb_immutable, immutable_lifecycle
        )
    times: dict[str, Any] = {
        "efs": to_utc((recovery_point or {}).get("CreationDate")),
        "memorydb": memorydb_snapshot_time(memorydb_snapshot) if memorydb_snapshot else None,
    }
    if rds_recovery_point is not None:
        check_recovery_point(check, "rds", rds_recovery_point, rds_recovery_point_tags, backup_set)
        # The locked set's database point: when RDS took the snapshot behind the recovery
        # point (the job's CreationDate may be earlier), under rule 1 like the home set's.
        taken = to_utc((rds_recovery_point_snapshot or {}).get("SnapshotCreateTime"))
        check(
            "rds recovery point snapshot taken",
            taken is not None,
            f"snapshot time {taken and taken.isoformat()}",
        )
        times[DATABASE_POINT] = taken
    check_rule_one(check, DATABASE_POINT, times)
    failed = [c for c in checks if not c["ok"]]
    return {"result": "failed" if failed else "passed", "checks": checks}


def _check_immutable_copy(
    check,
    what: str,
    job: Mapping[str, Any],
    lifecycle: Mapping[str, int] | None,
    account: str | None,
) -> None:
    """The copy into the locked vault completed, there, kept as long as configured.

    Read from the copy job (the installation's account started it and may describe
    it); the locked vault itself is the protected account's, and a locked vault
    fails a copy kept less than its minimum, so a completed job is a locked copy.
    """
    state = job.get("State")
    check(f"{what} immutable copy completed", state == "COMPLETED", f"state {state}")
    vault = str(job.get("DestinationBackupVaultArn") or "")
    parts = vault.split(":")
    check(
        f"{what} immutable copy in the protected account",
        len(parts) > 4 and parts[4] == account,
        f"vault {vault}, protected account {account}",
    )
    kept = (job.get("DestinationRecoveryPointLifecycle") or {}).get("DeleteAfterDays")
    wanted = (lifecycle or {}).get("DeleteAfterDays")
    check(
        f"{what} immutable copy retention",
        kept is not None and wanted is not None and kept >= wanted,
        f"kept {kept} days, at least {wanted} wanted",
    )


def _check_locked_copy(
    check,
    what: str,
    point: Mapping[str, Any] | None,
    vault: Mapping[str, Any] | None,
    source: Mapping[str, Any] | None,
    lifecycle: Mapping[str, int] | None,
) -> None:
    """The copy as the protected account describes it: complete, the source's point in
    time, in a vault whose lock is in force, and kept (``DeleteAt``) as long as configured."""
    status = (point or {}).get("Status")
    check(
        f"{what} immutable copy readable in the protected account", point is not None, f"{status}"
    )
    if point is None:
        return
    check(f"{what} immutable copy status", status in RESTORABLE_POINT_STATUSES, f"status {status}")
    copied = to_utc(point.get("CreationDate"))
    original = to_utc((source or {}).get("CreationDate"))
    check(
        f"{what} immutable copy point in time",
        copied is not None and copied == original,
        f"copy {copied and copied.isoformat()} vs source {original and original.isoformat()}",
    )
    lock_date = to_utc((vault or {}).get("LockDate"))
    check(
        f"{what} immutable copy in a locked vault",
        bool((vault or {}).get("Locked")) and lock_date is not None,
        f"Locked {(vault or {}).get('Locked')}, lock date {lock_date and lock_date.isoformat()}",
    )
    delete_at = to_utc((point.get("CalculatedLifecycle") or {}).get("DeleteAt"))
    days = (lifecycle or {}).get("DeleteAfterDays")
    wanted = copied + timedelta(days=days) if copied and days else None
    check(
        f"{what} immutable copy locked until",
        delete_at is not None and wanted is not None and delete_at >= wanted,
        f"delete at {delete_at and delete_at.isoformat()}, "
        f"not before {wanted and wanted.isoformat()} wanted",
    )


def _check_locked_rdb(
    check,
    backup_set: BackupSet,
    snapshot: Mapping[str, Any] | None,
    files: list[Mapping[str, Any]],
    lifecycle: Mapping[str, int] | None,
) -> None:
    """MemoryDB's locked copy, read through the protected account: a file for every shard,
    each version locked in COMPLIANCE mode until at least the set's time +
    ``min_retention_days``, carrying the snapshot's point in time and shard count."""
    shards = len(((snapshot or {}).get("ClusterConfiguration") or {}).get("Shards") or [])
    check(
        "memorydb immutable copy complete",
        bool(files) and len(files) == shards,
        f"{len(files)} locked .rdb file(s) for {shards} shard(s)",
    )
    days = (lifecycle or {}).get("DeleteAfterDays")
    required = backup_set.created_at + timedelta(days=days or 0)
    source_time = memorydb_snapshot_time(snapshot or {})
    for obj in files:
        where = f"{obj['Key']} (version {obj.get('VersionId')})"
        problems = object_lock_problems(where, obj.get("Retention") or {}, required, days or 0)
        until = (obj.get("Retention") or {}).get("RetainUntilDate")
        check(
            f"memorydb immutable copy {obj['Key']} locked",
            bool(days) and not problems,
            "; ".join(problems)
            or f"COMPLIANCE until {to_utc(until).isoformat()}, not before {required.isoformat()}",
        )
        check_rdb_point_in_time(
            check, f"memorydb immutable copy {obj['Key']}", obj, source_time, shards
        )
