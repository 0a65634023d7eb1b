"""The WSGI layer in front of moto: injected faults and the mutation log.

Every signed AWS request passes here first. Its service, operation and target
decide which armed faults apply: a ``hang`` holds the answer, an ``error``
replaces it with the service's own error format (a ``ThrottlingException``
goes through botocore's retry handler like a real one), a ``lost`` serves
the call and then answers that error instead of the real answer. Every state-changing
call is written to the mutation log when it arrives, whatever its answer; the
HTTP status is added to the entry's ``detail`` once known, so a test can tell
refused calls from accepted ones. Every signed request, reads included, is
written to the request log (``sandbox/request_log.py``), with the account its
credentials belong to.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.iam.models import get_account_id_from
from werkzeug.wrappers import Response

from sandbox.aws.protocol import AwsCall, error_response, identify, signing_scope
from sandbox.faults import Fault, FaultBook
from sandbox.mutation_log import Mutation, MutationLog
from sandbox.request_log import KEY_USES, SETUP_AGENT, TAG_READS, USED_KEY, RequestLog

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class FaultsAndMutations:
    def __init__(
        self,
        app: WsgiApp,
        faults: FaultBook,
        log: MutationLog,
        before_each: Callable[[], None],
        requests: RequestLog | None = None,
    ) -> None:
        """``before_each`` runs ahead of every request: the sandbox settles finished jobs there."""
        self.app = app
        self.faults = faults
        self.log = log
        self.before_each = before_each
        self.requests = requests if requests is not None else RequestLog()
        self._closed = threading.Event()

    def close(self) -> None:
        """The sandbox is stopping: calls held by a hang give up at once."""
        self._closed.set()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        call = identify(environ)
        if call is None:
            self._log_request(environ, None)
            return self.app(environ, start_response)
        entry = (
            self.log.record(call.service, call.operation, call.target) if call.mutating else None
        )

        def record_status(status: str, headers: list, *args: Any) -> Any:
            if entry is not None:
                entry.detail["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, *args)

        hang = self.faults.take(call.service, call.operation, call.target, kind="hang")
        if hang is not None and self._closed.wait(hang.seconds):
            self._log_request(environ, call)
            return self._error(call, "ServiceUnavailable", "the sandbox stopped", 503)(
                environ, record_status
            )
        error = self.faults.take(call.service, call.operation, call.target, kind="error")
        if error is not None:
            self._log_request(environ, call)
            return self._error(call, error.code, error.message, error.status)(
                environ, record_status
            )
        lost = self.faults.take(call.service, call.operation, call.target, kind="lost")
        self.before_each()
        if lost is not None:
            return self._lose(environ, call, lost, entry)(environ, record_status)
        tag_read = (call.service, call.operation) in TAG_READS
        key_use = (call.service, call.operation) in KEY_USES
        if not key_use and not (
            (call.mutating or tag_read) and call.protocol in ("json", "rest-json")
        ):
            self._log_request(environ, call)
            return self.app(environ, record_status)
        # What a call created is named in its answer (a job's recovery point, an
        # execution), and a tag listing names the resource's tags: read it, so the
        # permission checks can follow that resource and its tags.
        answer = self.app(environ, record_status)
        try:
            body = b"".join(answer)
        finally:
            if hasattr(answer, "close"):
                answer.close()
        if tag_read:
            self._log_request(environ, call, tags=_tags(body))
        elif key_use:  # the model of the call said which key it used (after serving it)
            self._log_request(environ, call, kms_key=str(environ.get(USED_KEY) or ""))
        else:
            self._log_request(environ, call, _arns(body))
        return [body]

    def _lose(
        self, environ: dict[str, Any], call: AwsCall, lost: Fault, entry: Mutation | None
    ) -> Response:
        """Serve the call in full, then answer ``lost``'s error instead of the real answer.

        The entry keeps the real status as ``served`` (``status`` is what the
        caller got), and the request log what the call made, as if answered.
        """
        served: list[int] = []

        def keep_status(status: str, headers: list, *args: Any) -> Callable[[bytes], None]:
            served.append(int(status.split(" ", 1)[0]))
            return lambda data: None

        answer = self.app(environ, keep_status)
        try:
            body = b"".join(answer)
        finally:
            if hasattr(answer, "close"):
                answer.close()
        if entry is not None:
            entry.detail.update(served=served[0] if served else None, lost=True)
        json_answer = call.protocol in ("json", "rest-json")
        self._log_request(environ, call, _arns(body) if json_answer and call.mutating else None)
        return self._error(call, lost.code, lost.message, lost.status)

    def _log_request(
        self,
        environ: dict[str, Any],
        call: AwsCall | None,
        result: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        kms_key: str = "",
    ) -> None:
        scope = signing_scope(environ)
        if scope is None:  # not an AWS call: moto's own API
            return
        caller = "setup" if SETUP_AGENT in environ.get("HTTP_USER_AGENT", "") else "system"
        account = _account(environ)
        if call is None:  # signed, but no operation of the service's model: say so
            self.requests.record(
                "aws",
                scope[0],
                "?",
                caller=caller,
                region=scope[1],
                account=account,
                path=environ["PATH_INFO"],
            )
            return
        self.requests.record(
            "aws",
            call.service,
            call.operation,
            caller=caller,
            region=call.region,
            account=account,
            params=call.params,
            result=result or {},
            tags=tags or {},
            kms_key=kms_key,
        )

    @staticmethod
    def _error(call: AwsCall, code: str, message: str, status: int) -> Response:
        status_code, headers, body = error_response(call, code, message, status)
        return Response(body, status=status_code, headers=headers)


def _account(environ: dict[str, Any]) -> str:
    """The account the request's credentials belong to, as moto maps them: the keys
    ``sts:AssumeRole`` handed out belong to the role's account, any other key to moto's
    default account (the sandbox's own). Moto asks the same for every request it serves."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    key = authorization.split("Credential=", 1)[-1].split("/", 1)[0].strip()
    return get_account_id_from(key)


def _tags(body: bytes) -> dict[str, str]:
    """The tags of a ``TAG_READS`` answer: ``Tags`` (a mapping) or ``TagList`` (Key/Value)."""
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        return {}
    if not isinstance(answer, dict):
        return {}
    if isinstance(answer.get("Tags"), dict):
        return {str(k): str(v) for k, v in answer["Tags"].items()}
    if isinstance(answer.get("TagList"), list):
        return {str(t.get("Key")): str(t.get("Value", "")) for t in answer["TagList"]}
    return {}


def _arns(body: bytes) -> dict[str, str]:
    """The top-level ``...Arn`` members of a JSON answer (``RecoveryPointArn``, ...)."""
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        return {}
    if not isinstance(answer, dict):
        return {}
    return {k: v for k, v in answer.items() if k.endswith("Arn") and isinstance(v, str)}
