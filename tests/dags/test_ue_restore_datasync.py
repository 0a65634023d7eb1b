"""A DataSync installation restored end to end on the sandbox: side by side, in place, drilled.

One installation whose EFS is backed up by DataSync (each set in its own folder on the
target file system, by a task of its own), with one backup set, built once for the
module. A restore copies the set's folder back with a task of its own into
``ue-backup-restoring_<id>/`` of the file system it restores into, and the restore's
purge, check and placement do the rest as for an AWS Backup restore. Side by side runs
the DAGs in their full shape (a configuration in the Variable: both EFS methods built,
the plan choosing); in place and the drill in the shape the configuration file gives
(only DataSync's steps). The set's own task, its folder and the target file system are
never touched.
"""

from __future__ import annotations

import pytest

from sandbox.airflow_harness.dag_runner import load_shaped_dags, run_dag, write_config
from sandbox.faults import Fault
from sandbox.installation import LIVE_FILES, NAMESPACE, TEMPORARY_FILES
from tests.dags.restore_support import MARKER, state_changes, tree
from tests.dags.worlds import seeded

pytestmark = pytest.mark.e2e

DRILL_NAMESPACE = f"{NAMESPACE}-drill"


@pytest.fixture(scope="module")
def world(sandbox_session, tmp_path_factory):
    """A DataSync installation (RDS, no MemoryDB, no Velero) and one complete backup set."""
    sandbox = sandbox_session
    with seeded(sandbox, "ue-test", method="datasync", memorydb=False, velero=False) as (
        patch,
        inst,
    ):
        path = write_config(inst.config, tmp_path_factory.mktemp("datasync"), patch)
        backup = run_dag("ue_backup")
        assert backup.state == "success", backup.tasks
        backup_set = backup.xcom("manifest")["backup_set"]
        yield sandbox, inst, backup_set, load_shaped_dags(path)


@pytest.fixture
def sandbox(world):
    world[0].log.clear()
    world[0].faults.clear()
    yield world[0]
    world[0].faults.clear()


@pytest.fixture
def installation(world):
    return world[1]


@pytest.fixture
def backup_set(world):
    return world[2]


@pytest.fixture
def shaped(world):
    """The DAGs as the configuration file shapes them: DataSync's EFS steps only."""
    return world[3]


def datasync_state(sandbox) -> dict:
    """Every DataSync task (with its locations) and location: the set's must stay as they are."""
    datasync = sandbox.client("datasync")
    tasks = {}
    for task in datasync.list_tasks()["Tasks"]:
        described = datasync.describe_task(TaskArn=task["TaskArn"])
        tasks[described["Name"]] = (
            described["SourceLocationArn"],
            described["DestinationLocationArn"],
        )
    locations = {
        loc["LocationArn"]: loc["LocationUri"] for loc in datasync.list_locations()["Locations"]
    }
    return {"tasks": tasks, "locations": locations}


def set_folder(sandbox, installation, backup_set):
    return sandbox.aws.efs_path(installation.datasync_target) / backup_set


