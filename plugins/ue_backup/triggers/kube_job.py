"""Wait for a Kubernetes Job to end, without holding a worker slot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from ue_backup.hooks.kube_job import KubeJobHook
from ue_backup.triggers.base import failure, success, trigger_classpath


class KubeJobCompleteTrigger(BaseTrigger):
    """Fires when the Job succeeded (with its log) or failed (with its reason and log)."""

    def __init__(
        self,
        *,
        namespace: str,
        name: str,
        poll_interval: float = 10.0,
        kubernetes_conn_id: str = "kubernetes_default",
    ) -> None:
        super().__init__()
        self.namespace = namespace
        self.name = name
        self.poll_interval = poll_interval
        self.kubernetes_conn_id = kubernetes_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            trigger_classpath(self),
            {
                "namespace": self.namespace,
                "name": self.name,
                "poll_interval": self.poll_interval,
                "kubernetes_conn_id": self.kubernetes_conn_id,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = KubeJobHook(conn_id=self.kubernetes_conn_id)
        while True:
            state, log = await asyncio.to_thread(hook.job_outcome, self.namespace, self.name)
            if state == "succeeded":
                yield success(name=self.name, log=log)
                return
            if state == "failed":
                yield failure(f"Job {self.namespace}/{self.name} failed: {log}", name=self.name)
                return
            self.log.info("Job %s/%s still running", self.namespace, self.name)
            await asyncio.sleep(self.poll_interval)
