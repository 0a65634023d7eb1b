"""EcdDrainedTrigger against the sandbox, rebuilt from its serialized form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.plugins.ecds import NS, OWNER, seed_ecds
from tests.plugins.support import round_trip
from ue_backup.hooks.ecd import EcdHook
from ue_backup.triggers.base import run_inline
from ue_backup.triggers.ecd import EcdDrainedTrigger


def trigger(names, deadline: datetime) -> EcdDrainedTrigger:
    return round_trip(
        EcdDrainedTrigger(
            namespace=NS, names=names, deadline=deadline.isoformat(), poll_interval=0.05
        )
    )


def test_fires_success_once_the_suspended_ecds_have_drained(sandbox):
    names = seed_ecds(sandbox, a=True, b=True)
    EcdHook().suspend(NS, names, OWNER, datetime.now(UTC) + timedelta(minutes=5))

    event = run_inline(trigger(names, datetime.now(UTC) + timedelta(seconds=10)))

    assert event == {"status": "success", "names": names}
    assert all(not sandbox.k8s.ecd_pods(NS, name) for name in names)


def test_fires_an_error_naming_what_still_runs_at_the_deadline(sandbox):
    names = seed_ecds(sandbox, a=True, off=False)
    deadline = datetime.now(UTC) - timedelta(seconds=1)

    event = run_inline(trigger(names, deadline))

    assert event["status"] == "error"
    assert event["still_running"] == ["ecd-a"]  # the disabled one has no pods
    assert "ECDs still running at the drain deadline" in event["message"]
    assert "ecd-a: pods ['ecd-a-" in event["message"]


def test_ecds_without_pods_are_drained_at_once(sandbox):
    names = seed_ecds(sandbox, off=False)

    event = run_inline(trigger([*names, "ecd-never-created"], datetime.now(UTC)))

    assert event["status"] == "success"
