"""ue_backup_retention of a DataSync installation, end to end on the sandbox.

The world: an installation whose disk is copied by DataSync (a template task,
its two locations on the live and the target file system), three backup sets
made by ``ue_backup``, each in its own folder ``/ue-backup/<set id>`` on the
target file system with a task and a destination location of its own, and,
beside them on the target, a folder of another installation. With
``keep_last: 2`` and ``keep_days: 0`` exactly the oldest set goes: its folder
(removed by a Kubernetes Job mounting the target file system), its task, its
destination location, its RDS snapshot and its manifest, and nothing else.
The DAGs run in the shape the configuration file gives (``delete_datasync_copies``
built).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from sandbox.airflow_harness.dag_runner import load_shaped_dags, rerun, run_dag, write_config
from sandbox.faults import Fault
from sandbox.installation import NAMESPACE, ROLE_ARN
from tests.dags.worlds import seeded
from tests.plugins.support import defer
from ue_backup.backup_set import DELETING, RETENTION_TAG
from ue_backup.config import load_config_file
from ue_backup.errors import PermanentFailure
from ue_backup.inventory import list_artifacts
from ue_backup.manifest import GB
from ue_backup.run_settings import RetentionRunSettings
from ue_backup.tasks.retention_datasync import RetentionDataSyncOperator
from ue_backup.tasks.retention_delete import delete as delete_sets
from ue_backup.triggers.kube_job import KubeJobCompleteTrigger

pytestmark = pytest.mark.e2e

SUBDIRECTORY = "/ue-backup"
OTHER = "ue-other-20260101t000000z"
MUTATING_K8S = {"create", "replace", "patch", "delete"}


@pytest.fixture(scope="module")
def world(sandbox_session, tmp_path_factory):
    """Three DataSync sets of ue-test, another installation's folder on the same target."""
    sandbox = sandbox_session
    with seeded(sandbox, "ue-test", method="datasync", memorydb=False, velero=False) as (
        patch,
        inst,
    ):
        inst.config["efs"]["datasync"]["target_subdirectory"] = SUBDIRECTORY
        write_config(inst.config, tmp_path_factory.mktemp("backups"), patch)
        sets = []
        for _ in range(3):
            result = run_dag("ue_backup")
            assert result.state == "success", result.tasks
            sets.append(result.xcom("preflight")["backup_set"])
        other = sandbox.aws.efs_path(inst.datasync_target) / SUBDIRECTORY.strip("/") / OTHER
        (other / "aggregation").mkdir(parents=True)
        (other / "aggregation" / "session.dat").write_text("another installation's copy")
        config = {**inst.config, "retention": {"keep_last": 2, "keep_days": 0}}
        path = write_config(config, tmp_path_factory.mktemp("retention"), patch)
        dags = load_shaped_dags(path)
        assert "delete_datasync_copies" in dags["ue_backup_retention"].task_ids
        yield sandbox, inst, sets, path, dags, patch


@pytest.fixture
def sandbox(world):
    world[0].log.clear()
    world[0].faults.clear()
    return world[0]


@pytest.fixture
def sets(world):
    """The three sets, oldest first."""
    return world[2]


def retention(world, conf=None):
    return run_dag("ue_backup_retention", conf or {}, dags=world[4])


def changes(sandbox) -> list:
    """State-changing calls (the sandbox controllers' own bookkeeping aside)."""
    return [m for m in sandbox.log.entries() if m.service != "k8s" or m.operation in MUTATING_K8S]


def files(root) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def datasync_state(sandbox) -> dict:
    """Every task (with its tags) and location DataSync has, and its locations' URIs."""
    datasync = sandbox.client("datasync")
    tasks = {
        t["TaskArn"]: {
            tag["Key"]: tag["Value"]
            for tag in datasync.list_tags_for_resource(ResourceArn=t["TaskArn"])["Tags"]
        }
        for t in datasync.list_tasks()["Tasks"]
    }
    locations = {
        loc["LocationArn"]: loc["LocationUri"] for loc in datasync.list_locations()["Locations"]
    }
    return {"tasks": tasks, "locations": locations}


def copy_of(world, set_id: str) -> dict:
    """The set's DataSync copy as retention lists it."""
    cfg = load_config_file(world[3])
    (found,) = [
        a for a in list_artifacts(cfg) if a.kind == "datasync_folder" and a.backup_set == set_id
    ]
    return found


