"""DataSync EFS-to-EFS copy, where AWS Backup is not offered.

Temporary files never reach the copy: the exclude filter comes from the
temp-file rules (``temp_files.datasync_excludes``). Each execution is tagged
with the backup set, so a retry finds the execution it started instead of
starting a second copy.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from ue_backup.backup_set import BACKUP_SET_TAG
from ue_backup.hooks.datasync import DataSyncHook
from ue_backup.operators.base import BackupSetMixin
from ue_backup.temp_files import datasync_excludes


class DataSyncStartCopyOperator(BackupSetMixin, AwsBaseOperator[DataSyncHook]):
    """Start the EFS-to-EFS task for this backup set; returns ``{"task_execution_arn", ...}``."""

    aws_hook_class = DataSyncHook
    template_fields = aws_template_fields("botocore_config", "backup_set_id", "task_arn")

    def __init__(self, *, backup_set_id: str, task_arn: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.backup_set_id = backup_set_id
        self.task_arn = task_arn

    def _execution_of_set(self, set_id: str) -> str | None:
        conn = self.hook.get_conn()
        paginator = conn.get_paginator("list_task_executions")
        for page in paginator.paginate(TaskArn=self.task_arn):
            for execution in page.get("TaskExecutions", []):
                arn = execution["TaskExecutionArn"]
                tags = conn.list_tags_for_resource(ResourceArn=arn).get("Tags", [])
                if {"Key": BACKUP_SET_TAG, "Value": set_id} in tags:
                    return arn
        return None

    def execute(self, context: Any) -> dict[str, Any]:
        backup_set = self.backup_set(context)
        arn = self._execution_of_set(backup_set.id)
        if arn:
            self.log.info("DataSync execution %s of set %s exists (a retry)", arn, backup_set.id)
        else:
            excludes = datasync_excludes()
            arn = self.hook.get_conn().start_task_execution(
                TaskArn=self.task_arn,
                Excludes=excludes,
                Tags=backup_set.tag_list,
            )["TaskExecutionArn"]
            self.log.info("DataSync execution %s started, excluding %s", arn, excludes[0]["Value"])
        return {"task_execution_arn": arn, "task_arn": self.task_arn}
