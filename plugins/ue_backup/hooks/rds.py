"""RDS: every call the plugins make to RDS, on the provider's hook with this project's retries.

Snapshots (the set's manual snapshot, its cross-region copy, their tags and
deletion), restored instances (from a snapshot or a point in time), the
in-place switch-over's renames and the drill's deletion all go through this
subclass of the provider's ``RdsHook``. Its clients, sync and the triggers'
async ones, retry throttling and 5xx answers as configured
(``RetryingHookMixin``, ``ue_backup.aws``).

Naming: ``get_*`` returns None where RDS does not know the resource (a retry
asks what an earlier try made); ``describe_*`` raises RDS's own NotFound
error, for callers that report it as such (preflight, the backup's read-back).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from airflow.providers.amazon.aws.hooks.rds import RdsHook as ProviderRdsHook
from botocore.exceptions import ClientError

from ue_backup.aws import RetryingHookMixin
from ue_backup.switch_over import Instance


class RdsHook(RetryingHookMixin, ProviderRdsHook):
    """The provider's RDS hook with this project's retries and the calls the plugins make."""

    # --- instances -----------------------------------------------------------------------

    def describe_instance(self, identifier: str) -> dict[str, Any]:
        """The DB instance; raises ``DBInstanceNotFoundFault`` when there is none."""
        return self.conn.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]

    def get_instance(self, identifier: str) -> dict[str, Any] | None:
        """The DB instance, or None when RDS does not know that id (yet, or any more)."""
        try:
            return self.describe_instance(identifier)
        except self.conn.exceptions.DBInstanceNotFoundFault:
            return None

    def existing_subnet_groups(self, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Those of the DB subnet groups ``names`` that exist, each as described (its VPC and
        ``Subnets``: a restore's network check, as ``recorded_network.subnet_group`` reads
        it; one recreated by name may be in another VPC, one whose subnets were deleted
        since still lists them)."""
        found = {}
        for name in names:
            try:
                [group] = self.conn.describe_db_subnet_groups(DBSubnetGroupName=name)[
                    "DBSubnetGroups"
                ]
            except self.conn.exceptions.DBSubnetGroupNotFoundFault:
                continue
            found[name] = group
        return found

    def existing_parameter_groups(self, names: Iterable[str]) -> set[str]:
        """Those of the DB parameter groups ``names`` that exist (a restore's check of the
        groups a backup set recorded: one deleted would fail the restore call late)."""
        found = set()
        for name in names:
            try:
                self.conn.describe_db_parameter_groups(DBParameterGroupName=name)
            except self.conn.exceptions.DBParameterGroupNotFoundFault:
                continue
            found.add(name)
        return found

    def existing_option_groups(self, names: Iterable[str]) -> set[str]:
        """Those of the option groups ``names`` that exist (as ``existing_parameter_groups``)."""
        found = set()
        for name in names:
            try:
                self.conn.describe_option_groups(OptionGroupName=name)
            except self.conn.exceptions.OptionGroupNotFoundFault:
                continue
            found.add(name)
        return found

    def restore_window(self, identifier: str) -> dict[str, Any] | None:
        """The instance's automated backups' ``RestoreWindow`` (None: no automated backups,
        which AWS answers with ``DBInstanceAutomatedBackupNotFound``, as for an instance
        deleted with its automated backups)."""
        try:
            backups = self.conn.describe_db_instance_automated_backups(
                DBInstanceIdentifier=identifier
            ).get("DBInstanceAutomatedBackups", [])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "DBInstanceAutomatedBackupNotFound":
                raise
            return None
        windows = [b["RestoreWindow"] for b in backups if b.get("RestoreWindow")]
        return windows[0] if windows else None

    def restore_from_snapshot(self, *, target: str, snapshot_id: str, **shape: Any) -> None:
        """Start a new instance ``target`` from a DB snapshot (``shape``: class, network, tags)."""
        self.conn.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier=target, DBSnapshotIdentifier=snapshot_id, **shape
        )

    def restore_to_point_in_time(
        self, *, source: str, target: str, restore_time: datetime, **shape: Any
    ) -> None:
        """Start a new instance ``target`` from ``source``'s automated backups at a time."""
        self.conn.restore_db_instance_to_point_in_time(
            SourceDBInstanceIdentifier=source,
            TargetDBInstanceIdentifier=target,
            RestoreTime=restore_time,
            **shape,
        )

    def rename_instance(self, old: str, new: str) -> None:
        """Rename at once. RDS renames asynchronously: ``old`` stays ``renaming`` for a while."""
        self.conn.modify_db_instance(
            DBInstanceIdentifier=old, NewDBInstanceIdentifier=new, ApplyImmediately=True
        )

    def manage_master_password(self, identifier: str) -> None:
        """Let RDS make the instance's master password and keep it in a secret of its own.

        RDS restores a PostgreSQL instance without a managed password (the
        restore's ``ManageMasterUserPassword`` is Oracle's only); this is how a
        restored copy gets one. RDS creates the secret on the caller's behalf.
        """
        self.conn.modify_db_instance(
            DBInstanceIdentifier=identifier, ManageMasterUserPassword=True, ApplyImmediately=True
        )

    def delete_instance(self, identifier: str) -> None:
        """Delete a temporary instance with its automated backups and no final snapshot."""
        self.conn.delete_db_instance(
            DBInstanceIdentifier=identifier,
            SkipFinalSnapshot=True,
            DeleteAutomatedBackups=True,
        )

    def instance_states(self, names: Iterable[str]) -> dict[str, Instance | None]:
        """Each id's ``switch_over.Instance``, or None where RDS does not know it.

        Read in the order given: the switch-over lists each rename's old id
        before its new one, so a rename ending between two reads shows both
        ids (wait), never neither.
        """
        return {name: _instance_of(self.get_instance(name)) for name in names}

    async def instance_states_async(self, names: Iterable[str]) -> dict[str, Instance | None]:
        """``instance_states`` through the async client: what the switch-over trigger reads."""
        states: dict[str, Instance | None] = {}
        async with await self.get_async_conn() as client:
            for name in names:
                try:
                    found = await client.describe_db_instances(DBInstanceIdentifier=name)
                except client.exceptions.DBInstanceNotFoundFault:
                    found = {}
                states[name] = _instance_of(next(iter(found.get("DBInstances") or ()), None))
        return states

    # --- snapshots -----------------------------------------------------------------------

    def describe_snapshot(self, snapshot_id: str) -> dict[str, Any]:
        """The manual DB snapshot; raises ``DBSnapshotNotFoundFault`` when there is none."""
        return self.conn.describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)["DBSnapshots"][0]

    def describe_backup_snapshot(self, snapshot_id: str) -> dict[str, Any]:
        """The snapshot AWS Backup made (``awsbackup:job-...``): RDS lists those only when
        asked for their type (by default it answers with manual and automated ones)."""
        return self.conn.describe_db_snapshots(
            DBSnapshotIdentifier=snapshot_id, SnapshotType="awsbackup"
        )["DBSnapshots"][0]

    def find_snapshot_of_any_type(self, snapshot: str) -> dict[str, Any] | None:
        """The snapshot a restore names, by identifier or ARN: a manual one, or one AWS
        Backup made or brought back (``awsbackup:...``, listed only when asked for by
        type); None when RDS describes none of that name here."""
        name = snapshot.split(":snapshot:", 1)[1] if ":snapshot:" in snapshot else snapshot
        try:
            if name.startswith("awsbackup:"):
                return self.describe_backup_snapshot(name)
            return self.describe_snapshot(name)
        except self.conn.exceptions.DBSnapshotNotFoundFault:
            return None

    def get_snapshot(self, snapshot_id: str) -> dict[str, Any] | None:
        """The DB snapshot of that name, or None: how a retry finds what it made before."""
        try:
            return self.describe_snapshot(snapshot_id)
        except self.conn.exceptions.DBSnapshotNotFoundFault:
            return None

    def create_snapshot(
        self, *, snapshot_id: str, instance: str, tags: list[dict[str, str]]
    ) -> dict[str, Any]:
        """Start a manual snapshot; raises ``DBSnapshotAlreadyExistsFault`` for a taken name."""
        return self.conn.create_db_snapshot(
            DBSnapshotIdentifier=snapshot_id, DBInstanceIdentifier=instance, Tags=tags
        )["DBSnapshot"]

    def copy_snapshot(
        self,
        *,
        source_arn: str,
        target_id: str,
        source_region: str,
        tags: list[dict[str, str]],
        kms_key_id: str | None = None,
    ) -> dict[str, Any]:
        """Copy a snapshot into this hook's region (botocore presigns for ``source_region``)."""
        kwargs: dict[str, Any] = {
            "SourceDBSnapshotIdentifier": source_arn,
            "TargetDBSnapshotIdentifier": target_id,
            "SourceRegion": source_region,
            "Tags": tags,
        }
        if kms_key_id:
            kwargs["KmsKeyId"] = kms_key_id
        return self.conn.copy_db_snapshot(**kwargs)["DBSnapshot"]

    def list_manual_snapshots(self, instance: str | None = None) -> list[dict[str, Any]]:
        """Every manual snapshot in the region (of ``instance`` when given), with its tags."""
        kwargs: dict[str, Any] = {"SnapshotType": "manual"}
        if instance:
            kwargs["DBInstanceIdentifier"] = instance
        pages = self.conn.get_paginator("describe_db_snapshots").paginate(**kwargs)
        return [s for page in pages for s in page["DBSnapshots"]]

    def delete_snapshot(self, snapshot_id: str) -> None:
        """Delete a manual snapshot; raises RDS's NotFound error when it is gone already."""
        self.conn.delete_db_snapshot(DBSnapshotIdentifier=snapshot_id)

    def add_tags(self, arn: str, tags: list[dict[str, str]]) -> None:
        """Tag a snapshot (or any RDS resource); writing the same tags again changes nothing."""
        self.conn.add_tags_to_resource(ResourceName=arn, Tags=tags)


def _instance_of(described: dict[str, Any] | None) -> Instance | None:
    return Instance.of(described) if described else None
