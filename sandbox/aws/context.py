"""The running sandbox, as seen from inside moto.

moto creates a response object per request and keeps its backends in
process-wide registries, so the sandbox's extensions cannot be handed their
collaborators (the EFS directories, the faults, the durations): they find them
here. moto's state is global to the process, so only one ``AwsSandbox`` can be
running in it at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sandbox.aws.files import EfsFiles
from sandbox.faults import FaultBook
from sandbox.settings import Durations

T = TypeVar("T")

_STATE_ATTRIBUTE = "_ue_sandbox_state"
_activation_lock = threading.Lock()
_active: SandboxContext | None = None


@dataclass
class SandboxContext:
    """What the extensions need; ``lock`` serialises every change to sandbox state.

    ``real_data``: RDS instances and MemoryDB clusters get real servers on 127.0.0.1
    behind their endpoints (``AwsSandbox.real_data``); off, they hold no data, as moto's.
    """

    files: EfsFiles
    faults: FaultBook
    durations: Durations
    lock: threading.RLock = field(default_factory=threading.RLock)
    real_data: bool = False


def activate(context: SandboxContext) -> None:
    global _active
    with _activation_lock:
        if _active is not None:
            raise RuntimeError("an AwsSandbox is already running in this process")
        _active = context


def deactivate() -> None:
    global _active
    with _activation_lock:
        _active = None


def current() -> SandboxContext:
    if _active is None:
        raise RuntimeError("no AwsSandbox is running")
    return _active


def state_of(backend: Any, factory: Callable[[Any], T]) -> T:
    """The sandbox's state for one moto backend (account and region), made on first use.

    It lives in the backend's own ``__dict__``: moto's reset re-initialises every
    backend, so the sandbox's jobs vanish together with moto's resources.
    """
    with current().lock:
        state = backend.__dict__.get(_STATE_ATTRIBUTE)
        if state is None:
            state = factory(backend)
            backend.__dict__[_STATE_ATTRIBUTE] = state
        return state


def existing_states(backend_dict: Any) -> list[Any]:
    """The sandbox states already attached to any backend of a moto ``BackendDict``."""
    return [
        backend.__dict__[_STATE_ATTRIBUTE]
        for account in list(backend_dict.values())
        for backend in list(account.values())
        if _STATE_ATTRIBUTE in backend.__dict__
    ]


class OneCallAtATime:
    """Mixin for the sandbox's moto response classes.

    moto's server answers each request in its own thread; holding the
    sandbox's lock for the whole call keeps its jobs and files consistent
    with what moto's models say, and with the settling of finished jobs.
    """

    def call_action(self) -> Any:
        with current().lock:
            return super().call_action()  # type: ignore[misc]
