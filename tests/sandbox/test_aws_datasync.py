"""DataSync in the sandbox: EFS locations and task executions that really copy, with filters."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from sandbox.aws.fixtures import aws, wait_until  # noqa: F401
from sandbox.aws.patterns import SimplePatternFilter
from sandbox.aws.server import AwsSandbox

EC2 = {
    "SubnetArn": "arn:aws:ec2:eu-west-1:123456789012:subnet/subnet-1",
    "SecurityGroupArns": ["arn:aws:ec2:eu-west-1:123456789012:security-group/sg-1"],
}
# The filter the project derives from its temp-file rules.
TEMPORARY = "*/TEMP.*|*/tmp|*/DR_TMP_DIR|*/pending"
TREE = {
    "aggregation/session.dat": "kept",
    "aggregation/TEMP.session.dat": "temporary file",
    "TEMP.top": "temporary file at the root",
    "dupudr/tmp/a.udr": "duplicate-UDR temp folder",
    "dupudr/index.dat": "kept",
    "interwf/DR_TMP_DIR/batch.1": "inter-workflow temp folder",
    "interwf/queue/batch.2": "kept",
    "archive/pending/x.gz": "archiving temp folder",
    "archive/done/y.gz": "kept",
    "pending/deep/z": "temp folder at the root",
    "notes/tmp.txt": "kept: a file named like the folder, with an extension",
    "notes/TEMPLATE.txt": "kept: TEMP without the dot",
}
STATUSES = ("QUEUED", "LAUNCHING", "PREPARING", "TRANSFERRING", "VERIFYING", "SUCCESS")
KEPT = {path for path, text in TREE.items() if text.startswith("kept")}


@pytest.mark.parametrize(
    ("patterns", "path", "matches"),
    [
        ("*/TEMP.*", "/TEMP.a", True),
        ("*/TEMP.*", "/x/y/TEMP.a", True),
        ("*/TEMP.*", "/x/TEMPLATE", False),
        ("*/tmp", "/x/tmp/file", True),  # a matched folder takes its contents with it
        ("*/tmp", "/x/tmp.txt", False),
        ("/tmp", "/tmp/file", True),
        ("/tmp", "/x/tmp/file", False),  # a leading / anchors at the location root
        ("/dir/", "/dir/a", True),  # /dir and /dir/ mean the same
        ("*.tmp|*.temp", "/a/b.temp", True),
        ("/folderA", "/FolderA/x", False),  # case-sensitive
        ("/a\\|b", "/a|b", True),  # an escaped pipe is part of the pattern
    ],
)
def test_simple_pattern_matching(patterns, path, matches):
    assert SimplePatternFilter([patterns]).matches(path) is matches


def write_tree(root, tree: dict[str, str]) -> None:
    for relative, text in tree.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)


def files_under(path) -> set[str]:
    return {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}


def location(aws: AwsSandbox, fs_id: str, subdirectory: str = "/") -> str:  # noqa: F811
    arn = aws.client("efs").describe_file_systems(FileSystemId=fs_id)["FileSystems"][0][
        "FileSystemArn"
    ]
    return aws.client("datasync").create_location_efs(
        EfsFilesystemArn=arn, Ec2Config=EC2, Subdirectory=subdirectory
    )["LocationArn"]


@pytest.fixture
def copy_task(aws):  # noqa: F811
    """A task from a file system holding ``TREE`` to /copy of an empty one; runs take 0.15 s."""
    aws.durations.update(datasync_execution=0.15)
    source, target = aws.create_file_system("source"), aws.create_file_system("target")
    write_tree(aws.efs_path(source), TREE)
    task = aws.client("datasync").create_task(
        SourceLocationArn=location(aws, source),
        DestinationLocationArn=location(aws, target, "/copy"),
        Excludes=[{"FilterType": "SIMPLE_PATTERN", "Value": TEMPORARY}],
    )["TaskArn"]
    return task, aws.efs_path(target) / "copy"


def run(aws: AwsSandbox, task: str, **overrides) -> list[dict]:  # noqa: F811
    datasync = aws.client("datasync")
    execution = datasync.start_task_execution(TaskArn=task, **overrides)["TaskExecutionArn"]
    return wait_until(
        lambda: datasync.describe_task_execution(TaskExecutionArn=execution),
        lambda e: e["Status"] in ("SUCCESS", "ERROR"),
    )


def test_an_efs_location_is_a_file_system_and_a_subdirectory(aws):  # noqa: F811
    fs_id = aws.create_file_system()

    described = aws.client("datasync").describe_location_efs(
        LocationArn=location(aws, fs_id, "/exports/data/")
    )

    assert described["LocationUri"] == f"efs://eu-west-1.{fs_id}/exports/data/"
    assert described["Ec2Config"] == EC2
    assert "CreationTime" in described


def test_an_execution_goes_through_the_real_statuses_and_copies_without_temp_files(
    aws,  # noqa: F811
    copy_task,
):
    aws.durations.update(datasync_execution=0.5)
    task, destination = copy_task

    seen = run(aws, task)

    distinct = list(dict.fromkeys(e["Status"] for e in seen))
    assert distinct[0] == "QUEUED"
    assert distinct[-1] == "SUCCESS"
    assert distinct == [status for status in STATUSES if status in distinct]  # in order
    assert len(distinct) >= 4  # polled every 20 ms, phases of 100 ms
    assert files_under(destination) == KEPT
    done = seen[-1]
    assert done["FilesTransferred"] == len(KEPT)
    assert done["BytesTransferred"] == sum(len(TREE[path]) for path in KEPT)
    assert done["EstimatedFilesToTransfer"] == len(KEPT)
    assert done["Result"]["VerifyStatus"] == "SUCCESS"
    assert aws.client("datasync").describe_task(TaskArn=task)["Status"] == "AVAILABLE"


def test_the_copy_keeps_destination_only_files_and_overwrites_changed_ones(aws, copy_task):  # noqa: F811
    task, destination = copy_task
    write_tree(destination, {"only-here.txt": "extra", "aggregation/session.dat": "stale"})

    run(aws, task)

    assert (destination / "only-here.txt").read_text() == "extra"
    assert (destination / "aggregation" / "session.dat").read_text() == "kept"


def test_excludes_given_at_start_replace_the_tasks(aws, copy_task):  # noqa: F811
    task, destination = copy_task

    run(aws, task, Excludes=[{"FilterType": "SIMPLE_PATTERN", "Value": "/notes|/archive"}])

    copied = files_under(destination)
    assert "aggregation/TEMP.session.dat" in copied
    assert not any(path.startswith(("notes/", "archive/")) for path in copied)


def test_an_execution_with_an_outcome_fault_ends_in_error_and_copies_nothing(aws, copy_task):  # noqa: F811
    task, destination = copy_task
    aws.faults.add(
        service="datasync", operation="StartTaskExecution", kind="outcome", message="disk full"
    )

    done = run(aws, task)[-1]

    assert done["Status"] == "ERROR"
    assert done["Result"]["ErrorDetail"] == "disk full"
    assert not destination.exists() or files_under(destination) == set()


def test_an_execution_that_never_ends(aws, copy_task):  # noqa: F811
    aws.durations.update(datasync_execution=0.1)
    task, _ = copy_task
    aws.faults.add(service="datasync", operation="StartTaskExecution", kind="never")
    datasync = aws.client("datasync")
    execution = datasync.start_task_execution(TaskArn=task)["TaskExecutionArn"]

    seen = wait_until(
        lambda: datasync.describe_task_execution(TaskExecutionArn=execution)["Status"],
        lambda status: status == "VERIFYING",
    )
    time.sleep(0.2)

    assert datasync.describe_task_execution(TaskExecutionArn=execution)["Status"] == "VERIFYING"
    assert "SUCCESS" not in seen
    assert datasync.describe_task(TaskArn=task)["Status"] == "RUNNING"


def test_executions_are_listed_per_task_and_carry_their_tags(aws, copy_task):  # noqa: F811
    task, _ = copy_task
    datasync = aws.client("datasync")
    tags = [{"Key": "ue-backup:backup-set", "Value": "set-1"}]
    # a long execution: still QUEUED when listed, on a loaded machine too (its phases are a
    # share of this; at the default a busy CI run listed it PREPARING)
    aws.durations.update(datasync_execution=60)

    execution = datasync.start_task_execution(TaskArn=task, Tags=tags)["TaskExecutionArn"]

    listed = datasync.list_task_executions(TaskArn=task)["TaskExecutions"]
    assert [e["TaskExecutionArn"] for e in listed] == [execution]
    assert listed[0]["Status"] == "QUEUED"
    assert datasync.list_task_executions(TaskArn=task + "0")["TaskExecutions"] == []
    assert datasync.list_tags_for_resource(ResourceArn=execution)["Tags"] == tags
    datasync.tag_resource(ResourceArn=task, Tags=[{"Key": "k", "Value": "v"}])
    datasync.untag_resource(ResourceArn=task, Keys=["k"])
    assert datasync.list_tags_for_resource(ResourceArn=task)["Tags"] == []


def test_a_finished_execution_says_when_it_launched_and_ended_and_how_long_in_ms(
    aws,  # noqa: F811
    copy_task,
):
    """As DataSync: the times and Result's durations once it has ended, not before."""
    aws.durations.update(datasync_execution=0.5)
    task, _ = copy_task
    seen = run(aws, task)

    running, done = seen[:-1], seen[-1]
    assert running  # polled every 20 ms, phases of 100 ms
    assert not any("EndTime" in e or "TotalDuration" in e["Result"] for e in running)
    assert not any("LaunchTime" in e for e in running if e["Status"] == "QUEUED")
    assert done["StartTime"] < done["LaunchTime"] < done["EndTime"]
    assert (done["EndTime"] - done["StartTime"]).total_seconds() == pytest.approx(0.5, abs=0.01)
    result = done["Result"]
    assert result["TotalDuration"] == 400  # from the launch, the queue left out
    assert result["PrepareDuration"] == result["TransferDuration"] == result["VerifyDuration"]
    assert result["TransferDuration"] == 100


