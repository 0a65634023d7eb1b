"""Velero's backup and restore controllers: the phases and status of Backup and
Restore objects, one of each in progress at a time (others wait in New, as Velero's
single worker makes them).

Backup: New (or no phase) -> InProgress (``startTimestamp``, ``expiration`` from
``spec.ttl``, default 720h, ``progress.totalItems``) -> after ``durations.velero``
the selected objects are captured into the backup store and the phase becomes
Completed (``completionTimestamp``, ``progress.itemsBackedUp``). Capturing at the end
of the window is the latest a real backup could read an object, so a test sees the
worst case. Invalid include/exclude lists end in FailedValidation.

Restore: New -> InProgress -> after ``durations.velero`` the items are re-created
(:mod:`sandbox.k8s.velero.restorer`) and the phase becomes Completed, or
PartiallyFailed when items failed. A missing or unfinished backup, a bad
``existingResourcePolicy`` or an unusable resource modifier end in FailedValidation
with ``validationErrors``.

DeleteBackupRequest (what ``velero backup delete`` creates): Velero's deletion
controller. A request for a backup that does not exist, or is still running, or one
hit by an ``outcome`` fault on (``k8s``, ``velero-deletebackuprequest``,
``<ns>/deletebackuprequests/<name>``) ends ``Processed`` with that error and the
backup kept; otherwise the backup goes ``Deleting``, its data
leaves the backup store, the Restores made from it and then the Backup object are
deleted, the request ends ``Processed`` without errors and every request for that
backup is removed (as Velero does once a deletion succeeded). The mutation log gets
``velero-backup-deleted``.

Fault ``outcome`` on (``k8s``, ``velero-backup`` / ``velero-restore``,
``<ns>/backups|restores/<name>``) with ``state`` PartiallyFailed or Failed ends the
object so: PartiallyFailed still stores (restores) the items and counts one error,
Failed stores (restores) nothing and sets ``failureReason`` to the fault's message.
Errors and warnings are counts and, like Velero's JSON, omitted when zero. The
mutation log gets ``velero-backup-started`` / ``velero-backup-finished`` (and the
restore equivalents) with the phase.
"""

from __future__ import annotations

from typing import Any

from sandbox.faults import Fault
from sandbox.k8s.controllers.loop import ControllerContext
from sandbox.k8s.resources import (
    BACKUPS,
    CONFIGMAPS,
    DELETE_BACKUP_REQUESTS,
    RESTORES,
    ResourceType,
)
from sandbox.k8s.store import Obj
from sandbox.k8s.timestamps import parse_go_duration, rfc3339
from sandbox.k8s.velero import modifiers
from sandbox.k8s.velero.restorer import Restorer
from sandbox.k8s.velero.selection import select
from sandbox.k8s.velero.storage import BackupStorage

DEFAULT_TTL = "720h0m0s"
_WAITING = ("", "New")
_RESTORABLE = ("Completed", "PartiallyFailed")
_NO_SOURCE = (
    "Either a backup or schedule must be specified as a source for the restore, but not both"
)


def _phase(obj: Obj) -> str:
    return (obj.get("status") or {}).get("phase") or ""


def _counts(**counts: int) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v}


def _backup_problems(spec: dict[str, Any]) -> list[str]:
    """Velero's validation of a Backup spec (the part the sandbox models)."""
    overlap = set(spec.get("includedNamespaces") or []) & set(spec.get("excludedNamespaces") or [])
    problems = [
        "Invalid included/excluded namespace lists: "
        f"excludes list cannot contain an item in the includes list: {ns}"
        for ns in sorted(overlap)
    ]
    if spec.get("labelSelector") and spec.get("orLabelSelectors"):
        problems.append(
            "encountered labelSelector as well as orLabelSelectors in backup spec, "
            "only one can be specified"
        )
    try:
        parse_go_duration(spec.get("ttl") or DEFAULT_TTL)
    except ValueError as error:
        problems.append(str(error))
    return problems


