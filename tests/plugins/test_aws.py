"""Every AWS client the project makes retries as configured (``ue_backup.aws``).

Real hooks and real botocore clients against the sandbox's connection: the
retries are read where botocore keeps them, ``client.meta.config.retries``.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from sandbox.faults import Fault
from ue_backup.aws import (
    RetryingAwsHook,
    aws_client,
    botocore_config,
    settings_client,
    settings_hook,
)
from ue_backup.config import AwsRetriesConfig
from ue_backup.hooks.aws_backup import AwsBackupHook
from ue_backup.hooks.datasync import DataSyncHook
from ue_backup.hooks.efs import EfsHook
from ue_backup.hooks.memorydb import MemoryDbHook
from ue_backup.hooks.rds import RdsHook
from ue_backup.hooks.s3 import S3Hook

DEFAULT = {"mode": "standard", "total_max_attempts": 10}
HOOKS = [AwsBackupHook, DataSyncHook, EfsHook, MemoryDbHook, RdsHook, S3Hook]


def retries_of(hook) -> dict:
    return hook.conn.meta.config.retries


@pytest.mark.parametrize("hook_class", HOOKS, ids=lambda c: c.__name__)
def test_every_hook_retries_in_standard_mode_by_default(sandbox, hook_class):
    assert retries_of(hook_class(region_name="eu-west-1")) == DEFAULT


@pytest.mark.parametrize("hook_class", HOOKS, ids=lambda c: c.__name__)
def test_every_hook_takes_the_configured_retries(sandbox, hook_class):
    config = botocore_config(AwsRetriesConfig(mode="adaptive", max_attempts=25))

    hook = hook_class(region_name="eu-west-1", config=config)

    assert retries_of(hook) == {"mode": "adaptive", "total_max_attempts": 25}


def test_the_async_clients_of_the_triggers_retry_too(sandbox):
    hook = MemoryDbHook(region_name="eu-west-1", config=botocore_config(AwsRetriesConfig()))

    async def retries():
        async with await hook.get_async_conn() as client:
            return client.meta.config.retries

    assert asyncio.run(retries()) == DEFAULT


def test_the_connections_config_kwargs_win_over_the_default(sandbox, monkeypatch):
    """The provider's way to set retries per connection still works."""
    connection = json.loads(sandbox.aws.airflow_connection())
    connection["extra"]["config_kwargs"] = {"retries": {"mode": "standard", "max_attempts": 2}}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))

    assert retries_of(RetryingAwsHook(client_type="rds")) == {
        "mode": "standard",
        "total_max_attempts": 3,  # botocore's max_attempts counts retries only
    }


def test_the_default_keeps_the_connections_other_options(sandbox, monkeypatch):
    connection = json.loads(sandbox.aws.airflow_connection())
    connection["extra"]["config_kwargs"] = {"read_timeout": 7}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))

    client = RetryingAwsHook(client_type="rds").conn

    assert client.meta.config.read_timeout == 7
    assert client.meta.config.retries == DEFAULT


def test_task_clients_take_the_runs_settings(sandbox):
    settings = {
        "aws_conn_id": "aws_default",
        "region": "eu-west-1",
        "aws_botocore_config": botocore_config(AwsRetriesConfig(max_attempts=4)),
    }

    assert settings_client(settings, "efs").meta.config.retries["total_max_attempts"] == 4
    assert settings_client(settings, "s3", region="eu-central-1").meta.region_name == (
        "eu-central-1"
    )
    hook = settings_hook(AwsBackupHook, settings)
    assert retries_of(hook)["total_max_attempts"] == 4
    assert aws_client("aws_default", "eu-west-1", "sns").meta.config.retries == DEFAULT


def test_a_throttled_call_is_retried_up_to_the_configured_attempts(sandbox):
    sandbox.faults.add(
        Fault("efs", "DescribeFileSystems", code="ThrottlingException", status=400, times=12)
    )
    config = botocore_config(AwsRetriesConfig(max_attempts=13))

    answer = aws_client("aws_default", "eu-west-1", "efs", config).describe_file_systems()

    assert answer["ResponseMetadata"]["RetryAttempts"] == 12
    assert sandbox.faults.armed() == []
