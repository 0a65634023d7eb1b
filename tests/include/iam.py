"""From recorded AWS requests to the IAM permissions they need, and a policy evaluator.

``requirements`` turns one recorded request into what IAM authorizes for it:
the action (``service:Operation`` with IAM's service prefix, and the few
operations whose action has another name), each resource the action is
authorized against (an ARN; ``*`` where AWS cannot scope the action or the
request names no resource), the dependent actions AWS requires with it
(``rds:AddTagsToResource`` for a create with tags, ``iam:PassRole`` for a
role handed to AWS Backup, the rest in ``DEPENDENCIES``), and the condition
keys the request carries. The tags a resource carries (``aws:ResourceTag``)
are those the recorded requests created it with, or those a tag listing's
answer reported for it (the sandbox's request log keeps both). A request's
ARNs are built in the account whose credentials signed it (the request log's
``account``: the protected account for the immutable copies' connection),
and each account's requests are judged against that account's policy
(``support.policy_for``).

``evaluate`` checks requirements against a policy document the way IAM does
for identity policies: an action is allowed on a resource when a statement
lists the action, has a ``Resource`` pattern that covers the ARN (``*`` and
``?`` wildcards) and all its conditions hold, and no ``Deny`` statement
applies to it in the same way (an explicit deny wins over any allow). Every
resource of a request must be allowed. Anything the evaluator does not
understand (NotAction, NotResource, an unknown condition operator or key)
fails loudly instead of being waved through.

Adding an action to the code: add it to ``include/iam/ue-backup-policy.json``.
The generic rules below derive its resources from its parameters (``...Arn``
members, and the identifier members listed in ``IDENTIFIERS``); only an
action that does not follow them needs a line in ``RESOURCES`` (and one that
creates a resource with tags a line in ``CREATES``). Sources: the Service
Authorization Reference pages of each service (Actions table: resource
types, condition keys, dependent actions).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# botocore's service name -> IAM's service prefix, where they differ.
PREFIX = {"efs": "elasticfilesystem"}

# Operations authorized by an action of another name (S3 above all).
ACTION = {
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "CopyObject"): "s3:PutObject",  # and s3:GetObject on the source (_s3_extras)
    ("s3", "UploadPartCopy"): "s3:PutObject",  # a managed copy of a large object: the same
    ("s3", "GetObjectLockConfiguration"): "s3:GetBucketObjectLockConfiguration",
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    # IAM spells MemoryDB's ACL actions "Acl" (Service Authorization Reference)
    ("memorydb", "DescribeACLs"): "memorydb:DescribeAcls",
}

# Actions IAM never authorizes: STS API reference, GetCallerIdentity: "No permissions
# are required to perform this operation" (an explicit deny does not stop it either), so
# no policy lists it and a request for it needs nothing.
NO_PERMISSION = {"sts:GetCallerIdentity"}

# The service principal a role is passed to (iam:PassedToService).
SERVICE_PRINCIPAL = {
    "backup": "backup.amazonaws.com",
    "datasync": "datasync.amazonaws.com",
    "rds": "rds.amazonaws.com",
}

# Actions whose request context carries aws:RequestTag/* and aws:TagKeys (the
# Service Authorization Reference lists them as condition keys of the action).
# AWS Backup's StartBackupJob does not: its RecoveryPointTags cannot be conditioned.
REQUEST_TAG_ACTIONS = {
    "rds:AddTagsToResource",
    "rds:CopyDBSnapshot",
    "rds:CreateDBSnapshot",
    "rds:RestoreDBInstanceFromDBSnapshot",
    "rds:RestoreDBInstanceToPointInTime",
    "memorydb:CopySnapshot",
    "memorydb:CreateCluster",
    "memorydb:CreateSnapshot",
    "memorydb:TagResource",
    "datasync:StartTaskExecution",
    "datasync:TagResource",
    "datasync:CreateLocationEfs",
    "datasync:CreateTask",
    "backup:TagResource",
    "elasticfilesystem:CreateFileSystem",
    "elasticfilesystem:TagResource",
}

# Resource types whose ARNs carry aws:ResourceTag/* (ARN fragments).
RESOURCE_TAG_TYPES = (
    ":rds:*:db:",
    ":rds:*:snapshot:",
    ":memorydb:*:cluster/",
    ":memorydb:*:snapshot/",
    ":backup:*:backup-vault:",
    ":backup:*:recovery-point:",
    ":datasync:*:task/",
    ":datasync:*:location/",
    ":elasticfilesystem:*:file-system/",
)

ANY = "*"  # in a requirement: any resource of its kind (a list, or no resource-level support)


@dataclass(frozen=True)
class Where:
    """Partition, region and account of a request: what its ARNs are built from."""

    partition: str
    region: str
    account: str

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}"


# --- resources of an action ---------------------------------------------------------


def _rds(kind: str) -> Callable[[Where, str], str]:
    return lambda w, name: name if name.startswith("arn:") else w.arn("rds", f"{kind}:{name}")


def _slash(service: str, kind: str) -> Callable[[Where, str], str]:
    return lambda w, name: name if name.startswith("arn:") else w.arn(service, f"{kind}/{name}")


# Identifier members that name a resource, per service (generic rule).
IDENTIFIERS: dict[str, dict[str, Callable[[Where, str], str]]] = {
    "rds": {
        "DBInstanceIdentifier": _rds("db"),
        "SourceDBInstanceIdentifier": _rds("db"),
        "TargetDBInstanceIdentifier": _rds("db"),
        "DBSnapshotIdentifier": _rds("snapshot"),
        "SourceDBSnapshotIdentifier": _rds("snapshot"),
        "TargetDBSnapshotIdentifier": _rds("snapshot"),
    },
    "memorydb": {
        "ClusterName": _slash("memorydb", "cluster"),
        "SnapshotName": _slash("memorydb", "snapshot"),
        "SourceSnapshotName": _slash("memorydb", "snapshot"),
        "TargetSnapshotName": _slash("memorydb", "snapshot"),
    },
    "efs": {"FileSystemId": _slash("elasticfilesystem", "file-system")},
    # a secret's ARN or name (GetSecretValue: the checks read an RDS-managed one by its ARN)
    "secretsmanager": {
        "SecretId": lambda w, name: (
            name if name.startswith("arn:") else w.arn("secretsmanager", f"secret:{name}")
        )
    },
    "backup": {
        "BackupVaultName": lambda w, name: w.arn("backup", f"backup-vault:{name}"),
        "SourceBackupVaultName": lambda w, name: w.arn("backup", f"backup-vault:{name}"),
    },
}
# ``...Arn`` members that name something other than the resource acted on.
NOT_RESOURCES = ("IamRoleArn", "RoleArn", "KmsKeyArn", "ByResourceArn")


def generic_resources(service: str, where: Where, params: Mapping[str, Any]) -> list[str]:
    """Resources named by a request's identifier and ``...Arn`` members; [ANY] for none."""
    found = []
    for member, value in params.items():
        if not isinstance(value, str) or not value:
            continue
        build = IDENTIFIERS.get(service, {}).get(member)
        if build is not None:
            found.append(build(where, value))
        elif member.endswith("Arn") and member not in NOT_RESOURCES and value.startswith("arn:"):
            found.append(value)
    if service == "s3" and params.get("Bucket"):
        key = params.get("Key")
        found.append(f"arn:{where.partition}:s3:::{params['Bucket']}" + (f"/{key}" if key else ""))
    return found or [ANY]


