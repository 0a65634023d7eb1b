"""DataSync EFS-to-EFS copy against the sandbox: rule 2 applied, one execution per set."""

from __future__ import annotations

import pytest

from sandbox.faults import Fault
from sandbox.installation import LIVE_FILES, TEMPORARY_FILES, seed_installation
from tests.plugins.support import OTHER_SET_ID, RUN_ID, SET_ID, defer, make_context, mutations
from tests.plugins.temp_tree import find_temporary
from ue_backup.backup_set import BACKUP_SET_TAG, BackupSet
from ue_backup.datasync_sets import TASK_OPTIONS
from ue_backup.hooks.datasync import DataSyncHook
from ue_backup.operators.datasync import DataSyncStartCopyOperator
from ue_backup.sensors.datasync import DataSyncTaskExecutionCompletedSensor
from ue_backup.temp_files import datasync_excludes

CONFIG: dict = {}


@pytest.fixture
def installation(sandbox, fast):
    sandbox.durations.update(datasync_execution=0.15)
    seeded = seed_installation(sandbox, method="datasync", memorydb=False, velero=False, ecds=())
    CONFIG.clear()
    CONFIG.update(seeded.config)
    return seeded


@pytest.fixture
def task_arn(installation) -> str:
    return installation.config["efs"]["datasync"]["task_arn"]


def copy_operator(task_arn: str, set_id: str = SET_ID) -> DataSyncStartCopyOperator:
    datasync = CONFIG["efs"]["datasync"]
    return DataSyncStartCopyOperator(
        task_id="copy_efs",
        backup_set_id=set_id,
        task_arn=task_arn,
        target_file_system_id=datasync["target_file_system_id"],
        target_subdirectory=datasync.get("target_subdirectory", "/"),
    )


def files_under(path) -> dict[str, str]:
    return {p.relative_to(path).as_posix(): p.read_text() for p in path.rglob("*") if p.is_file()}


def test_the_copy_excludes_exactly_the_temp_file_rules_and_holds_no_temporary_file(
    sandbox, installation, task_arn, context
):
    source = sandbox.aws.efs_path(installation.file_system_id)
    assert find_temporary(source)  # there is something to exclude

    result = copy_operator(task_arn).execute(context)

    execution = (
        DataSyncHook()
        .get_conn()
        .describe_task_execution(TaskExecutionArn=result["task_execution_arn"])
    )
    assert execution["Excludes"] == datasync_excludes()
    sensor = DataSyncTaskExecutionCompletedSensor(
        task_id="wait_copy", resource_id=result["task_execution_arn"]
    )
    assert defer(sensor, context).resume() == result["task_execution_arn"]

    # into the set's own folder on the target file system
    assert result["folder"] == f"/{SET_ID}"
    target = sandbox.aws.efs_path(installation.datasync_target) / SET_ID
    assert find_temporary(target) == []
    copied = files_under(target)
    assert LIVE_FILES.items() <= copied.items()
    assert not set(TEMPORARY_FILES) & set(copied)


def test_the_execution_is_tagged_with_the_set(sandbox, installation, task_arn, context):
    result = copy_operator(task_arn).execute(context)

    tags = (
        DataSyncHook()
        .get_conn()
        .list_tags_for_resource(ResourceArn=result["task_execution_arn"])["Tags"]
    )
    assert {t["Key"]: t["Value"] for t in tags} == BackupSet.parse(SET_ID, RUN_ID).tags
    # a task of the set's own, copying with the options every set's copy needs
    assert result["task_arn"] != task_arn
    task = DataSyncHook().get_task_description(result["task_arn"])
    assert task["Name"] == f"ue-backup-{SET_ID}"
    assert task["Options"] == TASK_OPTIONS


def test_a_retry_after_success_finds_the_execution_of_the_set(sandbox, installation, task_arn):
    first = copy_operator(task_arn).execute(make_context())
    DataSyncTaskExecutionCompletedSensor(
        task_id="wait_copy", resource_id=first["task_execution_arn"], deferrable=False
    ).execute(make_context())

    again = copy_operator(task_arn).execute(make_context())

    assert again["task_execution_arn"] == first["task_execution_arn"]
    assert len(mutations(sandbox, "datasync", "StartTaskExecution")) == 1
    assert len(mutations(sandbox, "datasync", "CreateTask")) == 1
    assert len(mutations(sandbox, "datasync", "CreateLocationEfs")) == 1


