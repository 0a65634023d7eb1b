"""One real PostgreSQL server behind a sandbox RDS instance, with its WAL archive.

Debian's binaries (``/usr/lib/postgresql/*/bin``, ``make postgres``) run each
server on 127.0.0.1 only, on a port of its own, as the ``postgres`` user when the
tests run as root (PostgreSQL refuses root). Clusters are copied from one
template made by ``initdb`` once per process (a copy takes a fraction of
``initdb``'s time); the template's superuser ``rdsadmin`` is the sandbox's own,
reached through the server's Unix socket only (trust), as RDS keeps its own
administrator. TCP logins need a password (SCRAM).

Every server archives its WAL continuously into its own folder
(``archive_command`` copies each finished segment; 1 MB segments and
``archive_timeout = 1`` keep it small and close to now). ``archive_now``
forces the current segment out and waits for it: everything committed before
the moment it returns is restorable from the archive.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2

from sandbox.airflow_harness.postgres import _binary as binary
from sandbox.airflow_harness.postgres import free_port

ADMIN = "rdsadmin"  # the sandbox's superuser, Unix socket only


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def run(*args: str) -> str:
    """Run a command as the user that owns the clusters; its output, or an error naming it."""
    done = subprocess.run([*_as_postgres(), *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stdout}{done.stderr}")
    return done.stdout


def own_dir(path: Path) -> Path:
    """A directory the clusters' user owns (made here, by root or not)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
    return path


def copy_tree(source: Path, target: Path, *, links: bool = False) -> None:
    """Copy a cluster or a backup as its owner (``links``: hard links, for read-only copies)."""
    run("cp", "-al" if links else "-a", str(source), str(target))


def make_template(path: Path) -> None:
    """An empty cluster (stopped, cleanly shut down) that every new instance is copied from."""
    own_dir(path.parent)
    run(
        binary("initdb"),
        "-D",
        str(path),
        "-U",
        ADMIN,
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--wal-segsize=1",
        "--no-sync",
        "--encoding=UTF8",
        "--locale=C",
    )
    with (path / "postgresql.conf").open("a") as conf:
        conf.write("\ninclude_if_exists = 'sandbox.conf'\n")


class PostgresServer:
    """A cluster in ``home/data`` archiving to ``home/archive``, socket in ``home/run``.

    ``recovery``: settings for the next start's archive recovery (``restore_command``,
    ``recovery_target_*``); the server then promotes itself at the end of it.
    """

    def __init__(self, home: Path) -> None:
        self.home = own_dir(home)
        self.data = home / "data"
        self.archive = own_dir(home / "archive")
        self.socket = own_dir(home / "run")
        self.port = 0
        self.running = False

    def _settings(self, recovery: dict[str, str]) -> str:
        archive = self.archive
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.socket),
            "shared_buffers": "16MB",
            "fsync": "off",
            "wal_level": "replica",
            "archive_mode": "on",
            "archive_timeout": "1",
            "archive_command": (
                f"test ! -f {archive}/%f && cp %p {archive}/%f.tmp"
                f" && mv {archive}/%f.tmp {archive}/%f"
            ),
            **recovery,
        }
        return "".join(f"{name} = '{value}'\n" for name, value in settings.items())

    def start(self, recovery: dict[str, str] | None = None) -> None:
        """Start on a free port; with ``recovery``, replay the archive and promote first."""
        self.port = free_port()
        (self.data / "sandbox.conf").write_text(self._settings(recovery or {}))
        if recovery:
            (self.data / "recovery.signal").write_text("")
        for name in ("sandbox.conf", "recovery.signal"):
            if os.geteuid() == 0 and (self.data / name).exists():
                shutil.chown(self.data / name, "postgres", "postgres")
        (self.data / "postmaster.pid").unlink(missing_ok=True)
        log = self.home / "postgres.log"
        try:
            run(binary("pg_ctl"), "-D", str(self.data), "-l", str(log), "-w", "-t", "60", "start")
        except RuntimeError as failed:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{failed}\n{log}:\n{tail}") from None
        self.running = True
        deadline = time.monotonic() + 60
        while self.query("SELECT pg_is_in_recovery()")[0][0]:  # promotes after recovery
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL still recovering; see {log}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.running:
            self.running = False
            subprocess.run(
                [*_as_postgres(), binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"],
                capture_output=True,
            )

    def query(self, sql: str, *args: Any, database: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement as the sandbox's administrator (autocommit); its rows."""
        connection = psycopg2.connect(
            host=str(self.socket), port=self.port, user=ADMIN, dbname=database
        )
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(sql, args or None)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()

    def archive_now(self, *, marker: bool = False) -> datetime:
        """Archive all WAL written so far; the moment before which every commit is archived.

        ``marker`` commits a transaction first, so the archive holds a commit after
        that moment: a recovery to any earlier time then finds where to stop.
        """
        moment = datetime.now(UTC)
        if marker:
            self.query("SELECT txid_current()")
        segment = self.query("SELECT pg_walfile_name(pg_switch_wal())")[0][0]
        deadline = time.monotonic() + 30
        while not (self.archive / segment).exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"WAL segment {segment} not archived in {self.archive}")
            time.sleep(0.01)
        return moment

    def base_backup(self, target: Path) -> None:
        """A consistent copy of the running cluster, startable alone (its WAL streamed in)."""
        run(
            binary("pg_basebackup"),
            "-h",
            str(self.socket),
            "-p",
            str(self.port),
            "-U",
            ADMIN,
            "-D",
            str(target),
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
        )
