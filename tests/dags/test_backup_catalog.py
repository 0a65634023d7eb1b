"""The backup catalog end to end on the sandbox: ue_backup_rpo refreshes it, the panel plans on it.

One installation with copies in a second region and two backup sets, the
newer of which failed (its EFS job); a drill report kept where the drill keeps
it. ``ue_backup_rpo``'s ``refresh_catalog`` lists once and writes the catalog;
``check_rpo`` plans on that same listing; the panel's plans are the planner's
on what ``ue_restore`` would list. A part that cannot be listed fails the
refresh loudly, names itself in the catalog, and leaves the RPO check running.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from sandbox.airflow_harness.dag_runner import run_dag, write_config
from sandbox.faults import Fault
from sandbox.installation import COPY_REGION, add_cross_region, seed_installation
from ue_backup.catalog import CATALOG_VARIABLE, plan_choice, read_choice
from ue_backup.drill_report import report_key
from ue_backup.planning import RestorePlanError, plan_restore
from ue_backup.tasks.rpo import STATE_VARIABLE

pytestmark = pytest.mark.e2e

HOME = "eu-west-1"


@pytest.fixture(scope="module")
def world(sandbox_session, tmp_path_factory):
    """Two sets (the newer one's EFS job failed), copied to the copy region; one drill report."""
    from airflow.models.variable import Variable

    sandbox = sandbox_session
    sandbox.reset()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in sandbox.connection_env().items():
            patch.setenv(name, value)
        Variable.delete(STATE_VARIABLE)
        Variable.delete(CATALOG_VARIABLE)
        inst = seed_installation(sandbox, "ue-test")
        inst.config["cold_window"]["drain_timeout_minutes"] = 0.05
        inst.config["rpo"] = {"home_minutes": 1440}
        add_cross_region(sandbox, inst)
        write_config(inst.config, tmp_path_factory.mktemp("catalog"), patch)
        good = run_dag("ue_backup")
        assert good.state == "success", good.tasks
        sandbox.faults.add(Fault("backup", "StartBackupJob", kind="outcome", state="FAILED"))
        failed = run_dag("ue_backup")
        assert failed.state == "failed", failed.tasks
        sandbox.faults.clear()
        manifest = good.xcom("manifest")
        report = {
            "drill_id": "ue-test-drill-20260101t000000z",
            "installation": "ue-test",
            "backup_set": manifest["backup_set"],
            "outcome": "passed",
            "finished_at": datetime.now(UTC).isoformat(),
            "rto_seconds": {"total": 321.5},
            "failed_steps": [],
        }
        from ue_backup.config import load_config

        manifests = load_config().manifests
        bucket, prefix = manifests.bucket, manifests.prefix
        sandbox.client("s3").put_object(
            Bucket=bucket,
            Key=report_key(prefix, "ue-test", report["drill_id"]),
            Body=json.dumps(report).encode(),
        )
        sets = (manifest["backup_set"], failed.xcom("preflight")["backup_set"])
        yield sandbox, inst, sets, manifest, report


def stored() -> dict:
    from airflow.models.variable import Variable

    return json.loads(Variable.get(CATALOG_VARIABLE))


def home_view() -> dict:
    from ue_backup.config import load_config
    from ue_backup.inventory import list_inventory
    from ue_backup.run_settings import aws_access

    cfg = load_config()
    return list_inventory(aws_access(cfg), cfg)


def test_the_rpo_dag_refreshes_the_catalog_and_the_check_plans_on_the_same_listing(world, caplog):
    sandbox, _, (good, failed), manifest, report = world
    sandbox.requests.clear()
    run = run_dag("ue_backup_rpo")
    assert run.state == "success", run.tasks
    assert run.tasks["refresh_catalog"] == "success"
    # listed once: the run lists the home region's snapshots for the planner's view and for
    # the sizes (every snapshot of the region), never again for the RPO check
    listings = [
        e
        for e in sandbox.requests.entries("aws")
        if e.operation == "DescribeDBSnapshots" and e.region == HOME
    ]
    assert len(listings) == 2
    catalog = stored()
    assert catalog["run_id"] == run.run.run_id
    assert [s["id"] for s in catalog["sets"]] == [failed, good]
    newest, verified = catalog["sets"]
    # the good set: its points are the manifest's, verified, window intact, restorable
    artifacts = manifest["artifacts"]
    assert verified["points"]["database"]["time"] == artifacts["rds_snapshot"]["time"]
    assert verified["points"]["efs"]["time"] == artifacts["efs_recovery_point"]["time"]
    assert verified["points"]["memorydb"]["time"] == artifacts["memorydb_snapshot"]["time"]
    assert "kubernetes" in verified["points"]
    assert verified["verified"] is True
    assert verified["window"]["seconds"] == manifest["cold_window"]["seconds"]
    assert verified["window"]["intact"] is True
    assert verified["restore"]["home"]["restorable"] is True
    assert verified["monthly_usd"] > 0
    assert [c["region"] for c in verified["copies"]] == [COPY_REGION]
    assert verified["copies"][0]["restorable"] is True
    assert verified["last_drill"]["rto_seconds"] == 321.5
    assert catalog["last_drill"]["drill_id"] == report["drill_id"]
    # the failed one: not restorable, in the planner's words
    assert newest["verified"] is False
    with pytest.raises(RestorePlanError) as refused:
        plan_restore(home_view(), {"type": "backup_set", "backup_set": failed})
    assert newest["restore"]["home"] == {"restorable": False, "reason": str(refused.value)}
    # RPO: the catalog's status is the check's verdict, from the same listing
    checked = run.xcom("check_rpo")["regions"][HOME]
    [home] = [r for r in catalog["rpo"] if r["region"] == HOME]
    assert home["newest_set"] == good
    assert (home["newest"], home["age_minutes"], home["in_breach"]) == (
        checked["newest"],
        checked["age_minutes"],
        False,
    )
    assert "planning on the inventory this run's catalog refresh listed" in caplog.text


@pytest.mark.parametrize(
    "query",
    [
        {"request_type": "latest"},
        {"request_type": "backup_set", "backup_set": "GOOD"},
        {"request_type": "point_in_time", "target_time": "EFS"},
        {"request_type": "latest", "source": "copy"},
    ],
)
def test_the_panel_plans_as_ue_restore_would_on_its_listing(world, query):
    _, _, (good, _), manifest, _ = world
    catalog = stored()
    query = {
        k: {"GOOD": good, "EFS": manifest["artifacts"]["efs_recovery_point"]["time"]}.get(v, v)
        for k, v in query.items()
    }
    choice = read_choice(query, catalog)
    planned = plan_choice(catalog, choice, datetime.now(UTC))
    request = {"type": query["request_type"], **{k: v for k, v in choice.items() if k in query}}
    request.pop("request_type", None)
    request.pop("source", None)
    if query.get("source") == "copy":
        from ue_backup.config import load_config
        from ue_backup.inventory import list_inventory
        from ue_backup.run_settings import aws_access

        cfg = load_config()
        view = list_inventory(aws_access(cfg, COPY_REGION), cfg)
    else:
        view = home_view()
    assert planned["plan"] == plan_restore(view, request)
    assert planned["plan"]["backup_set"] == good


def test_a_part_that_cannot_be_listed_fails_the_refresh_and_is_named_in_the_catalog(world):
    from ue_backup.config import load_config

    sandbox, _, (good, _), _, _ = world
    bucket = load_config().manifests.bucket
    sandbox.faults.add(
        Fault(
            "s3",
            "ListObjectsV2",
            target=bucket,
            code="AccessDenied",
            message="denied by the test",
            status=403,
            times=None,
        )
    )
    try:
        run = run_dag("ue_backup_rpo")
    finally:
        sandbox.faults.clear()
    assert run.tasks["refresh_catalog"] == "failed"
    assert run.tasks["check_rpo"] == "success"  # the guard never waits on the catalog
    catalog = stored()
    assert catalog["run_id"] == run.run.run_id
    assert [p.split(" could not")[0] for p in catalog["problems"]] == [
        "the manifests",
        "the drill reports",
    ]
    assert "denied by the test" in catalog["problems"][0]
    assert catalog["sets"][1]["id"] == good  # what could be listed is still there
