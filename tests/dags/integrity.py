"""DAG integrity checks that every DAG of this project passes, for free.

A DAG folder is imported the way the dag-processor does it, while network
calls and Variable / Connection reads are forbidden: a DAG file that does
either at parse time slows every parse and fails when the database or the
network is slow. Each DAG must carry what an operator needs in the UI: an
owner, tags, retries and a description.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path
from unittest import mock


class ParseTimeAccess(RuntimeError):
    """A DAG file touched the network, a Variable or a Connection while being parsed."""


def _forbid(what: str):
    def refuse(*args, **kwargs):
        raise ParseTimeAccess(f"{what} at DAG parse time: {args[:2]!r}")

    return refuse


@contextlib.contextmanager
def parse_time_guard() -> Iterator[None]:
    """Forbid network connections and Variable / Connection reads inside the block."""
    from airflow.sdk import BaseHook, Connection, Variable

    with contextlib.ExitStack() as stack:
        for target, attribute, what in (
            (socket.socket, "connect", "network connection"),
            (socket.socket, "connect_ex", "network connection"),
            (socket, "getaddrinfo", "name lookup"),
            (Variable, "get", "Variable read"),
            (Connection, "get", "Connection read"),
            (BaseHook, "get_connection", "Connection read"),
        ):
            stack.enter_context(mock.patch.object(target, attribute, _forbid(what)))
        yield


def load_dag_folder(folder: Path):
    """Parse every DAG file in ``folder`` under the parse-time guard; returns the DagBag."""
    from airflow.dag_processing.dagbag import DagBag

    with parse_time_guard():
        return DagBag(dag_folder=str(folder), bundle_path=folder, collect_dags=True)


def _holds_template(value) -> bool:
    if isinstance(value, str):
        return "{{" in value
    if isinstance(value, dict):
        return any(_holds_template(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_template(v) for v in value)
    return False


def untemplated_templates(task) -> list[str]:
    """Attributes holding a Jinja template that Airflow will never render."""
    return sorted(
        name
        for name, value in vars(task).items()
        if not name.startswith("_")
        and name not in task.template_fields
        and name not in ("doc_md", "doc", "params")
        and _holds_template(value)
    )


def dag_problems(dag) -> list[str]:
    """What a DAG lacks that an operator needs to see in the UI, and templates never rendered."""
    problems = []
    if not dag.description:
        problems.append("no description")
    if not dag.tags:
        problems.append("no tags")
    for task in dag.tasks:
        if not task.owner or task.owner == "airflow":
            problems.append(f"task {task.task_id}: no owner")
        if task.retries is None or task.retries < 1:
            problems.append(f"task {task.task_id}: no retries")
        for name in untemplated_templates(task):
            problems.append(f"task {task.task_id}: {name} holds a template but is not templated")
    return problems


def integrity_report(folder: Path) -> dict[str, list[str]]:
    """Every problem in a DAG folder: import errors by file, missing metadata by DAG id."""
    bag = load_dag_folder(folder)
    report = {path: [error] for path, error in bag.import_errors.items()}
    for dag_id, dag in bag.dags.items():
        problems = dag_problems(dag)
        if problems:
            report[dag_id] = problems
    return report


def assert_crosses_the_wire(bag) -> None:
    """Every DAG of ``bag`` serializes and encodes as a real DAG processor sends it.

    ``dag.test()`` never serializes a DAG, so an operator argument the
    serializer or the msgpack channel refuses (a subclass of ``str`` did)
    passes every end-to-end test and fails only on a deployment.
    """
    import structlog
    from airflow.dag_processing.processor import DagFileParsingResult, _serialize_dags
    from airflow.sdk.execution_time.comms import _new_encoder

    assert not bag.import_errors, bag.import_errors
    serialized, errors = _serialize_dags(bag, structlog.get_logger())
    assert not errors, errors
    assert sorted(d.dag_id for d in serialized) == sorted(bag.dag_ids)
    result = DagFileParsingResult(
        fileloc=str(bag.dag_folder), serialized_dags=serialized, import_errors={}
    )
    assert _new_encoder().encode(result)
