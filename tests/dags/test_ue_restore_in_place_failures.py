"""In-place restores failing at each step, end to end on the sandbox.

A failure before the commit point leaves the live system exactly as it was
(ECDs, the live instance's name, the live file system's data; no restore
directory left on it; what the restore created elsewhere named in the run's
failure). A failure during the commit keeps every ECD off, held, and names
what is live and how to roll back. In no case do workflows run on a mix of
restored and live components.
"""

from __future__ import annotations

import pytest

from sandbox.airflow_harness.dag_runner import run_dag, write_config
from sandbox.faults import Fault
from sandbox.installation import NAMESPACE, seed_installation
from ue_backup.hooks.ecd import HELD, RESUME_DEADLINE

pytestmark = pytest.mark.e2e

IN_PLACE = {"mode": "restore", "target": "in_place"}
TRIES = 3  # a task's first try and its two retries (dag_support.default_args)

# Failure points before the commit point: (name, faults armed before the run).
BEFORE_COMMIT = {
    "rds_restore": [
        Fault("rds", "RestoreDBInstanceFromDBSnapshot", kind="outcome", state="failed"),
        Fault("rds", "RestoreDBInstanceToPointInTime", kind="outcome", state="failed"),
    ],
    "efs_restore_job": [Fault("backup", "StartRestoreJob", kind="outcome", state="FAILED")],
    "memorydb_restore": [Fault("memorydb", "CreateCluster", kind="outcome")],
    "velero_restore": [Fault("k8s", "velero-restore", kind="outcome", state="Failed")],
    "mount_targets": [
        Fault("efs", "DescribeMountTargets", code="AccessDeniedException", status=403, times=None)
    ],
    # the first Job the restore creates is the purge (stage) Job; the clean-up's is later
    "purge_job_not_created": [
        Fault("k8s", "create", target="/jobs/", code="Forbidden", status=403, times=TRIES)
    ],
    "check_job": [Fault("k8s", "job", target="-check-", kind="outcome")],
}


def build_world(sandbox, tmp_path, monkeypatch):
    """A fresh installation with one backup set."""
    sandbox.reset()
    for name, value in sandbox.connection_env().items():
        monkeypatch.setenv(name, value)
    inst = seed_installation(sandbox, "ue-test")
    inst.config["cold_window"]["drain_timeout_minutes"] = 0.05
    write_config(inst.config, tmp_path, monkeypatch)
    backup = run_dag("ue_backup")
    assert backup.state == "success", backup.tasks
    live = inst.efs_path(sandbox)
    (live / "aggregation" / "written-after-backup.bin").write_text("newer than the backup")
    return inst


@pytest.fixture(scope="module")
def shared(sandbox_session, tmp_path_factory):
    """One world for the failures before the commit point: each must leave it as it was."""
    with pytest.MonkeyPatch.context() as patch:
        yield sandbox_session, build_world(sandbox_session, tmp_path_factory.mktemp("ip"), patch)


def live_state(sandbox, inst) -> dict:
    """What workflows see: the ECDs as written, the instances and clusters, the live tree."""
    root = inst.efs_path(sandbox)
    return {
        "ecds": {
            e["metadata"]["name"]: (e.get("spec"), e["metadata"].get("annotations") or {})
            for e in sandbox.k8s.list("ecdeployments", NAMESPACE)
        },
        "instances": instances(sandbox),
        "clusters": clusters(sandbox),
        "files": {
            p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()
        },
        "root": sorted(p.name for p in root.iterdir()),
    }


def instances(sandbox) -> set[str]:
    rds = sandbox.client("rds").describe_db_instances()["DBInstances"]
    return {i["DBInstanceIdentifier"] for i in rds}


def clusters(sandbox) -> set[str]:
    return {c["Name"] for c in sandbox.client("memorydb").describe_clusters()["Clusters"]}


def restore(inst, faults, sandbox):
    sandbox.faults.clear()
    for fault in faults:
        sandbox.faults.add(Fault(**vars(fault)))  # a copy: a fault counts its uses
    try:
        return run_dag("ue_restore", {**IN_PLACE, "confirm": inst.name})
    finally:
        sandbox.faults.clear()


@pytest.mark.parametrize("point", sorted(BEFORE_COMMIT))
def test_a_failure_before_the_commit_leaves_the_live_system_as_it_was(shared, point, capfd):
    sandbox, inst = shared
    before = live_state(sandbox, inst)

    result = restore(inst, BEFORE_COMMIT[point], sandbox)

    assert result.state == "failed", result.tasks
    assert result.tasks["commit_point"] == "upstream_failed", result.tasks
    assert result.tasks["switch_over_database"] == "upstream_failed"
    assert result.tasks["resume_workflows"] == "success"
    after = live_state(sandbox, inst)
    # the ECDs as they were (spec and annotations), the live tree and its root as they were
    assert after["ecds"] == before["ecds"]
    assert after["files"] == before["files"]
    assert after["root"] == before["root"]
    assert inst.rds_instance in after["instances"]
    assert not any("-replaced-" in name for name in after["instances"])
    # whatever the restore created is named in the run's failure, for the operator to delete
    resumed = result.xcom("resume_workflows")
    assert resumed["stage"] == "untouched"
    created = (after["instances"] - before["instances"]) | (after["clusters"] - before["clusters"])
    assert all(name in resumed["summary"] for name in created), (created, resumed["summary"])
    assert "nothing live was changed" in resumed["summary"]
    assert result.tasks["run_outcome"] == "failed"
    out, err = capfd.readouterr()
    assert resumed["summary"] in out + err


