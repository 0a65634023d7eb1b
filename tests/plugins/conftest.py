"""Fixtures shared by the tests of the operators, sensors, triggers and hooks."""

from __future__ import annotations

import pytest

from tests.plugins.support import make_context


@pytest.fixture
def fast(monkeypatch):
    """Sensors built after this poll every 0.2 s (the sandbox finishes in about 0.5 s)."""
    monkeypatch.setenv("UE_BACKUP_POLL_SECONDS", "0.2")


@pytest.fixture
def context():
    return make_context()


@pytest.fixture(autouse=True, scope="session")
def _one_botocore_loader():
    """Parse each AWS service model once per test session, not once per hook.

    The provider's hooks make a new boto3 session each, and every session
    parses the service's JSON model again (about 0.1 s a hook). A shared,
    read-only loader changes nothing but the run time.
    """
    import botocore.loaders
    import botocore.session

    loaders: dict = {}
    original = botocore.session.create_loader

    def shared(search_path_string=None):
        if search_path_string not in loaders:
            loaders[search_path_string] = botocore.loaders.create_loader(search_path_string)
        return loaders[search_path_string]

    botocore.session.create_loader = shared
    yield
    botocore.session.create_loader = original
