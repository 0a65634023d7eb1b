"""A Usage Engine workload for one sandbox installation, and the dangling-reference oracle.

Rule 1 (the database's recovery point is never after the disk's or the cache's)
matters only because Usage Engine's database references runtime data that lives
elsewhere. This module makes the sandbox's installation behave that way, so a
restore can be judged by what it holds: ``Workload(sandbox, installation)`` is the
EC pods at work, ``dangling(...)`` the oracle that finds a restored database's
references to files or keys that the restored file system or cluster lacks.

The linked state (the project's own small schema, not Usage Engine's real one)
-----------------------------------------------------------------------------

Each write has a number ``n`` from the database sequence ``ue_workload_seq`` and
belongs to one ECD. It goes, in this order (what makes rule 1 sufficient):

1. a file on EFS, written as ``TEMP.<name>`` and renamed into place (the
   ``TEMP.`` prefix is what a backup leaves out, so half-written files never count);
2. for an aggregation session, with MemoryDB, a Redis key ``ue:aggregation:<ecd>:<n>``;
3. one row, committed on its own, that references them::

     aggregation_sessions(id, ecd, efs_path, redis_key, committed_at)
         efs_path  aggregation/<ecd>/session-<n>/state.bin
         redis_key ue:aggregation:<ecd>:<n>, NULL without MemoryDB
     duplicate_udr_index(id, ecd, efs_path, committed_at)
         efs_path  duplicate-udr/<ecd>/index-<n>.db
     interworkflow_batches(id, ecd, efs_path, committed_at)
         efs_path  interworkflow/out/<ecd>-batch-<n>

``efs_path`` is relative to the file system's root; ``committed_at`` is the
server's ``clock_timestamp()``. The tables live in the instance's default
database (its ``DBName``, else ``postgres``), created on first connection. The
kinds take turns (``n`` modulo 3). Nothing is ever deleted or rewritten, so at
any moment every row's file and key exist on the live system, and a copy of the
disk and cache taken after the database's point holds everything it references.
A database newer than its disk or cache references some that are missing.

Who writes, and when
--------------------

One write per tick (``interval``, 50 ms) for every one of the installation's
ECDs that has an EC pod in phase Running: a Ready pod or one still draining
after its ECD was disabled (``sandbox/k8s/controllers/kubelet.py``: a pod
drains for ``durations.ecd_drain`` before it is removed). So writes stop only
when every ECD's pods are gone, the moment the ECD reports ``Stopped``, which is
when the product's cold window opens, and resume once an enabled ECD's pod runs
again. The pod is looked up again just before the row's commit: a write whose
pod vanished meanwhile leaves its file (an orphan, harmless) and no row.
The pods are read from the Kubernetes sandbox's store in process (no request is
logged); the database, cluster and file system are resolved through the AWS
API (as the test's own ``setup`` calls) at start and after every pause or
error, so an in-place restore's swapped instance or cluster is the one written
to once the ECDs resume.

Only the live resources are written: the installation's RDS instance (which must
have a real server: ``real_data`` on), its MemoryDB cluster if any, and its
file system. ``Sandbox.reset`` and ``Sandbox.stop`` stop every running workload
of the sandbox (``stop_all``), so no thread outlives a test.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg2

from sandbox.aws import rds_data
from sandbox.aws.resp import RedisError, command

if TYPE_CHECKING:
    from sandbox.core import Sandbox
    from sandbox.installation import Installation

INTERVAL = 0.05  # seconds between ticks
NAMESPACE = "uepe"  # sandbox.installation's, when its configuration names none
TABLES = ("aggregation_sessions", "duplicate_udr_index", "interworkflow_batches")

SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS ue_workload_seq;
CREATE TABLE IF NOT EXISTS aggregation_sessions (
    id bigint PRIMARY KEY, ecd text NOT NULL, efs_path text NOT NULL, redis_key text,
    committed_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE IF NOT EXISTS duplicate_udr_index (
    id bigint PRIMARY KEY, ecd text NOT NULL, efs_path text NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE IF NOT EXISTS interworkflow_batches (
    id bigint PRIMARY KEY, ecd text NOT NULL, efs_path text NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT clock_timestamp());
"""


