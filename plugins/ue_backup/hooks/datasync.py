"""DataSync, for EFS-to-EFS copies where AWS Backup is not offered.

The provider's ``DataSyncHook`` does the task work; this subclass adds the
``task_execution_complete`` waiter (``waiters/datasync.json``) so a copy can
be waited for in the triggerer, the listing of every set's copy, and what
retention needs to delete one (tag, list, delete a location).
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.datasync import DataSyncHook as ProviderDataSyncHook
from botocore.exceptions import ClientError

from ue_backup.aws import RetryingHookMixin
from ue_backup.backup_set import BACKUP_SET_TAG, INSTALLATION_TAG, tag_dict
from ue_backup.datasync_sets import set_copy
from ue_backup.waiters import CustomWaitersMixin


class DataSyncHook(RetryingHookMixin, CustomWaitersMixin, ProviderDataSyncHook):
    """The provider's DataSync hook with this project's waiters and retries."""

    def describe_location_efs(self, location_arn: str) -> dict[str, Any]:
        """An EFS location (its ``LocationUri`` and ``Ec2Config``): the provider has no call."""
        return self.get_conn().describe_location_efs(LocationArn=location_arn)

    def tags_of(self, arn: str) -> dict[str, str]:
        """A task's, location's or execution's tags as a dict."""
        return tag_dict(self.get_conn().list_tags_for_resource(ResourceArn=arn).get("Tags"))

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
