"""Re-creating a backup's items, as Velero's restore does.

Items are filtered by the Restore's namespace/resource/label rules (with
``namespaceMapping``), Velero's non-restorable types (events, Velero's own objects)
are skipped, and the rest are created in Velero's priority order (volumes, claims,
config maps, pods, then the others by name). Each item loses its server-set metadata
and its status, gets the ``velero.io/backup-name`` / ``velero.io/restore-name``
labels, Velero's pod and job actions (no ``nodeName``; no generated job selector)
and then the resource modifiers. An item that already exists is left alone with a
warning when it differs (``existingResourcePolicy: none``) or updated to the backed-up
version (``update``). Every created or updated item is recorded in the mutation log
as ``velero-restored``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from sandbox.k8s import errors
from sandbox.k8s.defaults import JOB_NAME_LABEL, JOB_UID_LABEL
from sandbox.k8s.resources import JOBS, PODS, ResourceType
from sandbox.k8s.store import Obj, Store
from sandbox.k8s.velero import modifiers
from sandbox.k8s.velero.selection import (
    Item,
    labels_selected,
    namespace_included,
    resource_included,
)
from sandbox.mutation_log import MutationLog

NON_RESTORABLE = {
    "events",
    "events.events.k8s.io",
    "nodes",
    "backups.velero.io",
    "restores.velero.io",
}
PRIORITY = ["persistentvolumes", "persistentvolumeclaims", "configmaps", "pods"]
_KEEP_METADATA = ("name", "namespace", "labels", "annotations", "finalizers", "ownerReferences")


@dataclass
class RestoreResult:
    restored: int = 0
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _order(item: Item) -> tuple[int, str]:
    group_resource = item[0].group_resource
    rank = PRIORITY.index(group_resource) if group_resource in PRIORITY else len(PRIORITY)
    return rank, group_resource


def _prepared(rt: ResourceType, obj: Obj, spec: dict[str, Any], backup: str, restore: str) -> Obj:
    meta = {k: v for k, v in obj["metadata"].items() if k in _KEEP_METADATA}
    if rt.namespaced:
        meta["namespace"] = (spec.get("namespaceMapping") or {}).get(
            meta["namespace"], meta["namespace"]
        )
    meta["labels"] = {
        **meta.get("labels", {}),
        "velero.io/backup-name": backup,
        "velero.io/restore-name": restore,
    }
    item = {k: copy.deepcopy(v) for k, v in obj.items() if k not in ("metadata", "status")}
    item["metadata"] = meta
    if rt == PODS:
        item["spec"].pop("nodeName", None)
    if rt == JOBS:
        item["spec"].pop("selector", None)
        template_labels = item["spec"].get("template", {}).get("metadata", {}).get("labels", {})
        for label in (JOB_UID_LABEL, JOB_NAME_LABEL, "controller-uid", "job-name"):
            template_labels.pop(label, None)
            meta["labels"].pop(label, None)
    return item


def _differs(existing: Obj, wanted: Obj) -> bool:
    def comparable(obj: Obj) -> Obj:
        labels = {
            k: v
            for k, v in (obj["metadata"].get("labels") or {}).items()
            if not k.startswith("velero.io/")
        }
        body = {
            k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")
        }
        return {"labels": labels, "annotations": obj["metadata"].get("annotations") or {}, **body}

    return comparable(existing) != comparable(wanted)


class Restorer:
    def __init__(self, store: Store, log: MutationLog) -> None:
        self.store = store
        self.log = log

    def selected(self, items: list[Item], spec: dict[str, Any]) -> list[Item]:
        """The backup items this Restore spec takes, in restore order."""
        chosen = [
            (rt, obj)
            for rt, obj in items
            if rt.group_resource not in NON_RESTORABLE
            and resource_included(rt, spec)
            and (not rt.namespaced or namespace_included(obj["metadata"]["namespace"], spec))
            and (rt.namespaced or spec.get("includeClusterResources") is not False)
            and labels_selected(obj, spec)
        ]
        return sorted(chosen, key=_order)

    def restore(
        self, restore: Obj, items: list[Item], rules: list[dict[str, Any]]
    ) -> RestoreResult:
        spec, result = restore["spec"], RestoreResult()
        policy = spec.get("existingResourcePolicy") or "none"
        for rt, obj in self.selected(items, spec):
            wanted = _prepared(rt, obj, spec, spec["backupName"], restore["metadata"]["name"])
            meta = wanted["metadata"]
            where = f"{rt.group_resource} {meta.get('namespace', '')}/{meta['name']}"
            try:
                wanted = modifiers.apply(rules, wanted, rt.group_resource)
            except modifiers.ModifierError as error:
                result.errors.append(f"{where}: {error}")
                continue
            self._restore_item(rt, wanted, policy, where, result)
        return result

    def _restore_item(
        self, rt: ResourceType, wanted: Obj, policy: str, where: str, result: RestoreResult
    ) -> None:
        namespace, name = wanted["metadata"].get("namespace"), wanted["metadata"]["name"]
        try:
            self.store.create(rt, namespace, wanted)
            self._record(rt, wanted, "created")
            result.restored += 1
            return
        except errors.ApiError as error:
            if error.reason != "AlreadyExists":
                result.errors.append(f"error restoring {where}: {error.message}")
                return
        existing = self.store.get(rt, namespace, name)
        if not _differs(existing, wanted):
            result.restored += 1
            return
        if policy != "update":
            result.warnings.append(
                f'could not restore, {rt.kind} "{name}" already exists. Warning: the in-cluster '
                "version is different than the backed-up version"
            )
            return

        def updated(current: Obj) -> Obj:
            merged = {**current, **{k: v for k, v in wanted.items() if k != "metadata"}}
            merged["metadata"] = {**current["metadata"], **wanted["metadata"]}
            return merged

        try:
            self.store.update(rt, namespace, name, updated)
        except errors.ApiError as error:
            result.warnings.append(f"could not update {where}: {error.message}")
            return
        self._record(rt, wanted, "updated")
        result.restored += 1

    def _record(self, rt: ResourceType, obj: Obj, action: str) -> None:
        meta = obj["metadata"]
        detail: dict[str, Any] = {"action": action}
        spec = obj.get("spec")
        if isinstance(spec, dict) and "enabled" in spec:
            detail["enabled"] = spec["enabled"]
        self.log.record(
            "k8s",
            "velero-restored",
            f"{meta.get('namespace', '')}/{rt.plural}/{meta['name']}",
            **detail,
        )
