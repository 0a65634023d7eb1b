"""AWS Backup for EFS and RDS, which moto lacks: the jobs and recovery points of an account
and region.

The state hangs off moto's ``BackupBackend`` (so moto's reset forgets it) and
uses moto's vaults and tagging; the start calls check their input the way
AWS does before anything is created. The jobs themselves are in
``backup_jobs``, the recovery points in ``recovery_points``, what an RDS job
does in RDS in ``backup_rds``.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from typing import Any

from moto.backup.models import BackupBackend, Vault, backup_backends

from sandbox.aws import backup_rds, efs
from sandbox.aws.backup_jobs import BackupJob, CopyJob, RestoreJob
from sandbox.aws.context import current, existing_states, state_of
from sandbox.aws.errors import AwsError
from sandbox.aws.files import copy_tree
from sandbox.aws.progress import Progress
from sandbox.aws.recovery_points import RecoveryPoint, new_id


def backup_store(backend: BackupBackend) -> BackupStore:
    return state_of(backend, BackupStore)


def settle_all() -> None:
    """Do the file work of every job, in every account and region, that has ended."""
    with current().lock:
        for store in existing_states(backup_backends):
            store.settle()


class BackupStore:
    """Jobs and recovery points of one account and region."""

    def __init__(self, backend: BackupBackend) -> None:
        self.backend = backend
        self.account = backend.account_id
        self.region = backend.region_name
        self.points: dict[str, RecoveryPoint] = {}
        self.backup_jobs: dict[str, BackupJob] = {}
        self.restore_jobs: dict[str, RestoreJob] = {}
        self.copy_jobs: dict[str, CopyJob] = {}
        self.by_token: dict[tuple[str, str], Any] = {}
        self.access_policies: dict[str, str] = {}

    def settle(self) -> None:
        for jobs in (self.backup_jobs, self.copy_jobs, self.restore_jobs):
            for job in list(jobs.values()):
                job.settle()

    # --- recovery points -------------------------------------------------------------

    def vault(self, name: str) -> Vault:
        vault = self.backend.vaults.get(name)
        if vault is None:
            raise AwsError("ResourceNotFoundException", f"Backup vault {name} does not exist.")
        return vault

    def point(self, arn: str, vault_name: str | None = None) -> RecoveryPoint:
        point = self.points.get(arn)
        if point is None or (vault_name and point.vault.backup_vault_name != vault_name):
            raise AwsError("ResourceNotFoundException", f"Recovery point {arn} not found.")
        return point

    def add(self, point: RecoveryPoint, tags: dict[str, str] | None) -> None:
        self.points[point.arn] = point
        point.vault.num_of_recovery_points += 1
        if tags:
            self.backend.tag_resource(point.arn, tags)

    def discard(self, point: RecoveryPoint) -> None:
        if self.points.pop(point.arn, None) is not None:
            point.vault.num_of_recovery_points -= 1
        self.backend.tagger.delete_all_tags_for_resource(point.arn)
        if point.resource_type == backup_rds.RESOURCE_TYPE:
            backup_rds.delete_snapshot(point.arn)
        shutil.rmtree(point.path, ignore_errors=True)

    def tags_of(self, point: RecoveryPoint) -> dict[str, str]:
        return self.backend.list_tags(point.arn)

    def points_in_vault(
        self, vault_name: str, resource_arn: str | None = None, resource_type: str | None = None
    ) -> list[RecoveryPoint]:
        self.vault(vault_name)
        return [
            point
            for point in self.points.values()
            if point.vault.backup_vault_name == vault_name
            and resource_arn in (None, point.resource_arn)
            and resource_type in (None, point.resource_type)
        ]

    def points_of_resource(self, resource_arn: str) -> list[RecoveryPoint]:
        return [point for point in self.points.values() if point.resource_arn == resource_arn]

    def put_access_policy(self, vault_name: str, policy: str | None) -> None:
        self.vault(vault_name)
        if policy is None:
            self.access_policies.pop(vault_name, None)
        else:
            self.access_policies[vault_name] = policy

    def access_policy(self, vault_name: str) -> str:
        self.vault(vault_name)
        if vault_name not in self.access_policies:
            raise AwsError(
                "ResourceNotFoundException", f"Backup vault {vault_name} has no access policy."
            )
        return self.access_policies[vault_name]

    def lets_copy_in(self, vault_name: str, account: str) -> bool:
        """Whether the vault's access policy allows ``backup:CopyIntoBackupVault`` from
        ``account``: an Allow naming the account (its id or its root) or any principal,
        and no Deny doing so (an explicit Deny wins, as IAM evaluates). Conditions such as
        ``aws:PrincipalOrgID`` are taken as met. Modelled by hand: AWS's examples grant
        the source account's root; a principal naming one role of the account is not
        taken to admit the account's copies (the unkinder reading)."""
        try:
            document = json.loads(self.access_policies.get(vault_name) or "{}")
        except ValueError:
            return False
        statements = document.get("Statement") or []
        naming = [
            statement
            for statement in (statements if isinstance(statements, list) else [statements])
            if _names_copy_in(statement, account)
        ]
        if any(statement.get("Effect") == "Deny" for statement in naming):
            return False
        return any(statement.get("Effect") == "Allow" for statement in naming)

    def delete_point(self, vault_name: str, arn: str) -> None:
        point = self.point(arn, vault_name)
        if point.status == "CREATING":
            raise AwsError(
                "InvalidResourceStateException",
                "Recovery point cannot be deleted while its backup job is running.",
            )
        if point.vault.locked:
            # Vault Lock: no recovery point of a locked vault is deleted before its
            # retention ends, by anyone (the account's root included).
            delete_at = (point.described().get("CalculatedLifecycle") or {}).get("DeleteAt")
            if delete_at is None or delete_at > datetime.now(UTC):
                raise AwsError(
                    "InvalidRequestException",
                    f"Recovery point {arn} is in the locked vault {vault_name} and cannot be "
                    f"deleted before {delete_at or 'its retention ends'}.",
                )
        self.discard(point)

    # --- jobs --------------------------------------------------------------------------

    def _remembered(self, operation: str, token: str | None) -> Any:
        return self.by_token.get((operation, token)) if token else None

    def _remember(self, operation: str, token: str | None, job: Any) -> None:
        if token:
            self.by_token[(operation, token)] = job

    def start_backup_job(self, params: dict[str, Any], target: str) -> BackupJob:
        token = params.get("IdempotencyToken")
        known = self._remembered("StartBackupJob", token)
        if known is not None:
            return known
        vault = self.vault(params["BackupVaultName"])
        resource_arn = params["ResourceArn"]
        if backup_rds.is_rds(resource_arn):
            return self._start_rds_backup_job(vault, params, target)
        self._check_efs_resource(resource_arn)
        _check_windows(params)
        _check_lifecycle(params.get("Lifecycle"))
        point = RecoveryPoint(vault, resource_arn, params["IamRoleArn"], params.get("Lifecycle"))
        file_system = efs.find_file_system(
            self.account, self.region, efs.file_system_id(resource_arn)
        )
        point.restore_metadata = {
            "file-system-id": file_system.file_system_id,
            "Encrypted": "true" if file_system.encrypted else "false",
            "PerformanceMode": file_system.performance_mode,
            "CreationToken": file_system.creation_token,
            "newFileSystem": "false",
        }
        progress = Progress.begin(
            "backup", "StartBackupJob", target, current().durations.backup_job
        )
        point.creation_date = progress.started_at
        copy_tree(current().files.file_system(file_system.file_system_id), point.path)
        job = BackupJob(self, point, progress, params.get("StartWindowMinutes"))
        self.add(point, params.get("RecoveryPointTags"))
        self.backup_jobs[job.id] = job
        self._remember("StartBackupJob", token, job)
        return job

    def record_past_job(
        self,
        vault_name: str,
        resource_arn: str,
        iam_role_arn: str,
        created: datetime,
        seconds: float,
        size_bytes: int,
        keep_point: bool = False,
    ) -> BackupJob:
        """A backup job that ran and completed before the test began (a job history).

        Only the job is kept, as AWS keeps a job's record after its recovery point has
        expired: its point joins no vault and holds no files, so nothing restores or
        deletes it; ``ListBackupJobs`` and ``DescribeBackupJob`` report it. With
        ``keep_point`` its point is still in the vault (listed, with no files): a point
        retention has not yet expired.
        """
        vault = self.vault(vault_name)
        point = RecoveryPoint(vault, resource_arn, iam_role_arn, None)
        point.creation_date = created
        progress = Progress(created.timestamp(), seconds)
        point.complete(progress.finished_at or created, "COMPLETED", size_bytes)
        job = BackupJob(self, point, progress, None)
        job.outcome = "COMPLETED"  # settled: ``finish`` would copy files it never had
        self.backup_jobs[job.id] = job
        if keep_point:
            self.add(point, None)
        return job

    def _start_rds_backup_job(self, vault: Vault, params: dict[str, Any], target: str) -> BackupJob:
        """An RDS instance's backup: its snapshot, taken now, is the recovery point."""
        resource_arn = params["ResourceArn"]
        instance = backup_rds.instance_to_back_up(self.account, self.region, resource_arn)
        _check_windows(params)
        _check_lifecycle(params.get("Lifecycle"))
        delay = backup_rds.busy_for(instance)  # the job waits for the instance's own snapshot
        progress = Progress.begin(
            "backup", "StartBackupJob", target, delay + current().durations.backup_job
        )
        job_id = new_id().lower()
        snapshot = backup_rds.take_snapshot(instance, job_id, progress, delay)
        point = RecoveryPoint(
            vault,
            instance.db_instance_arn,
            params["IamRoleArn"],
            params.get("Lifecycle"),
            point_id=job_id,
            resource_type=backup_rds.RESOURCE_TYPE,
            arn=snapshot.db_snapshot_arn,
        )
        point.creation_date = progress.started_at
        point.restore_metadata = backup_rds.restore_metadata(instance)
        job = BackupJob(self, point, progress, params.get("StartWindowMinutes"), job_id)
        self.add(point, params.get("RecoveryPointTags"))
        self.backup_jobs[job.id] = job
        self._remember("StartBackupJob", params.get("IdempotencyToken"), job)
        return job

    def _check_efs_resource(self, resource_arn: str) -> None:
        parts = resource_arn.split(":", 5)
        if len(parts) != 6 or parts[2] != "elasticfilesystem" or "file-system/" not in parts[5]:
            raise AwsError(
                "InvalidParameterValueException",
                f"Invalid resource ARN {resource_arn}: the sandbox backs up EFS file systems "
                "and RDS DB instances only.",
            )
        fs_id = efs.file_system_id(resource_arn)
        if (parts[3], parts[4]) != (self.region, self.account) or not efs.find_file_system(
            self.account, self.region, fs_id
        ):
            raise AwsError("ResourceNotFoundException", f"Resource {resource_arn} not found.")

    def backup_job(self, job_id: str) -> BackupJob:
        job = self.backup_jobs.get(job_id)
        if job is None:
            raise AwsError("ResourceNotFoundException", f"Backup job {job_id} not found.")
        return job

    def list_backup_jobs(self, params: dict[str, Any]) -> list[BackupJob]:
        before, after = _utc(params.get("ByCreatedBefore")), _utc(params.get("ByCreatedAfter"))

        def keep(job: BackupJob) -> bool:
            created = job.progress.started_at
            return (
                params.get("ByResourceArn") in (None, job.point.resource_arn)
                and params.get("ByState") in (None, job.state)
                and params.get("ByBackupVaultName") in (None, job.point.vault.backup_vault_name)
                and params.get("ByResourceType") in (None, job.point.resource_type)
                and (before is None or created < before)
                and (after is None or created > after)
            )

        return [job for job in self.backup_jobs.values() if keep(job)]

    def start_restore_job(self, params: dict[str, Any], target: str) -> RestoreJob:
        token = params.get("IdempotencyToken")
        known = self._remembered("StartRestoreJob", token)
        if known is not None:
            return known
        point = self.point(params["RecoveryPointArn"])
        if point.status not in ("COMPLETED", "PARTIAL"):
            raise AwsError(
                "InvalidRequestException", f"Recovery point {point.arn} is {point.status}."
            )
        metadata = dict(params["Metadata"])
        if point.resource_type == backup_rds.RESOURCE_TYPE:
            metadata = backup_rds.normalized_metadata(metadata, point.restore_metadata)
        else:
            self._check_restore_metadata(metadata)
        progress = Progress.begin(
            "backup", "StartRestoreJob", target, current().durations.restore_job
        )
        job = RestoreJob(self, point, progress, metadata, params.get("IamRoleArn"))
        self.restore_jobs[job.id] = job
        self._remember("StartRestoreJob", token, job)
        return job

    def _check_restore_metadata(self, metadata: dict[str, str]) -> None:
        def invalid(message: str) -> AwsError:
            return AwsError("InvalidParameterValueException", message)

        for key in ("file-system-id", "newFileSystem"):
            if key not in metadata:
                raise invalid(f"Restore metadata is missing {key}.")
        if metadata["newFileSystem"] not in ("true", "false"):
            raise invalid("newFileSystem must be 'true' or 'false'.")
        if metadata.get("KmsKeyId") and metadata.get("Encrypted") != "true":
            raise invalid("Encrypted must be 'true' when KmsKeyId is given.")
        if metadata["newFileSystem"] == "false" and not efs.find_file_system(
            self.account, self.region, metadata["file-system-id"]
        ):
            raise AwsError(
                "ResourceNotFoundException", f"File system {metadata['file-system-id']} not found."
            )
        if "ItemsToRestore" in metadata:
            try:
                items = json.loads(metadata["ItemsToRestore"])
            except ValueError:
                raise invalid("ItemsToRestore must be a JSON array of paths.") from None
            if (
                not isinstance(items, list)
                or not 1 <= len(items) <= 5
                or not all(isinstance(i, str) and i.startswith("/") for i in items)
            ):
                raise invalid("ItemsToRestore must hold 1 to 5 paths starting with '/'.")

    def restore_job(self, job_id: str) -> RestoreJob:
        job = self.restore_jobs.get(job_id)
        if job is None:
            raise AwsError("ResourceNotFoundException", f"Restore job {job_id} not found.")
        return job

    def start_copy_job(self, params: dict[str, Any], target: str) -> CopyJob:
        token = params.get("IdempotencyToken")
        known = self._remembered("StartCopyJob", token)
        if known is not None:
            return known
        self.vault(params["SourceBackupVaultName"])
        point = self.point(params["RecoveryPointArn"], params["SourceBackupVaultName"])
        if point.status not in ("COMPLETED", "PARTIAL"):
            raise AwsError(
                "InvalidRequestException", f"Recovery point {point.arn} is {point.status}."
            )
        destination_arn = params["DestinationBackupVaultArn"]
        parts = destination_arn.split(":", 6)
        if len(parts) != 7 or parts[5] != "backup-vault":
            raise AwsError(
                "InvalidParameterValueException", f"Invalid vault ARN {destination_arn}."
            )
        destination = backup_store(backup_backends[parts[4]][parts[3]])
        destination_vault = destination.vault(parts[6])
        # Into another account's vault only where its access policy lets this account in
        # (AWS also needs cross-account backup enabled in the organization): else the job
        # fails, after it started, with access denied.
        denied = (
            None
            if destination.account == self.account
            or destination.lets_copy_in(parts[6], self.account)
            else (
                f"Access denied: the access policy of backup vault {parts[6]} does not allow "
                f"backup:CopyIntoBackupVault from account {self.account}."
            )
        )
        progress = Progress.begin("backup", "StartCopyJob", target, current().durations.copy_job)
        job = CopyJob(
            self,
            point,
            destination,
            destination_vault,
            progress,
            params["IamRoleArn"],
            params.get("Lifecycle"),
            denied,
        )
        self.copy_jobs[job.id] = job
        self._remember("StartCopyJob", token, job)
        return job

    def list_copy_jobs(self, params: dict[str, Any]) -> list[CopyJob]:
        """The copy jobs this account started, with ListCopyJobs' filters (one page)."""
        before, after = _utc(params.get("ByCreatedBefore")), _utc(params.get("ByCreatedAfter"))

        def keep(job: CopyJob) -> bool:
            created = job.progress.started_at
            return (
                params.get("ByResourceArn") in (None, job.point.resource_arn)
                and params.get("ByState") in (None, job.state)
                and params.get("ByResourceType") in (None, job.point.resource_type)
                and params.get("ByDestinationVaultArn")
                in (None, job.destination_vault.backup_vault_arn)
                and params.get("BySourceRecoveryPointArn") in (None, job.point.arn)
                and (before is None or created < before)
                and (after is None or created > after)
            )

        return [job for job in self.copy_jobs.values() if keep(job)]

    def copy_job(self, job_id: str) -> CopyJob:
        job = self.copy_jobs.get(job_id)
        if job is None:
            raise AwsError("ResourceNotFoundException", f"Copy job {job_id} not found.")
        return job


