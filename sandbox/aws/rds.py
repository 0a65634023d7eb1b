"""RDS: moto's database, with the timing and the point-in-time rules of the real service.

moto makes snapshots and restored instances ``available`` at once and accepts
any point-in-time restore. Here a manual snapshot is ``creating`` for
``durations.rds_snapshot`` and has no ``SnapshotCreateTime`` until
``durations.rds_snapshot_time_fixed``; a restored instance is ``creating`` for
``durations.rds_instance``; ``describe_db_instance_automated_backups`` gives the
restore window; and a point-in-time restore is checked against it as AWS does,
remembering the time it used (``restore_time``).

moto copies snapshots, across regions too (the destination region's client
with the source ARN), but makes the copy ``available`` at once and copies
any source. Here the source must be ``available``, an encrypted snapshot
needs ``KmsKeyId`` to leave its region (moto checks the key exists there),
the copy is ``pending`` for ``durations.rds_snapshot_copy`` (an outcome
fault makes it ``failed``), and it carries ``SourceRegion`` and, for a
cross-region copy, ``SourceDBSnapshotIdentifier`` as AWS describes them.

moto deletes an instance at once; here it is ``deleting`` for
``durations.rds_delete`` and then gone, and deleting one that is still
``creating`` (or already ``deleting``) is refused with ``InvalidDBInstanceState``.

moto renames an instance at once. AWS renames asynchronously: right after
``ModifyDBInstance(NewDBInstanceIdentifier=..., ApplyImmediately=True)`` the
old id is ``renaming`` (``PendingModifiedValues.DBInstanceIdentifier`` the new
one) and the new id answers ``DBInstanceNotFound``; only later is the instance
``available`` under the new id and the old id gone. Here that takes
``durations.rds_rename``; a rename is refused unless the instance is
``available`` and the new id is free, as AWS does. Without ``ApplyImmediately``
the rename waits for the maintenance window: it stays pending, never applied.

moto answers ``DescribeDBParameterGroups`` naming a group that does not exist
with an empty list, and ``DescribeOptionGroups`` naming none with an error when
there is no group at all; AWS answers the first with ``DBParameterGroupNotFound``
and the second with an empty list. moto deletes a parameter or option group an
instance still uses; AWS refuses (``InvalidDBParameterGroupState``,
``InvalidOptionGroupStateFault``), so a live instance's groups always exist.

A DB subnet group covers two availability zones at least, and an instance made
or restored in one whose subnets were deleted since, or with security groups of
another VPC than the group's (the default VPC's without one), is refused as RDS
refuses it (``placement``; moto takes all of it). A group keeps listing its
deleted subnets, as RDS's does.

Snapshots of type ``awsbackup`` (``awsbackup:job-<id>``, made by AWS Backup:
``backup_rds``) are AWS Backup's to delete: ``DeleteDBSnapshot`` refuses them
(``InvalidDBSnapshotState``, the error RDS gives for snapshots it does not let a
caller delete, such as automated ones; the wording is the sandbox's).
``RestoreDBInstanceFromDBSnapshot`` takes them, by identifier or ARN, as AWS does.

A restore is judged as RDS judges it: gp3 IOPS or throughput below the engine's
size for them, or io1/io2 IOPS past their ratio to the size, are refused
(``InvalidParameterCombination``) at the size the restored instance gets (the
one named, else the snapshot's as taken, or the source's on a point-in-time
restore), and a restore gets AWS's defaults, not its source's, for the
settings it does not name (IAM authentication, log exports, CA, network type:
a dual-stack one needs a DB subnet group named). Instances carry their
``NetworkType`` (moto has none).

With the sandbox's ``real_data`` on, each PostgreSQL instance is a real server
on 127.0.0.1, its snapshots real copies and its restores real servers started
from them or recovered to a point in time: ``rds_data`` (called from the
operations below) says how.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.rds import urls
from moto.rds.models import DBInstance, DBSnapshot, RDSBackend, rds_backends
from moto.rds.responses import RDSResponse

from sandbox.aws import kms, placement, rds_data
from sandbox.aws.context import OneCallAtATime, current, state_of
from sandbox.aws.errors import AwsError
from sandbox.aws.extensions import Extension
from sandbox.aws.progress import Progress, TimedStatus, make_timed
from sandbox.aws.protocol import target_of
from sandbox.request_log import USED_KEY


class RdsState:
    """What one account and region remembers beyond moto: restore times, instances deleting."""

    def __init__(self, backend: RDSBackend) -> None:
        self.restore_times: dict[str, datetime] = {}
        self.deleting: dict[str, Progress] = {}
        self.renaming: dict[str, tuple[str, Progress]] = {}  # old id: (new id, progress)


def restore_time(account: str, region: str, db_instance_identifier: str) -> datetime:
    state = state_of(rds_backends[account][region], RdsState)
    return state.restore_times[db_instance_identifier.lower()]


class TimedDBSnapshot(TimedStatus, DBSnapshot):
    """A moto snapshot whose status, time and progress follow its ``Progress``."""

    time_fixed_after: float

    @property
    def snapshot_create_time(self) -> datetime | None:
        return self.created if self.progress.elapsed >= self.time_fixed_after else None

    @property
    def percent_progress(self) -> int:
        return int(self.progress.fraction * 100)


class TimedDBSnapshotCopy(TimedStatus, DBSnapshot):
    """A copy of a snapshot: ``pending`` until its ``Progress`` ends.

    Its ``SnapshotCreateTime`` is the copy's own (AWS: it "changes for the
    copy"); ``OriginalSnapshotCreateTime`` stays the source's.
    """

    running_statuses = ("pending",)

    @property
    def percent_progress(self) -> int:
        return int(self.progress.fraction * 100)


class TimedDBInstance(TimedStatus, DBInstance):
    """A moto instance that is ``creating`` until its ``Progress`` ends."""


class DeletingDBInstance(TimedStatus, DBInstance):
    """An instance being deleted: ``deleting`` until its ``Progress`` ends, then gone."""

    running_statuses = ("deleting",)


class RenamingDBInstance(TimedStatus, DBInstance):
    """An instance being renamed: ``renaming`` under its old id until its ``Progress`` ends."""

    running_statuses = ("renaming",)


def restore_window(instance: DBInstance) -> dict[str, datetime] | None:
    """From when the instance was available until now; None while it is not backed up."""
    progress = instance.__dict__.get("progress")
    since = instance.created.replace(tzinfo=UTC) if progress is None else progress.finished_at
    if not instance.backup_retention_period or since is None or instance.status == "failed":
        return None
    latest = rds_data.latest_restorable_time(instance)  # None: no real server behind it
    return {"EarliestTime": since, "LatestTime": latest or datetime.now(UTC)}


class AutomatedBackup:
    """One instance's automated backups, in ``DescribeDBInstanceAutomatedBackups``' shape."""

    def __init__(self, instance: DBInstance, window: dict[str, datetime]) -> None:
        self.db_instance_arn = instance.db_instance_arn
        self.dbi_resource_id = instance.dbi_resource_id
        self.region = instance.backend.region_name
        self.db_instance_identifier = instance.db_instance_identifier
        self.restore_window = window
        self.allocated_storage = instance.allocated_storage
        self.status = "active"
        self.port = instance.port
        self.instance_create_time = instance.created
        self.master_username = instance.master_username
        self.engine = instance.engine
        self.engine_version = instance.engine_version
        self.encrypted = instance.storage_encrypted
        self.storage_type = instance.storage_type
        self.backup_retention_period = instance.backup_retention_period
        self.db_instance_automated_backups_arn = (
            f"arn:aws:rds:{self.region}:{instance.backend.account_id}"
            f":auto-backup:ab-{instance.dbi_resource_id.lower()}"
        )


class SandboxRdsResponse(OneCallAtATime, RDSResponse):
    def _target(self, operation: str) -> str:
        return target_of("rds", operation, self.params.original_dict())

    def call_action(self) -> Any:
        with current().lock:
            self._forget_deleted()
            self._finish_renames()
            return super().call_action()

    def _forget_deleted(self) -> None:
        """Instances whose deletion has run its time are gone (moto removes them at once)."""
        state = state_of(self.backend, RdsState)
        for identifier, progress in list(state.deleting.items()):
            if progress.finished:
                del state.deleting[identifier]
                if identifier in self.backend.databases:
                    rds_data.gone(self.backend.databases[identifier])
                    self.backend.delete_db_instance(identifier, skip_final_snapshot=True)

    def _finish_renames(self) -> None:
        """Renames whose time is up take effect: the instance answers to its new id only."""
        state = state_of(self.backend, RdsState)
        for old, (new, progress) in list(state.renaming.items()):
            if not progress.finished:
                continue
            del state.renaming[old]
            instance = self.backend.databases.get(old)
            if instance is None:
                continue
            instance.pending_modified_values = {}
            if not progress.will_fail:
                self.backend.modify_db_instance(old, {"new_db_instance_identifier": new})

    def create_db_instance(self) -> ActionResult:
        key = None
        if self.params.get("StorageEncrypted"):
            # AWS: encrypted without KmsKeyId is under the account's AWS managed key aws/rds,
            # and an instance reports its key as an ARN (moto: "default_kms_key_id", as given).
            given = self.params.get("KmsKeyId")
            account, region = self.current_account, self.backend.region_name
            key = (
                kms.resolve_arn(account, region, given)
                if given
                else kms.aws_managed_key_arn(account, region, "rds")
            )
            if key is None:
                raise AwsError("KMSKeyNotAccessibleFault", f"The key {given} is not accessible.")
        refuse_a_network_type_without_its_subnet_group(self.params)
        self._refuse_placement(None)
        result = super().create_db_instance()
        instance = result.result["DBInstance"]  # type: ignore[index]
        if key is not None:
            instance.kms_key_id = key
        instance.network_type = self.params.get("NetworkType") or "IPV4"  # moto has none
        rds_data.created(
            instance,
            self.params.get("MasterUserPassword"),
            managed=bool(self.params.get("ManageMasterUserPassword")),
        )
        return result

    def describe_db_instances(self) -> ActionResult:
        identifier = self.params.get("DBInstanceIdentifier")
        for instance in list(self.backend.databases.values()):
            if identifier in (None, instance.db_instance_identifier):
                rds_data.latest_restorable_time(instance)  # its LatestRestorableTime, fresh
        return super().describe_db_instances()

    def modify_db_instance(self) -> ActionResult:
        """A rename is asynchronous (see the module doc); any other change is moto's."""
        new = self.params.get("NewDBInstanceIdentifier")
        if not new:
            result = super().modify_db_instance()
            if self.params.get("ManageMasterUserPassword"):
                rds_data.password_managed(result.result["DBInstance"])  # type: ignore[index]
            return result
        identifier = self.params["DBInstanceIdentifier"]
        instance = self.backend.describe_db_instances(identifier)[0]
        if instance.status != "available":
            raise AwsError(
                "InvalidDBInstanceState",
                f"Instance {identifier} is currently {instance.status}: it cannot be modified now.",
            )
        state = state_of(self.backend, RdsState)
        taken = set(self.backend.databases) | {n for n, _ in state.renaming.values()}
        if new in taken:
            raise AwsError("DBInstanceAlreadyExists", f"DB instance {new} already exists.")
        others = set(self.params.original_dict()) - {
            "DBInstanceIdentifier",
            "NewDBInstanceIdentifier",
            "ApplyImmediately",
        }
        if others:
            raise AwsError(
                "InvalidParameterCombination",
                f"the sandbox renames an instance alone, without {sorted(others)}",
            )
        instance.pending_modified_values = {"DBInstanceIdentifier": new}
        if not self.params.get("ApplyImmediately"):
            return ActionResult({"DBInstance": instance})  # waits for the maintenance window
        progress = Progress.begin(
            "rds",
            "ModifyDBInstance",
            self._target("ModifyDBInstance"),
            current().durations.rds_rename,
        )
        make_timed(instance, RenamingDBInstance, progress)
        instance.status = "available"  # once renamed
        state.renaming[identifier] = (new, progress)
        return ActionResult({"DBInstance": instance})

    def delete_db_instance(self) -> ActionResult:
        """``deleting`` for ``durations.rds_delete``, refused while creating or already deleting.

        A final snapshot needs ``FinalDBSnapshotIdentifier`` unless ``SkipFinalSnapshot``,
        as AWS requires; the sandbox takes it at once, from moto.
        """
        identifier = self.params["DBInstanceIdentifier"]
        instance = self.backend.describe_db_instances(identifier)[0]
        if instance.status in ("creating", "deleting", "renaming"):
            raise AwsError(
                "InvalidDBInstanceState",
                f"Instance {identifier} is currently {instance.status}: it cannot be deleted now.",
            )
        final = self.params.get("FinalDBSnapshotIdentifier")
        if not self.params.get("SkipFinalSnapshot") and not final:
            raise AwsError(
                "InvalidParameterCombination",
                "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.",
            )
        if instance.deletion_protection:
            raise AwsError(
                "InvalidParameterCombination",
                "Cannot delete protected DB Instance, please disable deletion protection "
                "and try again.",
            )
        if final and not self.params.get("SkipFinalSnapshot"):
            snapshot = self.backend.create_db_snapshot(identifier, final, snapshot_type="manual")
            rds_data.snapshot_taken(instance, snapshot)
        progress = Progress.begin(
            "rds",
            "DeleteDBInstance",
            self._target("DeleteDBInstance"),
            current().durations.rds_delete,
        )
        make_timed(instance, DeletingDBInstance, progress)
        instance.status = "deleting"
        rds_data.deleting(instance)
        state_of(self.backend, RdsState).deleting[instance.db_instance_identifier] = progress
        return ActionResult({"DBInstance": instance})

    # --- parameter and option groups: as AWS answers for them (see the module doc)

    def describe_db_parameter_groups(self) -> ActionResult:
        name = self.params.get("DBParameterGroupName")
        known = name in self.backend.db_parameter_groups or str(name).startswith("default.")
        if name and not known:
            raise AwsError("DBParameterGroupNotFound", f"DBParameterGroup not found: {name}")
        return super().describe_db_parameter_groups()

    def describe_option_groups(self) -> ActionResult:
        name = self.params.get("OptionGroupName")
        if name and name not in self.backend.option_groups:
            raise AwsError(
                "OptionGroupNotFoundFault", f"Specified OptionGroupName: {name} not found."
            )
        if not name and not self.backend.option_groups:
            return ActionResult({"OptionGroupsList": []})
        return super().describe_option_groups()

    def _users_of(self, what: str, name: str) -> list[str]:
        return [
            instance.db_instance_identifier
            for instance in self.backend.databases.values()
            if getattr(instance, what) == name
        ]

    def delete_db_parameter_group(self) -> ActionResult:
        name = self.params["DBParameterGroupName"]
        if users := self._users_of("db_parameter_group_name", name):
            raise AwsError(
                "InvalidDBParameterGroupState",
                f"One or more database instances are still members of this parameter group "
                f"{name}, so the group cannot be deleted: {', '.join(users)}",
            )
        return super().delete_db_parameter_group()

    def delete_option_group(self) -> ActionResult:
        name = self.params["OptionGroupName"]
        if users := self._users_of("option_group_name", name):
            raise AwsError(
                "InvalidOptionGroupStateFault",
                f"The option group {name} cannot be deleted because it is in use by "
                f"{', '.join(users)}.",
            )
        return super().delete_option_group()

    def create_db_snapshot(self) -> ActionResult:
        instance = self.backend.describe_db_instances(self.params["DBInstanceIdentifier"])[0]
        if instance.status != "available":
            raise AwsError(
                "InvalidDBInstanceState",
                f"Instance {instance.db_instance_identifier} is not in available state.",
            )
        result = super().create_db_snapshot()
        rds_data.snapshot_taken(instance, result.result["DBSnapshot"])  # type: ignore[index]
        durations = current().durations
        make_timed(
            result.result["DBSnapshot"],  # type: ignore[index]
            TimedDBSnapshot,
            Progress.begin(
                "rds", "CreateDBSnapshot", self._target("CreateDBSnapshot"), durations.rds_snapshot
            ),
            time_fixed_after=durations.rds_snapshot_time_fixed,
        )
        return result

    def copy_db_snapshot(self) -> ActionResult:
        source_id = self.params["SourceDBSnapshotIdentifier"]
        source = self.backend.get_db_snapshot(source_id)
        if source.status != "available":
            raise AwsError(
                "InvalidDBSnapshotState", f"Snapshot {source_id} is not in available state."
            )
        here = self.backend.region_name
        source_region = source_id.split(":")[3] if source_id.startswith("arn:") else here
        if source_region != here and source.encrypted and not self.params.get("KmsKeyId"):
            raise AwsError(
                "InvalidParameterCombination",
                "KmsKeyId is required to copy an encrypted DB snapshot to another region.",
            )
        result = super().copy_db_snapshot()
        copy = result.result["DBSnapshot"]  # type: ignore[index]
        make_timed(
            copy,
            TimedDBSnapshotCopy,
            Progress.begin(
                "rds",
                "CopyDBSnapshot",
                self._target("CopyDBSnapshot"),
                current().durations.rds_snapshot_copy,
            ),
            source_region=source_region,
        )
        if source_region != here:
            copy.source_db_snapshot_identifier = source.db_snapshot_arn
        rds_data.snapshot_copied(source, copy)
        return result

    def create_db_subnet_group(self) -> ActionResult:
        """Two availability zones at least (moto takes one: ``placement``)."""
        placement.refuse_too_few_zones(
            self.current_account, self.region, self.params.get("SubnetIds") or []
        )
        return super().create_db_subnet_group()

    def modify_db_subnet_group(self) -> ActionResult:
        """Two availability zones at least, as when it is made; the group stays (moto
        drops the group it modifies from its list: the group was then gone)."""
        placement.refuse_too_few_zones(
            self.current_account, self.region, self.params.get("SubnetIds") or []
        )
        result = super().modify_db_subnet_group()
        group = result.result["DBSubnetGroup"]  # type: ignore[index]
        self.backend.subnet_groups[group.name] = group
        return result

    def _refuse_placement(self, source: DBInstance | None) -> None:
        """The new instance's subnet group and security groups, judged as RDS judges them
        (``placement``): the group named, else ``source``'s (None: the default VPC)."""
        name = self.params.get("DBSubnetGroupName")
        if name is None and source is not None:
            name = source.__dict__.get("_db_subnet_group_name")  # write-only in moto
        group = self.backend.subnet_groups.get(str(name).lower()) if name else None
        if name and group is None:
            return  # moto refuses it: DBSubnetGroupNotFoundFault
        placement.refuse_db_placement(
            self.current_account,
            self.region,
            subnet_group_placement(group) if group is not None else None,
            self.params.get("VpcSecurityGroupIds") or [],
        )

    def delete_db_snapshot(self) -> ActionResult:
        snapshot = self.backend.database_snapshots.get(self.params["DBSnapshotIdentifier"])
        if snapshot is not None and snapshot.snapshot_type == "awsbackup":
            raise AwsError(
                "InvalidDBSnapshotState",
                f"Snapshot {snapshot.db_snapshot_identifier} is managed by AWS Backup: "
                "delete its recovery point with AWS Backup.",
            )
        result = super().delete_db_snapshot()
        rds_data.snapshot_deleted(result.result["DBSnapshot"])  # type: ignore[index]
        return result

    def restore_db_instance_from_db_snapshot(self) -> ActionResult:
        snapshot_id = self.params["DBSnapshotIdentifier"]
        backup = _awsbackup_snapshot(self.backend, snapshot_id)
        snapshot = backup or self.backend.describe_db_snapshots(None, snapshot_id.split(":")[-1])[0]
        if snapshot.status != "available":
            raise AwsError(
                "InvalidDBSnapshotState", f"Snapshot {snapshot_id} is not in available state."
            )
        key = snapshot.kms_key_id if snapshot.encrypted else None
        if key and str(key).startswith("arn:"):
            # RDS makes a grant on the snapshot's key as the caller (the request log
            # carries it, for the permission checks: see request_log.KEY_USES).
            self.normalized_request.environ[USED_KEY] = key
        refuse_storage_settings_beyond_the_size(self.params, snapshot.database, snapshot)
        refuse_a_network_type_without_its_subnet_group(self.params)
        self._refuse_placement(None)  # unnamed: the default network (as AWS; see below)
        with as_manual(snapshot), default_network_unless_named(snapshot, self.params):
            result = self._restored(
                "RestoreDBInstanceFromDBSnapshot", super().restore_db_instance_from_db_snapshot
            )
        as_aws_restores(result.result["DBInstance"], self.params)  # type: ignore[index]
        rds_data.restored_from_snapshot(snapshot, result.result["DBInstance"])  # type: ignore[index]
        return result

    def restore_db_instance_to_point_in_time(self) -> ActionResult:
        source = self.backend.describe_db_instances(self.params["SourceDBInstanceIdentifier"])[0]
        rds_data.archive_source(source)  # all it committed so far is restorable
        used = self._checked_restore_time(source)
        refuse_storage_settings_beyond_the_size(self.params, source, source)
        refuse_a_network_type_without_its_subnet_group(self.params)
        self._refuse_placement(source)  # unnamed: the source's group, as moto restores it
        secret = source.__dict__.pop("master_user_secret", None)  # moto deep-copies the source
        try:
            result = self._restored(
                "RestoreDBInstanceToPointInTime", super().restore_db_instance_to_point_in_time
            )
        finally:
            if secret is not None:
                source.master_user_secret = secret
        as_aws_restores(result.result["DBInstance"], self.params)  # type: ignore[index]
        state = state_of(self.backend, RdsState)
        state.restore_times[self.params["TargetDBInstanceIdentifier"].lower()] = used
        rds_data.restored_to_point_in_time(
            source,
            result.result["DBInstance"],  # type: ignore[index]
            used,
            bool(self.params.get("UseLatestRestorableTime")),
        )
        return result

    def _checked_restore_time(self, source: DBInstance) -> datetime:
        """The time to restore to, refused the way AWS refuses it."""
        requested = self.params.get("RestoreTime")
        use_latest = bool(self.params.get("UseLatestRestorableTime"))
        if requested is not None and use_latest:
            raise AwsError(
                "InvalidParameterCombination",
                "Cannot specify both RestoreTime and UseLatestRestorableTime.",
            )
        if requested is None and not use_latest:
            raise AwsError(
                "InvalidParameterCombination",
                "Either RestoreTime or UseLatestRestorableTime must be specified.",
            )
        if not source.backup_retention_period:
            raise AwsError(
                "PointInTimeRestoreNotEnabled",
                f"Point-in-time restore is not enabled for {source.db_instance_identifier}: "
                "its backup retention period is 0.",
            )
        window = restore_window(source)
        if window is None:
            raise AwsError(
                "InvalidDBInstanceState",
                f"Instance {source.db_instance_identifier} has no restorable time yet.",
            )
        if use_latest:
            return window["LatestTime"]
        if requested.tzinfo is None:
            requested = requested.replace(tzinfo=UTC)
        if not window["EarliestTime"] <= requested <= window["LatestTime"]:
            raise AwsError(
                "InvalidRestoreFault",
                f"The restore time {requested.isoformat()} is outside the restorable window "
                f"{window['EarliestTime'].isoformat()} to {window['LatestTime'].isoformat()}.",
            )
        return requested

    def _restored(self, operation: str, restore: Any) -> ActionResult:
        result = restore()
        make_timed(
            result.result["DBInstance"],
            TimedDBInstance,
            Progress.begin(
                "rds", operation, self._target(operation), current().durations.rds_instance
            ),
        )
        return result

    def describe_db_instance_automated_backups(self) -> ActionResult:
        identifier = self.params.get("DBInstanceIdentifier")
        resource_id = self.params.get("DbiResourceId")
        backups = [
            AutomatedBackup(instance, window)
            for instance in self.backend.databases.values()
            if identifier in (None, instance.db_instance_identifier)
            and resource_id in (None, instance.dbi_resource_id)
            and (window := restore_window(instance)) is not None
        ]
        if not backups and (identifier or resource_id):
            raise AwsError(
                "DBInstanceAutomatedBackupNotFound",
                f"No automated backup found for {identifier or resource_id}.",
            )
        return ActionResult({"DBInstanceAutomatedBackups": backups})


