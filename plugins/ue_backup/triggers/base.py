"""What every ue-backup trigger shares, and the one way an operator waits.

A wait is described once, as a trigger. A deferrable task hands it to the
triggerer and frees its worker slot; a non-deferrable one runs the very same
trigger to its first event in the worker (``run_inline``). Either way the
wait logic, its failure states and its messages are the same code.

A trigger built with ``end_task=True`` ends its task itself when the wait
succeeds (``TaskSuccessEvent``): the task never goes back to a worker, which
on a real deployment saves a worker start (a scheduler loop, a process, a DAG
parse: about a second) on each wait where seconds count. A failure still goes
back to the worker, so it fails there like any other: the task's
``execute_complete`` raises with the trigger's message, retries apply, and
the failure callback sends its one alert.

Such a task returns no XCom. The triggerer could push one, but Airflow 3.3
stores it JSON-encoded once more than a worker does, so a task reading it
would get text instead of the value; only waits whose result nothing reads
end here (``tests/dags/test_poll_pace.py`` checks that).

Every wait treats a transient error (throttling, a 5xx answer, a lost
connection: ``ue_backup.transient``) as "not yet" and checks again at its
next interval, until its own timeout; only a failure state or another error
ends it as failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import jmespath
from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger
from airflow.triggers.base import BaseTrigger, TaskSuccessEvent, TriggerEvent
from botocore.exceptions import WaiterError

from ue_backup.transient import is_transient


def first_event(trigger: BaseTrigger) -> TriggerEvent:
    """Run ``trigger`` in this process until its first event, and return that event."""

    async def first() -> TriggerEvent:
        async for event in trigger.run():
            return event
        raise RuntimeError(f"{type(trigger).__name__} ended without an event")

    return asyncio.run(first())


def run_inline(trigger: BaseTrigger) -> dict[str, Any]:
    """Run ``trigger`` in this process until its first event; returns the event's payload."""
    return first_event(trigger).payload


def trigger_classpath(trigger: BaseTrigger) -> str:
    """The dotted path the triggerer imports the trigger by (always under ``ue_backup.``)."""
    return f"{type(trigger).__module__}.{type(trigger).__qualname__}"


def success(**payload: Any) -> TriggerEvent:
    return TriggerEvent({"status": "success", **payload})


def failure(message: str, kind: str = "failed", **payload: Any) -> TriggerEvent:
    """A wait that ended badly: ``kind`` "failed" (a failure state: the task fails for
    good) or "error" (the check itself failed, access denied say: the task's retries
    apply, with a new client and new credentials)."""
    return TriggerEvent({"status": "error", "kind": kind, "message": message, **payload})


def is_success(event: TriggerEvent) -> bool:
    return isinstance(event.payload, dict) and event.payload.get("status") == "success"


class AwsConnectionFields:
    """A hand-written trigger's AWS connection: its four fields, serialized with the rest,
    and the hooks built from them (as the provider's ``AwsBaseWaiterTrigger`` does)."""

    CONNECTION_FIELDS = ("aws_conn_id", "region_name", "verify", "botocore_config")
    aws_conn_id: str | None
    region_name: str | None
    verify: bool | str | None
    botocore_config: dict[str, Any] | None

    def aws_hook(self, hook_class: type[AwsBaseHook]) -> Any:
        return hook_class(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.botocore_config,
        )


class EndsTaskOnSuccess:
    """What a trigger needs to end its task itself on success (``end_task``)."""

    end_task: bool = False

    def ending(self, event: TriggerEvent) -> TriggerEvent:
        """``event``, or the TaskSuccessEvent that replaces it when this trigger ends the task.

        The success payload is logged, so what the worker would have logged
        (a Job's output, Velero's counts) is in the task's log all the same.
        """
        if not (self.end_task and is_success(event)):
            return event
        self.log.info(  # type: ignore[attr-defined]
            "Wait succeeded (%s); the task ends here, in the triggerer",
            {k: v for k, v in event.payload.items() if k != "status"},
        )
        return TaskSuccessEvent()


