"""The test-only speed-ups of ``tests/conftest.py``: how often work is done, never its result."""

from __future__ import annotations

import jsonschema
import pytest


def test_a_bad_schema_is_refused_every_time_and_values_are_still_validated():
    bad = {"type": "no-such-type"}
    for _ in range(2):
        with pytest.raises(jsonschema.SchemaError):
            jsonschema.validate(1, bad)
    good = {"type": "integer", "maximum": 3}
    jsonschema.validate(2, good)
    jsonschema.validate(2, good)  # the schema's check remembered
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(4, good)


def test_aws_hooks_still_name_the_operator_that_calls_them():
    from airflow.providers.amazon.aws.hooks.base_aws import AwsGenericHook

    class SomeOperator:
        def execute(self):
            return AwsGenericHook._find_operator_class_name("execute")

    assert SomeOperator().execute() == "SomeOperator"
    assert AwsGenericHook._find_operator_class_name("no_such_function") is None


def test_botocore_sessions_share_one_loader_and_still_build_clients():
    import boto3

    first, second = boto3.session.Session(), boto3.session.Session()
    loader = first._session.get_component("data_loader")
    assert loader is second._session.get_component("data_loader")
    client = second.client("rds", region_name="eu-west-1", endpoint_url="http://127.0.0.1:9")
    assert "DescribeDBInstances" in client.meta.service_model.operation_names
