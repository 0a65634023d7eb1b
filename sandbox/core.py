"""``Sandbox``: emulated AWS and Kubernetes together, on 127.0.0.1, for tests and the demo.

One object owns the shared fault book, mutation log, request log and durations, starts
the AWS side (moto plus what this project needs) and the Kubernetes side
(API server and controllers), and tells Airflow how to reach them through
the ``aws_default`` and ``kubernetes_default`` connections.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sandbox import workload
from sandbox.aws.server import AwsSandbox
from sandbox.faults import FaultBook
from sandbox.k8s.server import KubernetesSandbox
from sandbox.mutation_log import MutationLog
from sandbox.request_log import RequestLog
from sandbox.settings import Durations


class Sandbox:
    """Both halves of the sandbox, sharing faults, the mutation and request logs, the durations.

    ``requests`` (every request served, reads included) is not emptied by ``reset``.
    ``real_data``: real PostgreSQL and Redis servers behind RDS and MemoryDB
    (``AwsSandbox.real_data``; also settable later as ``sandbox.aws.real_data``).
    """

    def __init__(
        self, root: Path | None = None, region: str = "eu-west-1", real_data: bool = False
    ) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="ue-backup-sandbox-"))
        self.faults = FaultBook()
        self.log = MutationLog()
        self.requests = RequestLog()
        self.durations = Durations()
        self.aws = AwsSandbox(
            self.root / "aws",
            self.faults,
            self.log,
            self.durations,
            region,
            self.requests,
            real_data=real_data,
        )
        self.k8s = KubernetesSandbox(
            self.root / "k8s",
            self.faults,
            self.log,
            self.durations,
            self.aws.efs_path,
            self.requests,
            efs_mount_problem=self.aws.efs_mount_problem,
        )

    @property
    def region(self) -> str:
        return self.aws.region

    def start(self) -> Sandbox:
        self.aws.start()
        try:
            self.k8s.start()
        except BaseException:
            self.aws.stop()
            raise
        return self

    def stop(self) -> None:
        workload.stop_all(self)
        self.k8s.stop()
        self.aws.stop()

    def reset(self) -> None:
        """Back to empty: no resources, no faults, an empty mutation log, default durations.

        The request log is kept: it is the whole session's record (``tests/include``).
        Running workloads (``sandbox/workload.py``) are stopped first.
        """
        workload.stop_all(self)  # before its database, cluster and pods go
        self.faults.clear()
        self.k8s.reset()
        self.aws.reset()
        self.durations.update(**Durations().as_dict())
        self.log.clear()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def connection_env(self) -> dict[str, str]:
        """Environment variables that point Airflow's connections at the sandbox."""
        return {
            "AIRFLOW_CONN_AWS_DEFAULT": self.aws.airflow_connection(),
            "AIRFLOW_CONN_KUBERNETES_DEFAULT": self.k8s.airflow_connection(),
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }

    def client(self, service: str, region: str | None = None, **config: Any) -> Any:
        return self.aws.client(service, region, **config)
