"""RDS: the set's manual snapshot, and new instances restored from a snapshot or a point in time.

Rule 1 needs the database's point in time fixed *before* the EFS backup
starts, so the snapshot operator returns as soon as ``SnapshotCreateTime``
is known, not when the snapshot is available (a sensor waits for that after
the cold window).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from ue_backup.backup_set import BackupSet, tag_dict
from ue_backup.database_point import SNAPSHOT_TIME_FIXED_SECONDS
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.rds import RdsHook
from ue_backup.links.console import RdsSnapshotLink
from ue_backup.operators.base import BackupSetMixin
from ue_backup.planning import to_utc
from ue_backup.recorded_network import rds_shape
from ue_backup.records import rds_copy_record, rds_snapshot_record
from ue_backup.restored_shape import rds_restore_arguments
from ue_backup.restored_shape import rds_shape as rds_shape_record
from ue_backup.restored_shape import recorded as recorded_shape

# The snapshot's time is fixed within seconds and every second of this wait is
# inside the cold window: check often (describe_db_snapshots is cheap).
TIME_FIXED_CHECK_SECONDS = 0.5

SNAPSHOT_FAILED = ("failed", "deleting", "deleted", "incompatible-restore")
MAX_COPY_ATTEMPTS = 5


class RdsStartSnapshotOperator(BackupSetMixin, AwsBaseOperator[RdsHook]):
    """Start the set's manual DB snapshot and return once its SnapshotCreateTime is fixed.

    A retry finds the snapshot of the same name and returns it; so does a
    create that botocore retried after its answer was lost ("already exists").
    Either way only a snapshot tagged with this set, of this instance, is
    adopted. Returns the snapshot record (id, arn, time, state, size_bytes).
    """

    aws_hook_class = RdsHook
    template_fields = aws_template_fields(
        "botocore_config", "backup_set_id", "db_instance_identifier"
    )
    operator_extra_links = (RdsSnapshotLink(),)

    def __init__(
        self,
        *,
        backup_set_id: str,
        db_instance_identifier: str,
        time_fixed_timeout: float = SNAPSHOT_TIME_FIXED_SECONDS,
        check_interval: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.backup_set_id = backup_set_id
        self.db_instance_identifier = db_instance_identifier
        self.time_fixed_timeout = time_fixed_timeout
        self.check_interval = check_interval or TIME_FIXED_CHECK_SECONDS

    def _find(self, snapshot_id: str) -> dict[str, Any] | None:
        return self.hook.get_snapshot(snapshot_id)

    def _ours(self, snapshot: dict[str, Any], backup_set: BackupSet) -> dict[str, Any]:
        """The snapshot, when its tags and instance say this set made it; else refuse."""
        tags = tag_dict(snapshot.get("TagList"))
        instance = snapshot.get("DBInstanceIdentifier")
        if not backup_set.owns(tags) or instance != self.db_instance_identifier:
            raise PermanentFailure(
                f"RDS snapshot {snapshot['DBSnapshotIdentifier']} exists but is not set "
                f"{backup_set.id}'s (instance {instance}, tags {tags}): not adopting it"
            )
        return snapshot

    def _start(self, backup_set: BackupSet) -> dict[str, Any]:
        """Create the set's snapshot, or adopt the one an earlier try or attempt made."""
        snapshot_id = backup_set.rds_snapshot_id
        snapshot = self._find(snapshot_id)
        if snapshot is not None:
            snapshot = self._ours(snapshot, backup_set)
            self.log.info("RDS snapshot %s exists already (a retry): reusing it", snapshot_id)
            return snapshot
        try:
            snapshot = self.hook.create_snapshot(
                snapshot_id=snapshot_id,
                instance=self.db_instance_identifier,
                tags=backup_set.tag_list,
            )
        except self.hook.conn.exceptions.DBSnapshotAlreadyExistsFault:
            # botocore retried a create whose answer was lost (5xx, dropped connection):
            # its first attempt made the snapshot
            snapshot = self._find(snapshot_id)
            if snapshot is None:
                raise
            snapshot = self._ours(snapshot, backup_set)
            self.log.info(
                "RDS snapshot %s was made by an earlier attempt: adopting it", snapshot_id
            )
            return snapshot
        self.log.info("RDS snapshot %s of %s started", snapshot_id, self.db_instance_identifier)
        return snapshot

    def execute(self, context: Any) -> dict[str, Any]:
        backup_set = self.backup_set(context)
        snapshot_id = backup_set.rds_snapshot_id
        snapshot = self._start(backup_set)
        RdsSnapshotLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            snapshot_id=snapshot_id,
        )
        deadline = time.monotonic() + self.time_fixed_timeout
        while not snapshot.get("SnapshotCreateTime"):
            if snapshot["Status"] in SNAPSHOT_FAILED:
                raise PermanentFailure(f"RDS snapshot {snapshot_id} is {snapshot['Status']}")
            if time.monotonic() > deadline:
                raise PermanentFailure(
                    f"RDS snapshot {snapshot_id} has no SnapshotCreateTime after "
                    f"{self.time_fixed_timeout} s (status {snapshot['Status']})"
                )
            time.sleep(self.check_interval)
            snapshot = self._find(snapshot_id) or snapshot
        record = rds_snapshot_record(snapshot)
        self.log.info("RDS snapshot %s point in time: %s", snapshot_id, record["time"])
        return record


