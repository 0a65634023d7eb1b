"""ue_backup end to end on the sandbox: every variant, every injected fault.

In every case the run must end as it should, with a clear reason when it
fails, and every ECD must end exactly as enabled as it was before the run.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from sandbox.airflow_harness.dag_runner import rerun, run_dag, write_config
from sandbox.faults import Fault
from sandbox.installation import (
    COPY_REGION,
    NAMESPACE,
    TEMPORARY_FILES,
    add_cross_region,
    seed_installation,
)
from tests.dags.running import pretend_running
from tests.plugins.alerts_support import alert_topic

pytestmark = pytest.mark.e2e


def ecd_enabled(sandbox) -> dict[str, bool]:
    return {
        e["metadata"]["name"]: e["spec"].get("enabled", True)
        for e in sandbox.k8s.list("ecdeployments", NAMESPACE)
    }


def suspension_annotations(sandbox) -> dict[str, dict]:
    return {
        e["metadata"]["name"]: {
            k: v for k, v in (e["metadata"].get("annotations") or {}).items() if "ue-backup" in k
        }
        for e in sandbox.k8s.list("ecdeployments", NAMESPACE)
    }


def logged(capfd, caplog) -> str:
    """Everything the run logged: task logs reach either stdout or logging handlers."""
    out, err = capfd.readouterr()
    return out + err + caplog.text


def mutations(sandbox, service=None, operation=None):
    return sandbox.log.entries(service, operation)


@pytest.fixture
def installation(sandbox, tmp_path, monkeypatch, request):
    options = getattr(request, "param", {})
    inst = seed_installation(sandbox, "ue-test", **options)
    inst.config["cold_window"]["drain_timeout_minutes"] = 0.05  # 3 s: the sandbox drains in 0.3
    write_config(inst.config, tmp_path, monkeypatch)
    return inst


def assert_ecds_as_before(sandbox, installation):
    assert ecd_enabled(sandbox) == dict.fromkeys(installation.ecds, True)
    assert all(not a for a in suspension_annotations(sandbox).values())


def manifest_in_s3(sandbox, installation) -> dict:
    s3 = sandbox.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=installation.bucket)["Contents"]]
    assert len(keys) == 1, keys
    return json.loads(s3.get_object(Bucket=installation.bucket, Key=keys[0])["Body"].read())


# --- the full installation -------------------------------------------------------------------


def test_full_backup_with_a_short_cold_window(sandbox, installation, capfd, caplog):
    result = run_dag("ue_backup")
    assert result.state == "success", result.tasks
    assert_ecds_as_before(sandbox, installation)

    # The window: ECDs off, then the database point, then disk and MemoryDB, then ECDs on.
    disable = [m for m in mutations(sandbox, "k8s", "patch") if m.detail.get("enabled") is False]
    enable = [m for m in mutations(sandbox, "k8s", "patch") if m.detail.get("enabled") is True]
    (rds,) = mutations(sandbox, "rds", "CreateDBSnapshot")
    (efs,) = mutations(sandbox, "backup", "StartBackupJob")
    (memorydb,) = mutations(sandbox, "memorydb", "CreateSnapshot")
    assert len(disable) == len(enable) == len(installation.ecds)
    assert max(m.at for m in disable) < rds.at < efs.at < min(m.at for m in enable)
    assert rds.at < memorydb.at < min(m.at for m in enable)

    manifest = manifest_in_s3(sandbox, installation)
    assert manifest["verification"]["result"] == "passed"
    artifacts = manifest["artifacts"]
    assert artifacts["rds_snapshot"]["time"] < artifacts["efs_recovery_point"]["time"]
    assert artifacts["rds_snapshot"]["time"] < artifacts["memorydb_snapshot"]["time"]
    assert artifacts["velero_backup"]["state"] == "Completed"
    assert manifest["cold_window"]["seconds"] > 0
    assert manifest["monthly_cost_usd"] == pytest.approx(20 * 0.05, abs=0.01)
    assert result.xcom("manifest")["backup_set"] == manifest["backup_set"]
    assert "PREFLIGHT WARNING: no cross_region copy" in logged(capfd, caplog)
    assert asset_event_extras(result)[-1]["backup_set"] == manifest["backup_set"]


def switch_ecd(name: str, enabled: bool | None) -> None:
    """Somebody else's write to an ECD's switch (None removes the field)."""
    from ue_backup.hooks.ecd import ECD_GROUP, ECD_PLURAL, ECD_VERSION, EcdHook

    EcdHook(conn_id="kubernetes_default").custom_object_client.patch_namespaced_custom_object(
        ECD_GROUP, ECD_VERSION, NAMESPACE, ECD_PLURAL, name, {"spec": {"enabled": enabled}}
    )


def test_an_ecd_without_spec_enabled_is_suspended_drained_and_given_its_exact_form_back(
    sandbox, installation
):
    switch_ecd("ecd-rating", None)  # no switch: the operator runs it
    sandbox.k8s.wait_ecds_settled()
    sandbox.log.clear()

    result = run_dag("ue_backup")

    assert result.state == "success", result.tasks
    rating = sandbox.k8s.get("ecdeployments", NAMESPACE, "ecd-rating")
    assert "enabled" not in rating["spec"]  # exactly as it was: the field absent again
    assert all(not a for a in suspension_annotations(sandbox).values())
    target = f"{NAMESPACE}/ecdeployments/ecd-rating"
    writes = [m for m in mutations(sandbox, "k8s", "patch") if m.target.endswith(target)]
    # each write as the object came out of it: switched off, then the field gone again
    assert [m.detail.get("enabled", "absent") for m in writes] == [False, "absent"]
    (stopped,) = [m for m in mutations(sandbox, "k8s", "ecd-pods-stopped") if m.target == target]
    (rds,) = mutations(sandbox, "rds", "CreateDBSnapshot")
    assert writes[0].at < stopped.at < rds.at < writes[-1].at  # drained inside the window


def test_the_drain_waits_for_an_ecd_disabled_just_before_the_run(sandbox, installation):
    """An ECD switched off by hand whose pods still run is waited for like the others."""
    sandbox.faults.add(Fault("k8s", "drain", kind="never", target="ecd-aggregation", times=None))
    switch_ecd("ecd-aggregation", False)  # its pod never stops: it would write during the copy
    sandbox.log.clear()

    result = run_dag("ue_backup")

    assert result.state == "failed", result.tasks
    assert result.tasks["wait_workflows_drained"] == "failed", result.tasks
    assert mutations(sandbox, "rds", "CreateDBSnapshot") == []
    assert ecd_enabled(sandbox) == {"ecd-rating": True, "ecd-aggregation": False}  # as left


def when_mutated(sandbox, service: str, operation: str, action, timeout: float = 60.0):
    """Run ``action`` in the background as soon as the sandbox records ``operation``."""
    import threading
    import time

    def wait_then_act():
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sandbox.log.entries(service, operation):
                action()
                return
            time.sleep(0.05)

    thread = threading.Thread(target=wait_then_act, daemon=True)
    thread.start()
    return thread


def set_marks(sandbox, result) -> dict[str, tuple[str, str]]:
    """(ue-backup:verified, ue-backup:window) on the run's RDS snapshot and recovery point."""
    rds = sandbox.client("rds")
    (snapshot,) = rds.describe_db_snapshots(DBSnapshotIdentifier=result.xcom("rds_snapshot")["id"])[
        "DBSnapshots"
    ]
    rds_tags = {t["Key"]: t["Value"] for t in snapshot["TagList"]}
    point = result.xcom("efs_backup")["recovery_point_arn"]
    efs_tags = sandbox.client("backup").list_tags(ResourceArn=point)["Tags"]
    return {
        kind: (tags.get("ue-backup:verified"), tags.get("ue-backup:window"))
        for kind, tags in (("rds", rds_tags), ("efs", efs_tags))
    }


