"""The restore drill's own steps: check the request, plan, verify each restore, report.

A drill restores the newest restorable backup set (or a named one) side by
side into temporary resources named after the drill run, proves each one
usable, measures how long that took, and leaves nothing behind (the cleanup
is ``hooks/drill.py``). It reuses the restore's planner and
inventory (``tasks/restore_steps.py``), so it rehearses exactly what a real
restore would do, and it never writes to the live installation: every name
it creates is its own, and the live names are kept in its settings only to
check that nothing it deletes is one of them.

What "usable" means per component, and what the drill cannot check:

- database: the new RDS instance is ``available`` with an endpoint. No SQL
  is run: the drill holds no database credentials, and the sandbox has no
  real PostgreSQL behind its endpoints.
- EFS: the recovery point restored into a new file system (or, for a
  DataSync installation, the set's folder copied into a new file system
  shaped like the live one), its temporary files purged by the same Job
  script a restore uses, then a Job checks that the tree holds files and no
  temporary file (``temp_files``).
- MemoryDB: the new cluster is ``available`` with an endpoint.
- Kubernetes: the Velero restore into the drill namespace completed, it
  restored objects, and every restored ECD is disabled; workloads are
  restored with zero replicas, so nothing of the copy runs.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ue_backup.app_checks import results_table
from ue_backup.aws import settings_hook
from ue_backup.backup_set import BackupSet
from ue_backup.config import ConfigError, InstallationConfig, load_config
from ue_backup.drill_report import COMPONENTS, build_report, report_key, report_table
from ue_backup.drill_resources import RESTORED_RESOURCES
from ue_backup.errors import PermanentFailure
from ue_backup.kube_names import (
    RESTORE_NAME_LABEL,
    efs_volume_name,
)
from ue_backup.locked_inventory import source_problem
from ue_backup.names import DRILL_ID_KEEP, fit
from ue_backup.restore_scripts import DONE_MARKER, check_restored_tree
from ue_backup.run_settings import DrillRunSettings, aws_access
from ue_backup.states import run_task_states, state_value
from ue_backup.tasks.run_guard import refuse_while_running

log = logging.getLogger(__name__)


DRILL_PARAMS = ("backup_set", "allow_point_in_time_restore", "dry_run", "source")
STARTED_AT = "started_at"  # the XCom key a restore start task records its start under

SCALED_TO_ZERO = ("deployments.apps",)


def velero_resource_names() -> list[str]:
    """``RESTORED_RESOURCES`` as Velero names them: ``<plural>.<group>``, or the plural."""
    return [f"{plural}.{group}" if group else plural for group, _, plural in RESTORED_RESOURCES]


class DrillFailed(PermanentFailure):
    """The drill did not prove the set restorable; the failed steps have alerted already."""


# --- names ---------------------------------------------------------------------------------


def drill_id(installation: str, run_after: datetime) -> str:
    """The drill run's id, which names every temporary resource it creates.

    40 characters at most (MemoryDB's limit; RDS allows 63), no ``--`` and
    no trailing hyphen (RDS refuses both): the installation name is cut to
    21 by ``names.fit``. From the run, not from the set: two drills of one
    set never share a resource, and a retry finds its own.
    """
    return f"{fit(installation, DRILL_ID_KEEP)}-drill-{run_after.astimezone(UTC):%y%m%d%H%M%S}"


def drill_namespace(cfg: InstallationConfig) -> str:
    return cfg.drill.namespace or f"{cfg.kubernetes.namespace[:57]}-drill"


def drill_names(cfg: InstallationConfig, run_after: datetime) -> dict[str, str]:
    """Every name the drill creates; the cleanup deletes exactly these."""
    did = drill_id(cfg.installation, run_after)
    namespace = drill_namespace(cfg)
    claim = f"{did}-efs"
    return {
        "drill_id": did,
        "rds_target": did,
        "memorydb_target": did,
        "efs_token": f"{did}-efs",
        "velero_restore": did,
        "drill_namespace": namespace,
        "efs_claim": claim,
        # The PersistentVolume KubeJobHook.ensure_efs_claim makes for that claim.
        "efs_volume": efs_volume_name(namespace, claim),
        "place_job": f"{did}-place",
        "check_job": f"{did}-check",
        "app_check_job": f"{did}-verify",
    }


# --- the request ---------------------------------------------------------------------------


def check_params(
    params: Mapping[str, Any], conf: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """(the planner's request, problems): every problem with the params, each naming its field."""
    problems = [
        f"params.{key}: is not a parameter of this DAG (known: {', '.join(DRILL_PARAMS)})"
        for key in sorted(set(conf or {}) - set(DRILL_PARAMS))
    ]
    for flag, default in (("dry_run", False), ("allow_point_in_time_restore", True)):
        if not isinstance(params.get(flag, default), bool):
            problems.append(f"params.{flag}: {params.get(flag)!r} is not true or false")
    request: dict[str, Any] = {
        "type": "latest",
        "allow_point_in_time_restore": params.get("allow_point_in_time_restore", True) is True,
    }
    if problem := source_problem(params):
        problems.append(problem)
    wanted = params.get("backup_set")
    if wanted not in (None, ""):
        try:
            request.update(type="backup_set", backup_set=BackupSet.parse(str(wanted)).id)
        except ValueError as error:
            problems.append(f"params.backup_set: {error}")
    return request, problems


def check_config(
    cfg: InstallationConfig, request: Mapping[str, Any], source: str = "home"
) -> list[str]:
    """What in the configuration (or the request against it) makes a drill impossible.

    ``source`` (params.source) immutable needs the ``immutable`` section.
    """
    problems = []
    if source == "immutable" and cfg.immutable is None:
        problems.append(
            "params.source: immutable drills a restore from the protected copies, and this "
            "configuration has no immutable section"
        )
    if request.get("type") == "backup_set":
        owner = BackupSet.parse(request["backup_set"]).installation
        if owner != cfg.installation:
            problems.append(
                f"params.backup_set: {request['backup_set']!r} is a set of {owner!r}, "
                f"not of this installation {cfg.installation!r}"
            )
    namespace = drill_namespace(cfg)
    installation_namespaces = {cfg.kubernetes.namespace} | set(
        cfg.velero.included_namespaces if cfg.velero else ()
    )
    if namespace in installation_namespaces:
        problems.append(
            f"drill.namespace: {namespace!r} is a namespace of the installation; the drill "
            "restores beside it, into a namespace of its own"
        )
    return problems


def prepare(params: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """Refuse bad input, list and plan with rule 1, name everything; changes nothing.

    Returns the drill's settings: where to restore from (the plan), every
    name the drill will create, and which components it restores.
    """
    from ue_backup.plan_view import plan_table
    from ue_backup.planning import RestorePlanError, plan_restore

    dag_run = context["dag_run"]
    request, problems = check_params(params, dag_run.conf or {})
    try:
        cfg = load_config()
    except ConfigError as error:
        raise PermanentFailure("\n".join([str(error), *problems])) from None
    source = params.get("source") or "home"
    problems += check_config(cfg, request, source) if not problems else []
    if not problems and source == "immutable":
        from ue_backup.tasks.key_checks import refuse_unusable_restore_keys

        problems += refuse_unusable_restore_keys(cfg, "the drill")
    if problems:
        raise PermanentFailure("invalid drill request:\n" + "\n".join(f"  - {p}" for p in problems))
    dry_run = params.get("dry_run", False) is True
    if not dry_run:
        refuse_while_running(context["ti"], "ue_restore_drill")
    started = dag_run.start_date or datetime.now(UTC)
    names = drill_names(cfg, dag_run.run_after)
    inventory = drill_inventory(cfg, source)
    try:
        plan = plan_restore(inventory, request)
    except RestorePlanError as error:
        raise PermanentFailure(f"no backup set to drill ({request}): {error}") from None
    settings = DrillRunSettings.build(cfg, names, plan, inventory, dry_run, started, source)
    log.info(
        "Restore drill %s of %s%s:\n%s\nTemporary resources: %s",
        settings.drill_id,
        cfg.installation,
        " from the protected copies" if settings.from_immutable else "",
        plan_table(plan),
        json.dumps(names, indent=2),
    )
    if dry_run:
        log.info("Dry run: this is what the drill would restore; nothing was created")
    return settings.dump()


def drill_inventory(cfg: InstallationConfig, source: str) -> dict[str, Any]:
    """What the drill plans from: the installation's own backups, or the protected copies.

    From the protected copies (``source: immutable``) the drill lists exactly what
    ``ue_restore`` with that source lists (``inventory.locked_inventory``: the locked
    vault's database and EFS points, MemoryDB's locked files, the locked manifests'
    verdicts), so it rehearses that restore. The Kubernetes resources are left out, as
    that restore leaves them out: they are not kept in the protected copies, and after
    an attack the home Velero backups are what may be gone or altered; a drill that
    restored them from home would time and prove a path the real recovery does not take.
    """
    from ue_backup.inventory import list_inventory, locked_inventory
    from ue_backup.tasks.restore_steps import refuse_without_the_home_grant

    if source != "immutable":
        return list_inventory(aws_access(cfg), cfg)
    inventory = locked_inventory(aws_access(cfg), cfg)
    refuse_without_the_home_grant(aws_access(cfg), cfg)
    if cfg.velero:
        log.info(
            "From the protected copies: the Kubernetes resources are not drilled (they are "
            "not kept there, and ue_restore from them does not restore them)"
        )
    return {**inventory, "velero_backups": None}


def _now() -> str:
    return datetime.now(UTC).isoformat()


# --- verification --------------------------------------------------------------------------


def verify_database(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The new instance is ``available`` and has an endpoint (no SQL: see the module doc)."""
    from ue_backup.aws import settings_hook
    from ue_backup.hooks.rds import RdsHook

    run = DrillRunSettings.model_validate(settings)
    name = run.rds_target
    instance = settings_hook(RdsHook, run).describe_instance(name)
    endpoint = instance.get("Endpoint") or {}
    problems = []
    if instance["DBInstanceStatus"] != "available":
        problems.append(f"status {instance['DBInstanceStatus']!r}, not 'available'")
    if not endpoint.get("Address") or not endpoint.get("Port"):
        problems.append("no endpoint")
    if problems:
        raise PermanentFailure(f"restored DB instance {name}: {'; '.join(problems)}")
    return {
        "resource": name,
        "endpoint": f"{endpoint['Address']}:{endpoint['Port']}",
        "engine": instance.get("Engine"),
        "instance_class": instance.get("DBInstanceClass"),
        "usable_at": _now(),
    }


def tree_check_script(mount: str) -> str:
    """The check Job's script: no temporary file (rule 2), and the tree is not empty."""
    marker = DONE_MARKER
    return "\n".join(
        [
            check_restored_tree(mount),
            f"count=$(find {mount} -type f ! -name {marker} | wc -l)",
            'if [ "$count" -eq 0 ]; then echo "the restored tree holds no file"; exit 1; fi',
            'echo "files: $count"',
        ]
    )


def verify_efs(
    file_system: Mapping[str, Any],
    check: Mapping[str, Any],
    copy: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The check Job passed: report the file count it saw and the restore job's own times
    (a DataSync installation: ``copy``, the copy's record, ``release_efs_copy``'s)."""
    found = re.search(r"files: (\d+)", check.get("log") or "")
    if not found:
        raise PermanentFailure(f"the check Job {check.get('job')} reported no file count")
    result = {
        "resource": file_system["file_system_id"],
        "files": int(found.group(1)),
        "temporary_files": 0,
        "mount_targets": file_system["mount_targets"],
        "restore_job": file_system.get("restore_job"),
        "restore_job_created": file_system.get("restore_job_created"),
        "restore_job_completed": file_system.get("restore_job_completed"),
        "usable_at": _now(),
    }
    if copy:
        result["datasync_copy"] = {
            k: copy.get(k) for k in ("task_execution_arn", "status", "started", "files_transferred")
        }
    return result


def verify_memorydb(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The new cluster is ``available`` and has an endpoint."""
    from ue_backup.hooks.memorydb import MemoryDbHook

    run = DrillRunSettings.model_validate(settings)
    name = run.memorydb_target
    hook = settings_hook(MemoryDbHook, run)
    cluster = hook.get_cluster(name)
    if cluster is None:
        raise PermanentFailure(f"restored MemoryDB cluster {name} does not exist")
    endpoint = cluster.get("ClusterEndpoint") or {}
    problems = []
    if cluster.get("Status") != "available":
        problems.append(f"status {cluster.get('Status')!r}, not 'available'")
    if not endpoint.get("Address"):
        problems.append("no endpoint")
    if problems:
        raise PermanentFailure(f"restored MemoryDB cluster {name}: {'; '.join(problems)}")
    return {
        "resource": name,
        "endpoint": f"{endpoint['Address']}:{endpoint.get('Port')}",
        "shards": cluster.get("NumberOfShards"),
        "node_type": cluster.get("NodeType"),
        "usable_at": _now(),
    }


def verify_kubernetes(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The Velero restore brought objects back into the drill namespace, every ECD disabled."""
    from ue_backup.hooks.ecd import EcdHook
    from ue_backup.hooks.velero import VeleroHook

    run = DrillRunSettings.model_validate(settings)
    name, namespace = run.velero_restore, run.drill_namespace
    restore = VeleroHook(conn_id=run.kubernetes_conn_id).get_restore(run.velero_namespace, name)
    status = (restore or {}).get("status") or {}
    selector = f"{RESTORE_NAME_LABEL}={name}"
    hook = EcdHook(conn_id=run.kubernetes_conn_id)
    ecds = {
        e["metadata"]["name"]: (e.get("spec") or {}).get("enabled")
        for e in hook.list_ecds(namespace, selector)
    }
    deployments = hook.apps_v1_client.list_namespaced_deployment(
        namespace, label_selector=selector
    ).items
    restored = (status.get("progress") or {}).get("itemsRestored") or 0
    problems = []
    if status.get("phase") != "Completed":
        problems.append(f"Velero restore {name} is {status.get('phase') or 'missing'}")
    if not restored:
        problems.append("no object was restored")
    enabled = sorted(n for n, on in ecds.items() if on is not False)
    if enabled:
        problems.append(f"ECDs not disabled: {enabled}")
    running = sorted(d.metadata.name for d in deployments if d.spec.replicas)
    if running:
        problems.append(f"workloads not scaled to zero: {running}")
    if problems:
        raise PermanentFailure(f"Kubernetes restore into {namespace}: {'; '.join(problems)}")
    return {
        "resource": f"{namespace} (Velero restore {name})",
        "items_restored": restored,
        "warnings": status.get("warnings", 0),
        "ecds_disabled": sorted(ecds),
        "usable_at": _now(),
    }


def modifier_rules() -> list[dict[str, Any]]:
    """Velero resource-modifier rules beyond the ECDs': workloads restored with no replica.

    No namespace condition: the drill's restore takes only the installation's
    namespace, and everything lands in the drill namespace.
    """
    return [
        {
            "conditions": {"groupResource": group_resource, "resourceNameRegex": ".*"},
            "patches": [{"operation": "add", "path": "/spec/replicas", "value": "0"}],
        }
        for group_resource in SCALED_TO_ZERO
    ]


# --- the report ----------------------------------------------------------------------------


def bring_back_record(ti: Any) -> dict[str, Any]:
    """What the bring-back recorded: its start and end (XComs) and what it brought home."""
    from ue_backup.drill_report import BRING_BACK
    from ue_backup.operators.locked_copies import FINISHED_KEY, STARTED_KEY

    return {
        "started_at": ti.xcom_pull(task_ids=BRING_BACK, key=STARTED_KEY),
        "finished_at": ti.xcom_pull(task_ids=BRING_BACK, key=FINISHED_KEY),
        "result": ti.xcom_pull(task_ids=BRING_BACK),
    }


def report(context: Mapping[str, Any]) -> dict[str, Any]:
    """Build the report from what the tasks recorded, log it, keep it in S3 beside the manifests.

    Fails the run (``DrillFailed``, no second alert) when the drill did not
    pass; the report is written first, so a failed drill leaves its evidence.
    """
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    ti = context["ti"]
    settings = ti.xcom_pull(task_ids="prepare")
    if not settings:
        raise DrillFailed("the drill was refused before anything was created: see prepare's log")
    run = DrillRunSettings.model_validate(settings)
    states = run_task_states(ti)
    failed = sorted(t for t, s in states.items() if state_value(s) == "failed")
    records = {
        name: {
            "started_at": ti.xcom_pull(task_ids=spec["start"], key=STARTED_AT),
            "verified": ti.xcom_pull(task_ids=spec["verify"]),
        }
        for name, spec in COMPONENTS.items()
    }
    result = build_report(
        settings,
        records,
        failed,
        verification=ti.xcom_pull(task_ids="check_application"),
        bring_back=bring_back_record(ti) if run.from_immutable else None,
    )
    if not run.dry_run:
        key = report_key(run.manifest_prefix, run.installation, run.drill_id)
        result["location"] = f"s3://{run.manifest_bucket}/{key}"
        S3Hook(aws_conn_id=run.aws_conn_id, region_name=run.region).load_string(
            json.dumps(result, indent=2, sort_keys=True),
            key=key,
            bucket_name=run.manifest_bucket,
            replace=True,
        )
    log.info("%s", report_table(result))
    if result["verification"]["results"]:
        log.info("Application checks:\n%s", results_table(result["verification"]["results"]))
    if result.get("location"):
        log.info("Drill report written to %s", result["location"])
    if result["outcome"] == "failed":
        unproven = [n for n, c in result["components"].items() if c["status"] == "failed"]
        if result["verification"]["status"] in ("failed", "not run"):
            unproven.append(f"application checks ({result['verification']['status']})")
        raise DrillFailed(
            f"restore drill {run.drill_id} failed: {unproven} not verified "
            f"(failed steps: {', '.join(failed) or 'none recorded'}); the cleanup deletes "
            "the temporary resources"
        )
    return result
