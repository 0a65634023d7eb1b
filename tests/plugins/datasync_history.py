"""Past backup sets of a DataSync installation in the sandbox: a history to learn from.

Each past set is what ``DataSyncStartCopyOperator`` leaves behind: the set's own
task (``ue-backup-<set id>``, tagged with the installation and the set) writing
into the set's folder on the target file system, and one successful execution
of it tagged with the set, recorded as having run for the given minutes and
written the given size (``AwsSandbox.add_past_task_execution``: nothing copied).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ue_backup.backup_set import BACKUP_SET_TAG, BackupSet
from ue_backup.datasync_sets import TASK_OPTIONS, set_folder, task_name

GIB = 1024**3


def add_past_copies(
    sandbox, installation, minutes: list[float], gib: float = 10, days_ago: int = 10
) -> list[str]:
    """One past set a day from ``days_ago`` days ago, each copy lasting its ``minutes``;
    the executions' ARNs."""
    datasync = sandbox.client("datasync")
    section = installation.config["efs"]["datasync"]
    template = datasync.describe_task(TaskArn=section["task_arn"])
    network = datasync.describe_location_efs(LocationArn=template["DestinationLocationArn"])
    target = sandbox.client("efs").describe_file_systems(
        FileSystemId=section["target_file_system_id"]
    )["FileSystems"][0]["FileSystemArn"]
    now = datetime.now(UTC).replace(microsecond=0)
    executions = []
    for i, length in enumerate(minutes):
        started = now - timedelta(days=days_ago - i)
        backup_set = BackupSet.for_run(installation.name, started)
        destination = datasync.create_location_efs(
            EfsFilesystemArn=target,
            Ec2Config=network["Ec2Config"],
            Subdirectory=set_folder(section.get("target_subdirectory", "/"), backup_set.id),
            Tags=backup_set.tag_list,
        )["LocationArn"]
        task = datasync.create_task(
            SourceLocationArn=template["SourceLocationArn"],
            DestinationLocationArn=destination,
            Name=task_name(backup_set.id),
            Options=TASK_OPTIONS,
            Tags=backup_set.tag_list,
        )["TaskArn"]
        executions.append(
            sandbox.aws.add_past_task_execution(
                task, started, length * 60, int(gib * GIB), tags={BACKUP_SET_TAG: backup_set.id}
            )
        )
    return executions
