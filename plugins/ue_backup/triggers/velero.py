"""Wait for a Velero Backup or Restore to finish, without holding a worker slot."""

from __future__ import annotations

from typing import Any

from airflow.triggers.base import TriggerEvent

from ue_backup.kube_names import FINISHED_PHASES
from ue_backup.triggers.base import PollingTrigger, failure, success


def describe_outcome(kind: str, obj: dict[str, Any]) -> str:
    """One line with the phase, error and warning counts and Velero's reasons."""
    status = obj.get("status") or {}
    parts = [
        f"Velero {kind} {obj['metadata']['name']}: phase {status.get('phase', 'New')}",
        f"errors {status.get('errors', 0)}",
        f"warnings {status.get('warnings', 0)}",
    ]
    if status.get("failureReason"):
        parts.append(f"failure reason: {status['failureReason']}")
    if status.get("validationErrors"):
        parts.append(f"validation errors: {'; '.join(status['validationErrors'])}")
    return ", ".join(parts)


def verdict(
    kind: str, name: str, obj: dict[str, Any] | None, allow_partially_failed: bool
) -> tuple[bool, bool, str]:
    """(finished, succeeded, message) for a Velero object as read; one rule for all waiters."""
    if obj is None:
        return True, False, f"Velero {kind} {name} does not exist"
    phase = (obj.get("status") or {}).get("phase")
    if phase not in FINISHED_PHASES:
        return False, False, f"Velero {kind} {name}: phase {phase or 'New'}"
    ok = phase == "Completed" or (phase == "PartiallyFailed" and allow_partially_failed)
    return True, ok, describe_outcome(kind, obj)


class VeleroPhaseTrigger(PollingTrigger):
    """Fires when a Velero ``backup`` or ``restore`` reaches a finished phase.

    Completed is success; PartiallyFailed is success only when allowed;
    Failed and FailedValidation are failures. The event's message names the
    phase with the error and warning counts.
    """

    serialized = (
        "namespace",
        "name",
        "kind",
        "allow_partially_failed",
        "poll_interval",
        "kubernetes_conn_id",
        "end_task",
    )

    def __init__(
        self,
        *,
        namespace: str,
        name: str,
        kind: str = "backup",
        allow_partially_failed: bool = False,
        poll_interval: float = 10.0,
        kubernetes_conn_id: str = "kubernetes_default",
        end_task: bool = False,
    ) -> None:
        super().__init__()
        self.end_task = end_task
        if kind not in ("backup", "restore"):
            raise ValueError(f"kind {kind!r} is not 'backup' or 'restore'")
        self.namespace = namespace
        self.name = name
        self.kind = kind
        self.allow_partially_failed = allow_partially_failed
        self.poll_interval = poll_interval
        self.kubernetes_conn_id = kubernetes_conn_id

    def check(self) -> TriggerEvent | None:
        from ue_backup.hooks.velero import VeleroHook  # not at parse: see kube_names

        hook = VeleroHook(conn_id=self.kubernetes_conn_id)
        read = hook.get_backup if self.kind == "backup" else hook.get_restore
        finished, ok, message = verdict(
            self.kind, self.name, read(self.namespace, self.name), self.allow_partially_failed
        )
        if finished:
            return (success if ok else failure)(message=message, name=self.name)
        self.log.info(message)
        return None


def deletion_outcome(hook: Any, namespace: str, name: str) -> tuple[bool, list[str] | None]:
    """(dealt with, Velero's errors) for a backup whose deletion was requested.

    Dealt with: the backup is gone (no errors), or Velero processed the
    request and the backup is still there (its errors, or "processed, backup
    kept"). Velero never looks at a processed request again, so waiting
    longer for it would only delay the report: a retry makes a new request.
    """
    if hook.get_backup(namespace, name) is None:
        return True, None
    status = (hook.get_delete_request(namespace, name) or {}).get("status") or {}
    if status.get("phase") == "Processed":
        return True, status.get("errors") or ["processed, backup kept"]
    return False, None


class VeleroDeletionTrigger(PollingTrigger):
    """Fires when Velero has dealt with every requested backup deletion, or at ``deadline``.

    ``backups`` are ``[namespace, name]`` pairs. The event always reports
    success with what was seen: ``refused`` (name: Velero's errors) for the
    backups Velero kept, and ``left`` for those still not dealt with at
    ``deadline`` (epoch seconds). Judging is the task's: retention deletes
    everything else first and reports each backup it could not delete.
    Reads only; a transient error is "not yet", another ends the wait failed.
    """

    serialized = ("backups", "deadline", "poll_interval", "kubernetes_conn_id")

    def __init__(
        self,
        *,
        backups: list[list[str]],
        deadline: float,
        poll_interval: float = 5.0,
        kubernetes_conn_id: str = "kubernetes_default",
    ) -> None:
        super().__init__()
        self.backups = [list(pair) for pair in backups]
        self.deadline = deadline
        self.poll_interval = poll_interval
        self.kubernetes_conn_id = kubernetes_conn_id

    def check(self) -> TriggerEvent | None:
        import time

        from ue_backup.hooks.velero import VeleroHook  # not at parse: see kube_names

        hook = VeleroHook(conn_id=self.kubernetes_conn_id)
        refused: dict[str, list[str]] = {}
        left: list[str] = []
        for namespace, name in self.backups:
            dealt_with, errors = deletion_outcome(hook, namespace, name)
            if errors:
                refused[name] = errors
            elif not dealt_with:
                left.append(name)
        if left and time.time() < self.deadline:
            self.log.info("Velero has not deleted these backups yet: %s", left)
            return None
        return success(refused=refused, left=left)
