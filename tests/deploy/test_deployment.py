"""The DAGs on a real Airflow deployment: scheduler, triggerer, LocalExecutor, PostgreSQL.

Runs with ``make itest`` (and in CI through ``.ci/run``). Runs are triggered
through the REST API with the params the UI's form sends; deferred waits go
through the real triggerer; results are checked in the sandbox.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from sandbox.airflow_harness.stack import BACKUP_FORM, RESTORE_FORM, AirflowStack, deployment
from sandbox.faults import Fault
from sandbox.installation import LIVE_FILES, NAMESPACE, TEMPORARY_FILES
from tests.include import iam, rbac
from tests.include.recorder import Recording
from tests.include.support import ACCOUNT, grants_for, policy_for
from tests.plugins.alerts_support import AlertTopic, alert_topic

pytestmark = pytest.mark.deploy

DURATIONS = {"backup_job": 4, "rds_snapshot": 3, "memorydb_snapshot": 2, "velero": 2}
BACKUP = {**BACKUP_FORM, "reason": "deployment test"}


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    env = {"UE_BACKUP_POLL_SECONDS": "1", "UE_BACKUP_RETRY_DELAY_SECONDS": "2"}
    with deployment(tmp_path_factory.mktemp("deployment"), "ue-deploy", DURATIONS, env) as parts:
        yield parts


def ecds_enabled(sandbox) -> dict[str, bool]:
    return {
        e["metadata"]["name"]: e["spec"]["enabled"]
        for e in sandbox.k8s.list("ecdeployments", NAMESPACE)
    }


def test_backup_runs_on_a_real_deployment_with_deferred_waits(deployed):
    stack, sandbox, installation = deployed
    run_id = stack.trigger("ue_backup", BACKUP)
    run = stack.wait_run("ue_backup", run_id)
    states = stack.task_states("ue_backup", run_id)
    assert run["state"] == "success", states
    assert ecds_enabled(sandbox) == dict.fromkeys(installation.ecds, True)
    manifest = stack.xcom("ue_backup", run_id, "manifest")
    assert manifest["verification"]["result"] == "passed"
    # the long waits were handed to the triggerer, not held in worker slots (the drain is
    # checked inline for its first seconds, and the sandbox's drains take less)
    for sensor in ("wait_efs_backup", "wait_rds_snapshot", "wait_velero_backup"):
        assert "Trigger fired event" in stack.trigger_log("ue_backup", run_id, sensor), sensor
    # the wait closing the window ended in the triggerer: no worker start before resume
    assert_ended_in_the_triggerer(stack, "ue_backup", run_id, "wait_efs_backup")


def test_the_backup_catalog_page_serves_what_ue_backup_rpo_recorded(deployed):
    """The plugin in the real api-server: ue_backup_rpo refreshes the catalog, the page and
    its JSON serve it (the api-server itself lists nothing), the view is in the navigation."""
    import urllib.request

    stack, _, installation = deployed
    stack.dag_ready("ue_backup_rpo")
    run_id = stack.trigger("ue_backup_rpo")
    run = stack.wait_run("ue_backup_rpo", run_id)
    assert run["state"] == "success", stack.task_states("ue_backup_rpo", run_id)
    assert stack.task_states("ue_backup_rpo", run_id)["refresh_catalog"] == "success"
    catalog = stack.request("GET", "/ue-backup-catalog/api/catalog")
    assert catalog["run_id"] == run_id
    newest = catalog["sets"][0]
    assert newest["verified"] is True
    assert newest["restore"]["home"]["restorable"] is True
    url = f"http://127.0.0.1:{stack.port}/ue-backup-catalog/?request_type=latest"
    with urllib.request.urlopen(url, timeout=30) as answer:
        page = answer.read().decode()
    assert f"Backup catalog: {installation.name}" in page
    assert f'data-set-id="{newest["id"]}" id="newest-set"' in page
    assert 'data-testid="plan-table"' in page
    assert 'data-testid="restore-action"' in page  # all admins here: may trigger ue_restore
    plugins = stack.request("GET", "/api/v2/plugins")["plugins"]
    [ours] = [p for p in plugins if p["name"] == "ue_backup_catalog"]
    assert ours["external_views"][0]["url_route"] == "backup-catalog"
    assert "ue_backup_catalog" not in str(stack.get("/api/v2/plugins/importErrors") or {})


def assert_ended_in_the_triggerer(stack, dag_id: str, run_id: str, task_id: str) -> None:
    """The trigger ended the task, and no worker ran it again after it deferred."""
    assert "the task ends here, in the triggerer" in stack.trigger_log(dag_id, run_id, task_id)
    worker_log = next(
        (stack.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}").glob(
            "attempt=*.log"
        )
    ).read_text()
    assert worker_log.count("Pre Execute") <= 1, worker_log[-2000:]


def test_restore_plans_then_restores_side_by_side(deployed):
    stack, sandbox, _ = deployed
    plan_id = stack.trigger("ue_restore", RESTORE_FORM)
    assert stack.wait_run("ue_restore", plan_id)["state"] == "success"
    plan = stack.xcom("ue_restore", plan_id, "plan")["plan"]
    assert plan["database"]["time"] < plan["disk"]["time"]
    assert not plan["rejected"] or all(r["reason"] for r in plan["rejected"])

    restore_id = stack.trigger("ue_restore", {**RESTORE_FORM, "mode": "restore"})
    run = stack.wait_run("ue_restore", restore_id)
    assert run["state"] == "success", stack.task_states("ue_restore", restore_id)
    report = stack.xcom("ue_restore", restore_id, "report")
    # the long wait ended in the triggerer; the short ones (mount targets up in 0.3 s, Jobs
    # on a small tree) were done in the worker before any trip through the triggerer
    assert_ended_in_the_triggerer(stack, "ue_restore", restore_id, "wait_efs")
    for short in ("wait_efs_mount_targets", "purge_efs", "check_efs_clean", "place_efs"):
        assert stack.trigger_log("ue_restore", restore_id, short) == "", short
    restored = sandbox.aws.efs_path(report["restored"]["efs_file_system_id"])
    files = {p.relative_to(restored).as_posix() for p in restored.rglob("*") if p.is_file()}
    assert set(LIVE_FILES) <= files
    assert not files & set(TEMPORARY_FILES)


def test_a_run_marked_failed_by_hand_still_resumes_the_workflows(deployed):
    stack, sandbox, _ = deployed
    sandbox.faults.add(Fault("backup", "StartBackupJob", kind="never"))
    try:
        run_id = stack.trigger("ue_backup", BACKUP)
        stack.wait_for(
            lambda: stack.task_states("ue_backup", run_id).get("wait_efs_backup") == "deferred",
            180,
            "the EFS wait to be deferred",
        )
        assert not any(ecds_enabled(sandbox).values())  # inside the cold window
        stack.mark_failed("ue_backup", run_id)
        stack.wait_for(
            lambda: stack.task_states("ue_backup", run_id).get("resume_workflows") == "success",
            120,
            "the teardown to resume the workflows",
        )
    finally:
        sandbox.faults.clear()
    sandbox.k8s.wait_until(lambda: all(ecds_enabled(sandbox).values()), timeout=10)
    assert stack.wait_run("ue_backup", run_id)["state"] == "failed"
    assert stack.task_states("ue_backup", run_id)["run_outcome"] == "failed"


# --- the watchdog beside a live backup --------------------------------------------------------

EFS_JOB_SECONDS = 25  # the EFS job alone outlasts the short window below
SHORT_WINDOW = {"drain_timeout_minutes": 0.1, "max_window_minutes": 0.2}  # 6 s, 12 s
WATCHDOG_TASK = "resume_expired_suspensions"


def write_config(stack: AirflowStack, config: dict) -> None:
    """The installation file every task reads at run time (UE_BACKUP_CONFIG_FILE).

    Replaced whole, never rewritten in place: a task or a parse reading it meanwhile
    sees the old file or the new one, never a half-written one.
    """
    path = Path(stack.env["UE_BACKUP_CONFIG_FILE"])
    staged = path.with_suffix(".staged")
    staged.write_text(yaml.safe_dump(config))
    staged.replace(path)


@pytest.fixture(scope="module")
def alerts(deployed) -> AlertTopic:
    """An alert topic read through SQS. From here on the installation alerts to it, and the
    IAM check at the end renders the policy with it (so it covers the sns:Publish too)."""
    stack, sandbox, installation = deployed
    topic = alert_topic(sandbox, "ue-deploy-alerts")
    installation.config["alerts"] = {"sns_topic_arn": topic.topic_arn}
    write_config(stack, installation.config)
    return topic


@contextlib.contextmanager
def cold_window(stack: AirflowStack, installation, **changes: float) -> Iterator[None]:
    """The configuration's cold_window section changed for a while, then as it was."""
    window = installation.config["cold_window"]
    before = dict(window)
    window.update(changes)
    write_config(stack, installation.config)
    try:
        yield
    finally:
        window.clear()
        window.update(before)
        write_config(stack, installation.config)


