"""Velero's restore resource modifiers: rules in a ConfigMap (one data key holding
YAML) that patch matching items before they are re-created. This is how a restore
forces ``spec.enabled: false`` onto ECDs.

Format (``version: v1``)::

    resourceModifierRules:
    - conditions:
        groupResource: ecdeployments.mz.digitalroute.com   # glob, "*" stops at "."
        resourceNameRegex: "^ecd-.*"                        # optional, unanchored
        namespaces: [uepe]                                  # optional
        labelSelector: {matchLabels: {...}}                 # optional
        matches: [{path: /spec/enabled, value: "true"}]     # optional JSON-patch tests
      patches:                                              # JSON patch; or mergePatches /
      - operation: replace                                  # strategicPatches with patchData
        path: /spec/enabled
        value: "false"

Values are strings turned into JSON the way Velero does: ``null``, booleans,
numbers, objects and arrays are literal, a value in double quotes is that string,
anything else is a string. Conditions are checked against the item as it was before
any rule applied; a failing ``test`` operation skips the rule, any other patch error
is an error for the item (which is then not restored).
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from sandbox.k8s import patches
from sandbox.k8s.selectors import from_label_selector, matches
from sandbox.k8s.store import Obj


class ModifierError(ValueError):
    pass


def _value(text: str) -> Any:
    lowered = text.lower()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    if lowered in ("true", "false"):
        return lowered == "true"
    if text == "null":
        return None
    if text.startswith(("{", "[")):
        return json.loads(text)
    try:
        float(text)
        return json.loads(text)
    except ValueError:
        return text


def _glob(pattern: str) -> re.Pattern[str]:
    """gobwas/glob with "." as separator: ``*`` stays within one dot-separated part."""
    regex = (
        re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", r"[^.]*").replace(r"\?", "[^.]")
    )
    return re.compile(f"^{regex}$")


def load(config_map: Obj) -> list[dict[str, Any]]:
    """The rules of a resource-modifier ConfigMap; ModifierError when Velero would refuse it."""
    data = config_map.get("data") or {}
    meta = config_map["metadata"]
    if len(data) != 1:
        raise ModifierError(
            f"illegal resource modifiers {meta['namespace']}/{meta['name']} configmap"
        )
    try:
        document = yaml.safe_load(next(iter(data.values())))
    except yaml.YAMLError as error:
        raise ModifierError(
            f"failed to decode yaml data into resource modifiers, err: {error}"
        ) from error
    if not isinstance(document, dict) or document.get("version") != "v1":
        raise ModifierError("unsupported resource modifier version, only v1 is supported")
    rules = document.get("resourceModifierRules") or []
    for rule in rules:
        if not (rule.get("conditions") or {}).get("groupResource"):
            raise ModifierError("groupResource cannot be empty")
        kinds = [k for k in ("patches", "mergePatches", "strategicPatches") if rule.get(k)]
        if len(kinds) != 1:
            raise ModifierError(
                "exactly one of patches, mergePatches, strategicPatches must be set"
            )
    return rules


def _json_ops(entries: list[dict[str, Any]], operation: str | None = None) -> list[dict[str, Any]]:
    ops = []
    for entry in entries:
        op = {"op": operation or entry.get("operation"), "path": entry.get("path", "")}
        if entry.get("from"):
            op["from"] = entry["from"]
        op["value"] = _value(str(entry.get("value", "")))
        ops.append(op)
    return ops


def _matches(rule: dict[str, Any], obj: Obj, group_resource: str) -> bool:
    conditions = rule["conditions"]
    namespace = obj["metadata"].get("namespace")
    if namespace and conditions.get("namespaces") and namespace not in conditions["namespaces"]:
        return False
    if not _glob(conditions["groupResource"]).match(group_resource):
        return False
    regex = conditions.get("resourceNameRegex")
    if regex and not re.search(regex, obj["metadata"]["name"]):
        return False
    selector = conditions.get("labelSelector")
    if selector and not matches(from_label_selector(selector), obj["metadata"].get("labels")):
        return False
    try:
        patches.json_patch(obj, _json_ops(conditions.get("matches") or [], "test"))
    except patches.PatchConflict:
        return False
    return True


def _apply_rule(rule: dict[str, Any], obj: Obj) -> Obj:
    try:
        if rule.get("patches"):
            try:
                return patches.json_patch(obj, _json_ops(rule["patches"]))
            except patches.PatchConflict as error:
                if "test failed" in str(error):
                    return obj
                raise
        merge = patches.merge_patch if rule.get("mergePatches") else patches.strategic_merge_patch
        for entry in rule.get("mergePatches") or rule.get("strategicPatches"):
            obj = merge(obj, yaml.safe_load(entry.get("patchData", "")))
        return obj
    except (patches.PatchError, patches.PatchConflict, yaml.YAMLError) as error:
        raise ModifierError(f"error in applying patch {error}") from error


def apply(rules: list[dict[str, Any]], obj: Obj, group_resource: str) -> Obj:
    """``obj`` with every matching rule applied, in order."""
    original = obj
    for rule in rules:
        if _matches(rule, original, group_resource):
            obj = _apply_rule(rule, obj)
    return obj
