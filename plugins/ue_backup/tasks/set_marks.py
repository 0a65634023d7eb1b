"""Mark every artifact of a backup set with its verification's verdict.

The planner restores by default only sets their backup verified
(``planning``): it reads the verdict from the artifacts themselves, not from
Airflow or the manifest bucket, so the verdict survives a lost Airflow
database and travels with the copies into the copy region. A set whose run
failed before verification carries no verdict at all, which counts as
unverified too.

Marked: the RDS snapshot and its copy, the EFS recovery point and its copy
(or a DataSync set's task, ``records["datasync"]``), the MemoryDB snapshot
(tags). Not marked: the Velero backup (that would need
``patch`` on Velero backups, which the RBAC does not grant) and the MemoryDB
copy's ``.rdb`` objects (S3 replaces an object's whole tag set); the planner
judges a set by its disk point, which is always marked.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ue_backup.aws import settings_hook
from ue_backup.backup_set import VERIFIED_TAG, WINDOW_TAG
from ue_backup.hooks.aws_backup import AwsBackupHook
from ue_backup.hooks.datasync import DataSyncHook
from ue_backup.hooks.memorydb import MemoryDbHook
from ue_backup.hooks.rds import RdsHook
from ue_backup.run_settings import BackupRunSettings

log = logging.getLogger(__name__)


def mark_set(
    settings: BackupRunSettings,
    found: Mapping[str, Any],
    verified: str,
    window: str,
    records: Mapping[str, Any] | None = None,
) -> list[str]:
    """Tag each described artifact ``ue-backup:verified`` and ``ue-backup:window``.

    Tagging is idempotent: a retried verification writes the same tags again.
    Returns the ARNs marked.
    """
    tags = {VERIFIED_TAG: verified, WINDOW_TAG: window}
    tag_list = [{"Key": k, "Value": v} for k, v in tags.items()]
    home, copy = settings.region, settings.copy_region
    marked = []
    for key, region in (("rds_snapshot", home), ("rds_snapshot_copy", copy)):
        if found.get(key) and region:
            arn = found[key]["DBSnapshotArn"]
            settings_hook(RdsHook, settings, region).add_tags(arn, tag_list)
            marked.append(arn)
    for key, region in (("recovery_point", home), ("recovery_point_copy", copy)):
        if found.get(key) and region:
            arn = found[key]["RecoveryPointArn"]
            settings_hook(AwsBackupHook, settings, region).tag_recovery_point(arn, tags)
            marked.append(arn)
    # A DataSync set's verdict is on its task, which the planner lists (set_copies).
    task_arn = ((records or {}).get("datasync") or {}).get("task_arn")
    if found.get("datasync_execution") and task_arn:
        settings_hook(DataSyncHook, settings, home).tag(task_arn, tag_list)
        marked.append(task_arn)
    if found.get("memorydb_snapshot"):
        arn = found["memorydb_snapshot"]["ARN"]
        settings_hook(MemoryDbHook, settings, home).add_tags(arn, tag_list)
        marked.append(arn)
    log.info("Marked %d artifact(s) %s: %s", len(marked), tags, marked)
    return marked
