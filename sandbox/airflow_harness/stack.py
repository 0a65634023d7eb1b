"""Real Airflow components on this machine: api-server, scheduler, dag-processor, triggerer.

LocalExecutor on PostgreSQL, this project's DAG and plugin folders, the
sandbox as AWS and Kubernetes. Driven only through the public REST API, as
the UI and operators' scripts drive it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from sandbox.airflow_harness.postgres import Postgres, free_port
from sandbox.core import Sandbox
from sandbox.installation import Installation, seed_installation

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
FINISHED = ("success", "failed")


class AirflowStack:
    def __init__(self, home: Path, database_url: str, extra_env: dict[str, str]) -> None:
        self.home = home
        self.port = free_port()
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)]),
            **extra_env,
        }
        self.processes: dict[str, subprocess.Popen] = {}

    def airflow(self, *args: str) -> str:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "airflow"), *args],
            env=self.env,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def start(self) -> AirflowStack:
        self.home.mkdir(parents=True, exist_ok=True)
        self.airflow("db", "migrate")
        self.airflow("pools", "set", "ue_backup", "8", "ue-backup: backups and restores")
        for component in COMPONENTS:
            log = (self.home / f"{component}.log").open("w")
            self.processes[component] = subprocess.Popen(
                [str(Path(sys.executable).parent / "airflow"), component],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_for(lambda: self.get("/api/v2/monitor/health"), 120, "the api-server")
        return self

    def stop(self) -> None:
        for process in self.processes.values():
            try:
                os.killpg(process.pid, 15)
            except ProcessLookupError:
                continue
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)

    def log(self, component: str) -> str:
        return (self.home / f"{component}.log").read_text(errors="replace")

    def trigger_log(self, dag_id: str, run_id: str, task_id: str) -> str:
        """What the triggerer logged while it ran this task's trigger ("" if it never did)."""
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return "".join(p.read_text(errors="replace") for p in folder.glob("*.log.trigger.*.log"))

    # --- the REST API ----------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def get(self, path: str) -> Any:
        try:
            return self.request("GET", path)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    @staticmethod
    def wait_for(predicate, timeout: float, what: str, interval: float = 1.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise TimeoutError(f"waited {timeout} s for {what}")

    def dag_ready(self, dag_id: str) -> None:
        self.wait_for(lambda: self.get(f"/api/v2/dags/{dag_id}"), 180, f"DAG {dag_id} parsed")
        self.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Trigger a run exactly as the UI's form does; returns the run id."""
        run = self.request(
            "POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}}
        )
        return run["dag_run_id"]

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 300) -> dict[str, Any]:
        return self.wait_for(
            lambda: (run := self.run(dag_id, run_id))["state"] in FINISHED and run,
            timeout,
            f"{dag_id} {run_id} to finish",
        )

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        return {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        found = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return found["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        entry = self.request(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/"
            "return_value?deserialize=true",
        )
        value = entry["value"]
        return json.loads(value) if isinstance(value, str) else value

    def mark_failed(self, dag_id: str, run_id: str) -> None:
        """What "Mark run as failed" in the UI does."""
        self.request("PATCH", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}", {"state": "failed"})


# What the UI's trigger forms send: every param, defaults where the user changed nothing.
BACKUP_FORM = {"components": None, "reason": ""}
RESTORE_FORM = {
    "request_type": "latest",
    "backup_set": None,
    "target_time": None,
    "allow_point_in_time_restore": True,
    "mode": "plan",
    "target": "side_by_side",
    "confirm": None,
    "components": None,
}


@contextlib.contextmanager
def deployment(
    root: Path, name: str, durations: dict[str, float], env: dict[str, str]
) -> Iterator[tuple[AirflowStack, Sandbox, Installation]]:
    """PostgreSQL, the sandbox with installation ``name``, and Airflow with both DAGs unpaused.

    Used by the deployment test and the benchmarks alike; everything is
    stopped on the way out.
    """
    postgres = Postgres().start()
    sandbox = Sandbox(root / "sandbox").start()
    try:
        installation = seed_installation(sandbox, name)
        sandbox.durations.update(**durations)
        config = root / "installation.yaml"
        config.write_text(yaml.safe_dump(installation.config))
        stack_env = {**sandbox.connection_env(), "UE_BACKUP_CONFIG_FILE": str(config), **env}
        stack = AirflowStack(root / "airflow", postgres.url, stack_env).start()
        try:
            for dag_id in ("ue_backup", "ue_restore"):
                stack.dag_ready(dag_id)
            yield stack, sandbox, installation
        finally:
            stack.stop()
    finally:
        sandbox.stop()
        postgres.stop()