def _named_or_any(service: str, member: str) -> Callable[[Where, dict], list[str]]:
    """A describe call: the named resource, or all of its kind when it lists by a filter."""

    def resources(w: Where, p: dict) -> list[str]:
        build = IDENTIFIERS[service][member]
        return [build(w, p[member])] if p.get(member) else [build(w, ANY)]

    return resources


def _group(w: Where, p: dict, service: str, kind: str, member: str, sep: str) -> str:
    """A group a new resource joins; ``(default)`` when the request leaves it to AWS."""
    name = p.get(member) or "(default)"
    return w.arn(service, f"{kind}{sep}{name}")


# Actions the generic rule gets wrong, by the Service Authorization Reference's
# resource types. Each returns the ARNs the action is authorized against.
RESOURCES: dict[str, Callable[[Where, dict], list[str]]] = {
    "rds:DescribeDBInstances": _named_or_any("rds", "DBInstanceIdentifier"),
    "rds:DescribeDBSnapshots": _named_or_any("rds", "DBSnapshotIdentifier"),
    "rds:DescribeDBInstanceAutomatedBackups": lambda w, p: [w.arn("rds", f"auto-backup:{ANY}")],
    "rds:ModifyDBInstance": lambda w, p: [_rds("db")(w, p["DBInstanceIdentifier"])],
    # tags an existing resource named by its ARN (verify's verdict on a snapshot)
    "rds:AddTagsToResource": lambda w, p: [p["ResourceName"]],
    "rds:RestoreDBInstanceFromDBSnapshot": lambda w, p: [
        _rds("db")(w, p["DBInstanceIdentifier"]),
        _rds("snapshot")(w, p["DBSnapshotIdentifier"]),
        _group(w, p, "rds", "og", "OptionGroupName", ":"),
        _group(w, p, "rds", "pg", "DBParameterGroupName", ":"),
        _group(w, p, "rds", "subgrp", "DBSubnetGroupName", ":"),
    ],
    "rds:RestoreDBInstanceToPointInTime": lambda w, p: [
        _rds("db")(w, p["TargetDBInstanceIdentifier"]),
        _rds("db")(w, p["SourceDBInstanceIdentifier"]),
        _group(w, p, "rds", "og", "OptionGroupName", ":"),
        _group(w, p, "rds", "pg", "DBParameterGroupName", ":"),
        _group(w, p, "rds", "subgrp", "DBSubnetGroupName", ":"),
    ],
    "elasticfilesystem:DescribeFileSystems": _named_or_any("efs", "FileSystemId"),
    # A restore's check of the network a backup set recorded (tasks/network_steps.py).
    "rds:DescribeDBSubnetGroups": lambda w, p: [
        _group(w, p, "rds", "subgrp", "DBSubnetGroupName", ":")
    ],
    "rds:DescribeDBParameterGroups": lambda w, p: [
        _group(w, p, "rds", "pg", "DBParameterGroupName", ":")
    ],
    "rds:DescribeOptionGroups": lambda w, p: [_group(w, p, "rds", "og", "OptionGroupName", ":")],
    "memorydb:DescribeSubnetGroups": lambda w, p: [
        _group(w, p, "memorydb", "subnetgroup", "SubnetGroupName", "/")
    ],
    "memorydb:DescribeAcls": lambda w, p: [_group(w, p, "memorydb", "acl", "ACLName", "/")],
    "memorydb:DescribeParameterGroups": lambda w, p: [
        _group(w, p, "memorydb", "parametergroup", "ParameterGroupName", "/")
    ],
    "ec2:DescribeSecurityGroups": lambda w, p: [ANY],
    "memorydb:DescribeClusters": _named_or_any("memorydb", "ClusterName"),
    "memorydb:DescribeSnapshots": _named_or_any("memorydb", "SnapshotName"),
    "memorydb:CreateSnapshot": lambda w, p: [_slash("memorydb", "cluster")(w, p["ClusterName"])],
    # AWS never authorizes CreateCluster against the cluster (its resource types are the
    # ACL, parameter group, subnet group and snapshot): the new cluster is scoped by the
    # request's tags instead. The tagging of the new cluster is authorized against it.
    "memorydb:CreateCluster": lambda w, p: [
        _group(w, p, "memorydb", "acl", "ACLName", "/"),
        _group(w, p, "memorydb", "parametergroup", "ParameterGroupName", "/"),
        _group(w, p, "memorydb", "subnetgroup", "SubnetGroupName", "/"),
        *([_slash("memorydb", "snapshot")(w, p["SnapshotName"])] if p.get("SnapshotName") else []),
    ],
    # MemoryDB authorizes a copy (an export too) against the source and the target snapshot.
    "memorydb:CopySnapshot": lambda w, p: [
        _slash("memorydb", "snapshot")(w, p["SourceSnapshotName"]),
        _slash("memorydb", "snapshot")(w, p["TargetSnapshotName"]),
    ],
    "backup:StartBackupJob": lambda w, p: [w.arn("backup", f"backup-vault:{p['BackupVaultName']}")],
    # Becoming a role is authorized against that role (and its trust policy, which
    # test_iam_immutable_policy checks apart); it passes no role to a service.
    "sts:AssumeRole": lambda w, p: [p["RoleArn"]],
    "backup:DescribeRecoveryPoint": lambda w, p: [p["RecoveryPointArn"]],
    "backup:DeleteRecoveryPoint": lambda w, p: [p["RecoveryPointArn"]],
    "backup:StartCopyJob": lambda w, p: [p["RecoveryPointArn"]],
    "backup:ListRecoveryPointsByBackupVault": lambda w, p: [
        w.arn("backup", f"backup-vault:{p['BackupVaultName']}")
    ],
    "datasync:ListTaskExecutions": lambda w, p: [ANY],
    # Listing copy jobs is authorized against no resource (its filters name a vault).
    "backup:ListCopyJobs": lambda w, p: [ANY],
    # A location is authorized against no resource (its file system is the request's).
    "datasync:CreateLocationEfs": lambda w, p: [ANY],
    "kms:DescribeKey": lambda w, p: [_kms_key(w, p["KeyId"])],
    # The request names a mount target only; IAM authorizes against the mount target's file
    # system, which the request does not name: any of the region's, as far as the check knows.
    "elasticfilesystem:DescribeMountTargetSecurityGroups": lambda w, p: [
        w.arn("elasticfilesystem", f"file-system/{ANY}")
    ],
    "elasticfilesystem:DeleteMountTarget": lambda w, p: [
        w.arn("elasticfilesystem", f"file-system/{ANY}")
    ],
    # PutMetricData has no resource type (its namespace is a condition key); the alarm
    # actions are authorized against each alarm they name.
    "cloudwatch:PutMetricData": lambda w, p: [ANY],
    "cloudwatch:PutMetricAlarm": lambda w, p: [w.arn("cloudwatch", f"alarm:{p['AlarmName']}")],
    "cloudwatch:DescribeAlarms": lambda w, p: [
        w.arn("cloudwatch", f"alarm:{name}") for name in p.get("AlarmNames") or [ANY]
    ],
}

