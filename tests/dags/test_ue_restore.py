"""ue_restore end to end on the sandbox: the planner's choice, dry runs, refusals, real restores."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from sandbox.airflow_harness.dag_runner import run_dag, write_config
from sandbox.aws.network import add_mount_targets
from sandbox.faults import Fault
from sandbox.installation import (
    LIVE_FILES,
    NAMESPACE,
    TEMPORARY_FILES,
)
from tests.dags.restore_support import MARKER, state_changes, tree
from tests.dags.running import pretend_running
from tests.dags.worlds import seeded
from tests.plugins.alerts_support import alert_topic
from ue_backup.config import parse_config
from ue_backup.hooks.ecd import HELD, RESUME_DEADLINE

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def world(sandbox_session, tmp_path_factory):
    """One installation with three backup sets, the newest of which has a failed EFS job.

    Built once for this module (three backups take a while); the tests run in
    file order, read-only ones first, the in-place restore last.
    """
    sandbox = sandbox_session
    with seeded(sandbox, "ue-test") as (patch, inst):
        add_mount_targets(sandbox, inst.file_system_id)  # two zones, copied side by side
        write_config(inst.config, tmp_path_factory.mktemp("restore"), patch)
        sets, disk_times = [], []
        for failing in (False, False, True):
            if failing:
                sandbox.faults.add(
                    Fault("backup", "StartBackupJob", kind="outcome", state="FAILED")
                )
            result = run_dag("ue_backup")
            assert result.state == ("failed" if failing else "success"), result.tasks
            sets.append(result.xcom("preflight")["backup_set"])
            if not failing:
                artifacts = result.xcom("manifest")["artifacts"]
                disk_times.append(datetime.fromisoformat(artifacts["efs_recovery_point"]["time"]))
        sandbox.faults.clear()
        yield sandbox, inst, sets, disk_times


@pytest.fixture
def sandbox(world):
    """This module's sandbox: shared by its tests, with a fresh mutation log for each."""
    world[0].log.clear()
    world[0].faults.clear()
    return world[0]


@pytest.fixture
def installation(world):
    return world[1]


@pytest.fixture
def three_backups(world):
    return world[2]


@pytest.fixture
def disk_times(world):
    """The EFS points in time of the two complete sets."""
    return world[3]


def test_dry_run_plans_the_newest_complete_set_and_changes_nothing(sandbox, three_backups):
    result = run_dag("ue_restore", {"mode": "plan"})
    assert result.state == "success", result.tasks
    plan = result.xcom("plan")["plan"]
    assert plan["backup_set"] == three_backups[1]  # the newest set's EFS job failed
    assert plan["database"]["time"] < plan["disk"]["time"]
    assert plan["database"]["time"] < plan["memorydb"]["time"]
    assert state_changes(sandbox) == []
    assert result.tasks["restore_efs"] == "skipped"


