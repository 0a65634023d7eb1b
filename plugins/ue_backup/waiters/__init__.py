"""Botocore waiter definitions (JSON, named after the boto service) where AWS ships none."""

from __future__ import annotations

from pathlib import Path

WAITERS_DIR = Path(__file__).resolve().parent


class CustomWaitersMixin:
    """Point an AWS hook at this package's ``<client_type>.json`` waiter file.

    The provider's ``AwsBaseHook.get_waiter`` looks up custom waiters in
    ``waiter_path`` before botocore's own, so our waiters work in both the
    worker (sync) and the triggerer (async) exactly like the provider's.
    """

    client_type: str | None

    @property
    def waiter_path(self) -> Path | None:
        path = WAITERS_DIR / f"{self.client_type}.json"
        return path if path.exists() else None
