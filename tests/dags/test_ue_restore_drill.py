"""ue_restore_drill end to end on the sandbox: restore, verify, time, delete, touch nothing live.

One installation with one backup set, built once for the module. Every
drill must leave the sandbox as it found it: its temporary resources gone
whatever happened, and the live installation never written to.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import pytest

from sandbox.airflow_harness.dag_runner import load_dags, run_dag, write_config
from sandbox.aws.network import add_mount_targets
from sandbox.faults import Fault
from sandbox.installation import LIVE_FILES, NAMESPACE
from tests.dags.running import pretend_running
from tests.dags.worlds import seeded
from tests.plugins.alerts_support import alert_topic
from ue_backup.drill_report import COMPONENTS

pytestmark = pytest.mark.e2e

DRILL_NAMESPACE = f"{NAMESPACE}-drill"
# Long enough to stand out from the polling pace (0.2 s), short enough for a test.
DURATIONS = {
    "rds_instance": 1.5,
    "restore_job": 1.2,
    "memorydb_cluster": 1.0,
    "velero": 0.8,
    "rds_delete": 0.6,
    "memorydb_delete": 0.6,
}


@pytest.fixture(scope="module")
def world(sandbox_session, tmp_path_factory):
    """One installation and one complete backup set (a backup run takes a while)."""
    sandbox = sandbox_session
    with seeded(sandbox, "ue-test") as (patch, inst):
        add_mount_targets(sandbox, inst.file_system_id)  # two zones: the drill copies them
        # the platform's configuration: restored by the drill, and removed by its cleanup
        sandbox.k8s.create("configmaps", {"metadata": {"name": "platform"}, "data": {}}, NAMESPACE)
        write_config(inst.config, tmp_path_factory.mktemp("drill"), patch)
        result = run_dag("ue_backup")
        assert result.state == "success", result.tasks
        backup_set = result.xcom("manifest")["backup_set"]
        yield sandbox, inst, backup_set


@pytest.fixture
def sandbox(world):
    """This module's sandbox, with a fresh mutation log, no faults, the drill's durations."""
    sandbox = world[0]
    sandbox.log.clear()
    sandbox.faults.clear()
    sandbox.durations.update(**DURATIONS)
    yield sandbox
    sandbox.faults.clear()


@pytest.fixture
def installation(world):
    return world[1]


@pytest.fixture
def backup_set(world):
    return world[2]


# --- what the sandbox holds ----------------------------------------------------------------


def tree_digest(root) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def live_state(sandbox, installation) -> dict:
    """Everything of the live installation a drill could disturb, as AWS and Kubernetes show it."""
    rds = sandbox.client("rds").describe_db_instances(
        DBInstanceIdentifier=installation.rds_instance
    )["DBInstances"][0]
    cluster = sandbox.client("memorydb").describe_clusters(
        ClusterName=installation.memorydb_cluster
    )["Clusters"][0]
    return {
        "rds": (rds["DBInstanceStatus"], rds["DBInstanceClass"]),
        "memorydb": (cluster["Status"], cluster["NodeType"]),
        "efs": tree_digest(installation.efs_path(sandbox)),
        "efs_mount_targets": sorted(
            (t["MountTargetId"], t["LifeCycleState"])
            for t in sandbox.client("efs").describe_mount_targets(
                FileSystemId=installation.file_system_id
            )["MountTargets"]
        ),
        "k8s": sorted(
            (kind, o["metadata"]["name"], json.dumps(o.get("spec"), sort_keys=True))
            for kind in ("ecdeployments", "configmaps", "persistentvolumeclaims", "deployments")
            for o in sandbox.k8s.list(kind, NAMESPACE)
        ),
        "volumes": sorted(o["metadata"]["name"] for o in sandbox.k8s.list("persistentvolumes")),
    }


def assert_live_never_written(sandbox, installation) -> None:
    """No call of the drill wrote to a live resource (a point-in-time restore reads its source)."""
    live = {installation.rds_instance, installation.memorydb_cluster, installation.file_system_id}
    for entry in sandbox.log.entries():
        if entry.service == "k8s":
            namespace = entry.target.split("/", 1)[0]
            assert namespace != NAMESPACE, entry
            assert installation.file_system_id not in entry.target, entry
            continue
        touched = live & set(entry.target.split())
        if entry.operation == "RestoreDBInstanceToPointInTime":
            touched -= {installation.rds_instance}  # the source it restores from
        assert not touched, entry


def assert_drill_resources_gone(sandbox, drill_id: str) -> None:
    rds = sandbox.client("rds")
    with pytest.raises(rds.exceptions.DBInstanceNotFoundFault):
        rds.describe_db_instances(DBInstanceIdentifier=drill_id)
    memorydb = sandbox.client("memorydb")
    with pytest.raises(memorydb.exceptions.ClusterNotFoundFault):
        memorydb.describe_clusters(ClusterName=drill_id)
    efs = sandbox.client("efs")
    assert efs.describe_file_systems(CreationToken=f"{drill_id}-efs")["FileSystems"] == []
    assert sandbox.k8s.get("restores", "velero", drill_id) is None
    assert sandbox.k8s.get("configmaps", "velero", f"{drill_id}-modifiers") is None
    for kind in ("ecdeployments", "configmaps", "deployments", "jobs", "pods"):
        assert sandbox.k8s.list(kind, DRILL_NAMESPACE) == [], kind
    assert sandbox.k8s.list("persistentvolumeclaims", DRILL_NAMESPACE) == []
    assert [
        v["metadata"]["name"]
        for v in sandbox.k8s.list("persistentvolumes")
        if v["metadata"]["name"].startswith(DRILL_NAMESPACE)
    ] == []


def stored_report(sandbox, installation, drill_id: str) -> dict:
    key = f"ue-backup/drills/{installation.name}/{drill_id}.json"
    body = sandbox.client("s3").get_object(Bucket=installation.bucket, Key=key)["Body"].read()
    return json.loads(body)


def at(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def one(sandbox, service: str, operation: str, contains: str = ""):
    (entry,) = [e for e in sandbox.log.entries(service, operation) if contains in e.target]
    return entry


# --- a drill -----------------------------------------------------------------------------------


def tries(result, task_id: str) -> int:
    (ti,) = [ti for ti in result.run.get_task_instances() if ti.task_id == task_id]
    return ti.try_number


def test_a_drill_restores_verifies_measures_and_deletes_everything(
    sandbox, installation, backup_set
):
    before = live_state(sandbox, installation)
    # One transient error on the way: the purge Job's first creation is refused.
    sandbox.faults.add(Fault("k8s", "create", target=f"{DRILL_NAMESPACE}/jobs/", status=500))

    result = run_dag("ue_restore_drill")

    assert result.state == "success", result.tasks
    report = result.xcom("report")
    drill_id = result.xcom("prepare")["drill_id"]
    assert report["outcome"] == "passed"
    assert report["backup_set"] == backup_set
    assert report["failed_steps"] == []
    assert {c: report["components"][c]["status"] for c in COMPONENTS} == dict.fromkeys(
        COMPONENTS, "verified"
    )
    stored = stored_report(sandbox, installation, drill_id)
    assert stored["rto_seconds"] == report["rto_seconds"]
    assert report["location"] == (
        f"s3://{installation.bucket}/ue-backup/drills/{installation.name}/{drill_id}.json"
    )

    # Each component's RTO spans its restore call and the sandbox's time to make it usable.
    rds_call = [
        e
        for e in sandbox.log.entries("rds")
        if e.operation.startswith("RestoreDBInstance") and drill_id in e.target
    ]
    calls = {
        "database": (rds_call[0], DURATIONS["rds_instance"]),
        "efs": (one(sandbox, "backup", "StartRestoreJob"), DURATIONS["restore_job"]),
        "memorydb": (
            one(sandbox, "memorydb", "CreateCluster", drill_id),
            DURATIONS["memorydb_cluster"],
        ),
        "kubernetes": (one(sandbox, "k8s", "create", "velero/restores/"), DURATIONS["velero"]),
    }
    for name, (call, duration) in calls.items():
        component = report["components"][name]
        started, usable = at(component["started_at"]), at(component["usable_at"])
        assert started <= call.at <= usable, name
        assert usable - call.at >= duration, name
        assert component["rto_seconds"] == pytest.approx(usable - started, abs=0.01), name
        assert report["rto_seconds"][name] == component["rto_seconds"]
    efs = report["components"]["efs"]["checks"]
    assert (
        at(efs["restore_job_created"])
        <= at(efs["restore_job_completed"])
        <= at(report["components"]["efs"]["usable_at"])
    )
    assert efs["files"] == len(LIVE_FILES)
    assert efs["mount_targets"] == 2  # as many as the live file system has
    new_fs = efs["resource"]
    created = sandbox.log.entries("efs", "CreateMountTarget")
    deleted = sandbox.log.entries("efs", "DeleteMountTarget")
    assert [e.target.split()[0] for e in created] == [new_fs, new_fs]
    assert len(deleted) == 2
    assert max(e.at for e in deleted) < one(sandbox, "efs", "DeleteFileSystem").at
    (finished,) = sandbox.log.entries("k8s", "velero-restore-finished")
    assert finished.at <= at(report["components"]["kubernetes"]["usable_at"])
    total = report["rto_seconds"]["total"]
    first_call = min(call.at for call, _ in calls.values())
    assert at(report["started_at"]) <= first_call
    assert total == pytest.approx(at(report["verified_at"]) - at(report["started_at"]), abs=0.01)
    assert total >= max(report["rto_seconds"][c] for c in COMPONENTS)

    # The Kubernetes objects came back in the drill namespace, every ECD disabled.
    restored = [
        e for e in sandbox.log.entries("k8s", "velero-restored") if "/ecdeployments/" in e.target
    ]
    assert sorted(e.target for e in restored) == sorted(
        f"{DRILL_NAMESPACE}/ecdeployments/{ecd}" for ecd in installation.ecds
    )
    assert all(e.detail["enabled"] is False for e in restored)
    # Only the types the drill verifies and reads (and its Role covers): no pods, no claims.
    kinds = {e.target.split("/")[1] for e in sandbox.log.entries("k8s", "velero-restored")}
    assert kinds == {"ecdeployments", "deployments", "configmaps"}
    assert sorted(report["components"]["kubernetes"]["checks"]["ecds_disabled"]) == sorted(
        installation.ecds
    )

    # The retried purge found the claim and volume its first try had made: one of each.
    assert tries(result, "purge_efs") == 2
    for kind in ("persistentvolumes", "persistentvolumeclaims"):
        created = [e for e in sandbox.log.entries("k8s", "create") if f"/{kind}/" in e.target]
        assert [e.target.rsplit("/", 1)[-1] for e in created] == [
            f"{DRILL_NAMESPACE}-{drill_id}-efs"
            if kind == "persistentvolumes"
            else f"{drill_id}-efs"
        ]

    # Afterwards: nothing of the drill is left, and the live installation is as it was.
    assert result.tasks["cleanup"] == "success"
    assert_drill_resources_gone(sandbox, drill_id)
    assert_live_never_written(sandbox, installation)
    assert live_state(sandbox, installation) == before


# --- a failure in the middle -------------------------------------------------------------------

FAULTS = {
    "memorydb-restore-failed": (
        Fault("memorydb", "CreateCluster", kind="outcome", state="create-failed"),
        "wait_memorydb",
        "memorydb",
    ),
    "efs-purge-job-refused": (
        Fault("k8s", "create", target=f"{DRILL_NAMESPACE}/jobs/", status=500, times=None),
        "purge_efs",
        "efs",
    ),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_failure_in_the_middle_fails_loudly_and_still_deletes_everything(
    sandbox, installation, fault, tmp_path, monkeypatch
):
    topic = alert_topic(sandbox, f"drill-{fault}")
    write_config(
        {**installation.config, "alerts": {"sns_topic_arn": topic.topic_arn}}, tmp_path, monkeypatch
    )
    injected, failed_step, component = FAULTS[fault]
    sandbox.faults.add(injected)
    before = live_state(sandbox, installation)

    result = run_dag("ue_restore_drill")

    assert result.state == "failed", result.tasks
    assert result.tasks[failed_step] == "failed", result.tasks
    assert result.tasks["report"] == "failed"  # the report fails the run, after writing
    assert result.tasks["cleanup"] == "success"
    assert result.tasks["run_outcome"] == "failed"
    (alert,) = topic.messages()  # one, from the failed step: the report does not repeat it
    assert alert["subject"] == f"ue-backup ue-test: ue_restore_drill failed at {failed_step}"

    drill_id = result.xcom("prepare")["drill_id"]
    report = stored_report(sandbox, installation, drill_id)
    assert report["outcome"] == "failed"
    assert report["rto_seconds"]["total"] is None
    assert report["components"][component]["status"] == "failed"
    assert report["components"][component]["failed_steps"] == [failed_step]
    assert component not in report["rto_seconds"]
    others = [c for c in COMPONENTS if c != component]
    assert {c: report["components"][c]["status"] for c in others} == dict.fromkeys(
        others, "verified"
    )
    # What was created before the failure is deleted: the failed cluster, or the new
    # file system the purge never reached.
    created = {
        "memorydb": one(sandbox, "memorydb", "CreateCluster", drill_id),
        "efs": one(sandbox, "backup", "StartRestoreJob"),
    }[component]
    assert created.detail["status"] == 200
    assert_drill_resources_gone(sandbox, drill_id)
    assert_live_never_written(sandbox, installation)
    assert live_state(sandbox, installation) == before


# --- dry runs and refusals ------------------------------------------------------------------------


def test_a_dry_run_plans_and_names_but_creates_nothing(sandbox, installation, backup_set):
    result = run_dag("ue_restore_drill", {"dry_run": True})

    assert result.state == "success", result.tasks
    settings = result.xcom("prepare")
    assert settings["backup_set"] == backup_set
    assert settings["plan"]["database"]["time"] < settings["plan"]["disk"]["time"]
    assert settings["rds_target"] == settings["drill_id"]
    assert len(settings["drill_id"]) <= 40
    assert result.xcom("report")["outcome"] == "dry run"
    for task in ("restore_database", "restore_efs", "restore_memorydb", "restore_kubernetes"):
        assert result.tasks[task] == "skipped", result.tasks
    assert sandbox.log.entries() == []  # not one state-changing call, report included
    drills = sandbox.client("s3").list_objects_v2(
        Bucket=installation.bucket, Prefix="ue-backup/drills/"
    )
    assert drills.get("KeyCount", 0) == 0 or all(
        settings["drill_id"] not in o["Key"] for o in drills["Contents"]
    )


@pytest.mark.parametrize(
    ("conf", "words"),
    [
        ({"backup_set": "nonsense"}, "params.backup_set: 'nonsense' is not a backup set id"),
        ({"backup_set": "ue-other-20250101t000000z"}, "is a set of 'ue-other'"),
        ({"backup_set": "ue-test-20200101t000000z"}, "has no COMPLETED EFS recovery point"),
        ({"flavour": "vanilla"}, "params.flavour: is not a parameter"),
    ],
    ids=["bad-set-id", "other-installation", "unknown-set", "unknown-param"],
)
def test_bad_input_is_refused_before_anything_changes(
    sandbox, installation, conf, words, capfd, caplog
):
    result = run_dag("ue_restore_drill", conf)

    assert result.state == "failed", result.tasks
    assert result.tasks["prepare"] == "failed"
    # Nothing was named, so there is nothing to delete: the cleanup does not run.
    assert result.tasks["cleanup"] in ("skipped", "upstream_failed")
    assert sandbox.log.entries() == []
    out, err = capfd.readouterr()
    assert words in out + err + caplog.text


def test_a_drill_refuses_while_retention_runs(sandbox, installation, monkeypatch, capfd, caplog):
    pretend_running(monkeypatch, "ue_backup_retention")
    result = run_dag("ue_restore_drill")

    assert result.tasks["prepare"] == "failed", result.tasks
    assert sandbox.log.entries() == []
    out, err = capfd.readouterr()
    assert "a ue_backup_retention run is in progress" in out + err + caplog.text


def test_a_drill_namespace_of_the_installation_is_refused(
    sandbox, installation, tmp_path, monkeypatch, capfd, caplog
):
    write_config({**installation.config, "drill": {"namespace": NAMESPACE}}, tmp_path, monkeypatch)

    result = run_dag("ue_restore_drill")

    assert result.tasks["prepare"] == "failed"
    assert sandbox.log.entries() == []
    out, err = capfd.readouterr()
    assert f"drill.namespace: '{NAMESPACE}' is a namespace of the installation" in (
        out + err + caplog.text
    )


# --- when it runs ---------------------------------------------------------------------------------


def test_it_runs_on_its_schedule_and_after_each_backup():
    from ue_backup.dag_support import BACKUP_SET_ASSET

    timetable = load_dags()["ue_restore_drill"].timetable
    assert type(timetable).__name__ == "AssetOrTimeSchedule"
    assert timetable.timetable.expression == "0 4 * * 0"  # the default: weekly
    assert timetable.asset_condition == BACKUP_SET_ASSET
