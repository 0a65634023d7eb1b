"""The bring-back of the protected copies, against the sandbox's two accounts.

What matters to the operator on a bad night: a retry of the bring-back never
starts a second copy of a point whose copy is running or done, and goes past a
copy job that failed, once the cause (a key, a grant) is fixed.
"""

from __future__ import annotations

import json
from datetime import UTC

import pytest

from sandbox.aws.fixtures import create_db_instance, wait_until
from sandbox.faults import Fault
from sandbox.installation import ROLE_ARN
from tests.dags.test_ue_restore_immutable import _let_the_protected_account_copy_home
from tests.plugins.tasks.test_preflight_immutable import (
    BACKUP_ROLE,
    ROLE,
    VAULT,
    _protected_client,
    _vault,
)
from ue_backup.compat import TaskDeferred
from ue_backup.operators.locked_copies import (
    FINISHED_KEY,
    JOBS_KEY,
    STARTED_KEY,
    BringBackLockedCopiesOperator,
)

HOME_VAULT = "ue-test-vault"


class FakeTaskInstance:
    """Only the XComs the operator pushes and pulls within one try."""

    def __init__(self) -> None:
        self.xcoms: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.xcoms[key] = value

    def xcom_pull(self, task_ids: str, key: str) -> object:
        return self.xcoms.get(key)


def _ended(client, job_id: str) -> dict:
    return wait_until(
        lambda: client.describe_copy_job(CopyJobId=job_id)["CopyJob"],
        lambda job: job["State"] in ("COMPLETED", "FAILED", "ABORTED"),
    )[-1]


@pytest.fixture
def locked_database_point(sandbox, monkeypatch) -> str:
    """The database's recovery point, copied into the protected account's locked vault;
    the installation's vault lets that account copy back in. The locked point's ARN.
    (``sandbox.lock_another`` makes one more, of a later backup.)"""
    sandbox.durations.update(backup_job=0.1, copy_job=0.3)
    connection = json.loads(sandbox.aws.airflow_connection())
    connection["extra"]["role_arn"] = ROLE
    monkeypatch.setenv("AIRFLOW_CONN_AWS_IMMUTABLE", json.dumps(connection))
    rds, backup = sandbox.client("rds"), sandbox.client("backup")
    create_db_instance(rds, "ue-test-db", DBName="ue")
    arn = wait_until(
        lambda: rds.describe_db_instances(DBInstanceIdentifier="ue-test-db")["DBInstances"][0],
        lambda instance: instance["DBInstanceStatus"] == "available",
    )[-1]["DBInstanceArn"]
    backup.create_backup_vault(BackupVaultName=HOME_VAULT)
    _let_the_protected_account_copy_home(sandbox, HOME_VAULT)
    _vault(sandbox)
    locked_vault = _protected_client(sandbox, "backup").describe_backup_vault(
        BackupVaultName=VAULT
    )["BackupVaultArn"]

    def lock_one() -> str:
        job = backup.start_backup_job(
            BackupVaultName=HOME_VAULT, ResourceArn=arn, IamRoleArn=ROLE_ARN
        )
        job = wait_until(
            lambda: backup.describe_backup_job(BackupJobId=job["BackupJobId"]),
            lambda j: j["State"] == "COMPLETED",
        )[-1]  # its RecoveryPointArn: StartBackupJob gives it for EFS only
        copy = backup.start_copy_job(
            RecoveryPointArn=job["RecoveryPointArn"],
            SourceBackupVaultName=HOME_VAULT,
            DestinationBackupVaultArn=locked_vault,
            IamRoleArn=ROLE_ARN,
            Lifecycle={"DeleteAfterDays": 35},
        )
        return _ended(backup, copy["CopyJobId"])["DestinationRecoveryPointArn"]

    monkeypatch.setattr(sandbox, "lock_another", lock_one, raising=False)
    return lock_one()


