"""Restores verified at the application level, end to end (issue 16).

One installation with real data stores (a PostgreSQL server behind RDS, a
redis-server behind MemoryDB) and the sandbox's workload writing linked state
(a file, a key, then the row naming them) before, during (until the cold
window opens) and after one backup. Its configuration's ``verification``
section checks the workload's schema (``verification_support``).

Then: the drill and a side-by-side ``ue_restore`` each restore the set and
their ``check_application`` passes, every reference found, and the workload's
own oracle (``dangling``) agrees there is nothing missing. A plan forced to
break rule 1 (the database after the disk) is caught by the same checks, naming
missing files and keys; in place, the caught restore leaves the ECDs disabled,
alerts once, and keeps the replaced live data aside. The in-place test replaces
the live system, so it runs last.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from sandbox.airflow_harness.dag_runner import FAST, run_dag, write_config
from sandbox.aws.network import add_mount_targets
from sandbox.installation import NAMESPACE, seed_installation
from sandbox.workload import Workload, dangling
from tests.dags.restore_support import tree
from tests.dags.verification_support import (
    CHECK_NAMES,
    SAMPLE,
    VERIFICATION,
    check_results,
    database_after_disk,
    oracle_at_check,
)
from tests.plugins.alerts_support import alert_topic
from tests.plugins.test_app_checks import tools  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("tools")]

# Short enough for a test, long enough that the restores overlap the polling pace.
DURATIONS = {"rds_instance": 0.3, "memorydb_cluster": 0.3, "restore_job": 0.3}


def wait_rows(sandbox, workload: Workload, more_than: int, timeout: float = 20.0) -> None:
    sandbox.k8s.wait_until(lambda: workload.rows_written > more_than, timeout=timeout)


@pytest.fixture(scope="module")
def world(sandbox_session, tmp_path_factory):
    """One installation, its workload written through one backup; the workload stopped after.

    The rows written after the backup (the ECDs run again once its cold window
    closes) are what a database restored past the disk's point names and the
    restored disk and cache lack.
    """
    sandbox = sandbox_session
    sandbox.reset()
    sandbox.aws.real_data = True
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in sandbox.connection_env().items():
                patch.setenv(name, value)
            sandbox.durations.update(**DURATIONS)
            # TLS off: the real-data redis-server speaks plain RESP (and so must the checks)
            inst = seed_installation(sandbox, "ue-test", memorydb_tls=False)
            rds = sandbox.client("rds")
            rds.get_waiter("db_instance_available").wait(
                DBInstanceIdentifier=inst.rds_instance, WaiterConfig={"Delay": 0.1}
            )
            sandbox.k8s.wait_until(
                lambda: (
                    sandbox.client("memorydb").describe_clusters(ClusterName=inst.memorydb_cluster)[
                        "Clusters"
                    ][0]["Status"]
                    == "available"
                )
            )
            add_mount_targets(sandbox, inst.file_system_id)  # restored side by side too
            inst.config["cold_window"]["drain_timeout_minutes"] = 0.05
            inst.config["verification"] = VERIFICATION
            write_config(inst.config, tmp_path_factory.mktemp("verification"), patch)
            workload = Workload(sandbox, inst).start()
            try:
                wait_rows(sandbox, workload, 20)  # before
                result = run_dag("ue_backup")  # during, until the window opens
                assert result.state == "success", result.tasks
                at_backup = workload.rows_written
                wait_rows(sandbox, workload, at_backup + 20)  # after
            finally:
                workload.stop()
            assert workload.counts["errors"] == 0, workload.last_error
            backup_set = result.xcom("manifest")["backup_set"]
            yield sandbox, inst, backup_set, workload
    finally:
        sandbox.aws.real_data = False
        sandbox.reset()


@pytest.fixture
def sandbox(world, monkeypatch):
    """This module's sandbox (shared), a fresh mutation log, no faults, the short durations.

    The sandbox's pace also while tasks run (the harness sets it for parsing only): the
    check step reads it when it waits for RDS to make a copy's managed password.
    """
    sandbox = world[0]
    for name, value in {**sandbox.connection_env(), **FAST}.items():
        monkeypatch.setenv(name, value)
    sandbox.log.clear()
    sandbox.faults.clear()
    sandbox.durations.update(**DURATIONS)
    return sandbox


@pytest.fixture
def installation(world):
    return world[1]


@pytest.fixture
def backup_set(world):
    return world[2]


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def logged(capfd, caplog) -> str:
    out, err = capfd.readouterr()
    return out + err + caplog.text


def assert_every_check_passed(entry: dict, summary: dict, oracle: dict) -> None:
    """Every configured check ran and passed (the report's ``verification`` entry says so,
    with the task's results); the reference checks saw what the oracle saw."""
    assert entry["status"] == "passed", entry
    assert entry["results"] == summary["results"]
    assert entry["seconds"] == summary["seconds"] >= 0
    results = check_results(summary)
    assert list(results) == CHECK_NAMES, results
    assert all(ok for ok, _, _ in results.values()), results
    assert (entry["passed"], entry["failed"]) == (len(CHECK_NAMES), 0)
    assert oracle["dangling"] == 0, oracle
    # the checks looked for exactly the references the oracle counted (rows and keys)
    _, paths, _ = results["efs_references"]
    _, keys, _ = results["redis_references"]
    assert paths > 20
    assert keys > 0
    assert paths + keys == oracle["references"]


# --- a consistent restore passes -------------------------------------------------------------


def test_the_drill_restores_the_set_and_every_application_check_passes(
    sandbox, installation, backup_set, monkeypatch
):
    seen = oracle_at_check(sandbox, monkeypatch)

    result = run_dag("ue_restore_drill")

    assert result.state == "success", result.tasks
    assert result.tasks["check_application"] == "success", result.tasks
    report = result.xcom("report")
    assert report["backup_set"] == backup_set
    assert report["outcome"] == "passed"
    assert list(seen) == ["check_application"]
    check = seen["check_application"]  # the restored system as the check started
    drill = result.xcom("prepare")
    assert check["target"][0] == drill["rds_target"]
    assert check["target"][2] == drill["memorydb_target"]
    assert check["target"][1] != installation.file_system_id
    summary = result.xcom("check_application")
    assert_every_check_passed(report["verification"], summary, check["found"])
    # the checks' time is reported apart from the RTO, which ends before they start
    assert report["rto_seconds"]["total"] == pytest.approx(
        at(report["verified_at"]) - at(report["started_at"]), abs=0.01
    )
    assert at(report["verified_at"]) <= check["started"]


def test_a_side_by_side_restore_passes_its_checks_and_reports_them(
    sandbox, installation, backup_set, monkeypatch
):
    seen = oracle_at_check(sandbox, monkeypatch)

    result = run_dag("ue_restore", {"mode": "restore"})

    assert result.state == "success", result.tasks
    assert result.tasks["check_application"] == "success", result.tasks
    report = result.xcom("report")
    assert report["backup_set"] == backup_set
    restored = report["restored"]
    assert list(seen) == ["check_application"]
    check = seen["check_application"]
    assert check["target"] == (
        restored["database"],
        restored["efs_file_system_id"],
        restored["memorydb_cluster"],
    )
    summary = result.xcom("check_application")
    assert_every_check_passed(report["verification"], summary, check["found"])
    # the restore is kept: the oracle finds the same after the run
    again = dangling(sandbox, *check["target"])
    assert again == check["found"]


# --- a restore that breaks rule 1 is caught ----------------------------------------------------


def assert_caught(summary: dict, found: dict) -> None:
    """The reference checks failed, naming files and keys the oracle also finds missing."""
    results = {r["name"]: r for r in summary["results"]}
    efs, keys = results["efs_references"], results["redis_references"]
    assert not efs["ok"], summary
    assert not keys["ok"], summary
    assert efs["missing"] == len(found["missing_files"]) > 0, (efs, found)
    assert keys["missing"] == len(found["missing_keys"]) > 0, (keys, found)
    assert set(efs["sample"]) <= set(found["missing_files"])
    assert set(keys["sample"]) <= set(found["missing_keys"])
    assert len(efs["sample"]) == min(SAMPLE, efs["missing"])
    assert summary["failed"] >= 2


def test_a_restore_whose_database_is_newer_than_its_disk_fails_its_checks(
    sandbox, installation, monkeypatch, capfd, caplog
):
    forced = database_after_disk(monkeypatch)
    seen = oracle_at_check(sandbox, monkeypatch)

    result = run_dag("ue_restore", {"mode": "restore"})

    assert result.state == "failed", result.tasks
    assert result.tasks["check_application"] == "failed", result.tasks
    assert forced["database"]["time"] > forced["disk"]["time"]
    assert list(seen) == ["check_application"]
    check = seen["check_application"]
    found = check["found"]
    assert found["dangling"] > 0, found  # the oracle agrees the restore is broken
    summary = result.xcom("check_application")
    assert_caught(summary, found)
    log = logged(capfd, caplog)
    efs = next(r for r in summary["results"] if r["name"] == "efs_references")
    assert f"efs_references: {efs['missing']} of {efs['count']} missing, e.g. [" in log
    assert found["missing_files"][0] in log or efs["sample"][0] in log
    assert "redis_references:" in log
    # the restore exists: its report still says what it is, with the failed checks in it
    assert result.tasks["report"] == "success", result.tasks
    assert result.tasks["run_outcome"] == "failed", result.tasks
    report = result.xcom("report")
    assert report["verification"]["status"] == "failed"
    assert report["verification"]["failed"] == summary["failed"]
    bucket, key = report["location"].removeprefix("s3://").split("/", 1)
    kept = json.loads(sandbox.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert kept["verification"]["status"] == "failed"


def test_an_in_place_restore_that_fails_its_checks_keeps_the_workflows_off(
    sandbox, installation, monkeypatch, tmp_path, capfd, caplog
):
    """Database and EFS in place, the database newer than the disk: the check after
    place_efs fails, resume_workflows refuses naming it, one alert, the replaced data kept."""
    topic = alert_topic(sandbox)
    write_config(
        {**installation.config, "alerts": {"sns_topic_arn": topic.topic_arn}}, tmp_path, monkeypatch
    )
    forced = database_after_disk(monkeypatch)
    seen = oracle_at_check(sandbox, monkeypatch)

    result = run_dag(
        "ue_restore",
        {
            "mode": "restore",
            "target": "in_place",
            "confirm": installation.name,
            "components": ["database", "efs", "velero"],
        },
    )

    assert result.state == "failed", result.tasks
    for step in ("commit_point", "switch_over_database", "place_efs"):
        assert result.tasks[step] == "success", result.tasks
    assert result.tasks["check_application"] == "failed", result.tasks
    assert result.tasks["resume_workflows"] == "failed", result.tasks
    assert forced["database"]["time"] > forced["disk"]["time"]
    # checked against what was then live: the restored instance under the live name
    assert list(seen) == ["check_application"]
    check = seen["check_application"]
    assert check["target"][:2] == (installation.rds_instance, installation.file_system_id)
    assert check["found"]["missing_files"], check["found"]
    # the workflows stay off: resuming onto inconsistent data would be worse
    ecds = {e["metadata"]["name"]: e for e in sandbox.k8s.list("ecdeployments", NAMESPACE)}
    assert set(ecds) == set(installation.ecds)
    assert {n: e["spec"]["enabled"] for n, e in ecds.items()} == dict.fromkeys(ecds, False)
    assert [sandbox.k8s.ecd_pods(NAMESPACE, ecd) for ecd in ecds] == [[]] * len(ecds)
    summary = result.xcom("check_application")
    efs = next(r for r in summary["results"] if r["name"] == "efs_references")
    assert not efs["ok"], summary
    assert efs["missing"] == len(check["found"]["missing_files"]), (efs, check["found"])
    named = f"efs_references: {efs['missing']} of {efs['count']} missing, e.g. {efs['sample']}"
    held = result.xcom("resume_workflows", key="summary")
    assert named in held
    assert "NOT resumed" in held
    assert named in logged(capfd, caplog)
    (alert,) = topic.messages()  # loud, once: the held resume's, naming the check
    assert alert["subject"] == "ue-backup ue-test: ue_restore failed at resume_workflows"
    assert named in alert["message"]
    # what was live is kept aside: the newer files, and the instance under another name
    aside = [k for k in tree(installation.efs_path(sandbox)) if k.startswith("ue-backup-replaced_")]
    assert any("/aggregation/" in k for k in aside)
    rds = sandbox.client("rds")
    names = {i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]}
    assert any(n.startswith(f"{installation.rds_instance}-replaced-") for n in names)