# gp3 IOPS and throughput can be set from this size (GiB) on (RDS User Guide, gp3 storage).
GP3_SETTABLE_FROM_GIB = {"oracle": 200, "sqlserver": 20}
# The most IOPS a Provisioned IOPS volume may have per GiB (RDS User Guide, io1 and io2).
MAX_IOPS_PER_GIB = {"io1": 50, "io2": 1000}


def refuse_storage_settings_beyond_the_size(
    params: dict[str, Any], source: DBInstance, restored_from: Any
) -> None:
    """Storage settings the restored instance's size cannot take are refused, as RDS
    refuses them (``InvalidParameterCombination``): gp3 IOPS or throughput below the
    engine's size for them, io1/io2 IOPS past their ratio to the size.

    The size is the one named, else what the restore is made from has
    (``restored_from``): the snapshot's own ``AllocatedStorage`` as taken, never the
    live instance's now (storage autoscaling may have grown it since), or the source
    instance's on a point-in-time restore.
    """
    storage = params.get("StorageType") or source.storage_type
    iops = params.get("Iops")
    size = int(params.get("AllocatedStorage") or restored_from.allocated_storage or 0)
    engine = str(source.engine)
    if storage == "gp3" and (iops or params.get("StorageThroughput")):
        floor = next((g for p, g in GP3_SETTABLE_FROM_GIB.items() if engine.startswith(p)), 400)
        if size < floor:
            raise AwsError(
                "InvalidParameterCombination",
                f"You can't specify IOPS or storage throughput for engine {engine} and a "
                f"storage size less than {floor}.",
            )
    ratio = MAX_IOPS_PER_GIB.get(str(storage))
    if ratio and iops and int(iops) > ratio * size:
        raise AwsError(
            "InvalidParameterCombination",
            f"The IOPS to storage ratio of {storage} must be at most {ratio}: "
            f"{iops} IOPS for {size} GiB.",
        )


