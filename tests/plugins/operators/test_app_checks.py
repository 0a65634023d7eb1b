"""AppChecksOperator end to end: a restored system checked from a Job, in a real DAG run.

The sandbox's ``real_data`` puts a real PostgreSQL server behind RDS (the
restored instance comes from a snapshot, as RDS restores it: without a secret)
and a real redis-server behind MemoryDB; the Job's pod runs the rendered
script with /bin/sh, psql and redis-cli on this machine, the restored EFS
mounted. A tiny DAG (``airflow.sdk``) runs the operator with ``dag.test``,
the deferral through its trigger as a deployment's triggerer would.

Each run is checked for what it leaves: the results in XCom, the password
nowhere but in the Secret (not the task log, the Job, its pod, XCom), and
neither the Job nor its Secret once the task ended, passed or failed.
Marked ``e2e``: the requests it makes are part of the recording the IAM
policy and the RBAC are checked against (``tests/include``).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from sandbox.airflow_harness.dag_runner import RunResult, _short_idle, write_config
from sandbox.aws.fixtures import aws, real_data, wait_until  # noqa: F401
from sandbox.aws.network import add_mount_targets
from sandbox.aws.resp import command
from tests.plugins.test_app_checks import tools  # noqa: F401
from ue_backup.config import parse_config
from ue_backup.tasks.restore_steps import restore_id

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("tools")]


NS = "uepe"
INSTALLATION = "ue-test"
RID = restore_id(INSTALLATION, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
RESTORED_DB = f"{RID}-db"
RESTORED_CLUSTER = f"{RID}-agg"
JOB = f"{RID}-checks"
SESSIONS = [
    (1, "aggregation/session-1/state.bin", "session:1"),
    (2, "aggregation/session 2/it's state.bin", "session:2"),
    (3, "duplicate-udr/wf-rating/index.db", "session:3"),
]
VERIFICATION = {
    "sql_checks": [
        {"name": "sessions-present", "query": "SELECT id FROM sessions", "expect": "rows"},
        {
            "name": "enough-sessions",
            "query": "SELECT count(*) FROM sessions",
            "expect": {"op": ">=", "value": 3},
        },
    ],
    "reference_checks": {
        "efs_paths_query": "SELECT file_path FROM sessions ORDER BY id",
        "redis_keys_query": "SELECT redis_key FROM sessions ORDER BY id",
        "sample": 2,
    },
}


@dataclass
class Restored:
    """What a restore made; ``password()``, the restored database's (to look for it)."""

    file_system_id: str
    efs: Path
    redis_port: int
    sandbox_aws: Any
    config: dict

    def password(self) -> str:
        """The restored copy's managed password: made by RDS when the checks asked for it."""
        rds = self.sandbox_aws.client("rds")
        instance = rds.describe_db_instances(DBInstanceIdentifier=RESTORED_DB)["DBInstances"][0]
        return _login(self.sandbox_aws, instance)["password"]


def _login(sandbox_aws, instance: dict) -> dict:
    arn = instance["MasterUserSecret"]["SecretArn"]
    secrets = sandbox_aws.client("secretsmanager", region=arn.split(":")[3])
    secret = secrets.get_secret_value(SecretId=arn)
    return json.loads(secret["SecretString"])


def _sql(instance: dict, login: dict, *statements: tuple) -> None:
    endpoint = instance["Endpoint"]
    with (
        psycopg2.connect(
            host=endpoint["Address"],
            port=endpoint["Port"],
            user=login["username"],
            password=login["password"],
            dbname="ue",
            connect_timeout=5,
        ) as connection,
        connection.cursor() as cursor,
    ):
        for statement, *args in statements:
            cursor.execute(statement, args)


def _available(rds, name: str) -> dict:
    return wait_until(
        lambda: rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0],
        lambda i: i["DBInstanceStatus"] == "available",
        timeout=30,
    )[-1]


