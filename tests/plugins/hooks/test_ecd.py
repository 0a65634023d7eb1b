"""EcdHook against the sandbox's Kubernetes: suspend and resume, recorded on the ECDs.

Every suspension is written on the ECD itself, so that a retry, another
worker, the teardown or the watchdog can finish or undo it from the
cluster's state alone; these tests read that state back, and the mutation
log for the order of the writes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

# What ti.get_dagrun_state returns in a real task: an enum, never a plain string.
from airflow.sdk.api.datamodels._generated import DagRunState

from sandbox.faults import Fault
from tests.plugins.ecds import (
    LABELS,
    NS,
    OTHER,
    OWNER,
    RUN,
    SELECTOR,
    enabled,
    ours,
    seed_ecds,
    switches,
    untouched,
)
from ue_backup.hooks.ecd import (
    HELD,
    PREVIOUS_ENABLED,
    RESUME_DEADLINE,
    SUSPENDED_AT,
    SUSPENDED_BY,
    SUSPENDING_RUN,
    EcdError,
    EcdHook,
    Suspension,
)
from ue_backup.tasks.watchdog import repair


@pytest.fixture
def hook(sandbox) -> EcdHook:
    return EcdHook()


@pytest.fixture
def deadline() -> datetime:
    return datetime.now(UTC) + timedelta(minutes=30)


def ecd(sandbox, name: str) -> dict:
    return sandbox.k8s.get("ecdeployments", NS, name)


# --- reading --------------------------------------------------------------------------------


def test_select_by_label_selector_or_by_names(sandbox, hook):
    seed_ecds(sandbox, a=True, b=True)
    sandbox.k8s.create_ecd(NS, "ecd-unlabelled")

    by_label = [e["metadata"]["name"] for e in hook.select_ecds(NS, SELECTOR)]
    by_name = [e["metadata"]["name"] for e in hook.select_ecds(NS, names=["ecd-b", "ecd-a"])]

    assert by_label == ["ecd-a", "ecd-b"]
    assert by_name == ["ecd-b", "ecd-a"]
    assert len(hook.select_ecds(NS)) == 3


def test_selecting_a_missing_name_names_every_missing_one(sandbox, hook):
    seed_ecds(sandbox, a=True)
    with pytest.raises(EcdError, match="ECDs not found in namespace uepe: ecd-x, ecd-y"):
        hook.select_ecds(NS, names=["ecd-a", "ecd-x", "ecd-y"])


def test_running_reports_pods_until_the_ecd_has_drained(sandbox, hook, deadline):
    seed_ecds(sandbox, a=True)
    assert hook.running(NS, ["ecd-a"])["ecd-a"]  # its EC pod

    hook.suspend(NS, ["ecd-a"], OWNER, deadline)

    sandbox.k8s.wait_until(lambda: not sandbox.k8s.ecd_pods(NS, "ecd-a"))
    assert hook.running(NS, ["ecd-a"]) == {}
    assert hook.pods_of(NS, "no-such-ecd") == (0, [])


# --- suspending -------------------------------------------------------------------------------


def test_suspend_records_owner_previous_state_deadline_and_run(sandbox, hook, deadline):
    seed_ecds(sandbox, a=True, b=True)
    before = datetime.now(UTC)

    held = hook.suspend(NS, ["ecd-a", "ecd-b"], OWNER, deadline, RUN)

    assert held == ["ecd-a", "ecd-b"]
    assert enabled(sandbox) == {"ecd-a": False, "ecd-b": False}
    for name in held:
        annotations = ours(sandbox)[name]
        assert annotations[SUSPENDED_BY] == OWNER
        assert annotations[PREVIOUS_ENABLED] == "true"
        assert datetime.fromisoformat(annotations[RESUME_DEADLINE]) == deadline
        assert before <= datetime.fromisoformat(annotations[SUSPENDED_AT]) <= datetime.now(UTC)
        assert annotations[SUSPENDING_RUN] == RUN
        suspension = Suspension.of(ecd(sandbox, name))
        assert (suspension.owner, suspension.run, suspension.deadline) == (OWNER, RUN, deadline)
        assert suspension.enabled_now is False
    assert switches(sandbox) == [("ecd-a", False), ("ecd-b", False)]


def test_suspend_is_all_or_nothing(sandbox, hook, deadline):
    """A 500 on the second ECD: the first is resumed before the error reaches the caller."""
    seed_ecds(sandbox, a=True, b=True, c=True)
    sandbox.faults.add(
        Fault("k8s", "patch", target=f"{NS}/ecdeployments/ecd-b", status=500, message="etcd down")
    )

    with pytest.raises(EcdError) as failure:
        hook.suspend(NS, ["ecd-a", "ecd-b", "ecd-c"], OWNER, deadline, RUN)
    failed_at = time.time()

    assert "suspending ECD uepe/ecd-b failed" in str(failure.value)
    assert "the 1 ECD(s) suspended before it were resumed" in str(failure.value)
    assert enabled(sandbox) == {"ecd-a": True, "ecd-b": True, "ecd-c": True}
    assert ours(sandbox) == {"ecd-a": {}, "ecd-b": {}, "ecd-c": {}}
    assert switches(sandbox) == [("ecd-a", False), ("ecd-a", True)]
    assert all(m.at <= failed_at for m in sandbox.log.entries("k8s", "patch"))
    assert untouched(sandbox, "ecd-c")


def test_suspending_again_by_the_same_owner_writes_nothing(sandbox, hook, deadline):
    seed_ecds(sandbox, a=True, b=True)
    first = hook.suspend(NS, ["ecd-a", "ecd-b"], OWNER, deadline, RUN)
    writes = len(switches(sandbox))

    again = hook.suspend(NS, ["ecd-a", "ecd-b"], OWNER, deadline + timedelta(hours=1), RUN)

    assert again == first == ["ecd-a", "ecd-b"]
    assert len(switches(sandbox)) == writes
    assert datetime.fromisoformat(ours(sandbox)["ecd-a"][RESUME_DEADLINE]) == deadline


def test_an_ecd_held_by_another_owner_is_refused_and_ours_undone(sandbox, hook, deadline):
    seed_ecds(sandbox, a=True, b=True, c=True)
    hook.suspend_one(NS, "ecd-b", OTHER, deadline, "ue_backup/other-run")

    with pytest.raises(EcdError, match=f"ecd-b is held by another suspension \\({OTHER}"):
        hook.suspend(NS, ["ecd-a", "ecd-b", "ecd-c"], OWNER, deadline, RUN)

    assert enabled(sandbox) == {"ecd-a": True, "ecd-b": False, "ecd-c": True}
    assert ours(sandbox)["ecd-a"] == {}
    assert ours(sandbox)["ecd-b"][SUSPENDED_BY] == OTHER  # the other run's, kept as it was
    assert untouched(sandbox, "ecd-c")


def test_an_ecd_disabled_before_the_run_is_left_alone_and_never_resumed(sandbox, hook, deadline):
    seed_ecds(sandbox, a=True, off=False)

    held = hook.suspend(NS, ["ecd-a", "ecd-off"], OWNER, deadline, RUN)

    assert held == ["ecd-a"]
    assert ours(sandbox)["ecd-off"] == {}
    assert hook.resume(NS, OWNER) == {"ecd-a": "resumed"}
    assert enabled(sandbox) == {"ecd-a": True, "ecd-off": False}
    assert untouched(sandbox, "ecd-off")


def test_a_conflicting_write_is_read_again_and_retried(sandbox, hook, deadline):
    seed_ecds(sandbox, a=True)
    sandbox.faults.add(Fault("k8s", "patch", target=f"{NS}/ecdeployments/ecd-a", status=409))

    assert hook.suspend_one(NS, "ecd-a", OWNER, deadline, RUN) is True

    assert enabled(sandbox) == {"ecd-a": False}
    assert switches(sandbox) == [("ecd-a", False)]


def test_an_ecd_that_keeps_changing_is_given_up(sandbox, hook, deadline):
    seed_ecds(sandbox, a=True)
    sandbox.faults.add(
        Fault("k8s", "patch", target=f"{NS}/ecdeployments/ecd-a", status=409, times=None)
    )

    with pytest.raises(EcdError, match="kept changing: gave up after 5 tries"):
        hook.suspend_one(NS, "ecd-a", OWNER, deadline, RUN)
    assert enabled(sandbox) == {"ecd-a": True}


# --- resuming ---------------------------------------------------------------------------------


def test_resume_re_enables_exactly_what_this_owner_suspended(sandbox, hook, deadline):
    seed_ecds(sandbox, a=True, b=True, c=True)
    hook.suspend(NS, ["ecd-a", "ecd-b"], OWNER, deadline, RUN)
    hook.suspend(NS, ["ecd-c"], OTHER, deadline, "ue_backup/other-run")
    sandbox.log.clear()

    assert hook.resume(NS, OWNER) == {"ecd-a": "resumed", "ecd-b": "resumed"}

    assert enabled(sandbox) == {"ecd-a": True, "ecd-b": True, "ecd-c": False}
    assert ours(sandbox)["ecd-a"] == ours(sandbox)["ecd-b"] == {}
    assert ours(sandbox)["ecd-c"][SUSPENDED_BY] == OTHER
    assert sorted(switches(sandbox)) == [("ecd-a", True), ("ecd-b", True)]


def test_an_ecd_without_spec_enabled_counts_as_enabled_and_gets_its_exact_form_back(
    sandbox, hook, deadline
):
    seed_ecds(sandbox, implicit=None)  # the operator runs an ECD that has no switch
    assert hook.running(NS, ["ecd-implicit"])  # the sandbox runs it, as the operator may

    assert hook.suspend(NS, ["ecd-implicit"], OWNER, deadline, RUN) == ["ecd-implicit"]
    assert enabled(sandbox) == {"ecd-implicit": False}
    assert ours(sandbox)["ecd-implicit"][PREVIOUS_ENABLED] == "absent"
    sandbox.k8s.wait_until(lambda: not hook.running(NS, ["ecd-implicit"]))

    assert hook.resume(NS, OWNER) == {"ecd-implicit": "resumed"}

    assert enabled(sandbox) == {"ecd-implicit": "absent"}  # the field is gone again
    assert ours(sandbox) == {"ecd-implicit": {}}
    assert "enabled" not in ecd(sandbox, "ecd-implicit")["spec"]


def test_a_second_resume_is_a_no_op(sandbox, hook, deadline):
    seed_ecds(sandbox, a=True)
    hook.suspend(NS, ["ecd-a"], OWNER, deadline, RUN)
    hook.resume(NS, OWNER)
    sandbox.log.clear()

    assert hook.resume(NS, OWNER) == {}
    assert hook.resume_one(NS, "ecd-a", OWNER) == "not-ours"
    assert switches(sandbox) == []
    assert enabled(sandbox) == {"ecd-a": True}


def test_an_ecd_re_enabled_by_someone_else_is_left_enabled_and_our_record_removed(
    sandbox, hook, deadline
):
    seed_ecds(sandbox, a=True)
    hook.suspend(NS, ["ecd-a"], OWNER, deadline, RUN)
    hook.custom_object_client.patch_namespaced_custom_object(  # an operator, by hand
        "mz.digitalroute.com", "v1alpha1", NS, "ecdeployments", "ecd-a", {"spec": {"enabled": True}}
    )
    sandbox.log.clear()

    assert hook.resume(NS, OWNER) == {"ecd-a": "left-enabled"}

    assert enabled(sandbox) == {"ecd-a": True}
    assert ours(sandbox) == {"ecd-a": {}}
    (write,) = sandbox.log.entries("k8s", "patch")
    assert "spec" not in write.detail["patch"]  # only the annotations were touched


def test_resume_tries_every_ecd_and_then_reports_the_failures(sandbox, hook, deadline):
    seed_ecds(sandbox, a=True, b=True)
    hook.suspend(NS, ["ecd-a", "ecd-b"], OWNER, deadline, RUN)
    sandbox.faults.add(Fault("k8s", "patch", target=f"{NS}/ecdeployments/ecd-a", status=500))

    with pytest.raises(EcdError, match=r"resuming ECDs failed: .*ecd-a"):
        hook.resume(NS, OWNER)

    assert enabled(sandbox) == {"ecd-a": False, "ecd-b": True}
    assert hook.resume(NS, OWNER) == {"ecd-a": "resumed"}  # the retry finishes the work


def test_expired_suspensions_are_those_whose_deadline_has_passed(sandbox, hook):
    seed_ecds(sandbox, a=True, b=True, c=True)
    now = datetime.now(UTC)
    hook.suspend_one(NS, "ecd-a", OWNER, now - timedelta(minutes=1), RUN)
    hook.suspend_one(NS, "ecd-b", OTHER, now + timedelta(hours=1), "ue_backup/other-run")

    assert [s.name for s in hook.expired_suspensions(NS)] == ["ecd-a"]
    later = now + timedelta(hours=2)
    assert [s.name for s in hook.expired_suspensions(NS, later)] == ["ecd-a", "ecd-b"]
    assert hook.expired_suspensions(NS, now - timedelta(hours=1)) == []
    assert [s.name for s in hook.suspensions(NS)] == ["ecd-a", "ecd-b"]
    assert [s.name for s in hook.suspensions(NS, OTHER)] == ["ecd-b"]


# --- crash safety -----------------------------------------------------------------------------


def crash_half_way(sandbox, hook, deadline) -> list[str]:
    """The worker suspended two of four ECDs and died: no undo, no teardown."""
    names = seed_ecds(sandbox, a=True, b=True, c=True, d=True)
    for name in names[:2]:
        hook.suspend_one(NS, name, OWNER, deadline, RUN)
    assert enabled(sandbox) == {"ecd-a": False, "ecd-b": False, "ecd-c": True, "ecd-d": True}
    return names


def test_a_run_that_died_half_way_is_repaired_by_resume(sandbox, hook, deadline):
    crash_half_way(sandbox, hook, deadline)

    assert hook.resume(NS, OWNER) == {"ecd-a": "resumed", "ecd-b": "resumed"}

    assert set(enabled(sandbox).values()) == {True}
    assert all(not a for a in ours(sandbox).values())
    assert untouched(sandbox, "ecd-c", "ecd-d")


def test_a_run_that_died_half_way_is_finished_by_its_retry(sandbox, hook, deadline):
    names = crash_half_way(sandbox, hook, deadline)

    assert hook.suspend(NS, names, OWNER, deadline, RUN) == names

    assert set(enabled(sandbox).values()) == {False}
    assert hook.resume(NS, OWNER) == dict.fromkeys(names, "resumed")
    assert set(enabled(sandbox).values()) == {True}


def test_the_watchdog_repairs_a_dead_run_after_its_deadline(sandbox, hook):
    crash_half_way(sandbox, hook, datetime.now(UTC) + timedelta(minutes=5))
    asked = []

    def dagrun_state(dag_id: str, run_id: str) -> str:
        asked.append((dag_id, run_id))
        return DagRunState.FAILED

    before = repair(hook, NS, dagrun_state)  # the deadline has not passed yet
    assert before["resumed"] == {}
    assert asked == []
    assert enabled(sandbox)["ecd-a"] is False

    after = repair(hook, NS, dagrun_state, now=datetime.now(UTC) + timedelta(minutes=10))

    assert after["resumed"] == {"ecd-a": "resumed", "ecd-b": "resumed"}
    assert asked[0] == tuple(RUN.split("/", 1))
    assert set(enabled(sandbox).values()) == {True}
    assert all(not a for a in ours(sandbox).values())
    again = repair(hook, NS, dagrun_state, now=datetime.now(UTC) + timedelta(hours=1))
    assert (again["resumed"], again["overdue"]) == ({}, {})  # nothing left to repair


def test_a_held_suspension_is_never_resumed_by_the_watchdog_but_still_by_resume(sandbox, hook):
    seed_ecds(sandbox, a=True, b=True)
    hook.suspend(NS, ["ecd-a", "ecd-b"], OWNER, datetime.now(UTC) + timedelta(minutes=5), RUN)
    assert hook.hold(NS, OWNER, "restore failed half-way") == ["ecd-a", "ecd-b"]
    sandbox.log.clear()
    assert hook.hold(NS, OWNER, "restore failed half-way") == ["ecd-a", "ecd-b"]
    assert switches(sandbox) == []
    assert not sandbox.log.entries("k8s", "patch")
    assert ours(sandbox)["ecd-a"][HELD] == "restore failed half-way"
    assert RESUME_DEADLINE not in ours(sandbox)["ecd-a"]

    later = datetime.now(UTC) + timedelta(days=30)
    assert repair(hook, NS, lambda *_: DagRunState.FAILED, now=later)["resumed"] == {}
    assert enabled(sandbox) == {"ecd-a": False, "ecd-b": False}

    assert hook.resume(NS, OWNER) == {"ecd-a": "resumed", "ecd-b": "resumed"}
    assert ours(sandbox)["ecd-a"] == {}


def api_error(status: int) -> Exception:
    """What the Task SDK raises when the Execution API answers ``status`` to a run lookup."""
    from airflow.sdk.exceptions import AirflowRuntimeError, ErrorType
    from airflow.sdk.execution_time.comms import ErrorResponse

    return AirflowRuntimeError(
        ErrorResponse(error=ErrorType.API_SERVER_ERROR, detail={"status_code": status})
    )


@pytest.mark.parametrize("status", [500, 503])
def test_the_watchdog_resumes_nothing_when_it_cannot_ask_airflow(sandbox, hook, status):
    """An API error says nothing about the run: its ECDs stay off until the next round."""
    seed_ecds(sandbox, a=True)
    past = datetime.now(UTC) - timedelta(minutes=1)
    hook.suspend_one(NS, "ecd-a", OWNER, past, "ue_backup/maybe-running")

    def unreachable(dag_id, run_id):
        raise api_error(status)

    result = repair(hook, NS, unreachable)

    assert (result["resumed"], result["overdue"]) == ({}, {})
    assert enabled(sandbox) == {"ecd-a": False}


def test_the_watchdog_never_resumes_a_suspension_that_came_back_with_a_restore(sandbox, hook):
    """Velero restores an ECD with the annotations of the backup's window: not the watchdog's."""
    sandbox.durations.update(ecd_drain=0.1, ecd_start=0.05)
    long_ago = datetime.now(UTC) - timedelta(days=2)
    sandbox.k8s.create_ecd(
        NS,
        "ecd-restored",
        labels=dict(LABELS),
        enabled=False,
        annotations={
            SUSPENDED_BY: OTHER,
            PREVIOUS_ENABLED: "true",
            RESUME_DEADLINE: (long_ago + timedelta(hours=1)).isoformat(),
            SUSPENDED_AT: long_ago.isoformat(),
            SUSPENDING_RUN: "ue_backup/long-finished",
        },
    )

    result = repair(hook, NS, lambda d, r: DagRunState.SUCCESS)

    assert result["resumed"] == {}
    assert result["restored"] == ["ecd-restored"]
    assert enabled(sandbox) == {"ecd-restored": False}
    assert hook.resume(NS, OTHER) == {"ecd-restored": "resumed"}  # its restore still can


def test_the_watchdog_leaves_a_live_run_alone_and_resumes_a_deleted_one(sandbox, hook):
    seed_ecds(sandbox, live=True, gone=True)
    past = datetime.now(UTC) - timedelta(minutes=1)
    hook.suspend_one(NS, "ecd-live", OWNER, past, "ue_backup/still-running")
    hook.suspend_one(NS, "ecd-gone", OTHER, past, "ue_backup/deleted")

    def dagrun_state(dag_id: str, run_id: str) -> str:
        if run_id == "deleted":
            raise api_error(404)
        return DagRunState.RUNNING

    result = repair(hook, NS, dagrun_state)

    assert result["overdue"] == {"ecd-live": "ue_backup/still-running"}
    assert result["resumed"] == {"ecd-gone": "resumed"}
    assert enabled(sandbox) == {"ecd-gone": True, "ecd-live": False}


def test_an_overdue_window_of_a_live_run_is_announced_once(sandbox, hook):
    seed_ecds(sandbox, a=True, b=True)
    past = datetime.now(UTC) - timedelta(minutes=1)
    for name in ("ecd-a", "ecd-b"):
        hook.suspend_one(NS, name, OWNER, past, "ue_backup/still-running")
    alerts = []

    def alert(subject, message):
        alerts.append((subject, message))

    first = repair(hook, NS, lambda d, r: DagRunState.RUNNING, alert=alert)
    second = repair(hook, NS, lambda d, r: DagRunState.RUNNING, alert=alert)  # five minutes later

    assert (
        first["overdue"]
        == second["overdue"]
        == dict.fromkeys(["ecd-a", "ecd-b"], "ue_backup/still-running")
    )
    ((subject, message),) = alerts
    assert subject == f"ue-backup cold window overdue in {NS}: {OWNER}"
    assert "['ecd-a', 'ecd-b']" in message
    assert "run ue_backup/still-running" in message
    assert set(enabled(sandbox).values()) == {False}  # a live run is never overridden

    # Once the run ends, the watchdog resumes, says so, and the overdue mark goes too.
    third = repair(hook, NS, lambda d, r: DagRunState.FAILED, alert=alert)
    assert third["resumed"] == {"ecd-a": "resumed", "ecd-b": "resumed"}
    assert "watchdog resumed 2 ECD(s)" in alerts[-1][0]
    assert all(not a for a in ours(sandbox).values())


def test_a_new_window_of_the_same_ecd_is_announced_again(sandbox, hook):
    seed_ecds(sandbox, a=True)
    past = datetime.now(UTC) - timedelta(minutes=1)
    alerts = []
    for run in ("ue_backup/first", "ue_backup/second"):
        hook.suspend_one(NS, "ecd-a", OWNER, past, run)
        repair(hook, NS, lambda d, r: DagRunState.RUNNING, alert=lambda s, m: alerts.append(m))
        hook.resume(NS, OWNER)
    assert [("run ue_backup/first" in m, "run ue_backup/second" in m) for m in alerts] == [
        (True, False),
        (False, True),
    ]
