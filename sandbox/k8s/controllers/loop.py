"""One background thread that reconciles every controller, again and again.

A pass runs each controller's ``reconcile(now)`` in order; the next pass starts as
soon as anything is written to the store, and at least every ``tick`` seconds, so
time-driven transitions (read live from ``Durations``) land within a tick of their
deadline. ``reset`` runs between passes, so no controller sees half a reset.

A controller whose work follows only from the store (``time_driven`` False: the GC,
the ECD, Deployment and volume controllers) is run in a pass only when the store
changed since it last ran to the end: rerunning it on an unchanged store would do
nothing, and listing every object fifty times a second was most of an idle
sandbox's CPU. A controller that raised runs again in the next pass.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sandbox.faults import FaultBook
from sandbox.k8s import errors
from sandbox.k8s.store import Store
from sandbox.mutation_log import MutationLog
from sandbox.settings import Durations

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ControllerContext:
    """What every controller may use: the cluster state and the sandbox's shared knobs."""

    store: Store
    faults: FaultBook
    log: MutationLog
    durations: Durations
    root: Path  # scratch space and the Velero backup store live below
    efs_path: Callable[[str], Path]  # EFS file system id -> its local directory
    # EFS file system id -> why the EFS CSI driver cannot mount it now (None: it can)
    efs_mount_problem: Callable[[str], str | None] = lambda file_system_id: None


class Controller(Protocol):
    # True when it acts on time passing (durations, deadlines, processes), not only on
    # what the store holds; a controller without the attribute counts as time-driven.
    time_driven: bool

    def reconcile(self, now: float) -> None: ...

    def reset(self) -> None: ...


class ControllerLoop:
    def __init__(self, store: Store, controllers: list[Controller], tick: float = 0.02) -> None:
        self.store = store
        self.controllers = controllers
        self.tick = tick
        self._pass = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopped.clear()
        self._thread = threading.Thread(target=self._run, name="k8s-controllers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and forget everything, so no job process outlives the sandbox."""
        self._stopped.set()
        if self._thread:
            self._thread.join(timeout=5)
            self._thread = None
        self.reset()

    def reset(self) -> None:
        """Empty the store and drop every controller's pending work, between two passes."""
        with self._pass:
            self.store.clear()
            for controller in self.controllers:
                controller.reset()

    def _run(self) -> None:
        done_at: dict[int, int] = {}  # controller index -> store version it last ran to the end
        while not self._stopped.is_set():
            with self._pass:
                seen = self.store.resource_version
                now = time.time()
                for index, controller in enumerate(self.controllers):
                    version = self.store.resource_version
                    if not getattr(controller, "time_driven", True) and done_at.get(index) == (
                        version
                    ):
                        continue  # nothing changed that it acts on
                    try:
                        controller.reconcile(now)
                    except errors.ApiError as error:
                        # A race with an API write (409, 404): the next pass sees the new state.
                        logger.debug("%s: %s", type(controller).__name__, error.message)
                        done_at.pop(index, None)
                    except Exception:
                        logger.exception("controller %s failed", type(controller).__name__)
                        done_at.pop(index, None)
                    else:
                        done_at[index] = version
            self.store.wait_for_change(seen, self.tick)
