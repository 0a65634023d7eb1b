"""Wait until suspended EC Deployments have drained, without holding a worker slot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from ue_backup.hooks.ecd import EcdHook
from ue_backup.triggers.base import failure, success, trigger_classpath


class EcdDrainedTrigger(BaseTrigger):
    """Fires when none of ``names`` has replicas or pods left, or fails at ``deadline``.

    The checks are the hook's own (run in a thread), so the deferred and the
    inline wait decide "stopped" exactly alike.
    """

    def __init__(
        self,
        *,
        namespace: str,
        names: list[str],
        deadline: str,
        poll_interval: float = 5.0,
        kubernetes_conn_id: str = "kubernetes_default",
    ) -> None:
        super().__init__()
        self.namespace = namespace
        self.names = list(names)
        self.deadline = deadline
        self.poll_interval = poll_interval
        self.kubernetes_conn_id = kubernetes_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            trigger_classpath(self),
            {
                "namespace": self.namespace,
                "names": self.names,
                "deadline": self.deadline,
                "poll_interval": self.poll_interval,
                "kubernetes_conn_id": self.kubernetes_conn_id,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = EcdHook(conn_id=self.kubernetes_conn_id)
        deadline = datetime.fromisoformat(self.deadline)
        while True:
            still = await asyncio.to_thread(hook.running, self.namespace, self.names)
            if not still:
                yield success(names=self.names)
                return
            if datetime.now(UTC) >= deadline:
                detail = "; ".join(
                    f"{n}: pods {p or '(replicas reported)'}" for n, p in still.items()
                )
                yield failure(
                    f"ECDs still running at the drain deadline {self.deadline}: {detail}",
                    still_running=sorted(still),
                )
                return
            self.log.info("Waiting for %d ECD(s) to drain: %s", len(still), sorted(still))
            await asyncio.sleep(self.poll_interval)
