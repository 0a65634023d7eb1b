"""STS: who a connection is, for preflight's check of the protected account's connection.

The provider's ``StsHook`` answers only the account number; the immutable copies'
check also needs the caller's ARN (the assumed role), to tell the configured role
from another identity of the same account.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.sts import StsHook as ProviderStsHook

from ue_backup.aws import RetryingHookMixin


class StsHook(RetryingHookMixin, ProviderStsHook):
    """The provider's STS hook with this project's retries."""

    def caller_identity(self) -> dict[str, Any]:
        """``GetCallerIdentity``: ``Account``, ``Arn`` and ``UserId`` of the connection."""
        return self.conn.get_caller_identity()