# What RDS gives a restored instance where the restore names a setting it takes
# (RestoreDBInstanceFromDBSnapshot, RestoreDBInstanceToPointInTime) and not what its
# source had: IAM authentication off, no log exports, minor upgrades on, the region's
# default CA, IPv4, a backup window of its choosing (moto's default here). moto copies the
# source's, kinder than AWS. ``BackupRetentionPeriod``: "uses existing setting" (the
# API reference), as moto does.
RESTORE_DEFAULTS = {
    "PreferredBackupWindow": ("preferred_backup_window", "13:14-13:44"),
    "EnableIAMDatabaseAuthentication": ("enable_iam_database_authentication", False),
    "EnableCloudwatchLogsExports": ("enabled_cloudwatch_logs_exports", []),
    "AutoMinorVersionUpgrade": ("auto_minor_version_upgrade", True),
    "CACertificateIdentifier": ("ca_certificate_identifier", "rds-ca-default"),
    "NetworkType": ("network_type", "IPV4"),
}
NETWORK_TYPES = ("IPV4", "DUAL")


def refuse_a_network_type_without_its_subnet_group(params: dict[str, Any]) -> None:
    """The network type is the DB subnet group's (botocore's model): one that is not
    IPv4 needs a group named, the region's default network being IPv4 only."""
    network_type = params.get("NetworkType")
    if network_type is None:
        return
    if network_type not in NETWORK_TYPES:
        raise AwsError(
            "InvalidParameterValue",
            f"Invalid network type {network_type}: choose from {', '.join(NETWORK_TYPES)}.",
        )
    if network_type != "IPV4" and not params.get("DBSubnetGroupName"):
        raise AwsError(
            "InvalidParameterCombination",
            f"The network type {network_type} needs a DB subnet group that supports it.",
        )