# The configuration's ``verification`` section for this schema (as an operator would write
# it for Usage Engine's own): SQL checks, and reference checks listing every EFS path and
# Redis key the rows name. The demo and the end-to-end tests run it.
EVERY_PATH = " UNION ALL ".join(f"SELECT efs_path FROM {table}" for table in TABLES)
VERIFICATION: dict[str, Any] = {
    "sql_checks": [
        {
            "name": "sessions-exist",
            "query": "SELECT id FROM aggregation_sessions",
            "expect": "rows",
        },
        {
            # with MemoryDB every aggregation session keeps its state in a key
            "name": "no-session-without-key",
            "query": "SELECT id FROM aggregation_sessions WHERE redis_key IS NULL",
            "expect": "no_rows",
        },
        {
            # the three kinds of write take turns: a restore holds all of them
            "name": "every-kind-of-write",
            "query": "SELECT (SELECT count(*) > 0 FROM aggregation_sessions)::int"
            " + (SELECT count(*) > 0 FROM duplicate_udr_index)::int"
            " + (SELECT count(*) > 0 FROM interworkflow_batches)::int",
            "expect": {"op": "==", "value": 3},
        },
    ],
    "reference_checks": {
        "efs_paths_query": EVERY_PATH,
        "redis_keys_query": "SELECT redis_key FROM aggregation_sessions"
        " WHERE redis_key IS NOT NULL",
        "sample": 5,
    },
}


def efs_file(table: str, ecd: str, n: int) -> str:
    """Where write ``n`` of ``ecd`` puts its file, relative to the file system's root."""
    return {
        "aggregation_sessions": f"aggregation/{ecd}/session-{n}/state.bin",
        "duplicate_udr_index": f"duplicate-udr/{ecd}/index-{n}.db",
        "interworkflow_batches": f"interworkflow/out/{ecd}-batch-{n}",
    }[table]


def redis_key(ecd: str, n: int) -> str:
    return f"ue:aggregation:{ecd}:{n}"


# --- reaching the resources (as the tests' own set-up calls) ----------------------------


def _connect(sandbox: Sandbox, instance: str | dict[str, Any], region: str | None) -> Any:
    """A connection to the instance's real server, as its master user (autocommit).

    ``instance``: an identifier, a ``describe_db_instances`` entry, or an endpoint
    ``"127.0.0.1:<port>"`` (the instance serving it is looked up in ``region``).
    """
    rds = sandbox.client("rds", region=region)
    if isinstance(instance, str):
        if ":" in instance:
            host, port = instance.rsplit(":", 1)
            found = [
                i
                for i in rds.describe_db_instances()["DBInstances"]
                if (i.get("Endpoint") or {}).get("Port") == int(port)
                and i["Endpoint"].get("Address") == host
            ]
            if not found:
                raise LookupError(f"no RDS instance serves {instance}")
            instance = found[0]
        else:
            instance = rds.describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0]
    endpoint = instance.get("Endpoint") or {}
    admin = rds_data.admin_login(endpoint.get("Port") or 0)
    if endpoint.get("Address") != "127.0.0.1" or admin is None:
        raise LookupError(
            f"{instance['DBInstanceIdentifier']} has no real server (is real_data on?)"
        )
    if "MasterUserSecret" in instance:  # as the platform logs in
        arn = instance["MasterUserSecret"]["SecretArn"]
        secrets = sandbox.client("secretsmanager", region=arn.split(":")[3])
        login = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
        where = {"host": "127.0.0.1", "port": endpoint["Port"]}
        where |= {"user": login["username"], "password": login["password"]}
    else:  # a restored copy has no secret (as in RDS): the oracle reads it as the sandbox
        where = admin
    connection = psycopg2.connect(
        **where, dbname=instance.get("DBName") or "postgres", connect_timeout=5
    )
    connection.autocommit = True
    return connection


