"""Real data behind the sandbox's RDS instances (``AwsSandbox.real_data``), for ``rds.py``.

With ``real_data`` on, every PostgreSQL instance the sandbox serves, created or
restored, is a real server (``postgres_server.PostgresServer``) on 127.0.0.1:

- its ``Endpoint`` is ``127.0.0.1`` and the server's own port;
- its master password: a created instance's is its ``MasterUserPassword``,
  with no secret; with ``ManageMasterUserPassword`` a random one, kept in a
  Secrets Manager secret as RDS keeps managed master passwords
  (``MasterUserSecret.SecretArn`` names it, the secret string is
  ``{"username", "password"}``). A restored instance has the password its copy
  holds (the source's at that moment) and no secret, as RDS restores a
  PostgreSQL instance (``ManageMasterUserPassword`` on a restore is Oracle's
  only); ``ModifyDBInstance(ManageMasterUserPassword=True)`` gives any
  instance a new random password in a new secret;
- WAL is archived continuously; ``CreateDBSnapshot`` (and a final snapshot) is
  a ``pg_basebackup`` taken during the call, so it holds what was committed
  before the call returned; a restore from it starts a new server from a copy;
- ``RestoreDBInstanceToPointInTime`` forces the source's WAL out (a marker
  commit and a segment switch), copies the newest base backup that was
  consistent before the requested time and replays the source's archive to
  ``recovery_target_time`` (exclusive: what was committed before it), then
  promotes. ``UseLatestRestorableTime`` replays the whole archive;
- ``LatestRestorableTime`` (and the automated backups' window) is the moment
  before which every commit was archived, as of the sandbox's last forced
  archive, done when asked and at most once a second per instance (PostgreSQL's
  own ``archive_timeout`` of 1 s archives in between). A commit whose timestamp
  was taken a few microseconds before that moment but whose record was written
  after the switch is the one imprecision left;
- deleting the instance archives and stops its server; its files go when the
  instance is gone, and every server stops at ``reset`` and ``stop``.

Instances are known by moto's object (a rename keeps it; moto's point-in-time
restore copies the source's ``DbiResourceId``, so that cannot), snapshots by ARN.
An instance created with ``real_data`` off, or of another engine, has no server;
nor has a restore whose source has none.
"""

from __future__ import annotations

import atexit
import json
import secrets
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from moto.rds.models import DBInstance, DBSnapshot, MasterUserSecret

from sandbox.aws.context import current
from sandbox.aws.postgres_server import (
    ADMIN,
    PostgresServer,
    copy_tree,
    make_template,
    own_dir,
)

REFRESH = timedelta(seconds=1)  # at most one forced archive a second, per instance


@dataclass
class BaseBackup:
    path: Path
    consistent_at: datetime  # a recovery can stop at any time after this


@dataclass
class RealInstance:
    server: PostgresServer
    base_backups: list[BaseBackup] = field(default_factory=list)
    latest_archived: datetime | None = None


class RdsData:
    """Every real server and snapshot of the running sandbox, under one temporary folder.

    Its own folder under /tmp, not the sandbox's: the ``postgres`` user must reach it.
    """

    def __init__(self) -> None:
        self.root = own_dir(Path(tempfile.mkdtemp(prefix="ue-backup-rds-")))
        self.template = self.root / "template"
        self.instances: dict[int, tuple[DBInstance, RealInstance]] = {}  # by id(instance)
        self.snapshots: dict[str, Path] = {}  # by snapshot ARN

    def new_server(self) -> PostgresServer:
        return PostgresServer(self.root / "i" / uuid.uuid4().hex[:12])

    def new_folder(self, kind: str) -> Path:
        own_dir(self.root / kind)
        return self.root / kind / uuid.uuid4().hex[:12]

    def from_template(self) -> PostgresServer:
        if not self.template.exists():
            make_template(self.template)
        server = self.new_server()
        copy_tree(self.template, server.data)
        return server

    def close(self) -> None:
        for _, real in self.instances.values():
            real.server.stop()
        self.instances.clear()
        shutil.rmtree(self.root, ignore_errors=True)


_lock = threading.Lock()
_store: RdsData | None = None


def _data() -> RdsData:
    global _store
    with _lock:
        if _store is None:
            _store = RdsData()
        return _store


def stop_all() -> None:
    """Stop every server and forget every file (the sandbox's ``reset`` and ``stop``)."""
    global _store
    with _lock:
        store, _store = _store, None
    if store is not None:
        store.close()


