"""Retention's view of the protected copies: listed "locked until", never deleted. Pure.

With the ``immutable`` section every backup set leaves copies in the protected
account: the EFS and database recovery points in the locked vault (AWS Backup
deletes each at its lifecycle's ``DeleteAt``), and the manifest and MemoryDB's
``.rdb`` files in the Object Lock bucket (each version in COMPLIANCE mode until
its retain-until date). Retention's job is the installation's own account: the
Airflow role cannot delete these copies, and must never try, so they are not
``retention_artifacts.Artifact`` (what the delete step takes) but
``LockedCopy``: shown per set with the date their lock ends, and their monthly
cost counted apart, as the protected account's (``manifest.PROTECTED_KINDS``),
never in the installation's own totals.

Once a lock's date has passed: AWS Backup deletes a vault's point itself (its
lifecycle); an S3 version may then be deleted, by the bucket's lifecycle rules
in the protected account, never by retention. The listing is
``inventory.protected_listing``'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from ue_backup.backup_set import BACKUP_SET_TAG, INSTALLATION_TAG
from ue_backup.config import PricesConfig
from ue_backup.manifest import monthly_cost
from ue_backup.planning import iso, to_utc
from ue_backup.retention import ownership_problem

EFS_IMMUTABLE = "efs_recovery_point_immutable"
RDS_IMMUTABLE = "rds_recovery_point_immutable"
MANIFEST_IMMUTABLE = "manifest_immutable"
MEMORYDB_IMMUTABLE = "memorydb_snapshot_immutable"
LOCKED_KINDS = (EFS_IMMUTABLE, RDS_IMMUTABLE, MEMORYDB_IMMUTABLE, MANIFEST_IMMUTABLE)

NOT_LISTED = "protected copies not listed: {why}"
VAULT_EXPIRED = "lock expired: AWS Backup deletes it (the locked vault's lifecycle)"
OBJECT_EXPIRED = (
    "lock expired: deletable now, by the protected bucket's lifecycle rules (never retention)"
)


@dataclass(frozen=True)
class LockedCopy:
    """One protected copy: where it is, whose set its tags (or key) claim, until when locked."""

    kind: str
    id: str  # recovery point ARN, or the object's key
    container: str  # the locked vault, or the Object Lock bucket
    region: str
    installation: str | None
    backup_set: str | None
    locked_until: str | None  # ISO 8601, UTC; None: AWS reports no date
    size_bytes: int | None = None
    version_id: str | None = None  # an object's version (each locked version is paid for)
    mode: str | None = None  # an object version's retention mode (COMPLIANCE)
    state: str | None = None  # a recovery point's Status

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _time(value: datetime | str | None) -> str | None:
    moment = to_utc(value)
    return iso(moment) if moment else None


def locked_point(point: Mapping[str, Any], region: str) -> LockedCopy:
    """A recovery point of the locked vault, as ``ListRecoveryPointsByBackupVault`` lists it
    (its ``CalculatedLifecycle.DeleteAt`` is when AWS Backup deletes it) with ``Tags``."""
    tags = point.get("Tags") or {}
    rds = point.get("ResourceType") == "RDS"
    return LockedCopy(
        kind=RDS_IMMUTABLE if rds else EFS_IMMUTABLE,
        id=point["RecoveryPointArn"],
        container=point.get("BackupVaultName") or "",
        region=region,
        installation=tags.get(INSTALLATION_TAG),
        backup_set=tags.get(BACKUP_SET_TAG),
        locked_until=_time((point.get("CalculatedLifecycle") or {}).get("DeleteAt")),
        size_bytes=point.get("BackupSizeInBytes"),
        state=point.get("Status"),
    )


def locked_version(
    version: Mapping[str, Any],
    retention: Mapping[str, Any],
    bucket: str,
    region: str,
    prefix: str,
) -> LockedCopy:
    """One object version of the Object Lock bucket (a ``ListObjectVersions`` entry) and its
    retention (``GetObjectRetention``'s; ``{}``: none).

    Its set is the one its key names, ``<prefix><installation>/<set>/manifest.json`` or
    ``.../<set>/memorydb/<file>`` (where the backup writes them); any other key claims
    nothing, so it is left out as not this installation's.
    """
    key = version["Key"]
    parts = key[len(prefix) :].split("/") if key.startswith(prefix) else []
    kind = installation = backup_set = None
    if len(parts) == 3 and parts[2] == "manifest.json":
        kind = MANIFEST_IMMUTABLE
    elif len(parts) >= 4 and parts[2] == "memorydb":
        kind = MEMORYDB_IMMUTABLE
    if kind:
        installation, backup_set = parts[0], parts[1]
    return LockedCopy(
        kind=kind or "object_immutable",
        id=key,
        container=bucket,
        region=region,
        installation=installation,
        backup_set=backup_set,
        locked_until=_time(retention.get("RetainUntilDate")),
        size_bytes=version.get("Size"),
        version_id=version.get("VersionId"),
        mode=retention.get("Mode"),
    )


def status(copy: Mapping[str, Any], now: datetime | str) -> str:
    """``locked until <date>``, or what happens to it now that its lock has ended."""
    until = to_utc(copy.get("locked_until"))
    if until is None:
        return "no lock date reported"
    if until > to_utc(now):
        return f"locked until {iso(until)}"
    return OBJECT_EXPIRED if copy.get("version_id") else VAULT_EXPIRED


def _set_status(copies: list[dict[str, Any]], now: datetime | str) -> str:
    """A set is wholly locked until its earliest copy's date (each copy says its own)."""
    dates = sorted(c["locked_until"] for c in copies if c.get("locked_until"))
    if not dates:
        return "no lock date reported"
    return status({"locked_until": dates[0], "version_id": None}, now)


def with_protected(
    decision: Mapping[str, Any],
    listing: Mapping[str, Any] | None,
    now: datetime | str,
    prices: PricesConfig,
) -> dict[str, Any]:
    """The decision with each set's protected copies and the protected account's listing.

    Each set gains ``protected_copies`` (each with its ``status``) and
    ``locked``: "locked until <date>" (None: it has none). ``protected`` holds
    the sets that have only protected copies left (their home set already
    gone), the copies that are not this installation's, their cost, and
    ``problem`` when the protected account could not be read. Nothing here
    touches ``artifacts``: the delete step never sees a protected copy.
    """
    out = dict(decision)
    if listing is None:  # no immutable section
        out["protected"] = None
        return out
    installation = decision["installation"]
    mine: dict[str, list[dict[str, Any]]] = {}
    ignored = []
    for copy in listing.get("copies") or ():
        problem = ownership_problem(_Claim(copy), installation)
        if problem:
            ignored.append({"copy": copy, "reason": problem})
            continue
        mine.setdefault(copy["backup_set"], []).append({**copy, "status": status(copy, now)})
    home_sets = []
    for backup_set in decision["sets"]:
        copies = mine.pop(backup_set["backup_set"], [])
        locked = _set_status(copies, now) if copies else None
        home_sets.append({**backup_set, "protected_copies": copies, "locked": locked})
    out["sets"] = home_sets
    owned = [
        c
        for copies in [*(s["protected_copies"] for s in home_sets), *mine.values()]
        for c in copies
    ]
    out["protected"] = {
        "problem": listing.get("problem"),
        "only_protected": [
            {"backup_set": set_id, "locked": _set_status(copies, now), "protected_copies": copies}
            for set_id, copies in sorted(mine.items(), reverse=True)
        ],
        "ignored": ignored,
        # Nothing listed is not nothing paid: no figure rather than 0 when it failed.
        "costs": None if listing.get("problem") else protected_costs(owned, prices),
    }
    return out


@dataclass(frozen=True)
class _Claim:
    """A listed copy's claim, in the shape ``retention.ownership_problem`` reads."""

    copy: Mapping[str, Any]

    @property
    def installation(self) -> str | None:
        return self.copy.get("installation")

    @property
    def backup_set(self) -> str | None:
        return self.copy.get("backup_set")


def protected_costs(copies: Iterable[Mapping[str, Any]], prices: PricesConfig) -> dict[str, Any]:
    """Per kind: count, known size and USD/month, at the manifest's prices; and the total.

    The protected account pays these, so they are never in the installation's own
    totals. A copy whose lock has ended is still counted: it exists until AWS (or the
    bucket's lifecycle) deletes it. Manifests are counted but not priced, as at home.
    """
    components: dict[str, Any] = {}
    for kind in LOCKED_KINDS:
        of_kind = [c for c in copies if c["kind"] == kind]
        if not of_kind:
            continue
        costs = [monthly_cost(kind, c.get("size_bytes"), prices) for c in of_kind]
        sizes = [c["size_bytes"] for c in of_kind if c.get("size_bytes") is not None]
        priced = [c for c in costs if c is not None]
        components[kind] = {
            "count": len(of_kind),
            "size_bytes": sum(sizes),
            "unknown_size": len(of_kind) - len(sizes),
            "monthly_usd": round(sum(priced), 4) if priced else None,
        }
    total = round(sum(c["monthly_usd"] or 0.0 for c in components.values()), 4)
    return {"components": components, "total_monthly_usd": total}


# --- lines for the task log ---------------------------------------------------------


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def protected_table(decision: Mapping[str, Any]) -> str:
    """Set, kind, id (version), status of every protected copy; or why none are listed."""
    protected = decision.get("protected")
    if protected is None:
        return "protected copies: none (no immutable section)"
    lines = []
    if protected["problem"]:
        lines.append("WARNING: " + NOT_LISTED.format(why=protected["problem"]))
    sets = [*decision["sets"], *protected["only_protected"]]
    rows = [("backup set", "home set", "kind", "id", "status")]
    for s in sets:
        home = s.get("action") or "gone"
        for c in s["protected_copies"]:
            where = f"{c['id']} (version {c['version_id']})" if c.get("version_id") else c["id"]
            rows.append((s["backup_set"], home, c["kind"], where, c["status"]))
    if len(rows) > 1:
        lines += ["Protected copies (the protected account's; retention never deletes them):"]
        lines += _table(rows)
    elif not protected["problem"]:
        lines.append("protected copies: none listed")
    for item in protected["ignored"]:
        c = item["copy"]
        lines.append(f"not this installation's: {c['kind']} {c['id']}: {item['reason']}")
    return "\n".join(lines)


def protected_cost_lines(protected: Mapping[str, Any] | None) -> str:
    """The protected account's monthly cost per kind and in total (apart from the home's)."""
    if protected is None:
        return ""
    if protected["problem"]:
        return "protected account: " + NOT_LISTED.format(why=protected["problem"])
    costs = protected["costs"]
    lines = ["protected account (locked copies, not in the totals above):"]
    for kind, c in costs["components"].items():
        usd = "-" if c["monthly_usd"] is None else f"{c['monthly_usd']:.2f}"
        lines.append(f"  {kind}: {c['count']} copy(ies), {usd} USD/month")
    lines.append(f"  total: {costs['total_monthly_usd']:.2f} USD/month")
    return "\n".join(lines)
