"""The application checks' script, run for real: /bin/sh, psql, redis-cli, real servers.

The sandbox's ``real_data`` gives a real PostgreSQL server behind an RDS instance
(its password in the instance's secret) and a real redis-server behind a MemoryDB
cluster, both on 127.0.0.1; a temporary directory stands in for the EFS mount.
A small linked schema (sessions whose rows name a file and a key) is consistent,
then broken one way at a time, and the script must say so, naming what is missing.
The log parser and the renderer's refusals are tested without servers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

from sandbox.aws.fixtures import aws, create_db_instance, real_data, wait_until  # noqa: F401
from sandbox.aws.resp import command
from ue_backup.app_checks import (
    RESULT_PREFIX,
    CheckKind,
    ChecksLogError,
    parse_log,
    planned_checks,
    render_script,
)
from ue_backup.config import VerificationConfig


@pytest.fixture
def tools():
    """psql and redis-cli, which make test installs from Debian: missing is a failure, not a
    skip (a skipped check proves nothing)."""
    missing = [tool for tool in ("psql", "redis-cli") if not shutil.which(tool)]
    assert not missing, f"{missing} not installed: run make postgres redis"


needs_tools = pytest.mark.usefixtures("tools")

# Paths and keys with a space, a quote and a double quote: each must reach test -e and
# EXISTS exactly as the database holds it.
SESSIONS = [
    (1, "aggr/session-1.dat", "session:1"),
    (2, "aggr/it's session 2.dat", 'session:"2" two'),
    (3, "dup/index 3.idx", "session:3"),
]

CHECKS = {
    "sql_checks": [
        {"name": "sessions-present", "query": "SELECT id FROM sessions", "expect": "rows"},
        {
            # A quote and a newline in the query itself, and a $ psql must not touch.
            "name": "no-stuck-batches",
            "query": "SELECT id, note\nFROM batches\nWHERE note = 'it''s stuck'\n  AND '$x' = '$x'",
            "expect": "no_rows",
        },
        {
            "name": "enough-sessions",
            "query": "SELECT count(*) FROM sessions",
            "expect": {"op": ">=", "value": 3},
        },
    ],
    "reference_checks": {
        "efs_paths_query": "SELECT file_path FROM sessions ORDER BY id",
        "redis_keys_query": "SELECT redis_key\nFROM sessions -- every session's state\nORDER BY id",
        "sample": 2,
    },
}


@dataclass
class Restored:
    """A restored system as the check Job would see it: where things are, and the secret."""

    env: dict[str, str]
    password: str
    mount: Path
    redis_port: int

    def sql(self, statement: str, *args) -> None:
        with (
            psycopg2.connect(
                host=self.env["PGHOST"],
                port=self.env["PGPORT"],
                user=self.env["PGUSER"],
                password=self.password,
                dbname=self.env["PGDATABASE"],
                connect_timeout=5,
            ) as connection,
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, args)

    def run(self, script: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["/bin/sh", "-c", script],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.fixture
def restored(real_data, tmp_path) -> Restored:  # noqa: F811
    """An instance and a cluster with real servers, and an EFS directory, all consistent."""
    rds = real_data.client("rds")
    create_db_instance(rds, "ue-db", DBName="ue", ManageMasterUserPassword=True)
    instance = wait_until(
        lambda: rds.describe_db_instances(DBInstanceIdentifier="ue-db")["DBInstances"][0],
        lambda i: i["DBInstanceStatus"] == "available",
        timeout=30,
    )[-1]
    arn = instance["MasterUserSecret"]["SecretArn"]
    login = json.loads(
        real_data.client("secretsmanager", region=arn.split(":")[3]).get_secret_value(SecretId=arn)[
            "SecretString"
        ]
    )
    real_data.durations.update(memorydb_cluster=0.05)
    memorydb = real_data.client("memorydb")
    memorydb.create_cluster(ClusterName="ue-aggr", NodeType="db.t4g.small", ACLName="open-access")
    cluster = wait_until(
        lambda: memorydb.describe_clusters(ClusterName="ue-aggr")["Clusters"][0],
        lambda c: c["Status"] == "available",
    )[-1]
    assert instance["Endpoint"]["Address"] == cluster["ClusterEndpoint"]["Address"] == "127.0.0.1"

    system = Restored(
        env={
            "PATH": os.environ["PATH"],
            "PGHOST": "127.0.0.1",
            "PGPORT": str(instance["Endpoint"]["Port"]),
            "PGDATABASE": "ue",
            "PGUSER": login["username"],
            "PGPASSWORD": login["password"],
            "UE_CHECK_REDIS_HOST": "127.0.0.1",
            "UE_CHECK_REDIS_PORT": str(cluster["ClusterEndpoint"]["Port"]),
        },
        password=login["password"],
        mount=tmp_path / "efs",
        redis_port=cluster["ClusterEndpoint"]["Port"],
    )
    system.sql(
        "CREATE TABLE sessions"
        " (id int PRIMARY KEY, file_path text NOT NULL, redis_key text NOT NULL);"
        "CREATE TABLE batches (id int PRIMARY KEY, note text NOT NULL)"
    )
    for number, path, key in SESSIONS:
        system.sql("INSERT INTO sessions VALUES (%s, %s, %s)", number, path, key)
        (system.mount / path).parent.mkdir(parents=True, exist_ok=True)
        (system.mount / path).write_text("state")
        assert command(system.redis_port, "SET", key, "state") == "OK"
    system.sql("INSERT INTO batches VALUES (1, 'done')")
    return system


def results(done: subprocess.CompletedProcess[str]) -> dict[str, dict]:
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    return {r["name"]: r for r in (json.loads(line[len(RESULT_PREFIX) :]) for line in lines)}


@needs_tools
def test_every_check_passes_on_consistent_data_and_no_password_is_written(restored):
    verification = VerificationConfig.model_validate(CHECKS)
    script = render_script(verification, efs_mount=str(restored.mount))
    done = restored.run(script)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    assert restored.password not in script
    assert restored.password not in done.stdout
    parsed = parse_log(done.stdout, verification)
    assert [(r.name, r.kind, r.ok) for r in parsed] == [
        ("sessions-present", CheckKind.SQL, True),
        ("no-stuck-batches", CheckKind.SQL, True),
        ("enough-sessions", CheckKind.SQL, True),
        ("efs_references", CheckKind.EFS_PATHS, True),
        ("redis_references", CheckKind.REDIS_KEYS, True),
    ]
    by_name = {r.name: r for r in parsed}
    assert by_name["sessions-present"].count == 3
    assert by_name["enough-sessions"].value == "3"
    assert (by_name["efs_references"].count, by_name["efs_references"].missing) == (3, 0)
    assert (by_name["redis_references"].count, by_name["redis_references"].missing) == (3, 0)
    assert all(r.error is None and r.sample == [] and 0 <= r.seconds < 30 for r in parsed)


@needs_tools
def test_a_missing_file_a_missing_key_and_a_failed_expectation_each_fail_named(restored):
    for extra in range(4, 8):  # more missing than the sample names
        restored.sql(
            "INSERT INTO sessions VALUES (%s, %s, %s)", extra, f"aggr/gone {extra}", f"gone:{extra}"
        )
    (restored.mount / SESSIONS[1][1]).unlink()
    assert command(restored.redis_port, "DEL", SESSIONS[1][2]) == 1
    restored.sql("INSERT INTO batches VALUES (2, 'it''s stuck')")
    verification = VerificationConfig.model_validate(CHECKS)

    done = restored.run(render_script(verification, efs_mount=str(restored.mount)))

    assert done.returncode == 1, done.stdout + done.stderr
    found = results(done)
    assert found["sessions-present"]["ok"]
    assert found["enough-sessions"]["ok"]
    stuck = found["no-stuck-batches"]
    assert (stuck["ok"], stuck["count"], stuck["sample"]) == (False, 1, ["2|it's stuck"])
    efs = found["efs_references"]
    assert (efs["ok"], efs["count"], efs["missing"]) == (False, 7, 5)
    assert efs["sample"] == ["aggr/it's session 2.dat", "aggr/gone 4"]  # sample: 2
    keys = found["redis_references"]
    assert (keys["ok"], keys["count"], keys["missing"]) == (False, 7, 5)
    assert keys["sample"] == ['session:"2" two', "gone:4"]
    assert restored.password not in done.stdout + done.stderr


@needs_tools
def test_a_comparison_fails_on_a_smaller_value_and_on_a_value_that_is_no_number(restored):
    verification = VerificationConfig.model_validate(
        {
            "sql_checks": [
                {
                    "name": "too-few",
                    "query": "SELECT count(*) FROM sessions",
                    "expect": {"op": ">", "value": 3},
                },
                {"name": "text", "query": "SELECT 'three'", "expect": {"op": "==", "value": 3}},
                {
                    "name": "two-rows",
                    "query": "SELECT 1 UNION ALL SELECT 2",
                    "expect": {"op": "==", "value": 1},
                },
                {"name": "exact", "query": "SELECT 2.5", "expect": {"op": "==", "value": 2.5}},
            ]
        }
    )
    done = restored.run(render_script(verification))

    assert done.returncode == 1
    found = {r.name: r for r in parse_log(done.stdout, verification)}
    assert (found["too-few"].ok, found["too-few"].value, found["too-few"].error) == (
        False,
        "3",
        None,
    )
    assert (found["text"].ok, found["text"].error) == (False, "the value is not a number")
    assert found["two-rows"].error == "returned 2 rows; a comparison needs exactly one value"
    assert found["exact"].ok


@needs_tools
def test_unreachable_stores_fail_with_the_tools_reason_and_never_the_password(restored):
    verification = VerificationConfig.model_validate(CHECKS)
    script = render_script(verification, efs_mount=str(restored.mount / "not-mounted"))
    wrong = "wr0ng-" + restored.password
    done = restored.run(
        # psql's error names the user: with the password as user name too, the error
        # would carry it, and the script masks it.
        script,
        PGPASSWORD=wrong,
        PGUSER=wrong,
        REDISCLI_AUTH=restored.password,
    )

    assert done.returncode == 1
    found = results(done)
    assert 'password authentication failed for user "***"' in found["sessions-present"]["error"]
    assert found["efs_references"]["error"] == "the EFS mount is not a directory"
    assert wrong not in done.stdout + done.stderr
    assert restored.password not in done.stdout + done.stderr

    done = restored.run(
        script.replace(str(restored.mount / "not-mounted"), str(restored.mount)),
        UE_CHECK_REDIS_PORT="1",
    )
    keys = results(done)["redis_references"]
    assert not keys["ok"]
    assert "Could not connect" in keys["error"]


def test_a_tls_client_against_a_plain_server_fails_in_bounded_time(restored):
    """redis-cli --tls and a plain server wait for each other for ever: the check says so."""
    verification = VerificationConfig.model_validate(CHECKS)
    script = render_script(verification, efs_mount=str(restored.mount))
    started = time.monotonic()
    done = restored.run(script, UE_CHECK_REDIS_TLS="1", UE_CHECK_REDIS_WAIT="1")

    keys = results(done)["redis_references"]
    assert not keys["ok"]
    assert keys["error"] == (
        "no answer within 1 s: is TLS on (UE_CHECK_REDIS_TLS) as the cluster has it?"
    )
    assert time.monotonic() - started < 30


# --- without servers ------------------------------------------------------------


def test_the_script_quotes_every_value_and_refuses_an_efs_check_without_a_mount():
    verification = VerificationConfig.model_validate(CHECKS)
    script = render_script(verification, efs_mount="/mnt/efs with space")
    assert "'/mnt/efs with space'" in script
    assert (
        "'SELECT id, note\nFROM batches\nWHERE note = '\"'\"'it'\"'\"''\"'\"'s stuck'\"'\"'"
        in script
    )
    with pytest.raises(ValueError, match="needs efs_mount"):
        render_script(verification)
    assert render_script(VerificationConfig()).rstrip().endswith('exit "$ue_failed"')


def line(name: str, kind: str = "sql", **extra) -> str:
    return RESULT_PREFIX + json.dumps(
        {"name": name, "kind": kind, "ok": True, "count": 1, "seconds": 0.1, **extra}
    )


def test_the_log_gives_one_result_per_configured_check_in_order():
    verification = VerificationConfig.model_validate(CHECKS)
    assert [name for name, _ in planned_checks(verification)] == [
        "sessions-present",
        "no-stuck-batches",
        "enough-sessions",
        "efs_references",
        "redis_references",
    ]
    log = "\n".join(
        [
            "some other output",
            line("redis_references", "redis_keys", ok=False, missing=1, sample=["k"]),
            line("sessions-present"),
            line("no-stuck-batches"),
            line("enough-sessions", value="3"),
            line("efs_references", "efs_paths"),
        ]
    )
    parsed = parse_log(log, verification)
    assert [r.name for r in parsed] == [name for name, _ in planned_checks(verification)]
    assert (parsed[-1].ok, parsed[-1].missing, parsed[-1].sample) == (False, 1, ["k"])


@pytest.mark.parametrize(
    ("lines", "words"),
    [
        ([], "no result for check(s) ['sessions-present', 'no-stuck-batches'"),
        ([line("sessions-present")] * 2, "reported twice"),
        ([line("someone-else")], "'someone-else', not one configured"),
        ([line("efs_references", "sql")], "not one configured"),
        ([RESULT_PREFIX + "{not json"], "line 1 is not a check result"),
        ([line("sessions-present", count="many")], "line 1 is not a check result"),
    ],
    ids=["empty", "twice", "unknown", "wrong-kind", "not-json", "bad-field"],
)
def test_a_log_that_does_not_account_for_every_check_is_refused(lines, words):
    with pytest.raises(ChecksLogError, match="incomplete or invalid") as caught:
        parse_log("\n".join(lines), VerificationConfig.model_validate(CHECKS))
    assert words in str(caught.value)
