"""AWS Backup of RDS DB instances: what the backup, copy and restore jobs do in RDS.

AWS Backup backs an RDS instance up as an RDS snapshot of type ``awsbackup``
named ``awsbackup:job-<backup job id>``, and the recovery point's ARN *is* that
snapshot's ARN (``arn:aws:rds:<region>:<account>:snapshot:awsbackup:job-<id>``);
a copy into another vault is a snapshot ``awsbackup:copyjob-<copy job id>`` in the
destination vault's account and region. RDS shows them (``DescribeDBSnapshots``
with ``SnapshotType="awsbackup"``) but will not delete them: only AWS Backup does
(``rds.py``). The snapshot holds the instance's data as ``CreateDBSnapshot``'s
does (``rds_data``). A restore job makes a new instance from the snapshot, with
the restore metadata read the way ``RestoreDBInstanceFromDBSnapshot`` reads its
parameters, and judged as it judges them (``placement``: the subnet group's zones, the
security groups' VPC): a refusal fails the job with RDS's reason.

Modelled by hand (AWS documents these only in part): the refusal of an instance
that does not exist (``ResourceNotFoundException``, as for EFS) or is not
``available`` (``InvalidRequestException``), the job ids in lower case (RDS
lower-cases snapshot identifiers, and the ``awsbackup:job-`` snapshots AWS shows
carry lower-case ids), ``BackupSizeInBytes`` as the instance's allocated
storage, and a restore onto an identifier in use failing the job (AWS Backup
restores asynchronously, with RDS's ``DBInstanceAlreadyExists`` as the reason).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import botocore.session
from moto.core.exceptions import ServiceException
from moto.rds.models import DBInstance, DBSnapshot, RDSBackend, rds_backends

from sandbox.aws import kms, placement, rds_data
from sandbox.aws.errors import AwsError
from sandbox.aws.progress import Progress, make_timed
from sandbox.aws.rds import TimedDBSnapshot, as_manual, subnet_group_placement

RESOURCE_TYPE = "RDS"
SNAPSHOT_TYPE = "awsbackup"
GIB = 1024**3


def is_rds(resource_arn: str) -> bool:
    parts = resource_arn.split(":", 3)
    return len(parts) == 4 and parts[2] == "rds"


def _backend(account: str, region: str) -> RDSBackend:
    return rds_backends[account][region]


# --- backing up ----------------------------------------------------------------------------


def instance_to_back_up(account: str, region: str, resource_arn: str) -> DBInstance:
    """The instance ``resource_arn`` names, refused unless it exists here and is ``available``."""
    parts = resource_arn.split(":", 6)
    if len(parts) != 7 or parts[5] != "db" or not parts[6]:
        raise AwsError("InvalidParameterValueException", f"Invalid resource ARN {resource_arn}.")
    identifier = parts[6].lower()
    instance = None
    if (parts[3], parts[4]) == (region, account):
        instance = next(
            (
                found
                for found in _backend(account, region).databases.values()
                if found.db_instance_identifier == identifier
            ),
            None,
        )
    if instance is None:
        raise AwsError("ResourceNotFoundException", f"Resource {resource_arn} not found.")
    if instance.status != "available":
        raise AwsError(
            "InvalidRequestException",
            f"DB instance {identifier} is {instance.status}: it can be backed up only when "
            "it is available.",
        )
    return instance


def busy_for(instance: DBInstance) -> float:
    """Seconds until no snapshot of ``instance`` is being taken any more (0: free now).

    RDS takes one snapshot of an instance at a time (the instance is
    ``backing-up`` meanwhile). Modelled by hand, and only for AWS Backup's
    snapshot: AWS documents neither how long the job waits nor how the job
    shows it; the job here is ``RUNNING`` at once and its snapshot, with its
    ``SnapshotCreateTime``, comes when the instance is free. So the set's own
    manual snapshot, taken a moment before, delays the database's point in the
    locked vault: the hazard the cold window's ``wait_rds_backup_point`` covers.
    """
    busy = [
        snapshot.progress.duration - snapshot.progress.elapsed
        for snapshot in instance.backend.database_snapshots.values()
        if isinstance(snapshot, TimedDBSnapshot)
        and snapshot.db_instance_identifier == instance.db_instance_identifier
        and not isinstance(snapshot, BackupJobSnapshot)
        and not snapshot.progress.finished
    ]
    return max([0.0, *busy])


class BackupJobSnapshot(TimedDBSnapshot):
    """An AWS Backup job's snapshot: absent from RDS's answers until RDS begins it (the
    instance was busy for ``visible_after`` seconds), ``creating`` until the job ends,
    and without ``SnapshotCreateTime`` until then.

    Modelled by hand: AWS documents none of this timing; answers seen in the field give
    no ``SnapshotCreateTime`` for a snapshot not yet available (boto/boto3#952), so the
    sandbox gives none either, the unkinder reading for a wait that needs the point.
    """

    visible_after: float

    @property  # type: ignore[override]
    def snapshot_type(self) -> str:
        if self.progress.elapsed < self.visible_after:
            return "not-yet"  # no type RDS lists: found by no DescribeDBSnapshots
        return self.__dict__.get("snapshot_type", SNAPSHOT_TYPE)

    @snapshot_type.setter
    def snapshot_type(self, value: str) -> None:
        self.__dict__["snapshot_type"] = value


def take_snapshot(
    instance: DBInstance, job_id: str, progress: Progress, delay: float = 0.0
) -> DBSnapshot:
    """The job's snapshot, ``creating`` while the job runs, its data as of the start call.

    ``delay``: the seconds until the instance is free (``busy_for``): until then RDS
    shows no such snapshot, and its point in time is the moment it was free. The data
    is still the start call's: within the cold window nothing writes to the database,
    and what is judged (rule 1) is the time.
    """
    backend = instance.backend
    snapshot = backend.create_db_snapshot(
        instance.db_instance_identifier, f"awsbackup:job-{job_id}", snapshot_type=SNAPSHOT_TYPE
    )
    rds_data.snapshot_taken(instance, snapshot)
    make_timed(
        snapshot,
        BackupJobSnapshot,
        progress,
        time_fixed_after=progress.duration,
        visible_after=delay,
    )
    # The point in time, in milliseconds as both APIs give it (moto's times are naive UTC).
    at = progress.started_at + timedelta(seconds=delay)
    snapshot.created = at.replace(microsecond=at.microsecond // 1000 * 1000, tzinfo=None)
    return snapshot


def restore_metadata(instance: DBInstance) -> dict[str, str]:
    """What ``GetRecoveryPointRestoreMetadata`` gives: the instance's settings, as strings."""
    values = {
        "DBInstanceIdentifier": instance.db_instance_identifier,
        "DBInstanceClass": instance.db_instance_class,
        "Engine": instance.engine,
        "EngineVersion": instance.engine_version,
        "DBName": instance.db_name,
        "Port": instance.port,
        "MultiAZ": instance.multi_az,
        "AvailabilityZone": instance.availability_zone,
        "DBSubnetGroupName": instance.__dict__.get("_db_subnet_group_name"),  # write-only in moto
        "StorageType": instance.storage_type,
        "AllocatedStorage": instance.allocated_storage,
        "PubliclyAccessible": instance.publicly_accessible,
        "CopyTagsToSnapshot": instance.copy_tags_to_snapshot,
        "DeletionProtection": instance.deletion_protection,
        "VpcSecurityGroupIds": ",".join(instance.vpc_security_group_ids or []) or None,
    }
    return {key: _text(value) for key, value in values.items() if value not in (None, "")}


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


# --- the snapshot behind a recovery point ----------------------------------------------------


def _locate(snapshot_arn: str) -> tuple[RDSBackend, str]:
    _, _, _, region, account, _, identifier = snapshot_arn.split(":", 6)
    return _backend(account, region), identifier


def snapshot_of(snapshot_arn: str) -> DBSnapshot | None:
    backend, identifier = _locate(snapshot_arn)
    return backend.database_snapshots.get(identifier)


def snapshot_bytes(snapshot_arn: str) -> int:
    snapshot = snapshot_of(snapshot_arn)
    return int(snapshot.allocated_storage or 0) * GIB if snapshot is not None else 0


def delete_snapshot(snapshot_arn: str) -> None:
    """AWS Backup deletes the snapshot with its recovery point (RDS itself refuses to)."""
    backend, identifier = _locate(snapshot_arn)
    snapshot = backend.database_snapshots.pop(identifier, None)
    if snapshot is not None:
        rds_data.snapshot_deleted(snapshot)


def copy_arn(region: str, account: str, copy_job_id: str) -> str:
    return f"arn:aws:rds:{region}:{account}:snapshot:awsbackup:copyjob-{copy_job_id}"


def cross_account_key_refusal(
    source_arn: str, source_account: str, destination_account: str, destination_key: str | None
) -> str | None:
    """Why AWS Backup fails a copy of an RDS recovery point into another account's vault
    (None: it does not), by the keys involved.

    Modelled by hand on AWS Backup's guide ("Creating backup copies across AWS accounts",
    "Encryption for copies to another account"): RDS is not fully managed by AWS Backup,
    so its recovery point is a snapshot under the instance's own key; another account can
    copy it only when that key is customer managed and its key policy lets that account
    use it (an AWS managed key such as ``aws/rds`` cannot be shared), and the copy is
    encrypted with the destination vault's key, which must be customer managed too.
    AWS names the key in its message; the wording here is the sandbox's.
    An unencrypted snapshot needs no key.
    """
    if source_account == destination_account:
        return None
    source = snapshot_of(source_arn)
    key_arn = getattr(source, "kms_key_id", None) if source is not None else None
    if not key_arn or not str(key_arn).startswith("arn:"):
        return None
    key = kms.find_key(key_arn)
    if key is None or kms.is_aws_managed(key):
        return (
            f"Copy job failed: the source recovery point is encrypted with the AWS managed key "
            f"{key_arn}; a recovery point encrypted with an AWS managed key cannot be copied to "
            "another account. Encrypt the resource with a customer managed key shared with "
            f"account {destination_account}."
        )
    for action in ("kms:DescribeKey", "kms:Decrypt", "kms:CreateGrant"):
        if not kms.allows(key, destination_account, action):
            return (
                f"Copy job failed: account {destination_account} is not allowed {action} on "
                f"the source recovery point's key {key_arn} (its key policy does not share it)."
            )
    target = kms.find_key(destination_key) if destination_key else None
    if target is None or kms.is_aws_managed(target):
        return (
            f"Copy job failed: the destination vault is encrypted with "
            f"{destination_key or 'no key'}; a copy from another account needs a vault under "
            "a customer managed key."
        )
    return None


def copy_snapshot(
    source_arn: str, destination_arn: str, kms_key_id: str | None = None
) -> str | None:
    """Copy the source point's snapshot to ``destination_arn`` (any account), re-encrypted
    with ``kms_key_id`` when given (the destination vault's key, for an encrypted snapshot
    copied to another account); why not, or None."""
    source = snapshot_of(source_arn)
    if source is None or source.status != "available":
        return f"The source recovery point {source_arn} no longer exists."
    backend, identifier = _locate(destination_arn)
    copy = DBSnapshot(
        backend,
        source.database,
        identifier,
        snapshot_type=SNAPSHOT_TYPE,
        original_created_at=source.original_snapshot_create_time,
    )
    if kms_key_id and source.kms_key_id:
        copy.kms_key_id = kms_key_id
    backend.database_snapshots[identifier] = copy
    rds_data.snapshot_copied(source, copy)
    return None


# --- restoring -------------------------------------------------------------------------------

# The keys RestoreDBInstanceFromDBSnapshot takes (botocore's model), by lower-case name: AWS
# Backup reads RDS restore metadata as that call's parameters, keys not case sensitive.
_RESTORE_PARAMETERS = {
    name.lower(): name
    for name in botocore.session.get_session()
    .get_service_model("rds")
    .operation_model("RestoreDBInstanceFromDBSnapshot")
    .input_shape.members
}
# The ones the sandbox applies to the new instance (moto's name, how the string is read).
_APPLIED = {
    "DBInstanceClass": ("db_instance_class", str),
    "Port": ("port", int),
    "AvailabilityZone": ("availability_zone", str),
    "DBSubnetGroupName": ("db_subnet_group_name", str),
    "MultiAZ": ("multi_az", lambda v: v.lower() == "true"),
    "PubliclyAccessible": ("publicly_accessible", lambda v: v.lower() == "true"),
    "StorageType": ("storage_type", str),
    "CopyTagsToSnapshot": ("copy_tags_to_snapshot", lambda v: v.lower() == "true"),
    "DeletionProtection": ("deletion_protection", lambda v: v.lower() == "true"),
    "VpcSecurityGroupIds": (
        "vpc_security_group_ids",
        lambda v: json.loads(v) if v.startswith("[") else [s.strip() for s in v.split(",")],
    ),
}


def normalized_metadata(metadata: dict[str, str], known: dict[str, str]) -> dict[str, str]:
    """The restore metadata with its keys spelt as RDS spells them, refused as AWS would.

    ``DBInstanceIdentifier`` is required; a key is either a parameter of
    ``RestoreDBInstanceFromDBSnapshot`` or one the point's own restore metadata has.
    """
    spelling = _RESTORE_PARAMETERS | {key.lower(): key for key in known}
    unknown = sorted(key for key in metadata if key.lower() not in spelling)
    if unknown:
        raise AwsError(
            "InvalidParameterValueException",
            f"Restore metadata has keys an RDS restore does not take: {', '.join(unknown)}.",
        )
    normalized = {spelling[key.lower()]: value for key, value in metadata.items()}
    if not normalized.get("DBInstanceIdentifier"):
        raise AwsError(
            "InvalidParameterValueException", "Restore metadata is missing DBInstanceIdentifier."
        )
    return normalized


def restore_instance(snapshot_arn: str, metadata: dict[str, str]) -> tuple[str | None, str | None]:
    """A new instance from the point's snapshot: (its ARN, None), or (None, why it failed)."""
    snapshot = snapshot_of(snapshot_arn)
    if snapshot is None:
        return None, f"The recovery point's snapshot {snapshot_arn} no longer exists."
    backend, identifier = _locate(snapshot_arn)
    # An identifier in use: moto's DBInstanceAlreadyExists, the job's reason for failing.
    overrides: dict[str, Any] = {"db_instance_identifier": metadata["DBInstanceIdentifier"]}
    for key, (name, read) in _APPLIED.items():
        if metadata.get(key):
            overrides[name] = read(metadata[key])
    try:
        _refuse_placement(backend, snapshot, overrides)
        with as_manual(snapshot):
            instance = backend.restore_db_instance_from_db_snapshot(identifier, overrides)
    except ServiceException as refused:
        return None, f"{refused.code}: {refused.message}"
    rds_data.restored_from_snapshot(snapshot, instance)
    return instance.db_instance_arn, None


def _refuse_placement(backend: RDSBackend, snapshot: DBSnapshot, overrides: dict[str, Any]) -> None:
    """The restored instance's subnet group and security groups, judged as RDS judges a
    restore (``placement``): the job fails with RDS's reason. A group not named is the
    snapshot's instance's, where the restore puts it."""
    name = overrides.get("db_subnet_group_name") or snapshot.database.__dict__.get(
        "_db_subnet_group_name"
    )
    group = backend.subnet_groups.get(str(name).lower()) if name else None
    if name and group is None:
        return  # moto's restore refuses it: DBSubnetGroupNotFoundFault
    placement.refuse_db_placement(
        backend.account_id,
        backend.region_name,
        subnet_group_placement(group) if group is not None else None,
        overrides.get("vpc_security_group_ids") or [],
    )
