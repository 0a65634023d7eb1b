"""Wait until suspended EC Deployments have drained, without holding a worker slot."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.triggers.base import TriggerEvent

from ue_backup.triggers.base import PollingTrigger, failure, success


class EcdDrainedTrigger(PollingTrigger):
    """Fires when none of ``names`` has replicas or pods left, or fails at ``deadline``.

    The checks are the hook's own, so the deferred and the inline wait decide
    "stopped" exactly alike.
    """

    serialized = (
        "namespace",
        "names",
        "deadline",
        "poll_interval",
        "kubernetes_conn_id",
        "end_task",
    )

    def __init__(
        self,
        *,
        namespace: str,
        names: list[str],
        deadline: str,
        poll_interval: float = 5.0,
        kubernetes_conn_id: str = "kubernetes_default",
        end_task: bool = False,
    ) -> None:
        super().__init__()
        self.end_task = end_task
        self.namespace = namespace
        self.names = list(names)
        self.deadline = deadline
        self.poll_interval = poll_interval
        self.kubernetes_conn_id = kubernetes_conn_id

    def check(self) -> TriggerEvent | None:
        from ue_backup.hooks.ecd import EcdHook  # not at parse: see kube_names

        still = EcdHook(conn_id=self.kubernetes_conn_id).running(self.namespace, self.names)
        if not still:
            return success(names=self.names)
        if datetime.now(UTC) >= datetime.fromisoformat(self.deadline):
            detail = "; ".join(
                f"{name}: pods {pods or '(replicas reported)'}" for name, pods in still.items()
            )
            return failure(
                f"ECDs still running at the drain deadline {self.deadline}: {detail}",
                still_running=sorted(still),
            )
        self.log.info("Waiting for %d ECD(s) to drain: %s", len(still), sorted(still))
        return None
