"""``AwsSandbox``: emulated AWS on 127.0.0.1, moto plus what this project needs and moto lacks.

One moto server runs in a thread of this process, behind the sandbox's WSGI
layer (faults, mutation log, settling finished jobs). boto3 and the amazon
provider reach it through an endpoint URL with dummy credentials; nothing
leaves the loopback interface.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from moto.backup.models import backup_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_api._internal import moto_api_backend
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from sandbox.aws import (
    backup,
    backup_api,
    cloudwatch,
    datasync,
    efs,
    kms,
    memorydb,
    memorydb_data,
    rds,
    rds_data,
    s3_object_lock,
)
from sandbox.aws.context import SandboxContext, activate, deactivate
from sandbox.aws.extensions import MotoExtensions
from sandbox.aws.files import EfsFiles
from sandbox.aws.middleware import FaultsAndMutations, WsgiApp
from sandbox.faults import FaultBook
from sandbox.mutation_log import MutationLog
from sandbox.request_log import SETUP_AGENT, RequestLog
from sandbox.settings import Durations

ACCESS_KEY = "testing"  # moto maps any unknown key to its default account
SECRET_KEY = "testing"


class _QuietRequestHandler(MotoRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """Tests poll a lot; one log line per request would bury their output."""


class _Server(ThreadedMotoServer):
    """moto's threaded server, with a WSGI layer wrapped around moto's application."""

    def __init__(self, wrap: Callable[[WsgiApp], WsgiApp]) -> None:
        super().__init__("127.0.0.1", 0, verbose=False)
        self._wrap = wrap

    def _server_entry(self) -> None:
        app = self._wrap(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=_QuietRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever(poll_interval=0.05)


class AwsSandbox:
    """Emulated AWS for one process: start it, point clients at ``endpoint_url``, reset it.

    ``faults``, ``log``, ``durations`` and ``requests`` are shared with the
    Kubernetes half and belong to the caller: ``reset`` leaves them alone.

    ``real_data`` (off by default, settable at any time) puts real servers on 127.0.0.1
    behind the RDS instances and MemoryDB clusters created from then on, so restores
    can be checked by their contents; it costs a process per resource, which the rest
    of the suite does not pay. ``reset`` and ``stop`` stop every such server.
    """

    account = DEFAULT_ACCOUNT_ID  # moto's default account, which any dummy key maps to

    def __init__(
        self,
        root: Path,
        faults: FaultBook,
        log: MutationLog,
        durations: Durations,
        region: str = "eu-west-1",
        requests: RequestLog | None = None,
        real_data: bool = False,
    ) -> None:
        self.root = Path(root)
        self.faults = faults
        self.log = log
        self.durations = durations
        self.requests = requests if requests is not None else RequestLog()
        self.region = region
        self.files = EfsFiles(self.root)
        self._context = SandboxContext(self.files, faults, durations, real_data=real_data)
        self._extensions = MotoExtensions(
            [
                backup_api.EXTENSION,
                efs.EXTENSION,
                rds.EXTENSION,
                memorydb.EXTENSION,
                datasync.EXTENSION,
                cloudwatch.EXTENSION,
                kms.EXTENSION,
                s3_object_lock.EXTENSION,
            ]
        )
        self._server: _Server | None = None
        self._front: FaultsAndMutations | None = None

    # --- life cycle --------------------------------------------------------------------

    def start(self) -> None:
        """Serve on a free port of 127.0.0.1, with empty AWS state and empty file systems."""
        activate(self._context)
        try:
            self._extensions.install()
            self.reset()
            self._server = _Server(self._wrap)
            self._server.start()
        except BaseException:
            self._extensions.uninstall()
            deactivate()
            raise

    def stop(self) -> None:
        if self._server is None:
            return
        if self._front is not None:
            self._front.close()
        self._server.stop()
        self._server = None
        self._stop_data_stores()
        self._extensions.uninstall()
        deactivate()

    def reset(self) -> None:
        """Forget every AWS resource, job and file; faults and the log belong to the caller.

        The real data stores' servers are stopped; ``real_data`` itself stays as it is.
        """
        with self._context.lock:
            self._stop_data_stores()
            moto_api_backend.reset()
            self.files.clear()

    @property
    def real_data(self) -> bool:
        return self._context.real_data

    @real_data.setter
    def real_data(self, value: bool) -> None:
        self._context.real_data = value

    def _stop_data_stores(self) -> None:
        """Stop every real server behind a resource (``real_data``), forgetting its files."""
        memorydb_data.stop_all()
        rds_data.stop_all()

    def __enter__(self) -> AwsSandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wrap(self, app: WsgiApp) -> WsgiApp:
        self._front = FaultsAndMutations(
            app, self.faults, self.log, before_each=self.settle, requests=self.requests
        )
        return self._front

    # --- reaching it ---------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the AWS sandbox is not running")
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def client(self, service: str, region: str | None = None, **options: Any) -> Any:
        """A boto3 client for ``service`` talking to the sandbox (``options``: e.g. ``config``).

        For set-up and checks: its calls are logged as the tests' own (``caller="setup"``),
        not as calls of the system under test.
        """
        setup = Config(user_agent_extra=SETUP_AGENT)
        options["config"] = options["config"].merge(setup) if "config" in options else setup
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=region or self.region,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            **options,
        )

    def client_as(self, role_arn: str, service: str, region: str | None = None) -> Any:
        """A set-up client in the role's account: its AssumeRole credentials, which moto
        maps to the account the role's ARN names (another account than ``account``)."""
        credentials = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="setup")[
            "Credentials"
        ]
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=region or self.region,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            config=Config(user_agent_extra=SETUP_AGENT),
        )

    def airflow_connection(self) -> str:
        """The ``AIRFLOW_CONN_AWS_DEFAULT`` value (JSON) that points the amazon provider here."""
        return json.dumps(
            {
                "conn_type": "aws",
                "login": ACCESS_KEY,
                "password": SECRET_KEY,
                "extra": {
                    "endpoint_url": self.endpoint_url,
                    "region_name": self.region,
                    # The provider never sends an AssumeRole (a connection's role_arn extra)
                    # to the global endpoint_url, only to STS's own: here too, never to AWS.
                    "service_config": {"sts": {"endpoint_url": self.endpoint_url}},
                },
            }
        )

    # --- the emulated data -------------------------------------------------------------------

    def settle(self) -> None:
        """Do the file work of every job that has ended (runs before each request, too)."""
        backup.settle_all()
        datasync.settle_all()

    def efs_path(self, fs_id: str) -> Path:
        """The directory that is file system ``fs_id``'s contents (created on demand)."""
        self.settle()
        return self.files.file_system(fs_id)

    def efs_mount_problem(self, fs_id: str) -> str | None:
        """Why the EFS CSI driver cannot mount ``fs_id`` now (None: it can).

        Modelled by hand on what EFS documents: a client mounts a file system
        through a mount target in its VPC (its DNS name resolves only there, to an
        ``available`` target); without one, amazon-efs-utils fails to resolve it.
        A file system this sandbox does not know resolves nowhere either.
        """
        with self._context.lock:
            return efs.mount_problem(self.account, fs_id)

    def create_file_system(
        self,
        creation_token: str | None = None,
        *,
        tags: dict[str, str] | None = None,
        region: str | None = None,
        **shape: Any,
    ) -> str:
        """A new EFS file system (in moto, not logged as a call) with its directory; its id.

        ``shape``: ``efs.create_file_system``'s performance and throughput modes and key.
        """
        with self._context.lock:
            file_system = efs.create_file_system(
                self.account,
                region or self.region,
                creation_token or str(uuid.uuid4()),
                tags=[{"Key": key, "Value": value} for key, value in (tags or {}).items()],
                **shape,
            )
        return file_system.file_system_id

    def add_past_backup_job(
        self,
        vault_name: str,
        resource_arn: str,
        created: datetime,
        seconds: float,
        size_bytes: int,
        *,
        iam_role_arn: str | None = None,
        region: str | None = None,
        keep_point: bool = False,
    ) -> str:
        """A completed backup job of ``resource_arn`` from before the test (not logged as a
        call): ``created``, lasting ``seconds``, of ``size_bytes``; its id. ``keep_point``:
        its recovery point is still in the vault (no files), else it has expired."""
        with self._context.lock:
            store = backup.backup_store(backup_backends[self.account][region or self.region])
            job = store.record_past_job(
                vault_name,
                resource_arn,
                iam_role_arn or f"arn:aws:iam::{self.account}:role/ue-backup-aws-backup",
                created,
                seconds,
                size_bytes,
                keep_point=keep_point,
            )
        return job.id

    def add_past_task_execution(
        self,
        task_arn: str,
        started: datetime,
        seconds: float,
        size_bytes: int,
        *,
        tags: dict[str, str] | None = None,
        region: str | None = None,
    ) -> str:
        """A successful DataSync execution of ``task_arn`` from before the test (not logged
        as a call): ``started``, lasting ``seconds``, having written ``size_bytes``; its ARN.
        Nothing is copied: only the execution's record, as ``add_past_backup_job``."""
        with self._context.lock:
            return datasync.record_past_execution(
                self.account,
                region or self.region,
                task_arn,
                started,
                seconds,
                size_bytes,
                tags or {},
            )

    def recovery_point_path(self, recovery_point_arn: str) -> Path:
        """The directory holding an AWS Backup recovery point's copy of the data."""
        self.settle()
        return self.files.recovery_point(recovery_point_arn.rsplit(":", 1)[-1])

    def evaluate_alarms(self, now: datetime) -> list[dict[str, Any]]:
        """Evaluate every CloudWatch metric alarm at ``now``, notifying SNS of each change.

        moto never evaluates alarms; tests move the clock with ``now`` (see
        ``aws.cloudwatch``), the demo runs ``cloudwatch.AlarmClock``.
        """
        return cloudwatch.evaluate(now)

    def rds_restore_time(self, db_instance_identifier: str, region: str | None = None) -> datetime:
        """The point in time a point-in-time restore used for this new instance."""
        return rds.restore_time(self.account, region or self.region, db_instance_identifier)
