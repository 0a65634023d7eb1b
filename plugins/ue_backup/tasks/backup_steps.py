"""The backup DAG's own steps that are not a single AWS or Kubernetes call.

Each function takes the run's settings (from ``preflight``) and what the
earlier tasks returned (their XComs), reads the artifacts back (through
``ue_backup.inventory.read_artifacts``, the one inventory), and either
returns a JSON-serialisable result or fails the task with a reason an
operator can act on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ue_backup.aws import settings_hook
from ue_backup.backup_set import BackupSet
from ue_backup.cold_window import NO_WINDOW, UNPROVEN, mark
from ue_backup.config import PricesConfig, load_config
from ue_backup.errors import PermanentFailure
from ue_backup.external_window import current_window, refusal
from ue_backup.hooks.ecd import EcdHook
from ue_backup.hooks.memorydb import MemoryDbHook
from ue_backup.hooks.s3 import S3Hook
from ue_backup.inventory import read_artifacts
from ue_backup.manifest import build_manifest, stored_json, summary_table
from ue_backup.records import memorydb_snapshot_record, rds_copy_record, rds_snapshot_record
from ue_backup.run_settings import BackupRunSettings
from ue_backup.tasks.network_steps import live_network
from ue_backup.tasks.set_marks import mark_set
from ue_backup.verify import failure_message, verify_set
from ue_backup.window_estimate import describe, fixed

log = logging.getLogger(__name__)


def check_external_window(settings: Mapping[str, Any]) -> dict[str, Any]:
    """External mode: refuse unless inside the platform's window, stopped, with time to finish."""
    run = BackupRunSettings.model_validate(settings)
    window = load_config().cold_window
    selection = EcdHook(conn_id=run.kubernetes_conn_id)
    ecds = selection.select_ecds(run.namespace, run.ecd_label_selector, run.ecd_names)
    names = [e["metadata"]["name"] for e in ecds]
    now = datetime.now(UTC)
    # preflight's estimate, learned from the past copies (or the fixed fallback)
    estimate = (
        run.window_estimate
        or fixed(window.expected_backup_minutes, "no estimate in the run's settings").record()
    )
    reason = refusal(
        window.external_suspend_from,
        window.external_suspend_until,
        now,
        timedelta(seconds=round(estimate["seconds"])),
        selection.running(run.namespace, names),
        basis=estimate["basis"],
    )
    if reason:
        raise PermanentFailure(f"external cold window: {reason}; nothing was backed up")
    log.info(
        "Inside the platform's suspension window; all %d ECD(s) stopped; the backup needs about %s",
        len(names),
        describe(estimate),
    )
    _, until = current_window(window.external_suspend_from, window.external_suspend_until, now)
    # What the window's close is judged against (EcdResumeOperator): the same ECDs,
    # still stopped and unchanged, and the copies complete before ``until``.
    return {
        "window_start": now.isoformat(),
        "stopped": names,
        "ecds": mark(ecds),
        "mode": "external",
        "until": until.isoformat(),
        "namespace": run.namespace,
        "label_selector": run.ecd_label_selector,
        "names": run.ecd_names,
    }


