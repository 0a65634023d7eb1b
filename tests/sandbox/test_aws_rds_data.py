"""RDS with real data (the sandbox's ``real_data``): a PostgreSQL server per instance.

Numbered, time-stamped rows written for a while, then a point-in-time restore and a
snapshot restore, each checked by the rows the restored server holds; the managed
master password's secret logs in; deleting an instance or resetting the sandbox
stops its server; with ``real_data`` off nothing is started.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import psycopg2
import pytest

from sandbox.aws import rds_data
from sandbox.aws.fixtures import aws, create_db_instance, real_data, wait_until  # noqa: F401


def available(rds, name: str) -> dict:
    return wait_until(
        lambda: rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0],
        lambda i: i["DBInstanceStatus"] == "available",
        timeout=30,
    )[-1]


def connect(aws, instance: dict, password: str | None = None, login_of: dict | None = None):  # noqa: F811
    """Log in as the master user with the password its secret holds (or ``password``).

    A restored copy has no secret: ``login_of`` names the instance whose secret holds
    its password (the source's, unchanged since the restored moment).
    """
    arn = (login_of or instance)["MasterUserSecret"]["SecretArn"]  # in its region
    secret = aws.client("secretsmanager", region=arn.split(":")[3]).get_secret_value(SecretId=arn)
    login = json.loads(secret["SecretString"])
    endpoint = instance["Endpoint"]
    assert endpoint["Address"] == "127.0.0.1"  # a real server (never a name to look up)
    connection = psycopg2.connect(
        host=endpoint["Address"],
        port=endpoint["Port"],
        user=login["username"],
        password=password or login["password"],
        dbname="ue",
        connect_timeout=5,
    )
    connection.autocommit = True
    return connection


def rows(aws, instance: dict, login_of: dict | None = None) -> list[int]:  # noqa: F811
    with connect(aws, instance, login_of=login_of) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT n FROM rows ORDER BY n")
        return [n for (n,) in cursor.fetchall()]


class Writer(threading.Thread):
    """Inserts rows 1, 2, ... one transaction each; when each insert began and returned."""

    def __init__(self, connection) -> None:
        super().__init__(daemon=True)
        self.connection = connection
        self.began: dict[int, datetime] = {}
        self.committed: dict[int, datetime] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        with self.connection.cursor() as cursor:
            n = 0
            while not self.stopping.is_set():
                n += 1
                self.began[n] = datetime.now(UTC)
                cursor.execute("INSERT INTO rows (n) VALUES (%s)", (n,))
                self.committed[n] = datetime.now(UTC)
                time.sleep(0.01)

    def stop(self) -> None:
        self.stopping.set()
        self.join()

    def committed_before(self, moment: datetime) -> list[int]:
        return sorted(n for n, at in self.committed.items() if at < moment)

    def begun_after(self, moment: datetime) -> list[int]:
        return sorted(n for n, at in self.began.items() if at > moment)


@pytest.fixture
def live(real_data):  # noqa: F811
    """A real instance ``ue-db`` with a table ``rows``; (rds client, its description)."""
    rds = real_data.client("rds")
    create_db_instance(
        rds, "ue-db", BackupRetentionPeriod=7, DBName="ue", ManageMasterUserPassword=True
    )
    instance = available(rds, "ue-db")
    with connect(real_data, instance) as connection, connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE rows"
            " (n int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())"
        )
    return rds, instance


def test_a_point_in_time_restore_holds_exactly_the_rows_committed_before_its_time(
    real_data,  # noqa: F811
    live,
):
    rds, instance = live
    writer = Writer(connect(real_data, instance))
    writer.start()
    time.sleep(1.5)  # more than one archive_timeout: several WAL segments archived
    target = datetime.now(UTC)
    time.sleep(1.0)
    writer.stop()

    rds.restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier="ue-db",
        TargetDBInstanceIdentifier="ue-db-pitr",
        RestoreTime=target,
    )
    restored = available(rds, "ue-db-pitr")

    expected = writer.committed_before(target)
    assert len(expected) > 20  # rows on both sides of it
    assert writer.begun_after(target)
    held = rows(real_data, restored, login_of=instance)
    assert held[: len(expected)] == expected  # every row committed before T
    assert not set(held) & set(writer.begun_after(target))  # none begun after T
    assert held == list(range(1, len(held) + 1))  # and nothing out of order: a prefix
    with (
        connect(real_data, restored, login_of=instance) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT max(at) FROM rows")
        assert cursor.fetchone()[0] < target  # exactly: the server's own commit times
    assert restored["Endpoint"]["Port"] != instance["Endpoint"]["Port"]
    latest = rds.describe_db_instances(DBInstanceIdentifier="ue-db")["DBInstances"][0]
    assert latest["LatestRestorableTime"] >= writer.committed[max(writer.committed)]


def test_a_snapshot_restore_holds_exactly_the_rows_of_the_snapshots_moment(
    real_data,  # noqa: F811
    live,
):
    rds, instance = live
    writer = Writer(connect(real_data, instance))
    writer.start()
    time.sleep(0.5)
    called = datetime.now(UTC)
    rds.create_db_snapshot(DBInstanceIdentifier="ue-db", DBSnapshotIdentifier="set-1")
    returned = datetime.now(UTC)
    time.sleep(0.5)
    writer.stop()
    rds.get_waiter("db_snapshot_available").wait(
        DBSnapshotIdentifier="set-1", WaiterConfig={"Delay": 0.05}
    )

    rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="ue-db-snap", DBSnapshotIdentifier="set-1"
    )
    held = rows(real_data, available(rds, "ue-db-snap"), login_of=instance)

    assert set(writer.committed_before(called)) <= set(held)
    assert not set(held) & set(writer.begun_after(returned))
    assert held == list(range(1, len(held) + 1))
    assert len(rows(real_data, instance)) > len(held)  # the live one went on


def test_the_master_user_secret_holds_the_password_that_logs_in(real_data):  # noqa: F811
    rds = real_data.client("rds")
    create_db_instance(rds, "ue-db", DBName="ue", ManageMasterUserPassword=True)
    instance = available(rds, "ue-db")

    assert instance["Endpoint"]["Address"] == "127.0.0.1"
    assert instance["MasterUserSecret"]["SecretArn"].startswith("arn:aws:secretsmanager:")
    with connect(real_data, instance) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT current_user, inet_server_addr()")
        assert cursor.fetchone() == ("mz", "127.0.0.1")
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        connect(real_data, instance, password="not-the-password")


def test_an_instance_made_with_a_password_has_no_secret_and_that_password_logs_in(
    real_data,  # noqa: F811
):
    rds = real_data.client("rds")
    create_db_instance(rds, "ue-plain", DBName="ue")  # MasterUserPassword password1
    instance = available(rds, "ue-plain")
    assert "MasterUserSecret" not in instance  # as RDS: only a managed password has one
    endpoint = instance["Endpoint"]
    login = {"host": endpoint["Address"], "port": endpoint["Port"], "user": "mz", "dbname": "ue"}
    psycopg2.connect(**login, password="password1", connect_timeout=5).close()
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(**login, password="not-the-password", connect_timeout=5)


def test_a_restored_copy_has_no_secret_until_rds_is_asked_to_manage_its_password(
    real_data,  # noqa: F811
    live,
):
    """As RDS restores PostgreSQL: the copy keeps the source's password and gets no secret
    (ManageMasterUserPassword on a restore is Oracle's only); a ModifyDBInstance gives it
    a new password in its own secret."""
    rds, instance = live
    rds.create_db_snapshot(DBInstanceIdentifier="ue-db", DBSnapshotIdentifier="set-1")
    rds.get_waiter("db_snapshot_available").wait(
        DBSnapshotIdentifier="set-1", WaiterConfig={"Delay": 0.05}
    )
    rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="ue-db-snap", DBSnapshotIdentifier="set-1"
    )
    copy = available(rds, "ue-db-snap")
    assert "MasterUserSecret" not in copy
    connect(real_data, copy, login_of=instance).close()  # the source's password logs in

    rds.modify_db_instance(
        DBInstanceIdentifier="ue-db-snap", ManageMasterUserPassword=True, ApplyImmediately=True
    )
    managed = available(rds, "ue-db-snap")
    assert managed["MasterUserSecret"]["SecretArn"] != instance["MasterUserSecret"]["SecretArn"]
    connect(real_data, managed).close()  # its own secret logs in
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        connect(real_data, managed, login_of=instance)  # the source's password no longer
    connect(real_data, instance).close()  # and the source is untouched


def test_deleting_the_instance_stops_its_server_and_reset_stops_the_rest(real_data):  # noqa: F811
    rds = real_data.client("rds")
    create_db_instance(rds, "ue-db", DBName="ue", ManageMasterUserPassword=True)
    create_db_instance(rds, "ue-other", DBName="ue", ManageMasterUserPassword=True)
    deleted, other = available(rds, "ue-db"), available(rds, "ue-other")
    connect(real_data, deleted).close()

    rds.delete_db_instance(DBInstanceIdentifier="ue-db", SkipFinalSnapshot=True)

    with pytest.raises(psycopg2.OperationalError, match="refused"):
        connect(real_data, deleted)
    connect(real_data, other).close()
    real_data.reset()
    with pytest.raises(psycopg2.OperationalError, match="refused"):
        psycopg2.connect(host="127.0.0.1", port=other["Endpoint"]["Port"], user="mz")
    assert rds_data._store is None


def test_without_real_data_nothing_is_started(aws):  # noqa: F811
    rds = aws.client("rds")
    create_db_instance(rds, "ue-db", DBName="ue")
    instance = available(rds, "ue-db")

    assert instance["Endpoint"]["Address"] != "127.0.0.1"  # moto's made-up host name
    assert "MasterUserSecret" not in instance
    assert rds_data._store is None


def test_a_copy_of_a_snapshot_in_another_region_restores_the_same_rows(real_data, live):  # noqa: F811
    rds, instance = live
    with connect(real_data, instance) as connection, connection.cursor() as cursor:
        cursor.execute("INSERT INTO rows (n) SELECT generate_series(1, 5)")
    snapshot = rds.create_db_snapshot(DBInstanceIdentifier="ue-db", DBSnapshotIdentifier="set-1")
    rds.get_waiter("db_snapshot_available").wait(
        DBSnapshotIdentifier="set-1", WaiterConfig={"Delay": 0.05}
    )
    far = real_data.client("rds", region="us-east-1")

    far.copy_db_snapshot(
        SourceDBSnapshotIdentifier=snapshot["DBSnapshot"]["DBSnapshotArn"],
        TargetDBSnapshotIdentifier="set-1-copy",
        SourceRegion=real_data.region,
    )
    far.get_waiter("db_snapshot_available").wait(
        DBSnapshotIdentifier="set-1-copy", WaiterConfig={"Delay": 0.05}
    )
    rds.delete_db_snapshot(DBSnapshotIdentifier="set-1")  # the copy keeps its files
    far.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="ue-db-far", DBSnapshotIdentifier="set-1-copy"
    )

    assert rows(real_data, available(far, "ue-db-far"), login_of=instance) == [1, 2, 3, 4, 5]
