"""Test-wide setup: an Airflow home of the tests' own, with this project's folders.

``make test`` sets the same variables and migrates the database first; the
defaults here let a single ``pytest`` call work the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.include.recorder import NAME as RECORDER
from tests.include.recorder import RequestRecorder
from tests.include.recorder import pytest_addoption as pytest_addoption

ROOT = Path(__file__).resolve().parents[1]
_home = ROOT / ".airflow-test"
for name, value in {
    "AIRFLOW_HOME": str(_home),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_home}/airflow.db",
}.items():
    os.environ.setdefault(name, value)


# --- the sandbox ---------------------------------------------------------------------------
# One emulated AWS and Kubernetes per test session (moto's state is process-wide),
# emptied before each test that asks for it.


@pytest.fixture(scope="session")
def sandbox_session(tmp_path_factory):
    from sandbox.core import Sandbox

    sandbox = Sandbox(tmp_path_factory.mktemp("sandbox")).start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sandbox(sandbox_session, monkeypatch):
    """A fresh, empty sandbox with Airflow's connections pointing at it."""
    sandbox_session.reset()
    for name, value in sandbox_session.connection_env().items():
        monkeypatch.setenv(name, value)
    return sandbox_session


@pytest.fixture(autouse=True, scope="session")
def _fast_aws_retries():
    """botocore's retries back off a hundred times faster here than against AWS.

    Standard mode waits up to 20 s before retrying a throttled call; the
    sandbox answers in milliseconds and its throttling is a fault a test
    armed, so a test of 20 throttles in a row would wait minutes for nothing.
    What is retried and how often is botocore's own decision, unchanged.
    """
    from botocore.retries import standard

    original = standard.ExponentialBackoff.delay_amount

    def faster(self, context):
        return original(self, context) / 100

    standard.ExponentialBackoff.delay_amount = faster
    yield
    standard.ExponentialBackoff.delay_amount = original


# --- the permission recorder ------------------------------------------------------------
# Every request the system makes to the sandbox during the end-to-end tests, for the
# IAM policy and RBAC checks in tests/include/ (see tests/include/recorder.py).


def pytest_configure(config):
    config.pluginmanager.register(RequestRecorder(config), RECORDER)
