"""Sensors that wait with the same definition as their trigger.

Each AWS sensor names one trigger class (``ResourceWaiterTrigger``). Poking
runs that trigger's botocore waiter once; deferring hands the trigger to the
triggerer. The waiter's acceptors are thus the single definition of success
and failure, whichever way the task waits.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from ue_backup.errors import PermanentFailure
from ue_backup.triggers.base import ResourceWaiterTrigger
from ue_backup.triggers.waits import done_inline, ended_by_trigger, event_or_fail, poll_interval


class AwsWaiterSensor(AwsBaseSensor):
    """Wait until an AWS resource reaches its success state; fail on its failure states.

    :param resource_id: the id the trigger's waiter takes (job id, snapshot name, ...).
    :param deferrable: wait in the triggerer (the default) instead of a worker slot.
    :param end_from_trigger: on success, end the task in the triggerer, without
        going back to a worker (see ``ue_backup.triggers.base``).
    :param inline_wait_seconds: check in the worker for this long before deferring
        (``done_inline``), for a wait that is usually over within seconds.
    """

    trigger_class: type[ResourceWaiterTrigger]
    template_fields = aws_template_fields("botocore_config", "resource_id")

    def __init__(
        self,
        *,
        resource_id: str,
        deferrable: bool = True,
        end_from_trigger: bool = False,
        inline_wait_seconds: float = 0.0,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", poll_interval(self.trigger_class.DELAY))
        kwargs.setdefault("timeout", self.trigger_class.DELAY * self.trigger_class.MAX_ATTEMPTS)
        super().__init__(**kwargs)
        self.resource_id = resource_id
        self.deferrable = deferrable
        self.end_from_trigger = end_from_trigger
        self.inline_wait_seconds = inline_wait_seconds

    @property
    def aws_hook_class(self):
        return self.trigger_class.aws_hook_class

    def trigger(self) -> ResourceWaiterTrigger:
        return self.trigger_class(
            resource_id=self.resource_id,
            waiter_delay=self.poke_interval,  # not int(): a sub-second interval is not 0
            waiter_max_attempts=max(1, int(self.timeout // max(self.poke_interval, 1))),
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            botocore_config=self.botocore_config,
            end_task=self.end_from_trigger,
        )

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            super().execute(context)
            return self.resource_id
        if self.inline_wait_seconds and done_inline(
            lambda: self.poke(context), self.inline_wait_seconds
        ):
            self.log.info("%s %s finished", self.trigger_class.WHAT, self.resource_id)
            return self.resource_id
        self.defer(
            trigger=self.trigger(),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def poke(self, context: Any) -> bool:
        """One waiter attempt, judged as the trigger judges its checks (``trigger.judge``):
        a failure state fails the task for good, another error fails this try (retries
        apply), a transient error or a state still in progress is "not yet"."""
        trigger = self.trigger()
        waiter = self.hook.get_waiter(trigger.waiter_name)
        try:
            waiter.wait(**trigger.waiter_args, WaiterConfig={"MaxAttempts": 1})
        except Exception as error:
            verdict = trigger.judge(error)
            if verdict is None:
                self.log.info("%s: not yet", trigger.status_message)
                return False
            kind, message = verdict
            if kind == "failed":
                raise PermanentFailure(message) from None
            raise RuntimeError(message) from error
        return True

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> str | None:
        if ended_by_trigger(event):
            return None
        event_or_fail(event)
        self.log.info("%s %s finished", self.trigger_class.WHAT, self.resource_id)
        return self.resource_id