def _redis_port(sandbox: Sandbox, cluster: str, region: str | None) -> int:
    found = sandbox.client("memorydb", region=region).describe_clusters(ClusterName=cluster)
    endpoint = found["Clusters"][0].get("ClusterEndpoint") or {}
    if endpoint.get("Address") != "127.0.0.1" or not endpoint.get("Port"):
        raise LookupError(f"MemoryDB cluster {cluster} has no real server (is real_data on?)")
    return int(endpoint["Port"])


# --- the workload ------------------------------------------------------------------------


@dataclass
class _Target:
    connection: Any
    redis_port: int | None
    root: Path


_running: set[Workload] = set()
_running_lock = threading.Lock()


class Workload:
    """The installation's EC pods writing linked state; ``start``/``stop`` or ``with``.

    ``counts`` holds what was written so far (rows per table, ``files``, ``keys``,
    ``orphans``: files whose pod was gone before the row, ``errors``);
    ``rows_written`` their rows' total. ``last_error`` is the newest failure's text
    (the thread retries after it on the next tick).
    """

    def __init__(
        self, sandbox: Sandbox, installation: Installation, interval: float = INTERVAL
    ) -> None:
        if not installation.rds_instance:
            raise ValueError("the workload needs the installation's RDS instance")
        self.sandbox = sandbox
        self.installation = installation
        self.interval = interval
        self.namespace = installation.config.get("kubernetes", {}).get("namespace", NAMESPACE)
        self.counts: Counter[str] = Counter()
        self.last_error: str | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._target: _Target | None = None
        self._lock = threading.Lock()

    @property
    def rows_written(self) -> int:
        with self._lock:
            return sum(self.counts[table] for table in TABLES)

    def start(self) -> Workload:
        """Resolve the live resources once (failing here if they cannot be), then write."""
        if self._thread is not None:
            raise RuntimeError("the workload is already running")
        self._target = self._resolve()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="ue-workload", daemon=True)
        with _running_lock:
            _running.add(self)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop writing and join the thread (a write in progress finishes first)."""
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
        with _running_lock:
            _running.discard(self)
        self._drop_target()

    def __enter__(self) -> Workload:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # the thread

    def _resolve(self) -> _Target:
        sandbox, inst = self.sandbox, self.installation
        connection = _connect(sandbox, inst.rds_instance or "", None)
        try:
            with connection.cursor() as cursor:
                cursor.execute(SCHEMA)
            cluster = inst.memorydb_cluster
            port = _redis_port(sandbox, cluster, None) if cluster else None
        except BaseException:
            connection.close()
            raise
        return _Target(connection, port, sandbox.aws.efs_path(inst.file_system_id))

    def _drop_target(self) -> None:
        target, self._target = self._target, None
        if target is not None:
            with contextlib.suppress(psycopg2.Error):
                target.connection.close()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            writers = [ecd for ecd in self.installation.ecds if self._pod_running(ecd)]
            if not writers:
                self._drop_target()  # a pause: resolve again on resume
                continue
            try:
                if self._target is None:
                    self._target = self._resolve()
                for ecd in writers:
                    self._write(self._target, ecd)
            except (OSError, LookupError, RedisError, psycopg2.Error, KeyError) as error:
                with self._lock:
                    self.counts["errors"] += 1
                self.last_error = f"{type(error).__name__}: {error}"
                self._drop_target()

    def _pod_running(self, ecd: str) -> bool:
        pods = self.sandbox.k8s.ecd_pods(self.namespace, ecd)
        return any((pod.get("status") or {}).get("phase") == "Running" for pod in pods)

    def _write(self, target: _Target, ecd: str) -> None:
        with target.connection.cursor() as cursor:
            cursor.execute("SELECT nextval('ue_workload_seq')")
            (n,) = cursor.fetchone()
            table = TABLES[n % len(TABLES)]
            path = efs_file(table, ecd, n)
            _write_file(target.root / path, f"{table} {n} of {ecd}\n")
            self._count("files")
            key = None
            if table == "aggregation_sessions" and target.redis_port is not None:
                key = redis_key(ecd, n)
                command(target.redis_port, "SET", key, path)
                self._count("keys")
            if not self._pod_running(ecd):
                self._count("orphans")
                return
            if table == "aggregation_sessions":
                cursor.execute(
                    "INSERT INTO aggregation_sessions (id, ecd, efs_path, redis_key)"
                    " VALUES (%s, %s, %s, %s)",
                    (n, ecd, path, key),
                )
            else:
                cursor.execute(
                    f"INSERT INTO {table} (id, ecd, efs_path) VALUES (%s, %s, %s)",
                    (n, ecd, path),
                )
            self._count(table)

    def _count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1


def _write_file(path: Path, text: str) -> None:
    """Written under a ``TEMP.`` name, then renamed: the final name is always whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"TEMP.{path.name}")
    temporary.write_text(text)
    os.replace(temporary, path)


