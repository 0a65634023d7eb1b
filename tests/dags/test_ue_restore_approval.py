"""An in-place restore waits for a person's approval, on the sandbox (issue 19).

The run stops after ``plan`` at ``approve_in_place`` (the standard provider's
human-in-the-loop, answered here through Airflow's own Core API route, as the
UI's Required Actions do: ``sandbox.airflow_harness.human``). While it waits,
and after a reject, nothing live has changed; after an approval it restores
in place. A run approved ahead with ``confirm``, a side-by-side restore and a
plan never wait.
"""

from __future__ import annotations

import pytest

from sandbox.airflow_harness.dag_runner import run_dag, write_config
from sandbox.airflow_harness.human import MARK_RUN_FAILED, run_dag_answered
from sandbox.aws.network import add_mount_targets
from sandbox.installation import NAMESPACE
from tests.dags.restore_support import state_changes, tree
from tests.dags.worlds import seeded
from ue_backup.run_summary import backup_summary, restore_summary

pytestmark = pytest.mark.e2e

IN_PLACE = {"mode": "restore", "target": "in_place", "components": ["database", "efs", "velero"]}
APPROVAL = "approve_in_place"


@pytest.fixture(scope="module")
def world(sandbox_session, tmp_path_factory):
    """One installation with one verified backup set."""
    sandbox = sandbox_session
    with seeded(sandbox, "ue-test") as (patch, inst):
        add_mount_targets(sandbox, inst.file_system_id)
        write_config(inst.config, tmp_path_factory.mktemp("approval"), patch)
        backup = run_dag("ue_backup")
        assert backup.state == "success", backup.tasks
        yield sandbox, inst, backup.xcom("preflight")["backup_set"], backup


@pytest.fixture
def sandbox(world):
    world[0].log.clear()
    world[0].faults.clear()
    return world[0]


def ecds_enabled(sandbox) -> dict[str, bool]:
    return {
        e["metadata"]["name"]: e["spec"]["enabled"]
        for e in sandbox.k8s.list("ecdeployments", NAMESPACE)
    }


@pytest.mark.parametrize(
    "conf",
    [{"mode": "plan", "target": "in_place"}, {"mode": "restore", "target": "side_by_side"}],
    ids=["in-place-plan", "side-by-side"],
)
def test_a_run_that_replaces_nothing_never_waits(sandbox, world, conf, capfd, caplog):
    result = run_dag_answered("ue_restore", conf, APPROVAL, None)
    out, err = capfd.readouterr()
    # the skipped steps' console links are not looked up: no error line that is no error
    assert "XCom not found" not in out + err + caplog.text
    assert result.state == "success", result.tasks
    assert result.xcom(APPROVAL) == {"approval": "not_needed"}
    summary = summary_of(result)
    dry = conf["mode"] == "plan"
    if dry:  # a plan ends at the approval: no later step is started only to skip itself
        started = {ti.task_id for ti in result.run.get_task_instances() if ti.try_number}
        assert started == {"validate", "plan", APPROVAL}, started
    assert summary.startswith("## DRY RUN: a plan only, nothing was changed") is dry, summary
    assert "| database | " in summary
    # what the plan restores from, each one click away in the console
    point = result.xcom("plan")["plan"]["disk"]["recovery_point_arn"]
    assert f"| efs | [{point}](https://console.aws.amazon.com/backup/home?region=" in summary
    assert "| memorydb | [ueb-ue-test-" in summary


def summary_of(result) -> str:
    """The run's page summary, from what its tasks really returned."""
    return restore_summary(
        result.xcom("validate"),
        result.xcom("plan"),
        result.xcom(APPROVAL),
        result.xcom("report"),
        result.tasks,
    )


def test_the_backups_summary_names_its_set_and_links_each_artifact(world):
    _, inst, backup_set, backup = world
    summary = backup_summary(backup.xcom("manifest"), inst.config["region"], backup.tasks)
    tab = run_tab("ue_backup", backup.run.run_id, "viewer").text
    assert f"<h2>Backup set <code>{backup_set}</code>: PASSED</h2>" in tab
    assert "not one of ue-backup's" in run_tab("ue_backup_rpo", "x", "viewer").text
    assert summary.startswith(f"## Backup set `{backup_set}`: PASSED")
    snapshot = backup.xcom("manifest")["artifacts"]["rds_snapshot"]["id"]
    assert f"#db-snapshot:id={snapshot})" in summary
    assert "/backup/home?region=eu-west-1#/backupvaults/details/" in summary
    assert "Manifest: [s3://" in summary