def test_an_ecd_switched_on_while_the_efs_job_runs_breaks_the_window_loudly(
    sandbox, installation, tmp_path, monkeypatch, capfd, caplog
):
    topic = alert_topic(sandbox)
    write_config(
        {**installation.config, "alerts": {"sns_topic_arn": topic.topic_arn}}, tmp_path, monkeypatch
    )
    sandbox.durations.update(backup_job=3.0)  # time for someone to step in
    someone = when_mutated(
        sandbox, "backup", "StartBackupJob", lambda: switch_ecd("ecd-rating", True)
    )

    result = run_dag("ue_backup")
    someone.join()

    assert result.state == "failed", result.tasks
    assert result.tasks["verify"] == "failed", result.tasks
    assert result.tasks["manifest"] in ("upstream_failed", "skipped"), result.tasks
    verdict = result.xcom("resume_workflows")["window"]
    assert verdict["state"] == "broken"
    assert any(p.startswith("ECD ecd-rating was changed") for p in verdict["problems"])
    # the ECDs end as the operator left them: the re-enabled one on, the other resumed
    assert ecd_enabled(sandbox) == {"ecd-rating": True, "ecd-aggregation": True}
    assert result.xcom("resume_workflows")["outcomes"]["ecd-rating"] == "left-enabled"
    alerts = topic.messages()
    assert [a["subject"] for a in alerts] == ["ue-backup ue-test: ue_backup failed at verify"]
    (alert,) = alerts
    assert "verify" in alert["subject"]
    assert "ECD ecd-rating was changed by someone else during the window" in alert["message"]
    # every artifact says so: no planner takes this set by default
    assert set_marks(sandbox, result) == {"rds": ("failed", "broken"), "efs": ("failed", "broken")}


