"""Faults on demand: make any sandbox operation fail the way the real service can.

A fault matches a service and an operation (and optionally a target
substring) and is consumed ``times`` times (None: for ever). Kinds:

- ``error``: the call is answered with an API error (``code``, ``message``,
  ``status``): throttling is ``error`` with code ``ThrottlingException`` /
  HTTP 429 for Kubernetes; a 409 Conflict is ``error`` with status 409.
- ``hang``: the call is held ``seconds`` before it is answered normally.
- ``lost``: the call is carried out (state changes, the mutation log records
  it) but its answer is lost: the caller gets the error ``error`` would give
  (default 500 ``InternalFailure``), as after a 5xx or a connection dropped
  once the service had acted. The caller's retry then meets what it made.
- ``outcome``: an asynchronous job ends in a failure state instead of success:
  ``state`` is e.g. ``FAILED``/``ABORTED``/``EXPIRED``/``PARTIAL`` (AWS Backup),
  ``ERROR`` (DataSync), ``failed`` (RDS, MemoryDB), ``PartiallyFailed``/``Failed``
  (Velero); ``message`` becomes the job's status message.
- ``never``: an asynchronous process never finishes (an ECD drain, a job
  stuck RUNNING).

The servers ask ``take(service, operation, target)`` at the point where the
fault applies; taking it consumes one use.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["error", "hang", "lost", "outcome", "never"]


@dataclass
class Fault:
    service: str  # "backup", "rds", "memorydb", "datasync", "efs", "s3", "k8s", ...
    operation: str  # AWS operation name, or for k8s a verb ("patch") or controller step ("drain")
    kind: FaultKind = "error"
    target: str | None = None  # substring the call's target must contain
    code: str = "InternalFailure"
    message: str = "injected fault"
    status: int = 500
    seconds: float = 0.0
    state: str | None = None
    times: int | None = 1  # None: every matching call, for ever

    def matches(self, service: str, operation: str, target: str) -> bool:
        return (
            self.service == service
            and self.operation == operation
            and (self.target is None or self.target in target)
        )


class FaultBook:
    """The faults currently armed; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault | None = None, /, **kwargs) -> Fault:
        fault = fault or Fault(**kwargs)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(
        self, service: str, operation: str, target: str = "", kind: FaultKind | None = None
    ) -> Fault | None:
        """The first armed fault matching the call, consuming one of its uses."""
        with self._lock:
            for fault in self._faults:
                if (kind is None or fault.kind == kind) and fault.matches(
                    service, operation, target
                ):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def armed(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)