def stop_all(sandbox: Sandbox | None = None) -> None:
    """Stop every running workload (of ``sandbox`` only, when given): reset and stop."""
    with _running_lock:
        workloads = [w for w in _running if sandbox is None or w.sandbox is sandbox]
    for workload in workloads:
        workload.stop()


# --- the oracle ---------------------------------------------------------------------------


def dangling(
    sandbox: Sandbox,
    rds_endpoint_or_instance: str | dict[str, Any],
    fs_id: str,
    cluster_name: str | None,
    *,
    region: str | None = None,
) -> dict[str, Any]:
    """The references in a (restored) database that the given file system or cluster lacks.

    ``rds_endpoint_or_instance``: an instance identifier, its description, or its
    endpoint ``"127.0.0.1:<port>"``; the instance and ``cluster_name`` are looked up
    in ``region`` (the sandbox's by default). Every ``efs_path`` must exist under
    ``fs_id``'s root, every non-null ``redis_key`` in ``cluster_name`` (all count as
    missing when no cluster is given). A database without the workload's tables
    references nothing. Returns ``references`` (how many were checked),
    ``dangling`` (how many are missing), ``missing_files`` and ``missing_keys``
    (sorted), and ``by_table`` (missing references per table).
    """
    connection = _connect(sandbox, rds_endpoint_or_instance, region)
    try:
        references = _references(connection)
    finally:
        connection.close()
    root = sandbox.aws.efs_path(fs_id)
    missing_files = sorted({path for _, path, _ in references if not (root / path).is_file()})
    keys = sorted({key for _, _, key in references if key})
    if cluster_name and keys:
        port = _redis_port(sandbox, cluster_name, region)
        present = set(command(port, "KEYS", "ue:aggregation:*"))  # the workload's keys only
        missing_keys = sorted(set(keys) - present)
    else:
        missing_keys = keys
    lost_files, lost_keys = set(missing_files), set(missing_keys)
    by_table: Counter[str] = Counter()
    for table, path, key in references:
        if path in lost_files:
            by_table[table] += 1
        if key and key in lost_keys:
            by_table[table] += 1
    return {
        "references": sum(1 + (1 if key else 0) for _, _, key in references),
        "dangling": len(missing_files) + len(missing_keys),
        "missing_files": missing_files,
        "missing_keys": missing_keys,
        "by_table": dict(by_table),
    }


def _references(connection: Any) -> list[tuple[str, str, str | None]]:
    """(table, efs_path, redis_key) of every row of the workload's tables that exist."""
    found: list[tuple[str, str, str | None]] = []
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute("SELECT to_regclass(%s)", (table,))
            if cursor.fetchone()[0] is None:
                continue
            key = "redis_key" if table == "aggregation_sessions" else "NULL"
            cursor.execute(f"SELECT efs_path, {key} FROM {table}")
            found += [(table, path, k) for path, k in cursor.fetchall()]
    return found