# Condition keys an action's own authorization carries, from the request's parameters.
ACTION_KEYS: dict[str, Callable[[dict], dict[str, Any]]] = {
    "cloudwatch:PutMetricData": lambda p: {"cloudwatch:namespace": p.get("Namespace")},
    # A listing's prefix (S3 user guide, bucket policy examples: s3:prefix); a listing
    # without one (HeadBucket, a whole-bucket list) has no such key.
    "s3:ListBucket": lambda p: {"s3:prefix": p["Prefix"]} if p.get("Prefix") is not None else {},
    "s3:ListBucketVersions": lambda p: (
        {"s3:prefix": p["Prefix"]} if p.get("Prefix") is not None else {}
    ),
}


def _kms_key(w: Where, key: str) -> str:
    """The ARN IAM authorizes a KMS key's use against (an alias names no key: as given)."""
    if key.startswith("arn:"):
        return key
    return w.arn("kms", key if key.startswith("alias/") else f"key/{key}")


def _s3(w: Where, bucket: str, key: str | None = None) -> str:
    return f"arn:{w.partition}:s3:::{bucket}" + (f"/{key}" if key else "")


# Actions AWS authorizes besides the request's own, on resources the request implies
# (the Service Authorization Reference's "dependent actions", and the services' guides
# where they say more): (action, resource) pairs, or (action, resource, condition keys).
DEPENDENCIES: dict[str, Callable[[Where, dict], list[tuple]]] = {
    # MemoryDB's guide (API permissions reference): an export to S3 needs the bucket's
    # location, and the list of buckets (which has no resource level).
    "memorydb:CopySnapshot": lambda w, p: (
        [
            ("s3:GetBucketLocation", _s3(w, p["TargetBucket"])),
            ("s3:ListAllMyBuckets", ANY),
        ]
        if p.get("TargetBucket")
        else []
    ),
    # RDS's guide (password management with Secrets Manager, permissions): asking RDS to
    # manage an instance's master password creates and tags its secret on the caller's
    # behalf, named rds!db-<id> (the default key, aws/secretsmanager: no KMS permission).
    "rds:ModifyDBInstance": lambda w, p: (
        [
            ("secretsmanager:CreateSecret", w.arn("secretsmanager", f"secret:rds!{ANY}")),
            ("secretsmanager:TagResource", w.arn("secretsmanager", f"secret:rds!{ANY}")),
        ]
        if p.get("ManageMasterUserPassword")
        else []
    ),
    # A cluster seeded from .rdb files reads each of them.
    "memorydb:CreateCluster": lambda w, p: [
        ("s3:GetObject", arn) for arn in p.get("SnapshotArns") or []
    ],
    # EFS's API reference: a mount target is a network interface the caller creates,
    # deletes and reads; the EC2 Describe actions have no resource level.
    "elasticfilesystem:CreateMountTarget": lambda w, p: [
        ("ec2:DescribeSubnets", ANY),
        ("ec2:DescribeNetworkInterfaces", ANY),
        ("ec2:CreateNetworkInterface", w.arn("ec2", f"network-interface/{ANY}")),
        ("ec2:CreateNetworkInterface", w.arn("ec2", f"subnet/{p['SubnetId']}")),
        *(
            ("ec2:CreateNetworkInterface", w.arn("ec2", f"security-group/{group}"))
            for group in p.get("SecurityGroups") or []
        ),
    ],
    "elasticfilesystem:DeleteMountTarget": lambda w, p: [
        ("ec2:DeleteNetworkInterface", w.arn("ec2", f"network-interface/{ANY}"))
    ],
    "elasticfilesystem:DescribeMountTargetSecurityGroups": lambda w, p: [
        ("ec2:DescribeNetworkInterfaceAttribute", ANY)
    ],
    # RDS encrypts the copy with the given key (of the destination region): it reads the key
    # and makes a grant for itself, on the caller's behalf (kms:ViaService says through RDS).
    "rds:CopyDBSnapshot": lambda w, p: (
        [
            (
                "kms:CreateGrant",
                _kms_key(w, p["KmsKeyId"]),
                {
                    "kms:ViaService": f"rds.{w.region}.amazonaws.com",
                    "kms:GrantIsForAWSResource": True,
                },
            ),
            (
                "kms:DescribeKey",
                _kms_key(w, p["KmsKeyId"]),
                {"kms:ViaService": f"rds.{w.region}.amazonaws.com"},
            ),
        ]
        if p.get("KmsKeyId")
        else []
    ),
}

