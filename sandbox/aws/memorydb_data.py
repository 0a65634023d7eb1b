"""Real data behind the sandbox's MemoryDB: a ``redis-server`` per cluster (``real_data``).

With the sandbox's ``real_data`` switch on (``AwsSandbox.real_data``; off by default,
so the rest of the suite starts no process), every MemoryDB cluster created from then
on is a real ``redis-server`` on 127.0.0.1 with a free port of its own, and its
``ClusterEndpoint`` (and each node's ``Endpoint``) is ``127.0.0.1:<port>``:

- a snapshot (``CreateSnapshot``, ``DeleteCluster``'s ``FinalSnapshotName``) is the
  server's RDB file at the snapshot's moment (``SAVE``, then the dump copied aside);
  ``CopySnapshot`` copies it; an export to S3 writes it as each shard's ``.rdb`` object;
- ``CreateCluster`` with ``SnapshotName`` starts the server on a copy of that file;
  with ``SnapshotArns`` on the objects' bytes (the first as its dump file, every
  further one merged in with ``MIGRATE ... COPY REPLACE`` from a short-lived server);
  bytes Redis cannot load leave the cluster ``create-failed``, as MemoryDB does;
- ``DeleteCluster`` stops the server (after its final snapshot, if any).

One server holds all of a cluster's shards: an export writes the whole data set to
every shard's object, and seeding from all of them merges the same keys again. A
snapshot of a cluster that had no server (made before ``real_data`` was on) has no
file: a cluster restored from it starts empty. The servers, like moto's state, belong
to the process; ``stop_all`` (the sandbox's reset and stop) ends every one and removes
their files. ``redis-server`` comes from Debian (``make redis``).
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

from sandbox.aws.resp import HOST, RedisError, command

REDIS_SERVER = "redis-server"
START_TIMEOUT = 10.0  # seconds for a server to answer PING (loading its RDB file included)

Key = tuple[str, str, str]  # account, region, cluster or snapshot name


class RedisServer:
    """One ``redis-server`` on 127.0.0.1, in a directory of its own, started on an RDB file.

    Never persisted on its own (no ``save`` rules, no AOF): its data moves only when
    the sandbox asks for a ``SAVE``. Stopped without saving.
    """

    def __init__(self, directory: Path, rdb: bytes | None = None) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.dump = directory / "dump.rdb"
        if rdb is not None:
            self.dump.write_bytes(rdb)
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        """Start and wait until it answers; ``RedisLoadError`` if it will not (a bad file)."""
        binary = shutil.which(REDIS_SERVER)
        if binary is None:
            raise RuntimeError(f"{REDIS_SERVER} is not installed: run `make redis`")
        for _attempt in range(3):  # a free port can be taken between choosing and binding
            self.port = _free_port()
            self._process = subprocess.Popen(
                [binary, *self._arguments()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if self._answers():
                return self
            self.stop()
            if "Address already in use" not in self.log():
                break
        raise RedisLoadError(f"redis-server did not start: {self.log()[-500:]}")

    def _arguments(self) -> list[str]:
        return [
            "--bind", HOST,
            "--port", str(self.port),
            "--dir", str(self.directory),
            "--dbfilename", self.dump.name,
            "--logfile", str(self.directory / "redis.log"),
            "--save", "",
            "--appendonly", "no",
            "--protected-mode", "yes",
            "--daemonize", "no",
        ]  # fmt: skip

    def _answers(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                if command(self.port, "PING", timeout=1.0) == "PONG":
                    return True
            except (OSError, RedisError):  # not listening yet, or still loading
                pass
            time.sleep(0.02)
        return False

    def log(self) -> str:
        path = self.directory / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def save_to(self, target: Path) -> None:
        """The data as of now, as an RDB file at ``target``."""
        command(self.port, "SAVE")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.dump, target)

    def merge_from(self, other: RedisServer) -> None:
        """Copy every key of ``other`` into this server, replacing keys of the same name."""
        cursor = "0"
        while True:
            cursor, keys = command(other.port, "SCAN", cursor, "COUNT", 1000)
            if keys:
                command(other.port, "MIGRATE", HOST, self.port, "", 0, 5000, "COPY", "REPLACE",
                        "KEYS", *keys)  # fmt: skip
            if cursor == "0":
                return

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # SIGTERM: redis exits; with no save rules it writes nothing
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class RedisLoadError(Exception):
    """A server that did not come up: most often an RDB file it cannot load."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# --- the sandbox's clusters and snapshots (process-wide, like moto's state) -------------------

