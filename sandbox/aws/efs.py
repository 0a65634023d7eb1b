"""EFS: moto's file systems, whose contents are the sandbox's directories.

moto keeps the API (create, describe, tags, mount targets); the sandbox gives
every file system its directory and makes ``SizeInBytes`` the size of what is
in it, as EFS meters it. A new mount target is ``creating`` for
``durations.efs_mount_target`` (moto makes it ``available`` at once; EFS takes
a minute or two), so whoever mounts a new file system must wait for it. A file
system made by ``CreateFileSystem`` is ``creating`` for
``durations.efs_file_system`` and refuses mount targets until it is
``available`` (``IncorrectFileSystemLifeCycleState``), and its arguments are
refused as EFS refuses them (moto takes any mode): an unknown performance or
throughput mode, ``provisioned`` without ``ProvisionedThroughputInMibps`` (or
that value without it), ``elastic`` with ``maxIO``. File systems the sandbox
makes itself (seeding, an AWS Backup restore job's) are available at once.
A mount target's security groups must be in its subnet's VPC
(``SecurityGroupNotFound``, ``placement``; moto checks only that they exist).
"""

from __future__ import annotations

import json
from typing import Any

from moto.efs import urls
from moto.efs.exceptions import BadRequest, FileSystemNotFound
from moto.efs.models import EFSBackend, FileSystem, MountTarget, efs_backends
from moto.efs.responses import EFSResponse

from sandbox.aws import placement
from sandbox.aws.context import OneCallAtATime, current
from sandbox.aws.errors import AwsError
from sandbox.aws.extensions import Extension
from sandbox.aws.files import tree_size
from sandbox.aws.progress import Progress


def efs_backend(account: str, region: str) -> EFSBackend:
    return efs_backends[account][region]


def file_system_id(arn: str) -> str:
    """``fs-123`` from ``arn:aws:elasticfilesystem:<region>:<account>:file-system/fs-123``."""
    return arn.rsplit("/", 1)[-1]


def find_file_system(account: str, region: str, fs_id: str) -> Any | None:
    return efs_backend(account, region).file_systems_by_id.get(fs_id)


def create_file_system(
    account: str,
    region: str,
    creation_token: str,
    *,
    performance_mode: str = "generalPurpose",
    encrypted: bool = False,
    kms_key_id: str | None = None,
    tags: list[dict[str, str]] | None = None,
    throughput_mode: str = "bursting",
    provisioned_throughput_in_mibps: float | None = None,
) -> Any:
    """A new moto file system and its (empty) directory."""
    file_system = efs_backend(account, region).create_file_system(
        creation_token=creation_token,
        performance_mode=performance_mode,
        encrypted=encrypted,
        kms_key_id=kms_key_id,  # type: ignore[arg-type]
        throughput_mode=throughput_mode,
        provisioned_throughput_in_mibps=provisioned_throughput_in_mibps,  # type: ignore[arg-type]
        availability_zone_name=None,  # type: ignore[arg-type]
        backup=False,
        tags=tags or [],
    )
    current().files.file_system(file_system.file_system_id)
    return file_system


def mount_problem(account: str, fs_id: str) -> str | None:
    """Why ``fs_id`` cannot be mounted: no mount target ``available`` in any region."""
    for region, backend in list(efs_backends[account].items()):
        if fs_id not in backend.file_systems_by_id:
            continue
        states = [
            target.info_json()["LifeCycleState"]
            for target in backend.mount_targets_by_id.values()
            if target.file_system_id == fs_id
        ]
        if "available" in states:
            return None
        name = f"{fs_id}.efs.{region}.amazonaws.com"
        if states:
            return f"the mount targets of {fs_id} are not available yet ({', '.join(states)})"
        return (
            f'Failed to resolve "{name}" - check that your file system ID is correct, and '
            "ensure that the VPC has an EFS mount target for this file system ID"
        )
    return f"file system {fs_id} not found: no mount target resolves its name"


class TimedMountTarget(MountTarget):
    """A moto mount target that is ``creating`` until its ``_progress`` ends."""

    _progress: Progress

    def info_json(self) -> dict[str, Any]:
        described = super().info_json()
        described["LifeCycleState"] = "available" if self._progress.finished else "creating"
        return described


class TimedFileSystem(FileSystem):
    """A moto file system made by ``CreateFileSystem``: ``creating`` until its ``_progress``
    ends (moto makes it ``available`` at once)."""

    _progress: Progress

    def info_json(self) -> dict[str, Any]:
        described = super().info_json()
        described["LifeCycleState"] = "available" if self._progress.finished else "creating"
        return described


