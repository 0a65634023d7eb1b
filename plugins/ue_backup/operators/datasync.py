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

A restore copies a set's folder back the same way (``DataSyncRestoreCopyOperator``):
a task of its own, found again by its name, whose execution is found again by the
restore's tags; once the copy succeeded, ``DataSyncReleaseRestoreCopyOperator``
deletes that task and its destination location (DataSync allows 100 tasks per
region), never the set's.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from ue_backup.backup_set import BACKUP_SET_TAG, INSTALLATION_TAG, BackupSet, tag_list
from ue_backup.datasync_sets import (
    TASK_OPTIONS,
    restore_folder,
    restore_task_name,
    set_folder,
    task_name,
)
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.datasync import DataSyncHook
from ue_backup.operators.base import BackupSetMixin
from ue_backup.temp_files import datasync_excludes


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
        name = task_name(backup_set.id)
        found = self.hook.task_named(name)
        if found:
            self.log.info("DataSync task %s of set %s exists (a retry)", name, backup_set.id)
            return found
        source, network = self._source_location(backup_set)
        destination = self.hook.efs_location(
            self.target_file_system_id, folder, network, backup_set.tag_list
        )
        task_arn = self.hook.get_conn().create_task(
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
        return self.hook.efs_location(self.source_file_system_id, "/", network, tags), network

    # --- its execution ------------------------------------------------------------------

    def _execution_of_set(self, task_arn: str, set_id: str) -> str | None:
        found = self.hook.executions_tagged(task_arn, {BACKUP_SET_TAG: set_id})
        return found[0]["TaskExecutionArn"] if found else None

    def _start(self, task_arn: str, backup_set: BackupSet) -> str:
        """Start the execution once (``DataSyncHook.start_execution_once``): a retry after a
        lost answer finds the execution by the set's tag instead of queueing a second copy."""
        return self.hook.start_execution_once(
            task_arn,
            backup_set.tag_list,
            datasync_excludes(),
            lambda: self._execution_of_set(task_arn, backup_set.id),
        )


class DataSyncRestoreCopyOperator(AwsBaseOperator[DataSyncHook]):
    """Copy a set's folder into ``ue-backup-restoring_<restore id>/`` of ``file_system_id``.

    The restore's own task (``datasync_sets.restore_task_name``) is found again on
    a retry, or created: its source is the set's folder (the destination location
    of the set's task, ``set_task_arn``), its destination a new location on the
    restored file system at ``datasync_sets.restore_folder``, reached through the
    network of the set task's source location (a subnet where the live file
    system has a mount target; the restored one has one there too), with the
    options of ``datasync_sets.TASK_OPTIONS`` and temporary files excluded. It and
    its execution carry ``tags`` (the restore's or the drill's), never a set's, so
    the task is never listed as a set's copy. An execution of it carrying the tags
    that runs or succeeded is reused; after one that failed, a retry starts
    another (the destination is the restore's own, overwritten whole). Returns
    ``{"task_arn", "task_execution_arn", "source_location_arn",
    "destination_location_arn", "file_system_id", "folder"}``.
    """

    aws_hook_class = DataSyncHook
    template_fields = aws_template_fields(
        "botocore_config", "restore_id", "set_task_arn", "file_system_id", "tags"
    )

    def __init__(
        self,
        *,
        restore_id: str,
        set_task_arn: str,
        file_system_id: str,
        tags: dict[str, str],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.restore_id = restore_id
        self.set_task_arn = set_task_arn
        self.file_system_id = file_system_id
        self.tags = tags

    def execute(self, context: Any) -> dict[str, Any]:
        tags = {k: str(v) for k, v in dict(self.tags).items()}
        if not self.set_task_arn or not self.file_system_id:
            raise PermanentFailure(
                f"a DataSync restore needs the set's task ({self.set_task_arn!r}) and the "
                f"restored file system ({self.file_system_id!r})"
            )
        folder = restore_folder(self.restore_id)
        task = self._restore_task(folder, tags)
        described = self.hook.get_task_description(task)
        arn = self._reusable_execution(task, tags)
        if arn:
            self.log.info("DataSync execution %s of %s exists (a retry)", arn, self.restore_id)
        else:
            arn = self.hook.start_execution_once(
                task,
                tag_list(tags),
                datasync_excludes(),
                lambda: self._reusable_execution(task, tags),
            )
        return {
            "task_arn": task,
            "task_execution_arn": arn,
            "source_location_arn": described["SourceLocationArn"],
            "destination_location_arn": described["DestinationLocationArn"],
            "file_system_id": self.file_system_id,
            "folder": folder,
        }

    def _restore_task(self, folder: str, tags: dict[str, str]) -> str:
        """The restore's task: found by its name (a retry), or created with its destination."""
        name = restore_task_name(self.restore_id)
        found = self.hook.task_named(name)
        if found:
            self.log.info("DataSync task %s exists (a retry)", name)
            return found
        set_task = self.hook.get_task_description(self.set_task_arn)
        network = self.hook.describe_location_efs(set_task["SourceLocationArn"])["Ec2Config"]
        destination = self.hook.efs_location(self.file_system_id, folder, network, tag_list(tags))
        task = self.hook.get_conn().create_task(
            SourceLocationArn=set_task["DestinationLocationArn"],
            DestinationLocationArn=destination,
            Name=name,
            Options=TASK_OPTIONS,
            Excludes=datasync_excludes(),
            Tags=tag_list(tags),
        )["TaskArn"]
        self.log.info(
            "DataSync task %s created: the set's folder %s into %s:%s",
            name,
            set_task["DestinationLocationArn"],
            self.file_system_id,
            folder,
        )
        return task

    def _reusable_execution(self, task: str, tags: dict[str, str]) -> str | None:
        """The restore's execution that runs or succeeded; None when there is none (or only
        failed ones: the copy is then started again)."""
        found = [e for e in self.hook.executions_tagged(task, tags) if e.get("Status") != "ERROR"]
        return found[-1]["TaskExecutionArn"] if found else None


class DataSyncReleaseRestoreCopyOperator(AwsBaseOperator[DataSyncHook]):
    """After the restore's copy succeeded: record it, then delete its task and destination.

    ``copy`` is ``DataSyncRestoreCopyOperator``'s return value. The execution must
    have succeeded (``PermanentFailure`` otherwise: nothing is deleted); its
    counts are returned for the report. Then ``DataSyncHook.remove_restore_copy``
    deletes the restore's task and its destination location, found by their name
    and URI and refused unless they carry ``tags`` and no set's tag: the set's
    task and its folder's location (the copy's source) are never touched.
    Idempotent: a retry finds them gone. Returns ``{"task_execution_arn",
    "status", "started", "files_transferred", "bytes_transferred", "deleted"}``.
    """

    aws_hook_class = DataSyncHook
    template_fields = aws_template_fields("botocore_config", "restore_id", "copy", "tags")

    def __init__(
        self, *, restore_id: str, copy: dict[str, Any], tags: dict[str, str], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.restore_id = restore_id
        self.copy = copy
        self.tags = tags

    def execute(self, context: Any) -> dict[str, Any]:
        arn = (self.copy or {}).get("task_execution_arn")
        if not arn:
            raise PermanentFailure("no DataSync copy was started in this run: nothing to release")
        execution = self._execution(arn)
        if execution.get("Status") != "SUCCESS":
            raise PermanentFailure(
                f"the DataSync copy {arn} is {execution.get('Status')}, not SUCCESS: its task "
                "is kept (clear copy_efs to copy again)"
            )
        owner = {k: str(v) for k, v in dict(self.tags).items()}
        deleted = self.hook.remove_restore_copy(self.restore_id, owner)
        started = execution.get("StartTime")
        return {
            "task_execution_arn": arn,
            "status": execution["Status"],
            "started": started.isoformat() if hasattr(started, "isoformat") else started,
            "files_transferred": execution.get("FilesTransferred"),
            "bytes_transferred": execution.get("BytesTransferred"),
            "deleted": deleted,
        }

    def _execution(self, arn: str) -> dict[str, Any]:
        """The copy's execution; after an earlier try deleted its task (DataSync then no longer
        describes it), what that try had seen: it deleted only after a SUCCESS."""
        from botocore.exceptions import ClientError

        try:
            return self.hook.describe_task_execution(arn)
        except ClientError as error:
            gone = self.hook.task_named(restore_task_name(self.restore_id)) is None
            if error.response.get("Error", {}).get("Code") != "InvalidRequestException" or not gone:
                raise
        self.log.info("The copy's task was deleted by an earlier try, after its SUCCESS")
        return {"TaskExecutionArn": arn, "Status": "SUCCESS"}
