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
Temporary files are excluded (``temp_files.datasync_excludes``).

A restore copies a set's folder back with a task of its own,
``ue-backup-restore-<restore id>`` (``restore_task_name``), from the set's
folder into ``ue-backup-restoring_<restore id>/`` (``restore_folder``) on the
restored file system, where the restore's purge, check and placement find it
as they find an AWS Backup restore's tree. That task is tagged with the
restore, never with a set, so it is never listed as a set's copy; it and its
destination location are deleted once the copy succeeded (DataSync allows 100
tasks per region). Pure: names and rules only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ue_backup.backup_set import BACKUP_SET_TAG
from ue_backup.restore_scripts import STAGE_PREFIX

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


RESTORE_TASK_PREFIX = "ue-backup-restore-"


def restore_task_name(restore_id: str) -> str:
    """A restore's (or a drill's) DataSync task name: how a retry and a cleanup find it."""
    return f"{RESTORE_TASK_PREFIX}{restore_id}"


def restore_folder(restore_id: str) -> str:
    """Where a restore's copy lands on the restored file system: its staged tree
    (``restore_scripts.STAGE_PREFIX``), which the purge, check and placement Jobs find."""
    return f"/{STAGE_PREFIX}{restore_id}"


def is_restore_location(uri: str, restore_id: str) -> bool:
    """Whether an EFS location's URI is ``restore_id``'s destination (on any file system)."""
    return folder_of(uri)[1] == restore_folder(restore_id)


def tagged_with(tags: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """Whether ``tags`` carry every one of ``wanted`` (key and value)."""
    return all(tags.get(key) == value for key, value in wanted.items())


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


# --- a set's copy, as the planner, the drill and retention see it -------------------------
#
# ``DataSyncHook.set_copies`` lists every set task of an installation (tagged with the
# installation and a backup set) and reduces each with ``set_copy``: a dict with
# ``TaskArn`` (the set's task), ``LocationArn`` (its destination: the set's folder, what a
# restore copies from), ``FileSystemId`` and ``Folder`` (where that folder is),
# ``TaskExecutionArn``, ``Status`` and ``StartTime`` (the set's execution: the disk's
# point in time is the moment the cold copy began), ``EndTime``, ``Result`` and
# ``BytesWritten`` (how long it took and what it wrote: the window estimate's history,
# ``past_runs.datasync_runs``; retention's size of the folder), ``BytesTransferred`` and
# ``Tags`` (the task's, a dict:
# the backup set and, once verified, ``ue-backup:verified`` and ``ue-backup:window``).


# A set's folder written again after the set's own copy: not the set's point any more.
REWRITTEN = "REWRITTEN"


def _start_key(value: Any) -> str:
    """An execution's StartTime as a sortable string (a datetime from boto, or ISO text)."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value or "")


def folder_of(location_uri_text: str) -> tuple[str, str]:
    """(file system id, folder) of an EFS location URI (``efs://<region>.<fs id>/<folder>/``)."""
    rest = location_uri_text.split("://", 1)[-1]
    host, _, path = rest.partition("/")
    file_system_id = host.split(".", 1)[-1]
    return file_system_id, "/" + path.strip("/")


def set_copy(
    task: Mapping[str, Any],
    tags: Mapping[str, str],
    location: Mapping[str, Any],
    executions: list[Mapping[str, Any]],
    set_id: str,
) -> dict[str, Any]:
    """One set's copy from DescribeTask, its tags, its destination's DescribeLocationEfs and
    its executions (DescribeTaskExecution, each with its ``Tags`` as a dict).

    The set's execution is the newest one tagged with the set (the backup's, started
    inside its cold window; a retry after a failed one starts another). An execution
    not tagged with the set (started by hand, perhaps while the system ran) is never
    the set's; one started after the set's rewrote the folder, so the folder no longer
    holds the set's point: its ``Status`` is then ``REWRITTEN``, which the planner
    does not restore.
    """
    by_start = sorted(executions, key=lambda e: _start_key(e.get("StartTime")))
    own = [e for e in by_start if (e.get("Tags") or {}).get(BACKUP_SET_TAG) == set_id]
    execution = own[-1] if own else {}
    status = execution.get("Status")
    if own and by_start[-1] is not execution:
        status = REWRITTEN
    file_system_id, folder = folder_of(str(location.get("LocationUri") or ""))
    return {
        "TaskArn": task["TaskArn"],
        "LocationArn": task.get("DestinationLocationArn"),
        "SourceLocationArn": task.get("SourceLocationArn"),
        "FileSystemId": file_system_id,
        "Folder": folder,
        "TaskExecutionArn": execution.get("TaskExecutionArn"),
        "Status": status,
        "StartTime": execution.get("StartTime"),
        "EndTime": execution.get("EndTime"),
        "Result": execution.get("Result"),
        "BytesWritten": execution.get("BytesWritten"),
        "BytesTransferred": execution.get("BytesTransferred"),
        "Tags": dict(tags),
    }
