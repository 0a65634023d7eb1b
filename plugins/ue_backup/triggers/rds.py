"""Wait for RDS snapshots, restored instances and the switch-over's renames, without a worker.

The provider's ``RdsSnapshotExistenceSensor`` only pokes and
``RdsCreateDbSnapshotOperator`` waits at most about 20 minutes; a large
snapshot can take hours, so these triggers use botocore's own
``db_snapshot_available`` and ``db_instance_available`` waiters with a
day-long budget. A rename has no waiter (the renamed id answers
"not found" for minutes, which the instance waiter takes for a failure):
``RdsSwitchOverTrigger`` reads the states and judges them with the
switch-over's own rule.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from ue_backup.hooks.rds import RdsHook
from ue_backup.switch_over import SWITCH_OVER_POLL_SECONDS, describe, next_step
from ue_backup.transient import is_transient
from ue_backup.triggers.base import (
    AwsConnectionFields,
    ResourceWaiterTrigger,
    failure,
    success,
    trigger_classpath,
)


class RdsSnapshotAvailableTrigger(ResourceWaiterTrigger):
    """Fires when a manual DB snapshot is ``available`` (``resource_id`` is its identifier)."""

    aws_hook_class = RdsHook
    WAITER = "db_snapshot_available"
    ID_ARGUMENT = "DBSnapshotIdentifier"
    WHAT = "RDS snapshot"
    STATUS_QUERIES = ["DBSnapshots[0].Status", "DBSnapshots[0].PercentProgress"]


class RdsInstanceAvailableTrigger(ResourceWaiterTrigger):
    """Fires when a (restored) DB instance is ``available``."""

    aws_hook_class = RdsHook
    WAITER = "db_instance_available"
    ID_ARGUMENT = "DBInstanceIdentifier"
    WHAT = "RDS DB instance"
    STATUS_QUERIES = ["DBInstances[0].DBInstanceStatus"]


class RdsSwitchOverTrigger(AwsConnectionFields, BaseTrigger):
    """Fires when the in-place switch-over has something to do again: a rename, or done.

    Reads only (the operator renames, in the worker): every ``poll_interval``
    seconds it reads the three ids' states and asks ``switch_over.next_step``.
    While RDS is still renaming ("wait") it reads again; "rename" or "done"
    fires success, and the operator reads the states itself and acts. States
    that make no sense ("stuck") end it as failed, but only when the same
    states are read twice in a row (``doubt`` carries the operator's own
    first reading): a rename ending between two reads must not fail a
    restore. Past ``deadline`` (epoch seconds) it fails with kind
    ``timeout``, naming the states, so a retry goes on from them. A transient
    error (``ue_backup.transient``) is "not yet".
    """

    def __init__(
        self,
        *,
        live: str,
        aside: str,
        restored: str,
        deadline: float,
        poll_interval: float = SWITCH_OVER_POLL_SECONDS,
        doubt: str | None = None,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.live, self.aside, self.restored = live, aside, restored
        self.deadline = deadline
        self.poll_interval = poll_interval
        self.doubt = doubt
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config

    def serialize(self) -> tuple[str, dict[str, Any]]:
        names = ("live", "aside", "restored", "deadline", "poll_interval", "doubt")
        names += self.CONNECTION_FIELDS
        return trigger_classpath(self), {name: getattr(self, name) for name in names}

    def hook(self) -> RdsHook:
        return self.aws_hook(RdsHook)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook, doubt, seen = self.hook(), self.doubt, {}
        # Each rename's old id before its new one (see RdsHook.instance_states).
        order = (self.restored, self.live, self.aside)
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                seen = await hook.instance_states_async(order)
            except Exception as error:
                if not is_transient(error):
                    yield failure(f"RDS switch-over of {self.live}: {error}", "error")
                    return
                self.log.info("RDS did not answer (%s): not yet", error)
            else:
                step = next_step(self.live, self.aside, self.restored, seen)
                if step.kind in ("rename", "done"):
                    yield success(step=step.kind, why=step.why)
                    return
                if step.kind == "stuck" and step.why == doubt:
                    message = f"RDS switch-over of {self.live} cannot go on: {step.why}"
                    yield failure(message)
                    return
                doubt = step.why if step.kind == "stuck" else None
                self.log.info("RDS switch-over of %s: not yet (%s)", self.live, step.why)
            if time.time() > self.deadline:
                yield failure(
                    f"RDS switch-over of {self.live} not done in its attempt's time: "
                    f"{describe(seen)}; a retry goes on from these states",
                    "timeout",
                )
                return
