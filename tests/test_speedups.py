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


# --- dag.test()'s Execution API in one hop (sandbox/airflow_harness/execution_api.py) ------


@pytest.mark.slow  # builds Airflow's in-process Execution API (seconds, once per process)
def test_the_execution_api_answers_dag_test_through_the_one_hop_transport():
    from airflow.sdk.exceptions import ErrorType
    from airflow.sdk.execution_time.comms import ErrorResponse
    from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor, in_process_api_server

    client = InProcessTestSupervisor._api_client()
    assert type(in_process_api_server().transport).__name__ == "_OneHopTransport"
    missing = client.variables.get("ue_backup_speedups_no_such_variable")
    assert isinstance(missing, ErrorResponse)
    assert missing.error == ErrorType.VARIABLE_NOT_FOUND
    client.variables.set("ue_backup_speedups_variable", "a value", "set through the API")
    assert client.variables.get("ue_backup_speedups_variable").value == "a value"
    client.variables.delete("ue_backup_speedups_variable")


def test_worker_threads_are_kept_outside_the_execution_api():
    import threading

    import anyio
    import anyio.to_thread

    async def where() -> int:
        return await anyio.to_thread.run_sync(threading.get_ident)

    assert anyio.run(where) != threading.get_ident()


def test_dependency_overrides_are_still_honoured_and_route_dependants_stay_fresh():
    import asyncio

    import httpx
    from fastapi import Depends, FastAPI
    from fastapi.dependencies.utils import get_dependant

    def real() -> str:
        return "real"

    def first(q: str = "-") -> str:
        return f"first {q}"

    def second(r: str = "-") -> str:  # its own parameters: solved from its own Dependant
        return f"second {r}"

    app = FastAPI()

    @app.get("/which")
    def which(answer: str = Depends(real)) -> str:
        return answer

    async def answers() -> list[str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return [(await client.get("/which?q=1&r=2")).json() for _ in range(2)]

    app.dependency_overrides[real] = first
    assert asyncio.run(answers()) == ["first 1"] * 2
    app.dependency_overrides[real] = second
    assert asyncio.run(answers()) == ["second 2"] * 2
    app.dependency_overrides.clear()
    assert asyncio.run(answers()) == ["real"] * 2
    assert get_dependant(path="/", call=real) is not get_dependant(path="/", call=real)


def test_a_lambda_override_is_not_kept_alive_after_its_requests():
    """dag.test() overrides the DAG bag with a new lambda per task: none may outlive its task."""
    import asyncio
    import gc
    import weakref

    import httpx
    from fastapi import Depends, FastAPI

    def real() -> str:
        return "real"

    app = FastAPI()

    @app.get("/which")
    def which(answer: str = Depends(real)) -> str:
        return answer

    class DagBag:
        pass

    def holding(held):
        return lambda: type(held).__name__  # as dag.test(): lambda: dag_bag

    bag = DagBag()
    gone = weakref.ref(bag)
    app.dependency_overrides[real] = holding(bag)
    del bag

    async def answer() -> str:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return (await client.get("/which")).json()

    assert asyncio.run(answer()) == "DagBag"
    assert gone() is not None
    app.dependency_overrides.clear()
    gc.collect()
    assert gone() is None


# --- dag.test()'s parse and write of the DAG folder (sandbox/airflow_harness/bundle_sync.py) --


def test_a_parse_fingerprint_follows_the_environment_the_configuration_and_the_dag_files(
    tmp_path, monkeypatch
):
    from sandbox.airflow_harness.bundle_sync import fingerprint

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "a.py").write_text("A = 1\n")
    config = tmp_path / "installation.yaml"
    config.write_text("name: one\n")
    monkeypatch.setenv("UE_BACKUP_CONFIG_FILE", str(config))
    first = fingerprint(dags)
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "another test")
    monkeypatch.setenv("AIRFLOW_CTX_DAG_RUN_ID", "the last task run's")
    assert fingerprint(dags) == first
    config.write_text("name: two\n")
    assert fingerprint(dags) != first
    config.write_text("name: one\n")
    assert fingerprint(dags) == first
    monkeypatch.setenv("UE_BACKUP_POLL_SECONDS", "7")
    assert fingerprint(dags) != first
    monkeypatch.delenv("UE_BACKUP_POLL_SECONDS")
    (dags / "a.py").write_text("A = 22\n")
    assert fingerprint(dags) != first


@pytest.mark.slow  # parses the DAG folder twice and writes it to the test database
def test_dag_test_parses_and_writes_the_dag_folder_again_only_after_a_change(tmp_path, monkeypatch):
    from airflow.dag_processing import collection, dagbag

    from sandbox.airflow_harness import bundle_sync
    from sandbox.airflow_harness.dag_runner import DAGS

    monkeypatch.setattr(bundle_sync, "_from_dag_test", lambda: True)  # as dag.test() calls
    writes = []
    update = collection.update_dag_parsing_results_in_db

    def counted(*args, **kwargs):
        writes.append(args[0])
        return update(*args, **kwargs)

    monkeypatch.setattr(collection, "update_dag_parsing_results_in_db", counted)
    monkeypatch.delenv("UE_BACKUP_CONFIG_FILE", raising=False)

    def parse():
        return dagbag.BundleDagBag(dag_folder=DAGS, bundle_path=DAGS, bundle_name="dags-folder")

    full = parse()
    assert parse() is full
    dagbag.sync_bag_to_db(full, "dags-folder", None)
    dagbag.sync_bag_to_db(full, "dags-folder", None)
    assert writes == ["dags-folder"]  # the second write would have changed nothing
    config = tmp_path / "installation.yaml"
    config.write_text("{}\n")  # invalid: the DAGs keep their full shape, yet another parse
    monkeypatch.setenv("UE_BACKUP_CONFIG_FILE", str(config))
    other = parse()
    assert other is not full
    dagbag.sync_bag_to_db(other, "dags-folder", None)
    monkeypatch.delenv("UE_BACKUP_CONFIG_FILE")
    assert parse() is full
    dagbag.sync_bag_to_db(full, "dags-folder", None)
    assert len(writes) == 3  # another bag was written in between: written again
