"""The file system an EFS restore wrote to, made mountable: one step for restore and drill.

An AWS Backup restore job names the file system it wrote to
(``restored_file_system``); a DataSync restore chose its file system before the
copy (``restore_efs``, ``copy_target``), which needs mount targets before the copy
can reach it. Either way ``mountable`` does the rest.

In place, AWS Backup restores into the live file system. Side by side (every
drill, and ``ue_restore``'s default) it creates a new one without mount
targets, which the EFS CSI driver of the purge and check Jobs cannot mount:
at home it gets one in each subnet the live file system has one in, with
the same security groups (``EfsHook.copy_mount_targets``, idempotent). In
the copy region there is no live file system to copy them from: the log
says so, and the mount targets must come from that region's network set-up.
From the protected copies after an attack that deleted the live one, it gets
one in each subnet the backup set recorded, with the recorded security
groups (``recorded_network``; the plan checked they still exist); a set
recorded without them fails here, naming what to do, unless the file system
was given mount targets by hand (then cleared, the step finds them).

A new file system also gets the throughput mode of the shape the restore job
was started with (``shape``: the live one's, or the recorded one): AWS Backup
takes no throughput mode, so it is set here with ``UpdateFileSystem``, once the
mount targets exist (an update may leave it ``updating``, which takes none), only
when it differs (a retry changes nothing).
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from ue_backup.aws import settings_hook
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.aws_backup import AwsBackupHook
from ue_backup.recorded_network import mount_targets
from ue_backup.restored_shape import throughput_update
from ue_backup.run_settings import DrillRunSettings, RestoreRunSettings

log = logging.getLogger(__name__)


def restored_file_system(
    settings: RestoreRunSettings | DrillRunSettings,
    job_id: str,
    *,
    new_only: bool = False,
    recorded_network: dict[str, Any] | None = None,
    shape: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Where restore job ``job_id`` put the data, given mount targets (and ``shape``'s
    throughput mode) when it is new.

    ``new_only`` (the drill): refuse unless the job created a new file system,
    and describe it (its state) with the job's times, for the drill report.
    Returns ``file_system_id`` and ``mount_targets`` (None: none made), and
    with ``new_only`` also ``state``, ``restore_job``, ``restore_job_created``
    and ``restore_job_completed``. ``recorded_network``: the chosen set's (a
    restore from the protected copies), used when the live file system is gone.
    """
    job = settings_hook(AwsBackupHook, settings).describe_restore_job(job_id)
    fs_id = (job.get("CreatedResourceArn") or "").rsplit("/", 1)[-1]
    found = mountable(
        settings,
        fs_id,
        new_only=new_only,
        recorded_network=recorded_network,
        shape=shape,
        made_by=f"restore job {job_id}",
    )
    if new_only:
        created, completed = job.get("CreationDate"), job.get("CompletionDate")
        found |= {
            "restore_job": job_id,
            "restore_job_created": created.isoformat() if created else None,
            "restore_job_completed": completed.isoformat() if completed else None,
        }
    return found


def copy_target(
    settings: RestoreRunSettings | DrillRunSettings,
    started: dict[str, Any],
    *,
    new_only: bool = False,
) -> dict[str, Any]:
    """A DataSync restore: the file system ``restore_efs`` chose for the copy (its
    ``started``: a new one, or in place the live one), given mount targets when it is
    new, before the copy (DataSync reaches it through one). As ``restored_file_system``
    returns, without a restore job (``restore_job`` None: the drill reports the copy)."""
    found = mountable(
        settings,
        started["file_system_id"],
        new_only=new_only,
        shape=started.get("shape"),
        made_by="restore_efs",
    )
    if new_only:
        found |= dict.fromkeys(("restore_job", "restore_job_created", "restore_job_completed"))
    return found


