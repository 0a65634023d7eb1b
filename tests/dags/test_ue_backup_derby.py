"""A Derby installation end to end: Derby is copied cold, and restored cold.

Derby lives in the EFS tree, open by the platform (``database.derby.platform``).
The managed cold window scales the platform to zero after suspending the ECDs, the
drain waits for its pod, and the teardown scales it back, also when a step fails.
An in-place restore keeps it at zero until the tree is placed and checked, and ends
with it running on the restored tree.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sandbox.airflow_harness.dag_runner import load_shaped_dags, run_dag, write_config
from sandbox.faults import Fault
from sandbox.installation import NAMESPACE, PLATFORM, seed_installation

pytestmark = pytest.mark.e2e

PLATFORM_TARGET = f"{NAMESPACE}/deployments/{PLATFORM}"
DERBY_PAGE = "derby/seg0/c1.dat"


@pytest.fixture
def derby(sandbox, tmp_path: Path, monkeypatch):
    inst = seed_installation(sandbox, "ue-test", database="derby", memorydb=False, velero=False)
    inst.config["cold_window"]["drain_timeout_minutes"] = 0.05
    dags = load_shaped_dags(write_config(inst.config, tmp_path, monkeypatch))
    return inst, dags


def events(sandbox) -> list[tuple[str, str, str]]:
    """The run's changes in order: (service, operation, target), the platform's with replicas."""
    out = []
    for m in sandbox.log.entries():
        what = m.operation
        if m.target == PLATFORM_TARGET:
            what = f"scale {m.detail.get('replicas')}"
        out.append((m.service, what, m.target))
    return out


def platform_scales(sandbox) -> list[int]:
    """The platform's replicas after each patch that changed them (an annotation-only patch,
    such as the commit point's hold, repeats the count and is not a scale)."""
    scales: list[int] = []
    for e in events(sandbox):
        if e[2] == PLATFORM_TARGET and (not scales or scales[-1] != int(e[1].split()[1])):
            scales.append(int(e[1].split()[1]))
    return scales


def index_of(sandbox, predicate) -> int:
    return next(i for i, e in enumerate(events(sandbox)) if predicate(e))


def platform_now(sandbox) -> tuple[int, int, dict]:
    """(spec.replicas, ready replicas, ue-backup annotations) of the platform Deployment."""
    found = sandbox.k8s.get("deployments", NAMESPACE, PLATFORM)
    annotations = {
        k: v for k, v in (found["metadata"].get("annotations") or {}).items() if "ue-backup" in k
    }
    ready = (found.get("status") or {}).get("readyReplicas", 0)
    return found["spec"]["replicas"], ready, annotations


def wait_platform_ready(sandbox) -> None:
    sandbox.k8s.wait_until(lambda: platform_now(sandbox)[1] == 1, timeout=10)


def test_the_platform_is_stopped_inside_the_window_and_runs_again_after_a_restore_in_place(
    sandbox, derby
):
    inst, dags = derby
    backup = run_dag("ue_backup", {"reason": "derby"}, dags=dags)
    assert backup.state == "success", backup.tasks
    # scaled to zero after the ECDs, before the EFS job; back after the job, once
    assert platform_scales(sandbox) == [0, 1]
    down = index_of(sandbox, lambda e: e[2] == PLATFORM_TARGET)
    start = index_of(sandbox, lambda e: e[1] == "StartBackupJob")
    up = max(i for i, e in enumerate(events(sandbox)) if e[2] == PLATFORM_TARGET)
    assert down < start < up
    assert f"Deployment/{PLATFORM}" in backup.xcom("wait_workflows_drained")
    assert backup.xcom("suspend_workflows")["platform"]["stopped"] is True
    assert backup.xcom("resume_workflows")["outcomes"][f"Deployment/{PLATFORM}"] == "resumed"
    assert platform_now(sandbox)[::2] == (1, {})
    wait_platform_ready(sandbox)

    # Derby changes after the backup; an in-place restore brings the backed-up page back
    tree = inst.efs_path(sandbox)
    backed_up = (tree / DERBY_PAGE).read_text()
    (tree / DERBY_PAGE).write_text("a page written after the backup")
    sandbox.log.clear()
    conf = {"mode": "restore", "target": "in_place", "confirm": inst.name}
    in_place = run_dag("ue_restore", conf, dags=dags)
    assert in_place.state == "success", in_place.tasks
    assert in_place.tasks["check_efs_clean"] == "success"
    # the platform stays at zero until the tree is placed and checked, then runs again
    assert platform_scales(sandbox) == [0, 1]
    down = index_of(sandbox, lambda e: e[2] == PLATFORM_TARGET)
    placed = max(i for i, e in enumerate(events(sandbox)) if "/jobs/" in e[2])
    up = max(i for i, e in enumerate(events(sandbox)) if e[2] == PLATFORM_TARGET)
    assert down < placed < up
    assert (tree / DERBY_PAGE).read_text() == backed_up
    assert platform_now(sandbox)[::2] == (1, {})
    wait_platform_ready(sandbox)


