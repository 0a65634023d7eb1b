"""The restore DAG's own steps: check the request, list what exists, plan, check the result.

Nothing restores without a plan, and the plan comes from the pure planner
(``planning.plan_restore``) fed with what AWS and Kubernetes list
(``ue_backup.inventory.list_inventory``, the one inventory). Bad
params and impossible requests are refused here, before anything changes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ue_backup.app_checks import (
    LOGIN_SECRET_KEY,
    PASSWORD_MANAGED_KEY,
    planned_checks,
    report_entry,
    results_table,
)
from ue_backup.aws import settings_hook
from ue_backup.backup_set import COMPONENTS, BackupSet
from ue_backup.config import ConfigError, InstallationConfig, VerificationConfig, load_config
from ue_backup.console_paths import efs_dns_name
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.s3 import S3Hook
from ue_backup.inventory import home_vault_grant_problems, list_inventory, locked_inventory
from ue_backup.locked_inventory import (
    LOCKED_COMPONENTS,
    STAGING_PREFIX,
    chosen_network,
    source_problem,
)
from ue_backup.names import MEMORYDB_CLUSTER_MAX, RESTORE_ID_KEEP, fit
from ue_backup.operators.approval import HUMAN_IN_THE_LOOP
from ue_backup.plan_view import plan_table
from ue_backup.planning import RestorePlanError, plan_restore, to_utc
from ue_backup.recorded_network import NETWORKS
from ue_backup.run_settings import RestorePlanResult, RestoreRunSettings
from ue_backup.tasks.network_steps import check_recorded_network
from ue_backup.tasks.run_guard import refuse_while_running

log = logging.getLogger(__name__)

RESTORE_PARAMS = (
    "request_type",
    "backup_set",
    "target_time",
    "allow_point_in_time_restore",
    "allow_unverified",
    "mode",
    "target",
    "confirm",
    "components",
    "source_region",
    "source",
    "network",
)
MODES = ("plan", "restore")
# What a restore (not a plan) must not overlap, and why.
TARGETS = ("side_by_side", "in_place")


def restore_id(installation: str, run_after: datetime) -> str:
    """A short id for one restore run; restored resources are named from it.

    MemoryDB cluster names allow 40 characters, so the installation name is
    cut to 24 by ``names.fit``: a hyphen at the cut is dropped rather than
    doubled (``--``, which RDS and MemoryDB refuse). Where the plain cut was
    valid the id is unchanged; a run started before keeps the id its
    ``validate`` stored anyway.
    """
    return f"{fit(installation, RESTORE_ID_KEEP)}-r{run_after.astimezone(UTC):%y%m%d%H%M%S}"


def restore_names(installation: str, run_after: datetime) -> dict[str, str]:
    """The restore run's id and the names of the instance and cluster it restores.

    The DAG composes the rest (EFS token, claim, Jobs, Velero restore) from
    the id in its templates (``<id>-efs``, ...). Each name is valid for its
    service for every installation name the configuration accepts
    (tests/plugins/test_names.py, tests/dags/test_restore_names.py).
    """
    rid = restore_id(installation, run_after)
    return {
        "restore_id": rid,
        "rds_target": f"{rid}-db",
        "memorydb_target": fit(f"{rid}-agg", MEMORYDB_CLUSTER_MAX),
    }


def check_request(
    params: Mapping[str, Any],
    conf: Mapping[str, Any],
    logical_date: datetime | None,
    requested_at: datetime | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """(the planner's request, problems): every problem with the params, at once.

    ``requested_at`` is the moment the restore was asked for (the run's
    ``run_after``; now when unknown). A ``target_time`` after it is refused: no
    backup of the future exists, and the planner would otherwise quietly restore
    the newest set for a mistyped year.
    """
    problems = [
        f"params.{key}: is not a parameter of this DAG (known: {', '.join(RESTORE_PARAMS)})"
        for key in sorted(set(conf or {}) - set(RESTORE_PARAMS))
    ]
    kind = params.get("request_type") or "latest"
    request: dict[str, Any] = {
        "type": kind,
        "allow_point_in_time_restore": bool(params.get("allow_point_in_time_restore", True)),
        # off by default: only sets their backup verified are restored (planning)
        "allow_unverified": bool(params.get("allow_unverified", False)),
    }
    if kind == "backup_set":
        try:
            request["backup_set"] = BackupSet.parse(str(params.get("backup_set") or "")).id
        except ValueError as error:
            problems.append(f"params.backup_set: {error}")
    elif kind == "point_in_time":
        target = params.get("target_time")
        if not target and logical_date is not None:
            target = logical_date.isoformat()  # a backfill run restores to its logical date
            log.info("No target_time given: using the run's logical date %s", target)
        try:
            request["target_time"] = to_utc(target).isoformat() if target else None
        except (TypeError, ValueError):
            request["target_time"] = None
        if not request["target_time"]:
            problems.append(
                f"params.target_time: {target!r} is not an ISO 8601 date-time "
                "(required for request_type point_in_time when the run has no logical date)"
            )
        elif to_utc(request["target_time"]) > (asked := to_utc(requested_at or datetime.now(UTC))):
            problems.append(
                f"params.target_time: {request['target_time']} is after the moment of the "
                f"request ({asked.isoformat()}): no backup of that moment exists (check the year)"
            )
    elif kind != "latest":
        problems.append(f"params.request_type: {kind!r} is not latest, backup_set or point_in_time")
    if params.get("mode", "plan") not in MODES:
        problems.append(f"params.mode: {params.get('mode')!r} is not one of {', '.join(MODES)}")
    if params.get("target", "side_by_side") not in TARGETS:
        problems.append(
            f"params.target: {params.get('target')!r} is not one of {', '.join(TARGETS)}"
        )
    components = params.get("components")
    if components is not None and not set(components) <= set(COMPONENTS):
        problems.append(f"params.components: {sorted(set(components) - set(COMPONENTS))} unknown")
    source_region = params.get("source_region")
    if source_region is not None and not isinstance(source_region, str):
        problems.append(f"params.source_region: {source_region!r} is not a region name")
    if problem := source_problem(params):
        problems.append(problem)
    if params.get("network", "recorded") not in NETWORKS:
        problems.append(
            f"params.network: {params.get('network')!r} is not one of {', '.join(NETWORKS)}"
        )
    return request, problems


def check_source_region(params: Mapping[str, Any], cfg: InstallationConfig) -> list[str]:
    """The region to restore from: the home region, or the configured copy region.

    A restore from the copy region lists and creates everything there: it is
    the disaster-recovery path, side by side only (the live resources it
    would replace are in the home region).
    """
    region = params.get("source_region") or cfg.region
    if not isinstance(region, str) or region == cfg.region:
        return []
    if cfg.efs.datasync is not None:
        return [
            f"params.source_region: {region!r}: a DataSync installation (efs.backup_method "
            f"'datasync') keeps its EFS copies in the home region {cfg.region!r} only (no "
            "copy region has them); leave source_region empty"
        ]
    copy = cfg.cross_region.region if cfg.cross_region else None
    if region != copy:
        where = (
            f"the copy region {copy!r} (cross_region.region)"
            if copy
            else "no copy region (no cross_region is configured)"
        )
        return [
            f"params.source_region: {region!r} holds no backups of {cfg.installation}: "
            f"choose the home region {cfg.region!r} or {where}"
        ]
    if params.get("target", "side_by_side") == "in_place":
        return [
            f"params.target: in_place replaces the live resources in {cfg.region}; a restore "
            f"from the copy region {region} is side_by_side only"
        ]
    return []


def check_source(params: Mapping[str, Any], cfg: InstallationConfig) -> list[str]:
    """A restore from the protected copies (``source: immutable``): what it can do.

    It plans from the locked vault and manifests (``inventory.locked_inventory``),
    copies the chosen points back into the installation's vault and restores
    them in the home region, side by side: it is the path after an attack on the
    installation's own account, whose live resources may be gone.
    """
    if (params.get("source") or "home") != "immutable":
        return []
    if cfg.immutable is None:
        return [
            "params.source: immutable restores from the protected copies, and this "
            "configuration has no immutable section"
        ]
    problems = []
    region = params.get("source_region")
    if region and region != cfg.region:
        problems.append(
            f"params.source_region: a restore from the protected copies restores in the home "
            f"region {cfg.region}; leave source_region empty"
        )
    if params.get("target", "side_by_side") == "in_place":
        problems.append("params.target: a restore from the protected copies is side_by_side only")
    asked = set(params.get("components") or ())
    if asked - set(LOCKED_COMPONENTS):
        problems.append(
            f"params.components: {sorted(asked - set(LOCKED_COMPONENTS))} are not kept in the "
            f"protected copies; a restore from them restores {', '.join(LOCKED_COMPONENTS)}"
        )
    return problems


def check_confirm(params: Mapping[str, Any], installation: str, approval_in_ui: bool) -> list[str]:
    """``confirm``: empty, or exactly the installation's name (an in-place restore approved
    ahead, for scripts). An in-place restore without it waits for approval in the UI where
    Airflow has human-in-the-loop (3.1+); on Airflow 3.0 it is refused, as it always was."""
    confirm = params.get("confirm")
    if confirm not in (None, "") and confirm != installation:
        return [
            f"params.confirm: {confirm!r} is not this installation's name; leave it empty "
            f"(an in-place restore then waits for approval) or type exactly {installation!r}"
        ]
    in_place_restore = params.get("target") == "in_place" and params.get("mode") == "restore"
    if in_place_restore and confirm != installation and not approval_in_ui:
        return [
            f"params.confirm: an in-place restore replaces the live resources of "
            f"{installation!r}; set confirm to exactly that name to go ahead (this Airflow has "
            "no human-in-the-loop approval: it needs 3.1 or later)"
        ]
    return []


def validate(params: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """Refuse bad params and configuration; return the restore run's settings."""
    dag_run = context["dag_run"]
    request, problems = check_request(
        params, dag_run.conf or {}, dag_run.logical_date, getattr(dag_run, "run_after", None)
    )
    try:
        cfg = load_config()
    except ConfigError as error:
        raise PermanentFailure("\n".join([str(error), *problems])) from None
    problems += check_confirm(params, cfg.installation, HUMAN_IN_THE_LOOP)
    problems += check_source_region(params, cfg)
    problems += check_source(params, cfg)
    if not problems and (params.get("source") or "home") == "immutable":
        from ue_backup.tasks.key_checks import refuse_unusable_restore_keys

        problems += refuse_unusable_restore_keys(
            cfg, "the restore", params.get("components") or None
        )
    if problems:
        raise PermanentFailure("invalid params:\n" + "\n".join(f"  - {p}" for p in problems))
    if params.get("mode") == "restore":
        refuse_while_running(context["ti"], "ue_restore")
    settings = RestoreRunSettings.build(
        cfg, restore_names(cfg.installation, dag_run.run_after), request, params
    )
    if settings.from_copy:
        log.info("Restoring from the copy region %s: listing and restoring there", settings.region)
    if settings.from_immutable:
        log.info(
            "Restoring from the protected copies in account %s (vault %s): %s",
            cfg.immutable.account_id,
            cfg.immutable.backup_vault_name,
            ", ".join(settings.components),
        )
    return settings.dump()


