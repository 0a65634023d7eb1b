"""RDS: the provider's hook, with this project's retries (``ue_backup.aws``).

Snapshots, copies, restores and the switch-over all go through the
provider's ``RdsHook``; this subclass only makes its clients (sync and the
triggers' async ones) retry throttling and 5xx answers as configured.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.hooks.rds import RdsHook as ProviderRdsHook

from ue_backup.aws import RetryingHookMixin


class RdsHook(RetryingHookMixin, ProviderRdsHook):
    """The provider's RDS hook with this project's retries."""
