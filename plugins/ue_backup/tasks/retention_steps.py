"""The retention DAG's steps around the pure policy: check the input, plan, summarise.

``validate`` refuses bad params and configuration naming the field, and
refuses to delete while a restore or a restore drill runs (it may be
reading any set; a dry run still lists). ``plan`` feeds the inventory to ``retention.decide``
and logs the decision as a table. ``summary`` says what was (or, in a dry
run, would be) deleted and the monthly cost kept and removed per component.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from ue_backup.backup_set import BackupSet
from ue_backup.config import ConfigError, PricesConfig, load_config
from ue_backup.errors import PermanentFailure
from ue_backup.retention import decide, to_delete
from ue_backup.retention_artifacts import Artifact
from ue_backup.retention_cost import component_costs, cost_table, plan_table
from ue_backup.retention_locked import (
    NOT_LISTED,
    protected_cost_lines,
    protected_table,
    with_protected,
)
from ue_backup.run_settings import RetentionRunSettings
from ue_backup.tasks.run_guard import COLLISIONS, running_collisions

log = logging.getLogger(__name__)

RETENTION_PARAMS = ("dry_run", "keep_sets")
# The DAGs that read a backup set while they run (run_guard.COLLISIONS): a restore, a drill.
RESTORE_DAGS = tuple(COLLISIONS["ue_backup_retention"])
RESTORE_RUNNING = (
    "a restore is in progress ({count} run(s) of {dags}): it may be reading any backup set, "
    "so retention deletes nothing now; run it again when the restore has finished"
)


def refuse_if_restoring(ti: Any, dry_run: bool = False) -> None:
    """Fail (or, for a dry run, warn) while a restore or restore drill runs."""
    count = sum(running_collisions(ti, "ue_backup_retention").values())
    if count and not dry_run:
        raise PermanentFailure(RESTORE_RUNNING.format(count=count, dags=" or ".join(RESTORE_DAGS)))
    if count:
        log.warning("A restore is in progress: a dry run lists, a real run would refuse")


def check_params(
    params: Mapping[str, Any], conf: Mapping[str, Any], installation: str
) -> list[str]:
    """Every problem with the run's params (unknown keys of the trigger's conf count too)."""
    problems = [
        f"params.{key}: is not a parameter of this DAG (known: {', '.join(RETENTION_PARAMS)})"
        for key in sorted(set(conf or {}) - set(RETENTION_PARAMS))
    ]
    if not isinstance(params.get("dry_run", False), bool):
        problems.append(f"params.dry_run: must be true or false, got {params.get('dry_run')!r}")
    keep_sets = params.get("keep_sets")
    if keep_sets is not None and not isinstance(keep_sets, list):
        problems.append(f"params.keep_sets: must be a list of backup set ids, got {keep_sets!r}")
    for value in keep_sets if isinstance(keep_sets, list) else ():
        try:
            owner = BackupSet.parse(str(value)).installation
        except ValueError as error:
            problems.append(f"params.keep_sets: {error}")
            continue
        if installation and owner != installation:
            problems.append(f"params.keep_sets: {value!r} is not a backup set of {installation!r}")
    return problems


def validate(params: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """Refuse bad input before anything is listed; return the run's settings."""
    dag_run = context["dag_run"]
    try:
        cfg = load_config()
    except ConfigError as error:
        problems = check_params(params, dag_run.conf or {}, "")
        raise PermanentFailure("\n".join([str(error), *problems])) from None
    problems = check_params(params, dag_run.conf or {}, cfg.installation)
    if problems:
        raise PermanentFailure("invalid params:\n" + "\n".join(f"  - {p}" for p in problems))
    dry_run = bool(params.get("dry_run", False))
    refuse_if_restoring(context["ti"], dry_run)
    log.info(
        "Retention of %s at %s: keep the newest %d sets and any younger than %d days%s",
        cfg.installation,
        dag_run.run_after.astimezone(UTC).isoformat(),
        cfg.retention.keep_last,
        cfg.retention.keep_days,
        " (dry run: nothing is deleted)" if dry_run else "",
    )
    keep_sets = params.get("keep_sets") or []
    return RetentionRunSettings.build(cfg, dry_run, keep_sets, dag_run.run_after).dump()


