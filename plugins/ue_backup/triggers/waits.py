"""How long a wait checks, where it ends, and how its outcome reaches the task.

The helpers every wait shares, whichever class waits: the AWS sensors
(``sensors.base``), the Kubernetes sensors and operators that defer
(``sensors.ecd``, ``sensors.velero``, ``operators.kube_job``,
``operators.drill``), the DAG files' critical-path waits, and the task steps
that wait between checks. They sit in the trigger layer, below all of those,
because a wait is defined by its trigger (``triggers.base``); nothing here
calls AWS or Kubernetes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from ue_backup.errors import PermanentFailure


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
