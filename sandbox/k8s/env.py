"""A container's environment as the kubelet builds it: ``valueFrom`` resolved to values.

``env[].valueFrom.secretKeyRef`` and ``configMapKeyRef`` become plain ``value``s read
from the pod's namespace before the container starts (a Secret's ``data`` is base64, as
the API serves it). A missing object or key, unless the reference is ``optional``,
keeps the container waiting with ``CreateContainerConfigError`` and the kubelet's own
message, and is tried again on the next pass, as on a node. Other ``valueFrom`` sources
(``fieldRef``, ``resourceFieldRef``) are not needed here and are refused.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from sandbox.k8s.resources import CONFIGMAPS, SECRETS
from sandbox.k8s.store import Obj, Store


class EnvError(Exception):
    """A reference the kubelet cannot resolve yet; the message is the pod's waiting message."""


def resolve_env(store: Store, namespace: str, container: Obj) -> Obj:
    """A copy of ``container`` whose every ``env`` entry has a plain ``value``."""
    resolved = copy.deepcopy(container)
    entries = []
    for entry in resolved.get("env") or []:
        source = entry.get("valueFrom")
        if source is None:
            entries.append(entry)
            continue
        value = _value_from(store, namespace, entry["name"], source)
        if value is not None:
            entries.append({"name": entry["name"], "value": value})
    resolved["env"] = entries
    return resolved


def _value_from(store: Store, namespace: str, name: str, source: dict[str, Any]) -> str | None:
    if "secretKeyRef" in source:
        ref, kind, rt = source["secretKeyRef"], "secret", SECRETS
    elif "configMapKeyRef" in source:
        ref, kind, rt = source["configMapKeyRef"], "configmap", CONFIGMAPS
    else:
        raise EnvError(f"env {name}: the sandbox resolves only secretKeyRef and configMapKeyRef")
    obj = store.find(rt, namespace, ref.get("name", ""))
    data = (obj or {}).get("data") or {}
    if obj is None or ref.get("key") not in data:
        if ref.get("optional"):
            return None
        if obj is None:
            raise EnvError(f'{kind} "{ref.get("name")}" not found')
        raise EnvError(
            f"couldn't find key {ref.get('key')} in {kind.capitalize()} "
            f"{namespace}/{ref.get('name')}"
        )
    value = data[ref["key"]]
    return base64.b64decode(value).decode() if rt is SECRETS else value
