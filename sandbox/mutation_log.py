"""A log of every state-changing call the sandbox receives, AWS and Kubernetes alike.

Tests use it to assert that nothing was changed (bad input refused before any
mutation) and to measure when things happened (the ECDs' cold window).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Mutation:
    """One state-changing call: ``service`` is ``"k8s"`` or the AWS service name."""

    at: float  # time.time() when the call was received
    service: str  # "rds", "backup", "memorydb", "datasync", "efs", "s3", ..., or "k8s"
    operation: str  # AWS operation name ("StartBackupJob") or k8s verb ("patch")
    target: str = ""  # a resource identifier where known (ARN, id, "ns/kind/name")
    detail: dict[str, Any] = field(default_factory=dict)


class MutationLog:
    """Thread-safe, append-only until ``clear``; shared by the AWS and Kubernetes servers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[Mutation] = []

    def record(self, service: str, operation: str, target: str = "", **detail: Any) -> Mutation:
        entry = Mutation(time.time(), service, operation, target, detail)
        with self._lock:
            self._entries.append(entry)
        return entry

    def entries(self, service: str | None = None, operation: str | None = None) -> list[Mutation]:
        with self._lock:
            return [
                e
                for e in self._entries
                if (service is None or e.service == service)
                and (operation is None or e.operation == operation)
            ]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