# Actions whose service uses a key the request does not name, as the caller: RDS restoring
# an encrypted snapshot reads the snapshot's key and makes a grant on it for the new
# instance (RDS user guide, "AWS KMS key management"; the KMS developer guide, "How Amazon
# RDS uses AWS KMS"). The sandbox's request log says which key (``kms_key``).
KEY_USES: dict[str, str] = {"rds:RestoreDBInstanceFromDBSnapshot": "rds"}


def key_uses(action: str, where: Where, key: str) -> list[tuple]:
    """(action, key, condition keys) for the grant a ``KEY_USES`` action makes on ``key``."""
    if action not in KEY_USES or not key:
        return []
    via = {"kms:ViaService": f"{KEY_USES[action]}.{where.region}.amazonaws.com"}
    return [
        ("kms:CreateGrant", key, {**via, "kms:GrantIsForAWSResource": True}),
        ("kms:DescribeKey", key, via),
    ]


# What a state-changing action creates (its tags are the request's), where the
# request names it; what the answer names (``result``) counts too.
CREATES: dict[str, Callable[[Where, dict], list[str]]] = {
    "rds:CreateDBSnapshot": lambda w, p: [_rds("snapshot")(w, p["DBSnapshotIdentifier"])],
    "rds:CopyDBSnapshot": lambda w, p: [_rds("snapshot")(w, p["TargetDBSnapshotIdentifier"])],
    "rds:RestoreDBInstanceFromDBSnapshot": lambda w, p: [_rds("db")(w, p["DBInstanceIdentifier"])],
    "rds:RestoreDBInstanceToPointInTime": lambda w, p: [
        _rds("db")(w, p["TargetDBInstanceIdentifier"])
    ],
    "memorydb:CreateSnapshot": lambda w, p: [_slash("memorydb", "snapshot")(w, p["SnapshotName"])],
    "memorydb:CopySnapshot": lambda w, p: [
        _slash("memorydb", "snapshot")(w, p["TargetSnapshotName"])
    ],
    "memorydb:CreateCluster": lambda w, p: [_slash("memorydb", "cluster")(w, p["ClusterName"])],
    # its id is AWS's, unknown before: any file system
    "elasticfilesystem:CreateFileSystem": lambda w, p: [
        w.arn("elasticfilesystem", f"file-system/{ANY}")
    ],
}

