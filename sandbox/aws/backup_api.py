"""AWS Backup's job and recovery-point operations, added to moto's backup service.

moto maps a rest-json request to its operation with botocore's model, so a
method named after the operation plus a route to this class is all an added
operation needs (see ``extensions``). The request and response shapes are
botocore's; the state is in ``backup``.
"""

from __future__ import annotations

from moto.backup import urls
from moto.backup.responses import BackupResponse
from moto.core.responses import ActionResult, EmptyResult

from sandbox.aws import kms
from sandbox.aws.backup import BackupStore, backup_store
from sandbox.aws.context import OneCallAtATime
from sandbox.aws.extensions import Extension
from sandbox.aws.protocol import target_of

ADDED_PATHS = (
    "{0}/backup-jobs$",
    "{0}/backup-jobs/$",
    "{0}/backup-jobs/(?P<backupJobId>[^/]+)$",
    "{0}/backup-vaults/(?P<backupVaultName>[^/]+)/recovery-points/$",
    "{0}/backup-vaults/(?P<backupVaultName>[^/]+)/recovery-points/(?P<recoveryPointArn>.+)/restore-metadata$",
    "{0}/backup-vaults/(?P<backupVaultName>[^/]+)/recovery-points/(?P<recoveryPointArn>.+)$",
    "{0}/resources/(?P<resourceArn>.+)/recovery-points/$",
    "{0}/restore-jobs$",
    "{0}/restore-jobs/(?P<restoreJobId>[^/]+)$",
    "{0}/copy-jobs$",
    "{0}/copy-jobs/$",
    "{0}/copy-jobs/(?P<copyJobId>[^/]+)$",
    "{0}/backup-vaults/(?P<backupVaultName>[^/]+)/access-policy$",
)


class SandboxBackupResponse(OneCallAtATime, BackupResponse):
    def __init__(self) -> None:
        super().__init__()
        # Parameters parsed with botocore's model, from the URI, query and body alike.
        self.automated_parameter_parsing = True

    @property
    def store(self) -> BackupStore:
        return backup_store(self.backup_backend)

    def _target(self, operation: str) -> str:
        return target_of("backup", operation, self.params)

    # --- vaults ------------------------------------------------------------------------

    def create_backup_vault(self) -> str:
        """A vault is always under a key (``EncryptionKeyArn``, as an ARN): the one given, or
        the account's AWS managed key ``aws/backup`` (moto leaves it empty)."""
        answer = super().create_backup_vault()
        vault = self.store.vault(self.path.split("/")[-1])
        account, region = self.current_account, self.backup_backend.region_name
        given = vault.encryption_key_arn
        vault.encryption_key_arn = (
            kms.resolve_arn(account, region, given) or given
            if given
            else kms.aws_managed_key_arn(account, region, "backup")
        )
        return answer

    # --- backup jobs -------------------------------------------------------------------

    def start_backup_job(self) -> ActionResult:
        job = self.store.start_backup_job(self.params, self._target("StartBackupJob"))
        # botocore's model: RecoveryPointArn "is only returned for Amazon EFS and Advanced
        # DynamoDB resources" (the sandbox backs up EFS and RDS): read it from DescribeBackupJob.
        answer = {
            "BackupJobId": job.id,
            "CreationDate": job.progress.started_at,
            "IsParent": False,
        }
        if job.point.resource_type == "EFS":
            answer["RecoveryPointArn"] = job.point.arn
        return ActionResult(answer)

    def describe_backup_job(self) -> ActionResult:
        job = self.store.backup_job(self._get_param("BackupJobId"))
        return ActionResult(job.described(self.current_account))

    def list_backup_jobs(self) -> ActionResult:
        jobs = self.store.list_backup_jobs(self.params)
        page, token = paged(jobs, self.params.get("MaxResults"), self.params.get("NextToken"))
        answer = {"BackupJobs": [job.described(self.current_account) for job in page]}
        if token:
            answer["NextToken"] = token
        return ActionResult(answer)

    # --- vault access policies (what lets another account copy into a vault) ----------------

    def put_backup_vault_access_policy(self) -> EmptyResult:
        self.store.put_access_policy(self._get_param("BackupVaultName"), self._get_param("Policy"))
        return EmptyResult()

    def get_backup_vault_access_policy(self) -> ActionResult:
        name = self._get_param("BackupVaultName")
        vault = self.store.vault(name)
        return ActionResult(
            {
                "BackupVaultName": name,
                "BackupVaultArn": vault.backup_vault_arn,
                "Policy": self.store.access_policy(name),
            }
        )

    def delete_backup_vault_access_policy(self) -> EmptyResult:
        self.store.put_access_policy(self._get_param("BackupVaultName"), None)
        return EmptyResult()

    # --- recovery points -----------------------------------------------------------------

    def list_recovery_points_by_backup_vault(self) -> ActionResult:
        points = self.store.points_in_vault(
            self._get_param("BackupVaultName"),
            self._get_param("ByResourceArn"),
            self._get_param("ByResourceType"),
        )
        return ActionResult({"RecoveryPoints": [point.by_vault() for point in points]})

    def list_recovery_points_by_resource(self) -> ActionResult:
        points = self.store.points_of_resource(self._get_param("ResourceArn"))
        return ActionResult({"RecoveryPoints": [point.by_resource() for point in points]})

    def describe_recovery_point(self) -> ActionResult:
        point = self.store.point(
            self._get_param("RecoveryPointArn"), self._get_param("BackupVaultName")
        )
        return ActionResult(point.described())

    def get_recovery_point_restore_metadata(self) -> ActionResult:
        point = self.store.point(
            self._get_param("RecoveryPointArn"), self._get_param("BackupVaultName")
        )
        return ActionResult(
            {
                "BackupVaultArn": point.vault.backup_vault_arn,
                "RecoveryPointArn": point.arn,
                "RestoreMetadata": point.restore_metadata,
                "ResourceType": point.resource_type,
            }
        )

    def delete_recovery_point(self) -> EmptyResult:
        self.store.delete_point(
            self._get_param("BackupVaultName"), self._get_param("RecoveryPointArn")
        )
        return EmptyResult()

    # --- restore and copy jobs -------------------------------------------------------------

    def start_restore_job(self) -> ActionResult:
        job = self.store.start_restore_job(self.params, self._target("StartRestoreJob"))
        return ActionResult({"RestoreJobId": job.id})

    def describe_restore_job(self) -> ActionResult:
        job = self.store.restore_job(self._get_param("RestoreJobId"))
        return ActionResult(job.described(self.current_account))

    def start_copy_job(self) -> ActionResult:
        job = self.store.start_copy_job(self.params, self._target("StartCopyJob"))
        return ActionResult(
            {"CopyJobId": job.id, "CreationDate": job.progress.started_at, "IsParent": False}
        )

    def describe_copy_job(self) -> ActionResult:
        job = self.store.copy_job(self._get_param("CopyJobId"))
        return ActionResult({"CopyJob": job.described(self.current_account)})

    def list_copy_jobs(self) -> ActionResult:
        jobs = self.store.list_copy_jobs(self.params)
        return ActionResult({"CopyJobs": [job.described(self.current_account) for job in jobs]})


def paged(items: list, max_results: int | None, token: str | None) -> tuple[list, str | None]:
    """One page of ``items`` as AWS Backup lists them (``MaxResults`` up to 1000, the
    default), and the ``NextToken`` of the next page, None after the last."""
    start = int(token) if token else 0
    size = int(max_results) if max_results else 1000
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


EXTENSION = Extension(urls, SandboxBackupResponse, ADDED_PATHS)