def plan(settings: Mapping[str, Any]) -> dict[str, Any]:
    """List, plan, log the plan as a table; refuse with the planner's reason.

    Returns the plan under ``plan`` and, flat beside it, what each restore
    task needs: whether it runs (``restore_<component>``) and its source
    (``run_settings.RestorePlanResult``).
    """
    run = RestoreRunSettings.model_validate(settings)
    cfg = load_config()
    # What exists: ue_backup.inventory (the protected copies: locked_inventory).
    if run.from_immutable:
        inventory = locked_inventory(settings, cfg)
        refuse_without_the_home_grant(settings, cfg)
    else:
        inventory = list_inventory(settings, cfg)
    if "memorydb" not in run.components:
        inventory["memorydb_snapshots"] = None
    if "velero" not in run.components:
        inventory["velero_backups"] = None
    try:
        result = plan_restore(inventory, run.request)
    except RestorePlanError as error:
        raise PermanentFailure(f"no consistent restore for {run.request}: {error}") from None
    where = f" (from the copy region {run.region})" if run.from_copy else ""
    if run.from_immutable:
        where = " (from the protected copies)"
    log.info("Restore plan for %s%s:\n%s", run.installation, where, plan_table(result))
    if not run.restoring:
        log.info("Mode 'plan': this is what a restore would do; nothing was changed")
    recorded = None
    if run.from_immutable:
        recorded = None if run.network_by_hand else chosen_network(inventory, result)
        # before anything is changed (mode plan too): the network it would restore into
        check_recorded_network(run, result, recorded)
    planned = RestorePlanResult.build(run, result, inventory, recorded)
    log_checks(run, planned)
    refuse_checks_without_a_login(run, planned)
    return planned.dump()