@pytest.fixture
def restored(sandbox, real_data, tmp_path, monkeypatch, fast) -> Restored:  # noqa: F811
    """A live instance with linked rows, restored from its snapshot; the restored cluster
    and file system holding every key and file the rows name; the configuration in force."""
    rds = real_data.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier=f"{INSTALLATION}-db",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="platform",
        ManageMasterUserPassword=True,
        AllocatedStorage=20,
        DBName="ue",
    )
    live = _available(rds, f"{INSTALLATION}-db")
    _sql(
        live,
        _login(real_data, live),
        ("CREATE TABLE sessions (id int PRIMARY KEY, file_path text, redis_key text)",),
        *(("INSERT INTO sessions VALUES (%s, %s, %s)", *s) for s in SESSIONS),
    )
    rds.create_db_snapshot(DBInstanceIdentifier=f"{INSTALLATION}-db", DBSnapshotIdentifier="set-1")
    rds.get_waiter("db_snapshot_available").wait(
        DBSnapshotIdentifier="set-1", WaiterConfig={"Delay": 0.05}
    )
    rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier=RESTORED_DB, DBSnapshotIdentifier="set-1"
    )
    # as RDS restores PostgreSQL: the source's password, no managed secret of its own
    assert "MasterUserSecret" not in _available(rds, RESTORED_DB)

    real_data.durations.update(memorydb_cluster=0.05)
    memorydb = real_data.client("memorydb")
    memorydb.create_cluster(
        ClusterName=RESTORED_CLUSTER, NodeType="db.t4g.small", ACLName="open-access"
    )
    cluster = wait_until(
        lambda: memorydb.describe_clusters(ClusterName=RESTORED_CLUSTER)["Clusters"][0],
        lambda c: c["Status"] == "available",
    )[-1]
    port = cluster["ClusterEndpoint"]["Port"]
    fs = real_data.create_file_system("restored")
    add_mount_targets(real_data, fs, zones=("a",))  # the check Job mounts it through one
    efs = real_data.efs_path(fs)
    for _, path, key in SESSIONS:
        (efs / path).parent.mkdir(parents=True, exist_ok=True)
        (efs / path).write_text("state")
        assert command(port, "SET", key, "state") == "OK"

    config = {
        "installation": INSTALLATION,
        "region": real_data.region,
        "database": {"engine": "rds", "rds_instance_identifier": f"{INSTALLATION}-db"},
        "efs": {
            "file_system_id": fs,
            "backup_method": "aws_backup",
            "aws_backup": {
                "vault_name": f"{INSTALLATION}-vault",
                "iam_role_arn": "arn:aws:iam::123456789012:role/ue-backup-aws-backup",
            },
        },
        "memorydb": {"cluster_name": f"{INSTALLATION}-agg"},
        "kubernetes": {
            "namespace": NS,
            "ecd_selection": {"label_selector": "app.kubernetes.io/part-of=usage-engine"},
        },
        "manifests": {"bucket": f"{INSTALLATION}-manifests"},
        "verification": VERIFICATION,
    }
    write_config(config, tmp_path, monkeypatch)  # in force for the request recorder
    return Restored(fs, efs, port, real_data, config)


def run_checks(restored: Restored, dag_id: str, **login: Any) -> RunResult:
    """One DAG run of one AppChecksOperator task against the restored system.

    ``login``: how it logs in (by default, as side by side: the copy is given a managed
    password)."""
    from airflow.sdk import DAG

    from ue_backup.operators.app_checks import AppChecksOperator

    verification = parse_config(restored.config).verification
    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC)) as dag:
        AppChecksOperator(
            task_id="app_checks",
            namespace=NS,
            job_name=JOB,
            verification=verification,
            db_instance_identifier=RESTORED_DB,
            **(login or {"manage_password": True}),
            memorydb_cluster_name=RESTORED_CLUSTER,
            redis_tls=False,  # the sandbox's redis-server speaks plain RESP
            file_system_id="{{ params.fs }}",
            params={"fs": restored.file_system_id},
            poke_interval=0.2,
        )
    _register(dag)
    with _short_idle():
        run = dag.test()
    tasks = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    return RunResult(state=str(run.state), tasks=tasks, run=run)


