"""DataSync, for EFS-to-EFS copies where AWS Backup is not offered.

The provider's ``DataSyncHook`` does the task work; this subclass adds the
``task_execution_complete`` waiter (``waiters/datasync.json``) so a copy can
be waited for in the triggerer, the listing of every set's copy, what
retention needs to delete one (tag, list, delete a location), and the calls a
set's copy and a restore's copy share: a task found by its name, an EFS
location found by its URI or created, an execution found by its tags or
started once (``start_execution_once``). A restore's (or a drill's) own task
and location are listed and deleted here too (``restore_copy``,
``remove_restore_copy``), never a set's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from airflow.providers.amazon.aws.hooks.datasync import DataSyncHook as ProviderDataSyncHook
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.retries.standard import ExponentialBackoff, RetryContext

from ue_backup.aws import RetryingHookMixin
from ue_backup.backup_set import BACKUP_SET_TAG, INSTALLATION_TAG, tag_dict
from ue_backup.datasync_sets import (
    efs_arn,
    is_restore_location,
    location_uri,
    restore_task_name,
    set_copy,
    tagged_with,
)
from ue_backup.errors import PermanentFailure
from ue_backup.transient import is_transient
from ue_backup.waiters import CustomWaitersMixin

log = logging.getLogger(__name__)

BACKOFF = ExponentialBackoff()  # botocore's own (standard mode): up to 20 s, jittered
# An execution that still reads or writes (DataSync's statuses before SUCCESS or ERROR).
RUNNING = ("QUEUED", "LAUNCHING", "PREPARING", "TRANSFERRING", "VERIFYING")


class DataSyncHook(RetryingHookMixin, CustomWaitersMixin, ProviderDataSyncHook):
    """The provider's DataSync hook with this project's waiters and retries."""

    def describe_location_efs(self, location_arn: str) -> dict[str, Any]:
        """An EFS location (its ``LocationUri`` and ``Ec2Config``): the provider has no call."""
        return self.get_conn().describe_location_efs(LocationArn=location_arn)

    def tags_of(self, arn: str) -> dict[str, str]:
        """A task's, location's or execution's tags as a dict."""
        return tag_dict(self.get_conn().list_tags_for_resource(ResourceArn=arn).get("Tags"))

    def task_count(self) -> int:
        """How many DataSync tasks the account has in this region (every owner's)."""
        pages = self.get_conn().get_paginator("list_tasks").paginate()
        return sum(len(page.get("Tasks", [])) for page in pages)

    def tag(self, arn: str, tags: list[dict[str, str]]) -> None:
        """Tag a task, location or execution (``[{"Key", "Value"}]``, DataSync's form)."""
        self.get_conn().tag_resource(ResourceArn=arn, Tags=tags)

    def task_arns(self, location_arn: str | None = None) -> set[str]:
        """Every task's ARN, or those reading or writing ``location_arn`` (ListTasks'
        ``LocationId`` filter). ListTasks has no resource-level permission, so it also
        says "already gone" where a tag-scoped call on a deleted task would be denied."""
        filters = (
            {"Filters": [{"Name": "LocationId", "Operator": "Equals", "Values": [location_arn]}]}
            if location_arn
            else {}
        )
        pages = self.get_conn().get_paginator("list_tasks").paginate(**filters)
        return {task["TaskArn"] for page in pages for task in page.get("Tasks", [])}

    def location_arns(self) -> set[str]:
        """Every location's ARN (ListLocations, no resource-level permission either)."""
        pages = self.get_conn().get_paginator("list_locations").paginate()
        return {loc["LocationArn"] for page in pages for loc in page.get("Locations", [])}

    def delete_location(self, location_arn: str) -> None:
        """Delete a location's configuration (DeleteLocation: the files it names stay)."""
        self.get_conn().delete_location(LocationArn=location_arn)

    # --- what a set's copy and a restore's copy share ------------------------------------

    def task_named(self, name: str) -> str | None:
        """The ARN of the task called ``name`` (a set's, a restore's); None when there is none."""
        for page in self.get_conn().get_paginator("list_tasks").paginate():
            for task in page.get("Tasks", []):
                if task.get("Name") == name:
                    return task["TaskArn"]
        return None

    def efs_location(
        self,
        file_system_id: str,
        folder: str,
        network: Mapping[str, Any],
        tags: list[dict[str, str]],
    ) -> str:
        """The EFS location of ``file_system_id`` at ``folder``: found by its URI, or created.

        DataSync creates a destination folder that does not exist yet when it writes.
        """
        from ue_backup.hooks.sts import StsHook

        region = self.conn_region_name
        found = self.get_location_arns(
            location_uri(region, file_system_id, folder),
            case_sensitive=True,
            ignore_trailing_slash=True,
        )
        if found:
            return found[0]
        account = StsHook(aws_conn_id=self.aws_conn_id, region_name=region).caller_identity()
        return self.get_conn().create_location_efs(
            EfsFilesystemArn=efs_arn(
                self.conn_partition, region, account["Account"], file_system_id
            ),
            Subdirectory=folder,
            Ec2Config=dict(network),
            Tags=tags,
        )["LocationArn"]

    def executions_tagged(self, task_arn: str, tags: Mapping[str, str]) -> list[dict[str, Any]]:
        """The task's executions carrying every one of ``tags`` (``TaskExecutionArn``,
        ``Status``), oldest first, as ``ListTaskExecutions`` lists them."""
        conn, found = self.get_conn(), []
        for page in conn.get_paginator("list_task_executions").paginate(TaskArn=task_arn):
            for execution in page.get("TaskExecutions", []):
                if tagged_with(self.tags_of(execution["TaskExecutionArn"]), tags):
                    found.append(execution)
        return found

    def start_execution_once(
        self,
        task_arn: str,
        tags: list[dict[str, str]],
        excludes: list[dict[str, str]],
        started: Callable[[], str | None],
    ) -> str:
        """Start an execution of ``task_arn``; after a transient error, look for it first.

        ``StartTaskExecution`` has no idempotency token: botocore retrying a
        start that DataSync carried out but whose answer was lost (a 5xx, a
        dropped connection) would queue a second copy. So the call goes out
        with botocore's retries off, and this loop retries it instead, as
        often as the configured attempts and with botocore's backoff, each
        time first asking ``started`` (the execution found by its tags).
        """
        config = self.config
        retries = config.retries or {}  # botocore's form, or the legacy max_attempts (retries)
        attempts = int(retries.get("total_max_attempts") or retries.get("max_attempts", 0) + 1)
        once = self.get_client_type(config=config.merge(Config(retries={"total_max_attempts": 1})))
        for attempt in range(1, attempts + 1):
            try:
                arn = once.start_task_execution(TaskArn=task_arn, Excludes=excludes, Tags=tags)[
                    "TaskExecutionArn"
                ]
            except Exception as error:
                if not is_transient(error) or attempt == attempts:
                    raise
                log.warning("DataSync start failed (%s): looking for its execution", error)
                found = started()
                if found:
                    log.info("DataSync execution %s was started by that call", found)
                    return found
                time.sleep(BACKOFF.delay_amount(RetryContext(attempt_number=attempt)))
                continue
            log.info("DataSync execution %s started, excluding %s", arn, excludes[0]["Value"])
            return arn
        raise AssertionError("unreachable: the last attempt returns or raises")

    # --- a restore's own copy --------------------------------------------------------------

    def restore_copy(self, restore_id: str, owner: Mapping[str, str]) -> dict[str, Any]:
        """What is left of ``restore_id``'s copy: ``task`` (its ARN or None), ``running``
        (the execution still reading or writing, or None) and ``locations`` (its
        destination locations, on whatever file system). Read-only.

        Only what carries ``owner`` (the restore's or the drill's tags) and no set's
        tag is the restore's: anything else named like it is refused (``PermanentFailure``).
        """
        task = self.task_named(restore_task_name(restore_id))
        running = None
        if task:
            self._refuse_unless_owned(task, owner)
            described = self.get_task_description(task)
            current = described.get("CurrentTaskExecutionArn")
            if current and self.describe_task_execution(current).get("Status") in RUNNING:
                running = current
        if not self.locations:
            self._refresh_locations()
        locations = [
            found["LocationArn"]
            for found in self.locations
            if is_restore_location(found.get("LocationUri") or "", restore_id)
        ]
        for arn in locations:
            self._refuse_unless_owned(arn, owner)
        return {"task": task, "running": running, "locations": locations}

    def remove_restore_copy(self, restore_id: str, owner: Mapping[str, str]) -> list[str]:
        """Delete ``restore_id``'s copy task, then its destination locations (the set's
        folder, its source, is the set's and stays). Refuses while its execution runs.
        Idempotent: what is gone is done. Returns the ARNs deleted."""
        left = self.restore_copy(restore_id, owner)
        if left["running"]:
            raise PermanentFailure(
                f"the DataSync execution {left['running']} of {restore_task_name(restore_id)} "
                "still runs: its task is not deleted"
            )
        conn, name, deleted = self.get_conn(), restore_task_name(restore_id), []
        task = left["task"]  # the task first: its destination is then in no task
        if task and _deleted(
            lambda: conn.delete_task(TaskArn=task), lambda: bool(self.task_named(name))
        ):
            deleted.append(task)
        for arn in left["locations"]:
            if _deleted(
                lambda arn=arn: conn.delete_location(LocationArn=arn),
                lambda arn=arn: arn in self.location_arns(),
            ):
                deleted.append(arn)
        log.info("Deleted the restore's DataSync task and locations: %s", deleted or "none left")
        self.locations = []  # listed again next time
        return deleted

    def _refuse_unless_owned(self, arn: str, owner: Mapping[str, str]) -> None:
        tags = self.tags_of(arn)
        if tags.get(BACKUP_SET_TAG) or not tagged_with(tags, owner):
            raise PermanentFailure(
                f"refusing to touch DataSync {arn}: it is named like this restore's copy but "
                f"carries {tags}, not {dict(owner)} (a set's task or location is never deleted)"
            )

    # --- the sets ---------------------------------------------------------------------------

    def set_copies(self, installation: str) -> list[dict[str, Any]]:
        """Every backup set's copy of ``installation`` (``datasync_sets.set_copy``'s shape).

        A set's task is one tagged with the installation and a backup set; a task
        without them (a template, a restore's copy, another installation's) is not
        listed. A task that cannot be read (deleted meanwhile, its location gone)
        is listed with its ``Error`` and no status: not restorable, and no reason
        for the other sets not to be. Read-only. The planner's disk points, and the cold
        window's history (``past_runs.datasync_runs``: each copy's duration and size).
        """
        conn, copies = self.get_conn(), []
        for page in conn.get_paginator("list_tasks").paginate():
            for listed in page.get("Tasks", []):
                tags = self.tags_of(listed["TaskArn"])
                set_id = tags.get(BACKUP_SET_TAG)
                if tags.get(INSTALLATION_TAG) != installation or not set_id:
                    continue
                try:
                    copies.append(self._set_copy(listed["TaskArn"], tags, set_id))
                except ClientError as error:  # deleted meanwhile, or its location gone
                    self.log.warning("DataSync task %s: %s", listed["TaskArn"], error)
                    copies.append(
                        {
                            "TaskArn": listed["TaskArn"],
                            "Status": None,
                            "Error": str(error),
                            "Tags": tags,
                        }
                    )
        return copies

    def _set_copy(self, task_arn: str, tags: dict[str, str], set_id: str) -> dict[str, Any]:
        task = self.get_task_description(task_arn)
        location = self.describe_location_efs(task["DestinationLocationArn"])
        pages = self.get_conn().get_paginator("list_task_executions").paginate(TaskArn=task_arn)
        executions = [
            {
                **self.describe_task_execution(e["TaskExecutionArn"]),
                "Tags": self.tags_of(e["TaskExecutionArn"]),
            }
            for page in pages
            for e in page.get("TaskExecutions", [])
        ]
        return set_copy(task, tags, location, executions, set_id)


def _deleted(delete: Callable[[], Any], exists: Callable[[], bool]) -> bool:
    """Delete; False when DataSync answers the resource is not there (gone already).

    DataSync answers every refusal ``InvalidRequestException``, so a refusal is told
    from "not found" by looking again: what is still there was refused, and that fails.
    """
    try:
        delete()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "InvalidRequestException" or exists():
            raise
        return False
    return True