# The action that tags what a create makes, when the create carries tags (EFS's API
# reference, CreateFileSystem: tags on create are also authorized as TagResource).
TAGGING = {
    "rds": "rds:AddTagsToResource",
    "memorydb": "memorydb:TagResource",
    "efs": "elasticfilesystem:TagResource",
}


# --- requirements ----------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    """One authorization IAM makes for a request: ``action`` on ``resource``."""

    action: str
    resource: str
    request_tags: dict[str, str] | None = None  # None: the action carries no aws:RequestTag
    passed_to: str | None = None  # iam:PassedToService
    source: str = ""  # which request, for messages
    keys: tuple[tuple[str, Any], ...] = ()  # other condition keys of this authorization

    def describe(self) -> str:
        return f"{self.action} on {self.resource} ({self.source})"


def action_of(service: str, operation: str) -> str:
    return ACTION.get((service, operation), f"{PREFIX.get(service, service)}:{operation}")


def tags_of(params: Mapping[str, Any]) -> dict[str, str] | None:
    """The tags a request sets: ``Tags`` ([{Key, Value}] or a mapping) or ``RecoveryPointTags``."""
    for member in ("Tags", "RecoveryPointTags"):
        value = params.get(member)
        if isinstance(value, list):
            return {t["Key"]: t.get("Value", "") for t in value}
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
    return None