def _register(dag) -> None:
    """Write the test's DAG to the metadata database as the DAG processor would.

    ``dag.test`` runs only a DAG some bundle holds; this one lives in the test, so it
    is recorded under the DAG folder's bundle (which ``dag.test`` then re-syncs)."""
    from airflow.dag_processing.collection import update_dag_parsing_results_in_db
    from airflow.serialization.serialized_objects import LazyDeserializedDAG
    from airflow.utils.session import create_session

    with create_session() as session:
        update_dag_parsing_results_in_db(
            "dags-folder", None, [LazyDeserializedDAG.from_dag(dag)], {}, None, set(), session
        )


def created(sandbox, since: int) -> dict[str, list[dict]]:
    """Every object the run created, by resource (from the store's event history)."""
    found: dict[str, list[dict]] = {}
    for event in sandbox.k8s.store.events_after(since):
        if event.type == "ADDED":
            found.setdefault(event.rt.plural, []).append(event.obj)
    return found


def logged(capfd, caplog) -> str:
    out, err = capfd.readouterr()
    return out + err + caplog.text


def assert_nothing_left(sandbox) -> None:
    assert sandbox.k8s.get("jobs", NS, JOB) is None
    assert sandbox.k8s.get("secrets", NS, JOB) is None
    sandbox.k8s.wait_until(lambda: not sandbox.k8s.list("pods", NS, f"job-name={JOB}"))


def test_a_consistent_restore_passes_every_check_and_leaves_no_credential(
    sandbox, restored, capfd, caplog
):
    since = sandbox.k8s.store.resource_version
    result = run_checks(restored, "app_checks_pass")

    assert (result.state, result.tasks) == ("success", {"app_checks": "success"})
    report = result.xcom("app_checks")
    assert [(r["name"], r["ok"], r["count"], r["missing"]) for r in report["results"]] == [
        ("sessions-present", True, 3, 0),
        ("enough-sessions", True, 1, 0),
        ("efs_references", True, 3, 0),
        ("redis_references", True, 3, 0),
    ]
    assert (report["passed"], report["failed"], report["job"]) == (4, 0, JOB)
    assert 0 <= report["seconds"] < 60
    log = logged(capfd, caplog)
    # the verification table: check, result, count, seconds
    assert re.search(r"efs_references +ok +3 +\d+\.\d{3}", log)
    assert re.search(r"redis_references +ok +3 +\d+\.\d{3}", log)

    objects = created(sandbox, since)
    (job,) = objects["jobs"]
    (secret,) = objects["secrets"]
    # the Job first, then its Secret, owned by it; only the password in it
    assert secret["metadata"]["ownerReferences"] == [
        {"apiVersion": "batch/v1", "kind": "Job", "name": JOB, "uid": job["metadata"]["uid"]}
    ]
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == {
        "PGPASSWORD": restored.password()
    }
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {
        "name": "PGPASSWORD",
        "valueFrom": {"secretKeyRef": {"name": JOB, "key": "PGPASSWORD"}},
    } in env
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    for text in (
        log,
        json.dumps(objects["jobs"]),
        json.dumps(objects.get("pods", [])),
        json.dumps(report),
    ):
        assert restored.password() not in text
    assert_nothing_left(sandbox)