def test_an_intact_window_is_proven_and_every_artifact_marked_verified(sandbox, installation):
    result = run_dag("ue_backup")

    assert result.state == "success", result.tasks
    verdict = result.xcom("resume_workflows")["window"]
    assert (verdict["state"], verdict["problems"]) == ("intact", [])
    assert verdict["ecds"] == sorted(installation.ecds)
    manifest = manifest_in_s3(sandbox, installation)
    assert manifest["cold_window"]["state"] == "intact"
    window_check = [
        c for c in manifest["verification"]["checks"] if c["check"] == "cold window intact"
    ]
    assert [c["ok"] for c in window_check] == [True]
    assert set_marks(sandbox, result) == {"rds": ("passed", "intact"), "efs": ("passed", "intact")}


def asset_event_extras(result) -> list[dict]:
    """The extras of the backup-set Asset events this run emitted."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    from ue_backup.dag_support import BACKUP_SET_ASSET

    with create_session() as session:
        events = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.name == BACKUP_SET_ASSET.name)
            .filter(AssetEvent.source_run_id == result.run.run_id)
            .all()
        )
        return [dict(e.extra or {}) for e in events]


def test_clearing_a_failed_run_creates_nothing_new(sandbox, installation):
    sandbox.faults.add(Fault("backup", "DescribeRecoveryPoint", code="Unavailable", times=None))
    first = run_dag("ue_backup")
    assert first.state == "failed"
    assert first.tasks["verify"] == "failed"
    sandbox.faults.clear()
    second = rerun(first)
    assert second.state == "success", second.tasks
    assert len(mutations(sandbox, "rds", "CreateDBSnapshot")) == 1
    assert len(mutations(sandbox, "memorydb", "CreateSnapshot")) == 1
    assert len(mutations(sandbox, "k8s", "create")) == 1  # the Velero backup
    jobs = sandbox.client("backup").list_backup_jobs()["BackupJobs"]
    assert len(jobs) == 1
    assert_ecds_as_before(sandbox, installation)


# --- cross-region copies ----------------------------------------------------------------------


def test_copies_land_in_the_copy_region_after_the_window_and_in_the_manifest(
    sandbox, installation, tmp_path, monkeypatch, capfd, caplog
):
    add_cross_region(sandbox, installation)
    write_config(installation.config, tmp_path, monkeypatch)

    result = run_dag("ue_backup")

    assert result.state == "success", result.tasks
    assert_ecds_as_before(sandbox, installation)
    copy_tasks = (
        "copy_rds_snapshot",
        "wait_rds_snapshot_copy",
        "copy_efs_recovery_point",
        "wait_efs_recovery_point_copy",
        "export_memorydb_snapshot",
        "wait_memorydb_export",
        "copy_memorydb_snapshot",
    )
    assert {result.tasks[t] for t in copy_tasks} == {"success"}, result.tasks
    # every copy starts after the window has closed
    enable = [m for m in mutations(sandbox, "k8s", "patch") if m.detail.get("enabled") is True]
    starts = [
        *mutations(sandbox, "rds", "CopyDBSnapshot"),
        *mutations(sandbox, "backup", "StartCopyJob"),
        *mutations(sandbox, "memorydb", "CopySnapshot"),
    ]
    assert len(starts) == 3
    assert max(m.at for m in enable) < min(m.at for m in starts)

    manifest = manifest_in_s3(sandbox, installation)
    set_id = manifest["backup_set"]
    tags = {"ue-backup:installation": "ue-test", "ue-backup:backup-set": set_id}
    a = manifest["artifacts"]
    # the RDS copy: in the copy region, the set's tags, the data's point in time
    rds_copy = a["rds_snapshot_copy"]
    assert (rds_copy["region"], rds_copy["state"]) == (COPY_REGION, "available")
    assert rds_copy["time"] == a["rds_snapshot"]["time"] < rds_copy["copied_at"]
    far_rds = sandbox.client("rds", region=COPY_REGION)
    (snapshot,) = far_rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    assert snapshot["DBSnapshotArn"] == rds_copy["arn"]
    assert tags.items() <= {t["Key"]: t["Value"] for t in snapshot["TagList"]}.items()
    # the EFS copy: a recovery point in the vault there, same point in time
    efs_copy = a["efs_recovery_point_copy"]
    assert (efs_copy["region"], efs_copy["state"]) == (COPY_REGION, "COMPLETED")
    assert efs_copy["arn"].startswith(f"arn:aws:backup:{COPY_REGION}:")
    assert efs_copy["time"] == a["efs_recovery_point"]["time"]
    far_backup = sandbox.client("backup", region=COPY_REGION)
    assert tags.items() <= far_backup.list_tags(ResourceArn=efs_copy["arn"])["Tags"].items()
    # the MemoryDB copy: the export's .rdb file in the bucket there
    memorydb_copy = a["memorydb_snapshot_copy"]
    assert memorydb_copy["region"] == COPY_REGION
    assert memorydb_copy["time"] == a["memorydb_snapshot"]["time"]
    far_s3 = sandbox.client("s3", region=COPY_REGION)
    bucket = installation.config["cross_region"]["memorydb_bucket"]
    (obj,) = far_s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert memorydb_copy["snapshot_arns"] == [f"arn:aws:s3:::{bucket}/{obj['Key']}"]
    object_tags = far_s3.get_object_tagging(Bucket=bucket, Key=obj["Key"])["TagSet"]
    assert tags.items() <= {t["Key"]: t["Value"] for t in object_tags}.items()
    # costs at the configured prices, from the sizes the sandbox reports
    prices = manifest["prices_usd_per_gb_month"]
    gb = 1024**3
    assert rds_copy["monthly_cost_usd"] == pytest.approx(20 * prices["rds_snapshot_gb_month"])
    assert efs_copy["monthly_cost_usd"] == pytest.approx(
        efs_copy["size_bytes"] / gb * prices["efs_warm_gb_month"], abs=1e-4
    )
    assert memorydb_copy["size_bytes"] == obj["Size"]
    assert memorydb_copy["monthly_cost_usd"] == pytest.approx(
        obj["Size"] / gb * prices["s3_standard_gb_month"], abs=1e-4
    )
    checks = {c["check"]: c["ok"] for c in manifest["verification"]["checks"]}
    assert checks["rds snapshot copy point in time"] is True
    assert checks["efs recovery point copy point in time"] is True
    assert "PREFLIGHT WARNING: no cross_region copy" not in logged(capfd, caplog)

    # a plan from the copy region finds this set there, without asking the home region
    sandbox.log.clear()
    planned = run_dag("ue_restore", {"mode": "plan", "source_region": COPY_REGION})
    assert planned.state == "success", planned.tasks
    plan = planned.xcom("plan")
    assert plan["plan"]["backup_set"] == set_id
    assert plan["rds_snapshot_id"] == snapshot["DBSnapshotIdentifier"]
    assert plan["plan"]["database"]["time"] == a["rds_snapshot"]["time"]
    assert plan["recovery_point_arn"] == efs_copy["arn"]
    assert plan["memorydb_snapshot_arns"] == memorydb_copy["snapshot_arns"]
    assert plan["plan"]["database"]["time"] < plan["plan"]["disk"]["time"]
    assert sandbox.log.entries() == []  # a dry run changes nothing


def test_a_failed_copy_fails_the_run_after_the_window_closed(
    sandbox, installation, tmp_path, monkeypatch
):
    add_cross_region(sandbox, installation)
    write_config(installation.config, tmp_path, monkeypatch)
    sandbox.faults.add(Fault("rds", "CopyDBSnapshot", kind="outcome", state="failed"))

    result = run_dag("ue_backup")

    assert result.state == "failed"
    assert result.tasks["wait_rds_snapshot_copy"] == "failed", result.tasks
    assert result.tasks["resume_workflows"] == "success"
    assert result.tasks["wait_efs_recovery_point_copy"] == "success"
    assert_ecds_as_before(sandbox, installation)


def test_a_copy_region_with_nothing_there_is_refused_by_preflight(
    sandbox, installation, tmp_path, monkeypatch
):
    installation.config["cross_region"] = {
        "region": COPY_REGION,
        "backup_vault_arn": f"arn:aws:backup:{COPY_REGION}:123456789012:backup-vault:missing",
        "memorydb_export_bucket": "no-such-export-bucket",
        "memorydb_bucket": "no-such-dr-bucket",
    }
    write_config(installation.config, tmp_path, monkeypatch)

    result = run_dag("ue_backup")

    assert result.state == "failed"
    assert result.tasks["preflight"] == "failed"
    assert len(sandbox.log) == 0


# --- variants --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "installation",
    [
        {"database": "derby"},
        {"memorydb": False, "velero": False},
        {"cold_window": False},
    ],
    indirect=True,
    ids=["derby", "no-memorydb-no-velero", "hot-backup"],
)
def test_variants(sandbox, installation):
    result = run_dag("ue_backup")
    assert result.state == "success", result.tasks
    assert_ecds_as_before(sandbox, installation)
    manifest = manifest_in_s3(sandbox, installation)
    artifacts = manifest["artifacts"]
    assert (artifacts["rds_snapshot"] is None) == (installation.rds_instance is None)
    assert (artifacts["memorydb_snapshot"] is None) == (installation.memorydb_cluster is None)
    cold = installation.config["cold_window"]["disk_storage_used"]
    assert (manifest["cold_window"] is None) == (not cold)
    assert bool(mutations(sandbox, "k8s", "patch")) == bool(cold)


@pytest.mark.parametrize("installation", [{"method": "datasync"}], indirect=True)
def test_datasync_copy_leaves_temporary_files_behind(sandbox, installation):
    result = run_dag("ue_backup")
    assert result.state == "success", result.tasks
    target = sandbox.aws.efs_path(installation.datasync_target)
    copied = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert copied
    assert not copied & set(TEMPORARY_FILES)
    assert manifest_in_s3(sandbox, installation)["artifacts"]["datasync_execution"]["state"] == (
        "SUCCESS"
    )


def test_components_param_leaves_out_velero(sandbox, installation):
    result = run_dag("ue_backup", {"components": ["database", "efs", "memorydb"], "reason": "x"})
    assert result.state == "success", result.tasks
    assert result.tasks["velero_backup"] == "skipped"
    assert not sandbox.k8s.list("backups", "velero")


# --- refused before anything changes ----------------------------------------------------------


def test_bad_params_are_refused_by_preflight(sandbox, installation):
    result = run_dag("ue_backup", {"colour": "blue"})
    assert result.state == "failed"
    assert result.tasks["preflight"] == "failed"
    assert len(sandbox.log) == 0


def test_a_component_list_without_efs_is_refused_before_a_run_exists(sandbox, installation):
    """The form's schema refuses it (forms.backup_params: contains efs), so no run starts;
    preflight refuses it too for a run created some other way (check_params)."""
    from airflow.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match="components"):
        run_dag("ue_backup", {"components": ["database"]})
    assert len(sandbox.log) == 0


def test_a_backup_refuses_while_a_restore_runs(sandbox, installation, monkeypatch, capfd, caplog):
    """A backup now would capture a half-restored system (tasks/run_guard.COLLISIONS)."""
    pretend_running(monkeypatch, "ue_restore")
    result = run_dag("ue_backup")
    assert result.state == "failed"
    assert result.tasks["preflight"] == "failed", result.tasks
    assert len(sandbox.log) == 0
    out, err = capfd.readouterr()
    assert "a ue_restore run is in progress: a backup now would capture" in (
        out + err + caplog.text
    )


@pytest.mark.parametrize(
    "conf",
    [{"components": ["efs", "tape"]}, {"reason": "x" * 501}],
    ids=["unknown-component", "long-reason"],
)
def test_params_breaking_the_form_schema_never_start_a_run(sandbox, installation, conf):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        run_dag("ue_backup", conf)
    assert len(sandbox.log) == 0


def test_missing_resource_is_refused_before_suspending(
    sandbox, installation, tmp_path, monkeypatch
):
    installation.config["memorydb"]["cluster_name"] = "no-such-cluster"
    write_config(installation.config, tmp_path, monkeypatch)
    result = run_dag("ue_backup")
    assert result.state == "failed"
    assert result.tasks["preflight"] == "failed"
    assert len(sandbox.log) == 0


# --- faults: the run fails loudly, and the workflows end as they began -----------------------

FAULTS = {
    "rds-snapshot-api-error": Fault("rds", "CreateDBSnapshot", code="InternalFailure", times=None),
    "rds-snapshot-failed": Fault("rds", "CreateDBSnapshot", kind="outcome", state="failed"),
    "efs-job-failed": Fault(
        "backup", "StartBackupJob", kind="outcome", state="FAILED", message="EFS throttled"
    ),
    "efs-job-expired": Fault("backup", "StartBackupJob", kind="outcome", state="EXPIRED"),
    "memorydb-api-error": Fault("memorydb", "CreateSnapshot", code="InvalidState", times=None),
    "velero-partially-failed": Fault(
        "k8s", "velero-backup", kind="outcome", state="PartiallyFailed"
    ),
    "velero-create-error": Fault("k8s", "create", target="velero/backups", status=500, times=None),
    "suspend-api-error": Fault(
        "k8s", "patch", target="ecdeployments/ecd-rating", status=500, times=None
    ),
    "drain-never-finishes": Fault("k8s", "drain", kind="never", target="ecd-rating", times=None),
}
FAILED_TASK = {
    "rds-snapshot-api-error": "rds_snapshot",
    "rds-snapshot-failed": "wait_rds_snapshot",
    "efs-job-failed": "wait_efs_backup",
    "efs-job-expired": "wait_efs_backup",
    "memorydb-api-error": "memorydb_snapshot",
    "velero-partially-failed": "wait_velero_backup",
    "velero-create-error": "velero_backup",
    "suspend-api-error": "suspend_workflows",
    "drain-never-finishes": "wait_workflows_drained",
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_fails_the_run_resumes_the_workflows_and_alerts_once(
    sandbox, installation, fault, capfd, caplog, tmp_path, monkeypatch
):
    topic = alert_topic(sandbox)
    write_config(
        {**installation.config, "alerts": {"sns_topic_arn": topic.topic_arn}}, tmp_path, monkeypatch
    )
    sandbox.faults.add(FAULTS[fault])
    result = run_dag("ue_backup")
    assert result.state == "failed", result.tasks
    assert result.tasks[FAILED_TASK[fault]] == "failed", result.tasks
    (alert,) = topic.messages()  # exactly one, from the failed step
    assert alert["subject"] == f"ue-backup ue-test: ue_backup failed at {FAILED_TASK[fault]}"
    assert f"Failed step: {FAILED_TASK[fault]}" in alert["message"]
    assert result.tasks["verify"] in ("upstream_failed", "skipped"), result.tasks
    assert_ecds_as_before(sandbox, installation)
    if fault not in ("suspend-api-error",):
        assert result.tasks["resume_workflows"] == "success", result.tasks
    output = logged(capfd, caplog)
    if fault == "efs-job-failed":
        assert "EFS throttled" in output
        assert "EFS throttled" in alert["message"]
    if fault == "velero-partially-failed":
        assert "phase PartiallyFailed" in output


# --- verified means restorable ---------------------------------------------------------------


def test_the_set_of_a_failed_run_is_never_restored_by_default_and_the_plan_says_why(
    sandbox, installation, capfd, caplog
):
    verified = run_dag("ue_backup")
    assert verified.state == "success", verified.tasks
    sandbox.faults.add(FAULTS["velero-partially-failed"])
    failed = run_dag("ue_backup")  # its EFS job completed; verification never ran
    assert failed.state == "failed", failed.tasks
    good, bad = (r.xcom("preflight")["backup_set"] for r in (verified, failed))

    plan = run_dag("ue_restore").xcom("plan")["plan"]

    assert (plan["backup_set"], plan["verified"]) == (good, True)
    assert [(r["backup_set"], r["reason"]) for r in plan["rejected"]] == [
        (
            bad,
            f"backup set {bad} was never verified: its backup run failed before "
            "verification, or still runs",
        )
    ]
    assert f"(set {bad}): backup set {bad} was never verified" in logged(capfd, caplog)

    allowed = run_dag("ue_restore", {"allow_unverified": True}).xcom("plan")["plan"]
    assert (allowed["backup_set"], allowed["verified"]) == (bad, False)
    assert allowed["warning"].startswith(f"UNVERIFIED: backup set {bad} was never verified")


# --- the watchdog ----------------------------------------------------------------------------


def test_watchdog_repairs_a_window_left_open_by_a_killed_run(sandbox, installation, capfd, caplog):
    from ue_backup.hooks.ecd import EcdHook

    hook = EcdHook(conn_id="kubernetes_default")
    deadline = datetime.now(UTC) - timedelta(minutes=1)
    hook.suspend(
        NAMESPACE, installation.ecds, "ue-test-20261124t020000z", deadline, "ue_backup/killed"
    )
    assert not any(ecd_enabled(sandbox).values())
    result = run_dag("ue_backup_watchdog")
    assert result.state == "success"
    assert_ecds_as_before(sandbox, installation)
    assert "WATCHDOG RESUMED ECD" in logged(capfd, caplog)


def test_watchdog_never_resumes_the_ecds_of_a_run_airflow_still_runs(
    sandbox, installation, tmp_path, monkeypatch, capfd, caplog
):
    """The live run is looked up through the real Task SDK (its state is an enum there).

    The watchdog's own run stands in for a backup still copying past its deadline:
    Airflow reports it running, so the ECDs stay off and the overdue alert goes once.
    """
    from ue_backup.hooks.ecd import EcdHook

    topic = alert_topic(sandbox)
    write_config(
        {**installation.config, "alerts": {"sns_topic_arn": topic.topic_arn}}, tmp_path, monkeypatch
    )
    when = datetime.now(UTC).replace(microsecond=0)
    live_run = f"ue_backup_watchdog/manual__{when.isoformat()}"  # dag.test's own run id
    hook = EcdHook(conn_id="kubernetes_default")
    deadline = datetime.now(UTC) - timedelta(minutes=1)
    hook.suspend(NAMESPACE, installation.ecds, "ue-test-20261124t020000z", deadline, live_run)

    result = run_dag("ue_backup_watchdog", logical_date=when, run_after=when)

    assert result.state == "success", result.tasks
    assert result.run.run_id == live_run.split("/", 1)[1]
    assert not any(ecd_enabled(sandbox).values())  # left to the live run
    outcome = result.xcom("resume_expired_suspensions")
    assert outcome["resumed"] == {}
    assert outcome["overdue"] == dict.fromkeys(installation.ecds, live_run)
    (alert,) = topic.messages()
    assert alert["subject"].startswith("ue-backup cold window overdue")
    assert "WATCHDOG RESUMED" not in logged(capfd, caplog)


def test_watchdog_leaves_a_window_within_its_deadline(sandbox, installation):
    from ue_backup.hooks.ecd import EcdHook

    hook = EcdHook(conn_id="kubernetes_default")
    deadline = datetime.now(UTC) + timedelta(minutes=30)
    hook.suspend(NAMESPACE, installation.ecds, "ue-test-20261124t020000z", deadline, "x/y")
    result = run_dag("ue_backup_watchdog")
    assert result.state == "success"
    assert not any(ecd_enabled(sandbox).values())


# --- external cold window (the platform's Helm suspend.from / suspend.until) -----------------


def external_config(
    installation, tmp_path, monkeypatch, *, inside: bool, minutes: int = 5, began: int = 30
):
    """Put the platform's hour-long suspension window around now, ``began`` minutes ago
    (or away from it)."""
    now = datetime.now(UTC)
    start = now - timedelta(minutes=began) if inside else now + timedelta(hours=2)
    end = start + timedelta(hours=1)
    installation.config["cold_window"].update(
        mode="external",
        external_suspend_from=f"{start.minute} {start.hour} * * *",
        external_suspend_until=f"{end.minute} {end.hour} * * *",
        expected_backup_minutes=minutes,
    )
    write_config(installation.config, tmp_path, monkeypatch)


def stop_all_ecds(sandbox, installation):
    """What the platform's own suspension does: every ECD off, pods gone."""
    from ue_backup.hooks.ecd import ECD_GROUP, ECD_PLURAL, ECD_VERSION, EcdHook

    api = EcdHook(conn_id="kubernetes_default").custom_object_client
    for name in installation.ecds:
        api.patch_namespaced_custom_object(
            ECD_GROUP, ECD_VERSION, NAMESPACE, ECD_PLURAL, name, {"spec": {"enabled": False}}
        )
    core = sandbox.k8s
    core.wait_until(lambda: all(not core.ecd_pods(NAMESPACE, n) for n in installation.ecds))
    sandbox.log.clear()


