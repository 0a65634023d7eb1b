"""Run a project DAG end to end against the sandbox with ``dag.test()``.

``dag.test()`` runs every task in this process, deferrable ones through
their trigger (serialized and rebuilt, as the triggerer does), so a run here
exercises the same code as a deployment, one task at a time.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from ue_backup.config import CONFIG_FILE_ENV

DAGS = Path(__file__).resolve().parents[2] / "dags"

# The sandbox answers in seconds: poll and retry at that pace.
FAST = {"UE_BACKUP_RETRY_DELAY_SECONDS": "0.2", "UE_BACKUP_POLL_SECONDS": "0.2"}


# How long dag.test()'s loop idles when no task is ready (a retry or a reschedule not due
# yet, a human-in-the-loop task): Airflow sleeps a fixed second. The sandbox answers in
# tenths of a second, so the idle second is most of a short run's time.
IDLE_SECONDS = 0.05


@contextlib.contextmanager
def _short_idle() -> Iterator[None]:
    """While a run goes, ``dag.test()``'s own one-second idle sleeps take IDLE_SECONDS.

    Only the sleeps called directly from ``airflow.sdk.definitions.dag`` (the test loop)
    are shortened: a task's, a hook's or a trigger's sleep is left as it is, so no
    product timing changes. The loop re-reads the run's state from the database after
    each idle, so a task becomes runnable at the same moment, only noticed sooner.
    """
    real = time.sleep

    def sleep(seconds: float) -> None:
        caller = sys._getframe(1).f_globals.get("__name__")
        real(min(seconds, IDLE_SECONDS) if caller == "airflow.sdk.definitions.dag" else seconds)

    time.sleep = sleep
    try:
        yield
    finally:
        time.sleep = real


@functools.cache
def load_dags() -> dict[str, Any]:
    """Parse the DAG folder once per session, in its full shape (with the fast pace in force).

    No configuration file is seen at parse time, as with a configuration kept
    in the Variable: every optional step is built, and the one a run's
    configuration leaves out skips itself. ``load_shaped_dags`` parses the
    shape a configuration file gives.
    """
    return _parse({CONFIG_FILE_ENV: None}).dags


def load_shaped_dags(config_file: Path) -> dict[str, Any]:
    """Parse the DAG folder as a deployment with this configuration file does (``DagShape``)."""
    return parse_shaped(config_file).dags


def parse_shaped(config_file: Path) -> Any:
    """The DagBag of ``load_shaped_dags`` (for a test that serializes it as the processor does)."""
    return _parse({CONFIG_FILE_ENV: str(config_file)})


def _parse(env: dict[str, str | None]) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    settings = {**FAST, **env}
    saved = {k: os.environ.get(k) for k in settings}
    for key, value in settings.items():
        _set_env(key, value)
    try:
        bag = DagBag(dag_folder=str(DAGS), bundle_path=DAGS)
    finally:
        for key, value in saved.items():
            _set_env(key, value)
    assert not bag.import_errors, bag.import_errors
    return bag


def _set_env(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value


@functools.cache
def default_params(dag_id: str) -> dict[str, Any]:
    """The DAG's params as parsed, before any run could change them."""
    return copy.deepcopy(load_dags()[dag_id].params.dump())


@dataclass
class RunResult:
    state: str
    tasks: dict[str, str]
    run: Any

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            value = (
                session.query(XComModel.value)
                .filter_by(
                    dag_id=self.run.dag_id,
                    run_id=self.run.run_id,
                    task_id=task_id,
                    key=key,
                )
                .scalar()
            )
        return XComModel.deserialize_value(type("X", (), {"value": value})()) if value else None


def write_config(config: dict[str, Any], tmp_path: Path, monkeypatch) -> Path:
    """Write the installation configuration and point ue-backup at it."""
    path = tmp_path / "installation.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    monkeypatch.setenv(CONFIG_FILE_ENV, str(path))
    return path


def rerun(result: RunResult) -> RunResult:
    """Clear every task of a finished run and run it again, as "Clear" in the UI does."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState

    with create_session() as session:
        run = (
            session.query(DagRun)
            .filter_by(dag_id=result.run.dag_id, run_id=result.run.run_id)
            .one()
        )
        run.state = DagRunState.RUNNING
    return run_dag(
        result.run.dag_id, logical_date=result.run.logical_date, run_after=result.run.run_after
    )


def run_dag(
    dag_id: str,
    conf: dict[str, Any] | None = None,
    *,
    logical_date: datetime | None = None,
    run_after: datetime | None = None,
    dags: dict[str, Any] | None = None,
) -> RunResult:
    """Run one DAG run to its end; returns its state and every task's state.

    ``dag.test`` applies a run's conf to the parsed DAG's params in place, so
    every run passes every param: the parsed defaults, overridden by ``conf``.
    ``dags`` (``load_shaped_dags``) runs a DAG in the shape a configuration
    file gives; by default the full shape (``load_dags``).
    """
    defaults = default_params(dag_id)
    dag = (dags or load_dags())[dag_id]
    kwargs: dict[str, Any] = {"run_conf": {**defaults, **(conf or {})}}
    if logical_date is not None:
        kwargs["logical_date"] = logical_date
    if run_after is not None:
        kwargs["run_after"] = run_after
    with _short_idle():
        run = dag.test(**kwargs)
    tasks = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    return RunResult(state=str(run.state), tasks=tasks, run=run)
