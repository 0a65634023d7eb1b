"""URL paths to what they address: a discovery document or a resource target.

Paths follow the API server's layout: ``/api/v1/...`` for the core group and
``/apis/<group>/<version>/...`` for the others, then
``[namespaces/<ns>/]<plural>[/<name>[/<subresource>]]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.k8s import discovery, errors
from sandbox.k8s.resources import PODS, ResourceType, lookup


@dataclass(frozen=True)
class Target:
    rt: ResourceType
    namespace: str | None  # None: cluster scoped, or a list across all namespaces
    name: str  # "" for collections
    subresource: str  # "", "status" or "log"

    @property
    def label(self) -> str:
        """``<namespace>/<plural>/<name>[/<subresource>]``, matched by faults and logged."""
        text = f"{self.namespace or ''}/{self.rt.plural}/{self.name}"
        return f"{text}/{self.subresource}" if self.subresource else text


def discovery_document(parts: list[str], address: str) -> dict[str, Any] | None:
    """The discovery answer for ``parts``, or None when the path is not a discovery path."""
    if parts == ["version"]:
        return discovery.VERSION
    if parts == ["api"]:
        return discovery.core_versions(address)
    if parts == ["apis"]:
        return discovery.group_list()
    if len(parts) == 2 and parts[0] == "apis":
        return discovery.group(parts[1]) or _raise_unknown()
    if parts == ["api", "v1"]:
        return discovery.resource_list("", "v1") or _raise_unknown()
    if len(parts) == 3 and parts[0] == "apis":
        return discovery.resource_list(parts[1], parts[2]) or _raise_unknown()
    return None


def _raise_unknown() -> dict[str, Any]:
    raise errors.unknown_resource()


def resource_target(parts: list[str]) -> Target:
    """The resource a path addresses; 404 for anything the server does not serve."""
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) > 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise errors.unknown_resource()
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    plural, tail = rest[0], rest[1:]
    rt = lookup(group, version, plural)
    if rt is None or len(tail) > 2 or (namespace is not None and not rt.namespaced):
        raise errors.unknown_resource()
    name = tail[0] if tail else ""
    subresource = tail[1] if len(tail) == 2 else ""
    if rt.namespaced and name and namespace is None:
        raise errors.unknown_resource()
    allowed = (
        {""} | ({"status"} if rt.status_subresource else set()) | ({"log"} if rt == PODS else set())
    )
    if subresource not in allowed:
        raise errors.unknown_resource()
    return Target(rt, namespace, name, subresource)
