"""The protected copies' own verdict, after the home set's manifest (issue 17).

``verify`` judges the installation's own backup set; its verdict marks those
artifacts, and the manifest and the RPO metric follow it. The copies in the
protected account (the locked vault's, MemoryDB's locked ``.rdb`` files) are
judged here, after the manifest, so a locked copy that failed fails the run
loudly (naming every failed check) without hiding the night's good home set
from the planner and the RPO guard.

Whatever the verdict, the home manifest is rewritten with the protected copies'
records and their verdict (``locked_verification``): the operator reads there what
was and was not protected, and what it costs. Only a passed verdict lets ``lock_manifest`` lock the
manifest, which is what makes the set restorable from the protected copies.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ue_backup.backup_set import BackupSet
from ue_backup.compat import AirflowSkipException
from ue_backup.errors import PermanentFailure
from ue_backup.inventory import LOCKED, read_artifacts
from ue_backup.manifest import with_locked_copies
from ue_backup.planning import to_utc
from ue_backup.run_settings import BackupRunSettings
from ue_backup.tasks.backup_steps import (
    backup_recovery_point_record,
    log_checks,
    not_found,
    store_manifest,
)
from ue_backup.verify import failure_message
from ue_backup.verify_locked import verify_locked_set

log = logging.getLogger(__name__)

# The home set's sources of the locked copies, read again to compare each copy with.
SOURCES = ("efs", "memorydb")
# What the protected copies' tasks return, by record kind (read_artifacts' keys).
LOCKED_RECORDS = ("rds_backup_job", "efs_immutable", "rds_immutable", "memorydb_immutable")


def expected_copies(run: BackupRunSettings) -> list[str]:
    """The locked copies this run was to make."""
    wanted = {
        "efs": run.copy_efs_immutable,
        "rds": run.copy_rds_immutable,
        "memorydb": run.copy_memorydb_immutable,
    }
    return [what for what, yes in wanted.items() if yes]


def verify_locked(
    settings: Mapping[str, Any], records: Mapping[str, Any], manifest: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Judge the protected copies, record them in the home manifest, fail on any failed check.

    ``records``: what the home set's disk and cache tasks and the locked copies'
    tasks returned (None for a task that failed or was skipped); ``manifest``: what
    ``write_manifest`` returned (None: the home set was not verified, and there is
    nothing to complete). Returns the manifest with the protected copies, for
    ``lock_manifest``.
    """
    if not manifest:
        raise AirflowSkipException(
            "the home set has no manifest (its verification or manifest failed): the "
            "protected copies are not judged, and no manifest is locked"
        )
    run = BackupRunSettings.model_validate(settings)
    backup_set = BackupSet.parse(run.backup_set)
    wanted = {kind: records.get(kind) for kind in (*SOURCES, *LOCKED_RECORDS)}
    found = read_artifacts(settings, wanted)
    verification = verify_locked_set(
        backup_set,
        expected=expected_copies(run),
        recovery_point=found["recovery_point"],
        memorydb_snapshot=found["memorydb_snapshot"],
        rds_backup_job=found["rds_backup_job"],
        rds_recovery_point=found["rds_recovery_point"],
        rds_recovery_point_tags=found["rds_recovery_point_tags"],
        rds_recovery_point_snapshot=found["rds_recovery_point_snapshot"],
        immutable_copies=locked_copies(found),
        immutable_vault=found["immutable_vault"],
        immutable_lifecycle=run.immutable_lifecycle,
        immutable_account=run.immutable_account,
        memorydb_immutable=found["memorydb_immutable"],
        not_found=not_found({k: wanted[k] for k in LOCKED_RECORDS}, found),
    )
    log_checks(verification)
    completed = with_locked_copies(
        manifest, locked_artifacts(found, records.get("memorydb_immutable")), verification
    )
    location = store_manifest(settings, completed)
    log.info("Manifest %s now records the protected copies (%s)", location, verification["result"])
    if verification["result"] != "passed":
        raise PermanentFailure(
            failure_message(verification, "verification of the copies in the protected account")
            + f"\nThe home set {backup_set.id} is verified and restorable; it is NOT "
            "restorable from the protected copies, and its manifest is not locked."
        )
    return {**completed, "location": manifest.get("location")}


