"""The cold window's proof: every way the window can break is named, an intact one is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ue_backup.cold_window import BROKEN, INTACT, judge, mark

START = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
CLOSED = START + timedelta(minutes=20)


def ecd(name, generation=2, enabled=False, uid=None, **extra):
    spec = {} if enabled is None else {"enabled": enabled}
    return {
        "metadata": {"name": name, "uid": uid or f"uid-{name}", "generation": generation, **extra},
        "spec": spec,
    }


OPENED = {"window_start": START.isoformat(), "ecds": mark([ecd("a"), ecd("b")])}


def test_an_unchanged_stopped_selection_is_intact():
    verdict = judge(OPENED, [ecd("a"), ecd("b")], {}, CLOSED)
    assert verdict["state"] == INTACT
    assert verdict["problems"] == []
    assert verdict["ecds"] == ["a", "b"]
    assert verdict["start"] == START.isoformat()


def test_an_ecd_switched_on_and_off_again_between_reads_is_caught_by_its_generation():
    verdict = judge(OPENED, [ecd("a", generation=4), ecd("b")], {}, CLOSED)
    (problem,) = verdict["problems"]
    assert verdict["state"] == BROKEN
    assert problem.startswith("ECD a was changed by someone else during the window")
    assert "generation 2 -> 4" in problem
    assert "is disabled again now" in problem


def test_an_ecd_re_enabled_names_the_moment_of_its_last_write_and_its_pods():
    written = [{"manager": "kubectl", "time": "2026-12-06T02:07:00Z"}]
    now = [ecd("a", generation=3, enabled=True, managedFields=written), ecd("b")]
    verdict = judge(OPENED, now, {"a": ["a-0"]}, CLOSED)
    changed, running = verdict["problems"]
    assert "last write 2026-12-06T02:07:00Z" in changed
    assert "is enabled now" in changed
    assert (
        running
        == f"ECD a had pods running at {CLOSED.isoformat()}, when the copies completed: ['a-0']"
    )


def test_an_ecd_added_to_or_gone_from_the_selection_or_recreated_breaks_the_window():
    now = [ecd("b", uid="another"), ecd("c", enabled=True)]
    problems = judge(OPENED, now, {}, CLOSED)["problems"]
    between = f"between {START.isoformat()} and {CLOSED.isoformat()}"
    assert problems == [
        f"ECD a vanished from the selection {between}",
        f"ECD c joined the selection {between} and was never stopped",
        f"ECD b was deleted and created again {between}",
    ]


def test_an_external_window_that_ended_before_the_copies_completed_is_broken():
    until = CLOSED - timedelta(minutes=1)
    (problem,) = judge(OPENED, [ecd("a"), ecd("b")], {}, CLOSED, until)["problems"]
    assert problem.startswith(f"the platform's suspend.until ({until.isoformat()}) passed")
    assert judge(OPENED, [ecd("a"), ecd("b")], {}, CLOSED, CLOSED)["state"] == INTACT


def test_the_mark_records_what_the_judge_compares():
    assert mark([ecd("a", generation=7, enabled=None)]) == {
        "a": {"uid": "uid-a", "generation": 7, "enabled": True}
    }


def test_an_ecd_still_enabled_when_a_managed_window_opened_breaks_it():
    opened = {**OPENED, "mode": "managed", "ecds": mark([ecd("a", enabled=True), ecd("b")])}
    (problem,) = judge(opened, [ecd("a", enabled=True), ecd("b")], {}, CLOSED)["problems"]
    assert problem == f"ECD a was enabled when the window opened ({START.isoformat()})"
    external = {**opened, "mode": "external"}  # the platform may stop pods, switch untouched
    assert judge(external, [ecd("a", enabled=True), ecd("b")], {}, CLOSED)["problems"] == []
