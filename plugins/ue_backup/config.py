"""The installation description: one typed, validated model of one installation.

Everything the DAGs and operators need to know about the Usage Engine
installation they protect comes from here. It is validated once, at the edge,
and then passed around typed, so a bad value is refused before any AWS or
Kubernetes call is made. Loading never calls AWS or Kubernetes.

Sources, in order:

1. the YAML file named by the environment variable ``UE_BACKUP_CONFIG_FILE``;
2. the Airflow Variable ``ue_backup_config`` (JSON), read only at run time.

Every problem is reported at once, each line naming the field path
(``efs.aws_backup.iam_role_arn``) and what is wrong with it.
"""

from __future__ import annotations

import json
import logging
import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

CONFIG_FILE_ENV = "UE_BACKUP_CONFIG_FILE"
CONFIG_VARIABLE = "ue_backup_config"

# AWS naming rules, kept to what AWS itself enforces so that a typo is caught
# here rather than by a failed API call in the middle of a cold window.
REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
RDS_ID_RE = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,62}(?<!-)$")
EFS_ID_RE = re.compile(r"^fs-[0-9a-f]{8,40}$")
IAM_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
BACKUP_VAULT_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:backup:[a-z0-9-]+:\d{12}:backup-vault:[a-zA-Z0-9\-_]{2,50}$"
)
VAULT_NAME_RE = re.compile(r"^[a-zA-Z0-9\-_]{2,50}$")
DATASYNC_TASK_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:datasync:[a-z0-9-]+:\d{12}:task/task-[0-9a-f]{17}$"
)
SUBNET_ARN_RE = re.compile(r"^arn:aws[a-z-]*:ec2:[a-z0-9-]+:\d{12}:subnet/subnet-[0-9a-f]{8,17}$")
SG_ARN_RE = re.compile(r"^arn:aws[a-z-]*:ec2:[a-z0-9-]+:\d{12}:security-group/sg-[0-9a-f]{8,17}$")
KMS_KEY_RE = re.compile(
    r"^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[\w/-]+|alias/[\w/-]+|[0-9a-f-]{36})$"
)
MEMORYDB_NAME_RE = re.compile(r"^[a-z](?!.*--)[a-z0-9-]{0,39}(?<!-)$")
SNS_TOPIC_ARN_RE = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
S3_BUCKET_RE = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
K8S_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
K8S_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
# Every snapshot and restored resource is named after the installation (``ueb-<name>-<time>``,
# ``<name>-r<time>-db``): 40 characters leave room for the rest under RDS's and MemoryDB's
# limits, and "--" would make names both refuse (tests/plugins/test_names.py).
INSTALLATION_RE = re.compile(r"^[a-z](?!.*--)[a-z0-9-]{0,38}[a-z0-9]$")
ACCOUNT_ID_RE = re.compile(r"^\d{12}$")
CONN_ID_RE = re.compile(r"^[\w.-]{1,250}$")
# One requirement of a Kubernetes label selector: key, key=value, key!=value,
# key in (a,b), key notin (a,b), !key.
_LABEL_KEY = r"([a-z0-9A-Z.\-/_]+)"
_LABEL_VALUE = r"([a-zA-Z0-9._-]*)"
LABEL_REQUIREMENT_RE = re.compile(
    rf"^\s*(!?{_LABEL_KEY}|{_LABEL_KEY}\s*(==?|!=)\s*{_LABEL_VALUE}"
    rf"|{_LABEL_KEY}\s+(in|notin)\s+\(\s*{_LABEL_VALUE}(\s*,\s*{_LABEL_VALUE})*\s*\))\s*$"
)


def _matches(pattern: re.Pattern[str], what: str):
    """A field validator factory: refuse a value that does not match ``pattern``."""

    def check(value: str | None) -> str | None:
        if value is not None and not pattern.match(value):
            raise ValueError(f"{value!r} is not a valid {what}")
        return value

    return check


def _cron(value: str | None) -> str | None:
    """A field validator: refuse a schedule that is not a cron expression."""
    if value is not None and not is_valid_cron(value):
        raise ValueError(f"{value!r} is not a valid cron expression")
    return value


