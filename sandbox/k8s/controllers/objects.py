"""Small helpers the controllers share for ownership and status conditions."""

from __future__ import annotations

from typing import Any

from sandbox.k8s.store import Obj
from sandbox.k8s.timestamps import rfc3339


def owner_reference(owner: Obj) -> dict[str, Any]:
    """A controller ownerReference to ``owner``, as controllers set on what they create."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controller_uid(obj: Obj) -> str | None:
    """The uid of the object's managing controller, if it has one."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid")
    return None


def condition(
    kind: str, status: bool, now: float, reason: str = "", message: str = ""
) -> dict[str, Any]:
    entry = {
        "type": kind,
        "status": "True" if status else "False",
        "lastTransitionTime": rfc3339(now),
    }
    if reason:
        entry["reason"] = reason
    if message:
        entry["message"] = message
    return entry


def merge_conditions(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``new`` conditions, keeping an old one's transition time when its status did not change."""
    previous = {c["type"]: c for c in old or []}
    merged = []
    for entry in new:
        before = previous.get(entry["type"])
        if before and before.get("status") == entry["status"]:
            entry = {**entry, "lastTransitionTime": before.get("lastTransitionTime")}
        merged.append(entry)
    return merged