def test_side_by_side_copies_the_sets_folder_into_a_new_file_system(
    sandbox, installation, backup_set
):
    datasync_before = datasync_state(sandbox)
    folder_before = tree(set_folder(sandbox, installation, backup_set))

    result = run_dag("ue_restore", {"mode": "restore"})  # the full shape: both methods built

    assert result.state == "success", result.tasks
    plan = result.xcom("plan")
    assert plan["plan"]["disk"]["kind"] == "datasync"
    assert plan["copy_efs"] is True
    assert plan["plan"]["database"]["time"] < plan["plan"]["disk"]["time"]  # rule 1
    for step in ("copy_efs", "wait_efs_copy", "release_efs_copy", "purge_efs", "check_efs_clean"):
        assert result.tasks[step] == "success", step
    assert result.tasks["wait_efs"] == "skipped"  # no AWS Backup job to wait for
    assert not sandbox.log.entries("backup", "StartRestoreJob")
    # the new file system's root holds the set's files, no temporary file
    report = result.xcom("report")
    fs_id = report["restored"]["efs_file_system_id"]
    assert fs_id not in (installation.file_system_id, installation.datasync_target)
    files = tree(sandbox.aws.efs_path(fs_id))
    assert files == {**LIVE_FILES, MARKER: f"{report['restore_id']}\n"}
    assert not set(files) & set(TEMPORARY_FILES)
    efs = sandbox.client("efs")
    described = efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]
    assert described["CreationToken"] == f"{report['restore_id']}-efs"
    assert {t["Key"]: t["Value"] for t in described["Tags"]}["ue-backup:restore"] == (
        report["restore_id"]
    )
    targets = efs.describe_mount_targets(FileSystemId=fs_id)["MountTargets"]
    assert len(targets) == 2  # like the live one's: the Jobs mount it through them
    # the restore's own DataSync task and destination are gone; the set's are as they were
    assert datasync_state(sandbox) == datasync_before
    deleted = {e.operation for e in sandbox.log.entries("datasync") if "Delete" in e.operation}
    assert deleted == {"DeleteTask", "DeleteLocation"}
    assert tree(set_folder(sandbox, installation, backup_set)) == folder_before
    # the live system untouched, its workflows never stopped
    live = tree(installation.efs_path(sandbox))
    assert live.keys() >= set(LIVE_FILES) | set(TEMPORARY_FILES)
    assert not [k for k in live if k.startswith("ue-backup-")]
    assert not sandbox.log.entries("k8s", "patch")


def test_a_datasync_restore_from_another_region_is_refused_naming_the_field(
    sandbox, backup_set, capfd, caplog
):
    result = run_dag("ue_restore", {"mode": "restore", "source_region": "eu-central-1"})

    assert result.state == "failed"
    assert result.tasks["validate"] == "failed", result.tasks
    assert state_changes(sandbox) == []
    out, err = capfd.readouterr()
    said = out + err + caplog.text
    assert "params.source_region: 'eu-central-1': a DataSync installation" in said


def test_a_drill_restores_verifies_and_deletes_everything_it_made(
    sandbox, installation, backup_set, shaped
):
    datasync_before = datasync_state(sandbox)
    live_before = tree(installation.efs_path(sandbox))

    result = run_dag("ue_restore_drill", dags=shaped)

    assert result.state == "success", result.tasks
    assert "wait_efs" not in result.tasks  # the file's shape: DataSync's steps only
    report = result.xcom("report")
    drill_id = result.xcom("prepare")["drill_id"]
    assert report["outcome"] == "passed"
    assert report["backup_set"] == backup_set
    efs = report["components"]["efs"]
    assert efs["status"] == "verified"
    assert efs["checks"]["files"] == len(LIVE_FILES)
    assert efs["checks"]["datasync_copy"]["status"] == "SUCCESS"
    assert efs["rto_seconds"] > 0
    # the cleanup left nothing: no file system, no DataSync task or location of the drill
    client = sandbox.client("efs")
    assert client.describe_file_systems(CreationToken=f"{drill_id}-efs")["FileSystems"] == []
    assert datasync_state(sandbox) == datasync_before
    assert sandbox.k8s.list("jobs", DRILL_NAMESPACE) == []
    assert tree(installation.efs_path(sandbox)) == live_before


def test_a_drill_whose_copy_failed_leaves_no_datasync_task_behind(
    sandbox, installation, backup_set, shaped
):
    """The copy fails: release_efs_copy never runs, and the cleanup deletes the drill's task
    and its destination (never the set's), then the file system."""
    datasync_before = datasync_state(sandbox)
    sandbox.faults.add(Fault("datasync", "StartTaskExecution", kind="outcome"))  # the drill's

    result = run_dag("ue_restore_drill", dags=shaped)

    assert result.state == "failed"
    assert result.tasks["wait_efs_copy"] == "failed", result.tasks
    assert result.tasks["release_efs_copy"] == "upstream_failed"
    assert result.tasks["cleanup"] == "success"
    assert result.xcom("report") is None or result.xcom("report")["outcome"] == "failed"
    drill_id = result.xcom("prepare")["drill_id"]
    client = sandbox.client("efs")
    assert client.describe_file_systems(CreationToken=f"{drill_id}-efs")["FileSystems"] == []
    assert datasync_state(sandbox) == datasync_before
    deleted = [e for e in sandbox.log.entries("datasync") if e.operation == "DeleteTask"]
    assert len(deleted) == 1