def test_external_window_backs_up_inside_the_platforms_window(
    sandbox, installation, tmp_path, monkeypatch
):
    external_config(installation, tmp_path, monkeypatch, inside=True)
    stop_all_ecds(sandbox, installation)
    result = run_dag("ue_backup")
    assert result.state == "success", result.tasks
    assert result.tasks["check_external_window"] == "success"
    assert not mutations(sandbox, "k8s", "patch")  # the platform owns the ECDs
    assert manifest_in_s3(sandbox, installation)["cold_window"]["mode"] == "external"


@pytest.mark.parametrize(
    ("inside", "stopped", "minutes", "words"),
    [
        (False, True, 5, "not inside the platform's suspension window"),
        (True, False, 5, "ECDs still running"),
        (True, True, 45, "resumes the workflows at"),
    ],
    ids=["outside-window", "ecds-running", "no-time-left"],
)
def test_external_window_refuses_what_cannot_be_consistent(
    sandbox, installation, tmp_path, monkeypatch, capfd, caplog, inside, stopped, minutes, words
):
    external_config(installation, tmp_path, monkeypatch, inside=inside, minutes=minutes)
    if stopped:
        stop_all_ecds(sandbox, installation)
    result = run_dag("ue_backup")
    assert result.state == "failed"
    assert result.tasks["check_external_window"] == "failed"
    assert not mutations(sandbox, "rds")
    assert not mutations(sandbox, "backup")
    assert words in logged(capfd, caplog)


