"""The EFS restore's start (``restore_efs``), whichever method backed the set up.

An AWS Backup set is restored by a restore job (``AwsBackupStartEfsRestoreJobOperator``,
which this operator is when the plan does not copy). A DataSync set is a folder on
the target file system: it is copied back (``operators/datasync.py``) into a file
system that must exist first. In place that is the live one; side by side (always in
a drill) this step creates it, shaped like the live one (``restored_shape``:
performance and throughput modes, encryption under the live key, the live tags
beside the restore's own; a drill's takes no live tags), with the restore's token
as its ``CreationToken`` so a retry finds it, and waits until EFS has made it
``available`` (EFS refuses mount targets before): in the worker for a few seconds,
then in the triggerer. One operator for both methods, so the task keeps its id
(``restore_efs``) whatever the configuration, and a DAG built for both (the
configuration in the Variable) decides when it runs, from the plan.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ue_backup.operators.aws_backup import AwsBackupStartEfsRestoreJobOperator, _flag
from ue_backup.triggers.efs import EfsFileSystemAvailableTrigger
from ue_backup.triggers.waits import (
    SHORT_WAIT_INLINE_SECONDS,
    done_inline,
    event_or_fail,
    poll_interval,
)

# How long EFS may take to make a new file system available before the wait gives up.
AVAILABLE_TIMEOUT = timedelta(minutes=30)


class EfsRestoreStartOperator(AwsBackupStartEfsRestoreJobOperator):
    """``restore_efs``: an AWS Backup restore job, or (``datasync``) the file system a
    DataSync copy is restored into.

    With ``datasync`` (the plan's ``copy_efs``) no job is started; returns
    ``{"file_system_id", "new", "shape", "region"}``: in place (``new_file_system``
    false) the live ``file_system_id``; side by side a new file system made with
    ``idempotency_token`` as its creation token and tagged ``tags``, once it is
    ``available``. ``temporary`` (a drill): none of the live tags. Without
    ``datasync``, the AWS Backup restore job as before (``{"job_id", "region", "shape"}``).
    """

    template_fields = (*AwsBackupStartEfsRestoreJobOperator.template_fields, "datasync", "tags")

    def __init__(
        self,
        *,
        datasync: bool | str = False,
        tags: dict[str, str] | None = None,
        temporary: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.datasync = datasync
        self.tags = tags
        self.temporary = temporary

    def execute(self, context: Any) -> dict[str, Any]:
        if not _flag(self.datasync):
            return super().execute(context)
        found = self._copy_target()
        if found.pop("available") or not found["new"]:
            return found
        efs, fs_id = self.efs_hook(), found["file_system_id"]
        if done_inline(
            lambda: efs.describe_file_system(fs_id)["LifeCycleState"] == "available",
            SHORT_WAIT_INLINE_SECONDS,
        ):
            return found
        self.log.info("File system %s is not available yet: waiting in the triggerer", fs_id)
        self.defer(
            trigger=EfsFileSystemAvailableTrigger(
                resource_id=fs_id,
                waiter_delay=poll_interval(EfsFileSystemAvailableTrigger.DELAY),
                waiter_max_attempts=int(
                    AVAILABLE_TIMEOUT.total_seconds()
                    // max(poll_interval(EfsFileSystemAvailableTrigger.DELAY), 1)
                ),
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                verify=self.verify,
                botocore_config=self.botocore_config,
            ),
            method_name="execute_complete",
            timeout=AVAILABLE_TIMEOUT,
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict:
        """The new file system is available: the same answer as ``execute`` (found again by
        its creation token: ``dag.test()`` resumes without the deferral's kwargs)."""
        event_or_fail(event)
        found = self._copy_target()
        found.pop("available")
        return found

    def _copy_target(self) -> dict[str, Any]:
        """The file system the copy goes into: the live one in place; else the new one,
        created unless an earlier try created it (``available``: whether it is already)."""
        from ue_backup.restored_shape import efs_create_arguments, efs_tags

        region = self.hook.conn_region_name
        if not _flag(self.new_file_system):
            self.log.info(
                "In place: the copy goes into the live file system %s", self.file_system_id
            )
            return {
                "file_system_id": self.file_system_id,
                "new": False,
                "shape": None,
                "region": region,
                "available": True,
            }
        live = self.live_file_system()
        shape = self._shape(live)
        efs = self.efs_hook()
        created = efs.file_system_by_token(self.idempotency_token)  # a retry, or a resume
        if created is None:
            arguments = efs_create_arguments(
                shape,
                region,
                creation_token=self.idempotency_token,
                tags={k: str(v) for k, v in dict(self.tags or {}).items()},
                live_tags=efs_tags(live) if live and not self.temporary else None,
            )
            created = efs.create_file_system(arguments)
            self.log.info(
                "File system %s created for the copy, shaped %s",
                created["FileSystemId"],
                {k: v for k, v in arguments.items() if k != "Tags"},
            )
        return {
            "file_system_id": created["FileSystemId"],
            "new": True,
            "shape": shape,
            "region": region,
            "available": created.get("LifeCycleState") == "available",
        }
