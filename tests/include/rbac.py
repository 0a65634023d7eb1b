"""Kubernetes RBAC, evaluated for recorded API requests the way the API server authorizes them.

The RBAC objects (``include/k8s/rbac.yaml``, rendered) grant a service
account rules through bindings: a Role through a RoleBinding in its own
namespace, a ClusterRole through a ClusterRoleBinding everywhere (cluster
scoped resources included) or through a RoleBinding in that binding's
namespace. A request (verb, API group, resource with its subresource,
namespace, name) is allowed when a rule granted to the account in the
request's namespace lists its group, resource and verb (and its name, when
the rule has ``resourceNames``). Paths that name no resource are the
discovery documents every authenticated user may read (``system:discovery``).

Wildcards (``*`` in groups, resources or verbs) are refused: the point is to
list exactly what is used. ``unused`` lists every (role, group, resource,
verb) the account is granted that no request needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# What system:discovery and system:public-info-viewer let every authenticated user read.
DISCOVERY = ("/api", "/apis", "/version", "/healthz", "/livez", "/readyz", "/openapi")


class RbacError(ValueError):
    """The RBAC objects use something this evaluator refuses (wildcards, unknown kinds)."""


@dataclass(frozen=True)
class Grant:
    """One verb on one resource of one group, from one role, in one namespace ("" = all)."""

    role: str  # "Role/<ns>/<name>" or "ClusterRole/<name>"
    namespace: str  # where it applies; "" for everywhere (ClusterRoleBinding)
    group: str
    resource: str
    verb: str
    names: tuple[str, ...] = ()

    def describe(self) -> str:
        where = self.namespace or "all namespaces"
        group = self.group or "core"
        return f"{self.role}: {self.verb} {self.resource} ({group}) in {where}"


@dataclass(frozen=True)
class Subject:
    namespace: str
    name: str


def _subject_matches(subjects: Iterable[Mapping[str, Any]], who: Subject) -> bool:
    return any(
        s.get("kind") == "ServiceAccount"
        and s.get("name") == who.name
        and s.get("namespace") == who.namespace
        for s in subjects or []
    )


def _rules(role: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rules = role.get("rules") or []
    for rule in rules:
        for key in ("apiGroups", "resources", "verbs"):
            if "*" in (rule.get(key) or []):
                raise RbacError(f"wildcard in {key} of {role['metadata']['name']}: {rule}")
        if rule.get("nonResourceURLs"):
            raise RbacError("nonResourceURLs are not needed: discovery is granted to everyone")
    return rules


def grants(objects: Iterable[Mapping[str, Any]], who: Subject) -> list[Grant]:
    """Everything ``who`` is granted by ``objects``, one Grant per verb and resource."""
    objects = list(objects)
    kinds = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ServiceAccount"}
    for obj in objects:
        if obj.get("kind") not in kinds:
            raise RbacError(f"unexpected object {obj.get('kind')}")
    identities = [
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objects
    ]
    twice = sorted({i for i in identities if identities.count(i) > 1})
    if twice:
        raise RbacError(f"objects defined twice (one would replace the other): {twice}")
    roles = {
        identity: o
        for identity, o in zip(identities, objects, strict=True)
        if o["kind"] in ("Role", "ClusterRole")
    }
    found: list[Grant] = []
    for binding in objects:
        if binding["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        if not _subject_matches(binding.get("subjects"), who):
            continue
        ref = binding["roleRef"]
        namespace = binding["metadata"].get("namespace", "")
        if binding["kind"] == "ClusterRoleBinding" and ref["kind"] != "ClusterRole":
            name = binding["metadata"]["name"]
            raise RbacError(f"{name}: a ClusterRoleBinding binds ClusterRoles only")
        key = (ref["kind"], namespace if ref["kind"] == "Role" else "", ref["name"])
        role = roles.get(key)
        if role is None:
            raise RbacError(f"{binding['metadata']['name']} binds {key}, which is not defined")
        label = f"{ref['kind']}/{namespace + '/' if ref['kind'] == 'Role' else ''}{ref['name']}"
        for rule in _rules(role):
            names = tuple(rule.get("resourceNames") or ())
            for group in rule.get("apiGroups") or [""]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        found.append(Grant(label, namespace, group, resource, verb, names))
    return found


def _applies(grant: Grant, request: Mapping[str, Any]) -> bool:
    if grant.namespace and grant.namespace != request["namespace"]:
        return False
    if (grant.group, grant.resource, grant.verb) != (
        request["service"],
        request["resource"],
        request["operation"],
    ):
        return False
    if grant.names:  # resourceNames never cover a create, a list or a watch
        return request["operation"] not in ("create", "list", "watch", "deletecollection") and (
            request["name"] in grant.names
        )
    return True


def describe(request: Mapping[str, Any]) -> str:
    where = request["namespace"] or "cluster scope"
    group = request["service"] or "core"
    name = f"/{request['name']}" if request.get("name") else ""
    return (
        f"{request['operation']} {request['resource']}{name} ({group}) in {where} "
        f"[{request.get('test', '?')}]"
    )


@dataclass
class Verdict:
    denied: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)


def evaluate(
    requests: Iterable[Mapping[str, Any]],
    grants_for: Any,
    all_grants: Iterable[Grant],
) -> Verdict:
    """Each request against ``grants_for(request)`` (the account's grants for the RBAC
    rendered for its installation); ``unused``: grants of ``all_grants`` never needed."""
    verdict = Verdict()
    used: set[tuple[str, str, str, str]] = set()
    for request in requests:
        if not request["resource"]:
            if not request["path"].startswith(DISCOVERY):
                verdict.denied.append(f"non-resource path {request['path']}")
            continue
        matching = [g for g in grants_for(request) if _applies(g, request)]
        if not matching:
            verdict.denied.append(describe(request))
        used.update((g.role, g.group, g.resource, g.verb) for g in matching)
    verdict.unused = sorted(
        {g.describe() for g in all_grants if (g.role, g.group, g.resource, g.verb) not in used}
    )
    return verdict