@pytest.mark.parametrize("history", [True, False], ids=["history-refuses", "fixed-30-accepts"])
def test_external_window_refuses_what_the_past_jobs_say_will_not_fit_before_until(
    sandbox, installation, tmp_path, monkeypatch, capfd, caplog, history
):
    """``until`` is about 45 min away: the fixed 30 minutes fit, five past EFS jobs of 40
    minutes (50 with the margin) do not, and the refusal comes before anything changes."""
    from ue_backup.window_estimate import GIB

    external_config(installation, tmp_path, monkeypatch, inside=True, minutes=30, began=15)
    if history:
        fs = sandbox.client("efs").describe_file_systems(FileSystemId=installation.file_system_id)
        arn = fs["FileSystems"][0]["FileSystemArn"]
        for day in range(1, 6):
            sandbox.aws.add_past_backup_job(
                installation.vault, arn, datetime.now(UTC) - timedelta(days=day), 40 * 60, 10 * GIB
            )
    stop_all_ecds(sandbox, installation)
    result = run_dag("ue_backup")
    log = logged(capfd, caplog)
    assert result.tasks["preflight"] == "success"
    if history:
        assert result.state == "failed"
        assert result.tasks["check_external_window"] == "failed"
        assert not mutations(sandbox, "rds")
        assert not mutations(sandbox, "backup")
        # 50 min learned, plus the RDS snapshot's point in time at its bound (10 min)
        assert "Cold window estimate (external mode): 60 min 00 s (p90 of the last 5" in log
        assert "the backup needs about 1:00:00 (estimate: p90 of the last 5 completed" in log
        assert "suspend.until" in log
        return
    assert result.state == "success", result.tasks
    window = manifest_in_s3(sandbox, installation)["cold_window"]
    assert window["estimate_seconds"] == 30 * 60
    assert "expected_backup_minutes (30 min)" in window["estimate_basis"]
    assert window["seconds"] > 0


