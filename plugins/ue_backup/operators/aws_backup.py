"""AWS Backup operators: start EFS and RDS backup, EFS restore and copy jobs (sensors wait).

Starting and waiting are separate tasks so the backup DAG can close the cold
window as soon as the EFS job is done while slower waits go on after it.
Every start is idempotent: the token derives from the backup-set id, and AWS
answers a repeated token with the job it already started.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from ue_backup.backup_set import BackupSet
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.aws_backup import BACKUP_JOB_FAILED, COPY_JOB_FAILED, AwsBackupHook
from ue_backup.hooks.rds import RdsHook
from ue_backup.links.console import AwsBackupJobLink, AwsBackupRecoveryPointLink
from ue_backup.operators.base import BackupSetMixin

MAX_JOB_ATTEMPTS = 5


def efs_file_system_arn(hook: AwsBackupHook, file_system_id: str) -> str:
    """The file system's ARN, which also proves it exists before anything is started."""
    efs = AwsBaseHook(
        aws_conn_id=hook.aws_conn_id,
        region_name=hook.region_name,
        verify=hook.verify,
        config=hook.config,
        client_type="efs",
    ).conn
    return efs.describe_file_systems(FileSystemId=file_system_id)["FileSystems"][0]["FileSystemArn"]


def _flag(value: bool | str) -> bool:
    """A flag that may arrive rendered from a template: ``"False"`` is false."""
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "none", "")
    return bool(value)


class _AwsBackupJobOperator(AwsBaseOperator[AwsBackupHook]):
    """Shared by the three job starters: the hook and the console link to the job."""

    aws_hook_class = AwsBackupHook
    operator_extra_links = (AwsBackupJobLink(),)

    def persist_links(self, context: Any, *, job_type: str, job_id: str) -> None:
        AwsBackupJobLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            job_type=job_type,
            job_id=job_id,
        )


class _AwsBackupStartBackupJobOperator(BackupSetMixin, _AwsBackupJobOperator):
    """Start an on-demand AWS Backup job of one resource, tagged with the backup set.

    Subclasses name the resource (``resource_arn``, which also proves it exists)
    and the set's token for it. Returns ``{"job_id", "recovery_point_arn",
    "creation_date", "vault_name", "region"}``.
    """

    template_fields = aws_template_fields(
        "botocore_config",
        "backup_set_id",
        "backup_vault_name",
        "iam_role_arn",
        "lifecycle",
        "complete_window_minutes",
    )
    operator_extra_links = (AwsBackupJobLink(), AwsBackupRecoveryPointLink())

    def __init__(
        self,
        *,
        backup_set_id: str,
        backup_vault_name: str,
        iam_role_arn: str,
        lifecycle: dict[str, int] | None = None,
        complete_window_minutes: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.backup_set_id = backup_set_id
        self.backup_vault_name = backup_vault_name
        self.iam_role_arn = iam_role_arn
        self.lifecycle = lifecycle
        self.complete_window_minutes = complete_window_minutes

    def resource(self) -> tuple[str, str]:
        """``(name for the log, ARN)`` of the resource to back up."""
        raise NotImplementedError

    def token(self, backup_set: BackupSet) -> str:
        raise NotImplementedError

    def execute(self, context: Any) -> dict[str, Any]:
        backup_set = self.backup_set(context)
        name, resource_arn = self.resource()
        for attempt in range(1, MAX_JOB_ATTEMPTS + 1):
            # Tokens form a chain (token, token-2, ...): a retry walks it and finds the
            # job its earlier try started; only a job that ended badly moves it on.
            token = self.token(backup_set) + (f"-{attempt}" if attempt > 1 else "")
            job = self.hook.start_backup_job(
                vault_name=self.backup_vault_name,
                resource_arn=resource_arn,
                iam_role_arn=self.iam_role_arn,
                idempotency_token=token,
                recovery_point_tags=backup_set.tags,
                lifecycle=self.lifecycle,
                complete_window_minutes=self.complete_window_minutes,
            )
            described = self.hook.describe_backup_job(job["BackupJobId"])
            state = described["State"]
            if state not in BACKUP_JOB_FAILED:
                break
            self.log.warning(
                "Backup job %s of this set ended %s: starting another", job["BackupJobId"], state
            )
        else:
            raise PermanentFailure(
                f"{MAX_JOB_ATTEMPTS} backup jobs of {name} in set {backup_set.id} all ended badly"
            )
        result = {
            "job_id": job["BackupJobId"],
            # StartBackupJob gives it for EFS only (botocore's model); the job may name it
            # already; else None, and the readers ask the job again (inventory, the copy).
            "recovery_point_arn": job.get("RecoveryPointArn") or described.get("RecoveryPointArn"),
            "creation_date": job["CreationDate"].isoformat(),
            "vault_name": self.backup_vault_name,
            "region": self.hook.conn_region_name,
        }
        self.persist_links(context, job_type="backup", job_id=result["job_id"])
        AwsBackupRecoveryPointLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            vault_name=self.backup_vault_name,
            recovery_point_arn=result["recovery_point_arn"],
        )
        self.log.info(
            "AWS Backup job %s started for %s (recovery point %s, set %s)",
            result["job_id"],
            name,
            result["recovery_point_arn"],
            backup_set.id,
        )
        return result