def test_a_rejected_in_place_restore_ends_with_nothing_changed(sandbox, world, capfd, caplog):
    _, inst, backup_set, _ = world
    live_before = tree(inst.efs_path(sandbox))
    shown = {}

    def while_waiting(detail):
        shown.update(detail)
        # waiting: nothing live has changed, the workflows still run
        assert state_changes(sandbox) == []
        assert all(ecds_enabled(sandbox).values())

    result = run_dag_answered("ue_restore", IN_PLACE, APPROVAL, "Reject", while_waiting)

    assert result.state == "failed", result.tasks
    assert result.tasks[APPROVAL] == "failed"
    for step in ("suspend_workflows", "commit_point", "place_efs", "switch_over_database"):
        assert result.tasks[step] in ("upstream_failed", "skipped"), result.tasks
    assert state_changes(sandbox) == []
    assert tree(inst.efs_path(sandbox)) == live_before
    assert all(ecds_enabled(sandbox).values())
    out, err = capfd.readouterr()
    assert "rejected the in-place restore" in out + err + caplog.text
    assert "nothing was changed" in out + err + caplog.text
    # what the person was shown: the plan, and exactly what would be replaced and kept aside
    assert backup_set in shown["subject"]
    body = shown["body"]
    assert "| database |" in body
    assert "| efs |" in body
    assert f"renamed {inst.rds_instance}-replaced-" in body
    assert "ue-backup-replaced_" in body
    assert shown["options"] == ["Approve", "Reject"]


def test_a_run_marked_failed_while_it_waits_ends_failed_with_nothing_changed(sandbox, world):
    """The UI's "Mark run as failed" skips every pending task: the run must still end
    failed (approval_outcome), never a 'successful' restore that restored nothing."""
    _, inst, _, _ = world
    live_before = tree(inst.efs_path(sandbox))
    result = run_dag_answered("ue_restore", IN_PLACE, APPROVAL, MARK_RUN_FAILED)
    assert result.state == "failed", result.tasks
    assert result.tasks["approval_outcome"] == "failed", result.tasks
    assert state_changes(sandbox) == []
    assert tree(inst.efs_path(sandbox)) == live_before
    assert all(ecds_enabled(sandbox).values())


def test_an_approved_in_place_restore_replaces_the_live_data(sandbox, world):
    _, inst, _, _ = world
    live = inst.efs_path(sandbox)
    (live / "aggregation" / "written-after-backup.bin").write_text("newer than the backup")

    result = run_dag_answered("ue_restore", IN_PLACE, APPROVAL, "Approve")

    assert result.state == "success", result.tasks
    approval = result.xcom(APPROVAL)
    assert approval["approval"] == "approved", approval
    assert approval["by"], approval
    files = tree(live)
    assert "aggregation/written-after-backup.bin" not in files
    assert any(k.endswith("aggregation/written-after-backup.bin") for k in files)  # set aside
    assert all(ecds_enabled(sandbox).values())
    # the run's page says who approved it and what is live now, with its endpoint
    summary = summary_of(result)
    assert f"Approved by {approval['by']}" in summary
    address = sandbox.client("rds").describe_db_instances(DBInstanceIdentifier=inst.rds_instance)[
        "DBInstances"
    ][0]["Endpoint"]["Address"]
    assert f"#database:id={inst.rds_instance};is-cluster=false) | {address}:" in summary
    assert f"{inst.file_system_id}.efs.eu-west-1.amazonaws.com" in summary
    # ... and the run's "ue-backup summary" tab serves it, as HTML, to who may read the run
    run_id = result.run.run_id
    page = run_tab("ue_restore", run_id, "viewer")
    assert page.status_code == 200, page.text
    assert f"<td>{address}:" in page.text
    assert "Approved by" in page.text
    assert run_tab("ue_restore", run_id, None).status_code == 401


def run_tab(dag_id: str, run_id: str, role: str | None):
    """GET the run's summary tab from the plugin's app, as ``role`` (None: anonymous)."""
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    from ue_backup.ui.catalog_api import create_app

    auth = create_auth_manager()
    auth.init()
    cookies = {}
    if role:
        cookies["_token"] = auth.generate_jwt(SimpleAuthManagerUser(username=role, role=role))
    client = TestClient(create_app(load=lambda: None))
    return client.get(f"/runs/{dag_id}/{run_id}", cookies=cookies)


def test_confirm_approves_ahead_and_a_wrong_one_is_refused(sandbox, world, capfd, caplog):
    _, inst, _, _ = world
    wrong = run_dag("ue_restore", {**IN_PLACE, "confirm": "ue-other"})
    assert wrong.state == "failed", wrong.tasks
    assert wrong.tasks["validate"] == "failed", wrong.tasks
    assert state_changes(sandbox) == []
    out, err = capfd.readouterr()
    assert "params.confirm: 'ue-other' is not this installation's name" in out + err + caplog.text

    ahead = run_dag_answered("ue_restore", {**IN_PLACE, "confirm": inst.name}, APPROVAL, None)
    assert ahead.state == "success", ahead.tasks
    assert ahead.xcom(APPROVAL) == {"approval": "confirmed"}