def _utc(moment: datetime | None) -> datetime | None:
    """moto parses query timestamps without a zone; AWS means UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _check_windows(params: dict[str, Any]) -> None:
    start = params.get("StartWindowMinutes")
    if start is not None and start < 60:
        raise AwsError(
            "InvalidParameterValueException", "StartWindowMinutes must be at least 60 minutes."
        )


def _check_lifecycle(lifecycle: dict[str, Any] | None) -> None:
    cold = (lifecycle or {}).get("MoveToColdStorageAfterDays")
    delete = (lifecycle or {}).get("DeleteAfterDays")
    if cold is not None and delete is not None and delete < cold + 90:
        raise AwsError(
            "InvalidParameterValueException",
            "DeleteAfterDays must be at least 90 days more than MoveToColdStorageAfterDays.",
        )


def _names_copy_in(statement: dict[str, Any], account: str) -> bool:
    """Whether a vault policy statement is about ``account`` copying into the vault."""
    actions = statement.get("Action") or []
    actions = actions if isinstance(actions, list) else [actions]
    principal = statement.get("Principal")
    aws = principal.get("AWS") if isinstance(principal, dict) else principal
    who = aws if isinstance(aws, list) else [aws]
    return bool(set(actions) & {"backup:CopyIntoBackupVault", "backup:*", "*"}) and any(
        w in ("*", account) or str(w).endswith(f"::{account}:root") for w in who
    )
