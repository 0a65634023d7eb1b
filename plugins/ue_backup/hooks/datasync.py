"""DataSync, for EFS-to-EFS copies where AWS Backup is not offered.

The provider's ``DataSyncHook`` does the task work; this subclass adds the
``task_execution_complete`` waiter (``waiters/datasync.json``) so a copy can
be waited for in the triggerer.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.datasync import DataSyncHook as ProviderDataSyncHook

from ue_backup.aws import RetryingHookMixin
from ue_backup.waiters import CustomWaitersMixin


class DataSyncHook(RetryingHookMixin, CustomWaitersMixin, ProviderDataSyncHook):
    """The provider's DataSync hook with this project's waiters and retries."""

    def describe_location_efs(self, location_arn: str) -> dict[str, Any]:
        """An EFS location (its ``LocationUri`` and ``Ec2Config``): the provider has no call."""
        return self.get_conn().describe_location_efs(LocationArn=location_arn)