def check_create_arguments(body: dict[str, Any]) -> None:
    """Refuse ``CreateFileSystem`` arguments as EFS does (``BadRequest``)."""
    performance = body.get("PerformanceMode", "generalPurpose")
    mode = body.get("ThroughputMode", "bursting")
    mibps = body.get("ProvisionedThroughputInMibps")
    if performance not in ("generalPurpose", "maxIO"):
        raise BadRequest(f"Invalid PerformanceMode {performance}.")
    if mode not in ("bursting", "provisioned", "elastic"):
        raise BadRequest(f"Invalid ThroughputMode {mode}.")
    if mode == "provisioned" and not mibps:
        raise BadRequest("ProvisionedThroughputInMibps is required for provisioned.")
    if mode != "provisioned" and mibps:
        raise BadRequest("ProvisionedThroughputInMibps is only for provisioned.")
    if mode == "elastic" and performance != "generalPurpose":
        raise BadRequest("Elastic throughput needs the generalPurpose performance mode.")


class SandboxEfsResponse(OneCallAtATime, EFSResponse):
    def create_mount_target(self) -> Any:
        request = json.loads(self.body or "{}")
        fs_id = request.get("FileSystemId")
        file_system = self.efs_backend.file_systems_by_id.get(fs_id)
        if isinstance(file_system, TimedFileSystem) and not file_system._progress.finished:
            raise AwsError(
                "IncorrectFileSystemLifeCycleState",
                f"File system '{fs_id}' is not in the 'available' state (creating).",
            )
        if file_system is not None and request.get("SubnetId"):
            placement.refuse_mount_target_groups(
                self.current_account,
                self.region,
                request["SubnetId"],
                request.get("SecurityGroups") or [],
            )
        body, headers = super().create_mount_target()
        created = json.loads(body)
        mount_target = self.efs_backend.mount_targets_by_id[created["MountTargetId"]]
        mount_target.__class__ = TimedMountTarget
        mount_target._progress = Progress.begin(
            "efs",
            "CreateMountTarget",
            created["FileSystemId"],
            current().durations.efs_mount_target,
        )
        return json.dumps(mount_target.info_json()), headers

    def create_file_system(self) -> Any:
        check_create_arguments(json.loads(self.body or "{}"))
        body, headers = super().create_file_system()
        fs_id = json.loads(body)["FileSystemId"]
        file_system = self.efs_backend.file_systems_by_id[fs_id]
        file_system.__class__ = TimedFileSystem
        file_system._progress = Progress.begin(
            "efs", "CreateFileSystem", fs_id, current().durations.efs_file_system
        )
        current().files.file_system(fs_id)
        return json.dumps(file_system.info_json()), headers

    def update_file_system(self) -> Any:
        """``UpdateFileSystem`` (moto has none): the throughput mode, refused as EFS refuses.

        Modelled on the EFS API reference: ``provisioned`` needs
        ``ProvisionedThroughputInMibps`` (and only it takes one); ``elastic`` needs the
        ``generalPurpose`` performance mode; an unknown file system is
        ``FileSystemNotFound``. The change applies at once (EFS: ``updating`` briefly).
        """
        body = json.loads(self.body or "{}")
        fs_id = self._get_param("FileSystemId") or self.path.rstrip("/").rsplit("/", 1)[-1]
        file_system = self.efs_backend.file_systems_by_id.get(fs_id)
        if file_system is None:
            raise FileSystemNotFound(fs_id)
        mode = body.get("ThroughputMode", file_system.throughput_mode)
        mibps = body.get("ProvisionedThroughputInMibps")
        if mode not in ("bursting", "provisioned", "elastic"):
            raise BadRequest(f"Invalid ThroughputMode {mode}.")
        if mode == "provisioned" and not (mibps or file_system.provisioned_throughput_in_mibps):
            raise BadRequest("ProvisionedThroughputInMibps is required for provisioned.")
        if mode != "provisioned" and mibps:
            raise BadRequest("ProvisionedThroughputInMibps is only for provisioned.")
        if mode == "elastic" and file_system.performance_mode != "generalPurpose":
            raise BadRequest("Elastic throughput needs the generalPurpose performance mode.")
        file_system.throughput_mode = mode
        file_system.provisioned_throughput_in_mibps = (
            (mibps or file_system.provisioned_throughput_in_mibps)
            if mode == "provisioned"
            else None
        )
        return 202, {"status": 202}, json.dumps(file_system.info_json())

    def describe_file_systems(self) -> Any:
        for file_system in self.efs_backend.file_systems_by_id.values():
            # What moto reports as SizeInBytes.Value.
            file_system._size_value = tree_size(
                current().files.file_system(file_system.file_system_id)
            ).bytes
        return super().describe_file_systems()

    def delete_file_system(self) -> Any:
        file_system_id = self._get_param("FileSystemId")
        response = super().delete_file_system()
        current().files.remove_file_system(file_system_id)
        return response


EXTENSION = Extension(urls, SandboxEfsResponse)
