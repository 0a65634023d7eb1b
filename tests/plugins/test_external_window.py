"""External mode's rule: inside the platform's window, every ECD stopped, time to finish."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ue_backup.external_window import current_window, refusal

FROM, UNTIL = "0 2 * * *", "0 3 * * *"  # the platform's Helm suspend.from / suspend.until
NOW = datetime(2026, 11, 24, 2, 15, tzinfo=UTC)  # 45 min before until


def test_the_window_around_now_ends_at_the_next_until():
    assert current_window(FROM, UNTIL, NOW) == (
        datetime(2026, 11, 24, 2, tzinfo=UTC),
        datetime(2026, 11, 24, 3, tzinfo=UTC),
    )
    assert current_window(FROM, UNTIL, NOW + timedelta(hours=1)) is None


def test_an_estimate_that_fits_before_until_is_accepted():
    assert refusal(FROM, UNTIL, NOW, timedelta(minutes=30), {}, basis="fixed") is None
    assert refusal(FROM, UNTIL, NOW, timedelta(minutes=45), {}) is None


def test_an_estimate_that_does_not_fit_is_refused_naming_it_its_basis_and_until():
    reason = refusal(FROM, UNTIL, NOW, timedelta(minutes=50), {}, basis="p90 of the last 5 jobs")
    assert reason is not None
    assert "needs about 0:50:00 (estimate: p90 of the last 5 jobs)" in reason
    assert "resumes the workflows at 2026-11-24T03:00:00+00:00" in reason
    assert "(suspend.until '0 3 * * *'), 0:45:00 from now" in reason


def test_running_ecds_are_refused_even_with_time_left():
    reason = refusal(FROM, UNTIL, NOW, timedelta(minutes=5), {"ecd-a": ["pod-1"]})
    assert reason == "ECDs still running inside the suspension window: ['ecd-a']"