def inventory(settings: Mapping[str, Any]) -> dict[str, Any]:
    """List everything (read-only); see ``ue_backup.inventory.retention_inventory``."""
    from ue_backup.inventory import retention_inventory as list_all

    return list_all(settings, load_config())


def plan(settings: Mapping[str, Any], listed: Mapping[str, Any]) -> dict[str, Any]:
    """The policy's decision on the inventory, logged as a table with the costs."""
    run = RetentionRunSettings.model_validate(settings)
    in_use = dict.fromkeys(run.keep_sets, "named in this run's keep_sets")
    decision = decide(
        [Artifact.from_json(a) for a in listed["artifacts"]],
        listed["restore_view"],
        installation=run.installation,
        keep_last=run.keep_last,
        keep_days=run.keep_days,
        now=run.now,
        in_use=in_use,
        copy_view=listed.get("copy_view"),
        copy_region=listed.get("copy_region"),
    )
    prices = PricesConfig(**run.prices)
    # The protected copies: shown per set "locked until", never among what is deleted.
    decision = with_protected(decision, listed.get("locked"), run.now, prices)
    log.info("Retention plan for %s:\n%s", run.installation, plan_table(decision, prices))
    _log_protected(decision)
    log.info("Monthly storage cost:\n%s", cost_table(component_costs(decision, prices)))
    doomed = [s["backup_set"] for s in to_delete(decision)]
    verb = "would delete" if run.dry_run else "deletes"
    log.info("This run %s %d set(s): %s", verb, len(doomed), ", ".join(doomed) or "none")
    return decision


def _log_protected(decision: Mapping[str, Any]) -> None:
    """The protected copies' table; a warning, loud, when they could not be listed."""
    protected = decision.get("protected")
    if protected and protected["problem"]:
        log.warning(
            "%s\n%s", NOT_LISTED.format(why=protected["problem"]), protected_table(decision)
        )
    elif protected is not None:
        log.info("%s", protected_table(decision))


def summary(
    settings: Mapping[str, Any], decision: Mapping[str, Any], deleted: Mapping[str, Any] | None
) -> dict[str, Any]:
    """What went (or would go), and the monthly cost kept and removed per component."""
    run = RetentionRunSettings.model_validate(settings)
    prices = PricesConfig(**run.prices)
    costs = component_costs(decision, prices)
    sets = [s["backup_set"] for s in to_delete(decision)]
    outcomes = (deleted or {}).get("outcomes", [])
    saved = costs["total_monthly_usd"]["removed"]
    if run.dry_run:
        headline = f"Dry run: {len(sets)} set(s) would be deleted, saving {saved:.2f} USD/month"
    else:
        headline = (
            f"Deleted {len(sets)} set(s) ({len(outcomes)} artifact(s)), "
            f"saving {saved:.2f} USD/month"
        )
    protected = decision.get("protected")
    if protected is not None:
        costs["protected_account"] = protected.get("costs")
    lines = protected_cost_lines(protected)
    log.info("%s\n%s%s", headline, cost_table(costs), "\n" + lines if lines else "")
    if protected and protected["problem"]:
        log.warning("%s", NOT_LISTED.format(why=protected["problem"]))
    for outcome in outcomes:
        log.info(
            "  %s: %s %s: %s",
            outcome["backup_set"],
            outcome["kind"],
            outcome["id"],
            outcome["outcome"],
        )
    return {
        "dry_run": run.dry_run,
        "deleted_sets": [] if run.dry_run else sets,
        "would_delete_sets": sets if run.dry_run else [],
        "kept_sets": [s["backup_set"] for s in decision["sets"] if s["action"] == "keep"],
        "outcomes": outcomes,
        "costs": costs,
        "headline": headline,
        # Each set's protected copies, "locked until ..." (None: no immutable section).
        "protected": _protected_summary(decision),
    }


def _protected_summary(decision: Mapping[str, Any]) -> dict[str, Any] | None:
    """Per set (home sets and sets left only in the protected account): its copies' status."""
    protected = decision.get("protected")
    if protected is None:
        return None
    sets = [*decision["sets"], *protected["only_protected"]]
    return {
        "problem": protected["problem"],
        "sets": {s["backup_set"]: s["locked"] for s in sets if s["protected_copies"]},
        "monthly_usd": (protected.get("costs") or {}).get("total_monthly_usd"),
    }
