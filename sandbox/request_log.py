"""A log of every API request the sandbox serves, AWS and Kubernetes alike, reads included.

The mutation log (``mutation_log``) holds the state-changing calls and is
emptied before each test; this log holds *every* request, read-only ones too
(describe, list, get, watch), and is never emptied by ``Sandbox.reset``: the
permission tests (``tests/include/``) compare what the system asked for
during the end-to-end suites with the IAM policy and the RBAC rules in
``include/``. It lives on the server side, so it sees the calls of every
client: the provider's hooks in a task, the async hooks in a trigger, and
real Airflow processes (``tests/deploy``) alike.

Who asked: AWS clients made by ``AwsSandbox.client`` (the tests' own set-up
and checks) carry ``SETUP_AGENT`` in their User-Agent and are logged with
``caller="setup"``; everything else is ``caller="system"``. Kubernetes
set-up writes straight to the store and is never a request.

In which account: an AWS request's ``account`` is the one its credentials
belong to, as moto decides it (an assumed role's keys map to the role's
account, any other key to the sandbox's own): the permission checks judge a
request in the protected account (the immutable copies' connection) against
that account's role policy, not the Airflow role's.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

# In the User-Agent of the sandbox's own boto3 clients (``AwsSandbox.client``).
SETUP_AGENT = "ue-backup-sandbox-setup"
# JSON-protocol operations whose answer is one resource's tags: (service, operation).
TAG_READS = {("backup", "ListTags"), ("memorydb", "ListTags")}
# Operations whose service uses a KMS key on the caller's behalf that the request does not
# name (RDS restoring an encrypted snapshot makes a grant on the snapshot's key, as the
# caller): the sandbox's model of the operation puts the key's ARN in the WSGI environ
# under ``USED_KEY``, and the entry carries it as ``kms_key``.
KEY_USES = {("rds", "RestoreDBInstanceFromDBSnapshot")}
USED_KEY = "ue_backup.sandbox.kms_key"


@dataclass(frozen=True)
class ApiRequest:
    """One request as the sandbox understood it.

    AWS: ``service`` is botocore's service name (``rds``, ``efs``, ``backup``,
    ...), ``operation`` the operation in its model (``CreateDBSnapshot``),
    ``params`` the request's parameters (blobs left out), ``region`` the
    signing region, ``account`` the account the credentials belong to (moto's
    mapping of the access key), ``result`` the top-level ``...Arn`` members of a
    state-changing call's JSON answer (what it created), ``tags`` the tags
    a tag-listing call's JSON answer reports for the resource it names
    (``TAG_READS``: the tags IAM sees on that resource, for the permission
    checks' ``aws:ResourceTag`` conditions), ``kms_key`` the key a ``KEY_USES``
    operation used on the caller's behalf (empty: none). An AWS request the
    sandbox could not map to an operation has ``operation == "?"`` and its
    ``path``.

    Kubernetes: ``service`` is the API group (``""`` for the core group),
    ``operation`` the RBAC verb (get, list, watch, create, update, patch,
    delete, deletecollection), ``resource`` the plural with its subresource
    (``pods/log``); a request for a path that names no resource (discovery)
    has ``resource == ""`` and its ``path``.
    """

    at: float
    api: str  # "aws" or "k8s"
    service: str
    operation: str
    caller: str = "system"  # "system" or "setup"
    region: str = ""
    account: str = ""  # AWS: whose credentials signed it
    params: dict[str, Any] = field(default_factory=dict)
    result: dict[str, str] = field(default_factory=dict)  # AWS: ARNs named in the answer
    tags: dict[str, str] = field(default_factory=dict)  # AWS: tags a TAG_READS answer reports
    kms_key: str = ""  # AWS: the key a KEY_USES operation used on the caller's behalf
    resource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ApiRequest:
        return cls(**data)


Listener = Callable[[ApiRequest], None]


class RequestLog:
    """Thread-safe and append-only (``clear`` aside); listeners see each request as it comes.

    It keeps the newest ``limit`` requests, so a sandbox serving for days (the demo,
    docker compose) stays small; listeners see every one.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[ApiRequest] = deque(maxlen=limit)
        self._listeners: list[Listener] = []

    def record(self, api: str, service: str, operation: str, **fields: Any) -> ApiRequest:
        entry = ApiRequest(time.time(), api, service, operation, **fields)
        with self._lock:
            self._entries.append(entry)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(entry)
        return entry

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def entries(self, api: str | None = None, caller: str | None = None) -> list[ApiRequest]:
        with self._lock:
            return [
                e
                for e in self._entries
                if (api is None or e.api == api) and (caller is None or e.caller == caller)
            ]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
