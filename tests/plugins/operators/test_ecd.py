"""EcdSuspendOperator and EcdResumeOperator against the sandbox's Kubernetes.

The suspend is the backup DAG's setup task and must be all or nothing; the
resume is its teardown and must switch back exactly what this set switched
off, however often it runs and whatever happened in between.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sandbox.faults import Fault
from tests.plugins.ecds import (
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
from tests.plugins.support import make_context
from ue_backup.hooks.ecd import RESUME_DEADLINE, SUSPENDED_BY, SUSPENDING_RUN, EcdError, EcdHook
from ue_backup.operators.ecd import EcdResumeOperator, EcdSuspendOperator


def suspend_operator(**kwargs) -> EcdSuspendOperator:
    kwargs.setdefault("label_selector", SELECTOR)
    return EcdSuspendOperator(
        task_id="suspend_workflows",
        namespace=NS,
        suspended_by=OWNER,
        max_window_minutes=30,
        **kwargs,
    )


def resume_operator(owners=OWNER) -> EcdResumeOperator:
    return EcdResumeOperator(task_id="resume_workflows", namespace=NS, owners=owners)


def test_suspend_the_selection_and_record_the_run_on_each_ecd(sandbox, context):
    seed_ecds(sandbox, a=True, b=True)
    sandbox.k8s.create_ecd(NS, "ecd-not-selected")
    sandbox.k8s.wait_ecds_settled()
    before = datetime.now(UTC)

    result = suspend_operator().execute(context)

    assert result["suspended"] == ["ecd-a", "ecd-b"]
    assert result["already_disabled"] == []
    start = datetime.fromisoformat(result["window_start"])
    deadline = datetime.fromisoformat(result["resume_deadline"])
    assert before <= start <= datetime.now(UTC)
    assert deadline - start == timedelta(minutes=30)
    assert enabled(sandbox) == {"ecd-a": False, "ecd-b": False, "ecd-not-selected": True}
    for name in result["suspended"]:
        assert ours(sandbox)[name][SUSPENDED_BY] == OWNER
        assert ours(sandbox)[name][SUSPENDING_RUN] == RUN
        assert datetime.fromisoformat(ours(sandbox)[name][RESUME_DEADLINE]) == deadline
    assert untouched(sandbox, "ecd-not-selected")


def test_suspend_by_names(sandbox, context):
    seed_ecds(sandbox, a=True, b=True)

    result = suspend_operator(label_selector=None, names=["ecd-b"]).execute(context)

    assert result["suspended"] == ["ecd-b"]
    assert enabled(sandbox) == {"ecd-a": True, "ecd-b": False}


def test_a_missing_name_fails_before_anything_is_switched(sandbox, context):
    seed_ecds(sandbox, a=True)

    with pytest.raises(EcdError, match="ecd-missing"):
        suspend_operator(label_selector=None, names=["ecd-a", "ecd-missing"]).execute(context)
    assert switches(sandbox) == []


@pytest.mark.parametrize("active", [False, "false", "False", None, ""])
def test_without_a_managed_window_nothing_is_suspended_and_the_task_succeeds(
    sandbox, context, active
):
    seed_ecds(sandbox, a=True)

    result = suspend_operator(active=active).execute(context)

    assert result == {
        "suspended": [],
        "selected": [],
        "drain": [],
        "already_disabled": [],
        "window_start": None,
    }
    assert switches(sandbox) == []


def test_a_retry_after_success_suspends_nothing_new(sandbox):
    seed_ecds(sandbox, a=True, b=True)
    first = suspend_operator().execute(make_context())
    writes = switches(sandbox)

    again = suspend_operator().execute(make_context())

    assert again["suspended"] == first["suspended"] == ["ecd-a", "ecd-b"]
    assert switches(sandbox) == writes


def test_suspend_is_all_or_nothing(sandbox, context):
    """A 500 on patching the second ECD: the first is resumed, then the task fails."""
    seed_ecds(sandbox, a=True, b=True, c=True)
    sandbox.faults.add(Fault("k8s", "patch", target=f"{NS}/ecdeployments/ecd-b", status=500))

    with pytest.raises(EcdError, match="suspending ECD uepe/ecd-b failed"):
        suspend_operator().execute(context)

    assert switches(sandbox) == [("ecd-a", False), ("ecd-a", True)]
    assert enabled(sandbox) == {"ecd-a": True, "ecd-b": True, "ecd-c": True}
    assert all(not a for a in ours(sandbox).values())


def test_an_ecd_held_by_another_set_refuses_the_suspend(sandbox, context):
    seed_ecds(sandbox, a=True, b=True)
    EcdHook().suspend_one(NS, "ecd-b", OTHER, datetime.now(UTC) + timedelta(minutes=5))

    with pytest.raises(EcdError, match=f"held by another suspension \\({OTHER}"):
        suspend_operator().execute(context)

    assert EcdHook().suspensions(NS, OWNER) == []
    assert enabled(sandbox) == {"ecd-a": True, "ecd-b": False}


def test_an_ecd_disabled_before_the_run_is_left_alone_by_suspend_and_resume(sandbox, context):
    seed_ecds(sandbox, a=True, off=False)

    suspended = suspend_operator().execute(context)
    resumed = resume_operator().execute(context)

    assert suspended["suspended"] == ["ecd-a"]
    assert suspended["already_disabled"] == ["ecd-off"]
    assert resumed["outcomes"] == {"ecd-a": "resumed"}
    assert enabled(sandbox) == {"ecd-a": True, "ecd-off": False}
    assert untouched(sandbox, "ecd-off")


def test_resume_switches_back_exactly_what_this_set_suspended(sandbox, context):
    seed_ecds(sandbox, a=True, b=True, c=True)
    suspend_operator(label_selector=None, names=["ecd-a", "ecd-b"]).execute(context)
    EcdHook().suspend_one(NS, "ecd-c", OTHER, datetime.now(UTC) + timedelta(minutes=5))
    before = datetime.now(UTC)

    result = resume_operator().execute(context)

    assert result["outcomes"] == {"ecd-a": "resumed", "ecd-b": "resumed"}
    assert datetime.fromisoformat(result["window_end"]) >= before
    assert enabled(sandbox) == {"ecd-a": True, "ecd-b": True, "ecd-c": False}
    assert ours(sandbox)["ecd-c"][SUSPENDED_BY] == OTHER


def test_a_second_resume_is_a_no_op(sandbox):
    seed_ecds(sandbox, a=True)
    suspend_operator().execute(make_context())
    resume_operator().execute(make_context())
    writes = switches(sandbox)

    assert resume_operator().execute(make_context())["outcomes"] == {}
    assert switches(sandbox) == writes


def test_an_ecd_re_enabled_meanwhile_is_left_enabled(sandbox, context):
    seed_ecds(sandbox, a=True, b=True)
    suspend_operator().execute(context)
    EcdHook().custom_object_client.patch_namespaced_custom_object(  # somebody, by hand
        "mz.digitalroute.com", "v1alpha1", NS, "ecdeployments", "ecd-b", {"spec": {"enabled": True}}
    )

    result = resume_operator().execute(context)

    assert result["outcomes"] == {"ecd-a": "resumed", "ecd-b": "left-enabled"}
    assert enabled(sandbox) == {"ecd-a": True, "ecd-b": True}
    assert all(not a for a in ours(sandbox).values())


def test_resume_serves_several_owners(sandbox, context):
    seed_ecds(sandbox, a=True, b=True)
    deadline = datetime.now(UTC) + timedelta(minutes=5)
    EcdHook().suspend_one(NS, "ecd-a", OWNER, deadline)
    EcdHook().suspend_one(NS, "ecd-b", OTHER, deadline)

    result = resume_operator(owners=[OWNER, "", OTHER]).execute(context)

    assert result["outcomes"] == {"ecd-a": "resumed", "ecd-b": "resumed"}
    assert enabled(sandbox) == {"ecd-a": True, "ecd-b": True}


def test_a_suspend_interrupted_half_way_is_fully_repaired_by_resume(sandbox, context):
    """The worker died after two of four ECDs: neither undo nor teardown ran."""
    names = seed_ecds(sandbox, a=True, b=True, c=True, d=True)
    hook = EcdHook()
    for name in names[:2]:
        hook.suspend_one(NS, name, OWNER, datetime.now(UTC) + timedelta(minutes=30), RUN)

    result = resume_operator().execute(context)

    assert result["outcomes"] == {"ecd-a": "resumed", "ecd-b": "resumed"}
    assert enabled(sandbox) == dict.fromkeys(names, True)
    assert all(not a for a in ours(sandbox).values())
    assert untouched(sandbox, "ecd-c", "ecd-d")
    assert resume_operator().execute(context)["outcomes"] == {}


def test_a_suspend_interrupted_half_way_is_finished_by_its_retry(sandbox, context):
    names = seed_ecds(sandbox, a=True, b=True, c=True, d=True)
    hook = EcdHook()
    for name in names[:2]:
        hook.suspend_one(NS, name, OWNER, datetime.now(UTC) + timedelta(minutes=30), RUN)

    result = suspend_operator().execute(context)

    assert result["suspended"] == names
    assert enabled(sandbox) == dict.fromkeys(names, False)
    assert sorted(n for n, on in switches(sandbox) if not on) == names  # one write each


# --- the window's proof, judged by the resume before it switches anything back --------------


def test_the_resume_judges_the_window_it_closes(sandbox, context):
    seed_ecds(sandbox, a=True, b=True)
    opened = suspend_operator().execute(context)
    sandbox.k8s.wait_until(lambda: not EcdHook().running(NS, ["ecd-a", "ecd-b"]))

    result = EcdResumeOperator(
        task_id="resume_workflows", namespace=NS, owners=OWNER, windows=[opened, None]
    ).execute(context)

    assert (result["window"]["state"], result["window"]["problems"]) == ("intact", [])
    assert enabled(sandbox) == {"ecd-a": True, "ecd-b": True}


def test_a_retried_resume_never_turns_a_broken_window_intact(sandbox, context):
    """Try 1 sees ecd-a re-enabled, resumes it, then fails on ecd-b; its verdict is lost."""
    seed_ecds(sandbox, a=True, b=True)
    opened = suspend_operator().execute(context)
    EcdHook().custom_object_client.patch_namespaced_custom_object(  # somebody, by hand
        "mz.digitalroute.com", "v1alpha1", NS, "ecdeployments", "ecd-a", {"spec": {"enabled": True}}
    )
    resume = EcdResumeOperator(
        task_id="resume_workflows", namespace=NS, owners=OWNER, windows=[opened]
    )
    sandbox.faults.add(Fault("k8s", "patch", target=f"{NS}/ecdeployments/ecd-b", status=500))
    with pytest.raises(EcdError):
        resume.execute(context)

    again = resume.execute(context)

    assert again["window"]["state"] == "unproven"
    assert "['ecd-a'] were resumed by an earlier try" in again["window"]["problems"][-1]
    assert enabled(sandbox) == {"ecd-a": True, "ecd-b": True}


# --- Derby's writer: the platform workload, stopped with the ECDs ----------------------------

PLATFORM_WORKLOAD = {"kind": "Deployment", "name": "platform"}


def test_the_platform_stopped_with_the_ecds_is_part_of_the_windows_verdict(sandbox, context):
    """Intact while it stays at zero; broken when somebody scales it up inside the window."""
    from sandbox.installation import create_platform
    from ue_backup.hooks.derby_platform import PlatformHook

    seed_ecds(sandbox, a=True)
    create_platform(sandbox)
    opened = suspend_operator(platform=PLATFORM_WORKLOAD).execute(context)
    assert opened["platform"] == {**PLATFORM_WORKLOAD, "stopped": True}
    assert opened["drain"] == ["ecd-a", "Deployment/platform"]
    hook = PlatformHook()
    sandbox.k8s.wait_until(lambda: not hook.running(NS, "Deployment", "platform"), timeout=10)

    def resume():
        return EcdResumeOperator(
            task_id="resume_workflows",
            namespace=NS,
            owners=OWNER,
            windows=[opened],
            platform=PLATFORM_WORKLOAD,
        ).execute(context)

    intact = resume()
    assert intact["window"]["state"] == "intact", intact["window"]
    assert intact["outcomes"]["Deployment/platform"] == "resumed"

    opened = suspend_operator(platform=PLATFORM_WORKLOAD).execute(context)
    hook.patch_workload(NS, "Deployment", "platform", {"spec": {"replicas": 1}})  # by hand
    broken = resume()
    assert broken["window"]["state"] == "broken"
    assert "platform Deployment/platform ran during the window" in broken["window"]["problems"][-1]
    assert broken["outcomes"]["Deployment/platform"] == "left-running"


def test_a_scale_down_whose_answer_was_lost_is_undone_with_the_ecds(sandbox, context):
    """The platform's patch was applied but its answer lost: the ECDs are resumed and so
    is the platform, or the workflows would run without it until the watchdog's deadline."""
    from sandbox.installation import create_platform
    from ue_backup.hooks.derby_platform import PlatformHook

    create_platform(sandbox, replicas=2)
    sandbox.faults.add(Fault("k8s", "patch", kind="lost", target="/deployments/platform"))
    with pytest.raises(RuntimeError, match="the platform: resumed"):
        suspend_operator(platform=PLATFORM_WORKLOAD).execute(context)
    workload = PlatformHook().read_workload(NS, "Deployment", "platform")
    assert workload["spec"]["replicas"] == 2
    assert not {
        k for k in workload["metadata"].get("annotations") or {} if k.startswith("ue-backup/")
    }
    assert all(e["spec"].get("enabled", True) for e in sandbox.k8s.list("ecdeployments", NS))
