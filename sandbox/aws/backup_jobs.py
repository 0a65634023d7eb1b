"""AWS Backup's jobs: backups, restores and copies, each moving on its ``Progress``.

A job does its file work when first settled after it ends (the sandbox
settles before every request): a backup adds the writes made while it ran to
its recovery point, since EFS backups read the file system over time and are
not atomic, or drops the point if it failed; a restore writes into a new
``aws-backup-restore_<timestamp>/`` directory off the root of an existing or a
new file system and never overwrites anything; a copy puts a recovery point,
with its tags and the source's creation date, into the destination vault.
An RDS job does its RDS work through ``backup_rds``: the backup's snapshot is
taken at the start call, a copy makes the destination's snapshot and a restore
the new instance when the job ends.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from moto.backup.models import Vault

from sandbox.aws import backup_rds, efs
from sandbox.aws.context import current
from sandbox.aws.files import copy_changed, copy_tree
from sandbox.aws.progress import Job, Progress
from sandbox.aws.recovery_points import RecoveryPoint, new_id, present, recovery_point_arn

if TYPE_CHECKING:
    from sandbox.aws.backup import BackupStore

# The share of a job's duration each state takes: CREATED briefly, then RUNNING.
BACKUP_JOB_PHASES = ("CREATED", "RUNNING", "RUNNING", "RUNNING")
RESTORE_JOB_PHASES = ("PENDING", "RUNNING", "RUNNING", "RUNNING")
COPY_JOB_PHASES = BACKUP_JOB_PHASES
FAILED_WITHOUT_RECOVERY_POINT = ("FAILED", "ABORTED", "EXPIRED")
DEFAULT_START_WINDOW_MINUTES = 480


def restore_directory_name(at: datetime, nanoseconds: int) -> str:
    """``aws-backup-restore_2025-03-28T14-13-02-250589632Z``, the name AWS gives a restore."""
    return f"aws-backup-restore_{at:%Y-%m-%dT%H-%M-%S}-{nanoseconds:09d}Z"


class BackupJob(Job):
    running = BACKUP_JOB_PHASES

    def __init__(
        self,
        store: BackupStore,
        point: RecoveryPoint,
        progress: Progress,
        start_window_minutes: int | None,
        job_id: str | None = None,
    ) -> None:
        super().__init__(progress)
        self.id = job_id or new_id()
        self.store = store
        self.point = point
        self.start_by = progress.started_at + timedelta(
            minutes=start_window_minutes or DEFAULT_START_WINDOW_MINUTES
        )

    def finish(self) -> str:
        """The writes made while it ran join the recovery point; a failure drops the point."""
        outcome = self.progress.outcome("COMPLETED", "FAILED")
        if outcome in FAILED_WITHOUT_RECOVERY_POINT:
            self.store.discard(self.point)
            return outcome
        if self.point.resource_type == backup_rds.RESOURCE_TYPE:  # a snapshot: atomic
            self.point.complete(
                self.progress.finished_at, outcome, backup_rds.snapshot_bytes(self.point.arn)
            )
            self.point.status_message = self.progress.failure_message
            return outcome
        copy_changed(
            current().files.file_system(efs.file_system_id(self.point.resource_arn)),
            self.point.path,
            since=self.progress.started,
            until=self.progress.started + self.progress.duration,
        )
        self.point.complete(self.progress.finished_at, outcome)
        self.point.status_message = self.progress.failure_message
        return outcome

    def described(self, account: str) -> dict[str, Any]:
        point = self.point
        return present(
            {
                "AccountId": account,
                "BackupJobId": self.id,
                "BackupVaultName": point.vault.backup_vault_name,
                "BackupVaultArn": point.vault.backup_vault_arn,
                "RecoveryPointArn": point.arn,
                "RecoveryPointLifecycle": point.lifecycle,
                "ResourceArn": point.resource_arn,
                "ResourceType": point.resource_type,
                "IamRoleArn": point.iam_role_arn,
                "CreationDate": self.progress.started_at,
                "CompletionDate": self.completion_date,
                "StartBy": self.start_by,
                "State": self.state,
                "StatusMessage": self.message,
                "PercentDone": self.percent_done,
                "BackupSizeInBytes": point.size,
                "BytesTransferred": point.size,
                "IsParent": False,
            }
        )


class RestoreJob(Job):
    running = RESTORE_JOB_PHASES

    def __init__(
        self,
        store: BackupStore,
        point: RecoveryPoint,
        progress: Progress,
        metadata: dict[str, str],
        role: str | None,
    ) -> None:
        super().__init__(progress)
        self.id = new_id()
        self.store = store
        self.point = point
        self.metadata = metadata
        self.iam_role_arn = role
        self.created_resource_arn: str | None = None

    def finish(self) -> str:
        """The data lands in a new ``aws-backup-restore_`` directory of the target
        (an RDS point: in a new instance)."""
        if self.progress.will_fail:
            return self.progress.outcome("COMPLETED", "FAILED")
        if self.point.resource_type == backup_rds.RESOURCE_TYPE:
            created, failure = backup_rds.restore_instance(self.point.arn, self.metadata)
            self.created_resource_arn, self.message = created, failure
            return "FAILED" if failure else "COMPLETED"
        items = json.loads(self.metadata.get("ItemsToRestore") or "[]")
        missing = [item for item in items if not (self.point.path / item.lstrip("/")).exists()]
        if missing:
            self.message = f"Items not found in the recovery point: {', '.join(missing)}"
            return "FAILED"
        file_system = self._target_file_system()
        if file_system is None:
            self.message = f"File system {self.metadata['file-system-id']} no longer exists."
            return "FAILED"
        nanoseconds = int(self.progress.started * 1e9) % 1_000_000_000
        target = current().files.file_system(file_system.file_system_id) / (
            restore_directory_name(self.progress.started_at, nanoseconds)
        )
        if not items:
            copy_tree(self.point.path, target)
        for item in items:
            source = self.point.path / item.lstrip("/")
            destination = target / item.lstrip("/")
            if source.is_dir():
                copy_tree(source, destination)
            else:
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)
        self.created_resource_arn = file_system.file_system_arn
        return "COMPLETED"

    def _target_file_system(self) -> Any:
        account, region = self.store.account, self.store.region
        if self.metadata["newFileSystem"] == "true":
            return efs.create_file_system(
                account,
                region,
                self.metadata.get("CreationToken") or new_id(),
                performance_mode=self.metadata.get("PerformanceMode", "generalPurpose"),
                encrypted=self.metadata.get("Encrypted") == "true",
                kms_key_id=self.metadata.get("KmsKeyId"),
            )
        return efs.find_file_system(account, region, self.metadata["file-system-id"])

    def described(self, account: str) -> dict[str, Any]:
        return present(
            {
                "AccountId": account,
                "RestoreJobId": self.id,
                "RecoveryPointArn": self.point.arn,
                "RecoveryPointCreationDate": self.point.creation_date,
                "SourceResourceArn": self.point.resource_arn,
                "BackupVaultArn": self.point.vault.backup_vault_arn,
                "CreationDate": self.progress.started_at,
                "CompletionDate": self.completion_date,
                "Status": self.state,
                "StatusMessage": self.message,
                "PercentDone": self.percent_done,
                "BackupSizeInBytes": self.point.size,
                "IamRoleArn": self.iam_role_arn,
                "CreatedResourceArn": self.created_resource_arn,
                "ResourceType": self.point.resource_type,
                "IsParent": False,
            }
        )


class CopyJob(Job):
    running = COPY_JOB_PHASES

    def __init__(
        self,
        store: BackupStore,
        point: RecoveryPoint,
        destination: BackupStore,
        destination_vault: Vault,
        progress: Progress,
        role: str,
        lifecycle: dict[str, Any] | None,
        denied: str | None = None,
    ) -> None:
        super().__init__(progress)
        rds = point.resource_type == backup_rds.RESOURCE_TYPE
        self.id = new_id().lower() if rds else new_id()
        self.store = store
        self.point = point
        self.denied = denied
        self.destination = destination
        self.destination_vault = destination_vault
        self.destination_point_arn = (
            backup_rds.copy_arn(destination.region, destination.account, self.id)
            if rds
            else recovery_point_arn(destination_vault, new_id())
        )
        self.iam_role_arn = role
        self.lifecycle = lifecycle or point.lifecycle

    def finish(self) -> str:
        """The destination vault gets a recovery point with the same data and tags."""
        if self.progress.will_fail:
            return self.progress.outcome("COMPLETED", "FAILED")
        rds = self.point.resource_type == backup_rds.RESOURCE_TYPE
        refused = self.denied or vault_lock_refuses(self.destination_vault, self.lifecycle)
        key = self.destination_vault.encryption_key_arn
        cross_account = self.destination.account != self.store.account
        if not refused and rds:  # the keys a copy to another account needs (AWS Backup's rules)
            refused = backup_rds.cross_account_key_refusal(
                self.point.arn, self.store.account, self.destination.account, key
            )
        if not refused and rds:  # the destination's snapshot, in its account
            refused = backup_rds.copy_snapshot(
                self.point.arn, self.destination_point_arn, key if cross_account else None
            )
        if refused:
            self.message = refused
            return "FAILED"
        copy = RecoveryPoint(
            self.destination_vault,
            self.point.resource_arn,
            self.iam_role_arn,
            self.lifecycle,
            source_vault_arn=self.point.vault.backup_vault_arn,
            point_id=self.id if rds else self.destination_point_arn.rsplit(":", 1)[-1],
            resource_type=self.point.resource_type,
            arn=self.destination_point_arn,
        )
        # AWS: "copies retain their source configuration, including creation dates".
        copy.creation_date = self.point.creation_date
        copy.restore_metadata = dict(self.point.restore_metadata)
        if not rds:
            copy_tree(self.point.path, copy.path)
        copy.complete(self.progress.finished_at, size=self.point.size if rds else None)
        self.destination.add(copy, self.store.tags_of(self.point))
        return "COMPLETED"

    def described(self, account: str) -> dict[str, Any]:
        return present(
            {
                "AccountId": account,
                "CopyJobId": self.id,
                "SourceBackupVaultArn": self.point.vault.backup_vault_arn,
                "SourceRecoveryPointArn": self.point.arn,
                "DestinationBackupVaultArn": self.destination_vault.backup_vault_arn,
                "DestinationRecoveryPointArn": self.destination_point_arn,
                "DestinationRecoveryPointLifecycle": self.lifecycle,
                "ResourceArn": self.point.resource_arn,
                "ResourceType": self.point.resource_type,
                "CreationDate": self.progress.started_at,
                "CompletionDate": self.completion_date,
                "State": self.state,
                "StatusMessage": self.message,
                "BackupSizeInBytes": self.point.size,
                "IamRoleArn": self.iam_role_arn,
                "IsParent": False,
            }
        )


def vault_lock_refuses(vault: Vault, lifecycle: dict[str, Any] | None) -> str | None:
    """Why a locked vault fails a copy into it (None: it does not).

    AWS Backup: with ``MinRetentionDays`` set, "any backup or copy job to the vault
    must have a lifecycle policy with a retention period equal to or longer than the
    minimum retention period", else the vault fails the job; ``MaxRetentionDays``
    bounds it from above.
    """
    if not vault.locked:
        return None
    days = (lifecycle or {}).get("DeleteAfterDays")
    least, most = vault.min_retention_days, vault.max_retention_days
    if least is not None and (days is None or days < least):
        return (
            f"The retention period of the job ({days or 'none'}) is shorter than the minimum "
            f"retention period of the locked vault ({least} days)."
        )
    if most is not None and (days is None or days > most):
        return (
            f"The retention period of the job ({days or 'none'}) is longer than the maximum "
            f"retention period of the locked vault ({most} days)."
        )
    return None
