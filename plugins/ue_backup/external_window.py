"""External cold window: the platform's Helm ``suspend.from``/``suspend.until`` stops the ECDs.

The DAG then owns no suspension; it must only make sure it runs inside that
window, that every ECD has really stopped, and that the backup can finish
before ``until`` resumes them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from croniter import croniter


def current_window(
    suspend_from: str, suspend_until: str, now: datetime
) -> tuple[datetime, datetime] | None:
    """(start, end) of the platform's suspension window containing ``now``, or None.

    We are inside when the last ``from`` fired after the last ``until``.
    """
    last_from = croniter(suspend_from, now).get_prev(datetime)
    last_until = croniter(suspend_until, now).get_prev(datetime)
    if last_from <= last_until:
        return None
    return last_from, croniter(suspend_until, now).get_next(datetime)


def refusal(
    suspend_from: str,
    suspend_until: str,
    now: datetime,
    expected: timedelta,
    still_running: dict[str, list[str]],
    basis: str | None = None,
) -> str | None:
    """Why a backup must not start now in external mode, or None when it may.

    ``expected``: how long the backup needs (preflight's ``window_estimate``),
    ``basis``: what that estimate rests on, named in the refusal.
    """
    window = current_window(suspend_from, suspend_until, now)
    if window is None:
        return (
            f"not inside the platform's suspension window (suspend.from {suspend_from!r}, "
            f"suspend.until {suspend_until!r}) at {now.isoformat()}"
        )
    _, until = window
    if now + expected > until:
        return (
            f"the backup needs about {expected}"
            + (f" (estimate: {basis})" if basis else "")
            + f" but the platform resumes the workflows at {until.isoformat()} "
            f"(suspend.until {suspend_until!r}), {until - now} from now"
        )
    if still_running:
        return f"ECDs still running inside the suspension window: {sorted(still_running)}"
    return None
