"""The DAGs on a real Airflow deployment: scheduler, triggerer, LocalExecutor, PostgreSQL.

Runs with ``make itest`` (and in CI through ``.ci/run``). Runs are triggered
through the REST API with the params the UI's form sends; deferred waits go
through the real triggerer; results are checked in the sandbox.
"""

from __future__ import annotations

import pytest

from tests.deploy.stack import BACKUP_FORM, RESTORE_FORM, deployment
from tests.include import iam, rbac
from tests.include.recorder import Recording
from tests.include.support import ACCOUNT, grants_for, policy_for
from tests.sandbox.faults import Fault
from tests.sandbox.installation import LIVE_FILES, NAMESPACE, TEMPORARY_FILES

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