def verify(
    settings: Mapping[str, Any],
    records: Mapping[str, Any],
    window: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Verify the set as AWS and Kubernetes describe it now; fail naming every failed check.

    ``window`` is the cold window's verdict at its close (``EcdResumeOperator``).
    Every artifact is marked with the outcome (``set_marks``), passed or not, so
    the planner can tell a verified set from one that is not. Returns the
    verification and the artifacts' manifest records, so the manifest is built
    from exactly what was verified.
    """
    run = BackupRunSettings.model_validate(settings)
    backup_set = BackupSet.parse(run.backup_set)
    found = read_artifacts(settings, records)
    missing = not_found(records, found)
    if missing:
        raise PermanentFailure(f"verification failed: artifacts not found: {sorted(missing)}")
    verification = verify_set(
        backup_set,
        rds_snapshot=found["rds_snapshot"],
        recovery_point=found["recovery_point"],
        recovery_point_tags=found["recovery_point_tags"],
        memorydb_snapshot=found["memorydb_snapshot"],
        memorydb_tags=found["memorydb_tags"],
        velero_backup=found["velero_backup"],
        datasync_execution=found["datasync_execution"],
        allow_velero_partially_failed=run.velero_allow_partially_failed,
        rds_snapshot_copy=found["rds_snapshot_copy"],
        recovery_point_copy=found["recovery_point_copy"],
        recovery_point_copy_tags=found["recovery_point_copy_tags"],
        memorydb_copy=found["memorydb_copy"],
        cold_window=window,
        window_required=run.cold_window in ("managed", "external"),
    )
    log_checks(verification)
    window_state = (window or {}).get("state") or (
        UNPROVEN if run.cold_window in ("managed", "external") else NO_WINDOW
    )
    mark_set(run, found, verification["result"], window_state, records)
    if verification["result"] != "passed":
        raise PermanentFailure(failure_message(verification))
    return {**verification, "artifacts": manifest_artifacts(found, run.copy_region, records)}


def log_checks(verification: Mapping[str, Any]) -> None:
    """Each check of a verdict, PASS or FAIL with its detail, in the task log."""
    for c in verification["checks"]:
        log.info("%s %s: %s", "PASS" if c["ok"] else "FAIL", c["check"], c["detail"])


def manifest_key(run: BackupRunSettings) -> str:
    """The manifest's key, in the home bucket and in the protected account's alike."""
    return f"{run.manifest_prefix}{BackupSet.parse(run.backup_set).manifest_key}"


def store_manifest(settings: Mapping[str, Any], manifest: Mapping[str, Any]) -> str:
    """Write (or rewrite) the set's manifest in the home bucket; returns its location."""
    run = BackupRunSettings.model_validate(settings)
    key = manifest_key(run)
    settings_hook(S3Hook, settings).load_string(
        stored_json(manifest),
        key=key,
        bucket_name=run.manifest_bucket,
        replace=True,
    )
    return f"s3://{run.manifest_bucket}/{key}"


# Which described artifact answers for each record kind.
FOUND_AS = {
    "rds": "rds_snapshot",
    "efs": "recovery_point",
    "memorydb": "memorydb_snapshot",
    "velero": "velero_backup",
    "datasync": "datasync_execution",
    "rds_copy": "rds_snapshot_copy",
    "efs_copy": "recovery_point_copy",
    "memorydb_copy": "memorydb_copy",
    "rds_backup_job": "rds_recovery_point",
    "efs_immutable": "efs_immutable_job",
    "rds_immutable": "rds_immutable_job",
    "memorydb_immutable": "memorydb_immutable",
}


def not_found(records: Mapping[str, Any], found: Mapping[str, Any]) -> list[str]:
    """The records whose artifact AWS or Kubernetes does not know (any more)."""
    return sorted(kind for kind, record in records.items() if record and not found[FOUND_AS[kind]])


def manifest_artifacts(
    found: Mapping[str, Any],
    copy_region: str | None = None,
    records: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest's artifact records from the described artifacts (cross-region copies
    included; the protected copies are recorded by ``locked_verdict``)."""
    artifacts = {**home_artifacts(found), **copy_artifacts(found, copy_region, records or {})}
    copied = (records or {}).get("datasync") or {}
    if artifacts.get("datasync_execution") and copied.get("folder"):
        # where the set's copy is: its own folder on the target file system
        artifacts["datasync_execution"] = {
            **artifacts["datasync_execution"],
            "target_file_system_id": copied.get("target_file_system_id"),
            "folder": copied["folder"],
            "task_arn": copied.get("task_arn"),
        }
    return artifacts


def copy_artifacts(
    found: Mapping[str, Any], copy_region: str | None, records: Mapping[str, Any]
) -> dict[str, Any]:
    """The cross-region copies' records (in ``copy_region``): id/arn, point in time, state, size."""
    region = copy_region
    rp, job = found.get("recovery_point_copy"), found.get("copy_job") or {}
    memorydb = records.get("memorydb_copy")
    copied_files = found.get("memorydb_copy") or []
    return {
        "rds_snapshot_copy": rds_copy_record(found["rds_snapshot_copy"], region)
        if found.get("rds_snapshot_copy")
        else None,
        "efs_recovery_point_copy": {
            "id": rp["RecoveryPointArn"],
            "arn": rp["RecoveryPointArn"],
            "time": rp["CreationDate"].isoformat(),
            "state": rp["Status"],
            "size_bytes": rp.get("BackupSizeInBytes") or job.get("BackupSizeInBytes"),
            "vault": rp.get("BackupVaultName"),
            "region": region,
            "copy_job_id": job.get("CopyJobId"),
        }
        if rp
        else None,
        "memorydb_snapshot_copy": {
            **memorydb,
            "size_bytes": sum(int(o.get("ContentLength") or 0) for o in copied_files)
            or memorydb.get("size_bytes"),
        }
        if memorydb
        else None,
    }


def backup_recovery_point_record(
    rp: Mapping[str, Any] | None, job: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """An AWS Backup recovery point's manifest record (the EFS one, the database's)."""
    if not rp:
        return None
    return {
        "id": rp["RecoveryPointArn"],
        "arn": rp["RecoveryPointArn"],
        "time": rp["CreationDate"].isoformat(),
        "state": rp["Status"],
        "size_bytes": rp.get("BackupSizeInBytes") or (job or {}).get("BackupSizeInBytes"),
        "backup_job_id": (job or {}).get("BackupJobId"),
        "vault": rp.get("BackupVaultName"),
    }


def home_artifacts(found: Mapping[str, Any]) -> dict[str, Any]:
    """The records of the artifacts in the home region."""
    rp, job = found.get("recovery_point"), found.get("backup_job")
    execution, velero = found.get("datasync_execution"), found.get("velero_backup")
    return {
        "rds_snapshot": rds_snapshot_record(found["rds_snapshot"])
        if found.get("rds_snapshot")
        else None,
        "efs_recovery_point": backup_recovery_point_record(rp, job),
        "datasync_execution": {
            "id": execution["TaskExecutionArn"],
            "time": execution["StartTime"].isoformat() if execution.get("StartTime") else None,
            "state": execution["Status"],
            "size_bytes": execution.get("BytesTransferred"),
        }
        if execution
        else None,
        "memorydb_snapshot": memorydb_snapshot_record(found["memorydb_snapshot"])
        if found.get("memorydb_snapshot")
        else None,
        "velero_backup": {
            "id": velero["metadata"]["name"],
            "time": (velero.get("status") or {}).get("startTimestamp"),
            "state": (velero.get("status") or {}).get("phase"),
        }
        if velero
        else None,
    }


def write_manifest(
    settings: Mapping[str, Any],
    verified: Mapping[str, Any],
    window: Mapping[str, Any] | None,
    run_id: str,
) -> dict[str, Any]:
    """Build the manifest from the verified artifacts, write it to S3 and return it."""
    run = BackupRunSettings.model_validate(settings)
    backup_set = BackupSet.parse(run.backup_set, run_id=run_id)
    memorydb_first = False
    if run.memorydb_cluster:
        hook = settings_hook(MemoryDbHook, settings)
        memorydb_first = len(hook.list_snapshots(run.memorydb_cluster)) <= 1
    manifest = build_manifest(
        backup_set,
        verified["artifacts"],
        prices=PricesConfig(**run.prices),
        cold_window={**window, "estimate": run.window_estimate} if window else None,
        verification={k: v for k, v in verified.items() if k != "artifacts"},
        memorydb_first_snapshot=memorydb_first,
        created_at=datetime.now(UTC),
        network=live_network(settings),
    )
    manifest["location"] = store_manifest(settings, manifest)
    log.info("Backup set %s\n%s", backup_set.id, summary_table(manifest))
    log.info("Manifest written to %s", manifest["location"])
    return manifest
