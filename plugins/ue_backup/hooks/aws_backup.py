"""AWS Backup: on-demand EFS backup jobs, restores and cross-region copies.

The provider has no AWS Backup hook. This one owns the ``backup`` client and
the waiters in ``waiters/backup.json`` (AWS ships none), and turns a failed
job into a message that carries AWS's own ``StatusMessage``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from ue_backup.aws import RetryingHookMixin
from ue_backup.waiters import CustomWaitersMixin

# Terminal states per job kind; anything else is still running.
BACKUP_JOB_FAILED = ("FAILED", "ABORTED", "EXPIRED", "PARTIAL")
COPY_JOB_FAILED = ("FAILED", "ABORTED", "PARTIAL")


class AwsBackupHook(RetryingHookMixin, CustomWaitersMixin, AwsBaseHook):
    """Interact with AWS Backup through the ``backup`` boto3 client."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "backup"
        super().__init__(*args, **kwargs)

    # --- backup jobs ------------------------------------------------------------

    def start_backup_job(
        self,
        *,
        vault_name: str,
        resource_arn: str,
        iam_role_arn: str,
        idempotency_token: str,
        recovery_point_tags: dict[str, str],
        lifecycle: dict[str, int] | None = None,
        complete_window_minutes: int | None = None,
    ) -> dict[str, Any]:
        """Start (or, with the same token, find again) an on-demand backup job."""
        kwargs: dict[str, Any] = {
            "BackupVaultName": vault_name,
            "ResourceArn": resource_arn,
            "IamRoleArn": iam_role_arn,
            "IdempotencyToken": idempotency_token,
            "RecoveryPointTags": recovery_point_tags,
        }
        if lifecycle:
            kwargs["Lifecycle"] = lifecycle
        if complete_window_minutes:
            kwargs["CompleteWindowMinutes"] = complete_window_minutes
        return self.conn.start_backup_job(**kwargs)

    def describe_backup_job(self, job_id: str) -> dict[str, Any]:
        return self.conn.describe_backup_job(BackupJobId=job_id)

    def completed_backup_jobs(self, resource_arn: str, created_after: datetime) -> list[dict]:
        """Every COMPLETED backup job of ``resource_arn`` created after ``created_after``.

        What the cold window's estimate learns from (``window_estimate``): AWS
        filters by resource, state and creation (``ByResourceArn``, ``ByState``,
        ``ByCreatedAfter``), every page is read.
        """
        pages = self.conn.get_paginator("list_backup_jobs").paginate(
            ByResourceArn=resource_arn, ByState="COMPLETED", ByCreatedAfter=created_after
        )
        return [job for page in pages for job in page["BackupJobs"]]

    # --- recovery points ------------------------------------------------------

    def describe_recovery_point(self, vault_name: str, recovery_point_arn: str) -> dict[str, Any]:
        return self.conn.describe_recovery_point(
            BackupVaultName=vault_name, RecoveryPointArn=recovery_point_arn
        )

    def recovery_point_tags(self, recovery_point_arn: str) -> dict[str, str]:
        tags: dict[str, str] = {}
        kwargs = {"ResourceArn": recovery_point_arn}
        while True:  # ListTags pages with NextToken but botocore has no paginator for it
            page = self.conn.list_tags(**kwargs)
            tags.update(page.get("Tags") or {})
            if not page.get("NextToken"):
                return tags
            kwargs["NextToken"] = page["NextToken"]

    def resource_points(self, vault_name: str, resource_arn: str) -> list[dict]:
        """The recovery points of ``resource_arn`` in the vault, as listed (no tags read):
        the window estimate tells the first, full copy by the oldest of them."""
        paginator = self.conn.get_paginator("list_recovery_points_by_backup_vault")
        pages = paginator.paginate(BackupVaultName=vault_name, ByResourceArn=resource_arn)
        return [rp for page in pages for rp in page["RecoveryPoints"]]

    def list_recovery_points(self, vault_name: str, resource_arn: str | None = None) -> list[dict]:
        """Every recovery point in the vault (of one resource if given), with its tags."""
        kwargs: dict[str, Any] = {"BackupVaultName": vault_name}
        if resource_arn:
            kwargs["ByResourceArn"] = resource_arn
        paginator = self.conn.get_paginator("list_recovery_points_by_backup_vault")
        points = [rp for page in paginator.paginate(**kwargs) for rp in page["RecoveryPoints"]]
        for rp in points:
            rp["Tags"] = self.recovery_point_tags(rp["RecoveryPointArn"])
        return points

    # --- restore and copy jobs -------------------------------------------------

    def start_efs_restore_job(
        self,
        *,
        recovery_point_arn: str,
        iam_role_arn: str,
        idempotency_token: str,
        file_system_id: str | None = None,
        new_file_system: bool = True,
        encrypted: bool = True,
        kms_key_id: str | None = None,
        performance_mode: str = "generalPurpose",
        items_to_restore: list[str] | None = None,
    ) -> dict[str, Any]:
        """Restore an EFS recovery point to a new file system or into an existing one.

        Into an existing file system AWS never overwrites: the data lands in
        ``aws-backup-restore_<timestamp>/`` off the root. A new one takes
        ``performance_mode`` and the key (``restored_shape.efs_restore_metadata``);
        its throughput mode is no metadata key AWS Backup takes (set it after).
        """
        import json

        metadata = {
            "newFileSystem": "true" if new_file_system else "false",
            "CreationToken": idempotency_token,
            "Encrypted": "true" if (encrypted or kms_key_id) else "false",
            "PerformanceMode": performance_mode,
        }
        if file_system_id:
            metadata["file-system-id"] = file_system_id
        if kms_key_id:
            metadata["KmsKeyId"] = kms_key_id
        if items_to_restore:
            metadata["ItemsToRestore"] = json.dumps(items_to_restore)
        return self.conn.start_restore_job(
            RecoveryPointArn=recovery_point_arn,
            IamRoleArn=iam_role_arn,
            IdempotencyToken=idempotency_token,
            Metadata=metadata,
            ResourceType="EFS",
        )

    def describe_restore_job(self, job_id: str) -> dict[str, Any]:
        return self.conn.describe_restore_job(RestoreJobId=job_id)

    def start_copy_job(
        self,
        *,
        recovery_point_arn: str,
        source_vault_name: str,
        destination_vault_arn: str,
        iam_role_arn: str,
        idempotency_token: str,
        lifecycle: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "RecoveryPointArn": recovery_point_arn,
            "SourceBackupVaultName": source_vault_name,
            "DestinationBackupVaultArn": destination_vault_arn,
            "IamRoleArn": iam_role_arn,
            "IdempotencyToken": idempotency_token,
        }
        if lifecycle:
            kwargs["Lifecycle"] = lifecycle
        return self.conn.start_copy_job(**kwargs)

    def describe_copy_job(self, job_id: str) -> dict[str, Any]:
        return self.conn.describe_copy_job(CopyJobId=job_id)["CopyJob"]

    # --- vaults, deletion and marks (the task steps' calls) -------------------------------

    def vault_access_policy(self, vault_name: str) -> str | None:
        """The vault's access policy (a JSON document); None when it has none.

        AWS Backup answers a vault without one with ``ResourceNotFoundException``:
        an answer (no policy), not a failure; any other error is raised.
        """
        try:
            return self.conn.get_backup_vault_access_policy(BackupVaultName=vault_name)["Policy"]
        except self.conn.exceptions.ResourceNotFoundException:
            return None

    def describe_vault(self, vault_name: str) -> dict[str, Any]:
        """The backup vault; raises AWS Backup's own error when it is not there or not ours.

        Preflight's check: it reports the error's code (``ResourceNotFoundException``,
        ``AccessDeniedException``) naming the configured vault, and retries a
        transient one, so the error is raised, never turned into a yes or no.
        """
        return self.conn.describe_backup_vault(BackupVaultName=vault_name)

    def recovery_point_arns(self, vault_name: str) -> set[str]:
        """The ARNs of every recovery point the vault lists, without their tags.

        Retention asks whether a point is still there before deleting it
        (``tasks.retention_delete``): one listing per vault, no ``ListTags``
        per point as ``list_recovery_points`` makes.
        """
        pages = self.conn.get_paginator("list_recovery_points_by_backup_vault").paginate(
            BackupVaultName=vault_name
        )
        return {p["RecoveryPointArn"] for page in pages for p in page["RecoveryPoints"]}

    def delete_recovery_point(self, vault_name: str, recovery_point_arn: str) -> None:
        """Delete a recovery point (retention); raises AWS Backup's error when it cannot."""
        self.conn.delete_recovery_point(
            BackupVaultName=vault_name, RecoveryPointArn=recovery_point_arn
        )

    def tag_recovery_point(self, recovery_point_arn: str, tags: dict[str, str]) -> None:
        """Add ``tags`` to a recovery point (verification's verdict); others stay as they are.

        AWS Backup takes the tags as a dict here, not as the list of
        ``Key``/``Value`` pairs RDS and MemoryDB take. Writing the same tags
        again changes nothing, so a retried verification is safe.
        """
        self.conn.tag_resource(ResourceArn=recovery_point_arn, Tags=tags)
