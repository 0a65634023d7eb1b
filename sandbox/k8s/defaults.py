"""Defaulting on create, as the API server's registry does before validation.

Clients and controllers read these fields back (a Job's selector and pod labels, a
Pod's ``Pending`` phase, a PVC waiting to bind), so the sandbox must fill them the
same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

JOB_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


def apply_defaults(plural: str, obj: dict[str, Any]) -> None:
    """Fill the server-defaulted fields of a new ``plural`` object, in place."""
    _DEFAULTS.get(plural, lambda _: None)(obj)


def _pod(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    obj["status"] = {"phase": "Pending"}


def _job(obj: dict[str, Any]) -> None:
    meta, spec = obj["metadata"], obj.setdefault("spec", {})
    for field, value in (("parallelism", 1), ("completions", 1), ("backoffLimit", 6)):
        spec.setdefault(field, value)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    if not spec.get("manualSelector"):
        generated = {
            JOB_UID_LABEL: meta["uid"],
            JOB_NAME_LABEL: meta["name"],
            "controller-uid": meta["uid"],
            "job-name": meta["name"],
        }
        spec["selector"] = {"matchLabels": {JOB_UID_LABEL: meta["uid"]}}
        template_meta = spec.setdefault("template", {}).setdefault("metadata", {})
        template_meta["labels"] = {**(template_meta.get("labels") or {}), **generated}
        if not meta.get("labels"):
            meta["labels"] = dict(template_meta["labels"])
    obj["status"] = {}


def _deployment(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    spec.setdefault(
        "strategy",
        {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
    )
    spec.setdefault("template", {}).setdefault("spec", {}).setdefault("restartPolicy", "Always")
    obj["status"] = {}


def _pvc(obj: dict[str, Any]) -> None:
    obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
    obj["status"] = {"phase": "Pending"}


def _pv(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")
    obj["status"] = {"phase": "Available"}


def _secret(obj: dict[str, Any]) -> None:
    """``type`` Opaque by default; ``stringData`` (write-only) folded into ``data`` as base64."""
    import base64

    obj.setdefault("type", "Opaque")
    plain = obj.pop("stringData", None) or {}
    data = obj.setdefault("data", {}) or {}
    for key, value in plain.items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    obj["data"] = data


_DEFAULTS: dict[str, Callable[[dict[str, Any]], None]] = {
    "secrets": _secret,
    "pods": _pod,
    "jobs": _job,
    "deployments": _deployment,
    "persistentvolumeclaims": _pvc,
    "persistentvolumes": _pv,
}
