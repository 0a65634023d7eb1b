"""DataSync EFS-to-EFS: locations on the sandbox's file systems, executions that really copy.

moto has no EFS locations, no tags, no ListTaskExecutions, stores exclude
filters without applying them, ignores ``ListTasks``' filters, deletes what
nothing names without saying which, and invents an INITIALIZING status. Here an
EFS location is a file system plus a subdirectory, and an execution goes
QUEUED, LAUNCHING, PREPARING, TRANSFERRING, VERIFYING over
``durations.datasync_execution`` and then SUCCESS (or ERROR, under an outcome
fault), copying the source tree to the destination without what the exclude
filter matches. The copy is made when the execution is first seen past its
transfer; like DataSync it overwrites changed files and keeps files that
exist only at the destination, and creates a destination subdirectory that
does not exist yet; a source subdirectory that does not exist fails the
execution (ERROR), as DataSync cannot read it. Like DataSync, a finished execution says when
it launched and ended (``LaunchTime``, ``EndTime``) and how long each step took
(``Result``'s ``PrepareDuration``, ``TransferDuration``, ``VerifyDuration`` and
``TotalDuration``, in milliseconds, from launch to end); a running one does not.
``record_past_execution`` adds one that ran before the test (a history).

Deleting is modelled stricter than AWS documents, where AWS documents nothing:
``DeleteLocation`` of a location a task still uses is refused (the DataSync API
reference lists no such error, nor says it succeeds; ue-backup deletes a set's
task before its location either way), and so is ``DeleteTask`` of a task whose
execution still runs. Deleting a location never touches the files it names (a
location is configuration only); deleting a task takes its executions and tags
with it. Something unknown is ``InvalidRequestException``, as AWS answers it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from moto.core.responses import ActionResult
from moto.datasync import urls
from moto.datasync.models import DataSyncBackend, Location, Task, datasync_backends
from moto.datasync.responses import DataSyncResponse

from sandbox.aws import efs
from sandbox.aws.context import OneCallAtATime, current, existing_states, state_of
from sandbox.aws.errors import AwsError
from sandbox.aws.extensions import Extension
from sandbox.aws.files import TreeSize, copy_tree, tree_size
from sandbox.aws.patterns import SimplePatternFilter
from sandbox.aws.progress import Job, Progress
from sandbox.aws.protocol import target_of

PHASES = ("QUEUED", "LAUNCHING", "PREPARING", "TRANSFERRING", "VERIFYING")
TRANSFERRED_FROM = PHASES.index("VERIFYING")


def settle_all() -> None:
    """Make the copies of every execution, in every account and region, past its transfer."""
    with current().lock:
        for state in existing_states(datasync_backends):
            for execution in state.executions.values():
                execution.settle()


def record_past_execution(
    account: str,
    region: str,
    task_arn: str,
    started: datetime,
    seconds: float,
    size_bytes: int,
    tags: dict[str, str],
) -> str:
    """A successful execution of ``task_arn`` from before the test; its ARN."""
    state = state_of(datasync_backends[account][region], DataSyncState)
    return state.record_past_execution(task_arn, started, seconds, TreeSize(1, size_bytes), tags)


class DataSyncState:
    """Executions (moto's own never copy anything) and tags of one account and region."""

    def __init__(self, backend: DataSyncBackend) -> None:
        self.backend = backend
        self.executions: dict[str, Execution] = {}
        self.tags: dict[str, dict[str, str]] = {}

    def tag(self, arn: str, tags: list[dict[str, str]] | None) -> None:
        pairs = {tag["Key"]: tag.get("Value", "") for tag in tags or []}
        self.tags.setdefault(arn, {}).update(pairs)

    def record_past_execution(
        self, task_arn: str, started: datetime, seconds: float, size: TreeSize, tags: dict
    ) -> str:
        """An execution of ``task_arn`` that ran and succeeded before the test began.

        Only its record is kept, as DataSync keeps an execution's after the copy has
        been changed or removed: nothing is copied (its folder holds what the test put
        there); ``ListTaskExecutions`` and ``DescribeTaskExecution`` report it.
        """
        task = self.backend._get_task(task_arn)
        self.backend.arn_counter += 1
        arn = f"{task.arn}/execution/exec-{self.backend.arn_counter:017d}"
        execution = Execution.past(arn, task, Progress(started.timestamp(), seconds), size)
        self.executions[arn] = execution
        self.tag(arn, [{"Key": k, "Value": v} for k, v in tags.items()])
        return arn

    def tags_of(self, arn: str) -> dict[str, str]:
        known = {*self.backend.locations, *self.backend.tasks, *self.executions}
        if arn not in known:
            raise AwsError("InvalidRequestException", f"Resource {arn} is not found.")
        return self.tags.setdefault(arn, {})


def _location_directory(location: Location) -> Path:
    if location.typ != "EFS":
        raise AwsError(
            "InvalidRequestException", "The sandbox's DataSync copies between EFS locations only."
        )
    fs_id = efs.file_system_id(location.metadata["EfsFilesystemArn"])
    return current().files.file_system(fs_id) / location.metadata["Subdirectory"].strip("/")


class Execution(Job):
    running = PHASES
    success = "SUCCESS"
    failure = "ERROR"

    def __init__(
        self,
        arn: str,
        task: Task,
        directories: tuple[Path, Path],
        excludes: list[dict[str, str]],
        progress: Progress,
    ) -> None:
        super().__init__(progress)
        self.arn = arn
        self.task = task
        self.source, self.destination = directories
        self.excludes = excludes
        self.filter = SimplePatternFilter(rule["Value"] for rule in excludes)
        self.estimated = tree_size(self.source, skip=self.filter.matches)
        self.transferred: TreeSize | None = None

    @classmethod
    def past(cls, arn: str, task: Task, progress: Progress, size: TreeSize) -> Execution:
        """A settled execution that copied ``size`` (``DataSyncState.record_past_execution``)."""
        execution = cls.__new__(cls)
        Job.__init__(execution, progress)
        execution.arn, execution.task = arn, task
        execution.excludes = task.metadata.get("Excludes") or []
        execution.estimated = execution.transferred = size
        execution.outcome = cls.success  # settled: ``settle`` would copy files it never had
        return execution

    def settle(self) -> None:
        """Copy as soon as the transfer phase is over, then end as ``Job`` does."""
        past_transfer = PHASES.index(self.progress.phase(PHASES)) >= TRANSFERRED_FROM
        due = self.transferred is None and past_transfer and not self.progress.will_fail
        if due and self.source.is_dir():  # a folder DataSync cannot read: ERROR (finish)
            self.transferred = copy_tree(self.source, self.destination, skip=self.filter.matches)
        super().settle()

    def finish(self) -> str:
        if self.task.current_task_execution_arn == self.arn:
            self.task.status = "AVAILABLE"
            self.task.current_task_execution_arn = None
        if self.transferred is None and not self.progress.will_fail:
            self.message = f"The source location's directory does not exist: {self.source.name}"
            return self.failure
        return self.progress.outcome(self.success, self.failure)

    def described(self) -> dict[str, Any]:
        transferred = self.transferred or TreeSize(0, 0)
        failed = self.outcome == self.failure
        step = "ERROR" if failed else "SUCCESS"
        result = {
            "PrepareStatus": "PENDING" if self.state in PHASES[:3] else step,
            "TransferStatus": step if self.transferred or failed else "PENDING",
            "VerifyStatus": step if self.outcome else "PENDING",
        }
        if failed:
            result["ErrorCode"] = "SandboxFault"
            result["ErrorDetail"] = self.message or ""
        return {
            "TaskExecutionArn": self.arn,
            "Status": self.state,
            "Options": self.task.metadata.get("Options") or {},
            "Excludes": self.excludes,
            "Includes": [],
            "StartTime": self.progress.started_at,
            **self._times(result),
            "EstimatedFilesToTransfer": self.estimated.files,
            "EstimatedBytesToTransfer": self.estimated.bytes,
            "FilesTransferred": transferred.files,
            "BytesWritten": transferred.bytes,
            "BytesTransferred": transferred.bytes,
            "FilesVerified": transferred.files if self.outcome else 0,
            "Result": result,
        }

    def _times(self, result: dict[str, Any]) -> dict[str, Any]:
        """LaunchTime once queued no more; EndTime and the step durations once finished.

        Each phase takes an equal share of the duration; ``TotalDuration`` runs from the
        launch (the end of ``QUEUED``) to the end, as DataSync's counts the time it ran.
        """
        step = self.progress.duration / len(PHASES)
        times: dict[str, Any] = {}
        if self.outcome or self.state != PHASES[0]:
            times["LaunchTime"] = self.progress.started_at + timedelta(seconds=step)
        if self.outcome:
            times["EndTime"] = self.progress.started_at + timedelta(seconds=self.progress.duration)
            millis = round(step * 1000)
            result.update(
                PrepareDuration=millis,
                TransferDuration=millis,
                VerifyDuration=millis,
                TotalDuration=round((self.progress.duration - step) * 1000),
            )
        return times


class SandboxDataSyncResponse(OneCallAtATime, DataSyncResponse):
    @property
    def _request(self) -> dict[str, Any]:
        return json.loads(self.body or "{}")

    @property
    def _state(self) -> DataSyncState:
        return state_of(self.datasync_backend, DataSyncState)

    def create_location_efs(self) -> ActionResult:
        request = self._request
        arn = request["EfsFilesystemArn"]
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[2] != "elasticfilesystem":
            raise AwsError("InvalidRequestException", f"Invalid EFS file system ARN {arn}.")
        fs_id = efs.file_system_id(arn)
        if efs.find_file_system(parts[4], parts[3], fs_id) is None:
            raise AwsError("InvalidRequestException", f"File system {fs_id} not found.")
        subdirectory = "/" + (request.get("Subdirectory") or "").strip("/")
        metadata = {
            "EfsFilesystemArn": arn,
            "Subdirectory": subdirectory,
            "Ec2Config": request["Ec2Config"],
            "AccessPointArn": request.get("AccessPointArn"),
            "FileSystemAccessRoleArn": request.get("FileSystemAccessRoleArn"),
            "InTransitEncryption": request.get("InTransitEncryption"),
            "CreationTime": datetime.now(UTC),
        }
        uri = f"efs://{parts[3]}.{fs_id}{subdirectory.rstrip('/')}/"
        location_arn = self._in_this_account(
            self.datasync_backend.locations,
            self.datasync_backend.create_location(uri, typ="EFS", metadata=metadata),
        )
        self._state.tag(location_arn, request.get("Tags"))
        return ActionResult({"LocationArn": location_arn})

    def describe_location_efs(self) -> ActionResult:
        location = self.datasync_backend._get_location(self._request["LocationArn"], typ="EFS")
        described = {key: value for key, value in location.metadata.items() if value is not None}
        described.pop("EfsFilesystemArn")
        described.pop("Subdirectory")
        return ActionResult({"LocationArn": location.arn, "LocationUri": location.uri, **described})

    def start_task_execution(self) -> ActionResult:
        request = self._request
        task = self.datasync_backend._get_task(request["TaskArn"])
        if request.get("Includes") or task.metadata.get("Includes"):
            raise AwsError(
                "InvalidRequestException", "The sandbox's DataSync does not apply include filters."
            )
        excludes = request.get("Excludes") or task.metadata.get("Excludes") or []
        locations = self.datasync_backend.locations
        directories = (
            _location_directory(locations[task.source_location_arn]),
            _location_directory(locations[task.destination_location_arn]),
        )
        self.datasync_backend.arn_counter += 1
        arn = f"{task.arn}/execution/exec-{self.datasync_backend.arn_counter:017d}"
        progress = Progress.begin(
            "datasync",
            "StartTaskExecution",
            target_of("datasync", "StartTaskExecution", request),
            current().durations.datasync_execution,
        )
        self._state.executions[arn] = Execution(arn, task, directories, excludes, progress)
        self._state.tag(arn, request.get("Tags"))
        task.status = "RUNNING"
        task.current_task_execution_arn = arn
        return ActionResult({"TaskExecutionArn": arn})

    def list_task_executions(self) -> ActionResult:
        task_arn = self._request.get("TaskArn")
        executions = [
            {"TaskExecutionArn": execution.arn, "Status": execution.state}
            for execution in self._state.executions.values()
            if task_arn in (None, execution.task.arn)
        ]
        return ActionResult({"TaskExecutions": executions})

    def describe_task_execution(self) -> ActionResult:
        arn = self._request["TaskExecutionArn"]
        execution = self._state.executions.get(arn)
        if execution is None:
            raise AwsError("InvalidRequestException", f"Task execution {arn} is not found.")
        execution.settle()
        return ActionResult(execution.described())

    def list_tasks(self) -> ActionResult:
        """ListTasks with its ``LocationId`` filter (tasks reading or writing a location)."""
        tasks = list(self.datasync_backend.tasks.values())
        for rule in self._request.get("Filters") or []:
            tasks = [task for task in tasks if _task_passes(task, rule)]
        return ActionResult(
            {"Tasks": [{"TaskArn": t.arn, "Status": t.status, "Name": t.name} for t in tasks]}
        )

    def delete_task(self) -> ActionResult:
        arn = self._request["TaskArn"]
        task = self.datasync_backend.tasks.get(arn)
        if task is None:
            raise AwsError("InvalidRequestException", f"Task {arn} not found.")
        executions = [e for e in self._state.executions.values() if e.task.arn == arn]
        for execution in executions:
            execution.settle()
        if task.status == "RUNNING":
            raise AwsError(
                "InvalidRequestException",
                f"Task {arn} has an execution running ({task.current_task_execution_arn}).",
            )
        del self.datasync_backend.tasks[arn]
        for execution in executions:
            del self._state.executions[execution.arn]
            self._state.tags.pop(execution.arn, None)
        self._state.tags.pop(arn, None)
        return ActionResult({})

    def delete_location(self) -> ActionResult:
        arn = self._request["LocationArn"]
        if arn not in self.datasync_backend.locations:
            raise AwsError("InvalidRequestException", f"Location {arn} not found.")
        users = sorted(
            task.arn
            for task in self.datasync_backend.tasks.values()
            if arn in (task.source_location_arn, task.destination_location_arn)
        )
        if users:
            raise AwsError(
                "InvalidRequestException",
                f"Location {arn} is used by task(s) {', '.join(users)}: delete them first.",
            )
        del self.datasync_backend.locations[arn]
        self._state.tags.pop(arn, None)
        return ActionResult({})

    def create_task(self) -> Any:
        arn = self._in_this_account(
            self.datasync_backend.tasks, json.loads(super().create_task())["TaskArn"]
        )
        self._state.tag(arn, self._request.get("Tags"))
        return json.dumps({"TaskArn": arn})

    def _in_this_account(self, known: dict[str, Any], arn: str) -> str:
        """moto names every location and task in account 111222333444: the caller's, as
        AWS does (an IAM policy's ``${AccountId}`` must match them)."""
        fixed = arn.replace(":111222333444:", f":{self.current_account}:")
        if fixed != arn:
            item = known.pop(arn)
            item.arn = fixed
            known[fixed] = item
        return fixed

    def list_tags_for_resource(self) -> ActionResult:
        tags = self._state.tags_of(self._request["ResourceArn"])
        return ActionResult({"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]})

    def tag_resource(self) -> ActionResult:
        self._state.tags_of(self._request["ResourceArn"])
        self._state.tag(self._request["ResourceArn"], self._request["Tags"])
        return ActionResult({})

    def untag_resource(self) -> ActionResult:
        tags = self._state.tags_of(self._request["ResourceArn"])
        for key in self._request["Keys"]:
            tags.pop(key, None)
        return ActionResult({})


def _task_passes(task: Task, rule: dict[str, Any]) -> bool:
    """Whether a task passes one ``ListTasks`` filter; one the sandbox does not apply is
    refused rather than ignored (moto ignores every filter: every task would pass)."""
    name, operator, values = rule.get("Name"), rule.get("Operator"), rule.get("Values") or []
    if name != "LocationId" or operator not in ("Equals", "In"):
        raise AwsError(
            "InvalidRequestException",
            f"The sandbox's DataSync applies only LocationId Equals/In, not {name} {operator}.",
        )
    return bool({task.source_location_arn, task.destination_location_arn} & set(values))


EXTENSION = Extension(urls, SandboxDataSyncResponse)
