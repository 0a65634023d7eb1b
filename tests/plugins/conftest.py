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
