"""Case 4 of issue 14 end to end: a busy account's throttling never fails a backup.

Twenty ``ThrottlingException`` answers in a row on every describe call the
backup makes, and five on every call that starts or changes something, in
one run: botocore retries each call (standard mode, ``aws_retries``), the
waits take what is left as "not yet", a step whose call still fails is
retried by Airflow; the run ends successful and verified, with exactly one
snapshot, job and recovery point each.
"""

from __future__ import annotations

import pytest

from sandbox.airflow_harness.dag_runner import run_dag, write_config
from sandbox.faults import Fault
from sandbox.installation import seed_installation

pytestmark = pytest.mark.e2e

# Every AWS call a backup of the full installation makes (the request log says so below).
DESCRIBES = [
    ("backup", "DescribeBackupJob"),
    ("backup", "DescribeBackupVault"),
    ("backup", "DescribeRecoveryPoint"),
    # the file system's past jobs and its points in the vault (which job made the first,
    # full copy), preflight's window estimate (tasks/window_history.py)
    ("backup", "ListBackupJobs"),
    ("backup", "ListRecoveryPointsByBackupVault"),
    ("backup", "ListTags"),
    ("efs", "DescribeFileSystems"),
    # the live file system's network, recorded in the manifest (tasks/network_steps.py)
    ("efs", "DescribeMountTargetSecurityGroups"),
    ("efs", "DescribeMountTargets"),
    ("memorydb", "DescribeClusters"),
    ("memorydb", "DescribeSnapshots"),
    ("memorydb", "ListTags"),
    ("rds", "DescribeDBInstances"),
    ("rds", "DescribeDBSnapshots"),
    ("s3", "HeadBucket"),
]
CHANGES = [
    ("backup", "StartBackupJob"),
    ("backup", "TagResource"),
    ("memorydb", "CreateSnapshot"),
    ("memorydb", "TagResource"),
    ("rds", "CreateDBSnapshot"),
    ("rds", "AddTagsToResource"),
    ("s3", "PutObject"),
]


def throttle(service: str, operation: str, times: int) -> Fault:
    """Throttling as each service answers it: S3 says 503 SlowDown (a HEAD answer has no
    body, so its status is all botocore sees), the others 400 ThrottlingException."""
    if service == "s3":
        return Fault(service, operation, code="SlowDown", status=503, times=times)
    return Fault(service, operation, code="ThrottlingException", status=400, times=times)


def test_twenty_throttles_on_every_describe_and_five_on_every_start_still_back_up(
    sandbox, tmp_path, monkeypatch
):
    installation = seed_installation(sandbox, "ue-test")
    installation.config["cold_window"]["drain_timeout_minutes"] = 0.05
    # More attempts than the longest burst: no single call gives up (the waits would
    # anyway; tests/plugins/triggers/test_base.py shows them outlasting any burst).
    installation.config["aws_retries"] = {"mode": "standard", "max_attempts": 25}
    write_config(installation.config, tmp_path, monkeypatch)
    for service, operation in DESCRIBES:
        sandbox.faults.add(throttle(service, operation, 20))
    for service, operation in CHANGES:
        sandbox.faults.add(throttle(service, operation, 5))
    # the log is not emptied between tests: count this run's calls from here
    first = len(sandbox.requests.entries("aws", caller="system"))

    result = run_dag("ue_backup")

    assert result.state == "success", result.tasks
    assert result.xcom("verify")["result"] == "passed"
    assert sandbox.faults.armed() == []  # every fault was met, all 20 (or 5) times
    called = {
        (r.service, r.operation) for r in sandbox.requests.entries("aws", caller="system")[first:]
    }
    assert called == set(DESCRIBES) | set(CHANGES)  # no call of the run escaped the faults
    rds = sandbox.client("rds").describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    assert len(rds) == 1
    jobs = sandbox.client("backup").list_backup_jobs()["BackupJobs"]
    assert len(jobs) == 1
    points = sandbox.client("backup").list_recovery_points_by_backup_vault(
        BackupVaultName=installation.vault
    )["RecoveryPoints"]
    assert len(points) == 1
    snapshots = sandbox.client("memorydb").describe_snapshots()["Snapshots"]
    assert len([s for s in snapshots if s["Source"] == "manual"]) == 1
    assert len(sandbox.log.entries("rds", "CreateDBSnapshot")) == 6  # 5 throttled, 1 made it
