"""The restore drill's report: what was restored, whether it worked, and how long it took.

A drill proves that a backup set restores; its report is the evidence an
operator (or an auditor) keeps. This module is pure: it turns what the
drill's tasks recorded (when each restore started, when its resource was
verified usable, which steps failed) into the report and its table, so the
arithmetic of the recovery time objective (RTO) is tested on its own.

Measured RTO, per component: from the moment the drill asked AWS (or
Velero) to restore it to the moment the drill verified the restored
resource usable. In total: from the start of the drill run to the moment
the last component was verified, so listing and planning count too, as
they would in a real recovery. A restore start that was retried measures
from its last try (Airflow clears a retried task's records), so after a
retry the figure is a lower bound.

From the protected copies (``source: immutable``) a real recovery first copies
the locked points back into the installation's vault (and stages MemoryDB's
files): that time is recovery time too. The report then has a ``bring_back``
line (from its start to the last point brought back), and each component it
brought back (database, EFS, MemoryDB) is timed from the bring-back's start,
not from its own restore call (``rto_from: bring_back``). The total, from the
start of the run, covers it anyway (the bring-back runs after planning and
before every restore start).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from ue_backup.app_checks import report_entry
from ue_backup.locked_inventory import LOCKED_COMPONENTS

# Each component: the flag the drill's plan sets when it restores it, the task that
# starts its restore (and records when), the task that verifies it, and every task of it.
COMPONENTS: dict[str, dict[str, Any]] = {
    "database": {
        "flag": "restore_database",
        "start": "restore_database",
        "verify": "verify_database",
        "steps": ("restore_database", "wait_database", "verify_database"),
    },
    "efs": {
        "flag": "restore_efs",
        "start": "restore_efs",
        "verify": "verify_efs",
        "steps": (
            "restore_efs",
            "wait_efs",
            "restored_file_system",
            "wait_efs_mount_targets",
            "copy_efs",  # a DataSync installation's copy of the set's folder
            "wait_efs_copy",
            "release_efs_copy",
            "purge_efs",
            "check_efs_clean",
            "verify_efs",
        ),
    },
    "memorydb": {
        "flag": "restore_memorydb",
        "start": "restore_memorydb",
        "verify": "verify_memorydb",
        "steps": ("restore_memorydb", "wait_memorydb", "verify_memorydb"),
    },
    "kubernetes": {
        "flag": "restore_velero",
        "start": "restore_kubernetes",
        "verify": "verify_kubernetes",
        "steps": ("restore_kubernetes", "wait_kubernetes", "verify_kubernetes"),
    },
}

PASSED, FAILED, DRY_RUN = "passed", "failed", "dry run"
BRING_BACK = "bring_back_locked_copies"  # the task that copies the protected copies home


def _time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def seconds_between(start: str | datetime | None, end: str | datetime | None) -> float | None:
    """Seconds from ``start`` to ``end`` (ISO 8601 or datetimes), rounded to 0.01; None if unknown.

    A negative span means the records are inconsistent: refused, not reported.
    """
    begin, finish = _time(start), _time(end)
    if begin is None or finish is None:
        return None
    span = (finish - begin).total_seconds()
    if span < 0:
        raise ValueError(f"{end} is before {start}: the drill's timestamps are inconsistent")
    return round(span, 2)


def component_result(
    name: str,
    planned: bool,
    record: Mapping[str, Any],
    failed_steps: Iterable[str],
    clock_from: str | None = None,
) -> dict[str, Any]:
    """One component's line of the report.

    ``record`` holds ``started_at`` (when its restore was asked for) and
    ``verified`` (what its verification returned, with ``usable_at``).
    ``clock_from``: when its recovery began, if before its restore call (the
    bring-back's start, for a component restored from the protected copies).
    """
    steps = COMPONENTS[name]["steps"]
    failed = [step for step in steps if step in set(failed_steps)]
    verified = record.get("verified")
    if not planned:
        status = "not restored"
    elif verified and not failed:
        status = "verified"
    else:
        status = "failed"
    usable_at = (verified or {}).get("usable_at") if status == "verified" else None
    result = {
        "status": status,
        "started_at": record.get("started_at") if planned else None,
        "usable_at": usable_at,
        "rto_seconds": seconds_between(clock_from or record.get("started_at"), usable_at),
        "failed_steps": failed,
        "checks": {k: v for k, v in (verified or {}).items() if k != "usable_at"},
    }
    if clock_from:
        result["rto_from"] = "bring_back"
    return result


def bring_back_result(
    record: Mapping[str, Any] | None, failed_steps: Iterable[str]
) -> dict[str, Any]:
    """The bring-back's line: when it began and ended, and what it brought home.

    ``record`` holds ``started_at`` and ``finished_at`` (the operator's XComs) and
    ``result`` (its return value: per component the copy job and the point in the
    installation's vault, MemoryDB's staged files).
    """
    record = record or {}
    failed = BRING_BACK in set(failed_steps)
    if failed:
        status = FAILED
    elif record.get("finished_at"):
        status = "brought back"
    else:
        status = "not run"
    result = record.get("result") or {}
    finished = record.get("finished_at") if not failed else None
    return {
        "status": status,
        "started_at": record.get("started_at"),
        "finished_at": finished,
        "seconds": seconds_between(record.get("started_at"), finished),
        "points": {
            what: {k: entry.get(k) for k in ("copy_job_id", "source", "recovery_point_arn")}
            for what, entry in sorted(result.items())
            if what != "memorydb"
        },
        "staged_files": (result.get("memorydb") or {}).get("snapshot_arns") or [],
    }


def build_report(
    drill: Mapping[str, Any],
    records: Mapping[str, Mapping[str, Any]],
    failed_steps: Iterable[str],
    finished_at: datetime | None = None,
    verification: Mapping[str, Any] | None = None,
    bring_back: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The drill's report from its settings (``drill``) and what each component recorded.

    The outcome is ``passed`` only when every planned component was verified,
    the application checks the plan runs (``check_application``) all passed,
    and no step failed; the total RTO is given only then (a recovery that did
    not complete has no recovery time). ``verification`` is the checks'
    summary (``app_checks.summarize``); their time is reported apart from the
    RTO, which measures the restore alone. ``bring_back``: from the protected
    copies, what ``bring_back_result`` takes (its time is counted, see above).
    """
    failed = sorted(set(failed_steps))
    checks = report_entry(bool(drill.get("check_application")), verification)
    back = bring_back_result(bring_back, failed) if drill.get("from_immutable") else None
    clock = (back or {}).get("started_at")
    components = {
        name: component_result(
            name,
            bool(drill.get(spec["flag"])),
            records.get(name, {}),
            failed,
            clock_from=clock if name in LOCKED_COMPONENTS else None,
        )
        for name, spec in COMPONENTS.items()
    }
    planned = [c for c in components.values() if c["status"] != "not restored"]
    if drill.get("dry_run"):
        outcome = DRY_RUN
    elif (
        failed
        or not planned
        or any(c["status"] != "verified" for c in planned)
        or checks["status"] not in ("passed", "not configured")
    ):
        outcome = FAILED
    else:
        outcome = PASSED
    last_usable = max((c["usable_at"] for c in planned if c["usable_at"]), default=None)
    began = min((t for t in (drill.get("started_at"), clock) if t), default=None, key=_time)
    total = seconds_between(began, last_usable) if outcome == PASSED else None
    rto = {name: c["rto_seconds"] for name, c in components.items() if c["rto_seconds"] is not None}
    if back and back["seconds"] is not None:
        rto["bring_back"] = back["seconds"]
    plan = drill.get("plan") or {}
    return {
        "drill_id": drill.get("drill_id"),
        "installation": drill.get("installation"),
        "source": drill.get("source") or "home",
        "bring_back": back,
        "backup_set": plan.get("backup_set"),
        "outcome": outcome,
        "started_at": drill.get("started_at"),
        "verified_at": last_usable if outcome == PASSED else None,
        "finished_at": (finished_at or datetime.now(UTC)).isoformat(),
        "rto_seconds": {"total": total, **rto},
        "components": components,
        "verification": checks,
        "failed_steps": failed,
        "restored_from": {
            "database": plan.get("database"),
            "efs": plan.get("disk"),
            "memorydb": plan.get("memorydb"),
            "kubernetes": plan.get("velero"),
        },
        "temporary_resources": drill.get("resources"),
    }


def report_table(report: Mapping[str, Any]) -> str:
    """The report as a short table for the task log: component, status, RTO, failed steps."""
    rows = [("component", "status", "restore asked", "usable at", "RTO (s)", "failed steps")]
    back = report.get("bring_back")
    if back:  # from the protected copies: the copy home, counted in each component's RTO
        rows.append(
            (
                "bring back",
                back["status"],
                back["started_at"] or "",
                back["finished_at"] or "",
                "" if back["seconds"] is None else f"{back['seconds']:.2f}",
                BRING_BACK if back["status"] == FAILED else "",
            )
        )
    for name, c in report["components"].items():
        rows.append(
            (
                name,
                c["status"],
                c["started_at"] or "",
                c["usable_at"] or "",
                "" if c["rto_seconds"] is None else f"{c['rto_seconds']:.2f}",
                ", ".join(c["failed_steps"]),
            )
        )
    total = report["rto_seconds"]["total"]
    rows.append(
        (
            "total",
            report["outcome"],
            report["started_at"] or "",
            report["verified_at"] or "",
            "" if total is None else f"{total:.2f}",
            "",
        )
    )
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, lines[1])
    head = f"Restore drill {report['drill_id']} of backup set {report['backup_set']}"
    if report.get("source") == "immutable":
        head += " from the protected copies (RTO from the bring-back's start)"
    return "\n".join([head, *lines])


def report_key(prefix: str, installation: str, drill_id: str) -> str:
    """Where the report is kept: beside the manifests, under ``<prefix>drills/<installation>/``."""
    return f"{prefix}drills/{installation}/{drill_id}.json"
