"""pytest fixtures for the Kubernetes sandbox's own tests (``pytest_plugins`` in the
``test_k8s_*`` modules): one server per session, reset before each test.

The EFS file systems live in one directory per id under the session's temporary
directory; ``k8s.efs_path(fs_id)`` is where a test puts a file system's files.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from sandbox.faults import FaultBook
from sandbox.k8s.server import KubernetesSandbox
from sandbox.mutation_log import MutationLog
from sandbox.settings import Durations


@pytest.fixture(scope="session")
def efs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("efs")


@pytest.fixture(scope="session")
def k8s_session(
    tmp_path_factory: pytest.TempPathFactory, efs_root: Path
) -> Iterator[KubernetesSandbox]:
    root = tmp_path_factory.mktemp("k8s-sandbox")
    sandbox = KubernetesSandbox(
        root, FaultBook(), MutationLog(), Durations(), lambda fs: efs_root / fs
    )
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def k8s(k8s_session: KubernetesSandbox, efs_root: Path) -> KubernetesSandbox:
    """The session's sandbox, empty, with no faults, an empty log, default durations
    and no EFS contents."""
    k8s_session.reset()
    k8s_session.faults.clear()
    k8s_session.log.clear()
    k8s_session.durations.update(**Durations().as_dict())
    for file_system in efs_root.iterdir():
        shutil.rmtree(file_system)
    return k8s_session


@pytest.fixture(scope="session")
def k8s_client(k8s_session: KubernetesSandbox) -> client.ApiClient:
    """An API client configured from the sandbox's kubeconfig, as a user's would be."""
    return config.new_client_from_config(config_file=str(k8s_session.kubeconfig_path))


@pytest.fixture
def core_api(k8s_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(k8s_client)


@pytest.fixture
def apps_api(k8s_client: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(k8s_client)


@pytest.fixture
def batch_api(k8s_client: client.ApiClient) -> client.BatchV1Api:
    return client.BatchV1Api(k8s_client)


@pytest.fixture
def custom_api(k8s_client: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(k8s_client)
