"""Operator extra links to the AWS console: the artifact a task made, one click away."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink

from ue_backup.console_paths import PATHS


class ConsoleLink(BaseAwsLink):
    """A console link that a task which never ran its step does not look up.

    When a task ends, Airflow asks each of its extra links for a value and stores
    it (the Task SDK's ``finalize``). A task its gate skipped never persisted one,
    and the provider's lookup then logs an error-level "XCom not found" for every
    link of every skipped step: an error line that is no error. At that moment
    ``ti_key`` is the ending task instance, with its state; the web server passes
    a plain key without one and is answered as before.
    """

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        state = getattr(ti_key, "state", None)
        if getattr(state, "value", state) == "skipped":
            return ""
        return super().get_link(operator, ti_key=ti_key)


class AwsBackupJobLink(ConsoleLink):
    """An AWS Backup backup, restore or copy job (``job_type``: backup, restore, copy)."""

    name = "AWS Backup job"
    key = "ue_backup_aws_backup_job"
    format_str = BASE_AWS_CONSOLE_LINK + PATHS["backup_job"]


class AwsBackupRecoveryPointLink(ConsoleLink):
    """A recovery point in its vault (the ARN is URL-encoded in the console's path)."""

    name = "Recovery point"
    key = "ue_backup_recovery_point"
    format_str = BASE_AWS_CONSOLE_LINK + PATHS["recovery_point"]

    def format_link(self, **kwargs) -> str:
        arn = kwargs.get("recovery_point_arn") or ""
        return super().format_link(**kwargs, recovery_point=quote(arn, safe=""))


class RdsSnapshotLink(ConsoleLink):
    name = "RDS snapshot"
    key = "ue_backup_rds_snapshot"
    format_str = BASE_AWS_CONSOLE_LINK + PATHS["rds_snapshot"]


class MemoryDbSnapshotLink(ConsoleLink):
    name = "MemoryDB snapshot"
    key = "ue_backup_memorydb_snapshot"
    format_str = BASE_AWS_CONSOLE_LINK + PATHS["memorydb_snapshot"]