def refuse_without_the_home_grant(settings: Mapping[str, Any], cfg: InstallationConfig) -> None:
    """From the protected copies: refuse, before anything is brought back, when the
    installation's vault does not let the protected account copy in (in mode plan too:
    a plan that could never be carried out is no plan). After an attack that removed the
    vault's access policy, this says what to put back; the Airflow role cannot."""
    if problems := home_vault_grant_problems(settings, cfg):
        raise PermanentFailure(
            "a restore from the protected copies could not bring them back; nothing was "
            "changed:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def log_checks(run: RestoreRunSettings, planned: RestorePlanResult) -> None:
    """Which configured application checks this restore runs, and which it leaves out."""
    if not run.verification:
        return
    configured = VerificationConfig.model_validate(run.verification)
    chosen = VerificationConfig.model_validate(planned.verification or {})
    kept = {name for name, _ in planned_checks(chosen)}
    left_out = [name for name, _ in planned_checks(configured) if name not in kept]
    if not planned.check_application:
        log.info("Application checks: none run (no database restored, or nothing restored)")
    elif left_out:
        log.info(
            "Application checks: %s left out (their file system or cluster is not restored)",
            ", ".join(left_out),
        )


def refuse_checks_without_a_login(run: RestoreRunSettings, planned: RestorePlanResult) -> None:
    """In place, refuse before anything changes when the checks could not log in after it.

    The live database keeps its password after an in-place restore (the
    platform's), so the checks borrow the replaced instance's RDS-managed
    secret; an instance without one would leave the committed restore
    unverified and the workflows held.
    """
    if not planned.check_login_instance or not run.rds_instance:
        return
    from ue_backup.hooks.rds import RdsHook

    live = settings_hook(RdsHook, run).describe_instance(run.rds_instance)
    if not (live.get("MasterUserSecret") or {}).get("SecretArn"):
        raise PermanentFailure(
            f"verification: the checks of an in-place restore log in with the live instance's "
            f"RDS-managed master password (MasterUserSecret), and {run.rds_instance} has none. "
            "Nothing was changed. Let RDS manage its master password in Secrets Manager "
            "(the platform then reads it there), restore side by side, or remove the checks "
            "from the configuration's verification section."
        )


def restore_report(
    settings: Mapping[str, Any],
    planned: Mapping[str, Any],
    *,
    efs: Mapping[str, Any] | None,
    resumed: Mapping[str, Any] | None,
    checks: Mapping[str, Any] | None = None,
    password_managed: tuple[str, str | None] | None = None,
) -> dict[str, Any]:
    """The restore's outcome in a few lines: what exists now, and what the operator does next.

    ``password_managed``: (instance, secret ARN) when the application checks let RDS
    manage a copy's master password (it is then no longer the source's).
    """
    run = RestoreRunSettings.model_validate(settings)
    plan = planned["plan"]
    database = run.rds_target if planned.get("restore_database") else None
    if planned.get("switch_over_database"):
        database = run.rds_instance
    memorydb = run.memorydb_target if planned.get("restore_memorydb") else None
    restored = {
        "database": database,
        "efs_file_system_id": (efs or {}).get("file_system_id"),
        "memorydb_cluster": memorydb,
        "velero_restore": run.restore_id if planned.get("restore_velero") else None,
    }
    next_steps = []
    if run.target == "side_by_side" and planned.get("restore_efs"):
        next_steps.append(
            "side by side: point the platform at the restored resources, then enable its ECDs"
        )
    if run.platform and planned.get("restore_velero") and not run.in_place:
        workload = f"{run.platform['kind']} {run.platform['name']}"
        next_steps.append(
            f"Derby's platform ({workload}): where Velero created it (it did not exist), it "
            "came back as backed up, inside the window, at zero replicas: scale it back to its "
            "ue-backup/previous-replicas and remove the ue-backup/ annotations once it points "
            "at the restored tree"
        )
    if run.in_place and planned.get("restore_memorydb"):
        next_steps.append(f"MemoryDB cannot be renamed: point the platform at cluster {memorydb}")
    if run.in_place and planned.get("restore_efs"):
        next_steps.append(
            f"the EFS data that was live is kept in ue-backup-replaced_{run.restore_id}/"
        )
    if run.from_immutable:
        next_steps.append(
            f"restored from the protected copies: the points brought back into "
            f"{run.backup_vault} (and MemoryDB's files staged in {run.immutable_staging_bucket} "
            f"under ue-backup-restores/{run.restore_id}/) are this restore's; remove them once "
            "it is accepted. Where the live instance, file system or cluster was gone, the "
            "restored one has the network the set recorded (subnets, security groups, subnet "
            "groups, ACL); a set recorded without it left the region's defaults: check them"
        )
    if password_managed:
        instance, secret = password_managed
        next_steps.append(
            f"the application checks let RDS manage the master password of {instance}: it "
            f"is no longer the source's; the platform logs in with the secret {secret}"
        )
    report = {
        "restore_id": run.restore_id,
        "backup_set": plan.get("backup_set"),
        "target": run.target,
        "source": "immutable" if run.from_immutable else "home",
        "region": run.region,
        "restored": restored,
        "endpoints": restored_endpoints(run, restored) if run.restoring else {},
        "resumed": (resumed or {}).get("outcomes", {}),
        "verification": report_entry(bool(planned.get("check_application")), checks),
        "next_steps": next_steps,
    }
    if run.restoring:
        report["location"] = keep_report(run, report)
    log.info("Restore %s:\n%s", run.restore_id, json.dumps(report, indent=2))
    if checks:
        log.info("Application checks:\n%s", results_table(checks["results"]))
    return report


def restored_endpoints(run: RestoreRunSettings, restored: Mapping[str, Any]) -> dict[str, str]:
    """Where the platform connects to what was restored: the instance's and the cluster's
    endpoints (read from AWS) and the file system's DNS name. A read that fails says so in
    place of the endpoint: the report never fails for it."""
    from ue_backup.hooks.memorydb import MemoryDbHook
    from ue_backup.hooks.rds import RdsHook

    endpoints: dict[str, str] = {}
    if restored.get("efs_file_system_id"):
        endpoints["efs"] = efs_dns_name(restored["efs_file_system_id"], run.region)
    reads = {
        "database": (RdsHook, "get_instance", "Endpoint", restored.get("database")),
        "memorydb": (
            MemoryDbHook,
            "get_cluster",
            "ClusterEndpoint",
            restored.get("memorydb_cluster"),
        ),
    }
    for component, (hook, method, field, name) in reads.items():
        if not name:
            continue
        try:
            found = getattr(settings_hook(hook, run), method)(name) or {}
        except (ClientError, BotoCoreError) as error:
            # the code only: the message may name the role and account, and this is shown
            code = getattr(error, "response", {}).get("Error", {}).get("Code")
            log.warning("The endpoint of %s could not be read: %s", name, error)
            endpoints[component] = f"not known ({code or type(error).__name__}): see {name}"
            continue
        where = found.get(field) or {}
        endpoints[component] = (
            f"{where['Address']}:{where.get('Port')}"
            if where.get("Address")
            else f"not known yet: see {name} in the console"
        )
    return endpoints


def password_managed(ti: Any) -> tuple[str, str | None] | None:
    """The copy whose master password the application checks let RDS manage, and its secret.

    Read from ``check_application``'s XComs (``AppChecksOperator``): None when it
    changed no password.
    """
    instance = ti.xcom_pull(task_ids="check_application", key=PASSWORD_MANAGED_KEY)
    secret = ti.xcom_pull(task_ids="check_application", key=LOGIN_SECRET_KEY)
    return (instance, secret) if instance else None


def restore_report_key(prefix: str, installation: str, restore_id: str) -> str:
    """Where a restore's report is kept: beside the manifests, as the drills' are."""
    return f"{prefix}restores/{installation}/{restore_id}.json"


def keep_report(run: RestoreRunSettings, report: Mapping[str, Any]) -> str | None:
    """Write the report to S3 beside the manifests; its location, or None when S3 refused.

    The bucket is in the home region: restoring in the copy region because the
    home region is lost, it may be out of reach. The restore is done by then,
    so that is a warning (the report stays in this log and the XCom), never a
    failed restore.
    """
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    if not run.manifest_bucket:
        return None
    key = restore_report_key(run.manifest_prefix, run.installation, run.restore_id)
    try:
        S3Hook(aws_conn_id=run.aws_conn_id, region_name=run.home_region).load_string(
            json.dumps(report, indent=2, sort_keys=True),
            key=key,
            bucket_name=run.manifest_bucket,
            replace=True,
        )
    except Exception as error:  # S3 unreachable or refused: the restore itself is done
        log.warning(
            "The restore report could not be kept in s3://%s/%s (%s): it is in this log and "
            "the task's XCom",
            run.manifest_bucket,
            key,
            error,
        )
        return None
    return f"s3://{run.manifest_bucket}/{key}"


# Failures that still leave a report worth keeping: the application checks (the restore
# exists, and the report says what it is and that they failed), and run_outcome, which
# only repeats the others (it may end before the report starts).
REPORTED_FAILURES = {"check_application", "run_outcome"}


def refuse_report_after_failure(states: Mapping[str, Any]) -> None:
    """Skip the report when a step other than the checks failed (or never ran for it).

    The run fails anyway (``run_outcome``), and the failed step has alerted: a
    report of resources that may not exist would mislead.
    """
    from ue_backup.compat import AirflowSkipException
    from ue_backup.states import state_value

    failed = sorted(
        task
        for task, state in states.items()
        if state_value(state) in ("failed", "upstream_failed") and task not in REPORTED_FAILURES
    )
    if failed:
        raise AirflowSkipException(f"no report: {failed} did not succeed (see their logs)")


def remove_staged_files(
    settings: Mapping[str, Any], brought: Mapping[str, Any] | None
) -> list[str]:
    """MemoryDB's locked files a restore from the protected copies staged for the new
    cluster (``ue-backup-restores/<restore id>/`` in ``immutable.memorydb_export_bucket``):
    deleted once the cluster is available, when MemoryDB has seeded it and reads them no
    more. Only keys under this restore's own staging prefix are deleted, one DeleteObject
    each (the policy allows nothing wider); a retry deletes what is left. Returns the keys.
    """
    run = RestoreRunSettings.model_validate(settings)
    staged = ((brought or {}).get("memorydb") or {}).get("snapshot_arns") or []
    prefix = f"{STAGING_PREFIX}{run.restore_id}/"
    keys = []
    for arn in staged:
        bucket, key = arn.split(":::", 1)[1].split("/", 1)
        if bucket != run.immutable_staging_bucket or not key.startswith(prefix):
            raise PermanentFailure(
                f"staged file {arn} is not under {run.immutable_staging_bucket}/{prefix}: "
                "not deleted"
            )
        keys.append(key)
    if not keys:
        log.info("No staged MemoryDB file to remove")
        return []
    s3 = settings_hook(S3Hook, run)
    for key in keys:
        s3.delete_key(run.immutable_staging_bucket, key)
    log.info(
        "Removed %d staged MemoryDB file(s) from s3://%s/%s: the cluster is seeded",
        len(keys),
        run.immutable_staging_bucket,
        prefix,
    )
    return keys