def test_a_past_execution_is_listed_and_described_as_it_ran(aws, copy_task):  # noqa: F811
    task, destination = copy_task
    started = datetime(2026, 11, 1, 2, tzinfo=UTC)

    arn = aws.add_past_task_execution(
        task, started, 600, 5 * 1024**3, tags={"ue-backup:backup-set": "s1"}
    )

    datasync = aws.client("datasync")
    assert datasync.list_task_executions(TaskArn=task)["TaskExecutions"] == [
        {"TaskExecutionArn": arn, "Status": "SUCCESS"}
    ]
    past = datasync.describe_task_execution(TaskExecutionArn=arn)
    assert past["StartTime"] == started
    assert past["EndTime"] == started + timedelta(minutes=10)
    assert past["Result"]["TotalDuration"] == 480_000
    assert past["BytesWritten"] == 5 * 1024**3
    assert datasync.list_tags_for_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "ue-backup:backup-set", "Value": "s1"}
    ]
    assert not destination.exists()  # only the record: nothing was copied
    assert aws.log.entries("datasync", "StartTaskExecution") == []  # set up, not a call


# --- deleting, as retention does: the task, then its location ---------------------------------


def test_a_task_is_deleted_with_its_executions_and_a_location_only_once_no_task_uses_it(
    aws,  # noqa: F811
    copy_task,
):
    task, destination = copy_task
    datasync = aws.client("datasync")
    run(aws, task)
    described = datasync.describe_task(TaskArn=task)
    source, target = described["SourceLocationArn"], described["DestinationLocationArn"]
    execution = datasync.list_task_executions(TaskArn=task)["TaskExecutions"][0]

    def by(location: str) -> list[str]:
        filters = [{"Name": "LocationId", "Operator": "Equals", "Values": [location]}]
        return [t["TaskArn"] for t in datasync.list_tasks(Filters=filters)["Tasks"]]

    elsewhere = aws.create_file_system("elsewhere")
    other = datasync.create_task(
        SourceLocationArn=location(aws, elsewhere), DestinationLocationArn=location(aws, elsewhere)
    )["TaskArn"]
    assert by(target) == [task]  # not the other task
    assert by(source) == [task]  # the filter matches a task's source and its destination
    with pytest.raises(datasync.exceptions.InvalidRequestException, match="used by task"):
        datasync.delete_location(LocationArn=target)

    datasync.delete_task(TaskArn=task)

    assert [t["TaskArn"] for t in datasync.list_tasks()["Tasks"]] == [other]
    assert by(target) == []
    with pytest.raises(datasync.exceptions.InvalidRequestException, match="not found"):
        datasync.describe_task_execution(TaskExecutionArn=execution["TaskExecutionArn"])
    with pytest.raises(datasync.exceptions.InvalidRequestException, match="not found"):
        datasync.delete_task(TaskArn=task)
    datasync.delete_location(LocationArn=target)
    listed = {loc["LocationArn"] for loc in datasync.list_locations()["Locations"]}
    assert source in listed
    assert target not in listed
    with pytest.raises(datasync.exceptions.InvalidRequestException, match="not found"):
        datasync.delete_location(LocationArn=target)
    with pytest.raises(datasync.exceptions.InvalidRequestException, match="not found"):
        datasync.list_tags_for_resource(ResourceArn=target)
    # a location is configuration only: the files it named stay where they are
    assert files_under(destination) == KEPT


