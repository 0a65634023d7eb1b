"""A DataSync set copied back by a restore, on the sandbox: its own task, found again on a
retry, the set's files and no temporary one in the restore's staged tree, and only the
restore's task and destination deleted afterwards (never the set's)."""

from __future__ import annotations

import pytest

from sandbox.aws.network import add_mount_targets
from sandbox.faults import Fault
from sandbox.installation import LIVE_FILES, TEMPORARY_FILES, seed_installation, write_tree
from tests.plugins.support import SET_ID, make_context, mutations
from ue_backup.backup_set import BACKUP_SET_TAG
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.datasync import DataSyncHook
from ue_backup.operators.datasync import (
    DataSyncReleaseRestoreCopyOperator,
    DataSyncRestoreCopyOperator,
    DataSyncStartCopyOperator,
)
from ue_backup.sensors.datasync import DataSyncTaskExecutionCompletedSensor

RID = "ue-test-r260101020000"
TAGS = {"ue-backup:installation": "ue-test", "ue-backup:restore": RID}
STAGED = f"ue-backup-restoring_{RID}"


@pytest.fixture
def installation(sandbox, fast):
    sandbox.durations.update(datasync_execution=0.15)
    return seed_installation(sandbox, method="datasync", memorydb=False, velero=False, ecds=())


def wait(arn: str) -> None:
    DataSyncTaskExecutionCompletedSensor(task_id="wait", resource_id=arn, deferrable=False).execute(
        make_context()
    )


@pytest.fixture
def set_copy(sandbox, installation) -> dict:
    """The set's copy in its folder, as ue_backup leaves it."""
    datasync = installation.config["efs"]["datasync"]
    copied = DataSyncStartCopyOperator(
        task_id="datasync_copy",
        backup_set_id=SET_ID,
        task_arn=datasync["task_arn"],
        target_file_system_id=datasync["target_file_system_id"],
    ).execute(make_context())
    wait(copied["task_execution_arn"])
    sandbox.log.clear()
    return copied


@pytest.fixture
def new_fs(sandbox, installation) -> str:
    fs_id = sandbox.aws.create_file_system("restored")
    add_mount_targets(sandbox.aws, fs_id)
    return fs_id


def restore_copy(set_task: str, fs_id: str, **overrides) -> DataSyncRestoreCopyOperator:
    arguments = {
        "task_id": "copy_efs",
        "restore_id": RID,
        "set_task_arn": set_task,
        "file_system_id": fs_id,
        "tags": TAGS,
        **overrides,
    }
    return DataSyncRestoreCopyOperator(**arguments)


def release(copied: dict, **overrides) -> DataSyncReleaseRestoreCopyOperator:
    arguments = {"task_id": "release_efs_copy", "restore_id": RID, "copy": copied, "tags": TAGS}
    return DataSyncReleaseRestoreCopyOperator(**{**arguments, **overrides})


def files_under(path) -> dict[str, str]:
    return {p.relative_to(path).as_posix(): p.read_text() for p in path.rglob("*") if p.is_file()}


def test_the_sets_folder_lands_in_the_restores_staged_tree_without_temporary_files(
    sandbox, installation, set_copy, new_fs
):
    # a folder holding temporary files (written there by hand, say): the copy back excludes
    # them too, whatever the purge after it would do
    folder = sandbox.aws.efs_path(installation.datasync_target) / SET_ID
    write_tree(folder, TEMPORARY_FILES)

    copied = restore_copy(set_copy["task_arn"], new_fs).execute(make_context())
    wait(copied["task_execution_arn"])

    assert copied["folder"] == f"/{STAGED}"
    assert files_under(sandbox.aws.efs_path(new_fs)) == {
        f"{STAGED}/{path}": text for path, text in LIVE_FILES.items()
    }
    assert not set(TEMPORARY_FILES) & set(files_under(sandbox.aws.efs_path(new_fs) / STAGED))
    hook = DataSyncHook()
    task = hook.get_task_description(copied["task_arn"])
    set_task = hook.get_task_description(set_copy["task_arn"])
    # from the set's folder (its task's destination), with the set's network
    assert task["Name"] == f"ue-backup-restore-{RID}"
    assert copied["source_location_arn"] == set_task["DestinationLocationArn"]
    destination = hook.describe_location_efs(copied["destination_location_arn"])
    source_network = hook.describe_location_efs(set_task["SourceLocationArn"])["Ec2Config"]
    assert destination["Ec2Config"] == source_network
    assert destination["LocationUri"].endswith(f"{new_fs}/{STAGED}/")
    # the restore's, never a set's: not listed as one
    assert hook.tags_of(copied["task_arn"]) == TAGS
    assert hook.tags_of(copied["task_execution_arn"]) == TAGS
    assert BACKUP_SET_TAG not in hook.tags_of(copied["destination_location_arn"])
    assert [c["TaskArn"] for c in hook.set_copies(installation.name)] == [set_copy["task_arn"]]


