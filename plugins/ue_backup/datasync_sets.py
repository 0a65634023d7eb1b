"""DataSync EFS-to-EFS with a history: each backup set is copied into its own folder.

Where AWS Backup is not offered, the disk's backup is a DataSync copy of the live
file system onto a target file system. A task always writes into the same
destination, so one task for every night would keep a single mirror,
overwritten each night: no history, and a bad night's copy replaces the last
good one. So each set gets a folder of its own on the target file system,
``<target_subdirectory>/<set id>``, written by a task of its own
(``ue-backup-<set id>``) whose destination location is that folder.

The task's options are set explicitly, never left to DataSync's defaults or to
whoever edited a task: every file is copied (``TransferMode: ALL``: the folder
is new), nothing the source no longer has is kept (``PreserveDeletedFiles:
REMOVE``), ownership, permissions and times kept as the platform wrote them,
and what was copied verified. ``verify`` checks the execution ran with them.
Temporary files are excluded (``temp_files.datasync_excludes``). Pure: names
and rules only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The options every set's task is created with (CreateTask's Options, botocore's enums).
TASK_OPTIONS: dict[str, str] = {
    "TransferMode": "ALL",
    "PreserveDeletedFiles": "REMOVE",
    "OverwriteMode": "ALWAYS",
    "VerifyMode": "ONLY_FILES_TRANSFERRED",
    "PosixPermissions": "PRESERVE",
    "Uid": "INT_VALUE",
    "Gid": "INT_VALUE",
    "Mtime": "PRESERVE",
    "Atime": "BEST_EFFORT",
    "PreserveDevices": "NONE",
    "TaskQueueing": "ENABLED",
    "LogLevel": "OFF",
}
# Those whose change would make the folder not the set's copy: checked on the execution.
CHECKED_OPTIONS = ("TransferMode", "PreserveDeletedFiles", "OverwriteMode", "VerifyMode")


def set_folder(base: str, set_id: str) -> str:
    """The set's folder on the target file system: ``<base>/<set id>`` (absolute)."""
    return f"/{base.strip('/')}/{set_id}".replace("//", "/")


def task_name(set_id: str) -> str:
    """The set's DataSync task name: how a retry finds the task it created."""
    return f"ue-backup-{set_id}"


def efs_arn(partition: str, region: str, account: str, file_system_id: str) -> str:
    return f"arn:{partition}:elasticfilesystem:{region}:{account}:file-system/{file_system_id}"


def location_uri(region: str, file_system_id: str, folder: str) -> str:
    """An EFS location's URI as DataSync lists it (``efs://<region>.<fs id><folder>/``)."""
    path = folder.strip("/")
    return f"efs://{region}.{file_system_id}/{path + '/' if path else ''}"


def options_problems(options: Mapping[str, Any] | None) -> list[str]:
    """Each checked option an execution ran with that is not the set's (``TASK_OPTIONS``)."""
    found = dict(options or {})
    return [
        f"{name} {found.get(name)!r}, expected {TASK_OPTIONS[name]!r}"
        for name in CHECKED_OPTIONS
        if found.get(name) != TASK_OPTIONS[name]
    ]