def watchdog_round(stack: AirflowStack) -> dict:
    """One run of ue_backup_watchdog, triggered as by hand; returns what it did."""
    run_id = stack.trigger("ue_backup_watchdog")
    run = stack.wait_run("ue_backup_watchdog", run_id, timeout=90)
    if run["state"] != "success":
        folder = stack.home / "logs" / "dag_id=ue_backup_watchdog" / f"run_id={run_id}"
        logs = "".join(p.read_text(errors="replace") for p in folder.rglob("*.log"))
        raise AssertionError(f"watchdog run {run_id} {run['state']}:\n{logs[-3000:]}")
    return stack.xcom("ue_backup_watchdog", run_id, WATCHDOG_TASK)


def test_the_watchdog_leaves_a_backup_running_past_its_window_alone_and_alerts_once(
    deployed, alerts
):
    """The EFS job outlasts max_window_minutes while the watchdog runs again and again.

    The watchdog asks the real Task SDK for the backup run's state (an enum there):
    the run is live, so the ECDs stay off until the job ends, one overdue alert goes
    out, nothing is resumed behind the run's back, and the set verifies.
    """
    stack, sandbox, installation = deployed
    backup = sandbox.client("backup")
    alerts.messages()  # only what this test causes
    began = time.time()
    stack.dag_ready("ue_backup_watchdog")
    sandbox.durations.update(backup_job=EFS_JOB_SECONDS)
    try:
        with cold_window(stack, installation, **SHORT_WINDOW):
            run_id = stack.trigger("ue_backup", BACKUP)
            stack.wait_for(
                lambda: stack.task_states("ue_backup", run_id).get("efs_backup") == "success",
                180,
                "the EFS job to start",
            )
            job_id = stack.xcom("ue_backup", run_id, "efs_backup")["job_id"]

            def job_running() -> bool:
                state = backup.describe_backup_job(BackupJobId=job_id)["State"]
                return state in ("CREATED", "RUNNING")

            rounds = []  # (what the watchdog did, the ECDs after it) while the job ran
            until = time.monotonic() + EFS_JOB_SECONDS + 30
            while job_running() and len(rounds) < 20 and time.monotonic() < until:
                outcome = watchdog_round(stack)
                if job_running():
                    rounds.append((outcome, ecds_enabled(sandbox)))
            run = stack.wait_run("ue_backup", run_id)
    finally:
        sandbox.durations.update(backup_job=DURATIONS["backup_job"])
        stack.request("PATCH", "/api/v2/dags/ue_backup_watchdog", {"is_paused": True})

    states = stack.task_states("ue_backup", run_id)
    live_run = f"ue_backup/{run_id}"
    # the watchdog ran while the job did, left the live run's ECDs off each time, and met
    # the run past its deadline several times (reported overdue, not resumed)
    for outcome, enabled in rounds:
        assert outcome["resumed"] == {}, f"the watchdog resumed the ECDs of a live run: {outcome}"
        assert not any(enabled.values()), f"ECDs on while the EFS job ran: {enabled}"
    overdue = [outcome["overdue"] for outcome, _ in rounds if outcome["overdue"]]
    assert len(overdue) >= 2, rounds
    assert all(o == dict.fromkeys(installation.ecds, live_run) for o in overdue), overdue
    # ... so no ECD was switched back on before the EFS job had completed, past the deadline
    completed = backup.describe_backup_job(BackupJobId=job_id)["CompletionDate"]
    opened = stack.xcom("ue_backup", run_id, "suspend_workflows")
    assert datetime.fromisoformat(opened["resume_deadline"]) < completed, opened
    enable = [
        m
        for m in sandbox.log.entries("k8s", "patch")
        if m.detail.get("enabled") is True and m.at > began
    ]
    assert len(enable) == len(installation.ecds), enable
    assert completed.timestamp() < min(m.at for m in enable)
    assert ecds_enabled(sandbox) == dict.fromkeys(installation.ecds, True)

    # one overdue alert, however many watchdog runs saw the window open; no resume alert
    subjects = [a["subject"] for a in alerts.messages()]
    owner = stack.xcom("ue_backup", run_id, "preflight")["backup_set"]
    assert [s for s in subjects if "cold window overdue" in s] == [
        f"ue-backup cold window overdue in {NAMESPACE}: {owner}"
    ], subjects
    assert not [s for s in subjects if "watchdog resumed" in s], subjects

    # and the set verifies: the run, the manifest in S3, the marks on its artifacts
    assert run["state"] == "success", states
    location = stack.xcom("ue_backup", run_id, "manifest")["location"]
    bucket, _, key = location.removeprefix("s3://").partition("/")
    stored = json.loads(sandbox.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert stored["verification"]["result"] == "passed", stored["verification"]
    assert stored["cold_window"]["state"] == "intact"
    assert artifact_marks(sandbox, stack, run_id) == {
        "rds": ("passed", "intact"),
        "efs": ("passed", "intact"),
    }


def artifact_marks(sandbox, stack: AirflowStack, run_id: str) -> dict[str, tuple[str, str]]:
    """(ue-backup:verified, ue-backup:window) on the run's RDS snapshot and recovery point."""
    snapshot_id = stack.xcom("ue_backup", run_id, "rds_snapshot")["id"]
    (snapshot,) = sandbox.client("rds").describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)[
        "DBSnapshots"
    ]
    point = stack.xcom("ue_backup", run_id, "efs_backup")["recovery_point_arn"]
    tags = {
        "rds": {t["Key"]: t["Value"] for t in snapshot["TagList"]},
        "efs": sandbox.client("backup").list_tags(ResourceArn=point)["Tags"],
    }
    return {
        kind: (found.get("ue-backup:verified"), found.get("ue-backup:window"))
        for kind, found in tags.items()
    }


def test_every_request_of_the_deployment_is_allowed_by_the_policy_and_the_rbac(deployed):
    """Last in the module: what the real Airflow processes asked AWS and Kubernetes for,
    against the IAM policy and the RBAC rendered for this installation (include/)."""
    _, sandbox, installation = deployed
    requests = [
        {**entry.as_dict(), "test": "tests/deploy", "config": 0}
        for entry in sandbox.requests.entries(caller="system")
    ]
    recording = Recording(requests, [installation.config])
    aws = [r for r in requests if r["api"] == "aws"]
    k8s = [r for r in requests if r["api"] == "k8s"]
    assert aws, "the deployment made no AWS request: is the sandbox's request log on?"
    assert k8s, "the deployment made no Kubernetes request"
    denied = iam.evaluate(aws, policy_for(recording), set(), ACCOUNT).denied
    assert not denied, sorted({d.describe() for d in denied})
    assert not rbac.evaluate(k8s, grants_for(recording), []).denied
