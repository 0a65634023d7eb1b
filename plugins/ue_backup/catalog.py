"""The backup catalog: what can be restored, and to which moment, in one JSON document. Pure.

During an incident the first questions are "what can I restore, and to which
moment?" and "is the newest set recent enough?". The answers are spread over
task logs, manifests and tags; the catalog gathers them, per installation:

- the RPO status of each watched region (home, and the ``cross_region`` copy
  region): the age of the newest set a ``latest`` restore would take there,
  judged against the target exactly as ``ue_backup_rpo`` judges it (``rpo``);
- every backup set, newest first: its points in time per component, whether
  its backup verified it and why not, its cold window (length, intact or
  not), the planner's verdict on restoring it (from home, from the copies in
  the copy region, from the protected copies) with the planner's reason, its
  size and list-price monthly cost (``retention_cost.list_price``), its copies
  (region, protected or not) and the last restore drill of it (outcome, RTO);
- the inventories the planner read (``views``), so the "plan a restore" panel
  runs the planner itself (``plan_choice``) in the web server, on exactly
  what the refresh listed, with no AWS or Kubernetes access there.

Why the inventories and not precomputed plans: a point-in-time request can
name any moment, and ``allow_point_in_time_restore`` and ``allow_unverified``
change the answer; the planner is pure and fast, so the panel asks it, and
its answer is by construction the one ``ue_restore`` would give on the same
listing.

The listing is ``tasks.catalog_refresh`` (``ue_backup_rpo``'s
``refresh_catalog``, every 5 minutes); the catalog is kept in the Airflow
Variable ``CATALOG_VARIABLE`` and served by the UI plugin (``ue_backup.ui``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from ue_backup import plan_view
from ue_backup.backup_set import BACKUP_SET_TAG, VERIFIED_TAG, WINDOW_TAG, BackupSet, tag_dict
from ue_backup.config import PricesConfig
from ue_backup.planning import (
    RestorePlanError,
    disk_points,
    iso,
    plan_restore,
    to_utc,
    unverified_reason,
)
from ue_backup.retention import ownership_problem
from ue_backup.retention_artifacts import COPY, Artifact, base_kind
from ue_backup.retention_cost import list_price
from ue_backup.rpo import judge, plan_time

CATALOG_VARIABLE = "ue_backup_catalog"
CATALOG_VERSION = 1
# The DAG whose runs refresh the catalog: reading the catalog needs read access to its runs.
CATALOG_DAG = "ue_backup_rpo"
RESTORE_DAG = "ue_restore"
# A catalog older than this is shown as stale (the refresh runs every 5 minutes).
STALE_AFTER = timedelta(minutes=20)

# Where a restore can come from, as the panel names it: the home region, the copies in the
# cross_region region, the protected copies (config: immutable).
HOME, COPIES, PROTECTED = "home", "copy", "protected"
PLAN_SOURCES = (HOME, COPIES, PROTECTED)
REQUEST_TYPES = ("latest", "backup_set", "point_in_time")

# Each artifact kind's component, as the catalog shows a set's points in time.
COMPONENT_OF = {
    "rds_snapshot": "database",
    "efs_recovery_point": "efs",
    "datasync_folder": "efs",
    "memorydb_snapshot": "memorydb",
    "velero_backup": "kubernetes",
}
COMPONENT_ORDER = ("database", "efs", "memorydb", "kubernetes")

# ue_restore's params that a "restore..." action fills in (dags/ue_restore.py).
RESTORE_PARAMS = (
    "request_type",
    "backup_set",
    "target_time",
    "allow_point_in_time_restore",
    "allow_unverified",
    "mode",
    "source",
    "source_region",
)


# --- building the catalog --------------------------------------------------------------------


def build_catalog(
    *,
    installation: str,
    home_region: str,
    copy_region: str | None,
    protected_region: str | None,
    now: datetime | str,
    run_id: str | None,
    rpo_minutes: Mapping[str, int],
    views: Mapping[str, Mapping[str, Any] | None],
    artifacts: Iterable[Artifact],
    manifests: Iterable[Mapping[str, Any] | None],
    drills: Iterable[Mapping[str, Any]],
    prices: PricesConfig,
    problems: Iterable[str] = (),
) -> dict[str, Any]:
    """The catalog (JSON-serialisable) from what one refresh listed.

    ``views``: the planner's inventories by source (``home``, ``copy``,
    ``protected``; None where there is none); ``artifacts``: everything listed,
    any owner (only this installation's sets are shown, by retention's own
    ownership rule); ``manifests``: the manifests' bodies; ``drills``: the drill
    reports (``drill_report.build_report``); ``problems``: what could not be
    listed (shown on the page, and the refresh task fails after writing it).
    """
    now = to_utc(now)
    views = {source: views.get(source) for source in PLAN_SOURCES}
    owned: dict[str, list[Artifact]] = {}
    for artifact in artifacts:
        if ownership_problem(artifact, installation) is None:
            owned.setdefault(artifact.backup_set, []).append(artifact)
    bodies = {
        m["backup_set"]: m
        for m in manifests
        if isinstance(m, Mapping) and m.get("installation") == installation and m.get("backup_set")
    }
    reports = sorted(
        (d for d in drills if d.get("installation") in (None, installation)),
        key=lambda d: d.get("finished_at") or "",
        reverse=True,
    )
    protected_sets = _sets_in(views[PROTECTED])
    ids = set(owned) | protected_sets
    sets = [
        _set_entry(
            set_id,
            owned.get(set_id, []),
            bodies.get(set_id),
            views,
            copy_region,
            protected_region,
            reports,
            prices,
        )
        for set_id in ids
        if _is_set_of(set_id, installation)
    ]
    sets.sort(key=lambda s: (s["created_at"], s["id"]), reverse=True)
    return {
        "version": CATALOG_VERSION,
        "installation": installation,
        "home_region": home_region,
        "copy_region": copy_region,
        "protected_region": protected_region,
        "as_of": iso(now),
        "run_id": run_id,
        "rpo": rpo_status(views, home_region, copy_region, rpo_minutes, now),
        "last_drill": _drill_summary(reports[0]) if reports else None,
        "sets": sets,
        "problems": list(problems),
        "views": views,
    }


def _is_set_of(set_id: str, installation: str) -> bool:
    try:
        return BackupSet.parse(set_id).installation == installation
    except ValueError:
        return False


def _sets_in(view: Mapping[str, Any] | None) -> set[str]:
    """The sets whose disk point a view holds (the protected copies' sets)."""
    if not view:
        return set()
    points, _, _ = disk_points(view)
    return {p.backup_set for p in points if p.backup_set}


def newest_restorable(view: Mapping[str, Any] | None) -> tuple[datetime | None, str | None, str]:
    """(the point a ``latest`` restore goes back to, its set, the planner's reason if none).

    The RPO guard's question (``tasks.rpo.newest_restorable`` asks it the same
    way): ``latest`` with the restore's defaults.
    """
    if view is None:
        return None, None, "nothing listed"
    try:
        plan = plan_restore(view, {"type": "latest"})
    except RestorePlanError as error:
        return None, None, str(error)
    return plan_time(plan), plan.get("backup_set"), ""


def rpo_status(
    views: Mapping[str, Mapping[str, Any] | None],
    home_region: str,
    copy_region: str | None,
    rpo_minutes: Mapping[str, int],
    now: datetime,
) -> list[dict[str, Any]]:
    """Per watched region: the newest restorable set's age against the RPO (``rpo.judge``).

    The same judgement as ``ue_backup_rpo``'s check at the same moment; no
    alert here (the check sends those). A region without an RPO target (the
    guard off) is still shown, with ``rpo_minutes`` None.
    """
    regions = [(home_region, HOME)] + ([(copy_region, COPIES)] if copy_region else [])
    out = []
    for region, source in regions:
        newest, backup_set, reason = newest_restorable(views.get(source))
        minutes = rpo_minutes.get(region)
        if minutes:
            verdict = {
                k: v for k, v in judge(newest, now, minutes, False).items() if k != "transition"
            }
        else:
            age = None if newest is None else round((now - newest).total_seconds() / 60, 1)
            verdict = {
                "newest": iso(newest) if newest else None,
                "age_minutes": age,
                "rpo_minutes": None,
                "in_breach": None,
            }
        out.append(
            {
                "region": region,
                "role": "home" if source == HOME else "copy",
                **verdict,
                "newest_set": backup_set,
                "reason": reason or None,
            }
        )
    return out


def _points(artifacts: list[Artifact]) -> dict[str, Any]:
    """Each component's point in time in the home region (the newest artifact of its kind)."""
    points: dict[str, Any] = {}
    for a in sorted(artifacts, key=lambda a: a.time or ""):
        component = COMPONENT_OF.get(a.kind)
        if component:
            points[component] = {"time": a.time, "id": a.id, "state": a.state}
    return {c: points[c] for c in COMPONENT_ORDER if c in points}


def _disk_point(view: Mapping[str, Any] | None, set_id: str) -> Any:
    if not view:
        return None
    points, _, _ = disk_points(view)
    of_set = [p for p in points if p.backup_set == set_id]
    return of_set[-1] if of_set else None


def _verification(
    set_id: str, home: Mapping[str, Any] | None, manifest: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Verified or not, and why, as the planner reads it (the disk point's tags).

    The manifest is written only once a set passed its verification, so its
    checks are the evidence; a set that failed has the verdict on its tags.
    """
    disk = _disk_point(home, set_id)
    if disk is None:
        if manifest and (manifest.get("verification") or {}).get("result") == "passed":
            return {"verified": True, "reason": None, "verdict": "passed"}
        return {
            "verified": False,
            "reason": "no restorable EFS point in the home region (its job failed, is still "
            "running, or it was deleted)",
            "verdict": None,
        }
    reason = unverified_reason(disk)
    tags = disk.raw.get("Tags") or {}
    return {"verified": reason is None, "reason": reason, "verdict": tags.get(VERIFIED_TAG)}


def _window(home: Mapping[str, Any] | None, set_id: str, manifest: Mapping[str, Any] | None):
    """The cold window: its length and mode from the manifest, its verdict from either."""
    recorded = (manifest or {}).get("cold_window") or {}
    disk = _disk_point(home, set_id)
    tag = ((disk.raw.get("Tags") or {}) if disk else {}).get(WINDOW_TAG)
    state = recorded.get("state") or tag
    return {
        "state": state,
        "intact": None if state is None else state in ("intact", "none"),
        "seconds": recorded.get("seconds"),
        "mode": recorded.get("mode"),
        "start": recorded.get("start"),
        "end": recorded.get("end"),
    }


def _verdict(view: Mapping[str, Any] | None, set_id: str) -> dict[str, Any] | None:
    """The planner's verdict on restoring exactly this set from one source (None: no source)."""
    if view is None:
        return None
    try:
        plan = plan_restore(view, {"type": "backup_set", "backup_set": set_id})
    except RestorePlanError as error:
        return {"restorable": False, "reason": str(error)}
    return {"restorable": True, "reason": None, "point": iso(plan_time(plan))}


def _copies(
    artifacts: list[Artifact],
    views: Mapping[str, Mapping[str, Any] | None],
    set_id: str,
    copy_region: str | None,
    protected_region: str | None,
) -> list[dict[str, Any]]:
    """The set's copies: per region, what is there and whether the planner could restore it."""
    copies = []
    kinds = sorted({base_kind(a.kind) for a in artifacts if a.kind.endswith(COPY)})
    if kinds:
        region = next(a.region for a in artifacts if a.kind.endswith(COPY))
        copies.append(
            {
                "region": region or copy_region,
                "protected": False,
                "kinds": kinds,
                **(_verdict(views.get(COPIES), set_id) or {"restorable": None, "reason": None}),
            }
        )
    locked = views.get(PROTECTED)
    if locked and _disk_point(locked, set_id):
        locked_kinds = ["efs_recovery_point"]
        if any(
            tag_dict(s.get("TagList")).get(BACKUP_SET_TAG) == set_id
            for s in locked.get("rds_snapshots") or ()
        ):
            locked_kinds.insert(0, "rds_recovery_point")
        if any(_snapshot_set(s) == set_id for s in locked.get("memorydb_snapshots") or ()):
            locked_kinds.append("memorydb_snapshot")
        copies.append(
            {
                "region": protected_region,
                "protected": True,
                "kinds": locked_kinds,
                **(_verdict(locked, set_id) or {}),
            }
        )
    return copies


def _snapshot_set(snapshot: Mapping[str, Any]) -> str | None:
    return (snapshot.get("Tags") or {}).get(BACKUP_SET_TAG)


def _drill_summary(report: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "drill_id": report.get("drill_id"),
        "backup_set": report.get("backup_set"),
        "source": report.get("source") or "home",
        "outcome": report.get("outcome"),
        "finished_at": report.get("finished_at"),
        "rto_seconds": (report.get("rto_seconds") or {}).get("total"),
        "failed_steps": report.get("failed_steps") or [],
        "location": report.get("location"),
    }


def _set_entry(
    set_id: str,
    artifacts: list[Artifact],
    manifest: Mapping[str, Any] | None,
    views: Mapping[str, Mapping[str, Any] | None],
    copy_region: str | None,
    protected_region: str | None,
    reports: list[Mapping[str, Any]],
    prices: PricesConfig,
) -> dict[str, Any]:
    home = views.get(HOME)
    sizes = [a.size_bytes for a in artifacts if a.size_bytes is not None]
    drill = next((r for r in reports if r.get("backup_set") == set_id), None)
    return {
        "id": set_id,
        "created_at": iso(BackupSet.parse(set_id).created_at),
        "points": _points([a for a in artifacts if not a.kind.endswith(COPY)]),
        **_verification(set_id, home, manifest),
        "window": _window(home, set_id, manifest),
        "restore": {source: _verdict(views.get(source), set_id) for source in PLAN_SOURCES},
        "artifact_count": len(artifacts),
        "size_bytes": sum(sizes),
        "unknown_sizes": len(artifacts) - len(sizes),
        "monthly_usd": list_price(artifacts, prices),
        "manifest": bool(manifest),
        "copies": _copies(artifacts, views, set_id, copy_region, protected_region),
        "last_drill": _drill_summary(drill) if drill else None,
    }


# --- reading it -------------------------------------------------------------------------------


def age(catalog: Mapping[str, Any], now: datetime) -> timedelta:
    """How old the catalog is: what the page says beside "as of"."""
    return to_utc(now) - to_utc(catalog["as_of"])


def is_stale(catalog: Mapping[str, Any], now: datetime) -> bool:
    return age(catalog, now) > STALE_AFTER


def without_views(catalog: Mapping[str, Any]) -> dict[str, Any]:
    """The catalog as the JSON API serves it: the inventories left out (the panel's input)."""
    return {k: v for k, v in catalog.items() if k != "views"}


# --- the "plan a restore" panel ---------------------------------------------------------------


class ChoiceError(ValueError):
    """The panel's request cannot be understood; the message names the field."""


def read_choice(query: Mapping[str, Any], catalog: Mapping[str, Any]) -> dict[str, Any]:
    """The panel's choice from its form fields; refused naming the field, as ue_restore does."""
    kind = query.get("request_type") or "latest"
    if kind not in REQUEST_TYPES:
        raise ChoiceError(f"request_type: {kind!r} is not one of {', '.join(REQUEST_TYPES)}")
    source = query.get("source") or HOME
    if source not in PLAN_SOURCES:
        raise ChoiceError(f"source: {source!r} is not one of {', '.join(PLAN_SOURCES)}")
    if source == COPIES and not catalog.get("copy_region"):
        raise ChoiceError("source: there is no copy region (no cross_region section)")
    if source == PROTECTED and not catalog.get("protected_region"):
        raise ChoiceError("source: there are no protected copies (no immutable section)")
    choice: dict[str, Any] = {
        "request_type": kind,
        "source": source,
        "allow_point_in_time_restore": _flag(query.get("allow_point_in_time_restore"), True),
        "allow_unverified": _flag(query.get("allow_unverified"), False),
    }
    if kind == "backup_set":
        try:
            choice["backup_set"] = BackupSet.parse(str(query.get("backup_set") or "")).id
        except ValueError as error:
            raise ChoiceError(f"backup_set: {error}") from None
    if kind == "point_in_time":
        try:
            target = to_utc(query.get("target_time") or None)
        except (TypeError, ValueError):
            target = None
        if target is None:
            raise ChoiceError(
                f"target_time: {query.get('target_time')!r} is not an ISO 8601 date-time"
            )
        choice["target_time"] = iso(target)
    return choice


def _flag(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "on", "yes")


def plan_choice(catalog: Mapping[str, Any], choice: Mapping[str, Any], now: datetime) -> dict:
    """The planner's answer to the panel's choice, on the inventories the catalog holds.

    ``plan`` (the planner's plan, with ``rows`` as the restore's plan table shows
    them) or ``refusal`` (the planner's reason); ``conf``: what ue_restore's
    trigger form is filled in with to restore this choice.
    """
    view = dict(catalog["views"].get(choice["source"]) or {})
    request = {
        "type": choice["request_type"],
        "allow_point_in_time_restore": choice["allow_point_in_time_restore"],
        "allow_unverified": choice["allow_unverified"],
    }
    for key in ("backup_set", "target_time"):
        if key in choice:
            request[key] = choice[key]
    out: dict[str, Any] = {"choice": dict(choice), "conf": restore_conf(choice, catalog)}
    target = choice.get("target_time")
    if target and to_utc(target) > to_utc(now):
        out["refusal"] = (
            f"target_time: {target} is after now ({iso(to_utc(now))}): no backup of that "
            "moment exists (check the year)"
        )
        return out
    if not view:
        out["refusal"] = f"nothing was listed for source {choice['source']!r}"
        return out
    try:
        plan = plan_restore(view, request)
    except RestorePlanError as error:
        out["refusal"] = str(error)
        return out
    out["plan"] = plan
    out["rows"] = plan_rows(plan)
    return out


def restore_conf(choice: Mapping[str, Any], catalog: Mapping[str, Any]) -> dict[str, Any]:
    """ue_restore's params for this choice (``RESTORE_PARAMS``); target and confirm are the
    operator's to choose in the form."""
    conf: dict[str, Any] = {
        "request_type": choice["request_type"],
        "allow_point_in_time_restore": choice["allow_point_in_time_restore"],
        "allow_unverified": choice["allow_unverified"],
        "mode": "restore",
        "source": "immutable" if choice["source"] == PROTECTED else "home",
    }
    if choice["source"] == COPIES:
        conf["source_region"] = catalog.get("copy_region")
    for key in ("backup_set", "target_time"):
        if key in choice:
            conf[key] = choice[key]
    return conf


def plan_rows(plan: Mapping[str, Any]) -> list[dict[str, str]]:
    """The plan's table, the rows ``ue_restore`` logs and shows (``plan_view.plan_rows``)."""
    return [
        {"component": component, "source": source, "time": time}
        for component, source, time in plan_view.plan_rows(plan)
    ]