def where_of(request: Mapping[str, Any], account: str, partition: str = "aws") -> Where:
    """Where the request's ARNs are: its region, and the account whose credentials signed it
    (``account`` for a recording from before the request log knew it)."""
    return Where(partition, request.get("region") or "", request.get("account") or account)


def requirements(request: Mapping[str, Any], account: str) -> list[Requirement]:
    """What IAM authorizes for one recorded AWS request (see the module's docstring)."""
    service, operation, params = request["service"], request["operation"], request["params"]
    source = f"{service}.{operation} in {request.get('test', '?')}"
    if operation == "?":
        raise ValueError(f"an AWS request the sandbox could not identify: {request.get('path')}")
    where = where_of(request, account)
    action = action_of(service, operation)
    if service == "s3" and operation in ("GetObject", "HeadObject") and params.get("VersionId"):
        action = "s3:GetObjectVersion"  # S3 authorizes reading a given version apart
    if action in NO_PERMISSION:
        return []
    tags = tags_of(params)
    carried = (tags or {}) if action in REQUEST_TAG_ACTIONS else None
    resources = RESOURCES.get(action, lambda w, p: generic_resources(service, w, p))(where, params)
    keys = tuple(ACTION_KEYS.get(action, lambda p: {})(params).items())
    needed = [Requirement(action, arn, carried, None, source, keys) for arn in resources]
    if tags and service in TAGGING:
        created = CREATES[action](where, params) if action in CREATES else resources
        needed += [Requirement(TAGGING[service], arn, tags, None, source) for arn in created]
    if service == "s3":
        needed += [Requirement(a, r, None, None, source) for a, r in _s3_extras(where, params)]
    dependencies = DEPENDENCIES.get(action, lambda w, p: [])(where, params)
    for dependency in [*dependencies, *key_uses(action, where, request.get("kms_key") or "")]:
        dependent, arn, keys = (*dependency, {})[:3]
        needed.append(Requirement(dependent, arn, None, None, source, tuple(keys.items())))
    for member in ("IamRoleArn", "RoleArn"):
        if isinstance(params.get(member), str) and action != "sts:AssumeRole":
            principal = SERVICE_PRINCIPAL.get(service, f"{service}.amazonaws.com")
            needed.append(Requirement("iam:PassRole", params[member], None, principal, source))
    return needed


