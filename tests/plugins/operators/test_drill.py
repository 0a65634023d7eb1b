"""The drill's cleanup on the sandbox: waits for what is still being made, deletes it all.

The cleanup must work from any point of a failed drill: resources still
being created, a restore job still running, Jobs still using the new file
system, a Velero restore in any phase, or nothing at all. And it must never
delete anything of the live installation.
"""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import TaskDeferred

from sandbox.installation import NAMESPACE, ROLE_ARN, seed_installation
from tests.plugins.support import eventually, make_context, mutations, round_trip
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.aws_backup import AwsBackupHook
from ue_backup.hooks.kube_job import KubeJobHook
from ue_backup.hooks.velero import VeleroHook
from ue_backup.operators.drill import DrillCleanupOperator
from ue_backup.triggers.base import run_inline

DID = "ue-test-drill-260301040000"
DRILL_NS = "uepe-drill"
LABEL = {"velero.io/restore-name": DID}


@pytest.fixture
def live(sandbox, fast):
    sandbox.durations.update(
        rds_snapshot=0.1,
        memorydb_snapshot=0.1,
        backup_job=0.1,
        velero=0.1,
        # Long enough that a restore started before the cleanup's first round is still in
        # progress there on a loaded machine (the setup after starting them takes a while):
        # at 1 s, a busy CI run found everything made before the cleanup looked.
        rds_instance=3.0,
        memorydb_cluster=3.0,
        restore_job=3.0,
        rds_delete=0.5,
        memorydb_delete=0.5,
    )
    return seed_installation(sandbox, "ue-test")


def resources(sandbox, live, **overrides) -> dict:
    return {
        "aws_conn_id": "aws_default",
        "region": sandbox.region,
        "kubernetes_conn_id": "kubernetes_default",
        "rds_instance": DID,
        "memorydb_cluster": DID,
        "efs_creation_token": f"{DID}-efs",
        "velero_namespace": "velero",
        "velero_restore": DID,
        "namespace": DRILL_NS,
        "jobs": [f"{DID}-place", f"{DID}-check"],
        "claim": f"{DID}-efs",
        "volume": f"{DRILL_NS}-{DID}-efs",
        "live": {
            "rds_instance": live.rds_instance,
            "memorydb_cluster": live.memorydb_cluster,
            "file_system_id": live.file_system_id,
            "namespaces": [NAMESPACE],
        },
        **overrides,
    }


def start_drill_restores(sandbox, live) -> dict:
    """A drill caught in the middle: everything started, much of it still in progress."""
    rds, memorydb = sandbox.client("rds"), sandbox.client("memorydb")
    rds.create_db_snapshot(DBInstanceIdentifier=live.rds_instance, DBSnapshotIdentifier="s1")
    memorydb.create_snapshot(ClusterName=live.memorydb_cluster, SnapshotName="s1")
    fs_arn = sandbox.client("efs").describe_file_systems(FileSystemId=live.file_system_id)[
        "FileSystems"
    ][0]["FileSystemArn"]
    backup = AwsBackupHook()
    job = backup.start_backup_job(
        vault_name=live.vault,
        resource_arn=fs_arn,
        iam_role_arn=ROLE_ARN,
        idempotency_token="b1",
        recovery_point_tags={},
    )
    eventually(
        sandbox, lambda: backup.describe_backup_job(job["BackupJobId"])["State"] == "COMPLETED"
    )
    eventually(
        sandbox,
        lambda: (
            rds.describe_db_snapshots(DBSnapshotIdentifier="s1")["DBSnapshots"][0]["Status"]
            == "available"
        ),
    )
    eventually(
        sandbox,
        lambda: (
            memorydb.describe_snapshots(SnapshotName="s1")["Snapshots"][0]["Status"] == "available"
        ),
    )
    rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier=DID, DBSnapshotIdentifier="s1")
    memorydb.create_cluster(
        ClusterName=DID, SnapshotName="s1", NodeType="db.t4g.small", ACLName="open-access"
    )
    restore = backup.start_efs_restore_job(
        recovery_point_arn=job["RecoveryPointArn"],
        iam_role_arn=ROLE_ARN,
        idempotency_token=f"{DID}-efs",
        file_system_id=live.file_system_id,
    )
    # Kubernetes: a Velero restore (it fails validation: no such backup), objects it
    # "restored", and a Job of the drill still running on a claim of its own.
    VeleroHook().create_restore(
        namespace="velero", name=DID, backup_name="gone", labels={}, disable_ecds_in=[DRILL_NS]
    )
    sandbox.k8s.create_ecd(DRILL_NS, "ecd-rating", labels=dict(LABEL), enabled=False)
    sandbox.k8s.create(
        "configmaps", {"metadata": {"name": "platform", "labels": dict(LABEL)}}, DRILL_NS
    )
    scratch = sandbox.aws.create_file_system("scratch")
    jobs = KubeJobHook()
    claim = jobs.ensure_efs_claim(DRILL_NS, f"{DID}-efs", scratch)
    jobs.run_job(DRILL_NS, f"{DID}-check", image="busybox", script="sleep 1", claim=claim)
    sandbox.log.clear()
    return {"efs_restore_job": restore["RestoreJobId"], "scratch": scratch}


def run_to_the_end(task, context) -> tuple[dict, int]:
    """Execute, and resume after each deferral (trigger rebuilt as the triggerer does)."""
    deferrals = 0
    call = lambda: task.execute(context)  # noqa: E731
    while True:
        try:
            return call(), deferrals
        except TaskDeferred as deferred:
            deferrals += 1
            assert deferrals < 20
            event = run_inline(round_trip(deferred.trigger))
            kwargs = {**(deferred.kwargs or {}), "event": event}
            call = lambda kwargs=kwargs, deferred=deferred: task.resume_execution(  # noqa: E731
                deferred.method_name, kwargs, context
            )