def test_in_place_a_failed_copy_leaves_the_live_data_as_it_was(
    sandbox, installation, backup_set, shaped
):
    """Before the commit point nothing live changes: the copy's staged tree is removed from
    the live file system (once the copy stopped writing) and the workflows resume."""
    before = tree(installation.efs_path(sandbox))
    sandbox.faults.add(Fault("datasync", "StartTaskExecution", kind="outcome"))

    result = run_dag(
        "ue_restore",
        {"mode": "restore", "target": "in_place", "confirm": installation.name},
        dags=shaped,
    )

    assert result.state == "failed"
    assert result.tasks["wait_efs_copy"] == "failed", result.tasks
    assert result.tasks["commit_point"] == "upstream_failed"
    assert result.tasks["discard_restored_tree"] == "success"
    assert result.tasks["resume_workflows"] == "success"
    assert tree(installation.efs_path(sandbox)) == before
    enabled = {
        e["metadata"]["name"]: e["spec"]["enabled"]
        for e in sandbox.k8s.list("ecdeployments", NAMESPACE)
    }
    assert enabled == dict.fromkeys(installation.ecds, True)
    rid = result.xcom("validate")["restore_id"]
    left = result.xcom("resume_workflows")["left_over"]
    assert [x for x in left if x.startswith(f"the DataSync task ue-backup-restore-{rid} ")]
    assert not [x for x in left if x.startswith("on the live file system")]  # it was removed


def test_in_place_sets_the_live_data_aside_and_places_the_sets_copy(
    sandbox, installation, backup_set, shaped
):
    """The last test: it replaces the live data (and database)."""
    datasync_before = datasync_state(sandbox)
    live = installation.efs_path(sandbox)
    (live / "aggregation" / "written-after-backup.bin").write_text("newer than the backup")

    result = run_dag(
        "ue_restore",
        {"mode": "restore", "target": "in_place", "confirm": installation.name},
        dags=shaped,
    )

    assert result.state == "success", result.tasks
    rid = result.xcom("validate")["restore_id"]
    assert result.xcom("restore_efs")["file_system_id"] == installation.file_system_id
    assert result.xcom("copy_efs")["folder"] == f"/ue-backup-restoring_{rid}"
    files = tree(live)
    aside = f"ue-backup-replaced_{rid}/"
    restored = {k: v for k, v in files.items() if not k.startswith(aside)}
    assert restored == {**LIVE_FILES, MARKER: f"{rid}\n"}
    assert files[f"{aside}aggregation/written-after-backup.bin"] == "newer than the backup"
    assert set(TEMPORARY_FILES) <= {k.removeprefix(aside) for k in files if k.startswith(aside)}
    assert datasync_state(sandbox) == datasync_before
    assert not sandbox.client("efs").describe_file_systems(CreationToken=f"{rid}-efs")[
        "FileSystems"
    ]
    # the workflows were suspended for the restore and run again
    enabled = {
        e["metadata"]["name"]: e["spec"]["enabled"]
        for e in sandbox.k8s.list("ecdeployments", NAMESPACE)
    }
    assert enabled == dict.fromkeys(installation.ecds, True)
    rds = sandbox.client("rds")
    names = {i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]}
    assert any(n.startswith(f"{installation.rds_instance}-replaced-") for n in names)
    assert f"ue-backup-restore-{rid}" not in datasync_state(sandbox)["tasks"]