def _s3_extras(where: Where, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """S3's extra authorizations: the source of a copy is read, tags set with an object
    need ``s3:PutObjectTagging``, an Object Lock retention or legal hold set with it
    ``s3:PutObjectRetention`` or ``s3:PutObjectLegalHold`` (S3 user guide, Object Lock)."""
    extras = []
    source = params.get("CopySource")
    if isinstance(source, str) and source:
        bucket_key = source.lstrip("/").split("?", 1)[0]
        extras.append(("s3:GetObject", f"arn:{where.partition}:s3:::{bucket_key}"))
    if params.get("Tagging") and params.get("Bucket") and params.get("Key"):
        obj = f"arn:{where.partition}:s3:::{params['Bucket']}/{params['Key']}"
        extras.append(("s3:PutObjectTagging", obj))
    if params.get("Bucket") and params.get("Key"):
        obj = f"arn:{where.partition}:s3:::{params['Bucket']}/{params['Key']}"
        if params.get("ObjectLockMode") or params.get("ObjectLockRetainUntilDate"):
            extras.append(("s3:PutObjectRetention", obj))
        if params.get("ObjectLockLegalHoldStatus"):
            extras.append(("s3:PutObjectLegalHold", obj))
    return extras


def created_tags(requests: Iterable[Mapping[str, Any]], account: str) -> dict[str, dict[str, str]]:
    """The tags of every resource the recorded requests created with tags, or saw the tags
    of in a tag listing's answer (a copy AWS made with its source's tags), by ARN."""
    book: dict[str, dict[str, str]] = {}
    for request in requests:
        seen, named = request.get("tags"), request["params"].get("ResourceArn")
        if seen and isinstance(named, str):
            book.setdefault(named, {}).update(seen)
        tags = tags_of(request["params"])
        if not tags:
            continue
        action = action_of(request["service"], request["operation"])
        where = where_of(request, account)
        arns = CREATES[action](where, request["params"]) if action in CREATES else []
        arns += [v for v in (request.get("result") or {}).values() if v.startswith("arn:")]
        for arn in arns:
            book.setdefault(arn, {}).update(tags)
    return book


# --- the policy ------------------------------------------------------------------------------


class PolicyError(ValueError):
    """The policy uses something this evaluator does not understand (or IAM forbids here)."""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The policy's statements, checked to be Allow or Deny statements with explicit actions."""
    if policy.get("Version") != "2012-10-17":
        raise PolicyError("Version must be 2012-10-17 (policy variables, current grammar)")
    found = []
    for statement in _list(policy["Statement"]):
        extra = set(statement) - {"Sid", "Effect", "Action", "Resource", "Condition"}
        if extra or statement.get("Effect") not in ("Allow", "Deny"):
            raise PolicyError(f"only Allow/Deny statements with Action/Resource: {statement}")
        for action in _list(statement["Action"]):
            if "*" in action or "?" in action:
                raise PolicyError(f"wildcard action {action!r} in {statement.get('Sid')}")
        found.append(statement)
    return found


def allowed_actions(policy: Mapping[str, Any]) -> set[str]:
    """The actions Allow statements list (a Deny statement's actions are guarded, not used)."""
    return {a for s in statements(policy) if s["Effect"] == "Allow" for a in _list(s["Action"])}


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL)


def _like(value: str, pattern: str) -> bool:
    """IAM's StringLike/ARN matching: ``*`` any run of characters, ``?`` one, case-sensitive."""
    return _compiled(pattern).fullmatch(value) is not None


def covers(pattern: str, resource: str) -> bool:
    """Whether a Resource pattern covers a required ARN (``*`` in the ARN: all of its kind,
    which only a ``*`` of the pattern at that place covers)."""
    return _like(resource, pattern)


def context_of(requirement: Requirement, resource_tags: Mapping[str, Mapping[str, str]]) -> dict:
    """The condition keys IAM has for this authorization; absent keys are absent."""
    context: dict[str, Any] = {}
    if requirement.request_tags is not None:
        for key, value in requirement.request_tags.items():
            context[f"aws:RequestTag/{key}"] = value
        context["aws:TagKeys"] = list(requirement.request_tags)
    taggable = any(_like(requirement.resource, f"arn:*{t}*") for t in RESOURCE_TAG_TYPES)
    if taggable and requirement.resource in resource_tags:
        for key, value in resource_tags[requirement.resource].items():
            context[f"aws:ResourceTag/{key}"] = value
    if requirement.passed_to is not None:
        context["iam:PassedToService"] = requirement.passed_to
    context.update(requirement.keys)
    return context


