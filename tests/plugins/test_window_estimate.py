"""The cold window's estimate: p90 of the past runs scaled to today's size, plus a margin.

One rule whatever copied the file system (``past_runs``: AWS Backup jobs or DataSync
copies); the runs here are ``PastRun`` values, how each method's records become them
is ``tests/plugins/test_past_runs.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ue_backup.past_runs import PastRun
from ue_backup.window_estimate import (
    FALLBACK,
    GIB,
    HISTORY,
    MIN_JOBS,
    RECENT,
    SCALE_FLOOR,
    describe,
    estimate,
    nearest_rank,
)

T0 = datetime(2026, 11, 1, 2, tzinfo=UTC)


def job(day: int, minutes: float, gib: float | None = 10, full_copy: bool = False) -> PastRun:
    size = None if gib is None else int(gib * GIB)
    return PastRun(T0 + timedelta(days=day), minutes * 60, size, full_copy)


def minutes(jobs, **kwargs) -> float:
    return estimate(jobs, fallback_minutes=30, **kwargs).seconds / 60


# --- the fallback -------------------------------------------------------------------------------


@pytest.mark.parametrize("count", range(MIN_JOBS))
def test_fewer_than_three_jobs_fall_back_to_the_fixed_minutes_and_say_so(count):
    found = estimate([job(d, 90) for d in range(count)], fallback_minutes=30)
    assert found.source == FALLBACK
    assert found.seconds == 30 * 60
    assert f"found {count}" in found.basis
    assert "expected_backup_minutes (30 min)" in found.basis


def test_three_jobs_are_a_history():
    found = estimate([job(d, 10) for d in range(3)], fallback_minutes=30)
    assert found.source == HISTORY
    assert found.seconds == pytest.approx(10 * 60 * 1.25)
    assert "p90 of the last 3 completed EFS backup jobs" in found.basis
    assert "plus 25% margin" in found.basis


# --- percentile, margin, recency ------------------------------------------------------------------


def test_the_p90_of_ten_jobs_is_the_ninth_slowest_not_the_outlier():
    durations = [10, 11, 12, 13, 14, 15, 16, 17, 18, 120]
    assert minutes([job(d, m) for d, m in enumerate(durations)], margin_percent=0) == 18


def test_with_few_jobs_the_p90_is_the_slowest():
    assert minutes([job(0, 10), job(1, 25), job(2, 12)], margin_percent=0) == 25


def test_the_margin_is_added_as_configured():
    jobs = [job(d, 20) for d in range(5)]
    assert minutes(jobs) == pytest.approx(25)
    assert minutes(jobs, margin_percent=50) == pytest.approx(30)
    assert minutes(jobs, margin_percent=0) == pytest.approx(20)


def test_only_the_newest_jobs_count():
    old_slow = [job(d, 200) for d in range(10)]
    recent = [job(10 + d, 10) for d in range(RECENT)]
    assert minutes(old_slow + recent, margin_percent=0) == 10


def test_the_order_jobs_are_given_in_does_not_matter():
    jobs = [job(0, 10, 5), job(1, 30, 8), job(2, 12, 10), job(3, 11, 10)]
    assert minutes(jobs) == minutes(list(reversed(jobs)))


def test_a_history_with_more_jobs_than_the_fallback_minutes_can_be_shorter():
    """With a history the fixed minutes are no floor: a quick file system is not held back."""
    assert minutes([job(d, 4) for d in range(5)]) == pytest.approx(5)


# --- the size trend -------------------------------------------------------------------------------


def test_a_file_system_that_doubled_doubles_the_estimate():
    """Jobs of 10 GiB took 20 min; the newest (incremental, quick) copied 20 GiB."""
    history = [job(d, 20, 10) for d in range(6)] + [job(6, 5, 20)]
    found = estimate(history, fallback_minutes=30, margin_percent=25)
    assert found.seconds / 60 == pytest.approx(20 * 2 * 1.25)
    assert "latest size (20.00 GiB, up to x2.00)" in found.basis
    same_size = [job(d, 20, 10) for d in range(6)] + [job(6, 5, 10)]
    assert minutes(same_size) == pytest.approx(20 * 1.25)


def test_a_file_system_that_shrank_never_shrinks_the_estimate():
    """Files were deleted: the jobs that copied 20 GiB are not assumed twice as fast now."""
    history = [job(d, 20, 20) for d in range(5)] + [job(5, 8, 10)]
    assert minutes(history, margin_percent=0) == pytest.approx(20)


def test_jobs_without_a_size_are_taken_as_they_ran():
    history = [job(0, 20, None), job(1, 10, 10), job(2, 10, 10)]
    assert minutes(history, margin_percent=0) == 20
    assert (
        "latest size (unknown)"
        in estimate([job(d, 10, None) for d in range(3)], fallback_minutes=30).basis
    )


def test_jobs_that_took_no_time_give_no_time_and_no_error():
    found = estimate([job(d, 0, 10 + d) for d in range(3)], fallback_minutes=30)
    assert found.seconds == 0
    assert "up to x1.00" in found.basis


def test_growth_since_the_newest_run_counts_the_file_systems_current_size():
    """The newest job copied 10 GiB; the file system holds 20 GiB today."""
    history = [job(d, 20, 10) for d in range(5)]
    found = estimate(history, fallback_minutes=30, current_size=20 * GIB)

    assert found.seconds / 60 == pytest.approx(20 * 2 * 1.25)
    assert "each scaled to the file system's current size (20.00 GiB, up to x2.00)" in found.basis
    assert minutes(history) == pytest.approx(20 * 1.25)  # without it: the newest run's size


def test_a_current_size_below_the_runs_never_shrinks_them():
    history = [job(d, 20, 10) for d in range(5)]
    assert minutes(history, current_size=5 * GIB, margin_percent=0) == pytest.approx(20)


# --- AWS Backup's first, full copy ---------------------------------------------------------------


def test_the_first_full_copy_is_left_out_once_newer_runs_exist():
    """A 3-hour initial copy, then 10-minute incrementals: with nine runs the nearest-rank
    p90 is the maximum and would ask for 3 h 45 min; the incrementals ask for 12 min 30 s."""
    history = [job(0, 180, full_copy=True)] + [job(d, 10) for d in range(1, 9)]
    found = estimate(history, fallback_minutes=30)

    assert found.seconds == pytest.approx(10 * 60 * 1.25)
    assert found.jobs == 8
    assert "the first, full copy of 2026-11-01 left out" in found.basis
    without_the_rule = [PastRun(r.started, r.seconds, r.size_bytes) for r in history]
    assert minutes(without_the_rule) == pytest.approx(180 * 1.25)


def test_with_too_few_runs_after_the_full_copy_the_fixed_minutes_say_why():
    found = estimate([job(0, 180, full_copy=True), job(1, 10), job(2, 10)], fallback_minutes=30)
    assert found.source == FALLBACK
    assert "(found 2, the first, full copy of 2026-11-01 left out)" in found.basis


def test_a_full_copy_with_nothing_newer_is_learned_from():
    """The newest run is never left out: nothing says the next one will be quicker."""
    history = [job(0, 10), job(1, 10), job(2, 60, full_copy=True)]
    assert minutes(history, margin_percent=0) == pytest.approx(60)


# --- the waits before the copy -------------------------------------------------------------------

LEAD = [("the RDS snapshot's point in time", 600.0), ("the database's AWS Backup point", 1800.0)]


def test_the_waits_before_the_copy_are_added_at_their_bounds_and_named():
    history = [job(d, 20) for d in range(5)]
    found = estimate(history, fallback_minutes=30, lead=LEAD)

    assert found.seconds == pytest.approx(20 * 60 * 1.25 + 2400)  # no margin on a bound
    assert found.lead_seconds == 2400
    assert found.record()["lead_seconds"] == 2400
    assert found.basis.endswith(
        "plus 25% margin, plus up to 40 min 00 s before the copy starts (the RDS snapshot's "
        "point in time: at most 10 min 00 s; the database's AWS Backup point: at most "
        "30 min 00 s)"
    )


def test_the_fixed_minutes_are_the_whole_backup_and_get_no_waits():
    found = estimate([job(0, 20)], fallback_minutes=30, lead=LEAD)
    assert found.seconds == 30 * 60
    assert found.lead_seconds == 0


# --- the basis, whatever the method ---------------------------------------------------------------


def test_the_basis_names_what_it_was_learned_from():
    runs = [job(d, 10) for d in range(7)]
    found = estimate(runs, fallback_minutes=30, what="DataSync copies of ue-prod")
    assert found.basis.startswith("p90 of the last 7 completed DataSync copies of ue-prod (since")
    few = estimate(runs[:2], fallback_minutes=30, what="DataSync copies of ue-prod")
    assert few.basis.startswith("fewer than 3 completed DataSync copies of ue-prod to learn")


def test_the_record_is_json_and_described_in_one_line():
    record = estimate([job(d, 10) for d in range(3)], fallback_minutes=30).record()
    assert record == {
        "seconds": 750.0,
        "source": HISTORY,
        "basis": record["basis"],
        "jobs": 3,
        "margin_percent": 25,
        "lead_seconds": 0.0,
    }
    assert describe(record).startswith("12 min 30 s (p90 of the last 3")


# --- properties -----------------------------------------------------------------------------------

jobs_strategy = st.lists(
    st.tuples(
        st.floats(min_value=0.5, max_value=600),  # minutes
        st.one_of(st.none(), st.integers(min_value=1, max_value=10 * 1024 * GIB)),
    ),
    min_size=MIN_JOBS,
    max_size=40,
).map(
    lambda pairs: [job(day, m, None if s is None else s / GIB) for day, (m, s) in enumerate(pairs)]
)


@settings(max_examples=200, deadline=None)
@given(jobs_strategy, st.integers(min_value=0, max_value=200))
def test_the_estimate_is_at_least_the_p90_of_the_recent_durations_plus_the_margin(jobs, margin):
    recent = jobs[-RECENT:]
    raw = nearest_rank([j.seconds for j in recent], 0.9)
    found = estimate(jobs, fallback_minutes=30, margin_percent=margin)
    assert found.source == HISTORY
    assert found.seconds >= raw * (1 + margin / 100) - 1e-6
    floor = SCALE_FLOOR
    growth = max(
        max(recent[-1].size_bytes or floor, floor)
        / min(max(j.size_bytes or floor, floor) for j in recent),
        1,
    )
    bound = max(j.seconds for j in recent) * (1 + margin / 100) * growth
    assert found.seconds <= bound * (1 + 1e-9) + 1e-6


@settings(max_examples=200, deadline=None)
@given(jobs_strategy, st.floats(min_value=0.01, max_value=100))
def test_a_slower_history_never_gives_a_shorter_estimate(jobs, extra_minutes):
    slower = [PastRun(j.started, j.seconds + extra_minutes * 60, j.size_bytes) for j in jobs]
    assert (
        estimate(slower, fallback_minutes=30).seconds >= estimate(jobs, fallback_minutes=30).seconds
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=50))
def test_the_nearest_rank_is_one_of_the_values_and_not_below_nine_tenths_of_them(values):
    p90 = nearest_rank(values, 0.9)
    assert p90 in values
    assert sum(v <= p90 for v in values) >= 0.9 * len(values)


def test_a_nearly_empty_file_systems_first_jobs_are_not_scaled_into_years():
    """A new installation's first nights copy almost nothing, in the job's own overhead:
    scaled by bytes, three minutes at 1 KiB would be centuries at 100 GiB."""
    tiny = [job(day, 3, 1 / 1024**2) for day in range(3)]  # 1 KiB each, 3 minutes
    grown = [*tiny, job(3, 30, 100)]  # then 100 GiB in 30 minutes
    found = estimate(grown, fallback_minutes=30, margin_percent=25)
    # at most the 1 GiB floor's scale: 3 min x 100 = 300 min, plus the margin
    assert found.seconds <= 300 * 60 * 1.25
