"""Operator extra links to the AWS console: the artifact a task made, one click away."""

from __future__ import annotations

from urllib.parse import quote

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink

from ue_backup.console_paths import PATHS


class AwsBackupJobLink(BaseAwsLink):
    """An AWS Backup backup, restore or copy job (``job_type``: backup, restore, copy)."""

    name = "AWS Backup job"
    key = "ue_backup_aws_backup_job"
    format_str = BASE_AWS_CONSOLE_LINK + PATHS["backup_job"]


class AwsBackupRecoveryPointLink(BaseAwsLink):
    """A recovery point in its vault (the ARN is URL-encoded in the console's path)."""

    name = "Recovery point"
    key = "ue_backup_recovery_point"
    format_str = BASE_AWS_CONSOLE_LINK + PATHS["recovery_point"]

    def format_link(self, **kwargs) -> str:
        arn = kwargs.get("recovery_point_arn") or ""
        return super().format_link(**kwargs, recovery_point=quote(arn, safe=""))


class RdsSnapshotLink(BaseAwsLink):
    name = "RDS snapshot"
    key = "ue_backup_rds_snapshot"
    format_str = BASE_AWS_CONSOLE_LINK + PATHS["rds_snapshot"]


class MemoryDbSnapshotLink(BaseAwsLink):
    name = "MemoryDB snapshot"
    key = "ue_backup_memorydb_snapshot"
    format_str = BASE_AWS_CONSOLE_LINK + PATHS["memorydb_snapshot"]