_servers: dict[Key, RedisServer] = {}
_snapshots: dict[Key, Path] = {}
_roots: set[Path] = set()


def _area(root: Path, region: str, kind: str) -> Path:
    area = root / "memorydb" / region / kind
    area.mkdir(parents=True, exist_ok=True)
    _roots.add(root / "memorydb")
    return area


def start_cluster(root: Path, key: Key, seeds: list[bytes]) -> RedisServer:
    """A running server for cluster ``key``, holding the union of ``seeds`` (RDB files).

    ``RedisLoadError`` when a seed cannot be loaded (nothing is left running then).
    """
    clusters = _area(root, key[1], "clusters")
    server = RedisServer(clusters / f"{key[2]}-{uuid.uuid4().hex[:8]}", seeds[0] if seeds else None)
    server.start()
    try:
        for seed in seeds[1:]:
            helper = RedisServer(clusters / f"seed-{uuid.uuid4().hex[:8]}", seed).start()
            try:
                server.merge_from(helper)
            finally:
                helper.stop()
                shutil.rmtree(helper.directory, ignore_errors=True)
    except BaseException:
        server.stop()
        raise
    stop_cluster(key)
    _servers[key] = server
    return server


def server_of(key: Key) -> RedisServer | None:
    return _servers.get(key)


def stop_cluster(key: Key) -> None:
    """Stop the cluster's server, if it has one (its files stay until ``stop_all``)."""
    server = _servers.pop(key, None)
    if server is not None:
        server.stop()


def take_snapshot(root: Path, cluster: Key, snapshot: Key) -> None:
    """The snapshot's RDB file is the cluster's data now; no file if it has no server."""
    server = _servers.get(cluster)
    _snapshots.pop(snapshot, None)
    if server is not None:
        path = _area(root, snapshot[1], "snapshots") / f"{snapshot[2]}-{uuid.uuid4().hex[:8]}.rdb"
        server.save_to(path)
        _snapshots[snapshot] = path


def copy_snapshot(root: Path, source: Key, target: Key) -> None:
    path = _snapshots.get(source)
    _snapshots.pop(target, None)
    if path is not None:
        copied = _area(root, target[1], "snapshots") / f"{target[2]}-{uuid.uuid4().hex[:8]}.rdb"
        shutil.copyfile(path, copied)
        _snapshots[target] = copied


def snapshot_rdb(snapshot: Key) -> bytes | None:
    """The snapshot's RDB file, or None when it was taken of a cluster with no server."""
    path = _snapshots.get(snapshot)
    return path.read_bytes() if path is not None else None


def forget_snapshot(snapshot: Key) -> None:
    path = _snapshots.pop(snapshot, None)
    if path is not None:
        path.unlink(missing_ok=True)


def running_ports() -> list[int]:
    """The ports of every cluster's running server (for checks that nothing is left)."""
    return sorted(server.port for server in _servers.values() if server.running)


def stop_all() -> None:
    """Stop every server and remove every cluster's and snapshot's files."""
    while _servers:
        _servers.popitem()[1].stop()
    _snapshots.clear()
    for root in list(_roots):
        shutil.rmtree(root, ignore_errors=True)
    _roots.clear()


# A process that ends without stopping its sandbox (an interrupted test run) still
# stops its servers; one killed outright cannot, and leaves them running.
atexit.register(stop_all)