KNOWN_KEYS = (
    "aws:RequestTag/",
    "aws:ResourceTag/",
    "aws:TagKeys",
    "iam:PassedToService",
    "kms:ViaService",
    "kms:GrantIsForAWSResource",
    "cloudwatch:namespace",
    "s3:prefix",
    "backup:CopyTargets",  # the destination vaults of a copy (CopyFromBackupVault)
)


def _condition_holds(condition: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    for operator, tests in condition.items():
        qualifier, _, base = operator.rpartition(":")
        for key, expected in tests.items():
            if not key.startswith(KNOWN_KEYS):
                raise PolicyError(f"condition key {key!r} is not modelled by tests/include/iam.py")
            expected = [str(e) for e in _list(expected)]
            present = key in context
            values = [str(v) for v in _list(context.get(key, []))]
            if base == "Null":
                if (expected == ["true"]) != (not present):
                    return False
                continue
            # A negated operator (ArnNotEquals, ...) holds for a value that matches none of
            # the expected ones (IAM User Guide, condition operators).
            negated = base.replace("Not", "", 1) if "Not" in base else None
            match = {
                "StringEquals": lambda v, e: v == e,
                "StringLike": _like,
                "ArnEquals": lambda v, e: v == e,
                "ArnLike": _like,
                "Bool": lambda v, e: v.lower() == e.lower(),
            }.get(negated or base)
            if match is None or (negated and negated == "Bool"):
                raise PolicyError(f"condition operator {operator!r} is not modelled")

            def holds(value: str, match=match, negated=negated, expected=expected) -> bool:
                found = any(match(value, e) for e in expected)
                return not found if negated else found

            if qualifier == "ForAllValues":
                ok = all(holds(v) for v in values)
            elif qualifier == "ForAnyValue":
                ok = any(holds(v) for v in values)
            elif qualifier == "":
                if key == "aws:TagKeys":
                    raise PolicyError("aws:TagKeys is multi-valued: use ForAllValues/ForAnyValue")
                ok = present and holds(values[0])
            else:
                raise PolicyError(f"condition operator {operator!r} is not modelled")
            if not ok:
                return False
    return True


def allows(
    policy: Mapping[str, Any],
    requirement: Requirement,
    resource_tags: Mapping[str, Mapping[str, str]] | None = None,
) -> bool:
    context = context_of(requirement, resource_tags or {})
    applies = [
        statement
        for statement in statements(policy)
        if requirement.action in _list(statement["Action"])
        and any(covers(p, requirement.resource) for p in _list(statement["Resource"]))
        and _condition_holds(statement.get("Condition") or {}, context)
    ]
    effects = {statement["Effect"] for statement in applies}
    return "Allow" in effects and "Deny" not in effects


def explicitly_denied(
    policy: Mapping[str, Any],
    requirement: Requirement,
    resource_tags: Mapping[str, Mapping[str, str]] | None = None,
) -> bool:
    """Whether a Deny statement applies: refused whatever any Allow says."""
    context = context_of(requirement, resource_tags or {})
    return any(
        statement["Effect"] == "Deny"
        and requirement.action in _list(statement["Action"])
        and any(covers(p, requirement.resource) for p in _list(statement["Resource"]))
        and _condition_holds(statement.get("Condition") or {}, context)
        for statement in statements(policy)
    )


@dataclass
class Verdict:
    denied: list[Requirement] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)


def evaluate(
    requests: Iterable[Mapping[str, Any]],
    policy_for: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    all_actions: set[str],
    account: str,
) -> Verdict:
    """Every requirement of ``requests`` against the policy ``policy_for(request)`` renders
    for it; ``unused``: actions of ``all_actions`` no requirement asked for."""
    requests = list(requests)
    book = created_tags(requests, account)
    verdict = Verdict()
    asked: set[str] = set()
    for request in requests:
        policy = policy_for(request)
        for requirement in requirements(request, account):
            asked.add(requirement.action)
            if not allows(policy, requirement, book):
                verdict.denied.append(requirement)
    verdict.unused = sorted(all_actions - asked)
    return verdict