def drill_left(sandbox, scratch: str | None = None) -> dict:
    """What of the drill still exists, by kind (empty when everything is gone)."""
    rds = sandbox.client("rds")
    memorydb = sandbox.client("memorydb")
    left = {
        "rds": [
            i["DBInstanceIdentifier"]
            for i in rds.describe_db_instances()["DBInstances"]
            if i["DBInstanceIdentifier"] == DID
        ],
        "memorydb": [
            c["Name"] for c in memorydb.describe_clusters()["Clusters"] if c["Name"] == DID
        ],
        "efs": sandbox.client("efs").describe_file_systems(CreationToken=f"{DID}-efs")[
            "FileSystems"
        ],
        "velero": [sandbox.k8s.get("restores", "velero", DID)],
        "modifiers": [sandbox.k8s.get("configmaps", "velero", f"{DID}-modifiers")],
        "volume": [sandbox.k8s.get("persistentvolumes", None, f"{DRILL_NS}-{DID}-efs")],
    }
    for kind in ("ecdeployments", "configmaps", "jobs", "pods", "persistentvolumeclaims"):
        left[kind] = sandbox.k8s.list(kind, DRILL_NS)
    return {kind: found for kind, found in left.items() if any(found)}


def test_the_cleanup_waits_for_what_is_being_made_then_deletes_everything(sandbox, live):
    started = start_drill_restores(sandbox, live)
    task = DrillCleanupOperator(
        task_id="cleanup",
        drill_resources=resources(sandbox, live),
        efs_restore_job=started["efs_restore_job"],
    )

    result, deferrals = run_to_the_end(task, make_context())

    assert deferrals >= 2  # busy first (creating, restoring), then deleting
    assert result["rounds"] == deferrals + 1
    assert set(result["states"].values()) == {"gone"}
    assert drill_left(sandbox) == {}
    # Nothing was asked of AWS before it could be done: no refused delete.
    for service, operation in (("rds", "DeleteDBInstance"), ("memorydb", "DeleteCluster")):
        (delete,) = mutations(sandbox, service, operation, DID)
        assert delete.detail["status"] == 200
    (deleted_fs,) = mutations(sandbox, "efs", "DeleteFileSystem")
    assert deleted_fs.target != live.file_system_id
    # The live installation, and the file system that was not the drill's, are still there.
    assert sandbox.client("efs").describe_file_systems(FileSystemId=started["scratch"])
    assert sandbox.client("rds").describe_db_instances(DBInstanceIdentifier=live.rds_instance)
    assert sandbox.client("memorydb").describe_clusters(ClusterName=live.memorydb_cluster)
    assert len(sandbox.k8s.list("ecdeployments", NAMESPACE)) == len(live.ecds)
    assert sandbox.k8s.list("persistentvolumeclaims", NAMESPACE)


def test_a_second_cleanup_or_one_of_a_drill_that_made_nothing_is_done_at_once(sandbox, live):
    task = DrillCleanupOperator(task_id="cleanup", drill_resources=resources(sandbox, live))

    result = task.execute(make_context())

    assert result["rounds"] == 1
    assert set(result["states"].values()) == {"gone"}
    assert sandbox.log.entries() == []


def test_a_drill_that_was_refused_named_nothing_to_delete(sandbox, live):
    result = DrillCleanupOperator(task_id="cleanup", drill_resources=None).execute(make_context())

    assert result == {"rounds": 0, "states": {}}


@pytest.mark.parametrize("field", ["rds_instance", "memorydb_cluster", "namespace"])
def test_a_live_name_is_never_deleted(sandbox, live, field):
    live_names = {
        "rds_instance": live.rds_instance,
        "memorydb_cluster": live.memorydb_cluster,
        "namespace": NAMESPACE,
    }
    task = DrillCleanupOperator(
        task_id="cleanup", drill_resources=resources(sandbox, live, **{field: live_names[field]})
    )

    with pytest.raises(PermanentFailure, match="refusing to delete live resources"):
        task.execute(make_context())
    assert sandbox.log.entries() == []


def test_a_volume_on_the_live_file_system_is_never_deleted(sandbox, live):
    KubeJobHook().ensure_efs_claim(DRILL_NS, f"{DID}-efs", live.file_system_id)
    sandbox.log.clear()
    task = DrillCleanupOperator(task_id="cleanup", drill_resources=resources(sandbox, live))

    with pytest.raises(PermanentFailure, match=r"refusing to delete live resources.*volume"):
        task.execute(make_context())
    assert not [e for e in sandbox.log.entries() if e.operation == "delete"]


def test_what_the_cleanup_cannot_prove_is_the_drills_fails_it_once_the_rest_is_gone(
    sandbox, live, monkeypatch
):
    """A point left to the operator is never waited for round after round: the cleanup
    deletes everything else, then fails naming it."""
    from ue_backup.drill_resources import BY_HAND, State
    from ue_backup.hooks.drill import DrillResources

    left = State(BY_HAND, "in vault v, brought back by copy jobs no record names: arn:p")
    monkeypatch.setattr(
        DrillResources,
        "delete_round",
        lambda self: {"rds instance": State("gone"), "untracked brought-back points": left},
    )
    task = DrillCleanupOperator(task_id="cleanup", drill_resources=resources(sandbox, live))

    with pytest.raises(PermanentFailure, match="left to you: untracked brought-back points: in"):
        task.execute(make_context())
