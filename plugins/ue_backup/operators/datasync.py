"""DataSync EFS-to-EFS copy, where AWS Backup is not offered.

Temporary files never reach the copy: the exclude filter comes from the
temp-file rules (``temp_files.datasync_excludes``). Each execution is tagged
with the backup set, so a retry finds the execution it started instead of
starting a second copy; the start itself is never retried blindly (it has no
idempotency token), see ``DataSyncStartCopyOperator._start``.
"""

from __future__ import annotations

import time
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from botocore.config import Config
from botocore.retries.standard import ExponentialBackoff, RetryContext

from ue_backup.backup_set import BACKUP_SET_TAG, BackupSet
from ue_backup.hooks.datasync import DataSyncHook
from ue_backup.operators.base import BackupSetMixin
from ue_backup.temp_files import datasync_excludes
from ue_backup.transient import is_transient

BACKOFF = ExponentialBackoff()  # botocore's own (standard mode): up to 20 s, jittered


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
            arn = self._start(backup_set)
        return {"task_execution_arn": arn, "task_arn": self.task_arn}

    def _start(self, backup_set: BackupSet) -> str:
        """Start the execution; after a transient error, look for it before starting again.

        ``StartTaskExecution`` has no idempotency token: botocore retrying a
        start that DataSync carried out but whose answer was lost (a 5xx, a
        dropped connection) would queue a second copy. So the call goes out
        with botocore's retries off, and this loop retries it instead, as
        often as the configured attempts and with botocore's backoff, each
        time first looking for the set's execution by its tag.
        """
        config = self.hook.config
        retries = config.retries or {}  # botocore's form, or the legacy max_attempts (retries)
        attempts = int(retries.get("total_max_attempts") or retries.get("max_attempts", 0) + 1)
        once = self.hook.get_client_type(
            config=config.merge(Config(retries={"total_max_attempts": 1}))
        )
        excludes = datasync_excludes()
        for attempt in range(1, attempts + 1):
            try:
                arn = once.start_task_execution(
                    TaskArn=self.task_arn, Excludes=excludes, Tags=backup_set.tag_list
                )["TaskExecutionArn"]
            except Exception as error:
                if not is_transient(error) or attempt == attempts:
                    raise
                self.log.warning("DataSync start failed (%s): looking for its execution", error)
                found = self._execution_of_set(backup_set.id)
                if found:
                    self.log.info("DataSync execution %s was started by that call", found)
                    return found
                time.sleep(BACKOFF.delay_amount(RetryContext(attempt_number=attempt)))
                continue
            self.log.info("DataSync execution %s started, excluding %s", arn, excludes[0]["Value"])
            return arn
        raise AssertionError("unreachable: the last attempt returns or raises")
