"""What a retention decision keeps paying for and what it saves, per component. Pure.

Prices are the configured ones (``prices``, seeded with the design's figures)
applied through ``manifest.monthly_cost``, to the sizes AWS reports (RDS:
allocated storage; AWS Backup: ``BackupSizeInBytes``; MemoryDB: its shards'
sizes; its cross-region copy: the S3 objects' sizes, at the S3 price; a
DataSync set's folder: what its execution wrote, at the EFS Standard price,
an approximation: see ``retention_artifacts.datasync_folder``).
MemoryDB charges nothing for one snapshot per cluster, so a component's cost
is computed over the whole group (the oldest snapshot of each cluster free)
and *removed* is what deleting saves: the cost before minus the cost after.
Velero backups and manifests are objects in S3, counted but not priced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ue_backup.config import PricesConfig
from ue_backup.manifest import PRICE_OF, monthly_cost
from ue_backup.retention import DELETE, KEEP
from ue_backup.retention_artifacts import MEMORYDB_SNAPSHOT, Artifact, base_kind

COMPONENTS = (
    "rds_snapshot",
    "rds_snapshot_copy",
    "efs_recovery_point",
    "efs_recovery_point_copy",
    "rds_recovery_point",
    "memorydb_snapshot",
    "memorydb_snapshot_copy",
    "datasync_folder",
    "velero_backup",
    "manifest",
)


def _priced_as(kind: str) -> str:
    """The manifest's price key for a kind; a copy it does not know is priced as its source."""
    return kind if kind in PRICE_OF else base_kind(kind)


def priced(kind: str) -> bool:
    return _priced_as(kind) in PRICE_OF


def _free(artifacts: list[Artifact]) -> set[Artifact]:
    """The MemoryDB snapshot of each cluster that costs nothing (the oldest).

    Only snapshots in MemoryDB: a copy in another region is S3 objects.
    """
    groups: dict[tuple, list[Artifact]] = {}
    for a in artifacts:
        if a.kind == MEMORYDB_SNAPSHOT and a.service == "memorydb":
            groups.setdefault((a.region, a.group), []).append(a)
    return {min(group, key=lambda a: (a.time or "", a.id)) for group in groups.values()}


def monthly(artifacts: Iterable[Artifact], prices: PricesConfig) -> float:
    """USD per month to keep these artifacts together (unknown sizes count as 0)."""
    artifacts = list(artifacts)
    free = _free(artifacts)
    costs = (monthly_cost(_priced_as(a.kind), a.size_bytes, prices, a in free) for a in artifacts)
    return round(sum(c or 0.0 for c in costs), 4)


def list_price(artifacts: Iterable[Artifact], prices: PricesConfig) -> float:
    """USD per month of these artifacts on their own, with no free snapshot."""
    costs = (monthly_cost(_priced_as(a.kind), a.size_bytes, prices) for a in artifacts)
    return round(sum(c or 0.0 for c in costs), 4)


def _artifacts(decision: Mapping[str, Any], action: str) -> list[Artifact]:
    return [
        Artifact.from_json(a)
        for s in decision["sets"]
        if s["action"] == action
        for a in s["artifacts"]
    ]


def component_costs(decision: Mapping[str, Any], prices: PricesConfig) -> dict[str, Any]:
    """Per component: count, known size and USD/month of what is kept and of what goes."""
    kept, removed = _artifacts(decision, KEEP), _artifacts(decision, DELETE)
    out: dict[str, Any] = {}
    for component in COMPONENTS:
        k = [a for a in kept if a.kind == component]
        r = [a for a in removed if a.kind == component]
        if not k and not r:
            continue
        kept_usd = monthly(k, prices) if priced(component) else None
        removed_usd = round(monthly(k + r, prices) - kept_usd, 4) if kept_usd is not None else None
        out[component] = {
            "kept": _part(k, kept_usd),
            "removed": _part(r, removed_usd),
        }
    totals = {
        side: round(sum(c[side]["monthly_usd"] or 0.0 for c in out.values()), 4)
        for side in ("kept", "removed")
    }
    return {"components": out, "total_monthly_usd": totals}


def _part(artifacts: list[Artifact], usd: float | None) -> dict[str, Any]:
    sizes = [a.size_bytes for a in artifacts if a.size_bytes is not None]
    return {
        "count": len(artifacts),
        "size_bytes": sum(sizes),
        "unknown_size": len(artifacts) - len(sizes),
        "monthly_usd": usd,
    }


# --- tables for the task log ----------------------------------------------------


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def _usd(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def plan_table(decision: Mapping[str, Any], prices: PricesConfig) -> str:
    """Set, keep/delete, USD/month (list price), artifacts, reasons; then what was ignored."""
    # With the immutable section: each set's protected copies (never deleted), "locked until".
    locked = decision.get("protected") is not None
    rows = [("backup set", "action", "USD/month", "artifacts")]
    rows[0] += ("protected copies", "reason") if locked else ("reason",)
    for s in decision["sets"]:
        artifacts = [Artifact.from_json(a) for a in s["artifacts"]]
        row = (
            s["backup_set"],
            s["action"],
            _usd(list_price(artifacts, prices)),
            str(len(artifacts)),
        )
        row += (s.get("locked") or "none",) if locked else ()
        rows.append((*row, "; ".join(s["reasons"])))
    lines = _table(rows)
    lines.append(
        f"policy: keep the newest {decision['keep_last']} sets (and restorable ones) and any "
        f"younger than {decision['keep_days']} days; newest restorable set: "
        f"{decision['newest_restorable'] or 'none'}"
        + (
            f"; from the copies: {decision['newest_restorable_from_copies'] or 'none'}"
            if "newest_restorable_from_copies" in decision
            else ""
        )
    )
    for item in decision["ignored"]:
        a = item["artifact"]
        lines.append(f"not touched: {a['kind']} {a['id']}: {item['reason']}")
    return "\n".join(lines)


def cost_table(costs: Mapping[str, Any]) -> str:
    """Component, kept (count, USD/month), removed (count, USD/month), and the totals."""
    rows = [("component", "kept", "USD/month", "removed", "USD/month saved")]
    for component, c in costs["components"].items():
        rows.append(
            (
                component,
                str(c["kept"]["count"]),
                _usd(c["kept"]["monthly_usd"]),
                str(c["removed"]["count"]),
                _usd(c["removed"]["monthly_usd"]),
            )
        )
    total = costs["total_monthly_usd"]
    rows.append(("total", "", _usd(total["kept"]), "", _usd(total["removed"])))
    return "\n".join(_table(rows))