def test_another_set_starts_its_own_execution(sandbox, installation, task_arn):
    first = copy_operator(task_arn).execute(make_context())
    DataSyncTaskExecutionCompletedSensor(
        task_id="wait_copy", resource_id=first["task_execution_arn"], deferrable=False
    ).execute(make_context())

    other = copy_operator(task_arn, OTHER_SET_ID).execute(make_context())

    assert other["task_execution_arn"] != first["task_execution_arn"]
    assert len(mutations(sandbox, "datasync", "StartTaskExecution")) == 2
    # the sets form a history: each in its own folder, neither overwriting the other
    DataSyncTaskExecutionCompletedSensor(
        task_id="wait_copy", resource_id=other["task_execution_arn"], deferrable=False
    ).execute(make_context())
    target = sandbox.aws.efs_path(installation.datasync_target)
    assert {p.name for p in target.iterdir()} >= {SET_ID, OTHER_SET_ID}
    assert files_under(target / SET_ID) == files_under(target / OTHER_SET_ID)


@pytest.mark.parametrize("lost", [1, 3])
def test_a_start_whose_answer_was_lost_starts_one_execution(
    sandbox, installation, task_arn, context, lost
):
    sandbox.faults.add(Fault("datasync", "StartTaskExecution", kind="lost", times=lost))

    result = copy_operator(task_arn).execute(context)

    (started,) = sandbox.log.entries("datasync", "StartTaskExecution")  # sent once, not retried
    assert (started.detail["lost"], started.detail["served"]) == (True, 200)
    executions = DataSyncHook().get_conn().list_task_executions(TaskArn=result["task_arn"])
    assert [e["TaskExecutionArn"] for e in executions["TaskExecutions"]] == [
        result["task_execution_arn"]
    ]
    # no second start: the lost answers a retry would have met are left unused
    assert [f.times for f in sandbox.faults.armed()] == ([] if lost == 1 else [lost - 1])


def test_a_start_refused_before_it_was_carried_out_is_sent_again(
    sandbox, installation, task_arn, context
):
    sandbox.faults.add(
        Fault("datasync", "StartTaskExecution", code="ThrottlingException", status=400, times=2)
    )

    result = copy_operator(task_arn).execute(context)

    statuses = [e.detail["status"] for e in sandbox.log.entries("datasync", "StartTaskExecution")]
    assert statuses == [400, 400, 200]
    assert result["task_execution_arn"]


def test_the_hook_lists_each_sets_copy_of_the_installation_only(
    sandbox, installation, task_arn, context
):
    # still running when listed, however busy the machine (the fixture's copies take 0.15 s)
    sandbox.durations.update(datasync_execution=30)
    first = copy_operator(task_arn).execute(context)
    second = copy_operator(task_arn, OTHER_SET_ID).execute(context)
    hook = DataSyncHook()
    copies = {c["Tags"][BACKUP_SET_TAG]: c for c in hook.set_copies(installation.name)}
    # the template task is not a set's; another installation's sets are not listed
    assert set(copies) == {SET_ID, OTHER_SET_ID}
    assert hook.set_copies("another-installation") == []
    own = copies[SET_ID]
    assert own["TaskArn"] == first["task_arn"]
    assert own["TaskExecutionArn"] == first["task_execution_arn"]
    assert (own["FileSystemId"], own["Folder"]) == (installation.datasync_target, f"/{SET_ID}")
    assert copies[OTHER_SET_ID]["Folder"] == second["folder"]
    assert own["StartTime"] is not None
    # the execution's own status (0.15 s long: a loaded machine may see it done already)
    assert own["Status"] in (
        "QUEUED",
        "LAUNCHING",
        "PREPARING",
        "TRANSFERRING",
        "VERIFYING",
        "SUCCESS",
    )


def test_a_set_whose_location_is_gone_is_listed_unusable_and_the_others_still_are(
    sandbox, installation, task_arn, context
):
    first = copy_operator(task_arn).execute(context)
    copy_operator(task_arn, OTHER_SET_ID).execute(context)
    hook = DataSyncHook()
    gone = hook.get_task_description(first["task_arn"])["DestinationLocationArn"]
    sandbox.faults.add(
        Fault(
            "datasync",
            "DescribeLocationEfs",
            target=gone,
            code="InvalidRequestException",
            status=400,
        )
    )
    copies = {c["Tags"][BACKUP_SET_TAG]: c for c in hook.set_copies(installation.name)}
    assert copies[SET_ID]["Status"] is None
    assert "InvalidRequestException" in copies[SET_ID]["Error"]
    assert copies[OTHER_SET_ID]["Folder"] == f"/{OTHER_SET_ID}"