def mountable(
    settings: RestoreRunSettings | DrillRunSettings,
    fs_id: str,
    *,
    new_only: bool = False,
    recorded_network: dict[str, Any] | None = None,
    shape: dict[str, Any] | None = None,
    made_by: str = "the restore",
) -> dict[str, Any]:
    """``fs_id`` made mountable when it is not the live file system: mount targets like the
    live one's (or the recorded ones), and ``shape``'s throughput mode.

    ``new_only``: refuse the live file system, and add its ``state``. Returns
    ``file_system_id`` and ``mount_targets`` (None: none made).
    """
    from ue_backup.hooks.efs import EfsHook

    live = settings.efs_file_system_id
    if new_only and (not fs_id or fs_id == live):
        raise PermanentFailure(
            f"{made_by} created {fs_id or 'no file system'}, not a new file system"
        )
    found: dict[str, Any] = {"file_system_id": fs_id, "mount_targets": None}
    if fs_id == live:
        return found
    efs = settings_hook(EfsHook, settings)
    if isinstance(settings, RestoreRunSettings) and settings.from_copy:
        log.warning(
            "File system %s was restored in %s, where no live file system has mount "
            "targets to copy: give it mount targets in the cluster's subnets",
            fs_id,
            settings.region,
        )
    elif isinstance(settings, RestoreRunSettings) and settings.from_immutable:
        found["mount_targets"] = _like_the_live_one_or_recorded(efs, live, fs_id, recorded_network)
    else:
        found["mount_targets"] = len(efs.copy_mount_targets(live, fs_id)) or _given_by_hand(
            efs, fs_id, f"the live file system {live} has no mount target to copy"
        )
    # After the mount targets: a throughput change may leave the file system ``updating``
    # for a while, and EFS creates mount targets only on an ``available`` one.
    match_throughput(efs, fs_id, shape)
    if new_only:
        found["state"] = efs.describe_file_system(fs_id)["LifeCycleState"]
    return found


def _like_the_live_one_or_recorded(
    efs: Any, live: str, fs_id: str, recorded_network: dict[str, Any] | None
) -> int:
    """From the protected copies: mount targets like the live file system's while it has
    some; once it is gone, or has none left (an attacker may delete only them), in the
    subnets and with the groups the set recorded."""
    try:
        copied = len(efs.copy_mount_targets(live, fs_id))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "FileSystemNotFound":
            raise
        copied = 0
    if copied:
        return copied
    recorded = mount_targets(recorded_network)
    if recorded:
        made = efs.create_mount_targets(fs_id, recorded)
        log.info(
            "The live file system %s is gone or has no mount target left: %s got mount "
            "targets in the recorded subnets %s",
            live,
            fs_id,
            ", ".join(t["subnet_id"] for t in recorded),
        )
        return len(made)
    return _given_by_hand(
        efs,
        fs_id,
        f"it was restored from the protected copies, the live file system {live} has no "
        "mount target to copy (gone, or none left) and the restore takes none from the "
        "backup set (none recorded: a manifest older than the network record; or "
        "params.network by_hand)",
    )


def _given_by_hand(efs: Any, fs_id: str, why: str) -> int:
    """The mount targets given to ``fs_id`` by hand (after an earlier try failed here and
    the task was cleared); without any, fail now: no Job could mount the file system, and
    the purge Job would wait in vain until its deadline."""
    given = efs.mount_targets(fs_id)
    if given:
        log.warning("File system %s has mount targets given by hand: using them", fs_id)
        return len(given)
    raise PermanentFailure(
        f"File system {fs_id} has no mount target: {why}. No Job can mount it. Give it a "
        "mount target in each of the cluster's subnets (aws efs create-mount-target, with "
        "the platform's NFS security group), then clear this task"
    )


def match_throughput(efs: Any, fs_id: str, shape: dict[str, Any] | None) -> None:
    """Give the new file system ``shape``'s throughput mode, unless it has it already."""
    if not fs_id or not (shape or {}).get("throughput_mode"):
        return
    arguments = throughput_update(shape, efs.describe_file_system(fs_id))
    if arguments:
        efs.update_throughput(fs_id, arguments)
        log.info("File system %s: throughput like the live one's, %s", fs_id, arguments)