def test_the_sets_folders_are_listed_and_a_dry_run_changes_nothing(world, sandbox, sets):
    result = retention(world, {"dry_run": True})

    assert result.state == "success", result.tasks
    assert result.tasks["delete_datasync_copies"] == "skipped"
    assert result.tasks["delete"] == "skipped"
    assert changes(sandbox) == []
    plan = result.xcom("plan")
    assert {s["backup_set"]: s["action"] for s in plan["sets"]} == {
        sets[2]: "keep",
        sets[1]: "keep",
        sets[0]: "delete",
    }
    assert plan["newest_restorable"] == sets[2]  # the planner restores from the copies
    doomed = next(s for s in plan["sets"] if s["backup_set"] == sets[0])
    assert sorted(a["kind"] for a in doomed["artifacts"]) == [
        "datasync_folder",
        "manifest",
        "rds_snapshot",
    ]
    (folder,) = [a for a in doomed["artifacts"] if a["kind"] == "datasync_folder"]
    assert folder["folder"] == f"{SUBDIRECTORY}/{sets[0]}"
    assert folder["container"] == world[1].datasync_target
    # what the set's execution wrote, at the EFS Standard price
    summary = result.xcom("summary")
    assert summary["would_delete_sets"] == [sets[0]]
    removed = summary["costs"]["components"]["datasync_folder"]["removed"]
    assert removed["count"] == 1
    assert removed["size_bytes"] == folder["size_bytes"] > 0
    assert removed["monthly_usd"] == pytest.approx(folder["size_bytes"] / GB * 0.30, abs=1e-4)


def test_a_folder_outside_the_target_subdirectory_is_refused_before_anything_changes(
    world, sandbox, sets, tmp_path, monkeypatch, capfd, caplog
):
    """The configuration moved to another subdirectory: the old sets' folders are outside it."""
    inst = world[1]
    moved = {
        **inst.config,
        "efs": {
            **inst.config["efs"],
            "datasync": {**inst.config["efs"]["datasync"], "target_subdirectory": "/elsewhere"},
        },
        "retention": {"keep_last": 2, "keep_days": 0},
    }
    write_config(moved, tmp_path, monkeypatch)
    before = files(sandbox.aws.efs_path(inst.datasync_target))

    result = retention(world)

    assert result.state == "failed"
    assert result.tasks["delete_datasync_copies"] == "failed"
    assert result.tasks["delete"] == "upstream_failed"
    assert changes(sandbox) == []
    assert files(sandbox.aws.efs_path(inst.datasync_target)) == before
    out, err = capfd.readouterr()
    assert f"{SUBDIRECTORY}/{sets[0]}' is not set {sets[0]}'s folder '/elsewhere/{sets[0]}'" in (
        out + err + caplog.text
    )


def test_retention_deletes_the_oldest_sets_folder_and_nothing_else(world, sandbox, sets):
    inst = world[1]
    target, live = (sandbox.aws.efs_path(fs) for fs in (inst.datasync_target, inst.file_system_id))
    target_before, live_before = files(target), files(live)
    state_before = datasync_state(sandbox)
    doomed = copy_of(world, sets[0])
    template = sandbox.client("datasync").describe_task(
        TaskArn=inst.config["efs"]["datasync"]["task_arn"]
    )
    assert template["TaskArn"] in state_before["tasks"]

    result = retention(world)

    assert result.state == "success", result.tasks
    # on the target file system: exactly the oldest set's folder went
    gone = target_before - files(target)
    assert gone
    assert {path.split("/")[:2] == ["ue-backup", sets[0]] for path in gone} == {True}
    assert f"ue-backup/{sets[0]}" in gone
    assert not files(target) & {p for p in target_before if p.startswith(f"ue-backup/{sets[0]}")}
    for kept in (sets[1], sets[2], OTHER):
        assert any(p.startswith(f"ue-backup/{kept}/") for p in files(target)), kept
    assert files(live) == live_before
    # in DataSync: exactly the set's task and its destination location went
    state = datasync_state(sandbox)
    assert set(state_before["tasks"]) - set(state["tasks"]) == {doomed.id}
    assert set(state_before["locations"]) - set(state["locations"]) == {doomed.location}
    assert template["TaskArn"] in state["tasks"]  # the template task,
    assert template["SourceLocationArn"] in state["locations"]  # the shared source location,
    assert template["DestinationLocationArn"] in state["locations"]  # the target's root,
    efs = sandbox.client("efs").describe_file_systems()["FileSystems"]
    assert {inst.datasync_target, inst.file_system_id} <= {f["FileSystemId"] for f in efs}
    # every change: the set's own artifacts, and the Job with its claim on the target
    made = {(c.service, c.operation) for c in changes(sandbox)}
    assert made == {
        ("datasync", "TagResource"),
        ("datasync", "DeleteTask"),
        ("datasync", "DeleteLocation"),
        ("rds", "DeleteDBSnapshot"),
        ("s3", "DeleteObject"),
        ("k8s", "create"),
    }
    for change in changes(sandbox):
        if change.service == "datasync":
            assert change.target in (doomed.id, doomed.location), change
    created = [c.target for c in changes(sandbox) if c.service == "k8s"]
    assert len(created) == 3, created  # the volume, its claim, the Job
    job = result.xcom("delete_datasync_copies")["job"]
    body = sandbox.k8s.get("jobs", NAMESPACE, job)
    claim = body["spec"]["template"]["spec"]["volumes"][-1]["persistentVolumeClaim"]["claimName"]
    volume = sandbox.k8s.get("persistentvolumeclaims", NAMESPACE, claim)["spec"]["volumeName"]
    handle = sandbox.k8s.get("persistentvolumes", None, volume)["spec"]["csi"]["volumeHandle"]
    assert handle == inst.datasync_target  # never the live file system
    summary = result.xcom("summary")
    assert summary["deleted_sets"] == [sets[0]]
    assert {(o["kind"], o["outcome"]) for o in summary["outcomes"]} == {
        ("datasync_folder", "deleted"),
        ("rds_snapshot", "deleted"),
        ("manifest", "deleted"),
    }
    # the planner still restores the newest set, from its folder
    restore = run_dag("ue_restore", {"mode": "plan"})
    assert restore.state == "success", restore.tasks
    plan = restore.xcom("plan")["plan"]
    assert plan["backup_set"] == sets[2]
    assert plan["disk"]["folder"] == f"{SUBDIRECTORY}/{sets[2]}"

    # cleared and run again, as from the UI: nothing more goes, nothing fails
    sandbox.log.clear()
    again = rerun(result)
    assert again.state == "success", again.tasks
    assert again.xcom("summary")["deleted_sets"] == []
    assert {(c.service, c.operation) for c in changes(sandbox)} <= {("k8s", "create")}


