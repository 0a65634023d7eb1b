"""The backup-set manifest: what one run produced, written to S3 and to XCom.

The manifest is the record the restore planner and the retention DAG read
back (Kanister's split: one action records artifacts, the next reads them).
It holds every artifact's id, ARN, point in time, state and size, the cold
window's measured start and end beside what preflight estimated it would last
(``window_estimate``), the verification result (and, with the
``immutable`` section, the protected copies' own: ``locked_verification``), and
an estimated monthly storage cost at the configured prices.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ue_backup.backup_set import BackupSet
from ue_backup.config import PricesConfig
from ue_backup.planning import iso, to_utc

MANIFEST_VERSION = 1
GB = 1024**3

# Which configured price applies to which artifact kind.
PRICE_OF = {
    "rds_snapshot": "rds_snapshot_gb_month",
    "efs_recovery_point": "efs_warm_gb_month",
    "memorydb_snapshot": "memorydb_snapshot_gb_month",
    # Cross-region copies, at the same prices in their region; the MemoryDB copy is
    # an export's .rdb files in S3. Transfer between regions is charged once, not
    # monthly, and is not counted here.
    "rds_snapshot_copy": "rds_snapshot_gb_month",
    "efs_recovery_point_copy": "efs_warm_gb_month",
    "memorydb_snapshot_copy": "s3_standard_gb_month",
    # The copy in the protected account's locked vault: paid by that account, so counted
    # apart (PROTECTED_KINDS), never in the installation's own total.
    "efs_recovery_point_immutable": "efs_warm_gb_month",
    # The database's AWS Backup recovery point (the source of its locked copy) is an RDS
    # snapshot that AWS Backup manages, priced as one.
    "rds_recovery_point": "rds_snapshot_gb_month",
    "rds_recovery_point_immutable": "rds_snapshot_gb_month",
    # MemoryDB's locked copy: its .rdb files in the protected account's Object Lock bucket.
    "memorydb_snapshot_immutable": "s3_standard_gb_month",
    # A DataSync set's folder on the target file system (retention's kind): EFS storage.
    "datasync_folder": "efs_standard_gb_month",
}
PROTECTED_KINDS = frozenset(
    {
        "efs_recovery_point_immutable",
        "rds_recovery_point_immutable",
        "memorydb_snapshot_immutable",
    }
)


def monthly_cost(
    kind: str, size_bytes: int | None, prices: PricesConfig, free: bool = False
) -> float | None:
    """Estimated USD per month to keep one artifact; None when AWS reports no size.

    ``free`` covers MemoryDB, which charges only beyond the first snapshot of
    a cluster. Velero objects are in S3 and get no figure here; a DataSync copy
    (``datasync_folder``) is priced as EFS Standard storage of the target.
    """
    if kind not in PRICE_OF or size_bytes is None:
        return None
    if free:
        return 0.0
    return round(size_bytes / GB * getattr(prices, PRICE_OF[kind]), 4)


def build_manifest(
    backup_set: BackupSet,
    artifacts: Mapping[str, Mapping[str, Any] | None],
    *,
    prices: PricesConfig,
    cold_window: Mapping[str, Any] | None,
    verification: Mapping[str, Any],
    memorydb_first_snapshot: bool = False,
    created_at: datetime | None = None,
    network: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the manifest (JSON-serialisable) from the artifacts the run recorded.

    ``artifacts`` maps a kind (``rds_snapshot``, ``efs_recovery_point``,
    ``memorydb_snapshot``, ``velero_backup``, ``datasync_execution``, and the
    cross-region copies ``rds_snapshot_copy``, ``efs_recovery_point_copy``,
    ``memorydb_snapshot_copy``, which also name their ``region``) to what
    the operators returned (id, arn, time, state, size_bytes); None for a
    component the installation does not have. ``network``: where the live
    resources were (``recorded_network.network_record``), what a restore from the
    protected copies gives what it restores once they are gone.
    """
    entries = _entries(artifacts, prices, memorydb_first_snapshot)
    window = None
    if cold_window and cold_window.get("start"):
        start = to_utc(cold_window["start"])
        end = to_utc(cold_window.get("end")) if cold_window.get("end") else None
        estimate = cold_window.get("estimate") or {}
        window = {
            "start": iso(start),
            "end": iso(end) if end else None,
            "seconds": round((end - start).total_seconds(), 3) if end else None,
            "mode": cold_window.get("mode"),
            # proven at its close (cold_window.judge): "intact" or, without a window, "none"
            "state": cold_window.get("state", "none"),
            # what preflight expected it to last (window_estimate), beside ``seconds``
            "estimate_seconds": estimate.get("seconds"),
            "estimate_basis": estimate.get("basis"),
        }
    return {
        "version": MANIFEST_VERSION,
        "installation": backup_set.installation,
        "backup_set": backup_set.id,
        "run_id": backup_set.run_id,
        "created_at": iso(to_utc(created_at)) if created_at else None,
        "artifacts": entries,
        "cold_window": window,
        "verification": dict(verification),
        "network": dict(network) if network is not None else None,
        **_totals(entries),
        "prices_usd_per_gb_month": prices.model_dump(),
    }


