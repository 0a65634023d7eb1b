"""DataSync, for EFS-to-EFS copies where AWS Backup is not offered.

The provider's ``DataSyncHook`` does the task work; this subclass adds the
``task_execution_complete`` waiter (``waiters/datasync.json``) so a copy can
be waited for in the triggerer.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.datasync import DataSyncHook as ProviderDataSyncHook

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

    def set_copies(self, installation: str) -> list[dict[str, Any]]:
        """Every backup set's copy of ``installation`` (``datasync_sets.set_copy``'s shape).

        A set's task is one tagged with the installation and a backup set; a task
        without them (a template, a restore's copy, another installation's) is not
        listed. Read-only.
        """
        conn, copies = self.get_conn(), []
        for page in conn.get_paginator("list_tasks").paginate():
            for listed in page.get("Tasks", []):
                tags = self.tags_of(listed["TaskArn"])
                set_id = tags.get(BACKUP_SET_TAG)
                if tags.get(INSTALLATION_TAG) != installation or not set_id:
                    continue
                task = self.get_task_description(listed["TaskArn"])
                location = self.describe_location_efs(task["DestinationLocationArn"])
                executions = [
                    {
                        **self.describe_task_execution(e["TaskExecutionArn"]),
                        "Tags": self.tags_of(e["TaskExecutionArn"]),
                    }
                    for p in conn.get_paginator("list_task_executions").paginate(
                        TaskArn=listed["TaskArn"]
                    )
                    for e in p.get("TaskExecutions", [])
                ]
                copies.append(set_copy(task, tags, location, executions, set_id))
        return copies