class VeleroController:
    time_driven = True  # each backup and restore takes durations.velero

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self.storage = BackupStorage(ctx.root / "velero")
        self.restorer = Restorer(ctx.store, ctx.log)
        self._started: dict[str, float] = {}  # uid -> when it went InProgress
        self._rules: dict[str, list[dict[str, Any]]] = {}  # restore uid -> its modifiers

    def reset(self) -> None:
        self._started.clear()
        self._rules.clear()
        self.storage.clear()

    def reconcile(self, now: float) -> None:
        for rt, start, finish in (
            (BACKUPS, self._start_backup, self._finish_backup),
            (RESTORES, self._start_restore, self._finish_restore),
        ):
            objects = self.ctx.store.list(rt)
            running = [o for o in objects if _phase(o) == "InProgress"]
            for obj in running:
                started = self._started.setdefault(obj["metadata"]["uid"], now)
                if now - started >= self.ctx.durations.velero:
                    finish(obj, now)
            waiting = [o for o in objects if _phase(o) in _WAITING]
            if waiting and not running:
                start(min(waiting, key=lambda o: int(o["metadata"]["resourceVersion"])), now)
        for request in self.ctx.store.list(DELETE_BACKUP_REQUESTS):
            if _phase(request) != "Processed":
                self._delete_backup(request)

    def _write_status(
        self, rt: ResourceType, obj: Obj, status: dict[str, Any], milestone: str
    ) -> None:
        def mutate(current: Obj) -> Obj:
            current["status"] = {**(current.get("status") or {}), **status}
            return current

        meta = obj["metadata"]
        self.ctx.store.update(rt, meta["namespace"], meta["name"], mutate)
        target = f"{meta['namespace']}/{rt.plural}/{meta['name']}"
        operation = f"velero-{rt.singular}-{milestone}"
        self.ctx.log.record("k8s", operation, target, phase=status["phase"])

    def _outcome(self, rt: ResourceType, obj: Obj) -> Fault | None:
        meta = obj["metadata"]
        target = f"{meta['namespace']}/{rt.plural}/{meta['name']}"
        return self.ctx.faults.take("k8s", f"velero-{rt.singular}", target, kind="outcome")

    # backups

    def _start_backup(self, backup: Obj, now: float) -> None:
        spec = backup.get("spec") or {}
        problems = _backup_problems(spec)
        if problems:
            status = {"phase": "FailedValidation", "validationErrors": problems}
            self._write_status(BACKUPS, backup, status, "finished")
            return
        self._started[backup["metadata"]["uid"]] = now
        status = {
            "phase": "InProgress",
            "version": 1,
            "formatVersion": "1.1.0",
            "startTimestamp": rfc3339(now),
            "expiration": rfc3339(now + parse_go_duration(spec.get("ttl") or DEFAULT_TTL)),
            "progress": {"totalItems": len(select(self.ctx.store, spec)), "itemsBackedUp": 0},
        }
        self._write_status(BACKUPS, backup, status, "started")

    def _finish_backup(self, backup: Obj, now: float) -> None:
        fault = self._outcome(BACKUPS, backup)
        phase = fault.state if fault and fault.state else "Completed"
        items = [] if phase == "Failed" else select(self.ctx.store, backup.get("spec") or {})
        status: dict[str, Any] = {
            "phase": phase,
            "completionTimestamp": rfc3339(now),
            "progress": {"totalItems": len(items), "itemsBackedUp": len(items)},
            **_counts(errors=0 if phase == "Completed" else 1),
        }
        if phase == "Failed":
            status["failureReason"] = fault.message
        else:
            self.storage.write_backup({**backup, "status": {**backup["status"], **status}}, items)
        self._write_status(BACKUPS, backup, status, "finished")

    # deletions

    def _delete_backup(self, request: Obj) -> None:
        """Velero's backup deletion controller, for one DeleteBackupRequest."""
        namespace = request["metadata"]["namespace"]
        name = (request.get("spec") or {}).get("backupName") or ""
        backup = self.ctx.store.find(BACKUPS, namespace, name) if name else None
        if not name:
            errors = ["spec.backupName is required"]
        elif backup is None:
            errors = ["backup not found"]
        elif _phase(backup) in (*_WAITING, "InProgress"):
            errors = ["backup is still in progress"]
        elif fault := self._outcome(DELETE_BACKUP_REQUESTS, request):
            # e.g. the object store refused: Velero keeps the backup and says why
            errors = [f"error deleting backup's data: {fault.message}"]
        else:
            self._write_status(BACKUPS, backup, {"phase": "Deleting"}, "deleting")
            self.storage.delete_backup(name)
            for restore in self.ctx.store.list(RESTORES, namespace):
                if (restore.get("spec") or {}).get("backupName") == name:
                    self.ctx.store.delete(RESTORES, namespace, restore["metadata"]["name"])
            self.ctx.store.delete(BACKUPS, namespace, name)
            self.ctx.log.record("k8s", "velero-backup-deleted", f"{namespace}/backups/{name}")
            errors = []
        status = {"phase": "Processed", **({"errors": errors} if errors else {})}
        self._write_status(DELETE_BACKUP_REQUESTS, request, status, "processed")
        if not errors:
            for done in self.ctx.store.list(DELETE_BACKUP_REQUESTS, namespace):
                if (done.get("spec") or {}).get("backupName") == name:
                    self.ctx.store.delete(
                        DELETE_BACKUP_REQUESTS, namespace, done["metadata"]["name"]
                    )

    # restores

    def _modifier_rules(self, restore: Obj) -> list[dict[str, Any]]:
        """The rules of the restore's resource-modifier ConfigMap; ModifierError if unusable."""
        reference = (restore.get("spec") or {}).get("resourceModifier")
        if not reference:
            return []
        namespace, name = restore["metadata"]["namespace"], reference.get("name", "")
        if str(reference.get("kind", "")).lower() != "configmap":
            raise modifiers.ModifierError(f"Invalid resource modifier kind {reference.get('kind')}")
        config_map = self.ctx.store.find(CONFIGMAPS, namespace, name)
        if config_map is None:
            raise modifiers.ModifierError(
                f"Error in fetching ConfigMap {namespace}/{name}: not found"
            )
        try:
            return modifiers.load(config_map)
        except modifiers.ModifierError as error:
            raise modifiers.ModifierError(
                "Error in parsing resource modifiers provided in configmap "
                f"{namespace}/{name}: {error}"
            ) from error

    def _restore_problems(self, restore: Obj) -> list[str]:
        """Velero's restore validation: source backup, policy and resource modifiers."""
        spec = restore.get("spec") or {}
        name = spec.get("backupName")
        if not name:
            return [_NO_SOURCE]
        backup = self.ctx.store.find(BACKUPS, restore["metadata"]["namespace"], name)
        if backup is None:
            return [f'Error retrieving backup: backups.velero.io "{name}" not found']
        problems = []
        if _phase(backup) not in _RESTORABLE or not self.storage.has_backup(name):
            problems.append(
                f"Backup {name} is in phase {_phase(backup) or 'New'}; "
                "only Completed or PartiallyFailed backups can be restored"
            )
        policy = spec.get("existingResourcePolicy")
        if policy not in (None, "", "none", "update"):
            problems.append(f"Invalid existing resource policy {policy}")
        try:
            self._modifier_rules(restore)
        except modifiers.ModifierError as error:
            problems.append(str(error))
        return problems

    def _start_restore(self, restore: Obj, now: float) -> None:
        problems = self._restore_problems(restore)
        if problems:
            status = {"phase": "FailedValidation", "validationErrors": problems}
            self._write_status(RESTORES, restore, status, "finished")
            return
        uid = restore["metadata"]["uid"]
        self._started[uid] = now
        self._rules[uid] = self._modifier_rules(restore)
        items = self.storage.read_items(restore["spec"]["backupName"])
        total = len(self.restorer.selected(items, restore["spec"]))
        status = {
            "phase": "InProgress",
            "startTimestamp": rfc3339(now),
            "progress": {"totalItems": total, "itemsRestored": 0},
        }
        self._write_status(RESTORES, restore, status, "started")

    def _finish_restore(self, restore: Obj, now: float) -> None:
        fault = self._outcome(RESTORES, restore)
        rules = self._rules.pop(restore["metadata"]["uid"], [])
        status: dict[str, Any] = {"completionTimestamp": rfc3339(now)}
        if fault and fault.state == "Failed":
            status.update(phase="Failed", failureReason=fault.message, errors=1)
            self._write_status(RESTORES, restore, status, "finished")
            return
        items = self.storage.read_items(restore["spec"]["backupName"])
        result = self.restorer.restore(restore, items, rules)
        failed = bool(result.errors) or bool(fault and fault.state)
        phase = (
            (fault.state if fault and fault.state else "PartiallyFailed") if failed else "Completed"
        )
        status.update(
            phase=phase,
            progress={
                "totalItems": len(self.restorer.selected(items, restore["spec"])),
                "itemsRestored": result.restored,
            },
            **_counts(errors=len(result.errors) or int(failed), warnings=len(result.warnings)),
        )
        results = {"errors": result.errors, "warnings": result.warnings}
        self.storage.write_restore_results(restore["metadata"]["name"], results)
        self._write_status(RESTORES, restore, status, "finished")
