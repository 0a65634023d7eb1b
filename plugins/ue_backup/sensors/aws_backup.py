"""Sensors for AWS Backup jobs: FAILED, ABORTED, EXPIRED and PARTIAL fail a completion wait."""

from __future__ import annotations

import time
from typing import Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from ue_backup.compat import AirflowSkipException
from ue_backup.database_point import DEFAULT_WAIT_MINUTES
from ue_backup.hooks.aws_backup import AwsBackupHook
from ue_backup.sensors.base import AwsWaiterSensor
from ue_backup.states import run_task_states, state_value
from ue_backup.triggers.aws_backup import (
    AwsBackupCopyJobCompleteTrigger,
    AwsBackupJobCompleteTrigger,
    AwsBackupRestoreJobCompleteTrigger,
    RdsBackupPointFixedTrigger,
)
from ue_backup.triggers.base import run_inline
from ue_backup.triggers.waits import ended_by_trigger, poll_interval


class AwsBackupJobCompletedSensor(AwsWaiterSensor):
    """Wait for a backup job (``resource_id``: BackupJobId)."""

    trigger_class = AwsBackupJobCompleteTrigger


class AwsBackupRestoreJobCompletedSensor(AwsWaiterSensor):
    """Wait for a restore job (``resource_id``: RestoreJobId)."""

    trigger_class = AwsBackupRestoreJobCompleteTrigger


class AwsBackupCopyJobCompletedSensor(AwsWaiterSensor):
    """Wait for a copy job (``resource_id``: CopyJobId)."""

    trigger_class = AwsBackupCopyJobCompleteTrigger


class RdsBackupPointFixedSensor(AwsBaseSensor[AwsBackupHook]):
    """Hold the cold window until the database's AWS Backup job has fixed its point.

    See ``ue_backup.database_point``: a job out of its queue may not have taken
    its snapshot yet (the instance is still busy with the set's manual one),
    and the disk's point must come after the database's (rule 1). It never
    fails the window: a job that did not start (``job_task_id`` failed), ended
    without a snapshot, could not be read, or no snapshot at ``timeout``, is a
    warning here and a loud failure after the window (the job's wait, the
    locked set's rule 1 in ``verify``), while the disk's backup goes on. So it
    runs whatever its upstream did (the DAG gives it ``all_done``) and skips only
    when the job was skipped (no locked copy asked for). What is left to fail it
    is the worker or triggerer itself, where its retries are wanted.

    :param job_id: the AWS Backup job (``job_task_id``'s ``job_id``).
    :param job_task_id: the task that started it.
    """

    aws_hook_class = AwsBackupHook
    template_fields = aws_template_fields("botocore_config", "job_id")

    def __init__(
        self,
        *,
        job_id: str | None,
        job_task_id: str,
        deferrable: bool = True,
        end_from_trigger: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", poll_interval(5))
        kwargs.setdefault("timeout", DEFAULT_WAIT_MINUTES * 60)
        super().__init__(**kwargs)
        self.job_id, self.job_task_id = job_id, job_task_id
        self.deferrable, self.end_from_trigger = deferrable, end_from_trigger

    def execute(self, context: Any) -> dict[str, Any] | None:
        if not self.job_id:
            state = state_value(run_task_states(context["ti"]).get(self.job_task_id))
            if state in ("skipped", "upstream_failed"):  # no locked copy asked, or no window
                raise AirflowSkipException(f"{self.job_task_id} is {state}: nothing to wait for")
            return self._not_fixed(f"{self.job_task_id} started no job (it is {state})")
        trigger = RdsBackupPointFixedTrigger(
            job_id=self.job_id,
            # The bound counts from now; the trigger ends itself there (no deferral timeout,
            # which would fail the task instead).
            deadline=time.time() + float(self.timeout),
            poll_interval=self.poke_interval,
            end_task=self.end_from_trigger,
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            botocore_config=self.botocore_config,
        )
        if not self.deferrable:
            return self.execute_complete(context, run_inline(trigger))
        self.defer(trigger=trigger, method_name="execute_complete")
        return None

    def poke(self, context: Any) -> bool:  # pragma: no cover - execute never pokes
        raise NotImplementedError("RdsBackupPointFixedSensor waits through its trigger")

    def execute_complete(
        self, context: Any, event: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        if ended_by_trigger(event):
            return None
        if not event or event.get("status") != "success":
            return self._not_fixed(f"reading it failed: {(event or {}).get('message')}")
        if not event.get("fixed"):
            return self._not_fixed(str(event.get("why")))
        self.log.info("Database point fixed: %s", event.get("why"))
        return {"fixed": True, "at": event.get("at"), "why": event.get("why")}

    def _not_fixed(self, why: str) -> dict[str, Any]:
        self.log.warning(
            "The database's AWS Backup point is not fixed before the disk's backup: %s. The "
            "window goes on (the night's home set does not depend on it); after the window "
            "the job's wait or verify's rule 1 for the locked set fails the run",
            why,
        )
        return {"fixed": False, "at": None, "why": why}
