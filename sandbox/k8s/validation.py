"""What the API server refuses before storing an object.

Two layers, as on a real server: a body that does not decode into the type's shape
(wrong JSON types in metadata) is a 400; a decodable object that breaks a field rule
is a 422 listing every broken field. Per-kind rules cover the fields this project and
its clients set; CRDs get the checks their OpenAPI schema would make.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sandbox.k8s import errors
from sandbox.k8s.resources import ResourceType
from sandbox.k8s.selectors import from_label_selector, matches

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

Causes = list[tuple[str, str]]


def check_decodable(body: Any) -> None:
    """400 for bodies a Go client type could not even unmarshal."""
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request must be a JSON object")
    meta = body.get("metadata", {})
    if not isinstance(meta, dict):
        raise errors.bad_request("json: cannot unmarshal metadata into Go struct field ObjectMeta")
    for field in ("labels", "annotations"):
        values = meta.get(field) or {}
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise errors.bad_request(
                f"json: cannot unmarshal metadata.{field} into Go struct field "
                f"ObjectMeta.metadata.{field} of type map[string]string"
            )


def validate(rt: ResourceType, obj: dict[str, Any]) -> None:
    """Raise a 422 naming every field of ``obj`` that a real server would refuse."""
    meta = obj.get("metadata") or {}
    causes = _metadata(meta) + _RULES.get(rt.plural, lambda _: [])(obj)
    if causes:
        raise errors.invalid(rt, meta.get("name") or "", causes)


def _metadata(meta: dict[str, Any]) -> Causes:
    causes: Causes = []
    name = meta.get("name") or ""
    if not name:
        causes.append(("metadata.name", "Required value: name or generateName is required"))
    elif len(name) > 253 or not _NAME.match(name):
        causes.append(
            (
                "metadata.name",
                f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower '
                "case alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character",
            )
        )
    for key, value in (meta.get("labels") or {}).items():
        if not _LABEL_KEY.match(key):
            causes.append(("metadata.labels", f'Invalid value: "{key}": name part must be valid'))
        if not _LABEL_VALUE.match(value):
            causes.append(
                (
                    "metadata.labels",
                    f'Invalid value: "{value}": a valid label must be 63 characters or less',
                )
            )
    return causes


def _typed(obj: dict[str, Any], path: str, expected: type, name: str) -> Causes:
    """A CRD schema type check on the field at the dotted ``path``, when present."""
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            return []
        current = current[part]
    # JSON booleans are Python ints too: only a boolean field accepts them.
    if current is None or (
        isinstance(current, expected) and (expected is bool) == isinstance(current, bool)
    ):
        return []
    shown = f'"{current}"' if isinstance(current, str) else repr(current)
    return [(path, f"Invalid value: {shown}: {path} in body must be of type {name}")]


def _containers(spec: dict[str, Any], prefix: str) -> Causes:
    containers = spec.get("containers") or []
    if not containers:
        return [(f"{prefix}.containers", "Required value")]
    causes: Causes = []
    for index, container in enumerate(containers):
        for field in ("name", "image"):
            if not container.get(field):
                causes.append((f"{prefix}.containers[{index}].{field}", "Required value"))
    return causes


def _ecdeployment(obj: dict[str, Any]) -> Causes:
    return (
        _typed(obj, "spec", dict, "object")
        + _typed(obj, "spec.enabled", bool, "boolean")
        + _typed(obj, "spec.workflows", list, "array")
        + _typed(obj, "spec.image", str, "string")
    )


def _backup(obj: dict[str, Any]) -> Causes:
    causes = _typed(obj, "spec.ttl", str, "string") + _typed(
        obj, "spec.labelSelector", dict, "object"
    )
    for field in (
        "includedNamespaces",
        "excludedNamespaces",
        "includedResources",
        "excludedResources",
    ):
        causes += _typed(obj, f"spec.{field}", list, "array")
    return causes


def _restore(obj: dict[str, Any]) -> Causes:
    causes = _typed(obj, "spec.backupName", str, "string")
    causes += _typed(obj, "spec.existingResourcePolicy", str, "string")
    return causes + _typed(obj, "spec.resourceModifier", dict, "object")


def _pod(obj: dict[str, Any]) -> Causes:
    return _containers(obj.get("spec") or {}, "spec")


def _job(obj: dict[str, Any]) -> Causes:
    spec = obj.get("spec") or {}
    pod_spec = (spec.get("template") or {}).get("spec") or {}
    causes = _containers(pod_spec, "spec.template.spec")
    policy = pod_spec.get("restartPolicy")
    if policy not in ("OnFailure", "Never"):
        causes.append(
            (
                "spec.template.spec.restartPolicy",
                f'Unsupported value: "{policy or ""}": supported values: "OnFailure", "Never"',
            )
        )
    if spec.get("backoffLimit", 0) < 0:
        causes.append(("spec.backoffLimit", "Invalid value: must be greater than or equal to 0"))
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and (not _is_int(deadline) or deadline <= 0):
        causes.append(
            ("spec.activeDeadlineSeconds", f"Invalid value: {deadline!r}: must be greater than 0")
        )
    ttl = spec.get("ttlSecondsAfterFinished")
    if ttl is not None and (not _is_int(ttl) or ttl < 0):
        causes.append(
            (
                "spec.ttlSecondsAfterFinished",
                f"Invalid value: {ttl!r}: must be greater than or equal to 0",
            )
        )
    for index, container in enumerate(pod_spec.get("containers") or []):
        causes += _resources(container, f"spec.template.spec.containers[{index}].resources")
    return causes


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# A resource quantity (apimachinery's resource.Quantity) as clients write them: a number and
# a suffix (exponents and signs are not modelled, and refused).
_QUANTITY = re.compile(
    r"^(?P<n>[0-9]+(\.[0-9]*)?|\.[0-9]+)(?P<s>m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
)
_FACTORS = {
    None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}  # fmt: skip


def _resources(container: dict[str, Any], prefix: str) -> Causes:
    """Quantities that parse, and no request above its limit (the checks a server makes)."""
    resources = container.get("resources") or {}
    values: dict[str, dict[str, float]] = {}
    causes: Causes = []
    for side in ("requests", "limits"):
        for name, text in (resources.get(side) or {}).items():
            found = _QUANTITY.match(str(text))
            if not found:
                causes.append(
                    (
                        f"{prefix}.{side}[{name}]",
                        f'Invalid value: "{text}": quantities must match the regular expression '
                        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                    )
                )
                continue
            values.setdefault(side, {})[name] = float(found["n"]) * _FACTORS[found["s"]]
    for name, request in values.get("requests", {}).items():
        limit = values.get("limits", {}).get(name)
        if limit is not None and request > limit:
            text = resources["requests"][name]
            causes.append(
                (
                    f"{prefix}.requests",
                    f'Invalid value: "{text}": must be less than or equal to {name} limit of '
                    f"{resources['limits'][name]}",
                )
            )
    return causes


def _deployment(obj: dict[str, Any]) -> Causes:
    spec = obj.get("spec") or {}
    template = spec.get("template") or {}
    causes = _containers(template.get("spec") or {}, "spec.template.spec")
    selector = spec.get("selector")
    if not selector:
        return [("spec.selector", "Required value"), *causes]
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not matches(from_label_selector(selector), labels):
        causes.append(
            (
                "spec.template.metadata.labels",
                "Invalid value: `selector` does not match template `labels`",
            )
        )
    return causes


def _pvc(obj: dict[str, Any]) -> Causes:
    spec = obj.get("spec") or {}
    causes: Causes = []
    if not spec.get("accessModes"):
        causes.append(("spec.accessModes", "Required value: at least 1 access mode is required"))
    if not ((spec.get("resources") or {}).get("requests") or {}).get("storage"):
        causes.append(("spec.resources[storage]", "Required value"))
    return causes


def _pv(obj: dict[str, Any]) -> Causes:
    spec = obj.get("spec") or {}
    causes: Causes = []
    if not (spec.get("capacity") or {}).get("storage"):
        causes.append(("spec.capacity", "Required value"))
    if not spec.get("accessModes"):
        causes.append(("spec.accessModes", "Required value"))
    if not any(spec.get(source) for source in ("csi", "hostPath", "nfs", "local")):
        causes.append(("spec", "Required value: must specify a volume type"))
    return causes


def _configmap(obj: dict[str, Any]) -> Causes:
    data = obj.get("data") or {}
    causes: Causes = []
    for key, value in data.items():
        if not _CONFIG_KEY.match(key):
            causes.append(
                (
                    f"data[{key}]",
                    "Invalid value: a valid config key must consist of alphanumeric "
                    "characters, '-', '_' or '.'",
                )
            )
        if not isinstance(value, str):
            causes.append((f"data[{key}]", "Invalid value: must be a string"))
    return causes


_RULES: dict[str, Callable[[dict[str, Any]], Causes]] = {
    "ecdeployments": _ecdeployment,
    "backups": _backup,
    "restores": _restore,
    "pods": _pod,
    "jobs": _job,
    "deployments": _deployment,
    "persistentvolumeclaims": _pvc,
    "persistentvolumes": _pv,
    "configmaps": _configmap,
}