atexit.register(stop_all)  # no server outlives the process, even without a clean stop


def _real(instance: DBInstance) -> RealInstance | None:
    found = _store.instances.get(id(instance)) if _store else None
    return found[1] if found and found[0] is instance else None


def _wanted(instance: DBInstance) -> bool:
    return current().real_data and str(instance.engine).startswith("postgres")


def admin_login(port: int) -> dict[str, Any] | None:
    """How the sandbox's administrator reaches the server on ``port`` (psycopg2 keywords).

    For the tests' own oracles (``sandbox.workload``): a restored copy has no
    secret, and a test that reads it must not need the password a check reads.
    """
    for _, real in _store.instances.values() if _store else ():
        if real.server.running and real.server.port == port:
            return {"host": str(real.server.socket), "port": port, "user": ADMIN}
    return None


# --- instances ---------------------------------------------------------------------------


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def created(instance: DBInstance, password: str | None, *, managed: bool = False) -> None:
    """A new instance (``CreateDBInstance``): an empty cluster with its master user.

    Its password is ``password`` (``MasterUserPassword``, no secret), or, ``managed``
    (``ManageMasterUserPassword``), a random one kept in its own secret, as RDS does.

    The template it is copied from, cleanly shut down, is its first base backup:
    the instance's archive holds all WAL written since.
    """
    if not _wanted(instance):
        return
    store = _data()
    server = store.from_template()
    real = RealInstance(server, [BaseBackup(store.template, datetime.now(UTC))])
    store.instances[id(instance)] = (instance, real)
    server.start()
    master = _quoted(instance.master_username)
    server.query(f"CREATE ROLE {master} LOGIN CREATEDB CREATEROLE")
    server.query(f"ALTER DATABASE postgres OWNER TO {master}")
    if instance.db_name and instance.db_name != "postgres":
        server.query(f"CREATE DATABASE {_quoted(instance.db_name)} OWNER {master}")
    if managed:
        _serve(instance, real, secrets.token_urlsafe(18))
    else:
        server.query(f"ALTER ROLE {master} PASSWORD %s", password or "")
        _point(instance, real)


def _serve(instance: DBInstance, real: RealInstance, password: str) -> None:
    """Point the instance at its server, and its master password's secret at ``password``."""
    _point(instance, real)
    _manage_password(instance, real, password)


def _point(instance: DBInstance, real: RealInstance) -> None:
    """The instance's endpoint is its server's; all it committed so far is restorable."""
    instance.port = real.server.port
    instance.Endpoint = {"Address": "127.0.0.1", "Port": real.server.port}
    _archived(real, real.server.archive_now())


def _manage_password(instance: DBInstance, real: RealInstance, password: str) -> None:
    """The master user's password becomes ``password``, kept in the instance's own secret."""
    real.server.query(f"ALTER ROLE {_quoted(instance.master_username)} PASSWORD %s", password)
    secret = instance.__dict__.get("master_user_secret")
    if secret is None or secret.resource is not instance:
        secret = MasterUserSecret(instance, None)
        instance.master_user_secret = secret
    instance.manage_master_user_password = True
    instance.backend.secretsmanager.put_secret_value(
        secret.secret_arn,
        json.dumps({"username": instance.master_username, "password": password}),
        None,
        None,
        ["AWSCURRENT"],
    )


def password_managed(instance: DBInstance) -> None:
    """``ModifyDBInstance(ManageMasterUserPassword=True)``: RDS makes a new password and
    keeps it in a new secret (moto made the secret; the server learns the password)."""
    real = _real(instance)
    if real is not None and real.server.running:
        _manage_password(instance, real, secrets.token_urlsafe(18))


def _archived(real: RealInstance, moment: datetime) -> None:
    real.latest_archived = moment


def latest_restorable_time(instance: DBInstance) -> datetime | None:
    """The last archived moment (archived again first when a second old); None: no server."""
    real = _real(instance)
    if real is None:
        return None
    if real.server.running and (
        real.latest_archived is None or datetime.now(UTC) - real.latest_archived >= REFRESH
    ):
        _archived(real, real.server.archive_now())
    instance.LatestRestorableTime = real.latest_archived
    return real.latest_archived


def deleting(instance: DBInstance) -> None:
    """``DeleteDBInstance``: archive what is left, stop the server (files kept until gone)."""
    real = _real(instance)
    if real is not None and real.server.running:
        _archived(real, real.server.archive_now(marker=True))
        real.server.stop()


