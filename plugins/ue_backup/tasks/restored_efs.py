"""The file system an EFS restore job wrote to, made mountable: one step for restore and drill.

In place, AWS Backup restores into the live file system. Side by side (every
drill, and ``ue_restore``'s default) it creates a new one without mount
targets, which the EFS CSI driver of the purge and check Jobs cannot mount:
at home it gets one in each subnet the live file system has one in, with
the same security groups (``EfsHook.copy_mount_targets``, idempotent). In
the copy region there is no live file system to copy them from: the log
says so, and the mount targets must come from that region's network set-up;
nor from the protected copies after an attack that deleted the live one.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from ue_backup.aws import settings_hook
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.aws_backup import AwsBackupHook
from ue_backup.run_settings import DrillRunSettings, RestoreRunSettings

log = logging.getLogger(__name__)


def restored_file_system(
    settings: RestoreRunSettings | DrillRunSettings, job_id: str, *, new_only: bool = False
) -> dict[str, Any]:
    """Where restore job ``job_id`` put the data, given mount targets when it is new.

    ``new_only`` (the drill): refuse unless the job created a new file system,
    and describe it (its state) with the job's times, for the drill report.
    Returns ``file_system_id`` and ``mount_targets`` (None: none made), and
    with ``new_only`` also ``state``, ``restore_job``, ``restore_job_created``
    and ``restore_job_completed``.
    """
    from ue_backup.hooks.efs import EfsHook

    job = settings_hook(AwsBackupHook, settings).describe_restore_job(job_id)
    fs_id = (job.get("CreatedResourceArn") or "").rsplit("/", 1)[-1]
    live = settings.efs_file_system_id
    if new_only and (not fs_id or fs_id == live):
        raise PermanentFailure(
            f"restore job {job_id} created {fs_id or 'no file system'}, not a new file system"
        )
    found: dict[str, Any] = {"file_system_id": fs_id, "mount_targets": None}
    if fs_id != live:
        efs = settings_hook(EfsHook, settings)
        if isinstance(settings, RestoreRunSettings) and settings.from_copy:
            log.warning(
                "File system %s was restored in %s, where no live file system has mount "
                "targets to copy: give it mount targets in the cluster's subnets",
                fs_id,
                settings.region,
            )
        elif isinstance(settings, RestoreRunSettings) and settings.from_immutable:
            found["mount_targets"] = _like_the_live_one_if_any(efs, live, fs_id)
        else:
            found["mount_targets"] = len(efs.copy_mount_targets(live, fs_id))
        if new_only:
            created, completed = job.get("CreationDate"), job.get("CompletionDate")
            found |= {
                "state": efs.describe_file_system(fs_id)["LifeCycleState"],
                "restore_job": job_id,
                "restore_job_created": created.isoformat() if created else None,
                "restore_job_completed": completed.isoformat() if completed else None,
            }
    return found


def _like_the_live_one_if_any(efs: Any, live: str, fs_id: str) -> int | None:
    """From the protected copies: mount targets like the live file system's, when it still
    exists; after an attack that deleted it, the log says to give them by hand."""
    try:
        return len(efs.copy_mount_targets(live, fs_id))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "FileSystemNotFound":
            raise
    log.warning(
        "File system %s was restored from the protected copies and the live file system %s "
        "is gone: no mount targets to copy. Give it mount targets in the cluster's subnets",
        fs_id,
        live,
    )
    return None
