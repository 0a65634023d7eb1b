"""Sensors that wait with the same definition as their trigger.

Each AWS sensor names one trigger class (``ResourceWaiterTrigger``). Poking
runs that trigger's botocore waiter once; deferring hands the trigger to the
triggerer. The waiter's acceptors are thus the single definition of success
and failure, whichever way the task waits.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from ue_backup.errors import PermanentFailure
from ue_backup.triggers.base import ResourceWaiterTrigger


def poll_interval(default: float) -> float:
    """Seconds between checks: ``default``, or ``UE_BACKUP_POLL_SECONDS`` when set.

    Real AWS jobs take minutes, so sensors check every 5 to 30 seconds; the
    sandbox finishes in well under a second, and tests and the demo set
    this variable to keep pace with it.
    """
    return float(os.environ.get("UE_BACKUP_POLL_SECONDS") or default)


# Waits on a critical path check every 5 s, whatever their service's usual pace: the wait
# that closes the cold window (the workflows stay suspended until it sees the EFS job end,
# so a 30 s pace would add 15 s of suspension on average) and a restore's waits (each
# second is recovery time, and a drill measures it). A few hundred describe calls an
# hour, well within the services' request limits.
CRITICAL_PATH_POLL_SECONDS = 5.0


# A wait usually over within seconds (mount targets, a Job on a small tree) checks in the
# worker this long before it defers: a trip through the triggerer costs a second or two.
SHORT_WAIT_INLINE_SECONDS = 15.0


def critical_path_wait(*, result_read: bool = False, short: bool = False) -> dict[str, Any]:
    """The keyword arguments of a wait on a critical path: its check interval, and ending
    in the triggerer on success (no worker start between the wait and the next step).

    A wait whose XCom a later task reads (``result_read``) resumes on a worker
    instead: a task ended in the triggerer returns no XCom. So does every
    wait where listeners are installed (``triggers_may_end_tasks``). A
    ``short`` wait first checks inline (``done_inline``).
    """
    kwargs: dict[str, Any] = {
        "poke_interval": poll_interval(CRITICAL_PATH_POLL_SECONDS),
        "end_from_trigger": not result_read and triggers_may_end_tasks(),
    }
    if short:
        kwargs["inline_wait_seconds"] = SHORT_WAIT_INLINE_SECONDS
    return kwargs


def triggers_may_end_tasks() -> bool:
    """False where listeners are installed (OpenLineage, a plugin's): Airflow refuses to
    load a DAG with a task ending in the triggerer then, since the listeners would miss
    that task's end. The waits then resume on a worker: a second slower, never broken."""
    try:
        from airflow.listeners.listener import get_listener_manager
    except ImportError:  # moved in a later Airflow: keep the path that always loads
        return False
    return not get_listener_manager().has_listeners


def ended_by_trigger(event: Any) -> bool:
    """True when the trigger ended the task itself (``end_task``) and the task resumes anyway.

    A deployment's triggerer marks such a task successful and never resumes
    it. ``dag.test()`` (``airflow dags test``) runs the trigger inline and
    resumes the task with the end event's payload, the state's name; the
    task then returns nothing, as in a deployment (no XCom).
    """
    return event == "success"


INLINE_CHECK_SECONDS = 0.5


def done_inline(check: Callable[[], Any], seconds: float) -> Any:
    """``check()`` every half second for up to ``seconds``: its first truthy result, or None.

    For a wait that is usually over within seconds (a drain, mount targets, a
    small Job): a round trip through the triggerer costs a second or two more
    (the triggerer picks up new triggers and reports events once a second),
    so such a wait first checks in the worker, and defers only if the work
    takes longer. A check that raises fails the task as the deferred wait would.
    """
    give_up = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() + INLINE_CHECK_SECONDS > give_up:
            return None
        time.sleep(INLINE_CHECK_SECONDS)


def event_or_fail(event: dict[str, Any] | None) -> dict[str, Any]:
    """The trigger event when it reports success; otherwise fail the task with its message.

    A failure state fails the task for good; an error of the check itself (kind
    "error": access denied while IAM propagates, expired credentials) fails this
    try only, so the task's retries ask again, as a poke's error does.
    """
    if not event or event.get("status") != "success":
        message = (event or {}).get("message") or f"wait failed: {event!r}"
        if (event or {}).get("kind") == "error":
            raise RuntimeError(message)
        raise PermanentFailure(message)
    return event


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