def as_aws_restores(instance: DBInstance, params: dict[str, Any]) -> None:
    """What RDS gives a restored instance where the restore names nothing.

    moto copies the source instance's settings; RDS (its API reference,
    RestoreDBInstanceFromDBSnapshot and RestoreDBInstanceToPointInTime) gives
    the engine's default parameter group (moto keeps the source's on a
    point-in-time restore), no deletion protection, and ``gp3`` storage
    (``io1`` with ``Iops``); tags: the ones named, else the source's (moto does that).
    The instance settings both restores take (``RESTORE_DEFAULTS``) are AWS's defaults
    unless named (moto copies the source's), and a named ``BackupRetentionPeriod`` of 0
    turns automated backups off (moto drops it); named values of the others (storage
    autoscaling's maximum included) are moto's own.
    The option group: the API reference does not say which one a restore naming none
    gets (moto keeps the snapshot's); issue 18 saw the engine's default, and the
    sandbox takes that stricter reading, so only a restore that names it keeps it.
    Named values stand, moto's own checks (a group that does not exist) included.
    """
    if not params.get("DBParameterGroupName"):
        instance.db_parameter_group_name = None  # the engine's default
    if not params.get("OptionGroupName"):
        major = str(instance.engine_version).split(".")
        instance.option_group_name = f"default:{instance.engine}-{'-'.join(major[:2])}"
    instance.deletion_protection = bool(params.get("DeletionProtection"))
    instance.copy_tags_to_snapshot = bool(params.get("CopyTagsToSnapshot"))
    if not params.get("StorageType"):
        instance.storage_type = "io1" if params.get("Iops") else "gp3"
    if not params.get("StorageThroughput") and instance.storage_type != "gp3":
        instance.storage_throughput = None
    for name, (attribute, default) in RESTORE_DEFAULTS.items():
        value = params.get(name)
        setattr(instance, attribute, copy.copy(default) if value is None else value)
    # moto drops a named 0 (and keeps the source's retention): AWS turns backups off.
    if params.get("BackupRetentionPeriod") is not None:
        instance.backup_retention_period = int(params["BackupRetentionPeriod"])


