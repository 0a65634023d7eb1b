"""Wait for a Velero Backup or Restore; PartiallyFailed fails unless allowed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator

from ue_backup.errors import PermanentFailure
from ue_backup.triggers.velero import VeleroPhaseTrigger, verdict
from ue_backup.triggers.waits import ended_by_trigger, event_or_fail, poll_interval


class _VeleroPhaseSensor(BaseSensorOperator):
    """Succeeds on Completed (or PartiallyFailed when allowed); fails with Velero's counts."""

    kind: str
    template_fields = ("namespace", "name", "allow_partially_failed", "kubernetes_conn_id")

    def __init__(
        self,
        *,
        name: str,
        namespace: str = "velero",
        allow_partially_failed: bool = False,
        kubernetes_conn_id: str = "kubernetes_default",
        deferrable: bool = True,
        end_from_trigger: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", poll_interval(10))
        kwargs.setdefault("timeout", 6 * 3600)
        super().__init__(**kwargs)
        self.name = name
        self.namespace = namespace
        self.allow_partially_failed = allow_partially_failed
        self.kubernetes_conn_id = kubernetes_conn_id
        self.deferrable = deferrable
        self.end_from_trigger = end_from_trigger

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            super().execute(context)
            return self.name
        self.defer(
            trigger=VeleroPhaseTrigger(
                namespace=self.namespace,
                name=self.name,
                kind=self.kind,
                allow_partially_failed=self.allow_partially_failed,
                poll_interval=float(self.poke_interval),
                kubernetes_conn_id=self.kubernetes_conn_id,
                end_task=self.end_from_trigger,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def poke(self, context: Any) -> bool:
        from ue_backup.hooks.velero import VeleroHook  # not at parse: see kube_names

        hook = VeleroHook(conn_id=self.kubernetes_conn_id)
        read = hook.get_backup if self.kind == "backup" else hook.get_restore
        finished, ok, message = verdict(
            self.kind, self.name, read(self.namespace, self.name), self.allow_partially_failed
        )
        self.log.info(message)
        if finished and not ok:
            raise PermanentFailure(message)
        return finished

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> str | None:
        if ended_by_trigger(event):
            return None
        self.log.info(event_or_fail(event)["message"])
        return self.name


class VeleroBackupCompletedSensor(_VeleroPhaseSensor):
    kind = "backup"


class VeleroRestoreCompletedSensor(_VeleroPhaseSensor):
    kind = "restore"