def test_side_by_side_restore_of_the_latest_set(sandbox, installation, three_backups):
    result = run_dag("ue_restore", {"mode": "restore"})
    assert result.state == "success", result.tasks
    report = result.xcom("report")
    assert report["backup_set"] == three_backups[1]
    restored = sandbox.aws.efs_path(report["restored"]["efs_file_system_id"])
    files = tree(restored)
    assert set(files) == set(LIVE_FILES) | {MARKER}
    assert not set(files) & set(TEMPORARY_FILES)
    # the new file system got a mount target in each subnet of the live one (else the
    # purge Job could not mount it), and they were waited for before the Job ran
    efs = sandbox.client("efs")

    def subnets(fs_id: str) -> list[str]:
        targets = efs.describe_mount_targets(FileSystemId=fs_id)["MountTargets"]
        return sorted(t["SubnetId"] for t in targets)

    live_subnets = subnets(installation.file_system_id)
    assert len(live_subnets) == 2
    assert subnets(report["restored"]["efs_file_system_id"]) == live_subnets
    assert result.xcom("restored_file_system")["mount_targets"] == 2
    assert result.tasks["wait_efs_mount_targets"] == "success"
    # the live system is untouched and its workflows never stopped
    assert tree(installation.efs_path(sandbox)).keys() >= set(LIVE_FILES) | set(TEMPORARY_FILES)
    assert not sandbox.log.entries("k8s", "patch")
    rds = sandbox.client("rds")
    new = rds.describe_db_instances(DBInstanceIdentifier=report["restored"]["database"])
    assert new["DBInstances"][0]["DBInstanceStatus"] == "available"
    # the point-in-time restore used exactly the planned time, strictly before the disk point
    # the database point the plan chose, strictly before the disk and MemoryDB points: a
    # point-in-time restore at exactly the planned time, or the set's own snapshot when
    # that is newer (the MemoryDB point can follow the snapshot by less than a second)
    database = result.xcom("plan")["plan"]["database"]
    if database["kind"] == "point_in_time":
        used = sandbox.aws.rds_restore_time(report["restored"]["database"])
        assert used.isoformat() == database["restore_time"]
    else:
        assert database["snapshot_id"] == f"ueb-{three_backups[1]}"
    memorydb = sandbox.client("memorydb").describe_clusters(
        ClusterName=report["restored"]["memorydb_cluster"]
    )
    assert memorydb["Clusters"][0]["Status"] == "available"
    # the report is kept beside the manifests, as the drills' are
    bucket, key = report["location"].removeprefix("s3://").split("/", 1)
    prefix = parse_config(installation.config).manifests.prefix
    assert key == f"{prefix}restores/ue-test/{report['restore_id']}.json"
    kept = json.loads(sandbox.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert kept["restored"] == report["restored"]


def test_restore_of_a_named_set_uses_that_set(sandbox, three_backups):
    wanted = three_backups[0]
    result = run_dag(
        "ue_restore", {"mode": "plan", "request_type": "backup_set", "backup_set": wanted}
    )
    assert result.state == "success", result.tasks
    plan = result.xcom("plan")["plan"]
    assert plan["backup_set"] == wanted
    assert plan["memorydb"]["backup_set"] == wanted


def test_restore_by_target_time_takes_the_newest_set_not_after_it(
    sandbox, three_backups, disk_times
):
    between = disk_times[0] + (disk_times[1] - disk_times[0]) / 2
    result = run_dag(
        "ue_restore",
        {"mode": "plan", "request_type": "point_in_time", "target_time": between.isoformat()},
    )
    assert result.state == "success", result.tasks
    assert result.xcom("plan")["plan"]["backup_set"] == three_backups[0]


def test_backfill_run_restores_to_its_logical_date(sandbox, three_backups, disk_times):
    logical = disk_times[0] + (disk_times[1] - disk_times[0]) / 2
    result = run_dag(
        "ue_restore", {"mode": "plan", "request_type": "point_in_time"}, logical_date=logical
    )
    assert result.state == "success", result.tasks
    plan = result.xcom("plan")["plan"]
    assert datetime.fromisoformat(plan["request"]["target_time"]) == logical
    assert plan["backup_set"] == three_backups[0]


@pytest.mark.parametrize(
    ("conf", "words"),
    [
        ({"mode": "restore", "target": "in_place", "confirm": "ue-other"}, "confirm"),
        ({"request_type": "backup_set", "backup_set": "nonsense"}, "not a backup set id"),
        ({"request_type": "backup_set", "backup_set": "ue-test-20200101t000000z"}, "incomplete"),
        ({"request_type": "point_in_time", "target_time": "2000-01-01T00:00:00Z"}, "no EFS"),
        ({"flavour": "vanilla"}, "not a parameter"),
        ({"source_region": "eu-central-1"}, "no cross_region is configured"),
        (
            {
                "mode": "restore",
                "request_type": "point_in_time",
                "target_time": "2062-01-01T00:00:00Z",
            },
            "is after the moment of the request",
        ),
    ],
    ids=[
        "in-place-wrong-name",
        "bad-set-id",
        "unknown-set",
        "before-any-backup",
        "unknown-param",
        "no-copy-region",
        "target-time-in-the-future",
    ],
)
def test_bad_params_and_impossible_requests_change_nothing(
    sandbox, three_backups, conf, words, capfd, caplog
):
    result = run_dag("ue_restore", conf)
    assert result.state == "failed"
    failed = [t for t, s in result.tasks.items() if s == "failed"]
    assert failed in (["validate"], ["plan"]), result.tasks
    assert state_changes(sandbox) == []
    out, err = capfd.readouterr()
    assert words in out + err + caplog.text


@pytest.mark.parametrize("busy", ["ue_backup", "ue_backup_retention"])
def test_a_restore_refuses_while_a_backup_or_retention_runs(
    sandbox, three_backups, busy, monkeypatch, capfd, caplog
):
    pretend_running(monkeypatch, busy)
    assert run_dag("ue_restore").state == "success"  # a plan only reads: it may overlap
    result = run_dag("ue_restore", {"mode": "restore"})
    assert result.state == "failed"
    assert result.tasks["validate"] == "failed", result.tasks
    assert state_changes(sandbox) == []
    out, err = capfd.readouterr()
    assert f"a {busy} run is in progress" in out + err + caplog.text


def test_in_place_restore_replaces_the_live_data(sandbox, installation, three_backups):
    """Without MemoryDB (components), everything restored takes the live place: resumed."""
    live = installation.efs_path(sandbox)
    (live / "aggregation" / "written-after-backup.bin").write_text("newer than the backup")
    result = run_dag(
        "ue_restore",
        {
            "mode": "restore",
            "target": "in_place",
            "confirm": installation.name,
            "components": ["database", "efs", "velero"],
        },
    )
    assert result.state == "success", result.tasks
    assert_restored_in_place(sandbox, installation)
    # the workflows were suspended during the restore and run again afterwards
    enabled = {
        e["metadata"]["name"]: e["spec"]["enabled"]
        for e in sandbox.k8s.list("ecdeployments", NAMESPACE)
    }
    assert enabled == dict.fromkeys(installation.ecds, True)
    assert sandbox.log.entries("k8s", "patch")


def assert_restored_in_place(sandbox, installation) -> None:
    """The restored tree and instance are live; what was live is kept aside."""
    files = tree(installation.efs_path(sandbox))
    restored = {k for k in files if not k.startswith("ue-backup-replaced_")}
    assert restored == set(LIVE_FILES) | {MARKER}
    aside = [k for k in files if k.startswith("ue-backup-replaced_")]
    assert any(k.endswith("aggregation/written-after-backup.bin") for k in aside)
    # the restored instance now carries the live name; the old one is kept aside
    rds = sandbox.client("rds")
    names = {i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]}
    assert installation.rds_instance in names
    assert any(n.startswith(f"{installation.rds_instance}-replaced-") for n in names)


