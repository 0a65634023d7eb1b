"""Wait for a Kubernetes Job to end, without holding a worker slot."""

from __future__ import annotations

from airflow.triggers.base import TriggerEvent

from ue_backup.triggers.base import PollingTrigger, failure, success


class KubeJobCompleteTrigger(PollingTrigger):
    """Fires when the Job succeeded (with its log) or failed (with its reason and log)."""

    serialized = ("namespace", "name", "poll_interval", "kubernetes_conn_id", "end_task")

    def __init__(
        self,
        *,
        namespace: str,
        name: str,
        poll_interval: float = 10.0,
        kubernetes_conn_id: str = "kubernetes_default",
        end_task: bool = False,
    ) -> None:
        super().__init__()
        self.end_task = end_task
        self.namespace = namespace
        self.name = name
        self.poll_interval = poll_interval
        self.kubernetes_conn_id = kubernetes_conn_id

    def check(self) -> TriggerEvent | None:
        from ue_backup.hooks.kube_job import KubeJobHook  # not at parse: see kube_names

        hook = KubeJobHook(conn_id=self.kubernetes_conn_id)
        state, log = hook.job_outcome(self.namespace, self.name)
        if state == "succeeded":
            return success(name=self.name, log=log)
        if state == "failed":
            return failure(f"Job {self.namespace}/{self.name} failed: {log}", name=self.name)
        self.log.info("Job %s/%s still running", self.namespace, self.name)
        return None
