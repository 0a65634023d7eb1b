"""AWS clients through an Airflow connection, every one with botocore's retries.

The task steps (preflight, verification, inventory, switch-over) make a few
single calls to services that have no hook of this project; they all get
their client here, through the provider's AwsBaseHook and its connection.

This module is also the one place that says how an AWS call retries. A busy
account answers ``ThrottlingException`` for minutes; botocore's default
(legacy mode, 5 attempts) gave up after four retries and failed a backup.
Every hook of the project mixes in ``RetryingHookMixin``: its clients, sync
and async (the triggers' aiobotocore clients), retry in the configured mode
(``aws_retries`` in the configuration; operators, sensors and triggers take it
from the run's settings as ``botocore_config``). Precedence, the provider's
own: a hook's explicit ``config``, else the connection's extra
``config_kwargs``; ``retries`` missing from both is this module's default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.config import Config

# How a run's retries are written (in its typed settings, run_settings): one place.
from ue_backup.run_settings import RunSettings, botocore_config

SETTINGS_KEY = "aws_botocore_config"  # the run's settings carry the dict under this key


class RetryingHookMixin:
    """An AwsBaseHook whose clients always retry in standard (or adaptive) mode.

    ``config`` is what the provider hands to every client and session it
    makes (``get_client_type``, also for ``get_async_conn``), so overriding it
    covers both. The default only fills in ``retries`` when neither the hook's
    ``config`` nor the connection's ``config_kwargs`` set them.
    """

    @property
    def config(self) -> Config:
        given = super().config  # type: ignore[misc]
        return Config(**botocore_config()).merge(given)


class RetryingAwsHook(RetryingHookMixin, AwsBaseHook):
    """The provider's generic hook, with retries: for services without a hook here."""


def aws_client(
    aws_conn_id: str, region: str, client_type: str, config: Mapping[str, Any] | None = None
) -> Any:
    return RetryingAwsHook(
        aws_conn_id=aws_conn_id,
        region_name=region,
        client_type=client_type,
        config=dict(config) if config else None,
    ).conn


def _access(settings: RunSettings | Mapping[str, Any]) -> Mapping[str, Any]:
    """A run's settings as a mapping: the typed model, or its XCom value."""
    return settings.model_dump() if isinstance(settings, RunSettings) else settings


def settings_client(
    settings: RunSettings | Mapping[str, Any], client_type: str, region: str | None = None
) -> Any:
    """The client for a DAG run's settings, which carry ``aws_conn_id``, ``region`` and the
    retries; ``region`` overrides the settings' (a copy region)."""
    access = _access(settings)
    return aws_client(
        access["aws_conn_id"],
        region or access["region"],
        client_type,
        access.get(SETTINGS_KEY),
    )


def settings_hook(
    hook_class: type,
    settings: RunSettings | Mapping[str, Any],
    region: str | None = None,
    conn_id: str | None = None,
) -> Any:
    """A hook of ``hook_class`` for a DAG run's settings (connection, region, retries);
    ``conn_id`` overrides the settings' connection (the protected account's)."""
    access = _access(settings)
    config = access.get(SETTINGS_KEY)
    return hook_class(
        aws_conn_id=conn_id or access["aws_conn_id"],
        region_name=region or access["region"],
        config=dict(config) if config else None,
    )