def with_locked_copies(
    manifest: Mapping[str, Any],
    artifacts: Mapping[str, Mapping[str, Any] | None],
    verification: Mapping[str, Any],
) -> dict[str, Any]:
    """The manifest with the copies in the protected account and their own verdict.

    The manifest is written once the home set is verified; the locked copies are
    judged after it (``verify_locked``), and their records (``*_immutable``, and
    the database's AWS Backup point they were copied from) and verdict
    (``locked_verification``) are added here, priced at the manifest's prices.
    """
    prices = PricesConfig(**manifest["prices_usd_per_gb_month"])
    entries = {**manifest["artifacts"], **_entries(artifacts, prices)}
    return {
        **{k: v for k, v in manifest.items() if k != "location"},
        "artifacts": entries,
        "locked_verification": dict(verification),
        **_totals(entries),
    }


def _entries(
    artifacts: Mapping[str, Mapping[str, Any] | None],
    prices: PricesConfig,
    memorydb_first_snapshot: bool = False,
) -> dict[str, Any]:
    """Each artifact's manifest entry: its time in ISO 8601 UTC, its monthly cost."""
    entries: dict[str, Any] = {}
    for kind, artifact in artifacts.items():
        if artifact is None:
            entries[kind] = None
            continue
        entry = dict(artifact)
        if entry.get("time") is not None:
            entry["time"] = iso(to_utc(entry["time"]))
        free = kind == "memorydb_snapshot" and memorydb_first_snapshot
        entry["monthly_cost_usd"] = monthly_cost(kind, entry.get("size_bytes"), prices, free)
        entries[kind] = entry
    return entries


def _totals(entries: Mapping[str, Any]) -> dict[str, float]:
    """What the set costs the installation's account a month, and apart, what its locked
    copies cost the protected account (config: immutable)."""
    costs = {kind: (e or {}).get("monthly_cost_usd") or 0.0 for kind, e in entries.items()}
    return {
        "monthly_cost_usd": round(sum(c for k, c in costs.items() if k not in PROTECTED_KINDS), 4),
        "protected_account_monthly_cost_usd": round(
            sum(c for k, c in costs.items() if k in PROTECTED_KINDS), 4
        ),
    }


def manifest_json(manifest: Mapping[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True, default=str)


def stored_json(manifest: Mapping[str, Any]) -> str:
    """The manifest as the buckets hold it: without ``location``, which the returned
    manifest gains only once it is written."""
    return manifest_json({k: v for k, v in manifest.items() if k != "location"})


def human_size(size_bytes: int | None) -> str:
    """A size for people (B, KiB, ... TiB), "-" when AWS reported none."""
    if size_bytes is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size_bytes < 1024 or unit == "TiB":
            return f"{size_bytes:.0f} {unit}" if unit == "B" else f"{size_bytes:.1f} {unit}"
        size_bytes /= 1024
    raise AssertionError("unreachable")


def summary_table(manifest: Mapping[str, Any]) -> str:
    """A short human-readable table for the task log: artifact, id, time, state, size, cost."""
    rows = [("artifact", "id", "time", "state", "size", "USD/month")]
    for kind, a in manifest["artifacts"].items():
        if a is None:
            rows.append((kind, "(not configured)", "", "", "", ""))
            continue
        cost = a.get("monthly_cost_usd")
        rows.append(
            (
                kind,
                str(a.get("id", "")),
                str(a.get("time") or ""),
                str(a.get("state", "")),
                human_size(a.get("size_bytes")),
                "-" if cost is None else f"{cost:.2f}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    window = manifest.get("cold_window")
    if window:
        expected = window.get("estimate_seconds")
        lines.append(
            f"cold window: {window['start']} -> {window['end']} ({window['seconds']} s, "
            f"{window.get('mode')}"
            + (f"; estimated {expected} s" if expected is not None else "")
            + ")"
        )
    else:
        lines.append("cold window: none (hot backup)")
    lines.append(f"verification: {manifest['verification'].get('result', 'unknown')}")
    if manifest.get("locked_verification"):
        locked = manifest["locked_verification"].get("result", "unknown")
        lines.append(f"verification of the copies in the protected account: {locked}")
    lines.append(f"estimated storage cost: {manifest['monthly_cost_usd']:.2f} USD/month")
    if manifest.get("protected_account_monthly_cost_usd"):
        lines.append(
            "estimated storage cost in the protected account (locked copies): "
            f"{manifest['protected_account_monthly_cost_usd']:.2f} USD/month"
        )
    return "\n".join(lines)
