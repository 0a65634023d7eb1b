"""How the end-to-end modules build their module-scoped world on the sandbox.

Each such module resets the shared sandbox, puts its connection settings in
the environment for the module's life, seeds one installation with a short
drain (the sandbox drains in a second) and then adds what it needs before
writing the configuration and running its backups.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.installation import Installation, seed_installation


@contextlib.contextmanager
def seeded(
    sandbox: Any, name: str = "ue-test", **seed: Any
) -> Iterator[tuple[pytest.MonkeyPatch, Installation]]:
    """The sandbox reset, its connection settings set, ``name`` seeded (``seed_installation``
    keywords); the environment is restored on the way out."""
    sandbox.reset()
    with pytest.MonkeyPatch.context() as patch:
        for key, value in sandbox.connection_env().items():
            patch.setenv(key, value)
        inst = seed_installation(sandbox, name, **seed)
        inst.config["cold_window"]["drain_timeout_minutes"] = 0.05
        yield patch, inst