class RdsRestoreInstanceOperator(AwsBaseOperator[RdsHook]):
    """Create a new DB instance from a snapshot, or from automated backups at ``restore_time``.

    The point in time is always explicit (never "latest restorable"): the
    planner chose it strictly before the disk point, and it is checked
    against the instance's restore window before AWS is asked. Network and
    size settings are copied from the source instance, and what AWS lets a
    restore keep of it (``restored_shape``: parameter and option groups,
    storage, deletion protection, tags, automated backups, IAM authentication, log
    exports, CA certificate, network type), so the new one can stand in for it;
    ``temporary`` (a drill) keeps neither deletion protection, live tags, automated
    backups, log exports nor storage autoscaling.
    A retry finds the instance it created.
    """

    aws_hook_class = RdsHook
    template_fields = aws_template_fields(
        "botocore_config",
        "target_instance_identifier",
        "source_instance_identifier",
        "snapshot_id",
        "restore_time",
        "tags",
        "recorded_network",
    )

    def __init__(
        self,
        *,
        target_instance_identifier: str,
        source_instance_identifier: str | None,
        snapshot_id: str | None = None,
        restore_time: str | None = None,
        tags: dict[str, str] | None = None,
        recorded_network: dict[str, Any] | None = None,
        temporary: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.recorded_network = recorded_network
        self.temporary = temporary
        self.target_instance_identifier = target_instance_identifier
        self.source_instance_identifier = source_instance_identifier
        self.snapshot_id = snapshot_id
        self.restore_time = restore_time
        self.tags = tags or {}

    def _instance(self, identifier: str) -> dict[str, Any] | None:
        return self.hook.get_instance(identifier)

    def _check_restore_time(self, restore_time: datetime) -> None:
        """Refuse a time outside the automated backups' restore window, before AWS is asked."""
        window = self.hook.restore_window(self.source_instance_identifier)
        if not window:
            raise PermanentFailure(
                f"{self.source_instance_identifier} has no automated backups (retention 0?): "
                "point-in-time restore is not possible"
            )
        earliest = to_utc(window.get("EarliestTime"))
        latest = to_utc(window.get("LatestTime"))
        if (earliest and restore_time < earliest) or (latest and restore_time > latest):
            raise PermanentFailure(
                f"restore time {restore_time.isoformat()} is outside the restore window "
                f"{earliest} .. {latest} of {self.source_instance_identifier}"
            )

    def _snapshot_gib(self) -> int | None:
        """The size of the snapshot restored from (None: a point-in-time restore, or a
        snapshot RDS does not describe here: its storage settings are then not named)."""
        if not self.snapshot_id:
            return None
        snapshot = self.hook.find_snapshot_of_any_type(self.snapshot_id)
        if snapshot is None or not snapshot.get("AllocatedStorage"):
            self.log.warning(
                "Snapshot %s's size could not be read: %s gets the snapshot's IOPS and "
                "throughput, not the live instance's",
                self.snapshot_id,
                self.target_instance_identifier,
            )
            return None
        return int(snapshot["AllocatedStorage"])

    def _kept(self, source: dict[str, Any] | None) -> dict[str, Any]:
        """The restore's arguments for what it keeps of the live instance beyond its class
        and network (``restored_shape``): the source's shape, the recorded one when it is
        gone (a restore from the protected copies), none in the copy region. The storage
        settings are judged against the size the restored instance will really have
        (``restored_shape.restored_gib``: the snapshot's, not the live one's)."""
        if not self.source_instance_identifier:
            shape = None
        elif source is not None:
            shape = rds_shape_record(source)
        else:
            shape = recorded_shape(self.recorded_network, "database")
        arguments = rds_restore_arguments(
            shape,
            tags=self.tags,
            temporary=self.temporary,
            point_in_time=bool(self.restore_time),
            snapshot_gib=self._snapshot_gib() if shape else None,
        )
        if shape:
            self.log.info(
                "%s keeps %s's parameter group %s, option group %s, storage %s "
                "(%s GiB, IOPS %s, throughput %s), backup retention %s days%s",
                self.target_instance_identifier,
                self.source_instance_identifier + ("" if source is not None else " (as recorded)"),
                arguments.get("DBParameterGroupName", "(the default)"),
                arguments.get("OptionGroupName", "(the default)"),
                arguments.get("StorageType"),
                arguments.get("AllocatedStorage", "the snapshot's"),
                arguments.get("Iops", "(not named)"),
                arguments.get("StorageThroughput", "(not named)"),
                arguments.get("BackupRetentionPeriod", "(not named)"),
                " (a drill: no deletion protection, live tags, automated backups, log "
                "exports or autoscaling)"
                if self.temporary
                else "",
            )
        return arguments

    def _shape(self, source: dict[str, Any] | None = None) -> dict[str, Any]:
        """Class, network and Multi-AZ of the source instance; none without one.

        A restore in another region (from a cross-region copy) has no source
        instance there: AWS then gives the new instance the class of the
        snapshot's original instance and the region's default network. A source
        instance deleted (after an attack: a restore from the protected copies)
        gives way to ``recorded_network``, the network the set's manifest recorded.
        """
        if not self.source_instance_identifier:
            return {"PubliclyAccessible": False}
        recorded = rds_shape(self.recorded_network)
        if source is None and not self.restore_time and recorded["DBSubnetGroupName"]:
            # Deleted by an attacker (a restore from the protected copies): the network the
            # set recorded (the plan checked it still exists), the snapshot's instance class.
            self.log.info(
                "Source instance %s not found: %s gets the recorded network (DB subnet group "
                "%s, security groups %s)",
                self.source_instance_identifier,
                self.target_instance_identifier,
                recorded["DBSubnetGroupName"],
                ", ".join(recorded["VpcSecurityGroupIds"]) or "none",
            )
            return {**recorded, "PubliclyAccessible": False}
        if source is None and not self.restore_time:
            # Deleted (by mistake, or by an attacker: a restore from the protected copies):
            # restored from a snapshot all the same, in the shape the snapshot gives.
            self.log.warning(
                "Source instance %s not found: %s gets the snapshot's instance class and the "
                "region's default network; move it into the platform's network before use",
                self.source_instance_identifier,
                self.target_instance_identifier,
            )
            return {"PubliclyAccessible": False}
        if source is None:
            raise PermanentFailure(f"source instance {self.source_instance_identifier} not found")
        return {
            "DBInstanceClass": source["DBInstanceClass"],
            "DBSubnetGroupName": (source.get("DBSubnetGroup") or {}).get("DBSubnetGroupName"),
            "VpcSecurityGroupIds": [
                g["VpcSecurityGroupId"] for g in source.get("VpcSecurityGroups", [])
            ],
            "MultiAZ": source.get("MultiAZ", False),
            "PubliclyAccessible": False,
        }

    def execute(self, context: Any) -> dict[str, Any]:
        if bool(self.snapshot_id) == bool(self.restore_time):
            raise PermanentFailure("give exactly one of snapshot_id and restore_time")
        if self.restore_time and not self.source_instance_identifier:
            raise PermanentFailure("a point-in-time restore needs source_instance_identifier")
        existing = self._instance(self.target_instance_identifier)
        if existing is not None:
            self.log.info("Instance %s exists already (a retry)", self.target_instance_identifier)
            return {"id": self.target_instance_identifier, "state": existing["DBInstanceStatus"]}
        source = (
            self._instance(self.source_instance_identifier)
            if self.source_instance_identifier
            else None
        )
        common = {**self._shape(source), **self._kept(source)}
        common = {k: v for k, v in common.items() if v not in (None, [])}
        if "DBSubnetGroupName" not in common:
            # The network type is the subnet group's: the region's default one (no group
            # named) may not support the live one's (DUAL), and RDS would refuse it.
            common.pop("NetworkType", None)
        if self.snapshot_id:
            self.hook.restore_from_snapshot(
                target=self.target_instance_identifier, snapshot_id=self.snapshot_id, **common
            )
            how = f"snapshot {self.snapshot_id}"
        else:
            restore_time = to_utc(self.restore_time)
            self._check_restore_time(restore_time)
            self.hook.restore_to_point_in_time(
                source=self.source_instance_identifier,
                target=self.target_instance_identifier,
                restore_time=restore_time,
                **common,
            )
            how = f"point in time {restore_time.isoformat()}"
        self.log.info("Restoring %s from %s", self.target_instance_identifier, how)
        return {"id": self.target_instance_identifier, "state": "creating", "from": how}


class RdsCopySnapshotOperator(BackupSetMixin, AwsBaseOperator[RdsHook]):
    """Copy the set's snapshot into another region: ``region_name`` is the destination.

    AWS wants ``CopyDBSnapshot`` called in the destination region with the
    source snapshot's ARN and ``SourceRegion`` (botocore presigns the request
    for the source region), and a KMS key of the destination region
    (``kms_key_id``) when the snapshot is encrypted. The copy is named after
    the set and tagged with it, so a retry finds it instead of copying again;
    only a copy that failed moves the name on (``ueb-<set>-2``, ...), like the
    EFS job's token chain. Returns the copy's record at once (state
    ``pending``): ``RdsSnapshotAvailableSensor`` in the destination region
    waits for it.
    """

    aws_hook_class = RdsHook
    template_fields = aws_template_fields(
        "botocore_config", "backup_set_id", "source_snapshot_arn", "kms_key_id"
    )
    operator_extra_links = (RdsSnapshotLink(),)

    def __init__(
        self,
        *,
        backup_set_id: str,
        source_snapshot_arn: str,
        kms_key_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.backup_set_id = backup_set_id
        self.source_snapshot_arn = source_snapshot_arn
        self.kms_key_id = kms_key_id

    def _find(self, snapshot_id: str) -> dict[str, Any] | None:
        return self.hook.get_snapshot(snapshot_id)

    def execute(self, context: Any) -> dict[str, Any]:
        backup_set = self.backup_set(context)
        region = self.hook.conn_region_name
        parts = str(self.source_snapshot_arn).split(":")
        if len(parts) != 7 or parts[2] != "rds" or parts[5] != "snapshot":
            raise PermanentFailure(f"{self.source_snapshot_arn!r} is not a DB snapshot ARN")
        source_region = parts[3]
        if source_region == region:
            raise PermanentFailure(
                f"the copy of {self.source_snapshot_arn} must go to another region, not {region}"
            )
        for attempt in range(1, MAX_COPY_ATTEMPTS + 1):
            copy_id = backup_set.rds_snapshot_id + (f"-{attempt}" if attempt > 1 else "")
            copy = self._find(copy_id)
            if copy is None:
                copy = self.hook.copy_snapshot(
                    source_arn=self.source_snapshot_arn,
                    target_id=copy_id,
                    source_region=source_region,
                    tags=backup_set.tag_list,
                    kms_key_id=self.kms_key_id,
                )
                self.log.info(
                    "Copying RDS snapshot %s to %s as %s", self.source_snapshot_arn, region, copy_id
                )
                break
            if copy["Status"] not in SNAPSHOT_FAILED:
                self.log.info("RDS snapshot copy %s exists in %s (a retry)", copy_id, region)
                break
            self.log.warning("RDS snapshot copy %s is %s: copying again", copy_id, copy["Status"])
        else:
            raise PermanentFailure(
                f"{MAX_COPY_ATTEMPTS} copies of {self.source_snapshot_arn} to {region} all failed"
            )
        RdsSnapshotLink.persist(
            context=context,
            operator=self,
            region_name=region,
            aws_partition=self.hook.conn_partition,
            snapshot_id=copy_id,
        )
        return rds_copy_record(copy, region)
