"""EcdDrainedSensor against the sandbox: EC pods gone, or a failure at the drain deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk.exceptions import AirflowSensorTimeout

from sandbox.faults import Fault
from tests.plugins.ecds import NS, OWNER, seed_ecds
from tests.plugins.support import defer
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.ecd import EcdHook
from ue_backup.sensors.ecd import EcdDrainedSensor

DRAIN_MINUTES = 1  # the sandbox drains an EC pod in 0.1 s
SHORT_DRAIN_MINUTES = 0.01  # 0.6 s, for the ECD that never drains


@pytest.fixture
def suspended(sandbox, fast) -> list[str]:
    names = seed_ecds(sandbox, a=True, b=True)
    EcdHook().suspend(NS, names, OWNER, datetime.now(UTC) + timedelta(minutes=30))
    return names


def drained_sensor(names, minutes=DRAIN_MINUTES, **kwargs) -> EcdDrainedSensor:
    return EcdDrainedSensor(
        task_id="wait_workflows_drained",
        namespace=NS,
        names=names,
        drain_timeout_minutes=minutes,
        **kwargs,
    )


def test_drained_deferred(sandbox, suspended, context):
    sandbox.durations.update(ecd_drain=1.5)  # longer than the inline wait below
    before = datetime.now(UTC)
    deferral = defer(drained_sensor(suspended, inline_wait_seconds=0.5), context)

    deadline = datetime.fromisoformat(deferral.trigger.deadline)
    assert (
        before + timedelta(minutes=DRAIN_MINUTES)
        <= deadline
        <= datetime.now(UTC) + timedelta(minutes=DRAIN_MINUTES)
    )
    assert deferral.deferred.timeout == timedelta(minutes=DRAIN_MINUTES + 1)
    assert deferral.trigger.poll_interval == pytest.approx(0.2)
    assert deferral.resume() == suspended
    assert all(not sandbox.k8s.ecd_pods(NS, name) for name in suspended)


def test_a_quick_drain_is_waited_for_inline_without_deferring(sandbox, suspended, context):
    sandbox.durations.update(ecd_drain=0.6)
    assert drained_sensor(suspended, inline_wait_seconds=10).execute(context) == suspended
    assert all(not sandbox.k8s.ecd_pods(NS, name) for name in suspended)


def test_drained_poked(sandbox, suspended, context):
    assert drained_sensor(suspended, deferrable=False).execute(context) == suspended
    assert all(not sandbox.k8s.ecd_pods(NS, name) for name in suspended)


def test_nothing_suspended_means_nothing_to_wait_for(sandbox, context):
    assert drained_sensor([]).execute(context) == []  # no deferral either


def test_an_ecd_that_never_drains_fails_at_the_drain_deadline_deferred(sandbox, fast, context):
    names = seed_ecds(sandbox, a=True, b=True)
    sandbox.faults.add(Fault("k8s", "drain", kind="never", target="ecd-b"))
    EcdHook().suspend(NS, names, OWNER, datetime.now(UTC) + timedelta(minutes=30))

    deferral = defer(drained_sensor(names, SHORT_DRAIN_MINUTES, inline_wait_seconds=0), context)
    event = deferral.wait()

    assert event["status"] == "error"
    assert event["still_running"] == ["ecd-b"]
    assert f"at the drain deadline {deferral.trigger.deadline}" in event["message"]
    assert datetime.now(UTC) >= datetime.fromisoformat(deferral.trigger.deadline)
    with pytest.raises(PermanentFailure, match=r"ECDs still running at the drain deadline.*ecd-b"):
        deferral.resume()
    assert sandbox.k8s.ecd_pods(NS, "ecd-b")  # still there: the teardown resumes it
    assert not sandbox.k8s.ecd_pods(NS, "ecd-a")


def test_an_ecd_that_never_drains_fails_at_the_drain_deadline_poked(sandbox, fast, context):
    names = seed_ecds(sandbox, a=True)
    sandbox.faults.add(Fault("k8s", "drain", kind="never", target="ecd-a"))
    EcdHook().suspend(NS, names, OWNER, datetime.now(UTC) + timedelta(minutes=30))
    started = datetime.now(UTC)

    with pytest.raises(AirflowSensorTimeout):  # terminal in Airflow's task runner: no retry
        drained_sensor(names, SHORT_DRAIN_MINUTES, deferrable=False).execute(context)

    assert datetime.now(UTC) - started >= timedelta(minutes=SHORT_DRAIN_MINUTES)
    assert sandbox.k8s.ecd_pods(NS, "ecd-a")
