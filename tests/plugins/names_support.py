"""Validators for generated names, each written from the service's documented rules.

Each validator returns the list of rules a name breaks (empty: valid), so a
failing test says which rule and why. The source of each rule is cited
beside it. Where a service documents no rule (the MemoryDB API reference for
snapshot names, AWS Backup for idempotency tokens), the validator says so and
checks the strictest rule a neighbour documents rather than nothing.

``botocore_problems`` checks a value against the constraints (min, max,
pattern) botocore's own service model gives the parameter, where it gives any.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from functools import cache

import botocore.session
from hypothesis import strategies as st

from ue_backup.config import INSTALLATION_RE

# --- what the names are made from -------------------------------------------------------------
# Names from the regex alone are short and seldom hold a hyphen at a cut or two in a row;
# names built from segments (joined by '-', sometimes '--') often do. Each is kept only
# when INSTALLATION_RE matches it; a test keeps it only when the configuration accepts it.
_SEGMENT = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=12)
_JOINED = st.lists(st.tuples(st.sampled_from(["-", "-", "-", "--"]), _SEGMENT), max_size=8)
installations = st.one_of(
    st.from_regex(INSTALLATION_RE, fullmatch=True),
    _JOINED.map(lambda parts: ("u" + "".join(j + s for j, s in parts))[:40]).filter(
        INSTALLATION_RE.fullmatch
    ),
)
times = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2199, 12, 31),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))]),
)
# Case 7 of issue 14: the 24th character is '-', where the restore id cuts the name.
CASE_7 = "abcdefghijklmnopqrstuvw-xyz"

# --- the services' rules ----------------------------------------------------------------------

_AWS_ID = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
_AWS_ID_LOWER = re.compile(r"^[a-z][a-z0-9-]*$")


def _aws_identifier(name: str, longest: int, pattern: re.Pattern[str]) -> list[str]:
    problems = []
    if not 1 <= len(name) <= longest:
        problems.append(f"must hold 1 to {longest} characters (has {len(name)})")
    if not pattern.match(name):
        letters = "lower-case letters" if pattern is _AWS_ID_LOWER else "letters"
        problems.append(f"must start with a letter and hold only {letters}, digits and '-'")
    if "--" in name:
        problems.append("must not contain two consecutive hyphens")
    if name.endswith("-"):
        problems.append("must not end with a hyphen")
    return problems


def rds_instance_identifier(name: str) -> list[str]:
    """RDS DB instance identifier.

    botocore rds model, RestoreDBInstanceFromDBSnapshot.DBInstanceIdentifier and
    ModifyDBInstance.NewDBInstanceIdentifier: "Must contain from 1 to 63 letters,
    numbers, or hyphens. First character must be a letter. Can't end with a hyphen
    or contain two consecutive hyphens."
    """
    return _aws_identifier(name, 63, _AWS_ID)


def rds_snapshot_identifier(name: str) -> list[str]:
    """RDS DB snapshot identifier.

    botocore rds model, CreateDBSnapshot.DBSnapshotIdentifier and
    CopyDBSnapshot.TargetDBSnapshotIdentifier: "Must contain from 1 to 255 letters,
    numbers, or hyphens. First character must be a letter. Can't end with a hyphen
    or contain two consecutive hyphens."
    """
    return _aws_identifier(name, 255, _AWS_ID)


def memorydb_cluster_name(name: str) -> list[str]:
    """MemoryDB cluster name.

    MemoryDB developer guide, "Creating a cluster": 1 to 40 alphanumeric characters
    or hyphens, must begin with a letter, cannot contain two consecutive hyphens,
    cannot end with a hyphen. MemoryDB stores names in lower case, so only lower case
    is accepted here (as terraform-provider-aws, internal/service/memorydb/validate.go,
    clusterNameMaxLength = 40, does). The API reference and botocore's model give none
    of this (ClusterName is a plain string).
    """
    return _aws_identifier(name, 40, _AWS_ID_LOWER)


def memorydb_snapshot_name(name: str) -> list[str]:
    """MemoryDB snapshot name (CreateSnapshot.SnapshotName, CopySnapshot.TargetSnapshotName).

    The MemoryDB API reference and botocore's model document no rule. The rules
    checked are terraform-provider-aws's (internal/service/memorydb/validate.go:
    snapshotNameMaxLength = 255, lower-case letters, digits and hyphens, no two
    consecutive hyphens, no trailing hyphen), plus the cluster rule of a letter
    first, so a name that passes here is safe under either.
    """
    return _aws_identifier(name, 255, _AWS_ID_LOWER)


def efs_creation_token(token: str) -> list[str]:
    """EFS CreateFileSystem.CreationToken.

    botocore efs model, shape CreationToken: min 1, max 64, pattern ``.+``; the API
    reference: "A string of up to 64 ASCII characters". AWS Backup's EFS restore
    metadata passes the restore's idempotency token as this token.
    """
    problems = []
    if not 1 <= len(token) <= 64:
        problems.append(f"must hold 1 to 64 characters (has {len(token)})")
    if not token.isascii():
        problems.append("must hold ASCII characters only")
    return problems


def backup_idempotency_token(token: str) -> list[str]:
    """AWS Backup IdempotencyToken (StartBackupJob, StartCopyJob, StartRestoreJob).

    botocore backup model: a plain string, no length or pattern documented. Checked:
    not empty, printable ASCII (what every other AWS token allows).
    """
    if not token or not (token.isascii() and token.isprintable()):
        return ["must be a non-empty string of printable ASCII characters"]
    return []


_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def k8s_label(name: str) -> list[str]:
    """A Kubernetes DNS-1123 label: namespaces, Job names, names used as label values.

    Kubernetes docs, "Object Names and IDs" (k8s.io apimachinery IsDNS1123Label): at
    most 63 characters, lower-case alphanumerics or '-', starting and ending with an
    alphanumeric. Jobs: "Even when the name is a DNS subdomain, the name must be no
    longer than 63 characters" (Kubernetes docs, "Jobs", Writing a Job spec): the
    name becomes the ``job-name`` label of its pods. Velero backups and restores:
    Velero labels what they touch with the name (``velero.io/restore-name``), and
    this project selects restored objects by that label.
    """
    problems = []
    if len(name) > 63:
        problems.append(f"must hold at most 63 characters (has {len(name)})")
    if not _DNS1123_LABEL.match(name):
        problems.append("must be lower-case alphanumerics or '-', alphanumeric at both ends")
    return problems


def k8s_subdomain(name: str) -> list[str]:
    """A Kubernetes DNS-1123 subdomain: most object names (claims, volumes, ConfigMaps, CRs).

    Kubernetes docs, "Object Names and IDs" (IsDNS1123Subdomain): at most 253
    characters, lower-case alphanumerics, '-' or '.', alphanumeric at both ends.
    """
    problems = []
    if len(name) > 253:
        problems.append(f"must hold at most 253 characters (has {len(name)})")
    if not _DNS1123_SUBDOMAIN.match(name):
        problems.append("must be lower-case alphanumerics, '-' or '.', alphanumeric at both ends")
    return problems


def k8s_label_value(value: str) -> list[str]:
    """A Kubernetes label value.

    Kubernetes docs, "Labels and Selectors", syntax and character set: 63 characters
    or less, empty or beginning and ending with an alphanumeric, with '-', '_', '.'
    and alphanumerics between.
    """
    problems = []
    if len(value) > 63:
        problems.append(f"must hold at most 63 characters (has {len(value)})")
    if not _LABEL_VALUE.match(value):
        problems.append("must be alphanumerics, '-', '_' or '.', alphanumeric at both ends")
    return problems


_S3_SAFE = re.compile(r"^[0-9A-Za-z!_.*'()/-]+$")


def s3_key(key: str) -> list[str]:
    """An S3 object key.

    S3 user guide, "Naming Amazon S3 objects": a key is a sequence of Unicode
    characters whose UTF-8 encoding is at most 1,024 bytes long; the safe characters
    are alphanumerics and ``! - _ . * ' ( )`` (plus ``/`` as the prefix delimiter).
    Checked: the length, the safe characters only, no leading '/'.
    """
    problems = []
    if not 1 <= len(key.encode()) <= 1024:
        problems.append(f"must be 1 to 1024 bytes in UTF-8 (has {len(key.encode())})")
    if not _S3_SAFE.match(key):
        problems.append("must hold only S3's safe characters")
    if key.startswith("/"):
        problems.append("must not start with '/'")
    return problems


def aws_tag_value(value: str) -> list[str]:
    """An AWS tag value (RDS, MemoryDB, S3, AWS Backup): 0 to 256 Unicode characters.

    AWS "Tagging AWS resources" user guide, tag naming limits; botocore rds model
    Tag.Value and memorydb Tag.Value carry no constraint of their own.
    """
    if len(value) > 256:
        return [f"must hold at most 256 characters (has {len(value)})"]
    return []


def cloudwatch_alarm_name(name: str) -> list[str]:
    """A CloudWatch alarm name (PutMetricAlarm.AlarmName).

    botocore cloudwatch model: min 1, max 255. CloudWatch API reference,
    PutMetricAlarm: "The name must contain only UTF-8 characters, and can't contain
    ASCII control characters".
    """
    problems = []
    if not 1 <= len(name) <= 255:
        problems.append(f"must hold 1 to 255 characters (has {len(name)})")
    if not name.isprintable():
        problems.append("must not hold control characters")
    return problems


def cloudwatch_dimension_value(value: str) -> list[str]:
    """A CloudWatch metric dimension value: botocore cloudwatch model, Dimension.Value 1-1024."""
    if not 1 <= len(value) <= 1024:
        return [f"must hold 1 to 1024 characters (has {len(value)})"]
    return []


RULES: dict[str, Callable[[str], list[str]]] = {
    "rds instance": rds_instance_identifier,
    "rds snapshot": rds_snapshot_identifier,
    "memorydb cluster": memorydb_cluster_name,
    "memorydb snapshot": memorydb_snapshot_name,
    "efs creation token": efs_creation_token,
    "backup token": backup_idempotency_token,
    "k8s label": k8s_label,
    "k8s subdomain": k8s_subdomain,
    "k8s label value": k8s_label_value,
    "s3 key": s3_key,
    "aws tag value": aws_tag_value,
    "cloudwatch alarm": cloudwatch_alarm_name,
    "cloudwatch dimension value": cloudwatch_dimension_value,
}


# The parameters each kind of name is passed as, whose botocore constraints apply too.
BOTOCORE_PARAMETERS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "rds instance": (
        ("rds", "RestoreDBInstanceFromDBSnapshot", "DBInstanceIdentifier"),
        ("rds", "RestoreDBInstanceToPointInTime", "TargetDBInstanceIdentifier"),
        ("rds", "ModifyDBInstance", "NewDBInstanceIdentifier"),
    ),
    "rds snapshot": (
        ("rds", "CreateDBSnapshot", "DBSnapshotIdentifier"),
        ("rds", "CopyDBSnapshot", "TargetDBSnapshotIdentifier"),
    ),
    "memorydb cluster": (("memorydb", "CreateCluster", "ClusterName"),),
    "memorydb snapshot": (
        ("memorydb", "CreateSnapshot", "SnapshotName"),
        ("memorydb", "CopySnapshot", "TargetSnapshotName"),
    ),
    "efs creation token": (("efs", "CreateFileSystem", "CreationToken"),),
    "backup token": (
        ("backup", "StartBackupJob", "IdempotencyToken"),
        ("backup", "StartCopyJob", "IdempotencyToken"),
        ("backup", "StartRestoreJob", "IdempotencyToken"),
    ),
    "s3 key": (("s3", "PutObject", "Key"), ("s3", "CopyObject", "Key")),
    "cloudwatch alarm": (("cloudwatch", "PutMetricAlarm", "AlarmName"),),
}


def problems_of(named: list[tuple[str, str, tuple[str, ...]]]) -> list[str]:
    """Every rule broken by the (what, name, kinds) triples, as readable lines.

    Each kind's documented rules, then botocore's constraints on every parameter
    that kind of name is passed as.
    """
    return [
        f"{what} {name!r} as {kind}: {problem}"
        for what, name, kinds in named
        for kind in kinds
        for problem in RULES[kind](name)
        + [
            p
            for parameter in BOTOCORE_PARAMETERS.get(kind, ())
            for p in botocore_problems(*parameter, name)
        ]
    ]


# --- botocore's own model -------------------------------------------------------------------


@cache
def _member(service: str, operation: str, member: str):
    model = botocore.session.get_session().get_service_model(service)
    return model.operation_model(operation).input_shape.members[member]


def botocore_problems(service: str, operation: str, member: str, value: str) -> list[str]:
    """What botocore's service model says is wrong with ``value`` for one parameter.

    Reads the shape's ``min``, ``max`` and ``pattern`` (botocore's client validator
    checks only ``min``); a parameter the model leaves unconstrained passes.
    """
    shape = _member(service, operation, member)
    meta = shape.metadata
    problems = []
    where = f"botocore {service}.{operation}.{member}"
    if "min" in meta and len(value) < meta["min"]:
        problems.append(f"{where}: shorter than {meta['min']}")
    if "max" in meta and len(value) > meta["max"]:
        problems.append(f"{where}: longer than {meta['max']}")
    if "pattern" in meta and not re.search(meta["pattern"], value):
        problems.append(f"{where}: does not match {meta['pattern']}")
    return problems