class ResourceWaiterTrigger(EndsTaskOnSuccess, AwsBaseWaiterTrigger):
    """Wait with one botocore waiter for one resource, named by ``resource_id``.

    Subclasses only declare the hook, the waiter, the argument naming the
    resource, and what to log; the triggerer rebuilds them from
    ``resource_id``, ``end_task`` and the connection parameters.
    """

    aws_hook_class = AwsBaseHook
    WAITER: str
    ID_ARGUMENT: str
    WHAT: str
    STATUS_QUERIES: list[str]
    DELAY = 30
    MAX_ATTEMPTS = 2880  # a day at 30 s, 12 hours at 15 s: no fixed 20-minute cap

    def __init__(
        self,
        *,
        resource_id: str,
        waiter_delay: int | None = None,
        waiter_max_attempts: int | None = None,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
        end_task: bool = False,
    ) -> None:
        self.end_task = end_task
        super().__init__(
            serialized_fields={"resource_id": resource_id, "end_task": end_task},
            waiter_name=self.WAITER,
            waiter_args={self.ID_ARGUMENT: resource_id},
            failure_message=f"{self.WHAT} {resource_id} failed",
            status_message=f"{self.WHAT} {resource_id} in progress",
            status_queries=self.STATUS_QUERIES,
            return_key="resource_id",
            return_value=resource_id,
            waiter_delay=self.DELAY if waiter_delay is None else waiter_delay,
            waiter_max_attempts=self.MAX_ATTEMPTS
            if waiter_max_attempts is None
            else waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
        )

    def status(self, response: dict[str, Any] | None) -> str:
        """The resource's state as the waiter saw it: the status queries' values, as the
        provider words them (``FAILED - no space``)."""
        values = (jmespath.search(query, response or {}) for query in self.status_queries)
        return " - ".join(str(v) for v in values if v not in (None, ""))

    def judge(self, error: BaseException) -> tuple[str, str] | None:
        """What one waiter check that raised ``error`` means.

        None: not yet (still running, or a transient error: throttling, 5xx,
        a lost connection). Otherwise ``("failed", message)`` for a failure
        state the waiter's acceptors name, ``("error", message)`` for another
        error (access denied, a resource that does not exist). The sensor's
        poke and this trigger's loop both judge by this.
        """
        if isinstance(error, WaiterError) and "terminal failure" in str(error):
            return "failed", f"{self.failure_message}: {self.status(error.last_response)}"
        if is_transient(error):
            self.log.info("%s: not yet (transient error: %s)", self.status_message, error)
            return None
        if isinstance(error, WaiterError):
            if (error.last_response or {}).get("Error"):
                return "error", f"{self.failure_message}: {error}"
            return None  # the one attempt ended without a final state: still running
        return "error", f"{self.failure_message}: {type(error).__name__}: {error}"

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Check every ``waiter_delay`` seconds, ``attempts`` times, one waiter attempt each.

        Not the provider's ``async_wait``: that fails on a connection error,
        and on an error answer outside its list of retriable codes (a 5xx
        ``ServiceUnavailableException``, say); here every transient error is
        "not yet" and counts as one check, so the wait ends at its own time.
        """
        hook = self.hook()
        async with await hook.get_async_conn() as client:
            waiter = hook.get_waiter(
                self.waiter_name,
                deferrable=True,
                client=client,
                config_overrides=self.waiter_config_overrides,
            )
            for attempt in range(self.attempts):
                if attempt:
                    await asyncio.sleep(self.waiter_delay)
                try:
                    await waiter.wait(**self.waiter_args, WaiterConfig={"MaxAttempts": 1})
                except Exception as error:  # judged: a failure, or not yet
                    verdict = self.judge(error)
                    if verdict is not None:
                        kind, message = verdict
                        yield failure(message, kind, **{self.return_key: self.return_value})
                        return
                    continue
                yield self.ending(success(**{self.return_key: self.return_value}))
                return
        yield failure(
            f"{self.status_message}: still not finished after {self.attempts} checks "
            f"{self.waiter_delay} s apart",
            **{self.return_key: self.return_value},
        )


class PollingTrigger(EndsTaskOnSuccess, BaseTrigger):
    """Poll a synchronous check until it gives an event; the Kubernetes waits share this loop.

    Subclasses list their constructor arguments in ``serialized`` (each stored
    as an attribute of that name) and implement ``check``, which runs in a
    thread with the same hook the non-deferred path uses, so both paths judge
    alike. ``check`` returns an event to end the wait, or None to poll again
    after ``poll_interval`` seconds. A subclass that can end its task lists
    ``end_task`` among its arguments. A check that raises a transient error
    (``ue_backup.transient``) counts as "not yet"; any other error ends the wait.
    """

    serialized: tuple[str, ...] = ()
    poll_interval: float

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return trigger_classpath(self), {name: getattr(self, name) for name in self.serialized}

    def check(self) -> TriggerEvent | None:
        raise NotImplementedError

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            try:
                event = await asyncio.to_thread(self.check)
            except Exception as error:
                if not is_transient(error):
                    raise
                self.log.info("Not yet: transient error, checking again: %s", error)
                event = None
            if event is not None:
                yield self.ending(event)
                return
            await asyncio.sleep(self.poll_interval)
