"""Wait until suspended EC Deployments have no replicas and no pods left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator

from ue_backup.triggers.ecd import EcdDrainedTrigger
from ue_backup.triggers.waits import done_inline, ended_by_trigger, event_or_fail, poll_interval


class EcdDrainedSensor(BaseSensorOperator):
    """Succeeds when every ECD in ``names`` has drained; fails at the drain timeout.

    The timeout fails the task permanently with the ECDs and pods still
    running, so the teardown resumes the workflows at once.

    It checks inline for the first ``inline_wait_seconds`` (every half
    second) before it defers: an EC pod usually stops within seconds, and a
    round trip through the triggerer costs a few seconds more, all of them
    inside the cold window. A drain that takes longer defers as usual.
    """

    template_fields = ("namespace", "names", "drain_timeout_minutes", "kubernetes_conn_id")

    def __init__(
        self,
        *,
        namespace: str,
        names: list[str] | str,
        drain_timeout_minutes: int | str = 15,
        kubernetes_conn_id: str = "kubernetes_default",
        deferrable: bool = True,
        inline_wait_seconds: float = 15.0,
        end_from_trigger: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", poll_interval(5))
        super().__init__(**kwargs)
        self.namespace = namespace
        self.names = names
        self.drain_timeout_minutes = drain_timeout_minutes
        self.kubernetes_conn_id = kubernetes_conn_id
        self.deferrable = deferrable
        self.inline_wait_seconds = inline_wait_seconds
        self.end_from_trigger = end_from_trigger

    @property
    def drain_timeout(self) -> timedelta:
        return timedelta(minutes=float(self.drain_timeout_minutes))

    def execute(self, context: Any) -> Any:
        if not self.names:
            self.log.info("No ECD was suspended: nothing to drain")
            return []
        self.timeout = self.drain_timeout.total_seconds()
        if not self.deferrable:
            super().execute(context)  # returns None: give the same XCom as execute_complete
            return list(self.names)
        if done_inline(lambda: self.poke({}), min(self.inline_wait_seconds, self.timeout)):
            self.log.info("All %d ECD(s) drained", len(self.names))
            return list(self.names)
        deadline = datetime.now(UTC) + self.drain_timeout
        self.defer(
            trigger=EcdDrainedTrigger(
                namespace=self.namespace,
                names=list(self.names),
                deadline=deadline.isoformat(),
                poll_interval=float(self.poke_interval),
                kubernetes_conn_id=self.kubernetes_conn_id,
                end_task=self.end_from_trigger,
            ),
            method_name="execute_complete",
            timeout=self.drain_timeout + timedelta(minutes=1),
        )

    def poke(self, context: Any) -> bool:
        from ue_backup.hooks.ecd import EcdHook  # not at parse: see kube_names

        still = EcdHook(conn_id=self.kubernetes_conn_id).running(self.namespace, self.names)
        if still:
            self.log.info("Still running: %s", still)
        return not still

    def execute_complete(
        self, context: Any, event: dict[str, Any] | None = None
    ) -> list[str] | None:
        if ended_by_trigger(event):
            return None
        event_or_fail(event)
        self.log.info("All %d ECD(s) drained", len(self.names))
        return list(self.names)