@pytest.mark.parametrize(
    "components", [None, ["efs", "memorydb", "velero"]], ids=["with-database", "without"]
)
def test_the_estimate_adds_the_database_points_wait_only_when_the_run_takes_the_database(
    sandbox, installation, tmp_path, monkeypatch, capfd, caplog, components
):
    """``until`` is about 45 min away; five past EFS jobs of 30 minutes learn 37 min 30 s.
    With the database the RDS snapshot's point may take up to 10 minutes more before the
    copy starts: 47 min 30 s do not fit. A run without the database waits for no such
    point: it fits, and runs."""
    from ue_backup.window_estimate import GIB

    external_config(installation, tmp_path, monkeypatch, inside=True, minutes=5, began=15)
    fs = sandbox.client("efs").describe_file_systems(FileSystemId=installation.file_system_id)
    arn = fs["FileSystems"][0]["FileSystemArn"]
    for day in range(1, 6):
        sandbox.aws.add_past_backup_job(
            installation.vault, arn, datetime.now(UTC) - timedelta(days=day), 30 * 60, 10 * GIB
        )
    stop_all_ecds(sandbox, installation)
    result = run_dag("ue_backup", {"components": components} if components else None)
    log = logged(capfd, caplog)
    if components is None:
        assert result.tasks["check_external_window"] == "failed"
        assert "the backup needs about 0:47:30" in log
        assert not mutations(sandbox, "backup")
        return
    assert result.state == "success", result.tasks
    assert "Cold window estimate (external mode): 37 min 30 s" in log
    assert "before the copy starts" not in log