class AwsBackupStartEfsBackupJobOperator(_AwsBackupStartBackupJobOperator):
    """Start an on-demand AWS Backup job of the EFS file system, tagged with the backup set."""

    template_fields = (*_AwsBackupStartBackupJobOperator.template_fields, "file_system_id")

    def __init__(self, *, file_system_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.file_system_id = file_system_id

    def resource(self) -> tuple[str, str]:
        return self.file_system_id, efs_file_system_arn(self.hook, self.file_system_id)

    def token(self, backup_set: BackupSet) -> str:
        return backup_set.efs_idempotency_token


class AwsBackupStartRdsBackupJobOperator(_AwsBackupStartBackupJobOperator):
    """Start an on-demand AWS Backup job of the RDS instance, tagged with the backup set.

    Why AWS Backup beside the RDS snapshot: only a recovery point in a vault can be
    copied into a vault under Vault Lock (config: immutable), where nobody can delete
    it before its retention ends; a manual RDS snapshot cannot go there.
    """

    template_fields = (*_AwsBackupStartBackupJobOperator.template_fields, "db_instance_identifier")

    def __init__(self, *, db_instance_identifier: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.db_instance_identifier = db_instance_identifier

    def resource(self) -> tuple[str, str]:
        rds = RdsHook(  # the project's hook: its retries too
            aws_conn_id=self.hook.aws_conn_id,
            region_name=self.hook.region_name,
            verify=self.hook.verify,
            config=self.hook.config,
        )
        instance = rds.describe_instance(self.db_instance_identifier)
        return self.db_instance_identifier, instance["DBInstanceArn"]

    def token(self, backup_set: BackupSet) -> str:
        return backup_set.rds_idempotency_token


class AwsBackupStartEfsRestoreJobOperator(_AwsBackupJobOperator):
    """Restore an EFS recovery point: to a new file system, or into a directory of one.

    Into an existing file system the data lands in
    ``aws-backup-restore_<timestamp>/``; AWS never overwrites. A new file system
    is shaped like ``shape_source`` (the live one: performance mode and key,
    ``restored_shape``), or, that one gone, like the shape the set recorded
    (``recorded_network``); with neither (the copy region) AWS's defaults.
    Returns ``{"job_id", "region", "shape"}``: ``shape`` is what the new file
    system should have, its throughput mode included, which AWS Backup cannot
    set (``restored_file_system`` sets it once the job is done, as the file
    system id is known only then).
    """

    template_fields = aws_template_fields(
        "botocore_config",
        "recovery_point_arn",
        "iam_role_arn",
        "idempotency_token",
        "file_system_id",
        "new_file_system",
        "shape_source",
        "recorded_network",
    )

    def __init__(
        self,
        *,
        recovery_point_arn: str,
        iam_role_arn: str,
        idempotency_token: str,
        file_system_id: str | None = None,
        new_file_system: bool | str = True,
        kms_key_id: str | None = None,
        shape_source: str | None = None,
        recorded_network: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.recovery_point_arn = recovery_point_arn
        self.iam_role_arn = iam_role_arn
        self.idempotency_token = idempotency_token
        self.file_system_id = file_system_id
        self.new_file_system = new_file_system
        self.kms_key_id = kms_key_id
        self.shape_source = shape_source
        self.recorded_network = recorded_network

    def efs_hook(self) -> Any:
        """The project's EFS hook (its retries too), on this operator's connection."""
        from ue_backup.hooks.efs import EfsHook

        return EfsHook(
            aws_conn_id=self.hook.aws_conn_id,
            region_name=self.hook.region_name,
            verify=self.hook.verify,
            config=self.hook.config,
        )

    def live_file_system(self) -> dict[str, Any] | None:
        """The file system a new one is shaped like (``shape_source``), described; None when
        there is none (the copy region) or it is gone."""
        from botocore.exceptions import ClientError

        if not self.shape_source:
            return None
        try:
            return self.efs_hook().describe_file_system(self.shape_source)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "FileSystemNotFound":
                raise
        return None

    def _shape(self, live: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The live file system's shape; the recorded one when it is gone; else None."""
        from ue_backup.restored_shape import efs_shape, recorded

        live = live or self.live_file_system()
        if live:
            return efs_shape(live)
        shape = recorded(self.recorded_network or None, "efs")
        if shape is None:
            self.log.warning(
                "No live file system to shape the restored one like, and no recorded shape: "
                "it gets AWS's defaults (generalPurpose, bursting, the AWS managed key)"
            )
        return shape

    def execute(self, context: Any) -> dict[str, Any]:
        from ue_backup.restored_shape import efs_restore_metadata

        new = _flag(self.new_file_system)
        shape = self._shape() if new else None
        metadata = efs_restore_metadata(shape, self.hook.conn_region_name)
        job = self.hook.start_efs_restore_job(
            recovery_point_arn=self.recovery_point_arn,
            iam_role_arn=self.iam_role_arn,
            idempotency_token=self.idempotency_token,
            file_system_id=self.file_system_id,
            new_file_system=new,
            kms_key_id=self.kms_key_id or metadata.get("KmsKeyId"),
            performance_mode=metadata["PerformanceMode"],
        )
        self.persist_links(context, job_type="restore", job_id=job["RestoreJobId"])
        self.log.info(
            "AWS Backup restore job %s started%s",
            job["RestoreJobId"],
            f" (a new file system shaped {metadata})" if new else "",
        )
        return {"job_id": job["RestoreJobId"], "region": self.hook.conn_region_name, "shape": shape}


class AwsBackupStartCopyJobOperator(_AwsBackupJobOperator):
    """Copy a recovery point to a vault in another region (disaster recovery).

    The job is started in the source region (``region_name``), where it is
    also described and waited for (``AwsBackupCopyJobCompletedSensor``); the
    copy keeps the source's tags and creation date. Give either
    ``idempotency_token``, or ``backup_set_id`` to derive the tokens from the
    set: then, as for the backup job, a retry walks the token chain and finds
    the job its earlier try started, and only a copy that ended badly moves
    the chain on. Returns ``{"job_id", "region", "recovery_point_arn",
    "destination_vault_arn"}``.
    """

    template_fields = aws_template_fields(
        "botocore_config",
        "recovery_point_arn",
        "backup_job_id",
        "source_vault_name",
        "destination_vault_arn",
        "iam_role_arn",
        "idempotency_token",
        "backup_set_id",
        "lifecycle",
    )

    def __init__(
        self,
        *,
        recovery_point_arn: str | None,
        source_vault_name: str,
        destination_vault_arn: str,
        iam_role_arn: str,
        idempotency_token: str | None = None,
        backup_set_id: str | None = None,
        lifecycle: dict[str, int] | None = None,
        copy_of: str = "efs",
        backup_job_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if bool(idempotency_token) == bool(backup_set_id):
            raise ValueError("give exactly one of idempotency_token and backup_set_id")
        self.recovery_point_arn = recovery_point_arn
        # The backup job that made the point: its ARN is read from the job when
        # StartBackupJob did not give it (it gives it for EFS only: botocore's model).
        self.backup_job_id = backup_job_id
        self.source_vault_name = source_vault_name
        self.destination_vault_arn = destination_vault_arn
        self.iam_role_arn = iam_role_arn
        self.idempotency_token = idempotency_token
        self.backup_set_id = backup_set_id
        self.lifecycle = lifecycle
        # Names the copy in its tokens: two copies of one recovery point (to the copy
        # region, to the locked vault) must not share a token, or AWS answers the first.
        self.copy_of = copy_of

    def _tokens(self, context: Any) -> list[str]:
        if self.idempotency_token:
            return [self.idempotency_token]
        token = BackupSet.parse(self.backup_set_id, str(context.get("run_id") or "")).copy_token(
            self.copy_of
        )
        return [token + (f"-{n}" if n > 1 else "") for n in range(1, MAX_JOB_ATTEMPTS + 1)]

    def _source(self) -> str:
        if self.recovery_point_arn:
            return self.recovery_point_arn
        if self.backup_job_id:
            arn = self.hook.describe_backup_job(self.backup_job_id).get("RecoveryPointArn")
            if arn:
                return arn
        raise PermanentFailure(
            f"no recovery point to copy: backup job {self.backup_job_id or '(none)'} names none"
        )

    def execute(self, context: Any) -> dict[str, Any]:
        self.recovery_point_arn = self._source()
        for token in self._tokens(context):
            job = self.hook.start_copy_job(
                recovery_point_arn=self.recovery_point_arn,
                source_vault_name=self.source_vault_name,
                destination_vault_arn=self.destination_vault_arn,
                iam_role_arn=self.iam_role_arn,
                idempotency_token=token,
                lifecycle=self.lifecycle or None,
            )
            state = self.hook.describe_copy_job(job["CopyJobId"])["State"]
            if state not in COPY_JOB_FAILED or self.idempotency_token:
                break
            self.log.warning("Copy job %s ended %s: starting another", job["CopyJobId"], state)
        else:
            raise PermanentFailure(
                f"{MAX_JOB_ATTEMPTS} copy jobs of {self.recovery_point_arn} all ended badly"
            )
        self.persist_links(context, job_type="copy", job_id=job["CopyJobId"])
        self.log.info(
            "AWS Backup copy job %s started: %s to %s",
            job["CopyJobId"],
            self.recovery_point_arn,
            self.destination_vault_arn,
        )
        return {
            "job_id": job["CopyJobId"],
            "region": self.hook.conn_region_name,
            "recovery_point_arn": self.recovery_point_arn,
            "destination_vault_arn": self.destination_vault_arn,
        }