def test_a_tokens_job_that_copies_another_point_is_never_taken_for_the_planned_one(
    sandbox, locked_database_point
):
    """A cleared run may plan another set under the same restore id: the job the first
    token names copies the old point, so the chain goes on to a job of the planned one."""
    protected = _protected_client(sandbox, "backup")
    first, _ = _one_try(_bring_back(sandbox, locked_database_point))
    _ended(protected, first["database"])
    newer = sandbox.lock_another()

    again, _ = _one_try(_bring_back(sandbox, newer))
    assert again["database"] != first["database"]
    job = _ended(protected, again["database"])
    assert job["SourceRecoveryPointArn"] == newer


def _bring_back(sandbox, locked_arn: str) -> BringBackLockedCopiesOperator:
    return BringBackLockedCopiesOperator(
        task_id="bring_back_locked_copies",
        active=True,
        sources={"database": locked_arn},
        source_vault_name=VAULT,
        destination_vault_name=HOME_VAULT,
        iam_role_arn=BACKUP_ROLE,
        token_prefix="ue-test-r1",
        home_conn_id="aws_default",
        home_region=sandbox.region,
        aws_conn_id="aws_immutable",
        region_name=sandbox.region,
    )


def _one_try(operator: BringBackLockedCopiesOperator) -> tuple[dict, object]:
    """One try of the task: its copy jobs (deferred while they run) or its result."""
    ti = FakeTaskInstance()
    try:
        result = operator.execute({"ti": ti})
    except TaskDeferred:
        result = None
    return ti.xcoms[JOBS_KEY], result


def test_a_retry_goes_past_a_failed_copy_back_and_never_copies_a_point_twice(
    sandbox, locked_database_point
):
    protected = _protected_client(sandbox, "backup")
    sandbox.faults.add(
        Fault("backup", "StartCopyJob", kind="outcome", state="FAILED", message="key not shared")
    )
    operator = _bring_back(sandbox, locked_database_point)

    first, _ = _one_try(operator)
    failed = _ended(protected, first["database"])
    assert failed["State"] == "FAILED"

    # The operator fixed the key; the task is retried: a new job, past the failed one.
    second, _ = _one_try(operator)
    assert second["database"] != first["database"]
    _ended(protected, second["database"])
    # Once more (a try lost after its start): the same job again, no second copy.
    third, result = _one_try(operator)
    assert third == second
    assert result["database"]["copy_job_id"] == second["database"]
    tokens = [
        request.params["IdempotencyToken"]
        for request in sandbox.requests.entries("aws")
        if request.operation == "StartCopyJob"
        and request.params.get("IdempotencyToken", "").startswith("ue-test-r1-")
    ]  # (the request log outlives the sandbox's reset: only this test's tokens)
    assert sorted(set(tokens)) == ["ue-test-r1-database-back", "ue-test-r1-database-back-2"]
    home = sandbox.client("backup").list_recovery_points_by_backup_vault(
        BackupVaultName=HOME_VAULT
    )["RecoveryPoints"]
    brought_back = [
        p for p in home if p["RecoveryPointArn"] == result["database"]["recovery_point_arn"]
    ]
    assert len(brought_back) == 1
    assert len(home) == 2  # the original and the one brought back: nothing else


def test_a_retried_bring_back_is_timed_from_its_first_try(sandbox, locked_database_point):
    """Airflow clears a task's XComs when it runs again: the retry finds the first try's
    job along its token chain, and the drill's recovery time still counts from there."""
    protected = _protected_client(sandbox, "backup")
    operator = _bring_back(sandbox, locked_database_point)
    first = FakeTaskInstance()
    with pytest.raises(TaskDeferred):
        operator.execute({"ti": first})
    job = _ended(protected, first.xcoms[JOBS_KEY]["database"])

    retried = FakeTaskInstance()
    operator.execute({"ti": retried})

    assert retried.xcoms[JOBS_KEY] == first.xcoms[JOBS_KEY]
    assert retried.xcoms[STARTED_KEY] == job["CreationDate"].astimezone(UTC).isoformat()
    assert retried.xcoms[STARTED_KEY] < retried.xcoms[FINISHED_KEY]
