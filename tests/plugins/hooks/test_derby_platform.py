"""PlatformHook against the sandbox's Kubernetes: Derby's writer scaled to zero and back.

The scale-down is recorded on the workload as an ECD's suspension is (owner, run,
deadline, held) plus its previous replicas, so the teardown, a retry or the watchdog
can undo it from the cluster's state alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk.api.datamodels._generated import DagRunState

from sandbox.installation import NAMESPACE, PLATFORM, create_platform
from tests.plugins.ecds import OTHER, OWNER, RUN
from ue_backup.hooks.derby_platform import PREVIOUS_REPLICAS, PlatformError, PlatformHook
from ue_backup.hooks.ecd import RESUME_DEADLINE, SUSPENDED_AT, SUSPENDED_BY, EcdHook
from ue_backup.tasks.watchdog import repair

KIND = "Deployment"
WORKLOAD = {"kind": KIND, "name": PLATFORM}


@pytest.fixture
def hook(sandbox) -> PlatformHook:
    sandbox.durations.update(ecd_drain=0.1, ecd_start=0.05)
    create_platform(sandbox, replicas=2)
    sandbox.log.clear()
    return PlatformHook()


def deadline(minutes: float = 30) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


def platform(sandbox) -> dict:
    return sandbox.k8s.get("deployments", NAMESPACE, PLATFORM)


def scales(sandbox) -> list[int]:
    return [
        m.detail["replicas"]
        for m in sandbox.log.entries("k8s", "patch")
        if m.target.endswith(f"/deployments/{PLATFORM}")
    ]


def ours(sandbox) -> dict:
    found = platform(sandbox)["metadata"].get("annotations") or {}
    return {k: v for k, v in found.items() if k.startswith("ue-backup/")}


def test_scaled_to_zero_recorded_and_back_to_its_replicas(sandbox, hook):
    assert hook.suspend(NAMESPACE, KIND, PLATFORM, OWNER, deadline(), RUN) is True
    assert platform(sandbox)["spec"]["replicas"] == 0
    assert ours(sandbox)[SUSPENDED_BY] == OWNER
    assert ours(sandbox)[PREVIOUS_REPLICAS] == "2"
    assert RESUME_DEADLINE in ours(sandbox)
    sandbox.k8s.wait_until(lambda: not hook.running(NAMESPACE, KIND, PLATFORM), timeout=10)
    # the drain reads it through the ECD hook too, as <kind>/<name>
    assert EcdHook().running(NAMESPACE, [f"{KIND}/{PLATFORM}"]) == {}
    assert hook.suspend(NAMESPACE, KIND, PLATFORM, OWNER, deadline(), RUN) is True  # a retry

    assert hook.resume(NAMESPACE, KIND, PLATFORM, OWNER) == "resumed"
    assert platform(sandbox)["spec"]["replicas"] == 2
    assert ours(sandbox) == {}
    assert hook.resume(NAMESPACE, KIND, PLATFORM, OWNER) == "not-ours"  # a second resume
    assert scales(sandbox) == [0, 2]


def test_another_owners_scale_down_is_refused_and_a_stopped_platform_left_alone(sandbox, hook):
    hook.suspend(NAMESPACE, KIND, PLATFORM, OTHER, deadline(), RUN)
    with pytest.raises(PlatformError, match="held by another suspension"):
        hook.suspend(NAMESPACE, KIND, PLATFORM, OWNER, deadline(), RUN)
    assert hook.resume(NAMESPACE, KIND, PLATFORM, OWNER) == "not-ours"
    hook.resume(NAMESPACE, KIND, PLATFORM, OTHER)
    hook.patch_workload(NAMESPACE, KIND, PLATFORM, {"spec": {"replicas": 0}})  # stopped by hand
    assert hook.suspend(NAMESPACE, KIND, PLATFORM, OWNER, deadline(), RUN) is False
    assert ours(sandbox) == {}  # not ours: never scaled up by us


def test_scaled_up_meanwhile_is_left_running(sandbox, hook):
    hook.suspend(NAMESPACE, KIND, PLATFORM, OWNER, deadline(), RUN)
    hook.patch_workload(NAMESPACE, KIND, PLATFORM, {"spec": {"replicas": 3}})
    assert hook.resume(NAMESPACE, KIND, PLATFORM, OWNER) == "left-running"
    assert platform(sandbox)["spec"]["replicas"] == 3
    assert ours(sandbox) == {}


def test_the_watchdog_scales_back_a_dead_runs_platform_after_its_deadline(sandbox, hook):
    ecds = EcdHook()
    hook.suspend(NAMESPACE, KIND, PLATFORM, OWNER, deadline(5), RUN)
    asked = []

    def dagrun_state(dag_id: str, run_id: str):
        asked.append((dag_id, run_id))
        return DagRunState.FAILED

    def run(now=None, state=dagrun_state):
        return repair(ecds, NAMESPACE, state, now=now, platform=WORKLOAD, platform_hook=hook)

    assert run()["resumed"] == {}  # the deadline has not passed yet
    assert platform(sandbox)["spec"]["replicas"] == 0
    later = datetime.now(UTC) + timedelta(minutes=10)
    live = run(now=later, state=lambda d, r: DagRunState.RUNNING)
    assert live["overdue"] == {f"{KIND}/{PLATFORM}": RUN}  # its run still copies: left to it
    assert platform(sandbox)["spec"]["replicas"] == 0

    assert run(now=later)["resumed"] == {f"{KIND}/{PLATFORM}": "resumed"}
    assert asked[-1] == tuple(RUN.split("/", 1))
    assert platform(sandbox)["spec"]["replicas"] == 2
    assert ours(sandbox) == {}


def test_the_watchdog_leaves_a_held_platform_alone(sandbox, hook):
    """An in-place restore that failed part-way holds it: no deadline, never resumed."""
    hook.suspend(NAMESPACE, KIND, PLATFORM, OWNER, deadline(5), RUN)
    assert hook.hold(NAMESPACE, KIND, PLATFORM, OWNER, "restore failed") is True
    later = datetime.now(UTC) + timedelta(days=1)
    result = repair(
        EcdHook(),
        NAMESPACE,
        lambda d, r: DagRunState.FAILED,
        now=later,
        platform=WORKLOAD,
        platform_hook=hook,
    )
    assert result["resumed"] == {}
    assert platform(sandbox)["spec"]["replicas"] == 0
    assert hook.resume(NAMESPACE, KIND, PLATFORM, OWNER) == "resumed"  # an operator still can


def test_a_scale_down_that_came_back_with_a_restore_is_left_to_that_restore(sandbox, hook):
    """Velero restores the platform as it was inside the backup's window: stopped by a run
    long gone, its deadline long past. Scaled up now, Derby would open a half-restored tree."""
    hook.suspend(NAMESPACE, KIND, PLATFORM, OWNER, deadline(5), RUN)
    backed_up = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    hook.patch_workload(
        NAMESPACE, KIND, PLATFORM, {"metadata": {"annotations": {SUSPENDED_AT: backed_up}}}
    )
    later = datetime.now(UTC) + timedelta(minutes=10)
    result = repair(
        EcdHook(),
        NAMESPACE,
        lambda d, r: DagRunState.FAILED,
        now=later,
        platform=WORKLOAD,
        platform_hook=hook,
    )
    assert result["resumed"] == {}
    assert result["restored"] == [f"{KIND}/{PLATFORM}"]
    assert platform(sandbox)["spec"]["replicas"] == 0
    assert hook.resume(NAMESPACE, KIND, PLATFORM, OWNER) == "resumed"  # its restore still can


def test_an_overdue_window_names_the_stopped_platform_once(sandbox, hook):
    hook.suspend(NAMESPACE, KIND, PLATFORM, OWNER, deadline(5), RUN)
    alerts = []
    later = datetime.now(UTC) + timedelta(minutes=10)

    def run():
        return repair(
            EcdHook(),
            NAMESPACE,
            lambda d, r: DagRunState.RUNNING,
            now=later,
            alert=lambda subject, message: alerts.append((subject, message)),
            platform=WORKLOAD,
            platform_hook=hook,
        )

    assert run()["overdue"] == {f"{KIND}/{PLATFORM}": RUN}
    [(subject, message)] = alerts
    assert OWNER in subject
    assert f"Platform scaled to zero: {KIND}/{PLATFORM}" in message
    run()  # announced once
    assert len(alerts) == 1
    assert platform(sandbox)["spec"]["replicas"] == 0
