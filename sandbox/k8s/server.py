"""The Kubernetes sandbox: an API server on 127.0.0.1 plus its controllers, in this
process, with seeding helpers and read accessors for tests and the demo.

Seeding helpers write straight to the store: they are test set-up, not calls the
system under test makes, so they are neither subject to faults nor recorded in the
mutation log. Everything the system does goes through the HTTP API (recorded) or
happens in a controller (recorded where a test needs to time it).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sandbox.faults import FaultBook
from sandbox.k8s import resources
from sandbox.k8s.api import KubeApi
from sandbox.k8s.controllers.deployment import DeploymentController
from sandbox.k8s.controllers.ecd import EcdController, pod_labels
from sandbox.k8s.controllers.gc import GarbageCollector
from sandbox.k8s.controllers.job import JobController
from sandbox.k8s.controllers.kubelet import Kubelet
from sandbox.k8s.controllers.loop import ControllerContext, ControllerLoop
from sandbox.k8s.controllers.velero import VeleroController
from sandbox.k8s.controllers.volumes import VolumeBinder
from sandbox.k8s.kubeconfig import airflow_connection, write_kubeconfig
from sandbox.k8s.mounts import EFS_DRIVER
from sandbox.k8s.selectors import parse_label_selector
from sandbox.k8s.store import Obj, Store
from sandbox.mutation_log import MutationLog
from sandbox.request_log import RequestLog
from sandbox.settings import Durations

ECD_API = "mz.digitalroute.com/v1alpha1"


class _QuietHandler(WSGIRequestHandler):
    """No access log lines on stderr for every request."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class KubernetesSandbox:
    """One cluster: the API on a free loopback port (``url``, ``kubeconfig_path``), the
    controllers in a background thread, and the shared ``faults``, ``log``, ``durations``
    and ``requests`` of the whole sandbox (read live, so tests may change them at any time).
    ``efs_path`` maps an EFS file-system id to the local directory holding its files;
    ``efs_mount_problem`` says why a file system cannot be mounted now (the whole
    sandbox: it has no available mount target), None when it can or when unknown.
    """

    def __init__(
        self,
        root: Path,
        faults: FaultBook,
        log: MutationLog,
        durations: Durations,
        efs_path: Callable[[str], Path],
        requests: RequestLog | None = None,
        efs_mount_problem: Callable[[str], str | None] | None = None,
    ) -> None:
        self.root = root
        self.faults = faults
        self.log = log
        self.durations = durations
        self.efs_path = efs_path
        self.token = secrets.token_hex(16)
        self.store = Store()
        self.requests = requests if requests is not None else RequestLog()
        self._api = KubeApi(self.store, faults, log, self.token, self.requests)
        context = ControllerContext(
            self.store,
            faults,
            log,
            durations,
            root,
            efs_path,
            efs_mount_problem or (lambda file_system_id: None),
        )
        self._velero = VeleroController(context)
        self._loop = ControllerLoop(
            self.store,
            [
                EcdController(context),
                DeploymentController(context),
                JobController(context),
                VolumeBinder(context),
                Kubelet(context),
                GarbageCollector(context),
                self._velero,
            ],
        )
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._server = make_server(
            "127.0.0.1", 0, self._api, threaded=True, request_handler=_QuietHandler
        )
        self._api.address = f"127.0.0.1:{self._server.server_port}"
        self._api.stopped.clear()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="k8s-api",
            daemon=True,
        )
        self._thread.start()
        write_kubeconfig(self.kubeconfig_path, self.url, self.token)
        self._loop.start()

    def stop(self) -> None:
        """Stop serving; the cluster, running job processes and backups are discarded."""
        self._loop.stop()
        self._api.stopped.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def reset(self) -> None:
        """Empty the cluster and the backup store; stop pending controller work."""
        self._loop.reset()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Kubernetes sandbox is not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def kubeconfig_path(self) -> Path:
        return self.root / "kubeconfig.yaml"

    def airflow_connection(self, namespace: str | None = None) -> str:
        """The value for ``AIRFLOW_CONN_KUBERNETES_DEFAULT``."""
        return airflow_connection(self.kubeconfig_path, namespace)

    # seeding

    def create(self, resource: str, body: Obj, namespace: str | None = None) -> Obj:
        """Create any object; ``resource`` is a plural, ``plural.group``, kind or short name."""
        return self.store.create(resources.by_name(resource), namespace, body)

    def create_ecd(
        self,
        namespace: str,
        name: str,
        labels: dict[str, str] | None = None,
        enabled: bool | None = True,
        workflows: list[Any] | None = None,
        annotations: dict[str, str] | None = None,
    ) -> Obj:
        """An ECD; ``enabled=None`` leaves ``spec.enabled`` out (the operator then runs it)."""
        body = {
            "apiVersion": ECD_API,
            "kind": "ECDeployment",
            "metadata": {"name": name, "labels": labels or {}, "annotations": annotations or {}},
            "spec": {
                "enabled": enabled,
                "workflows": workflows or [],
                "image": "digitalroute/uepe-ec:sandbox",
            },
        }
        if enabled is None:
            del body["spec"]["enabled"]
        return self.create("ecdeployments", body, namespace)

    def create_efs_pvc(
        self, namespace: str, name: str, fs_id: str, subpath: str = "", access_point: str = ""
    ) -> Obj:
        """A PersistentVolume of the EFS CSI driver for ``fs_id`` and a claim bound to it.

        The volume is named ``efs-<namespace>-<name>``; its handle is
        ``fs_id[:subpath[:access_point]]`` as the EFS CSI driver documents.
        """
        handle = ":".join([fs_id, subpath, access_point]).rstrip(":")
        volume = f"efs-{namespace}-{name}"
        self.create(
            "persistentvolumes",
            {
                "metadata": {"name": volume},
                "spec": {
                    "capacity": {"storage": "5Gi"},
                    "accessModes": ["ReadWriteMany"],
                    "storageClassName": "efs-sc",
                    "csi": {"driver": EFS_DRIVER, "volumeHandle": handle},
                },
            },
        )
        return self.create(
            "persistentvolumeclaims",
            {
                "metadata": {"name": name},
                "spec": {
                    "accessModes": ["ReadWriteMany"],
                    "storageClassName": "efs-sc",
                    "volumeName": volume,
                    "resources": {"requests": {"storage": "5Gi"}},
                },
            },
            namespace,
        )

    # reading

    def get(self, resource: str, namespace: str | None, name: str) -> Obj | None:
        return self.store.find(resources.by_name(resource), namespace, name)

    def list(
        self, resource: str, namespace: str | None = None, label_selector: str = ""
    ) -> list[Obj]:
        return self.store.list(
            resources.by_name(resource), namespace, parse_label_selector(label_selector)
        )

    def ecd_pods(self, namespace: str, name: str) -> list[Obj]:
        """The EC pods of an ECD (terminating ones included), as its Deployment selects them."""
        selector = ",".join(f"{k}={v}" for k, v in pod_labels(name).items())
        return self.list("pods", namespace, selector)

    def pod_log(self, namespace: str, name: str) -> str | None:
        return self.store.get_log(namespace, name)

    def velero_backup_items(self, name: str) -> list[Obj]:
        """What a finished backup holds in the backup store (empty if it holds nothing)."""
        storage = self._velero.storage
        return [obj for _, obj in storage.read_items(name)] if storage.has_backup(name) else []

    def velero_restore_results(self, name: str) -> dict[str, list[str]] | None:
        """A finished restore's warnings and errors, as Velero keeps them in its bucket."""
        return self._velero.storage.read_restore_results(name)

    def wait_until(
        self, predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01
    ) -> Any:
        """Poll ``predicate`` until it returns something truthy; TimeoutError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            time.sleep(interval)

    def wait_ecds_settled(self, timeout: float = 5.0) -> None:
        """Wait until every ECD is Running (enabled) or Stopped (disabled)."""
        self.wait_until(
            lambda: all(
                (e.get("status") or {}).get("phase") in ("Running", "Stopped")
                and e["status"].get("observedGeneration") == e["metadata"]["generation"]
                for e in self.list("ecdeployments")
            ),
            timeout,
        )
