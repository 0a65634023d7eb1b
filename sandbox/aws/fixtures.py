"""pytest fixtures for tests that drive the AWS sandbox.

The sandbox is started once per session by ``sandbox_session`` in
``tests/conftest.py`` (moto's state is process-wide, so there can be only one);
``aws`` hands a test its AWS half, emptied first: no resources, no faults, an
empty mutation log and the default (short) durations. Import ``aws`` into a
test module to use it; ``real_data`` is ``aws`` with the sandbox's real data stores
switched on for the test (``AwsSandbox.real_data``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from sandbox.aws.server import AwsSandbox

T = TypeVar("T")


@pytest.fixture
def aws(sandbox_session: Any) -> AwsSandbox:
    sandbox_session.reset()
    return sandbox_session.aws


@pytest.fixture
def real_data(aws: AwsSandbox) -> Iterator[AwsSandbox]:
    """``aws`` with real data stores behind RDS and MemoryDB for this test, off again after.

    Only what the test creates gets a server; the reset after stops every one.
    """
    aws.real_data = True
    try:
        yield aws
    finally:
        aws.real_data = False
        aws.reset()


def wait_until(
    observe: Callable[[], T], done: Callable[[T], bool], timeout: float = 5.0
) -> list[T]:
    """Poll ``observe`` until ``done`` holds for what it returns; every observation, in order."""
    seen = [observe()]
    deadline = time.monotonic() + timeout
    while not done(seen[-1]):
        if time.monotonic() > deadline:
            raise AssertionError(f"still not done after {timeout}s; last seen: {seen[-1]!r}")
        time.sleep(0.02)
        seen.append(observe())
    return seen


def create_db_instance(client: Any, name: str, **extra: Any) -> None:
    """A small PostgreSQL instance in the sandbox's RDS (``client`` is an RDS client).

    Its master password is ``password1``, unless ``ManageMasterUserPassword`` lets RDS
    make one (AWS refuses both together).
    """
    password = {} if extra.get("ManageMasterUserPassword") else {"MasterUserPassword": "password1"}
    client.create_db_instance(
        DBInstanceIdentifier=name,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="mz",
        AllocatedStorage=20,
        **password,
        **extra,
    )
