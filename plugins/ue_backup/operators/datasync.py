"""DataSync EFS-to-EFS copy, where AWS Backup is not offered: each set into its own folder.

Each set has a task of its own writing into a folder of its own on the target
file system (``datasync_sets``), so the copies form a history. Temporary files
never reach the copy: the exclude filter comes from the temp-file rules
(``temp_files.datasync_excludes``). The set's task is found again by its name
and its execution by its tag, so a retry never starts a second copy; the start
itself is never retried blindly (it has no idempotency token), see
``DataSyncStartCopyOperator._start``. CreateTask has no token either: a retry
finds the task by its name first, and a lost CreateTask answer retried by botocore
could leave one unused task behind (named after the set), never a second copy.
"""

from __future__ import annotations

import time
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from botocore.config import Config
from botocore.retries.standard import ExponentialBackoff, RetryContext

from ue_backup.backup_set import BACKUP_SET_TAG, INSTALLATION_TAG, BackupSet
from ue_backup.datasync_sets import (
    TASK_OPTIONS,
    efs_arn,
    location_uri,
    set_folder,
    task_name,
)
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.datasync import DataSyncHook
from ue_backup.hooks.sts import StsHook
from ue_backup.operators.base import BackupSetMixin
from ue_backup.temp_files import datasync_excludes
from ue_backup.transient import is_transient

BACKOFF = ExponentialBackoff()  # botocore's own (standard mode): up to 20 s, jittered