@pytest.mark.parametrize("installation", [{"method": "datasync"}], indirect=True)
def test_external_window_refuses_what_past_datasync_copies_say_will_not_fit_before_until(
    sandbox, installation, tmp_path, monkeypatch, capfd, caplog
):
    """A DataSync installation learns from its sets' executions: ``until`` is about 45 min
    away, the fixed 30 minutes would fit, seven past copies of 40 minutes (50 with the
    margin) do not, and the refusal comes before anything changes."""
    from tests.plugins.datasync_history import add_past_copies

    external_config(installation, tmp_path, monkeypatch, inside=True, minutes=30, began=15)
    add_past_copies(sandbox, installation, [40] * 7)
    stop_all_ecds(sandbox, installation)  # also forgets the set-up's calls
    result = run_dag("ue_backup")
    log = logged(capfd, caplog)
    assert result.tasks["preflight"] == "success"
    assert result.state == "failed"
    assert result.tasks["check_external_window"] == "failed"
    assert not mutations(sandbox, "datasync")
    assert not mutations(sandbox, "rds")
    assert not mutations(sandbox, "backup")
    assert not mutations(sandbox, "k8s", "patch")
    assert (
        "Cold window estimate (external mode): 60 min 00 s (p90 of the last 7 completed "
        f"DataSync copies of {installation.name}"
    ) in log
    assert "the backup needs about 1:00:00 (estimate: p90 of the last 7 completed DataSync" in log
    assert "suspend.until" in log
