"""DataSync, for EFS-to-EFS copies where AWS Backup is not offered.

The provider's ``DataSyncHook`` does the task work; this subclass adds the
``task_execution_complete`` waiter (``waiters/datasync.json``) so a copy can
be waited for in the triggerer.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.hooks.datasync import DataSyncHook as ProviderDataSyncHook

from ue_backup.aws import RetryingHookMixin
from ue_backup.waiters import CustomWaitersMixin


class DataSyncHook(RetryingHookMixin, CustomWaitersMixin, ProviderDataSyncHook):
    """The provider's DataSync hook with this project's waiters and retries."""