def gone(instance: DBInstance) -> None:
    """The deleted instance is gone: forget its server's files."""
    real = _real(instance)
    if real is not None:
        del _data().instances[id(instance)]
        real.server.stop()
        shutil.rmtree(real.server.home, ignore_errors=True)


# --- snapshots ---------------------------------------------------------------------------


def snapshot_taken(instance: DBInstance, snapshot: DBSnapshot) -> None:
    """``CreateDBSnapshot``: a base backup now, kept as the snapshot and as a PITR base."""
    real = _real(instance)
    if real is None or not real.server.running:
        return
    store = _data()
    path = store.new_folder("s")
    real.server.base_backup(path)
    store.snapshots[snapshot.db_snapshot_arn] = path
    base = store.new_folder("b")
    copy_tree(path, base, links=True)  # the snapshot may be deleted; the base stays
    real.base_backups.append(BaseBackup(base, datetime.now(UTC)))


def snapshot_copied(source: DBSnapshot, copy: DBSnapshot) -> None:
    """``CopyDBSnapshot``: the copy holds the same files (hard links: neither changes)."""
    path = _store.snapshots.get(source.db_snapshot_arn) if _store else None
    if path is not None:
        target = _data().new_folder("s")
        copy_tree(path, target, links=True)
        _data().snapshots[copy.db_snapshot_arn] = target


def snapshot_deleted(snapshot: DBSnapshot) -> None:
    path = _store.snapshots.pop(snapshot.db_snapshot_arn, None) if _store else None
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


# --- restores ----------------------------------------------------------------------------


def restored_from_snapshot(snapshot: DBSnapshot, instance: DBInstance) -> None:
    """A new server from a copy of the snapshot, as it was at the snapshot's moment."""
    path = _store.snapshots.get(snapshot.db_snapshot_arn) if _store else None
    if path is None or not _wanted(instance):
        _unserved(instance)
        return
    store = _data()
    server = store.new_server()
    copy_tree(path, server.data)
    _start_restored(store, instance, server, None)


def archive_source(source: DBInstance) -> None:
    """Before a point-in-time restore: archive all WAL, with a commit after this moment.

    Every time up to now is then restorable, and a recovery to any of them finds
    a commit after it where to stop (PostgreSQL refuses to end a recovery short
    of its target).
    """
    real = _real(source)
    if real is not None and real.server.running:
        _archived(real, real.server.archive_now(marker=True))


def restored_to_point_in_time(
    source: DBInstance, instance: DBInstance, restore_time: datetime, use_latest: bool
) -> None:
    """A new server: the newest base backup before ``restore_time``, the archive replayed."""
    real = _real(source)
    if real is None or not _wanted(instance):
        _unserved(instance)
        return
    bases = [b for b in real.base_backups if b.consistent_at < restore_time] or real.base_backups
    store = _data()
    server = store.new_server()
    copy_tree(bases[-1].path, server.data)
    (server.data / "backup_label.old").unlink(missing_ok=True)
    recovery = {"restore_command": f"cp {real.server.archive}/%f %p"}
    if not use_latest and restore_time < (real.latest_archived or restore_time):
        recovery |= {
            "recovery_target_time": restore_time.astimezone(UTC).isoformat(),
            "recovery_target_inclusive": "off",
            "recovery_target_action": "promote",
        }
    _start_restored(store, instance, server, recovery)


def _start_restored(
    store: RdsData, instance: DBInstance, server: PostgresServer, recovery: dict[str, str] | None
) -> None:
    """Start the restored copy and take its first base backup.

    Its master password is the one the copy holds (the source's at the restored
    moment), and it has no managed secret: RDS offers ``ManageMasterUserPassword``
    on a restore from a snapshot or to a point in time only for Oracle, so a
    PostgreSQL copy gets one only from a later ``ModifyDBInstance``.
    """
    real = RealInstance(server)
    store.instances[id(instance)] = (instance, real)
    server.start(recovery)
    base = store.new_folder("b")
    server.base_backup(base)
    real.base_backups.append(BaseBackup(base, datetime.now(UTC)))
    instance.__dict__.pop("master_user_secret", None)
    instance.manage_master_user_password = False
    _point(instance, real)


def _unserved(instance: DBInstance) -> None:
    """No server: nothing a restore copied from its source's ``__dict__`` may say otherwise."""
    for name in ("Endpoint", "LatestRestorableTime"):
        instance.__dict__.pop(name, None)