def locked_copies(found: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """What was copied into the locked vault: ``{what: {"job", "point"}}``."""
    return {
        what: {"job": found[f"{what}_immutable_job"], "point": found[f"{what}_immutable_point"]}
        for what in LOCKED
        if found.get(f"{what}_immutable_job")
    }


def locked_artifacts(
    found: Mapping[str, Any], memorydb_record: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The manifest records of the protected copies and of the database's AWS Backup
    point they were copied from (in the home vault; retention deletes it by its tags)."""
    return {
        "rds_recovery_point": database_point_record(
            backup_recovery_point_record(
                found.get("rds_recovery_point"), found.get("rds_backup_job")
            ),
            found.get("rds_recovery_point_snapshot"),
        ),
        **{
            f"{KIND_OF_LOCKED[what]}_immutable": database_point_record(
                immutable_record(
                    found.get(f"{what}_immutable_job"), found.get(f"{what}_immutable_point")
                ),
                found.get("rds_recovery_point_snapshot") if what == "rds" else None,
            )
            for what in LOCKED
        },
        "memorydb_snapshot_immutable": locked_rdb_record(
            memorydb_record, found.get("memorydb_immutable")
        ),
    }


def locked_rdb_record(
    record: Mapping[str, Any] | None, files: list[Mapping[str, Any]] | None
) -> dict[str, Any] | None:
    """MemoryDB's locked copy (``lock_memorydb_immutable``'s record), its size and each
    file's retain-until date as verify read them back through the protected account."""
    if not record:
        return None
    read = {(f["Key"], f.get("VersionId")): f for f in files or ()}
    locked = []
    for file in record.get("files") or ():
        found = read.get((file["key"], file["version_id"])) or {}
        until = (found.get("Retention") or {}).get("RetainUntilDate")
        locked.append(
            {
                **file,
                "size_bytes": found.get("ContentLength", file.get("size_bytes")),
                "locked_until": until.isoformat() if until else file.get("locked_until"),
            }
        )
    return {
        **record,
        "files": locked,
        "size_bytes": sum(int(f["size_bytes"] or 0) for f in locked) or record.get("size_bytes"),
        "locked_until": min((f["locked_until"] for f in locked), default=None),
    }


# The manifest's kind of each locked copy's source (its copy adds "_immutable").
KIND_OF_LOCKED = {"efs": "efs_recovery_point", "rds": "rds_recovery_point"}


def immutable_record(
    job: Mapping[str, Any] | None, point: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """The locked copy's record: the copy job that made it, and the copy as the protected
    account describes it (its point in time, and the date before which nobody deletes it)."""
    if not job:
        return None
    delete_at = ((point or {}).get("CalculatedLifecycle") or {}).get("DeleteAt")
    created = (point or {}).get("CreationDate")
    vault_arn = job.get("DestinationBackupVaultArn") or ""
    # arn:<partition>:backup:<region>:<account>:backup-vault:<name>
    parts = vault_arn.split(":") if vault_arn.count(":") >= 5 else [None] * 5
    return {
        "id": job.get("DestinationRecoveryPointArn"),
        "arn": job.get("DestinationRecoveryPointArn"),
        "state": job.get("State"),
        "size_bytes": job.get("BackupSizeInBytes"),
        "vault_arn": vault_arn,
        "account": parts[4],
        "region": parts[3],
        "retention_days": (job.get("DestinationRecoveryPointLifecycle") or {}).get(
            "DeleteAfterDays"
        ),
        "copy_job_id": job.get("CopyJobId"),
        "time": created.isoformat() if created else None,
        "locked_until": delete_at.isoformat() if delete_at else None,
    }


def database_point_record(
    record: dict[str, Any] | None, snapshot: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The database's AWS Backup record (its point, or that point's locked copy) with its
    ``time`` the moment RDS took the snapshot behind it (``SnapshotCreateTime``), not the
    job's: RDS takes it once the instance is free, and rule 1 is judged by that moment
    (``database_point``). The job's or copy's own date stays as ``job_time``."""
    taken = (snapshot or {}).get("SnapshotCreateTime")
    if not record or taken is None:
        return record
    return {**record, "job_time": record.get("time"), "time": to_utc(taken).isoformat()}