def test_a_deletion_stopped_after_the_folder_leaves_the_copy_listed_and_the_next_run_ends_it(
    world, sandbox, sets, tmp_path, monkeypatch
):
    """keep_last 1 gives up the middle set; DeleteTask fails on every try of this run."""
    inst = world[1]
    write_config(
        {**inst.config, "retention": {"keep_last": 1, "keep_days": 0}}, tmp_path, monkeypatch
    )
    dags = load_shaped_dags(world[3])
    doomed = copy_of(world, sets[1])
    folder = sandbox.aws.efs_path(inst.datasync_target) / "ue-backup" / sets[1]
    sandbox.faults.add(
        Fault("datasync", "DeleteTask", code="InternalException", status=400, times=None)
    )

    failed = run_dag("ue_backup_retention", dags=dags)

    assert failed.state == "failed"
    assert failed.tasks["delete_datasync_copies"] == "failed"
    assert failed.tasks["delete"] == "upstream_failed"
    assert not folder.exists()  # the folder went first
    state = datasync_state(sandbox)
    assert state["tasks"][doomed.id][RETENTION_TAG] == DELETING  # still listed, marked
    assert doomed.location in state["locations"]
    assert copy_of(world, sets[1]).id == doomed.id  # retention still sees it
    restore = run_dag(
        "ue_restore", {"mode": "plan", "request_type": "backup_set", "backup_set": sets[1]}
    )
    assert restore.state == "failed"  # the planner no longer takes it for a disk point

    sandbox.faults.clear()
    finished = run_dag("ue_backup_retention", dags=dags)

    assert finished.state == "success", finished.tasks
    assert finished.xcom("summary")["deleted_sets"] == [sets[1]]
    state = datasync_state(sandbox)
    assert doomed.id not in state["tasks"]
    assert doomed.location not in state["locations"]
    outcomes = finished.xcom("delete_datasync_copies")["outcomes"]
    assert [(o["task"], o["location"]) for o in outcomes] == [("deleted", "deleted")]
    assert (sandbox.aws.efs_path(inst.datasync_target) / "ue-backup" / sets[2]).exists()
    restore = run_dag("ue_restore", {"mode": "plan"})
    assert restore.xcom("plan")["plan"]["backup_set"] == sets[2]