@contextmanager
def as_manual(snapshot: DBSnapshot) -> Iterator[None]:
    """moto's restore finds only manual and automated snapshots: let it find this one.

    Only while the sandbox's lock is held (every caller is a request or a job's settling),
    so nobody else sees the snapshot with another type.
    """
    kept = snapshot.snapshot_type
    snapshot.snapshot_type = "manual"
    try:
        yield
    finally:
        snapshot.snapshot_type = kept


@contextmanager
def default_network_unless_named(snapshot: DBSnapshot, params: dict[str, Any]) -> Iterator[None]:
    """A restore that names no DB subnet group lands in the region's default network.

    Modelled by hand on the RDS API reference (RestoreDBInstanceFromDBSnapshot,
    DBSubnetGroupName): moto copies the snapshot's instance's subnet group instead,
    kinder than AWS (a restore that lost the live network looked right) and wrong in
    another region (the group is not there). moto reads the group from the snapshot's
    instance: it sees a copy without one, the instance itself is left alone.
    """
    if params.get("DBSubnetGroupName"):
        yield
        return
    original = snapshot.database
    bare = copy.copy(original)
    bare.__dict__["_db_subnet_group_name"] = None
    bare.__dict__.pop("db_subnet_group", None)
    snapshot.database = bare
    try:
        yield
    finally:
        snapshot.database = original


def _awsbackup_snapshot(backend: RDSBackend, identifier: str) -> DBSnapshot | None:
    """The ``awsbackup:...`` snapshot ``identifier`` (or its ARN) names, if it is one."""
    name = identifier.split(":", 6)[6] if identifier.startswith("arn:") else identifier
    snapshot = backend.database_snapshots.get(name) if name.startswith("awsbackup:") else None
    return snapshot if snapshot is not None and snapshot.snapshot_type == "awsbackup" else None


def subnet_group_placement(group: Any) -> tuple[str, str, list[str]]:
    """A moto DB subnet group's name, VPC and the subnets it lists (deleted ones too)."""
    return group.name, group.vpc_id, [subnet.id for subnet in group._subnets]


EXTENSION = Extension(urls, SandboxRdsResponse)