def test_a_failed_switch_over_holds_the_workflows_and_names_the_live_database(
    sandbox_session, tmp_path, monkeypatch, capfd
):
    sandbox = sandbox_session
    inst = build_world(sandbox, tmp_path, monkeypatch)
    before = live_state(sandbox, inst)
    fault = Fault("rds", "ModifyDBInstance", code="InvalidDBInstanceState", status=400, times=None)

    result = restore(inst, [fault], sandbox)

    assert result.state == "failed", result.tasks
    assert result.tasks["commit_point"] == "success"
    assert result.tasks["switch_over_database"] == "failed"
    assert result.tasks["place_efs"] == "upstream_failed"
    assert result.tasks["resume_workflows"] == "failed"
    after = live_state(sandbox, inst)
    assert_held(after)
    # the live tree was not touched; the restored one waits beside it, kept
    rid = result.xcom("validate")["restore_id"]
    staged = f"ue-backup-restoring_{rid}/"
    assert {k: v for k, v in after["files"].items() if not k.startswith(staged)} == before["files"]
    assert any(k.startswith(staged) for k in after["files"])
    assert inst.rds_instance in after["instances"]
    message = "\n".join(capfd.readouterr())
    assert "The workflows were NOT resumed" in message
    assert f"Database: not switched over: {inst.rds_instance} is still" in message
    # the run's outcome says so from the resume's state, with what the resume left in its XCom
    report = result.xcom("resume_workflows", key="summary")
    assert report.startswith(f"The in-place restore {rid} failed during its commit")
    assert "kubectl -n" in report  # how to resume each ECD once the system is consistent
    assert (
        "the workflows were NOT resumed (resume_workflows: failed; see its log): "
        f"The in-place restore {rid} failed during its commit"
    ) in message
    assert "the workflows were resumed" not in message
    assert "EFS" in message
    assert "not touched: the live data is at the root" in message


def test_a_failed_placement_holds_the_workflows_and_says_how_to_roll_back(
    sandbox_session, tmp_path, monkeypatch, capfd
):
    sandbox = sandbox_session
    inst = build_world(sandbox, tmp_path, monkeypatch)

    result = restore(inst, [Fault("k8s", "job", target="-place-", kind="outcome")], sandbox)

    assert result.state == "failed", result.tasks
    assert result.tasks["switch_over_database"] == "success"
    assert result.tasks["place_efs"] == "failed"
    assert result.tasks["resume_workflows"] == "failed"
    assert result.tasks["discard_restored_tree"] == "skipped"  # what is staged stays
    assert_held(live_state(sandbox, inst))
    rid = result.xcom("validate")["restore_id"]
    assert (inst.efs_path(sandbox) / f"ue-backup-restoring_{rid}").is_dir()
    message = "\n".join(capfd.readouterr())
    aside = f"{inst.rds_instance}-replaced-{rid}"
    assert f"{inst.rds_instance} is the RESTORED instance" in message
    assert f"then {aside} to {inst.rds_instance}" in message
    assert f"ue-backup-replaced_{rid}/" in message
    assert "Go forward: clear place_efs" in message


def test_the_clean_up_never_removes_a_tree_the_efs_restore_job_may_still_write(
    sandbox_session, tmp_path, monkeypatch, capfd
):
    """wait_efs failed while AWS Backup may still be writing into the live file system (here
    AWS Backup cannot be asked at all): the clean-up removes nothing and names the job and the
    directory, instead of deleting a tree the job goes on writing."""
    sandbox = sandbox_session
    inst = build_world(sandbox, tmp_path, monkeypatch)
    sandbox.durations.update(restore_job=2)
    before = live_state(sandbox, inst)
    denied = Fault(
        "backup", "DescribeRestoreJob", code="AccessDeniedException", status=403, times=None
    )

    result = restore(inst, [denied], sandbox)

    assert result.state == "failed", result.tasks
    assert result.tasks["wait_efs"] == "failed"
    assert result.tasks["discard_restored_tree"] == "failed"
    assert result.tasks["resume_workflows"] == "success"
    assert live_state(sandbox, inst)["ecds"] == before["ecds"]
    job = result.xcom("restore_efs")["job_id"]
    message = "\n".join(capfd.readouterr())
    assert f"the EFS restore job {job} is not known, not ended" in message
    assert (
        f"aws-backup-restore_* directory at the root of the live file system {inst.file_system_id}"
        in message
    )
    assert "AWS Backup cannot cancel" in message
    summary = result.xcom("resume_workflows")["summary"]
    assert "aws-backup-restore_* directory made by this restore" in summary
    assert "if its EFS restore job still runs, wait for it to end first" in summary


def assert_held(state: dict) -> None:
    """Every ECD off, its suspension kept without a deadline (the watchdog leaves it)."""
    for name, (spec, notes) in state["ecds"].items():
        assert spec.get("enabled") is False, name
        assert notes.get(HELD), name
        assert RESUME_DEADLINE not in notes, name
