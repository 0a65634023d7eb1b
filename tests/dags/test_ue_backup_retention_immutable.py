"""ue_backup_retention with an immutable installation (issue 17), end to end on the sandbox.

Two backup sets made by ``ue_backup`` with the ``immutable`` section: each leaves its
EFS and database recovery points in the protected account's locked vault and its
manifest in the Object Lock bucket. With ``keep_last: 1`` retention deletes the older
set at home; its protected copies are listed "locked until ...", their cost is the
protected account's, and they are untouched after the run. Without the protected
connection retention still does its home job and says what it could not list.
"""

from __future__ import annotations

import pytest

from sandbox.airflow_harness.dag_runner import run_dag, write_config
from tests.dags.test_ue_backup_immutable import _installation
from tests.plugins.tasks.test_preflight_immutable import BUCKET, PROTECTED, VAULT, _protected_client
from ue_backup.retention_locked import EFS_IMMUTABLE, MANIFEST_IMMUTABLE, RDS_IMMUTABLE

pytestmark = pytest.mark.e2e

LOCKED_KINDS = {EFS_IMMUTABLE, RDS_IMMUTABLE, MANIFEST_IMMUTABLE}


def _protected_state(sandbox) -> tuple[set[str], set[tuple[str, str]]]:
    """The locked vault's recovery points and the bucket's versions, as the protected role
    sees them."""
    backup, s3 = _protected_client(sandbox, "backup"), _protected_client(sandbox, "s3")
    points = backup.list_recovery_points_by_backup_vault(BackupVaultName=VAULT)["RecoveryPoints"]
    versions = s3.list_object_versions(Bucket=BUCKET).get("Versions") or []
    return {p["RecoveryPointArn"] for p in points}, {(v["Key"], v["VersionId"]) for v in versions}


@pytest.fixture
def two_sets(sandbox, tmp_path, monkeypatch):
    """Two verified sets with their protected copies, and retention keeping only one."""
    inst = _installation(sandbox, tmp_path, monkeypatch, memorydb=False)
    sets = []
    for _ in range(2):
        result = run_dag("ue_backup")
        assert result.state == "success", result.tasks
        sets.append(result.xcom("preflight")["backup_set"])
    inst.config["retention"] = {"keep_last": 1, "keep_days": 0}
    write_config(inst.config, tmp_path, monkeypatch)
    sandbox.log.clear()
    sandbox.requests.clear()
    return inst, sets


def test_retention_lists_the_locked_copies_and_leaves_them_when_it_deletes_their_set(
    sandbox, two_sets
):
    inst, (older, newer) = two_sets
    points, versions = _protected_state(sandbox)
    assert len(points) == 4  # two points per set
    assert len(versions) == 2  # and a manifest

    result = run_dag("ue_backup_retention")

    assert result.state == "success", result.tasks
    plan = {s["backup_set"]: s for s in result.xcom("plan")["sets"]}
    assert (plan[older]["action"], plan[newer]["action"]) == ("delete", "keep")
    for set_id in (older, newer):
        assert plan[set_id]["locked"].startswith("locked until "), plan[set_id]["locked"]
        assert {c["kind"] for c in plan[set_id]["protected_copies"]} == LOCKED_KINDS
        assert {a["kind"] for a in plan[set_id]["artifacts"]}.isdisjoint(LOCKED_KINDS)
    summary = result.xcom("summary")
    assert summary["deleted_sets"] == [older]
    assert summary["protected"]["problem"] is None
    assert set(summary["protected"]["sets"]) == {older, newer}
    assert summary["protected"]["sets"][older].startswith("locked until ")
    # nothing deleted was a protected copy, and nothing was asked of the protected account
    # but reads
    assert all(o["kind"] not in LOCKED_KINDS for o in summary["outcomes"])
    assert {o["backup_set"] for o in summary["outcomes"]} == {older}
    changed = [r for r in sandbox.requests.entries("aws") if r.account == PROTECTED]
    assert {r.operation for r in changed} <= {
        "ListRecoveryPointsByBackupVault",
        "ListTags",
        "ListObjectVersions",
        "GetObjectRetention",
    }
    assert _protected_state(sandbox) == (points, versions)  # untouched
    # the home set's artifacts are gone: its manifest at home among them
    home = sandbox.client("s3").list_objects_v2(Bucket=inst.bucket).get("Contents") or []
    assert [o["Key"] for o in home if older in o["Key"]] == []
    # the cost: the protected account's apart, never in the installation's own totals
    costs = summary["costs"]
    protected = costs["protected_account"]
    assert protected["components"][EFS_IMMUTABLE]["count"] == 2
    assert protected["components"][RDS_IMMUTABLE]["count"] == 2
    assert protected["total_monthly_usd"] > 0
    assert set(costs["components"]).isdisjoint(LOCKED_KINDS)


def test_without_the_protected_connection_retention_does_its_home_job_and_says_so(
    sandbox, two_sets, monkeypatch
):
    _, (older, _newer) = two_sets
    monkeypatch.delenv("AIRFLOW_CONN_AWS_IMMUTABLE")

    result = run_dag("ue_backup_retention")

    assert result.state == "success", result.tasks
    summary = result.xcom("summary")
    assert summary["deleted_sets"] == [older]
    assert summary["protected"]["problem"] == "connection aws_immutable is not defined"
    assert summary["protected"]["sets"] == {}
    assert summary["costs"]["protected_account"] is None
    assert [r for r in sandbox.requests.entries("aws") if r.account == PROTECTED] == []
