"""Where an asynchronous AWS job stands, read off the clock.

Real jobs move on their own. The sandbox instead remembers when a job started,
how long it takes and which fault was armed when it started, and derives its
state whenever someone looks: no thread per job, nothing in flight that a reset
could miss, and the state is exact however slowly the caller polls.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox.aws.context import current
from sandbox.faults import Fault


@dataclass
class Progress:
    started: float  # time.time() at the start call
    duration: float  # seconds from start to the final state
    fault: Fault | None = None  # an "outcome" or "never" fault taken at the start

    @classmethod
    def begin(cls, service: str, operation: str, target: str, duration: float) -> Progress:
        """Start now, with the outcome or never-ending fault armed for this start call."""
        faults = current().faults
        fault = faults.take(service, operation, target, kind="outcome") or faults.take(
            service, operation, target, kind="never"
        )
        return cls(time.time(), duration, fault)

    @property
    def started_at(self) -> datetime:
        return datetime.fromtimestamp(self.started, UTC)

    @property
    def elapsed(self) -> float:
        return time.time() - self.started

    @property
    def finished(self) -> bool:
        never = self.fault is not None and self.fault.kind == "never"
        return not never and self.elapsed >= self.duration

    @property
    def will_fail(self) -> bool:
        """True when an outcome fault decides, from the start, that the job ends in failure."""
        return self.fault is not None and self.fault.kind == "outcome"

    @property
    def finished_at(self) -> datetime | None:
        return datetime.fromtimestamp(self.started + self.duration, UTC) if self.finished else None

    @property
    def fraction(self) -> float:
        """Share of the duration gone, from 0 to 1."""
        if self.duration <= 0:
            return 1.0
        return min(self.elapsed / self.duration, 1.0)

    def phase(self, running: Sequence[str]) -> str:
        """The running phase the elapsed share falls in (the last one once it is all gone)."""
        return running[min(int(self.fraction * len(running)), len(running) - 1)]

    def outcome(self, success: str, failure: str) -> str:
        """The final state; ``failure`` when the outcome fault names no state of its own."""
        if self.will_fail and self.fault:
            return self.fault.state or failure
        return success

    @property
    def failure_message(self) -> str | None:
        return self.fault.message if self.will_fail and self.fault else None

    def state(self, running: Sequence[str], success: str, failure: str) -> str:
        return self.outcome(success, failure) if self.finished else self.phase(running)


class Job:
    """An asynchronous job whose final state shows only once its work is done.

    A job that copies files must not look finished before the files are
    there, so the final state is set by ``settle`` (which the sandbox runs
    before every request), after ``finish`` has done the work.
    """

    running: tuple[str, ...]
    success = "COMPLETED"
    failure = "FAILED"

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.outcome: str | None = None
        self.message: str | None = None

    @property
    def state(self) -> str:
        return self.outcome or self.progress.phase(self.running)

    @property
    def completion_date(self) -> datetime | None:
        return self.progress.finished_at if self.outcome else None

    @property
    def percent_done(self) -> str:
        return "100.0" if self.outcome else f"{min(self.progress.fraction, 0.99) * 100:.1f}"

    def settle(self) -> None:
        if self.outcome is None and self.progress.finished:
            self.message = self.progress.failure_message
            self.outcome = self.finish()

    def finish(self) -> str:
        """Do the job's work once its time is up; return its final state."""
        return self.progress.outcome(self.success, self.failure)


class TimedStatus:
    """Mixin for a moto model whose ``status`` follows a ``Progress`` instead of moto's value.

    Until the progress ends the status is the running one; then it is moto's
    own value (which moto may still change, e.g. to ``deleting``) or the
    failure the outcome fault names.
    """

    progress: Progress
    running_statuses: tuple[str, ...] = ("creating",)
    failure_status = "failed"

    @property
    def status(self) -> str:
        return self.progress.state(
            self.running_statuses, self.__dict__["status"], self.failure_status
        )

    @status.setter
    def status(self, value: str) -> None:
        self.__dict__["status"] = value


def make_timed(model: Any, timed_class: type, progress: Progress, **attributes: Any) -> None:
    """Turn a model moto has just made into its timed subclass, keeping all moto set on it."""
    model.__class__ = timed_class
    model.progress = progress
    for name, value in attributes.items():
        setattr(model, name, value)