class _Model(BaseModel):
    """Strict base: unknown keys are refused, so a misspelt option is never ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveInt = Annotated[int, Field(gt=0)]
PositiveMinutes = Annotated[float, Field(gt=0)]


# --- system database -------------------------------------------------------


class DatabaseEngine(StrEnum):
    RDS = "rds"
    DERBY = "derby"


class PlatformKind(StrEnum):
    DEPLOYMENT = "Deployment"
    STATEFUL_SET = "StatefulSet"


class PlatformWorkload(_Model):
    """The workload of the platform, the process that writes Derby.

    Derby's files live in the EFS tree and are copied file by file: only a
    stopped Derby gives a consistent copy. The managed cold window scales this
    workload to zero (and back) with the ECDs, recorded on it the same way.
    """

    kind: PlatformKind
    name: str

    _name = field_validator("name")(_matches(K8S_SUBDOMAIN_RE, "Kubernetes workload name"))


class DerbyConfig(_Model):
    platform: PlatformWorkload


class DatabaseConfig(_Model):
    """The system database: RDS PostgreSQL, or Derby living on the EFS file system."""

    engine: DatabaseEngine
    rds_instance_identifier: str | None = Field(default=None, validate_default=True)
    # Derby: the platform workload that writes it (required with engine 'derby').
    derby: DerbyConfig | None = Field(default=None, validate_default=True)

    _check_id = field_validator("rds_instance_identifier")(
        _matches(RDS_ID_RE, "RDS DB instance identifier")
    )

    @field_validator("rds_instance_identifier")
    @classmethod
    def _matches_engine(cls, value: str | None, info: ValidationInfo) -> str | None:
        engine = info.data.get("engine")
        if engine == DatabaseEngine.RDS and not value:
            raise ValueError("is required when engine is 'rds'")
        if engine == DatabaseEngine.DERBY and value:
            raise ValueError(
                "must not be set when engine is 'derby' (Derby lives on EFS; "
                "remove the RDS identifier or set engine to 'rds')"
            )
        return value

    @field_validator("derby")
    @classmethod
    def _derby_engine(cls, value: DerbyConfig | None, info: ValidationInfo) -> DerbyConfig | None:
        engine = info.data.get("engine")
        if engine == DatabaseEngine.DERBY and value is None:
            raise ValueError(
                "is required when engine is 'derby': name the platform workload that writes "
                "Derby (derby.platform.kind Deployment or StatefulSet, derby.platform.name), "
                "which the cold window stops so that Derby is copied cold"
            )
        if engine == DatabaseEngine.RDS and value is not None:
            raise ValueError("must not be set when engine is 'rds' (remove the derby section)")
        return value


# --- disk data on EFS --------------------------------------------------------


class EfsBackupMethod(StrEnum):
    AWS_BACKUP = "aws_backup"
    DATASYNC = "datasync"


class Lifecycle(_Model):
    """AWS Backup recovery point lifecycle, in days."""

    delete_after_days: PositiveInt | None = 35
    move_to_cold_storage_after_days: PositiveInt | None = None

    @model_validator(mode="after")
    def _cold_storage_before_delete(self) -> Lifecycle:
        cold, delete = self.move_to_cold_storage_after_days, self.delete_after_days
        if cold is not None and delete is not None and delete < cold + 90:
            raise PydanticCustomError(
                "lifecycle",
                "delete_after_days must be at least 90 days after "
                "move_to_cold_storage_after_days (AWS Backup's cold storage minimum)",
                {"field": "delete_after_days"},
            )
        return self

    def as_aws(self) -> dict[str, int]:
        """The ``Lifecycle`` argument of ``StartBackupJob`` / ``StartCopyJob``."""
        out = {}
        if self.delete_after_days is not None:
            out["DeleteAfterDays"] = self.delete_after_days
        if self.move_to_cold_storage_after_days is not None:
            out["MoveToColdStorageAfterDays"] = self.move_to_cold_storage_after_days
        return out


class AwsBackupConfig(_Model):
    vault_name: str
    iam_role_arn: str
    lifecycle: Lifecycle = Lifecycle()
    complete_window_minutes: PositiveInt = 480

    _vault = field_validator("vault_name")(_matches(VAULT_NAME_RE, "backup vault name"))
    _role = field_validator("iam_role_arn")(_matches(IAM_ROLE_ARN_RE, "IAM role ARN"))


class DataSyncConfig(_Model):
    """EFS-to-EFS copy with DataSync, where AWS Backup is not offered.

    Either an existing task (``task_arn``), or what is needed to create one:
    the target file system and the network it is reached through.
    """

    target_file_system_id: str
    task_arn: str | None = None
    subnet_arn: str | None = None
    security_group_arns: list[str] = []
    target_subdirectory: str = "/"

    _target = field_validator("target_file_system_id")(_matches(EFS_ID_RE, "EFS file system id"))
    _task = field_validator("task_arn")(_matches(DATASYNC_TASK_ARN_RE, "DataSync task ARN"))
    _subnet = field_validator("subnet_arn")(_matches(SUBNET_ARN_RE, "subnet ARN"))

    @field_validator("security_group_arns")
    @classmethod
    def _sg_arns(cls, value: list[str]) -> list[str]:
        bad = [arn for arn in value if not SG_ARN_RE.match(arn)]
        if bad:
            raise ValueError(f"{bad!r} are not valid security group ARNs")
        return value

    @field_validator("target_subdirectory")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"{value!r} must be an absolute path starting with '/'")
        return value

    @model_validator(mode="after")
    def _task_or_network(self) -> DataSyncConfig:
        if self.task_arn is None and (self.subnet_arn is None or not self.security_group_arns):
            raise PydanticCustomError(
                "datasync",
                "either task_arn, or subnet_arn and security_group_arns, are required "
                "so the DataSync task can be found or created",
                {"field": "task_arn"},
            )
        return self


class EfsConfig(_Model):
    """The EFS file system holding disk data, and the one method that backs it up."""

    file_system_id: str
    backup_method: EfsBackupMethod
    aws_backup: AwsBackupConfig | None = Field(default=None, validate_default=True)
    datasync: DataSyncConfig | None = Field(default=None, validate_default=True)

    _fs = field_validator("file_system_id")(_matches(EFS_ID_RE, "EFS file system id"))

    @field_validator("aws_backup", "datasync")
    @classmethod
    def _section_matches_method(cls, value, info: ValidationInfo):
        """Exactly the section of the chosen method is given."""
        method = info.data.get("backup_method")
        if method is None:  # the method itself is invalid and already reported
            return value
        if info.field_name == method.value and value is None:
            raise ValueError(f"is required when backup_method is {method.value!r}")
        if info.field_name != method.value and value is not None:
            raise ValueError(f"must not be set when backup_method is {method.value!r}")
        return value


# --- MemoryDB, Kubernetes, Velero -------------------------------------------


class MemoryDbConfig(_Model):
    cluster_name: str
    copy_region: str | None = None
    # Removed (it was read by nothing): declared only so that a configuration giving it
    # is refused naming it, and learns what keeps the snapshots instead.
    snapshot_retention_days: Any = Field(default=None, exclude=True)

    @field_validator("snapshot_retention_days")
    @classmethod
    def _removed(cls, value: Any) -> Any:
        raise ValueError(
            "is no longer accepted (it was never applied): a backup set's MemoryDB snapshot "
            "is kept as long as its set (retention), MemoryDB's own automatic snapshots by "
            "the cluster's SnapshotRetentionLimit; remove it"
        )

    _name = field_validator("cluster_name")(_matches(MEMORYDB_NAME_RE, "MemoryDB cluster name"))
    _region = field_validator("copy_region")(_matches(REGION_RE, "AWS region"))


class EcdSelection(_Model):
    """Which EC Deployments make up the cold window: a label selector or names."""

    label_selector: str | None = None
    names: list[str] = []

    @field_validator("label_selector")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        if value is None:
            return value
        bad = [part for part in value.split(",") if not LABEL_REQUIREMENT_RE.match(part)]
        if not value or bad:
            raise ValueError(f"{value!r} is not a valid Kubernetes label selector")
        return value

    @field_validator("names")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        bad = [name for name in value if not K8S_SUBDOMAIN_RE.match(name)]
        if bad:
            raise ValueError(f"{bad!r} are not valid Kubernetes object names")
        if len(set(value)) != len(value):
            raise ValueError("lists a name more than once")
        return value

    @model_validator(mode="after")
    def _one_way(self) -> EcdSelection:
        if self.label_selector and self.names:
            raise PydanticCustomError(
                "conflict",
                "give either label_selector or names, not both",
                {"field": "names"},
            )
        return self

    @property
    def is_empty(self) -> bool:
        return not self.label_selector and not self.names


# The default image of the EFS Jobs, pinned by digest so that a re-pointed tag cannot change
# what runs as root on the platform's data. The digest is that of the multi-platform index of
# docker.io/library/busybox:1.36.1, taken from public sources (no registry is reachable where
# this was written): the same digest pins busybox:1.36.1 and busybox:1.36 in many unrelated
# public repositories, one of which records it as Docker Hub's answer on 2026-10-03, another as
# a `crane digest` read-back of busybox:1.36. Verify it (`crane digest busybox:1.36.1`) or pin
# your own mirror's copy with kubernetes.jobs.image.
DEFAULT_JOB_IMAGE = (
    "busybox:1.36.1@sha256:73aaf090f3d85aa34ee199857f03fa3a95c8ede2ffd4cc2cdb5b94e566b11662"
)
# A Kubernetes resource quantity as this project writes them: a decimal number and a suffix.
QUANTITY_RE = re.compile(r"^(?P<number>\d+(\.\d+)?)(?P<suffix>m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_QUANTITY_FACTORS = {
    None: 1, "m": 0.001, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}  # fmt: skip


def quantity_value(text: str) -> float:
    """The number a resource quantity stands for (``"250m"`` is 0.25, ``"64Mi"`` 67108864)."""
    found = QUANTITY_RE.match(text)
    if not found:
        raise ValueError(
            f"{text!r} is not a Kubernetes quantity (a number and an optional suffix: "
            "250m, 1, 64Mi, 1Gi)"
        )
    return float(found["number"]) * _QUANTITY_FACTORS[found["suffix"]]


def _image_reference(value: str) -> str:
    """A field validator: refuse an empty image reference or one holding whitespace."""
    if not value or any(c.isspace() for c in value):
        raise ValueError(f"{value!r} is not an image reference")
    return value


class JobResources(_Model):
    """CPU and memory of one side (requests or limits) of a Job's container."""

    cpu: str
    memory: str

    @field_validator("cpu", "memory", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        """``cpu: 1`` in YAML is a number; Kubernetes takes it as the quantity "1"."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("cpu", "memory")
    @classmethod
    def _quantity(cls, value: str) -> str:
        if quantity_value(value) <= 0:
            raise ValueError(f"{value!r} must be more than zero")
        return value


class JobsConfig(_Model):
    """How every Kubernetes Job ue-backup starts in the cluster runs (``kubernetes.jobs``).

    The EFS Jobs (purge, check, stage, place, discard; the drill's; retention's
    removal of a DataSync set's folder) run in
    ``image`` (POSIX sh, find, rm, mv); the application checks' Job runs in
    ``verification.image`` with the same resources and deadline. Requests and
    limits let a namespace whose ResourceQuota requires them admit the Jobs.
    ``ttl_seconds_after_finished``: Kubernetes deletes a finished Job (and its
    pod) this long after it ended; ue-backup's Role cannot delete Jobs in the
    Usage Engine namespace, so without it they would pile up there.
    ``active_deadline_seconds``: a Job still running this long after it started
    is stopped and failed (``DeadlineExceeded``). The tasks that wait for a Job
    have no timeout of their own, so this deadline is what bounds them: it must
    cover the longest Job (a purge of a large restored tree over NFS).
    """

    image: str = DEFAULT_JOB_IMAGE
    requests: JobResources = JobResources(cpu="100m", memory="64Mi")
    limits: JobResources = JobResources(cpu="1", memory="256Mi")
    ttl_seconds_after_finished: NonNegativeInt = 3600
    active_deadline_seconds: Annotated[int, Field(gt=0, le=7 * 24 * 3600)] = 4 * 3600

    _image = field_validator("image")(_image_reference)

    @model_validator(mode="after")
    def _requests_within_limits(self) -> JobsConfig:
        for resource in ("cpu", "memory"):
            request = getattr(self.requests, resource)
            limit = getattr(self.limits, resource)
            if quantity_value(request) > quantity_value(limit):
                raise PydanticCustomError(
                    "conflict",
                    f"{resource} request {request} is more than its limit {limit}: "
                    "Kubernetes refuses such a Job",
                    {"field": f"requests.{resource}"},
                )
        return self


class KubernetesConfig(_Model):
    namespace: str
    ecd_selection: EcdSelection = EcdSelection()
    jobs: JobsConfig = JobsConfig()

    _ns = field_validator("namespace")(_matches(K8S_NAME_RE, "Kubernetes namespace"))

    @model_validator(mode="before")
    @classmethod
    def _job_image_alias(cls, data: Any) -> Any:
        """``job_image`` (deprecated) is ``jobs.image``: kept so older files still load."""
        if not isinstance(data, dict) or "job_image" not in data:
            return data
        data = dict(data)
        image = data.pop("job_image")
        jobs = data.get("jobs")
        jobs = dict(jobs) if isinstance(jobs, dict) else ({} if jobs is None else jobs)
        if not isinstance(jobs, dict):
            return data  # the jobs section's own validation names what is wrong with it
        if "image" in jobs and jobs["image"] != image:
            raise PydanticCustomError(
                "conflict",
                "job_image (deprecated) and jobs.image differ: give jobs.image only",
                {"field": "job_image"},
            )
        logging.getLogger(__name__).warning(
            "kubernetes.job_image is deprecated: use kubernetes.jobs.image"
        )
        data["jobs"] = {**jobs, "image": image}
        return data

    @property
    def job_image(self) -> str:
        """The EFS Jobs' image (``jobs.image``; the deprecated option's name)."""
        return self.jobs.image


class VeleroConfig(_Model):
    namespace: str = "velero"
    storage_location: str = "default"
    included_namespaces: list[str]
    ttl_hours: PositiveInt = 720
    allow_partially_failed: bool = False

    _ns = field_validator("namespace")(_matches(K8S_NAME_RE, "Kubernetes namespace"))
    _loc = field_validator("storage_location")(_matches(K8S_SUBDOMAIN_RE, "storage location"))

    @field_validator("included_namespaces")
    @classmethod
    def _namespaces(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("must list at least one namespace")
        bad = [ns for ns in value if ns != "*" and not K8S_NAME_RE.match(ns)]
        if bad:
            raise ValueError(f"{bad!r} are not valid Kubernetes namespaces")
        return value

    @property
    def ttl(self) -> str:
        """The Velero ``spec.ttl`` duration string."""
        return f"{self.ttl_hours}h0m0s"


# --- cold window -------------------------------------------------------------


class DiskStorage(StrEnum):
    """Workflow features that keep state on EFS, and so need a cold window."""

    AGGREGATION = "aggregation"
    DUPLICATE_UDR = "duplicate_udr"
    INTER_WORKFLOW = "inter_workflow"
    # The platform's Derby system database (database.engine 'derby'), which lives on EFS.
    DERBY = "derby"


class ColdWindowMode(StrEnum):
    MANAGED = "managed"  # this project suspends and resumes the ECDs
    EXTERNAL = "external"  # the platform's Helm suspend.from/suspend.until does


class ColdWindowConfig(_Model):
    disk_storage_used: list[DiskStorage] = []
    mode: ColdWindowMode = ColdWindowMode.MANAGED
    drain_timeout_minutes: PositiveMinutes = 15
    max_window_minutes: PositiveMinutes = 60
    external_suspend_from: str | None = None
    external_suspend_until: str | None = None
    # How long a backup needs inside the window when there is no history to learn it
    # from (fewer than window_estimate.MIN_JOBS past copies, past_runs): external mode
    # refuses a run that starts later than ``until`` minus the estimate.
    expected_backup_minutes: PositiveInt = 30
    # What the estimate learned from history adds to the p90 of the past jobs.
    estimate_margin_percent: NonNegativeInt = 25
    # How far back the past copies are read (AWS Backup's jobs created, DataSync's
    # executions started, since then). AWS Backup lists the jobs of the last 30 days
    # only (ListBackupJobs): more is refused with efs.backup_method 'aws_backup'.
    estimate_history_days: PositiveInt = 30

    @property
    def required(self) -> bool:
        """Disk data is only consistent while workflows do not write to it."""
        return bool(self.disk_storage_used)

    @field_validator("external_suspend_from", "external_suspend_until")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_cron(value):
            raise ValueError(f"{value!r} is not a valid cron expression")
        return value

    @model_validator(mode="after")
    def _window_fits(self) -> ColdWindowConfig:
        if self.drain_timeout_minutes >= self.max_window_minutes:
            raise PydanticCustomError(
                "window",
                "drain_timeout_minutes ({drain}) must be shorter than max_window_minutes ({max})",
                {
                    "field": "drain_timeout_minutes",
                    "drain": self.drain_timeout_minutes,
                    "max": self.max_window_minutes,
                },
            )
        if self.mode == ColdWindowMode.EXTERNAL and not (
            self.external_suspend_from and self.external_suspend_until
        ):
            raise PydanticCustomError(
                "external",
                "mode 'external' needs external_suspend_from and external_suspend_until "
                "(the platform's Helm suspend.from / suspend.until)",
                {"field": "external_suspend_until"},
            )
        return self


def is_valid_cron(expression: str) -> bool:
    from croniter import croniter

    return croniter.is_valid(expression)


# --- manifests, retention, prices, cross-region --------------------------------


class ManifestConfig(_Model):
    bucket: str
    prefix: str = "ue-backup/"

    _bucket = field_validator("bucket")(_matches(S3_BUCKET_RE, "S3 bucket name"))

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value.startswith("/"):
            raise ValueError(f"{value!r} must not start with '/' (S3 keys are relative)")
        return value if not value or value.endswith("/") else value + "/"


class RetentionConfig(_Model):
    """What ``ue_backup_retention`` keeps: the newest ``keep_last`` sets and any younger
    than ``keep_days``; ``schedule`` (cron, UTC; null: by hand only) defaults to daily
    after the usual night-time backup window."""

    keep_last: PositiveInt = 7
    keep_days: NonNegativeInt = 14
    schedule: str | None = "0 6 * * *"

    _schedule = field_validator("schedule")(_cron)


class DrillConfig(_Model):
    """When ``ue_restore_drill`` proves that the newest backup set restores, and where.

    ``schedule`` (cron, UTC; null: no timed drill) defaults to weekly, Sunday
    04:00; ``after_backup`` also runs a drill after every successful backup (the
    backup set's Asset event). Every drill creates a full side-by-side copy of
    the installation for a while: with frequent backups, consider
    ``after_backup: false``. ``namespace`` (default ``<kubernetes.namespace>-drill``)
    receives the Velero restore and the drill's EFS Jobs; it must not be a
    namespace of the installation.
    """

    schedule: str | None = "0 4 * * 0"
    after_backup: bool = True
    namespace: str | None = None

    _ns = field_validator("namespace")(_matches(K8S_NAME_RE, "Kubernetes namespace"))

    _schedule = field_validator("schedule")(_cron)


class PricesConfig(_Model):
    """Storage prices in USD per GB-month; defaults are the design's seed prices."""

    rds_snapshot_gb_month: Annotated[float, Field(ge=0)] = 0.05
    efs_warm_gb_month: Annotated[float, Field(ge=0)] = 0.095
    memorydb_snapshot_gb_month: Annotated[float, Field(ge=0)] = 0.085
    # The cross-region copy of a MemoryDB snapshot is an S3 object (see CrossRegionConfig).
    s3_standard_gb_month: Annotated[float, Field(ge=0)] = 0.023
    # A DataSync set's folder is EFS Standard storage on the target file system (its list
    # price in us-east-1; Infrequent Access under a lifecycle policy costs less).
    efs_standard_gb_month: Annotated[float, Field(ge=0)] = 0.30


class CrossRegionConfig(_Model):
    """Where each backup set is copied to survive the loss of the home region.

    ``backup_vault_arn``: an AWS Backup vault in ``region`` (the EFS recovery
    point's copy). ``rds_kms_key_id``: a KMS key in ``region`` for the RDS
    snapshot's copy (required by AWS when the snapshot is encrypted).
    MemoryDB cannot copy a snapshot to another region, nor export one to a
    bucket outside its own region: the set's snapshot is exported to
    ``memorydb_export_bucket`` (home region, writable by MemoryDB) and its
    ``.rdb`` files are copied from there to ``memorydb_bucket`` (in
    ``region``), from which a new cluster can be seeded.
    """

    region: str
    backup_vault_arn: str | None = None
    rds_kms_key_id: str | None = None
    memorydb_export_bucket: str | None = None
    memorydb_bucket: str | None = None

    _region = field_validator("region")(_matches(REGION_RE, "AWS region"))
    _vault = field_validator("backup_vault_arn")(_matches(BACKUP_VAULT_ARN_RE, "backup vault ARN"))
    _kms = field_validator("rds_kms_key_id")(_matches(KMS_KEY_RE, "KMS key id or ARN"))
    _buckets = field_validator("memorydb_export_bucket", "memorydb_bucket")(
        _matches(S3_BUCKET_RE, "S3 bucket name")
    )

    @property
    def backup_vault_name(self) -> str | None:
        return self.backup_vault_arn.rsplit(":", 1)[-1] if self.backup_vault_arn else None


class RetryMode(StrEnum):
    STANDARD = "standard"
    ADAPTIVE = "adaptive"


class AwsRetriesConfig(_Model):
    """How every AWS call the project makes retries a transient error (botocore's retries).

    A busy account answers ``ThrottlingException`` for minutes at a time, and a
    service may answer 5xx or drop a connection: botocore retries each call up
    to ``max_attempts`` times in all (the first included) with exponential
    backoff, in ``standard`` mode (or ``adaptive``: also slows the client down
    while throttled). Waits never fail on such an error anyway: they check
    again later, until their own timeout.
    """

    mode: RetryMode = RetryMode.STANDARD
    max_attempts: Annotated[int, Field(ge=1, le=50)] = 10


class AlertsConfig(_Model):
    """Where failures and an overdue cold window are announced (an SNS topic).

    Without this section failures are still loud in the task logs and the
    run's state, but nobody is paged.
    """

    sns_topic_arn: str

    _topic = field_validator("sns_topic_arn")(_matches(SNS_TOPIC_ARN_RE, "SNS topic ARN"))

    @property
    def region(self) -> str:
        return self.sns_topic_arn.split(":")[3]


RPO_MAX_MINUTES = 7 * 24 * 60  # what a CloudWatch metric alarm can watch (ue_backup.rpo)


class RpoConfig(_Model):
    """The RPO guard: the largest acceptable age, in minutes, of the newest restorable set.

    ``home_minutes`` for the home region, ``copy_minutes`` for the
    ``cross_region`` region (default: ``home_minutes``). Left out, the RPO is
    twice the schedule's longest interval plus ``cold_window.max_window_minutes``
    (one failed run tolerated, two in a row page), at most 7 days; without a
    schedule and without values the guard is off. Preflight refuses an RPO
    shorter than the schedule's interval (``ue_backup.rpo.problems``).
    """

    home_minutes: PositiveInt | None = None
    copy_minutes: PositiveInt | None = None

    @field_validator("home_minutes", "copy_minutes")
    @classmethod
    def _alarm_can_watch(cls, value: int | None) -> int | None:
        if value is not None and value > RPO_MAX_MINUTES:
            raise ValueError(
                f"{value} minutes is more than {RPO_MAX_MINUTES} (7 days): a CloudWatch metric "
                "alarm evaluates at most 7 days of data, so the RPO could not be guarded"
            )
        return value


# --- verification of a restored system (application checks) ------------------

# The image of the check Job: built from include/images/ue-backup-checks/Dockerfile
# (Debian 12 with its psql and redis-cli, the versions the tests run the script with).
DEFAULT_CHECK_IMAGE = "ue-backup-checks:1.0"
# A check's name is printed in its result line and may later name Kubernetes objects.
CHECK_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$")
# The names the two reference checks report under; no SQL check may take them.
EFS_REFERENCES_CHECK = "efs_references"
REDIS_REFERENCES_CHECK = "redis_references"


class ComparisonOp(StrEnum):
    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


class SqlExpectation(StrEnum):
    ROWS = "rows"  # at least one row
    NO_ROWS = "no_rows"


def _query(value: str | None) -> str | None:
    """A field validator: a query is sent to psql as one argument, so it is text, not empty."""
    if value is not None and not value:
        raise ValueError("must not be empty")
    if value is not None and "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


class Comparison(_Model):
    """What the single value a query returns must be: ``{op: ">=", value: 1}`` (numbers)."""

    op: ComparisonOp
    value: Annotated[float, Field(strict=True, allow_inf_nan=False)]

    @field_validator("op", mode="before")
    @classmethod
    def _known_op(cls, value: Any) -> Any:
        if value not in {op.value for op in ComparisonOp}:
            known = ", ".join(repr(op.value) for op in ComparisonOp)
            raise ValueError(f"{value!r} is not a known comparison; use one of {known}")
        return value


class SqlCheck(_Model):
    """One SQL check: ``query`` must return rows, no rows, or one value that compares."""

    name: str
    query: str
    expect: SqlExpectation | Comparison

    _name = field_validator("name")(_matches(CHECK_NAME_RE, "check name"))
    _query = field_validator("query")(_query)

    @field_validator("expect", mode="before")
    @classmethod
    def _expectation(cls, value: Any) -> Any:
        """A word or a comparison, each refused in its own words (not as a union's two errors)."""
        if isinstance(value, str):
            if value not in {e.value for e in SqlExpectation}:
                raise ValueError(
                    f"{value!r} is not an expectation: give 'rows', 'no_rows' "
                    "or a comparison (op and value)"
                )
            return SqlExpectation(value)
        if not isinstance(value, dict):
            raise ValueError("give 'rows', 'no_rows' or a comparison (op and value)")
        try:
            return Comparison.model_validate(value)
        except ValidationError as error:
            first = error.errors()[0]
            raise PydanticCustomError(
                "expect",
                _message(first),
                {"field": ".".join(str(part) for part in first["loc"])},
            ) from None


class ReferenceChecks(_Model):
    """Queries listing what the restored database references, to be found on EFS and in Redis.

    ``efs_paths_query`` returns paths relative to the EFS root, one per row;
    ``redis_keys_query`` returns Redis keys, one per row. ``sample``: how many
    missing items (or unexpected rows of a ``no_rows`` SQL check) a failing
    check names.
    """

    efs_paths_query: str | None = None
    redis_keys_query: str | None = None
    sample: Annotated[int, Field(ge=1, le=1000)] = 10

    _queries = field_validator("efs_paths_query", "redis_keys_query")(_query)


class VerificationConfig(_Model):
    """Application-level checks run against a restored system (optional; default: none).

    They run in a Kubernetes Job in ``image``, which must contain POSIX ``sh``,
    ``psql`` and ``redis-cli`` (ue_backup.app_checks renders its script).
    """

    image: str = DEFAULT_CHECK_IMAGE
    sql_checks: list[SqlCheck] = []
    reference_checks: ReferenceChecks = ReferenceChecks()

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if not value or any(c.isspace() for c in value):
            raise ValueError(f"{value!r} is not an image reference")
        return value

    @field_validator("sql_checks")
    @classmethod
    def _unique_names(cls, value: list[SqlCheck]) -> list[SqlCheck]:
        names = [check.name for check in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"names {twice} more than once; each check needs its own name")
        reserved = sorted({EFS_REFERENCES_CHECK, REDIS_REFERENCES_CHECK} & set(names))
        if reserved:
            raise ValueError(f"{reserved} are the reference checks' own names; choose another")
        return value

    @property
    def has_checks(self) -> bool:
        refs = self.reference_checks
        return bool(self.sql_checks or refs.efs_paths_query or refs.redis_keys_query)


# --- the installation --------------------------------------------------------


def partition_of(region: str) -> str:
    """The AWS partition a region belongs to (an ARN's second field)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


class ImmutableConfig(_Model):
    """Where the copies the Airflow role cannot delete are kept, and how long at least.

    ``account_id``: the protected account (not the installation's).
    ``role_arn``: the role there that ``aws_conn_id`` assumes (the connection's
    ``role_arn`` extra); preflight checks the connection really is that role.
    ``region``: the locked vault's and bucket's region (default: the home region).
    ``backup_vault_name``: a vault there under Vault Lock.
    ``bucket``: a bucket there with Object Lock in compliance mode by default.
    ``min_retention_days``: how long every locked copy is kept (its lifecycle): the
    vault's lock must accept that (its MinRetentionDays at most, its MaxRetentionDays
    at least this) and the bucket's default retention must be at least this.
    ``backup_role_arn``: the role AWS Backup runs as in the protected account when a
    restore copies the locked recovery points back into the installation's vault
    (``ue_restore`` with ``source: immutable``); required, so the way back is known
    before it is needed.
    ``memorydb_export_bucket``: with a ``memorydb`` section, a bucket of the
    installation's account in the home region that MemoryDB exports the set's
    snapshot to (it exports only to a bucket of its own region); its ``.rdb`` files
    are copied from there into ``bucket``, locked, and then deleted from it: a
    staging area, never the cross-region copy's export bucket.
    """

    account_id: str
    role_arn: str
    backup_role_arn: str
    aws_conn_id: str = "aws_immutable"
    region: str | None = None
    backup_vault_name: str
    bucket: str
    min_retention_days: PositiveInt = 35
    memorydb_export_bucket: str | None = None

    _account = field_validator("account_id")(_matches(ACCOUNT_ID_RE, "AWS account id (12 digits)"))
    _role = field_validator("role_arn", "backup_role_arn")(
        _matches(IAM_ROLE_ARN_RE, "IAM role ARN")
    )
    _conn = field_validator("aws_conn_id")(_matches(CONN_ID_RE, "Airflow connection id"))
    _region = field_validator("region")(_matches(REGION_RE, "AWS region"))
    _vault = field_validator("backup_vault_name")(_matches(VAULT_NAME_RE, "backup vault name"))
    _bucket = field_validator("bucket", "memorydb_export_bucket")(
        _matches(S3_BUCKET_RE, "S3 bucket name")
    )

    @model_validator(mode="after")
    def _role_in_the_protected_account(self) -> Self:
        for name, why in (
            ("role_arn", "the connection must reach the protected account"),
            ("backup_role_arn", "AWS Backup runs the copies back home as a role there"),
        ):
            role_account = getattr(self, name).split(":")[4]
            if role_account != self.account_id:
                raise ValueError(
                    f"{name} is in account {role_account}, not in account_id "
                    f"{self.account_id}: {why}"
                )
        return self

    def region_or(self, home_region: str) -> str:
        return self.region or home_region

    def vault_arn(self, home_region: str) -> str:
        """The locked vault's ARN, which a copy job in the installation's account names."""
        region = self.region_or(home_region)
        return (
            f"arn:{partition_of(region)}:backup:{region}:{self.account_id}:"
            f"backup-vault:{self.backup_vault_name}"
        )

    @property
    def lifecycle(self) -> dict[str, int]:
        """What every copy into the locked vault is kept for (AWS Backup's Lifecycle).

        Exactly ``min_retention_days``: a locked vault fails a job kept less than its
        minimum, and a copy kept longer costs more than the configuration asked for.
        """
        return {"DeleteAfterDays": self.min_retention_days}


class InstallationConfig(_Model):
    """One Usage Engine Private Edition installation and how it is backed up."""

    installation: str
    region: str
    database: DatabaseConfig
    efs: EfsConfig
    memorydb: MemoryDbConfig | None = None
    kubernetes: KubernetesConfig
    cold_window: ColdWindowConfig = ColdWindowConfig()
    velero: VeleroConfig | None = None
    manifests: ManifestConfig
    schedule: str | None = None
    retention: RetentionConfig = RetentionConfig()
    drill: DrillConfig = DrillConfig()
    prices: PricesConfig = PricesConfig()
    cross_region: CrossRegionConfig | None = None
    alerts: AlertsConfig | None = None
    immutable: ImmutableConfig | None = None
    rpo: RpoConfig = RpoConfig()
    verification: VerificationConfig = VerificationConfig()
    aws_retries: AwsRetriesConfig = AwsRetriesConfig()
    aws_conn_id: str = "aws_default"
    kubernetes_conn_id: str = "kubernetes_default"

    @field_validator("installation")
    @classmethod
    def _name(cls, value: str) -> str:
        if "--" in value:
            raise ValueError(
                f"{value!r} holds '--': the snapshots and restored resources named after the "
                "installation would too, and RDS and MemoryDB refuse two hyphens in a row"
            )
        if not INSTALLATION_RE.match(value):
            raise ValueError(
                f"{value!r} is not a valid installation name (2 to 40 lowercase letters, "
                "digits and '-', a letter first, no '-' last)"
            )
        return value

    _region = field_validator("region")(_matches(REGION_RE, "AWS region"))

    _schedule = field_validator("schedule")(_cron)

    @model_validator(mode="after")
    def _cross_section(self) -> InstallationConfig:
        problems = list(_cross_section_problems(self))
        if problems:
            raise PydanticCustomError(
                "conflicts",
                "; ".join(f"{path}: {msg}" for path, msg in problems),
                {"problems": problems},
            )
        return self

    @property
    def uses_rds(self) -> bool:
        return self.database.engine == DatabaseEngine.RDS


# How far back AWS Backup's ListBackupJobs lists jobs (its API reference: the last 30 days).
BACKUP_JOBS_LISTED_DAYS = 30


def _cross_section_problems(cfg: InstallationConfig):
    """Conflicts between sections, each as (field path, message)."""
    managed_window = cfg.cold_window.required and cfg.cold_window.mode == ColdWindowMode.MANAGED
    if managed_window and cfg.kubernetes.ecd_selection.is_empty:
        yield (
            "kubernetes.ecd_selection",
            "a cold window is required (cold_window.disk_storage_used is "
            f"{[s.value for s in cfg.cold_window.disk_storage_used]}) but no ECDs are "
            "selected: give a label_selector or names",
        )
    yield from _derby_window_problems(cfg)
    for path, other in (
        ("memorydb.copy_region", cfg.memorydb and cfg.memorydb.copy_region),
        ("cross_region.region", cfg.cross_region and cfg.cross_region.region),
    ):
        if other and other == cfg.region:
            yield path, f"{other!r} is the home region; a copy must go to another region"
    if cfg.efs.datasync and cfg.efs.datasync.target_file_system_id == cfg.efs.file_system_id:
        yield (
            "efs.datasync.target_file_system_id",
            "is the protected file system itself; the copy needs another file system",
        )
    days = cfg.cold_window.estimate_history_days
    if cfg.efs.aws_backup and days > BACKUP_JOBS_LISTED_DAYS:
        yield (
            "cold_window.estimate_history_days",
            f"is {days}, but AWS Backup lists the backup jobs of the last "
            f"{BACKUP_JOBS_LISTED_DAYS} days only (ListBackupJobs): older jobs would be "
            f"silently missing from the window estimate; give at most {BACKUP_JOBS_LISTED_DAYS}",
        )
    if cfg.cross_region and cfg.efs.aws_backup and not cfg.cross_region.backup_vault_arn:
        yield (
            "cross_region.backup_vault_arn",
            "is required to copy AWS Backup recovery points to another region",
        )
    if (
        cfg.cross_region
        and cfg.cross_region.backup_vault_arn
        and f":backup:{cfg.region}:" in cfg.cross_region.backup_vault_arn
    ):
        yield (
            "cross_region.backup_vault_arn",
            "is in the home region; it must be in cross_region.region",
        )
    if cfg.immutable and not cfg.efs.aws_backup:
        yield (
            "immutable",
            "needs efs.aws_backup: the copies into the locked vault are AWS Backup copy jobs "
            "from the installation's own vault (efs.aws_backup.vault_name), which DataSync "
            "does not have",
        )
    yield from _memorydb_copy_problems(cfg)
    yield from _memorydb_immutable_problems(cfg)
    yield from _verification_problems(cfg)


def _derby_window_problems(cfg: InstallationConfig):
    """Derby is copied file by file from EFS: only inside a window that stops its writer.

    Only a managed window stops the platform (``database.derby.platform``, scaled to zero
    with the ECDs). An external window is the platform's Helm ``suspend.from`` /
    ``suspend.until``: it stops the ECDs' workflows, not the platform process that keeps
    Derby open, so it is refused too.
    """
    if cfg.database.engine != DatabaseEngine.DERBY:
        return
    window = cfg.cold_window
    if not window.required:
        yield (
            "cold_window.disk_storage_used",
            "is empty, but database.engine is 'derby': Derby lives in the EFS tree and a "
            "live Derby copied file by file is a torn database; a Derby installation needs "
            "a cold window (list 'derby' and whatever else the workflows keep on EFS)",
        )
    elif window.mode != ColdWindowMode.MANAGED:
        yield (
            "cold_window.mode",
            f"is {window.mode.value!r}, but database.engine is 'derby': only a managed "
            "window stops the platform that writes Derby (database.derby.platform, scaled "
            "to zero with the ECDs); the platform's own suspend window stops the workflows, "
            "not the platform, so Derby would be copied live. Use 'managed'",
        )


def _memorydb_immutable_problems(cfg: InstallationConfig):
    """MemoryDB's locked copy: its staging bucket, required with MemoryDB, and its own."""
    immutable, cross = cfg.immutable, cfg.cross_region
    if not immutable:
        return
    staging = immutable.memorydb_export_bucket
    if cfg.memorydb and not staging:
        yield (
            "immutable.memorydb_export_bucket",
            f"is required with a memorydb section: an S3 bucket of this account in the home "
            f"region {cfg.region} that MemoryDB exports the snapshot to (it exports only to a "
            "bucket of its own region); its .rdb files are then copied, locked, into "
            "immutable.bucket",
        )
    if staging and not cfg.memorydb:
        yield (
            "immutable.memorydb_export_bucket",
            "is set but there is no memorydb section: there is nothing to export (leave it out)",
        )
    if staging and staging == immutable.bucket:
        yield (
            "immutable.memorydb_export_bucket",
            "is immutable.bucket itself: MemoryDB exports into a bucket of the installation's "
            "account, the locked copy goes to the protected account's bucket",
        )
    if staging and cross and staging == cross.memorydb_export_bucket:
        yield (
            "immutable.memorydb_export_bucket",
            "is cross_region.memorydb_export_bucket: the locked copy deletes its staged export "
            "once the copy is proven, which the cross-region copy may still be reading; give "
            "each its own bucket",
        )


def _memorydb_copy_problems(cfg: InstallationConfig):
    """The MemoryDB part of the cross-region copy: the two buckets, one region."""
    cross, memorydb = cfg.cross_region, cfg.memorydb
    if memorydb and memorydb.copy_region and cross and memorydb.copy_region != cross.region:
        yield (
            "memorydb.copy_region",
            f"{memorydb.copy_region!r} differs from cross_region.region {cross.region!r}: "
            "a backup set is copied to one region (leave copy_region out)",
        )
    if memorydb and memorydb.copy_region and not cross and memorydb.copy_region != cfg.region:
        yield (
            "memorydb.copy_region",
            "needs a cross_region section: the MemoryDB snapshot is copied with the rest of "
            "the set (set cross_region.region and its buckets)",
        )
    if not (cross and memorydb):
        return
    for field, where in (
        ("memorydb_export_bucket", f"in the home region {cfg.region}"),
        ("memorydb_bucket", f"in {cross.region}"),
    ):
        if not getattr(cross, field):
            yield (
                f"cross_region.{field}",
                f"is required to copy MemoryDB snapshots: an S3 bucket {where} (MemoryDB "
                "exports a snapshot only to a bucket in its own region; the export is then "
                "copied to cross_region.memorydb_bucket)",
            )
    if cross.memorydb_export_bucket and cross.memorydb_export_bucket == cross.memorydb_bucket:
        yield (
            "cross_region.memorydb_bucket",
            "is the export bucket itself; it must be a bucket in cross_region.region",
        )


def _verification_problems(cfg: InstallationConfig):
    """Checks the installation cannot run: psql needs RDS, a key check needs MemoryDB."""
    verification = cfg.verification
    if verification.has_checks and not cfg.uses_rds:
        yield (
            "verification",
            "checks query the database with psql: they need database.engine 'rds' "
            "(Derby cannot be queried from the check Job)",
        )
    if verification.reference_checks.redis_keys_query and not cfg.memorydb:
        yield (
            "verification.reference_checks.redis_keys_query",
            "needs a memorydb section: the keys are looked up in the restored cluster",
        )


# --- loading and error reporting ----------------------------------------------


class ConfigError(ValueError):
    """The configuration is invalid; ``problems`` lists every (field path, message)."""

    def __init__(self, problems: list[tuple[str, str]], source: str = "configuration"):
        self.problems = problems
        self.source = source
        lines = "\n".join(f"  - {path}: {msg}" for path, msg in problems)
        super().__init__(f"{source} is invalid ({len(problems)} problem(s)):\n{lines}")


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    """Flatten pydantic's errors to (dotted field path, message) pairs."""
    out: list[tuple[str, str]] = []
    for err in error.errors():
        ctx = err.get("ctx") or {}
        if "problems" in ctx:
            out.extend((str(p), str(m)) for p, m in ctx["problems"])
            continue
        loc = [str(part) for part in err["loc"]]
        # A model validator names the field of its model that it judges.
        if "field" in ctx:
            loc.append(str(ctx["field"]))
        path = ".".join(loc) or "(top level)"
        out.append((path, _message(err)))
    return out


def _message(err: dict[str, Any]) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "missing":
        return "is required but missing"
    if kind == "extra_forbidden":
        return "is not a known option (check the spelling)"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    return msg


def parse_config(data: Any, source: str = "configuration") -> InstallationConfig:
    """Validate a decoded configuration mapping, or raise ``ConfigError`` listing every problem."""
    if not isinstance(data, dict):
        raise ConfigError([("(top level)", "must be a mapping of options")], source)
    try:
        return InstallationConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_problems(error), source) from None


def load_config_file(path: str | os.PathLike[str]) -> InstallationConfig:
    """Load and validate a YAML (or JSON, a subset of YAML) configuration file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigError(
            [("(file)", f"cannot read {path}: {error.strerror}")], str(path)
        ) from None
    except yaml.YAMLError as error:
        raise ConfigError([("(file)", f"is not valid YAML: {error}")], str(path)) from None
    return parse_config(data, source=str(path))


def load_config_json(text: str, source: str = f"Variable {CONFIG_VARIABLE}") -> InstallationConfig:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError([("(json)", f"is not valid JSON: {error}")], source) from None
    return parse_config(data, source=source)


def load_config() -> InstallationConfig:
    """Load the installation description at run time.

    The file named by ``UE_BACKUP_CONFIG_FILE`` wins; otherwise the Airflow
    Variable ``ue_backup_config``. Call this from tasks, never at DAG parse
    time: reading a Variable at parse time costs a database round trip per
    parse.
    """
    path = os.environ.get(CONFIG_FILE_ENV)
    if path:
        return load_config_file(path)
    from airflow.sdk import Variable

    text = Variable.get(CONFIG_VARIABLE, default=None)
    if text is None:
        raise ConfigError(
            [
                (
                    "(source)",
                    f"no configuration: set the Airflow Variable {CONFIG_VARIABLE!r} "
                    f"or the environment variable {CONFIG_FILE_ENV}",
                )
            ]
        )
    return load_config_json(text)


def load_config_for_parsing() -> InstallationConfig | None:
    """The configuration as DAG files may see it at parse time: from the file only.

    Returns None when no file is configured (the Variable is then read at run
    time), or when the file is invalid (the run's preflight reports why), so
    a bad configuration never becomes a DAG import error that hides the DAG.
    """
    path = os.environ.get(CONFIG_FILE_ENV)
    if not path:
        return None
    try:
        return load_config_file(path)
    except ConfigError as error:
        logging.getLogger(__name__).warning(
            "ue-backup configuration is invalid; the DAGs are unscheduled until it is fixed: %s",
            error,
        )
        return None
