"""EFS: the file system a DataSync copy is restored into, and the mount targets that make
a file system restored side by side mountable.

AWS Backup restores into a new file system without mount targets, and the
EFS CSI driver can only mount a file system through a mount target in the
node's availability zone. Giving the new file system mount targets in the
subnets, with the security groups, of the live one makes it reachable from
the same cluster. The provider has no EFS hook; this one owns the ``efs``
client and the waiter in ``waiters/efs.json`` (AWS ships none).
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from ue_backup.aws import RetryingHookMixin
from ue_backup.waiters import CustomWaitersMixin


class EfsHook(RetryingHookMixin, CustomWaitersMixin, AwsBaseHook):
    """Interact with Amazon EFS through the ``efs`` boto3 client."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "efs"
        super().__init__(*args, **kwargs)

    def describe_file_system(self, file_system_id: str) -> dict[str, Any]:
        """The file system as EFS describes it (``LifeCycleState``, ``PerformanceMode``, ...)."""
        return self.conn.describe_file_systems(FileSystemId=file_system_id)["FileSystems"][0]

    def file_system_by_token(self, creation_token: str) -> dict[str, Any] | None:
        """The file system created with ``creation_token`` (a restore's), or None."""
        found = self.conn.describe_file_systems(CreationToken=creation_token)["FileSystems"]
        return found[0] if found else None

    def create_file_system(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """``CreateFileSystem`` (``restored_shape.efs_create_arguments``), idempotent: the
        ``CreationToken`` makes EFS answer a retry ``FileSystemAlreadyExists``, and the file
        system made by the earlier try is described instead. Returns its description."""
        try:
            return self.conn.create_file_system(**arguments)
        except self.conn.exceptions.FileSystemAlreadyExists:
            found = self.file_system_by_token(arguments["CreationToken"])
            if found is None:  # deleted between the two calls
                raise
            self.log.info("File system %s exists (a retry)", found["FileSystemId"])
            return found

    def update_throughput(self, file_system_id: str, arguments: dict[str, Any]) -> None:
        """``UpdateFileSystem``: a restored file system's throughput mode (AWS Backup's
        restore cannot set it; ``restored_shape.throughput_update`` gives the arguments)."""
        self.conn.update_file_system(FileSystemId=file_system_id, **arguments)

    def mount_targets(self, file_system_id: str) -> list[dict[str, Any]]:
        return self.conn.describe_mount_targets(FileSystemId=file_system_id).get("MountTargets", [])

    def copy_mount_targets(self, source_id: str, target_id: str) -> list[dict[str, Any]]:
        """Give ``target_id`` a mount target in each subnet ``source_id`` has one in.

        With the source's security groups. Idempotent: a subnet that has one
        already is left alone, so a retry creates nothing twice. Only reads
        the source. Returns the target's mount targets.
        """
        present = {t["SubnetId"] for t in self.mount_targets(target_id)}
        for source in self.mount_targets(source_id):
            if source["SubnetId"] in present:
                continue
            groups = self.conn.describe_mount_target_security_groups(
                MountTargetId=source["MountTargetId"]
            ).get("SecurityGroups", [])
            if self._created(target_id, source["SubnetId"], groups):
                self.log.info("Mount target for %s in %s created", target_id, source["SubnetId"])
        return self.mount_targets(target_id)

    def network(self, file_system_id: str) -> list[dict[str, Any]]:
        """The file system's mount targets, each with its ``SecurityGroups`` (what a backup
        records, ``recorded_network.efs_network``). Only reads."""
        return [
            {
                **target,
                "SecurityGroups": self.conn.describe_mount_target_security_groups(
                    MountTargetId=target["MountTargetId"]
                ).get("SecurityGroups", []),
            }
            for target in self.mount_targets(file_system_id)
        ]

    def create_mount_targets(
        self, file_system_id: str, recorded: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Give ``file_system_id`` a mount target in each recorded subnet, with its groups.

        ``recorded``: ``[{subnet_id, security_group_ids}]`` from a manifest (the live
        file system's, when it is gone). Idempotent: a subnet that has one already is
        left alone, so a retry creates nothing twice. Returns the file system's targets.
        """
        present = {t["SubnetId"] for t in self.mount_targets(file_system_id)}
        for target in recorded:
            if target["subnet_id"] in present:
                continue
            if self._created(file_system_id, target["subnet_id"], target["security_group_ids"]):
                self.log.info(
                    "Mount target for %s in recorded subnet %s created",
                    file_system_id,
                    target["subnet_id"],
                )
        return self.mount_targets(file_system_id)

    def _created(self, file_system_id: str, subnet_id: str, groups: list[str]) -> bool:
        """Create one mount target; False when its Availability Zone has one already.

        AWS allows one mount target per file system and AZ (``MountTargetConflict``):
        one given by hand in another subnet of that AZ, or made by an earlier try, serves
        it, so a retry goes on instead of failing for ever.
        """
        try:
            self.conn.create_mount_target(
                FileSystemId=file_system_id, SubnetId=subnet_id, SecurityGroups=list(groups)
            )
        except self.conn.exceptions.MountTargetConflict as conflict:
            self.log.info("No mount target in %s: %s", subnet_id, conflict)
            return False
        return True
