"""A boto3 client for one AWS service through an Airflow connection.

The task steps (preflight, verification, inventory, switch-over) make a few
single calls to services that have no hook of this project; they all get
their client here, through the provider's AwsBaseHook and its connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook


def aws_client(aws_conn_id: str, region: str, client_type: str) -> Any:
    return AwsBaseHook(aws_conn_id=aws_conn_id, region_name=region, client_type=client_type).conn


def settings_client(settings: Mapping[str, Any], client_type: str) -> Any:
    """The client for a DAG run's settings, which carry ``aws_conn_id`` and ``region``."""
    return aws_client(settings["aws_conn_id"], settings["region"], client_type)
