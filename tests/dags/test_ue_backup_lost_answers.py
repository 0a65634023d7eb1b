"""Issue 14, "a start call retried after such an error still creates exactly one job or
snapshot": starts that AWS (or Kubernetes) carried out while their answer was lost.

A 5xx answer or a connection dropped after the service acted: the snapshot,
job or Velero backup exists, but the caller saw an error. botocore retries
the call itself (and meets "already exists", or for AWS Backup the same
token), and when its attempts run out the task's retry runs the step again.
Either way the run ends verified with exactly one of each artifact, and each
start step adopts what its own call made (the set's tags say so) instead of
failing the try. The sandbox's ``lost`` fault serves each call and then
answers 500 ``InternalFailure``.
"""

from __future__ import annotations

import pytest

from sandbox.airflow_harness.dag_runner import RunResult, run_dag, write_config
from sandbox.faults import Fault
from sandbox.installation import seed_installation

pytestmark = pytest.mark.e2e

STARTS = {  # the start task, and the call it makes
    "rds_snapshot": ("rds", "CreateDBSnapshot"),
    "efs_backup": ("backup", "StartBackupJob"),
    "memorydb_snapshot": ("memorydb", "CreateSnapshot"),
    "velero_backup": ("k8s", "create"),
}
TARGETS = {"k8s": "velero/backups"}


def tries(result: RunResult) -> dict[str, int]:
    return {ti.task_id: ti.try_number for ti in result.run.get_task_instances()}


def artifacts(sandbox, installation) -> dict[str, list[str]]:
    """Every artifact of each kind in the sandbox, whatever made it."""
    rds = sandbox.client("rds").describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    jobs = sandbox.client("backup").list_backup_jobs()["BackupJobs"]
    points = sandbox.client("backup").list_recovery_points_by_backup_vault(
        BackupVaultName=installation.vault
    )["RecoveryPoints"]
    memorydb = sandbox.client("memorydb").describe_snapshots()["Snapshots"]
    return {
        "rds": [s["DBSnapshotIdentifier"] for s in rds],
        "backup jobs": [j["BackupJobId"] for j in jobs],
        "recovery points": [p["RecoveryPointArn"] for p in points],
        "memorydb": [s["Name"] for s in memorydb if s["Source"] == "manual"],
        "velero": [b["metadata"]["name"] for b in sandbox.k8s.list("backups", "velero")],
    }


@pytest.mark.parametrize(
    ("lost", "max_attempts", "start_tries", "statuses"),
    [
        # botocore's retry meets what the first call made, within the step's one try:
        # "already exists" (itself answered lost once more), or AWS Backup's same job
        pytest.param(
            2,
            25,
            1,
            {"rds": [500, 500, 400], "backup": [500, 500, 200], "memorydb": [500, 500, 400]},
            id="botocore-retries",
        ),
        # no retry by botocore: the lost answer fails the try, the task's retry finds the
        # snapshot (and asks no more) or starts with the same token (and gets the job)
        pytest.param(
            1, 1, 2, {"rds": [500], "backup": [500, 200], "memorydb": [500]}, id="task-retries"
        ),
    ],
)
def test_a_start_whose_answer_was_lost_still_makes_exactly_one_artifact(
    sandbox, tmp_path, monkeypatch, lost, max_attempts, start_tries, statuses
):
    installation = seed_installation(sandbox, "ue-test")
    installation.config["cold_window"]["drain_timeout_minutes"] = 0.05
    installation.config["aws_retries"] = {"mode": "standard", "max_attempts": max_attempts}
    write_config(installation.config, tmp_path, monkeypatch)
    for service, operation in STARTS.values():
        sandbox.faults.add(
            Fault(
                service,
                operation,
                kind="lost",
                target=TARGETS.get(service),
                times=1 if service == "k8s" else lost,  # the Kubernetes client never retries
            )
        )

    result = run_dag("ue_backup")

    assert result.state == "success", result.tasks
    assert result.xcom("verify")["result"] == "passed"
    assert sandbox.faults.armed() == []  # every start met its lost answers
    found = artifacts(sandbox, installation)
    assert {kind: len(names) for kind, names in found.items()} == dict.fromkeys(found, 1), found
    # Each AWS step adopts what its own call made; the Velero hook looks for what its
    # create made (the Kubernetes client never retries a POST).
    expected = dict.fromkeys(STARTS, start_tries) | {"velero_backup": 1}
    assert {task: tries(result)[task] for task in STARTS} == expected
    # The mutation log: each start carried out with its answer lost, then what followed.
    for service, operation in STARTS.values():
        if service == "k8s":
            calls = [e for e in sandbox.log.entries("k8s", "create") if "velero/" in e.target]
            assert [(e.detail.get("lost"), e.detail.get("served")) for e in calls] == [(True, 201)]
            continue
        calls = sandbox.log.entries(service, operation)
        assert [e.detail["status"] for e in calls] == statuses[service], calls
        assert calls[0].detail["served"] == 200, calls  # the first call made it


def test_a_datasync_start_whose_answer_was_lost_queues_no_second_copy(
    sandbox, tmp_path, monkeypatch
):
    """StartTaskExecution has no token: the step sends it once and looks for its execution."""
    installation = seed_installation(sandbox, "ue-test", method="datasync")
    installation.config["cold_window"]["drain_timeout_minutes"] = 0.05
    write_config(installation.config, tmp_path, monkeypatch)
    sandbox.faults.add(Fault("datasync", "StartTaskExecution", kind="lost"))

    result = run_dag("ue_backup")

    assert result.state == "success", result.tasks
    assert result.xcom("verify")["result"] == "passed"
    task_arn = result.xcom("datasync_copy")["task_arn"]  # the set's own task
    executions = sandbox.client("datasync").list_task_executions(TaskArn=task_arn)
    assert len(executions["TaskExecutions"]) == 1
    (started,) = sandbox.log.entries("datasync", "StartTaskExecution")
    assert (started.detail["status"], started.detail["served"]) == (500, 200)
    assert tries(result)["datasync_copy"] == 1
