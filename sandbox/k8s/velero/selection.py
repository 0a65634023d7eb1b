"""Which objects a Backup (or a Restore, among a backup's items) selects, following
Velero's include/exclude rules.

Namespace lists accept ``*`` and globs; an empty include list means everything.
Resource lists take plural, ``plural.group``, kind or short names. ``labelSelector``
and ``orLabelSelectors`` apply to every item. Cluster-scoped items (PersistentVolumes)
follow ``includeClusterResources``: true takes them all, false none, and unset takes
them when every namespace is included or when a selected claim is bound to them.
Objects being deleted are skipped, as Velero's item backupper does.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from sandbox.k8s.resources import ALL, PVCS, ResourceType
from sandbox.k8s.selectors import from_label_selector, matches
from sandbox.k8s.store import Obj, Store

Item = tuple[ResourceType, Obj]


def _included(value: str, includes: list[str] | None, excludes: list[str] | None, match) -> bool:
    includes = includes or ["*"]
    if any(match(value, pattern) for pattern in excludes or []):
        return False
    return any(pattern == "*" or match(value, pattern) for pattern in includes)


def namespace_included(namespace: str, spec: dict[str, Any]) -> bool:
    return _included(
        namespace, spec.get("includedNamespaces"), spec.get("excludedNamespaces"), fnmatchcase
    )


def resource_included(rt: ResourceType, spec: dict[str, Any]) -> bool:
    return _included(
        "",
        spec.get("includedResources"),
        spec.get("excludedResources"),
        lambda _, name: rt.known_as(name),
    )


def labels_selected(obj: Obj, spec: dict[str, Any]) -> bool:
    labels = obj["metadata"].get("labels") or {}
    if spec.get("orLabelSelectors"):
        return any(matches(from_label_selector(s), labels) for s in spec["orLabelSelectors"])
    return matches(from_label_selector(spec.get("labelSelector")), labels)


def all_namespaces(spec: dict[str, Any]) -> bool:
    return spec.get("includedNamespaces") in (None, [], ["*"]) and not spec.get(
        "excludedNamespaces"
    )


def select(store: Store, spec: dict[str, Any]) -> list[Item]:
    """The live objects a Backup with this spec captures."""
    items: list[Item] = []
    for rt in ALL:
        if not rt.namespaced or not resource_included(rt, spec):
            continue
        for obj in store.list(rt):
            if (
                not obj["metadata"].get("deletionTimestamp")
                and namespace_included(obj["metadata"]["namespace"], spec)
                and labels_selected(obj, spec)
            ):
                items.append((rt, obj))
    return items + _cluster_items(store, spec, items)


def _cluster_items(store: Store, spec: dict[str, Any], namespaced: list[Item]) -> list[Item]:
    include = spec.get("includeClusterResources")
    if include is False:
        return []
    claimed = {obj["spec"].get("volumeName") for rt, obj in namespaced if rt == PVCS}
    items = []
    for rt in ALL:
        if rt.namespaced or not resource_included(rt, spec):
            continue
        for obj in store.list(rt):
            if include or all_namespaces(spec) or obj["metadata"]["name"] in claimed:
                items.append((rt, obj))
    return items