def test_a_missing_file_and_key_fail_the_task_naming_them(sandbox, restored, capfd, caplog):
    (restored.efs / SESSIONS[1][1]).unlink()
    assert command(restored.redis_port, "DEL", SESSIONS[2][2]) == 1

    result = run_checks(restored, "app_checks_fail")

    assert (result.state, result.tasks) == ("failed", {"app_checks": "failed"})
    log = logged(capfd, caplog)
    assert "2 of 4 application check(s) failed" in log
    assert f"efs_references: 1 of 3 missing, e.g. [{SESSIONS[1][1]!r}]" in log
    assert f"redis_references: 1 of 3 missing, e.g. [{SESSIONS[2][2]!r}]" in log
    report = result.xcom("app_checks")  # pushed for the report, even though the task failed
    assert [(r["name"], r["ok"]) for r in report["results"]] == [
        ("sessions-present", True),
        ("enough-sessions", True),
        ("efs_references", False),
        ("redis_references", False),
    ]
    assert report["results"][2]["sample"] == [SESSIONS[1][1]]
    assert (report["passed"], report["failed"]) == (2, 2)
    assert restored.password() not in log + json.dumps(report)
    assert_nothing_left(sandbox)


STALE = {
    "name": "sessions-present",
    "kind": "sql",
    "ok": False,
    "count": 0,
    "missing": 0,
    "sample": [],
    "value": None,
    "error": None,
    "seconds": 0.0,
}


def test_a_retry_replaces_what_an_earlier_try_left_and_reads_only_its_own_job(
    sandbox, restored, capfd, caplog
):
    """An earlier try killed before its cleanup left its Job (finished, a failed result in
    its pod's log) and its Secret: the retry deletes both, runs its own Job, and judges
    that Job's log alone."""
    stale_line = "UE-CHECK " + json.dumps(STALE)
    sandbox.k8s.create(
        "jobs",
        {
            "metadata": {"name": JOB},
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [
                            {"name": "checks", "image": "x", "command": ["echo", stale_line]}
                        ],
                    }
                },
            },
        },
        NS,
    )
    sandbox.k8s.create(
        "secrets", {"metadata": {"name": JOB}, "stringData": {"PGPASSWORD": "old"}}, NS
    )
    sandbox.k8s.wait_until(
        lambda: (sandbox.k8s.get("jobs", NS, JOB).get("status") or {}).get("succeeded")
    )
    (old_pod,) = sandbox.k8s.list("pods", NS, f"job-name={JOB}")
    assert sandbox.k8s.pod_log(NS, old_pod["metadata"]["name"]).startswith("UE-CHECK")

    result = run_checks(restored, "app_checks_retry")

    assert (result.state, result.tasks) == ("success", {"app_checks": "success"}), logged(
        capfd, caplog
    )[-3000:]
    assert [r["ok"] for r in result.xcom("app_checks")["results"]] == [True] * 4
    assert_nothing_left(sandbox)


def test_after_an_in_place_restore_the_replaced_instance_lends_its_login(
    sandbox, restored, capfd, caplog
):
    """The live database keeps the password the platform has: no new one is made; the
    login of the instance it replaced (here the snapshot's source) logs the checks in."""
    result = run_checks(restored, "app_checks_in_place", login_instance=f"{INSTALLATION}-db")

    assert (result.state, result.tasks) == ("success", {"app_checks": "success"}), logged(
        capfd, caplog
    )[-3000:]
    rds = restored.sandbox_aws.client("rds")
    copy = rds.describe_db_instances(DBInstanceIdentifier=RESTORED_DB)["DBInstances"][0]
    assert "MasterUserSecret" not in copy  # its password was not changed
    assert_nothing_left(sandbox)


def test_a_copy_without_a_managed_password_is_refused_unless_it_may_get_one(
    sandbox, restored, capfd, caplog
):
    result = run_checks(restored, "app_checks_no_login", manage_password=False)

    assert (result.state, result.tasks) == ("failed", {"app_checks": "failed"})
    assert f"no managed master password to log the checks in to {RESTORED_DB}" in logged(
        capfd, caplog
    )
    assert sandbox.k8s.get("jobs", NS, JOB) is None  # refused before any Job