def test_a_task_whose_execution_runs_is_not_deleted(aws, copy_task):  # noqa: F811
    task, _ = copy_task
    aws.faults.add(service="datasync", operation="StartTaskExecution", kind="never")
    datasync = aws.client("datasync")
    datasync.start_task_execution(TaskArn=task)

    with pytest.raises(datasync.exceptions.InvalidRequestException, match="execution running"):
        datasync.delete_task(TaskArn=task)

    assert [t["TaskArn"] for t in datasync.list_tasks()["Tasks"]] == [task]


def test_a_list_tasks_filter_the_sandbox_does_not_apply_is_refused_not_ignored(aws, copy_task):  # noqa: F811
    datasync = aws.client("datasync")
    filters = [{"Name": "CreationTime", "Operator": "GreaterThan", "Values": ["0"]}]
    with pytest.raises(datasync.exceptions.InvalidRequestException, match="applies only"):
        datasync.list_tasks(Filters=filters)


def test_a_destination_folder_that_does_not_exist_yet_is_created(aws, copy_task):  # noqa: F811
    task, destination = copy_task
    assert not destination.exists()

    assert run(aws, task)[-1]["Status"] == "SUCCESS"

    assert files_under(destination) == KEPT


def test_a_source_folder_that_does_not_exist_fails_the_execution(aws):  # noqa: F811
    """DataSync cannot read a folder that is gone (a set's, deleted): ERROR, nothing copied."""
    aws.durations.update(datasync_execution=0.15)
    source, target = aws.create_file_system("source"), aws.create_file_system("target")
    datasync = aws.client("datasync")
    task = datasync.create_task(
        SourceLocationArn=location(aws, source, "/gone"),
        DestinationLocationArn=location(aws, target, "/copy"),
    )["TaskArn"]

    done = run(aws, task)[-1]

    assert done["Status"] == "ERROR"
    assert "does not exist" in done["Result"]["ErrorDetail"]
    assert not (aws.efs_path(target) / "copy").exists()
    assert datasync.describe_task(TaskArn=task)["Status"] == "AVAILABLE"
