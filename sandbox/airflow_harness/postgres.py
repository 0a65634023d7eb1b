"""A throwaway PostgreSQL server on 127.0.0.1 for the deployment test's metadata database.

Uses the Debian packages' binaries (the Makefile installs ``postgresql``).
PostgreSQL refuses to run as root, so as root the server runs as the
``postgres`` user the package creates.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        raise RuntimeError(f"PostgreSQL's {name} not found: install the postgresql package")
    return found[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """``start()`` an empty cluster with database ``airflow``; ``url`` for SQLAlchemy."""

    def __init__(self) -> None:
        # Its own directory under /tmp: test temporary folders are private to
        # root, and the postgres user must reach this one.
        self.root = Path(tempfile.mkdtemp(prefix="ue-backup-postgres-"))
        self.data = self.root / "pgdata"
        self.port = free_port()
        self._as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as_postgres, *args], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{' '.join(args)} failed: {done.stdout}{done.stderr}")

    def start(self) -> Postgres:
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        self._run(_binary("initdb"), "-D", str(self.data), "-A", "trust", "-U", "airflow")
        self._run(
            _binary("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "postgres.log"),
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200",
            "-w",
            "start",
        )
        for _ in range(50):
            probe = subprocess.run(
                [
                    "psql",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-U",
                    "airflow",
                    "-d",
                    "postgres",
                    "-c",
                    "CREATE DATABASE airflow",
                ],
                capture_output=True,
                text=True,
            )
            if probe.returncode == 0:
                return self
            time.sleep(0.2)
        raise RuntimeError(f"PostgreSQL did not start: {probe.stderr}")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://airflow@127.0.0.1:{self.port}/airflow"

    def stop(self) -> None:
        subprocess.run(
            [*self._as_postgres, _binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"],
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)