def test_a_retry_finds_the_task_and_the_execution(sandbox, installation, set_copy, new_fs):
    first = restore_copy(set_copy["task_arn"], new_fs).execute(make_context())

    again = restore_copy(set_copy["task_arn"], new_fs).execute(make_context())

    assert again == first
    assert len(mutations(sandbox, "datasync", "CreateTask")) == 1
    assert len(mutations(sandbox, "datasync", "CreateLocationEfs")) == 1
    assert len(mutations(sandbox, "datasync", "StartTaskExecution")) == 1


def test_after_a_failed_copy_a_retry_copies_again(sandbox, installation, set_copy, new_fs):
    sandbox.faults.add(Fault("datasync", "StartTaskExecution", kind="outcome", message="no"))
    failed = restore_copy(set_copy["task_arn"], new_fs).execute(make_context())
    with pytest.raises(PermanentFailure):
        wait(failed["task_execution_arn"])
    with pytest.raises(PermanentFailure, match="ERROR, not SUCCESS"):
        release(failed).execute(make_context())  # a failed copy keeps its task

    again = restore_copy(set_copy["task_arn"], new_fs).execute(make_context())
    wait(again["task_execution_arn"])

    assert again["task_execution_arn"] != failed["task_execution_arn"]
    assert again["task_arn"] == failed["task_arn"]
    assert set(files_under(sandbox.aws.efs_path(new_fs) / STAGED)) == set(LIVE_FILES)


def test_the_release_deletes_the_restores_task_and_destination_only(
    sandbox, installation, set_copy, new_fs
):
    copied = restore_copy(set_copy["task_arn"], new_fs).execute(make_context())
    wait(copied["task_execution_arn"])
    conn = DataSyncHook().get_conn()
    before = {t["TaskArn"] for t in conn.list_tasks()["Tasks"]}
    locations = {loc["LocationArn"] for loc in conn.list_locations()["Locations"]}

    record = release(copied).execute(make_context())

    assert record["status"] == "SUCCESS"
    assert record["files_transferred"] == len(LIVE_FILES)
    assert record["deleted"] == [copied["task_arn"], copied["destination_location_arn"]]
    assert {t["TaskArn"] for t in conn.list_tasks()["Tasks"]} == before - {copied["task_arn"]}
    left = {loc["LocationArn"] for loc in conn.list_locations()["Locations"]}
    assert left == locations - {copied["destination_location_arn"]}
    assert copied["source_location_arn"] in left  # the set's folder stays
    assert DataSyncHook().set_copies(installation.name)[0]["TaskArn"] == set_copy["task_arn"]
    # a retry finds nothing left to delete
    assert release(copied).execute(make_context())["deleted"] == []


def test_a_task_named_like_the_restores_but_a_sets_is_never_deleted(
    sandbox, installation, set_copy, new_fs
):
    copied = restore_copy(set_copy["task_arn"], new_fs).execute(make_context())
    wait(copied["task_execution_arn"])
    conn = DataSyncHook().get_conn()
    conn.tag_resource(ResourceArn=copied["task_arn"], Tags=[{"Key": BACKUP_SET_TAG, "Value": "x"}])

    with pytest.raises(PermanentFailure, match="never deleted"):
        release(copied).execute(make_context())

    assert copied["task_arn"] in {t["TaskArn"] for t in conn.list_tasks()["Tasks"]}
    assert not mutations(sandbox, "datasync", "DeleteTask")
    assert not mutations(sandbox, "datasync", "DeleteLocation")