def test_in_place_restore_with_memorydb_holds_the_workflows_until_the_platform_is_repointed(
    sandbox, installation, three_backups, capfd, caplog, tmp_path, monkeypatch
):
    """MemoryDB cannot be renamed: the platform still uses the live cluster, newer than the
    restored data. The workflows stay off and held, the run fails loudly (one alert) naming
    the restored cluster and its endpoint, and the commands it gives resume them afterwards."""
    topic = alert_topic(sandbox)
    write_config(
        {**installation.config, "alerts": {"sns_topic_arn": topic.topic_arn}}, tmp_path, monkeypatch
    )
    live = installation.efs_path(sandbox)
    (live / "aggregation" / "written-after-backup.bin").write_text("newer than the backup")

    result = run_dag(
        "ue_restore", {"mode": "restore", "target": "in_place", "confirm": installation.name}
    )

    assert result.state == "failed", result.tasks
    for step in ("commit_point", "switch_over_database", "place_efs", "wait_memorydb"):
        assert result.tasks[step] == "success", result.tasks
    assert result.tasks["resume_workflows"] == "failed"
    assert result.tasks["run_outcome"] == "failed"
    assert_restored_in_place(sandbox, installation)
    ecds = {e["metadata"]["name"]: e for e in sandbox.k8s.list("ecdeployments", NAMESPACE)}
    for name, ecd in ecds.items():
        notes = ecd["metadata"].get("annotations") or {}
        assert ecd["spec"]["enabled"] is False, name
        assert notes.get(HELD), name
        assert RESUME_DEADLINE not in notes, name
    target = result.xcom("validate")["memorydb_target"]
    (cluster,) = sandbox.client("memorydb").describe_clusters(ClusterName=target)["Clusters"]
    endpoint = f"{cluster['ClusterEndpoint']['Address']}:{cluster['ClusterEndpoint']['Port']}"
    report = result.xcom("resume_workflows", key="summary")
    assert report.startswith("ACTION REQUIRED")
    assert f"LIVE MemoryDB cluster {installation.memorydb_cluster}" in report
    assert (
        f"Point the platform at the restored MemoryDB cluster {target} (endpoint {endpoint})"
        in report
    )
    assert f"{installation.rds_instance} is the RESTORED instance" in report
    (alert,) = topic.messages()  # loud: the failed resume alerts, once
    assert alert["subject"] == "ue-backup ue-test: ue_restore failed at resume_workflows"
    assert target in alert["message"]
    output = logged(capfd, caplog)
    # run_outcome says so from the resume's state, never "the workflows were resumed"
    assert (
        "the workflows were NOT resumed (resume_workflows: failed; see its log): ACTION REQUIRED"
        in output
    )
    assert "the workflows were resumed" not in output

    # the platform now uses the restored cluster: the given commands resume every ECD
    commands = [line.strip() for line in report.splitlines() if "kubectl" in line]
    assert len(commands) == len(ecds)
    apply_kubectl_patches(commands)
    after = {e["metadata"]["name"]: e for e in sandbox.k8s.list("ecdeployments", NAMESPACE)}
    assert {n: e["spec"].get("enabled") for n, e in after.items()} == dict.fromkeys(ecds, True)
    assert not any(
        k.startswith("ue-backup/")
        for e in after.values()
        for k in (e["metadata"].get("annotations") or {})
    )


def logged(capfd, caplog) -> str:
    """Everything the run logged: task logs reach either stdout or logging handlers."""
    out, err = capfd.readouterr()
    return out + err + caplog.text


def apply_kubectl_patches(commands: list[str]) -> None:
    """Run ``kubectl -n NS patch PLURAL.GROUP NAME --type merge -p 'JSON'`` on the sandbox."""
    import json
    import shlex

    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
    from kubernetes.client import CustomObjectsApi

    api = CustomObjectsApi(KubernetesHook(conn_id="kubernetes_default").api_client)
    for command in commands:
        words = shlex.split(command)
        assert words[:5] == [
            "kubectl",
            "-n",
            NAMESPACE,
            "patch",
            "ecdeployments.mz.digitalroute.com",
        ]
        assert words[6:9] == ["--type", "merge", "-p"]
        api.patch_namespaced_custom_object(
            "mz.digitalroute.com",
            "v1alpha1",
            NAMESPACE,
            "ecdeployments",
            words[5],
            json.loads(words[9]),
        )