def test_a_run_parsed_before_the_installation_used_datasync_refuses_and_changes_nothing(
    world, sandbox, tmp_path, capfd, caplog
):
    """Its DAG has no delete_datasync_copies (the file then said AWS Backup): validate refuses."""
    inst = world[1]
    efs = {
        "file_system_id": inst.file_system_id,
        "backup_method": "aws_backup",
        "aws_backup": {"vault_name": "ue-test-vault", "iam_role_arn": ROLE_ARN},
    }
    before = tmp_path / "installation.yaml"
    before.write_text(yaml.safe_dump({**inst.config, "efs": efs}, sort_keys=False))
    stale = load_shaped_dags(before)
    assert "delete_datasync_copies" not in stale["ue_backup_retention"].task_ids

    result = run_dag("ue_backup_retention", dags=stale)

    assert result.state == "failed"
    assert result.tasks["validate"] == "failed"
    assert changes(sandbox) == []
    out, err = capfd.readouterr()
    assert "has no task ['delete_datasync_copies']" in out + err + caplog.text


def test_delete_keeps_the_manifest_of_a_set_whose_copy_is_still_there(world, sandbox, sets):
    """Called without delete_datasync_copies before it: the set's task and location still
    exist, so the set is not done and its manifest stays (the retry's record)."""
    cfg = load_config_file(world[3])
    settings = RetentionRunSettings.build(cfg, False, [], datetime.now(UTC))
    newest = [a for a in list_artifacts(cfg) if a.backup_set == sets[2]]
    assert {a.kind for a in newest} == {"datasync_folder", "rds_snapshot", "manifest"}
    listed = [a for a in newest if a.kind != "rds_snapshot"]
    decision = {
        "sets": [
            {"backup_set": sets[2], "action": "delete", "artifacts": [a.as_json() for a in listed]}
        ]
    }

    with pytest.raises(RuntimeError, match="its task and location still exist"):
        delete_sets(settings, decision)

    assert changes(sandbox) == []
    assert {a.kind for a in list_artifacts(cfg) if a.backup_set == sets[2]} == {
        "datasync_folder",
        "rds_snapshot",
        "manifest",
    }


class FakeTi:
    """What delete_datasync_copies reads: validate's settings, plan's decision, its try."""

    task_id = "delete_datasync_copies"
    try_number = 1

    def __init__(self, settings: dict, decision: dict) -> None:
        self.xcoms = {"validate": settings, "plan": decision}

    def get_dr_count(self, dag_id, states):
        return 0  # no restore runs

    def xcom_pull(self, task_ids, key="return_value"):
        return self.xcoms.get(task_ids)


def test_the_job_is_waited_for_in_the_triggerer_and_a_fresh_task_finishes_on_resume(
    world, sandbox, sets
):
    """Last in the module: it deletes the newest set's copy, through the deferred path.

    A task left reading the set's folder (a restore's, say) keeps its location: the step
    fails naming it, and once that task is gone the step run again finishes the copy."""
    cfg = load_config_file(world[3])
    settings = RetentionRunSettings.build(cfg, False, [], datetime.now(UTC))
    (folder,) = [
        a.as_json()
        for a in list_artifacts(cfg)
        if a.backup_set == sets[2] and a.kind == "datasync_folder"
    ]
    decision = {"sets": [{"backup_set": sets[2], "action": "delete", "artifacts": [folder]}]}
    context = {"ti": FakeTi(settings.dump(), decision)}

    def task() -> RetentionDataSyncOperator:  # as the DAG builds it, rendered
        return RetentionDataSyncOperator(
            task_id="delete_datasync_copies",
            namespace=settings.namespace,
            job=settings.jobs,
            kubernetes_conn_id=settings.kubernetes_conn_id,
            poke_interval=0.1,
        )

    datasync = sandbox.client("datasync")
    reader = datasync.create_task(
        SourceLocationArn=folder["location"],
        DestinationLocationArn=datasync.describe_task(TaskArn=folder["id"])["SourceLocationArn"],
        Name="a-restore-left-behind",
    )["TaskArn"]

    deferral = defer(task(), context)
    assert isinstance(deferral.trigger, KubeJobCompleteTrigger)
    deferral.wait()
    deferral.task = task()  # the triggerer resumes a task built anew from the DAG
    with pytest.raises(PermanentFailure, match=f"still used by task\\(s\\) {reader}"):
        deferral.resume()
    assert folder["location"] in datasync_state(sandbox)["locations"]
    assert folder["id"] not in datasync_state(sandbox)["tasks"]

    datasync.delete_task(TaskArn=reader)
    deferral.task = task()
    done = deferral.resume()

    assert done["job"] == deferral.trigger.name
    assert done["folders"] == [f"{SUBDIRECTORY}/{sets[2]}"]
    assert [(o["task"], o["location"]) for o in done["outcomes"]] == [("already gone", "deleted")]
    assert not (sandbox.aws.efs_path(world[1].datasync_target) / "ue-backup" / sets[2]).exists()
    assert not [a for a in list_artifacts(cfg) if a.kind == "datasync_folder"]