class DataSyncStartCopyOperator(BackupSetMixin, AwsBaseOperator[DataSyncHook]):
    """Copy the live file system into this set's own folder on the target file system.

    The set's task (``datasync_sets.task_name``) is found again on a retry, or
    created: its source location is the template task's (``task_arn``) or one on
    the live file system (``source_file_system_id``), its destination a location on
    ``target_file_system_id`` at ``datasync_sets.set_folder``, reached through the
    template's network or ``subnet_arn`` and ``security_group_arns``, with the
    options of ``datasync_sets.TASK_OPTIONS``. Returns ``{"task_execution_arn",
    "task_arn", "folder", "target_file_system_id"}``.
    """

    aws_hook_class = DataSyncHook
    template_fields = aws_template_fields(
        "botocore_config",
        "backup_set_id",
        "task_arn",
        "source_file_system_id",
        "target_file_system_id",
        "target_subdirectory",
        "subnet_arn",
        "security_group_arns",
    )

    def __init__(
        self,
        *,
        backup_set_id: str,
        target_file_system_id: str,
        task_arn: str | None = None,
        source_file_system_id: str | None = None,
        target_subdirectory: str = "/",
        subnet_arn: str | None = None,
        security_group_arns: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.backup_set_id = backup_set_id
        self.task_arn = task_arn
        self.source_file_system_id = source_file_system_id
        self.target_file_system_id = target_file_system_id
        self.target_subdirectory = target_subdirectory
        self.subnet_arn = subnet_arn
        self.security_group_arns = security_group_arns or []

    def execute(self, context: Any) -> dict[str, Any]:
        backup_set = self.backup_set(context)
        folder = set_folder(str(self.target_subdirectory or "/"), backup_set.id)
        task = self._set_task(backup_set, folder)
        arn = self._execution_of_set(task, backup_set.id)
        if arn:
            self.log.info("DataSync execution %s of set %s exists (a retry)", arn, backup_set.id)
        else:
            arn = self._start(task, backup_set)
        return {
            "task_execution_arn": arn,
            "task_arn": task,
            "folder": folder,
            "target_file_system_id": self.target_file_system_id,
        }

    # --- the set's task -----------------------------------------------------------------

    def _set_task(self, backup_set: BackupSet, folder: str) -> str:
        """The set's task: found by its name (a retry), or created with its locations."""
        conn, name = self.hook.get_conn(), task_name(backup_set.id)
        for page in conn.get_paginator("list_tasks").paginate():
            for task in page.get("Tasks", []):
                if task.get("Name") == name:
                    self.log.info(
                        "DataSync task %s of set %s exists (a retry)", name, backup_set.id
                    )
                    return task["TaskArn"]
        source, network = self._source_location(backup_set)
        destination = self._location(
            self.target_file_system_id, folder, network, backup_set.tag_list
        )
        task_arn = conn.create_task(
            SourceLocationArn=source,
            DestinationLocationArn=destination,
            Name=name,
            Options=TASK_OPTIONS,
            Excludes=datasync_excludes(),
            Tags=backup_set.tag_list,
        )["TaskArn"]
        self.log.info(
            "DataSync task %s created: %s into %s:%s",
            name,
            source,
            self.target_file_system_id,
            folder,
        )
        return task_arn

    def _source_location(self, backup_set: BackupSet) -> tuple[str, dict[str, Any]]:
        """(the live file system's location, the network DataSync reaches EFS through)."""
        if self.task_arn:  # the template: its source, and its destination's network
            template = self.hook.get_task_description(self.task_arn)
            destination = self.hook.describe_location_efs(template["DestinationLocationArn"])
            return template["SourceLocationArn"], destination["Ec2Config"]
        network = {
            "SubnetArn": self.subnet_arn,
            "SecurityGroupArns": list(self.security_group_arns),
        }
        if not self.source_file_system_id:
            raise PermanentFailure("a DataSync copy needs task_arn or source_file_system_id")
        # tagged with the installation only: every set's task reads from it
        tags = [{"Key": INSTALLATION_TAG, "Value": backup_set.installation}]
        return self._location(self.source_file_system_id, "/", network, tags), network

    def _location(
        self, file_system_id: str, folder: str, network: dict[str, Any], tags: list[dict]
    ) -> str:
        """The EFS location of ``file_system_id`` at ``folder``: found by its URI, or created."""
        region = self.hook.conn_region_name
        uri = location_uri(region, file_system_id, folder)
        found = self.hook.get_location_arns(uri, case_sensitive=True, ignore_trailing_slash=True)
        if found:
            return found[0]
        account = StsHook(aws_conn_id=self.aws_conn_id, region_name=region).caller_identity()
        return self.hook.get_conn().create_location_efs(
            EfsFilesystemArn=efs_arn(
                self.hook.conn_partition, region, account["Account"], file_system_id
            ),
            Subdirectory=folder,
            Ec2Config=network,
            Tags=tags,
        )["LocationArn"]

    # --- its execution ------------------------------------------------------------------

    def _execution_of_set(self, task_arn: str, set_id: str) -> str | None:
        conn = self.hook.get_conn()
        paginator = conn.get_paginator("list_task_executions")
        for page in paginator.paginate(TaskArn=task_arn):
            for execution in page.get("TaskExecutions", []):
                arn = execution["TaskExecutionArn"]
                tags = conn.list_tags_for_resource(ResourceArn=arn).get("Tags", [])
                if {"Key": BACKUP_SET_TAG, "Value": set_id} in tags:
                    return arn
        return None

    def _start(self, task_arn: str, backup_set: BackupSet) -> str:
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
                    TaskArn=task_arn, Excludes=excludes, Tags=backup_set.tag_list
                )["TaskExecutionArn"]
            except Exception as error:
                if not is_transient(error) or attempt == attempts:
                    raise
                self.log.warning("DataSync start failed (%s): looking for its execution", error)
                found = self._execution_of_set(task_arn, backup_set.id)
                if found:
                    self.log.info("DataSync execution %s was started by that call", found)
                    return found
                time.sleep(BACKOFF.delay_amount(RetryContext(attempt_number=attempt)))
                continue
            self.log.info("DataSync execution %s started, excluding %s", arn, excludes[0]["Value"])
            return arn
        raise AssertionError("unreachable: the last attempt returns or raises")
