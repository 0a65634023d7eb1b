"""The in-place restore's database switch-over: two renames, a deferred wait after each.

One operator, not a chain of tasks (rename aside, wait, rename into place,
wait). The next move is decided from RDS's states each time
(``switch_over.next_step``), never from which task ran last, so one task
that reads, acts and defers keeps that rule in one place: a retry, or a
resume after a wait, simply reads again and goes on where RDS is. The
restore's grid keeps one ``switch_over_database`` box between
``commit_point`` and ``place_efs``, which is what the in-place failure
report (``tasks.restore_commit``) reads as "the database was (not) switched".

RDS renames asynchronously (the old id ``renaming`` and the new one not
found, for minutes): between renames the task defers to
``RdsSwitchOverTrigger``, which frees the worker slot until there is
something to do again (``method_name`` continuation: ``execute_complete``
reads and acts once more). What the attempt has done so far (its renames,
its deadline) is kept in the task's XCom across the wait (``PROGRESS_KEY``),
not in the deferral's kwargs: ``dag.test()`` resumes a task with the event
alone, and XComs survive a deferral.
"""

from __future__ import annotations

import time
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from ue_backup.hooks.rds import RdsHook
from ue_backup.switch_over import (
    SWITCH_OVER_MINUTES,
    SWITCH_OVER_POLL_SECONDS,
    Step,
    next_step,
    replaced_name,
)
from ue_backup.transient import is_transient
from ue_backup.triggers.base import run_inline
from ue_backup.triggers.rds import RdsSwitchOverTrigger
from ue_backup.triggers.waits import event_or_fail, poll_interval

PROGRESS_KEY = "switch_over_progress"  # {"renamed": [...], "deadline": epoch seconds}


class RdsSwitchOverOperator(AwsBaseOperator[RdsHook]):
    """In place: the restored instance takes the live instance's name; the old one is kept.

    The live instance is renamed ``<name>-replaced-<restore id>``
    (``switch_over.replaced_name``, kept for the operator to delete), then
    the restored one gets the live name, so the platform's endpoint needs no
    change. Idempotent: a second run after the switch-over renames nothing.
    Fails for good on states this restore did not make (read twice), and
    with ``TimeoutError`` (retries apply) when one attempt is not done after
    ``attempt_seconds``, naming the states. Returns
    ``{"live", "replaced", "renamed"}``.
    """

    aws_hook_class = RdsHook
    template_fields = aws_template_fields(
        "botocore_config", "live_instance", "restored_instance", "restore_id"
    )

    def __init__(
        self,
        *,
        live_instance: str,
        restored_instance: str,
        restore_id: str,
        attempt_seconds: float | None = None,
        check_interval: float | None = None,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.live_instance = live_instance
        self.restored_instance = restored_instance
        self.restore_id = restore_id
        self.attempt_seconds = attempt_seconds
        self.check_interval = check_interval
        self.deferrable = deferrable

    @property
    def aside(self) -> str:
        return replaced_name(self.live_instance, self.restore_id)

    def execute(self, context: Any) -> dict[str, Any]:
        seconds = SWITCH_OVER_MINUTES * 60 if self.attempt_seconds is None else self.attempt_seconds
        return self._advance(context, renamed=[], deadline=time.time() + seconds)

    def _advance(self, context: Any, renamed: list[str], deadline: float) -> dict[str, Any]:
        """Rename while the states say so; done, or defer until there is a move to make."""
        live, restored, aside = self.live_instance, self.restored_instance, self.aside
        step: Step | None = None
        while True:
            try:
                seen = self.hook.instance_states((restored, live, aside))
            except Exception as error:
                if not is_transient(error):
                    raise
                self.log.warning("RDS did not answer (%s): not yet", error)
                break
            step = next_step(live, aside, restored, seen)
            if step.kind == "done":
                self.log.info("RDS switch-over of %s done: %s", live, step.why)
                return {"live": live, "replaced": aside, "renamed": renamed}
            if step.kind != "rename":
                break
            self.log.info("Renaming RDS instance %s to %s (%s)", step.old, step.new, step.why)
            self.hook.rename_instance(step.old, step.new)
            renamed.append(f"{step.old} -> {step.new}")
        if step is not None:
            self.log.info("RDS switch-over of %s: not yet (%s)", live, step.why)
        trigger = RdsSwitchOverTrigger(
            live=live,
            aside=aside,
            restored=restored,
            deadline=deadline,
            poll_interval=self.check_interval or poll_interval(SWITCH_OVER_POLL_SECONDS),
            doubt=step.why if step is not None and step.kind == "stuck" else None,
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            botocore_config=self.botocore_config,
        )
        if not self.deferrable:
            return self._after_wait(context, run_inline(trigger), renamed, deadline)
        context["ti"].xcom_push(key=PROGRESS_KEY, value={"renamed": renamed, "deadline": deadline})
        self.defer(trigger=trigger, method_name="execute_complete")

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resumed after a wait: this attempt's progress from XCom, then ``_after_wait``."""
        progress = context["ti"].xcom_pull(task_ids=self.task_id, key=PROGRESS_KEY)
        if not progress:  # never expected: a retry reads the states and starts again
            raise RuntimeError(f"{PROGRESS_KEY} is missing from this try's XCom")
        return self._after_wait(context, event, progress["renamed"], progress["deadline"])

    def _after_wait(
        self, context: Any, event: dict[str, Any] | None, renamed: list[str], deadline: float
    ) -> dict[str, Any]:
        """Fail with the trigger's message, or read the states and go on."""
        if (event or {}).get("kind") == "timeout":
            raise TimeoutError(event["message"])
        event_or_fail(event)
        return self._advance(context, list(renamed), deadline)
