"""The backup catalog's refresh: list once, build the catalog, keep it where the UI reads it.

``ue_backup_rpo``'s ``refresh_catalog`` runs this every 5 minutes. It lists
through the one inventory (``ue_backup.inventory``): the planner's views (home,
the copy region, the protected copies), every artifact with its size, the
manifests and the newest drill reports; ``catalog.build_catalog`` turns them
into the catalog, which is written to the Airflow Variable
``catalog.CATALOG_VARIABLE``.

Why a Variable and not the task's XCom: the catalog carries the planner's
inventories (the "plan a restore" panel plans on them), a few hundred KB for
a month of daily sets; kept as an XCom of every 5-minute run it would grow the
metadata database by tens of MB a day, where one Variable row is overwritten.
Its ``as_of`` (the run's ``run_after``) and ``run_id`` say which run wrote it;
the page shows its age, so a catalog that stopped refreshing is visible.

The RPO check of the same run reads its views from here (``views_of_run``)
instead of listing them again; a run whose refresh failed lists them itself.

Loud on failure: the home region's listing failing fails the task before
anything is written (the previous catalog stays, and ages on the page); any
other part failing (the copy region, the protected account, sizes, manifests,
drill reports) is written as a ``problem`` the page shows, and then fails
the task, naming each, so its retries and its failure alert follow.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ue_backup.catalog import CATALOG_VARIABLE, COPIES, HOME, PROTECTED, build_catalog
from ue_backup.config import InstallationConfig
from ue_backup.run_settings import aws_access

log = logging.getLogger(__name__)


class CatalogIncomplete(RuntimeError):
    """Part of the catalog could not be listed: it was written with the problem named."""


def _attempt(problems: list[str], what: str, listing: Callable[[], Any], empty: Any) -> Any:
    """The listing's result, or ``empty`` with the failure recorded (the task fails later)."""
    try:
        return listing()
    except Exception as error:  # every failure is named and fails the task after the write
        log.exception("Backup catalog: listing %s failed", what)
        problems.append(f"{what} could not be listed: {type(error).__name__}: {error}")
        return empty


def list_for_catalog(cfg: InstallationConfig) -> dict[str, Any]:
    """Everything the catalog shows, read-only, and what could not be listed."""
    from ue_backup.inventory import (
        drill_reports,
        installation_manifests,
        list_artifacts,
        list_inventory,
        locked_inventory,
    )

    problems: list[str] = []
    views: dict[str, Any] = {HOME: list_inventory(aws_access(cfg), cfg), COPIES: None}
    copy_region = cfg.cross_region.region if cfg.cross_region else None
    if copy_region:
        views[COPIES] = _attempt(
            problems,
            f"the copies in {copy_region}",
            lambda: list_inventory(aws_access(cfg, copy_region), cfg),
            None,
        )
    views[PROTECTED] = None
    if cfg.immutable:
        views[PROTECTED] = _attempt(
            problems,
            "the protected copies",
            lambda: locked_inventory(aws_access(cfg), cfg),
            None,
        )
    manifests = _attempt(problems, "the manifests", lambda: installation_manifests(cfg), [])
    artifacts = _attempt(
        problems, "the artifacts' sizes", lambda: list_artifacts(cfg, manifests), []
    )
    drills = _attempt(problems, "the drill reports", lambda: drill_reports(cfg), [])
    return {
        "views": views,
        "artifacts": artifacts,
        "manifests": [m["Body"] for m in manifests],
        "drills": drills,
        "problems": problems,
    }


def refresh(
    cfg: InstallationConfig,
    now: datetime,
    run_id: str | None,
    store: Callable[[Mapping[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """List, build and store the catalog; return a short summary (the task's XCom)."""
    from ue_backup.rpo import targets

    listed = list_for_catalog(cfg)
    catalog = build_catalog(
        installation=cfg.installation,
        home_region=cfg.region,
        copy_region=cfg.cross_region.region if cfg.cross_region else None,
        protected_region=cfg.immutable.region_or(cfg.region) if cfg.immutable else None,
        now=now,
        run_id=run_id,
        rpo_minutes=targets(cfg),
        views=listed["views"],
        artifacts=listed["artifacts"],
        manifests=listed["manifests"],
        drills=listed["drills"],
        prices=cfg.prices,
        problems=listed["problems"],
    )
    (store or store_catalog)(catalog)
    summary = {
        "as_of": catalog["as_of"],
        "sets": len(catalog["sets"]),
        "newest_set": catalog["sets"][0]["id"] if catalog["sets"] else None,
        "rpo": [
            {k: r[k] for k in ("region", "newest_set", "age_minutes", "in_breach")}
            for r in catalog["rpo"]
        ],
        "problems": catalog["problems"],
    }
    log.info(
        "Backup catalog of %s as of %s: %d set(s), newest %s; RPO %s",
        cfg.installation,
        summary["as_of"],
        summary["sets"],
        summary["newest_set"] or "(none)",
        "; ".join(
            f"{r['region']} {r['newest_set'] or '(nothing restorable)'}, "
            f"{'-' if r['age_minutes'] is None else r['age_minutes']} min"
            for r in summary["rpo"]
        ),
    )
    if catalog["problems"]:
        raise CatalogIncomplete(
            "the backup catalog was written without some of its parts (the page shows them):\n"
            + "\n".join(f"  - {p}" for p in catalog["problems"])
        )
    return summary


def store_catalog(catalog: Mapping[str, Any]) -> None:
    """Write the catalog to its Variable (overwritten: one row, whatever the history)."""
    from airflow.sdk import Variable

    Variable.set(
        CATALOG_VARIABLE,
        json.dumps(catalog, sort_keys=True),
        description="ue-backup catalog (written by ue_backup_rpo's refresh_catalog; read by "
        "the Backup catalog page)",
    )


def views_of_run(cfg: InstallationConfig, run_id: str) -> dict[str, Any]:
    """The planner's views this run's refresh listed, by region ({} when it did not write).

    The RPO check plans on them rather than listing again; a catalog another run
    wrote is never taken (its listing is older than this run).
    """
    from airflow.sdk import Variable

    text = Variable.get(CATALOG_VARIABLE, default=None)
    catalog = json.loads(text) if text else {}
    if catalog.get("run_id") != run_id or catalog.get("installation") != cfg.installation:
        return {}
    views = catalog.get("views") or {}
    found = {cfg.region: views.get(HOME)}
    if catalog.get("copy_region"):
        found[catalog["copy_region"]] = views.get(COPIES)
    return {region: view for region, view in found.items() if view is not None}