def test_a_failed_step_still_scales_the_platform_back(sandbox, derby):
    _, dags = derby
    sandbox.faults.add(
        Fault("backup", "StartBackupJob", kind="outcome", state="FAILED", message="throttled")
    )
    result = run_dag("ue_backup", dags=dags)
    assert result.state == "failed"
    assert result.tasks["wait_efs_backup"] == "failed", result.tasks
    assert result.tasks["resume_workflows"] == "success", result.tasks
    assert platform_scales(sandbox) == [0, 1]
    assert platform_now(sandbox)[::2] == (1, {})


def test_the_platform_is_not_stopped_when_the_ecds_cannot_be(sandbox, derby):
    """All or nothing: a suspension that fails leaves the platform as it was."""
    _, dags = derby
    sandbox.faults.add(
        Fault("k8s", "patch", target=f"{NAMESPACE}/deployments/{PLATFORM}", status=500, times=None)
    )
    result = run_dag("ue_backup", dags=dags)
    assert result.state == "failed"
    assert result.tasks["suspend_workflows"] == "failed", result.tasks
    assert "efs_backup" not in result.tasks or result.tasks["efs_backup"] != "success"
    enabled = {
        e["metadata"]["name"]: e["spec"].get("enabled", True)
        for e in sandbox.k8s.list("ecdeployments", NAMESPACE)
    }
    assert all(enabled.values()), enabled  # the ECDs suspended before it were resumed
    assert platform_now(sandbox)[::2] == (1, {})


def test_the_watchdog_scales_back_the_platform_a_killed_run_left_at_zero(
    sandbox, derby, capfd, caplog
):
    """A killed run: the ECDs suspended and the platform scaled to zero, deadline past."""
    from ue_backup.hooks.derby_platform import PlatformHook
    from ue_backup.hooks.ecd import EcdHook

    inst, dags = derby
    owner, run = "ue-test-20261124t020000z", "ue_backup/killed"
    deadline = datetime.now(UTC) - timedelta(minutes=1)
    EcdHook(conn_id="kubernetes_default").suspend(NAMESPACE, inst.ecds, owner, deadline, run)
    PlatformHook(conn_id="kubernetes_default").suspend(
        NAMESPACE, "Deployment", PLATFORM, owner, deadline, run
    )
    assert platform_now(sandbox)[0] == 0

    result = run_dag("ue_backup_watchdog", dags=dags)

    assert result.state == "success", result.tasks
    outcome = result.xcom("resume_expired_suspensions")
    assert outcome["resumed"][f"Deployment/{PLATFORM}"] == "resumed"
    assert platform_now(sandbox)[::2] == (1, {})
    out, err = capfd.readouterr()
    assert "WATCHDOG SCALED BACK platform" in out + err + caplog.text
    wait_platform_ready(sandbox)


def test_a_failed_placement_keeps_the_platform_stopped_and_held(sandbox, derby):
    """Derby half placed: the platform must not open it; held (no deadline) with the ECDs."""
    from ue_backup.hooks.ecd import HELD, RESUME_DEADLINE

    inst, dags = derby
    assert run_dag("ue_backup", dags=dags).state == "success"
    sandbox.log.clear()
    sandbox.faults.add(Fault("k8s", "job", target="-place-", kind="outcome"))
    conf = {"mode": "restore", "target": "in_place", "confirm": inst.name}
    result = run_dag("ue_restore", conf, dags=dags)
    sandbox.faults.clear()

    assert result.state == "failed", result.tasks
    assert result.tasks["place_efs"] == "failed", result.tasks
    assert result.tasks["resume_workflows"] == "failed", result.tasks
    assert set(platform_scales(sandbox)) == {0}  # scaled down (then held), never back
    replicas, _, annotations = platform_now(sandbox)
    assert replicas == 0
    assert annotations[HELD]
    assert RESUME_DEADLINE not in annotations
