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
# The scheduler and the triggerer would each start a log server on every interface (Airflow
# has no setting for its address); the api-server reads the task logs from this machine's
# files instead, so they run without.
COMPONENT_ARGS = {"scheduler": ("--skip-serve-logs",), "triggerer": ("--skip-serve-logs",)}
FINISHED = ("success", "failed")
TOKEN_PATH = "/auth/token"  # the simple auth manager's sign-in for scripts
HEALTH_PATH = "/api/v2/monitor/health"
PUBLIC_PATHS = (TOKEN_PATH, HEALTH_PATH)  # answered without signing in


# Where the simple auth manager keeps the passwords it generates for its users, in
# AIRFLOW_HOME (Airflow's default for [core] simple_auth_manager_passwords_file).
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"


class AirflowStack:
    """The four components, and a REST client for them.

    ``users`` (name: role, the simple auth manager's roles: viewer, user, op,
    admin) makes login real: Airflow generates each user's password into
    ``passwords_file`` at the api-server's start, and this client signs in as
    the first admin. Without it every visitor is an admin with no login, as the
    deployment test needs nothing more.
    """

    def __init__(
        self,
        home: Path,
        database_url: str,
        extra_env: dict[str, str],
        users: dict[str, str] | None = None,
    ) -> None:
        self.home = home
        self.port = free_port()
        self.users = dict(users or {})
        if self.users and "admin" not in self.users.values():
            raise ValueError(f"users {self.users} has no admin to drive the REST API as")
        self._token: str | None = None
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            **self._auth_env(),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "sandbox.airflow_harness.loopback.hostname",
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

    def _auth_env(self) -> dict[str, str]:
        if not self.users:
            return {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True"}
        return {
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                f"{name}:{role}" for name, role in self.users.items()
            ),
        }

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def passwords_file(self) -> Path:
        return self.home / PASSWORDS_FILE

    def password(self, user: str) -> str:
        """The password Airflow generated for ``user`` (known once the api-server started)."""
        return json.loads(self.passwords_file.read_text())[user]

    def _passwords_written(self) -> bool:
        try:
            return set(self.users) <= set(json.loads(self.passwords_file.read_text()))
        except (OSError, ValueError):
            return False

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
                [
                    str(Path(sys.executable).parent / "airflow"),
                    component,
                    *COMPONENT_ARGS.get(component, ()),
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self.wait_for(lambda: self.get(HEALTH_PATH), 120, "the api-server")
            if self.users:
                self.wait_for(self._passwords_written, 60, f"the passwords in {PASSWORDS_FILE}")
        except BaseException:  # Ctrl-C or a timeout: no component outlives the caller
            self.stop()
            raise
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
        headers = {"Content-Type": "application/json"}
        if self.users and path not in PUBLIC_PATHS:
            headers["Authorization"] = f"Bearer {self._admin_token()}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}{path}", data=data, method=method, headers=headers
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def _admin_token(self) -> str:
        """A JWT for the first admin user, as a script signs in to the REST API."""
        if self._token is None:
            admin = next(name for name, role in self.users.items() if role == "admin")
            body = {"username": admin, "password": self.password(admin)}
            self._token = self.request("POST", TOKEN_PATH, body)["access_token"]
        return self._token

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
    root: Path,
    name: str,
    durations: dict[str, float],
    env: dict[str, str],
    users: dict[str, str] | None = None,
) -> Iterator[tuple[AirflowStack, Sandbox, Installation]]:
    """PostgreSQL, the sandbox with installation ``name``, and Airflow with both DAGs unpaused.

    Used by the deployment and browser tests and ``make airflow`` alike
    (``users``: see ``AirflowStack``); everything is stopped on the way out.
    """
    postgres = Postgres().start()
    sandbox = Sandbox(root / "sandbox").start()
    try:
        installation = seed_installation(sandbox, name)
        sandbox.durations.update(**durations)
        config = root / "installation.yaml"
        config.write_text(yaml.safe_dump(installation.config))
        stack_env = {**sandbox.connection_env(), "UE_BACKUP_CONFIG_FILE": str(config), **env}
        stack = AirflowStack(root / "airflow", postgres.url, stack_env, users).start()
        try:
            for dag_id in ("ue_backup", "ue_restore"):
                stack.dag_ready(dag_id)
            yield stack, sandbox, installation
        finally:
            stack.stop()
    finally:
        sandbox.stop()
        postgres.stop()
