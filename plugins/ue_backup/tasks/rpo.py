"""The RPO guard's calls: the check inside Airflow, the metric, and the CloudWatch alarm.

``check`` (the ``ue_backup_rpo`` DAG, every few minutes) asks the restore
planner, exactly as ``ue_restore`` does, for the newest restorable set in
each watched region, and alerts once per breach and once per recovery. The
breach state lives in the Airflow Variable ``ue_backup_rpo_state``: it is in
Airflow's own database, which every deployment has (MWAA included) with no
extra permission or bucket, and it is only about what this check has already
said. Losing it with the database costs at most one repeated alert; the
CloudWatch alarm is the layer that survives Airflow.

``publish_verified`` (the backup DAG, after the manifest) publishes one
``UeBackup/VerifiedBackupSets`` data point per region the set verified in,
timed at the set's point, and ``ensure_alarms`` (preflight) creates or updates
one alarm per watched region on it. Both live in the region of the alerts
topic (a CloudWatch alarm notifies topics of its own region); the metric's
``Region`` dimension says whose sets it counts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ue_backup import rpo
from ue_backup.config import InstallationConfig
from ue_backup.hooks.cloudwatch import CloudWatchHook
from ue_backup.run_settings import BackupRunSettings, aws_access, botocore_config, metrics_region

log = logging.getLogger(__name__)

STATE_VARIABLE = "ue_backup_rpo_state"
# CloudWatch refuses data points older than two weeks; a set that old is long past any RPO.
METRIC_MAX_AGE = timedelta(days=14) - timedelta(hours=1)


# --- inside Airflow -------------------------------------------------------------------------


def newest_restorable(
    cfg: InstallationConfig, region: str, views: Mapping[str, Any] | None = None
) -> datetime | None:
    """The point of the newest set a ``latest`` restore would take in ``region``, or None.

    The one way the guard asks: the restore's own inventory and planner, so
    whatever makes a set restorable for ``ue_restore`` (rule 1, verification)
    decides here too. ``views``: the inventories this run's catalog refresh
    listed, by region (``tasks.catalog_refresh.views_of_run``): planned on, not
    listed again; a region not among them is listed here.
    """
    from ue_backup.catalog import newest_restorable as newest_in
    from ue_backup.inventory import list_inventory

    inventory = (views or {}).get(region)
    if inventory is None:
        inventory = list_inventory(aws_access(cfg, region), cfg)
    else:
        log.info("RPO %s: planning on the inventory this run's catalog refresh listed", region)
    point, _, reason = newest_in(inventory)
    if point is None:
        log.warning("Nothing restorable in %s: %s", region, reason)
    return point


class VariableState:
    """The breach state, ``{region: {"in_breach": bool, "since": iso}}``, in an Airflow Variable."""

    def load(self) -> dict[str, Any]:
        from airflow.sdk import Variable

        text = Variable.get(STATE_VARIABLE, default=None)
        return json.loads(text) if text else {}

    def save(self, state: Mapping[str, Any]) -> None:
        from airflow.sdk import Variable

        Variable.set(
            STATE_VARIABLE,
            json.dumps(state, sort_keys=True),
            description="ue-backup RPO guard: regions in breach (written by ue_backup_rpo)",
        )


def check(
    cfg: InstallationConfig,
    now: datetime,
    newest: Callable[[InstallationConfig, str], datetime | None] = newest_restorable,
    state: Any = None,
    alert: Callable[[str, str], Any] | None = None,
) -> dict[str, Any]:
    """Judge every watched region; alert on each change; return the ages and states.

    The state is saved after each region's alert, so a failure halfway never
    makes a region alert twice for one breach.
    """
    from ue_backup.notifications import send_alert

    state = state or VariableState()
    alert = alert or (lambda subject, message: send_alert(cfg, subject, message))
    targets = rpo.targets(cfg)
    if not targets:
        log.info("RPO guard off: no schedule and no rpo section (see the README)")
        return {"checked_at": now.isoformat(), "regions": {}}
    known = state.load()
    regions = {}
    for region, minutes in targets.items():
        before = known.get(region) or {}
        verdict = rpo.judge(newest(cfg, region), now, minutes, bool(before.get("in_breach")))
        age = verdict["age_minutes"]
        log.info(
            "RPO %s: newest restorable set %s, age %s minutes, RPO %d minutes: %s",
            region,
            verdict["newest"] or "(none)",
            "-" if age is None else f"{age:g}",
            minutes,
            "BREACHED" if verdict["in_breach"] else "met",
        )
        if verdict["transition"]:
            alert(*rpo.alert_text(cfg.installation, region, verdict))
            since = now.isoformat() if verdict["in_breach"] else None
            known[region] = {"in_breach": verdict["in_breach"], "since": since}
            state.save(known)
        regions[region] = verdict
    return {"checked_at": now.isoformat(), "regions": regions}


# --- outside Airflow: the metric ----------------------------------------------------------


def verified_regions(run: BackupRunSettings, manifest: Mapping[str, Any]) -> list[str]:
    """The regions a verified set can be restored from: home, and the copy region when
    its copies are in the manifest (``verify`` checked them)."""
    artifacts = manifest.get("artifacts") or {}
    made = {
        "rds_snapshot_copy": run.copy_rds,
        "efs_recovery_point_copy": run.copy_efs,
        "memorydb_snapshot_copy": run.copy_memorydb,
    }
    copied = run.copy_efs and all(artifacts.get(k) for k, w in made.items() if w)
    return [run.region, run.copy_region] if copied and run.copy_region else [run.region]


def set_point(manifest: Mapping[str, Any]) -> datetime:
    """The set's point: its oldest home artifact's time (the database, by rule 1)."""
    artifacts = manifest.get("artifacts") or {}
    times = [
        datetime.fromisoformat(a["time"])
        for key in ("rds_snapshot", "efs_recovery_point", "memorydb_snapshot")
        if (a := artifacts.get(key)) and a.get("time")
    ]
    return min(times).astimezone(UTC)


def publish_verified(
    settings: Mapping[str, Any], manifest: Mapping[str, Any], now: datetime | None = None
) -> dict[str, Any]:
    """One data point per region of this verified set, timed at the set's point.

    Timed at the point, not at the verification, so the alarm measures the
    set's age as the in-Airflow check does: a set verified later than the RPO
    after its point does not silence it. Publishing the same set again (a
    retry) adds a point at the same time: the alarm only asks for one.
    ``settings``: preflight's ``BackupRunSettings``, as its XCom dump.
    """
    run = BackupRunSettings.model_validate(settings)
    if not run.rpo_minutes:
        log.info("RPO guard off: no metric published")
        return {"published": []}
    now = now or datetime.now(UTC)
    point = set_point(manifest)
    if now - point > METRIC_MAX_AGE:
        log.warning("Set point %s is older than CloudWatch accepts; not published", point)
        return {"published": []}
    regions = verified_regions(run, manifest)
    hook = CloudWatchHook(
        aws_conn_id=run.aws_conn_id,
        region_name=run.metrics_region,
        config=run.aws_botocore_config,
    )
    hook.put_metric_data(
        rpo.NAMESPACE,
        [
            {
                "MetricName": rpo.METRIC,
                "Dimensions": rpo.dimensions(run.installation, region),
                "Timestamp": point,
                "Value": 1.0,
                "Unit": "Count",
            }
            for region in regions
        ],
    )
    log.info(
        "Published %s/%s = 1 at %s for %s in %s",
        rpo.NAMESPACE,
        rpo.METRIC,
        point.isoformat(),
        regions,
        run.metrics_region,
    )
    return {"published": regions, "time": point.isoformat()}


# --- outside Airflow: the alarm -------------------------------------------------------------


def ensure_alarms(cfg: InstallationConfig) -> dict[str, str]:
    """Create or update the alarm of every watched region; untouched when already right.

    Idempotent: a retry, or every later preflight, finds the alarm as
    specified and changes nothing (an update would not reset its state
    either; CloudWatch keeps it).
    """
    targets = rpo.targets(cfg)
    if not targets:
        return {}
    hook = CloudWatchHook(
        aws_conn_id=cfg.aws_conn_id,
        region_name=metrics_region(cfg),
        config=botocore_config(cfg.aws_retries),
    )
    topic = cfg.alerts.sns_topic_arn if cfg.alerts else None
    done = {}
    for region, minutes in targets.items():
        spec = rpo.alarm_spec(cfg.installation, region, minutes, topic)
        existing = hook.get_metric_alarm(spec["AlarmName"])
        if rpo.alarm_differs(spec, existing):
            hook.put_metric_alarm(spec)
            done[spec["AlarmName"]] = "created" if existing is None else "updated"
        else:
            done[spec["AlarmName"]] = "unchanged"
        log.info(
            "RPO alarm %s (%s, %d min: %d x %d s): %s",
            spec["AlarmName"],
            region,
            minutes,
            spec["EvaluationPeriods"],
            spec["Period"],
            done[spec["AlarmName"]],
        )
    if not topic:
        log.warning("No alerts.sns_topic_arn: the RPO alarms notify nobody")
    return done
