"""The sandbox's control API: drive a running sandbox from outside its process.

In-process code (the tests' fixtures) reaches ``Sandbox.faults``,
``Sandbox.durations`` and the logs directly; a sandbox started by
``make sandbox`` or by docker compose runs in a process of its own, so this
small HTTP API on 127.0.0.1 (``python -m sandbox`` prints its URL and writes it
to ``--env-out`` as ``UE_SANDBOX_CONTROL_URL``) lets any test or person do the
same with curl or ``ControlClient``. It is served by ``python -m sandbox``
only, not by ``Sandbox.start``: the in-process test sandbox has no use for it.

Endpoints (JSON in and out; a refused request is answered 400 with
``{"error": "..."}`` naming the field at fault, an unknown path 404, a wrong
method 405):

- ``GET /``: the endpoints and the AWS and Kubernetes URLs.
- ``GET /faults``: the armed faults, as ``sandbox.faults.Fault`` fields.
- ``POST /faults``: arm a fault; the body holds ``Fault``'s fields
  (``service`` and ``operation`` required, e.g.
  ``{"service": "backup", "operation": "StartBackupJob", "code":
  "ThrottlingException", "status": 400, "times": 2}``); answers 201 with it.
- ``DELETE /faults``: disarm every fault.
- ``GET /durations``: ``sandbox.settings.Durations`` in seconds.
- ``PATCH /durations`` (or ``PUT``): ``{"backup_job": 30, ...}``, the named
  durations only; an unknown name or a negative or non-numeric value is
  refused and nothing is changed. Answers with all durations.
- ``GET /mutations[?service=&operation=]``: the mutation log.
- ``GET /requests[?api=aws|k8s&caller=system|setup&since=T]``: the request log
  (``since``: only requests at or after the epoch time ``T``).
- ``POST /reset``: ``Sandbox.reset`` (no resources, no faults, an empty
  mutation log, default durations; the request log is kept).
"""

from __future__ import annotations

import json
import math
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, fields
from typing import Any, Protocol, get_args

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from sandbox.faults import Fault, FaultBook, FaultKind
from sandbox.mutation_log import Mutation, MutationLog
from sandbox.request_log import ApiRequest, RequestLog
from sandbox.settings import Durations

ENV_NAME = "UE_SANDBOX_CONTROL_URL"
ENDPOINTS = [
    "GET /faults",
    "POST /faults",
    "DELETE /faults",
    "GET /durations",
    "PATCH /durations",
    "GET /mutations",
    "GET /requests",
    "POST /reset",
]


class Controlled(Protocol):
    """What the API drives: a ``sandbox.core.Sandbox`` (or a stand-in in unit tests)."""

    faults: FaultBook
    durations: Durations
    log: MutationLog
    requests: RequestLog

    def reset(self) -> None: ...


class Refused(Exception):
    """A request the API will not carry out: answered with ``status`` and the message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _json(body: Any, status: int = 200) -> Response:
    # default=str: mutation details and request parameters may hold datetimes.
    return Response(json.dumps(body, default=str), status, mimetype="application/json")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.get_data() or b"null")
    except ValueError as error:
        raise Refused(f"the body is not JSON: {error}") from error
    if not isinstance(body, dict):
        raise Refused("the body must be a JSON object")
    return body


# --- checks, so a refused request changes nothing -------------------------------------------

_FAULT_FIELDS = {f.name for f in fields(Fault)}
_OPTIONAL_TEXT = ("target", "state")
_TEXT = ("service", "operation", "code", "message")


def fault_from(body: dict[str, Any]) -> Fault:
    """A ``Fault`` from JSON, or ``Refused`` naming the first field that is wrong."""
    unknown = sorted(set(body) - _FAULT_FIELDS)
    if unknown:
        raise Refused(f"unknown fault fields: {unknown}; known: {sorted(_FAULT_FIELDS)}")
    for name in ("service", "operation"):
        if not body.get(name):
            raise Refused(f"{name} is required")
    for name in _TEXT:
        if name in body and not isinstance(body[name], str):
            raise Refused(f"{name} must be a string")
    for name in _OPTIONAL_TEXT:
        if body.get(name) is not None and not isinstance(body[name], str):
            raise Refused(f"{name} must be a string or null")
    if "kind" in body and body["kind"] not in get_args(FaultKind):
        raise Refused(f"kind must be one of {list(get_args(FaultKind))}, not {body['kind']!r}")
    status = body.get("status", 500)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise Refused("status must be an HTTP status code (100-599)")
    seconds = body.get("seconds", 0.0)
    if not _is_number(seconds) or seconds < 0:
        raise Refused("seconds must be a number, not negative")
    times = body.get("times", 1)
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise Refused("times must be a positive integer or null (for ever)")
    return Fault(**body)


def checked_durations(body: dict[str, Any], current: Durations) -> dict[str, float]:
    """The durations to set, or ``Refused`` naming the field (checked before any is set)."""
    known = current.as_dict()
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise Refused(f"unknown durations: {unknown}; known: {sorted(known)}")
    for name, value in body.items():
        if not _is_number(value):
            raise Refused(f"{name} must be a number of seconds, not {value!r}")
        if value < 0:
            raise Refused(f"{name} must not be negative")
    return {name: float(value) for name, value in body.items()}


def _since(request: Request) -> float | None:
    raw = request.args.get("since")
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError as error:
        raise Refused(f"since must be a time in seconds since the epoch, not {raw!r}") from error


# --- the application ------------------------------------------------------------------------


class ControlApi:
    """The WSGI application; ``info`` is shown by ``GET /`` (the AWS and Kubernetes URLs)."""

    def __init__(self, sandbox: Controlled, info: dict[str, str] | None = None) -> None:
        self.sandbox = sandbox
        self.info = info or {}
        self._routes = {
            "/": {"GET": self._index},
            "/faults": {"GET": self._faults, "POST": self._add_fault, "DELETE": self._clear},
            "/durations": {
                "GET": self._durations,
                "PATCH": self._set_durations,
                "PUT": self._set_durations,
            },
            "/mutations": {"GET": self._mutations},
            "/requests": {"GET": self._requests},
            "/reset": {"POST": self._reset},
        }

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            methods = self._routes.get(request.path.rstrip("/") or "/")
            if methods is None:
                raise Refused(f"no such endpoint: {request.path}; see GET /", 404)
            if request.method not in methods:
                raise Refused(f"{request.path} allows {sorted(methods)}", 405)
            response = methods[request.method](request)
        except Refused as refused:
            response = _json({"error": str(refused)}, refused.status)
        return response(environ, start_response)

    def _index(self, request: Request) -> Response:
        return _json({**self.info, "endpoints": ENDPOINTS})

    def _faults(self, request: Request) -> Response:
        return _json([asdict(f) for f in self.sandbox.faults.armed()])

    def _add_fault(self, request: Request) -> Response:
        return _json(asdict(self.sandbox.faults.add(fault_from(_object(request)))), 201)

    def _clear(self, request: Request) -> Response:
        self.sandbox.faults.clear()
        return _json([])

    def _durations(self, request: Request) -> Response:
        return _json(self.sandbox.durations.as_dict())

    def _set_durations(self, request: Request) -> Response:
        durations = self.sandbox.durations
        durations.update(**checked_durations(_object(request), durations))
        return _json(durations.as_dict())

    def _mutations(self, request: Request) -> Response:
        entries = self.sandbox.log.entries(
            request.args.get("service"), request.args.get("operation")
        )
        return _json([asdict(e) for e in entries])

    def _requests(self, request: Request) -> Response:
        since = _since(request)
        entries = self.sandbox.requests.entries(request.args.get("api"), request.args.get("caller"))
        return _json([e.as_dict() for e in entries if since is None or e.at >= since])

    def _reset(self, request: Request) -> Response:
        self.sandbox.reset()
        return _json({"reset": True})


class _QuietHandler(WSGIRequestHandler):
    """No access log line on stderr for every request (a test may poll)."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class ControlServer:
    """``ControlApi`` on a free port of 127.0.0.1 (``url``), served by a background thread."""

    def __init__(self, sandbox: Controlled, info: dict[str, str] | None = None) -> None:
        self.api = ControlApi(sandbox, info)
        self._server: BaseWSGIServer | None = None

    def start(self, port: int = 0) -> ControlServer:
        self._server = make_server(
            "127.0.0.1", port, self.api, threaded=True, request_handler=_QuietHandler
        )
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sandbox-control",
            daemon=True,
        ).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the control API is not started")
        return f"http://127.0.0.1:{self._server.server_port}"


# --- the client -----------------------------------------------------------------------------


class ControlError(Exception):
    """The control API refused a request: ``status`` and its ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class ControlClient:
    """The control API from Python, with the standard library only.

    ``ControlClient()`` reads the URL from ``UE_SANDBOX_CONTROL_URL``.
    """

    def __init__(self, url: str | None = None, timeout: float = 30.0) -> None:
        url = url or os.environ.get(ENV_NAME)
        if not url:
            raise ValueError(f"no control URL given and {ENV_NAME} is not set")
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        query = {k: v for k, v in query.items() if v is not None}
        url = self.url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            try:
                message = json.loads(text)["error"]
            except (ValueError, KeyError, TypeError):
                message = text
            raise ControlError(error.code, message) from None

    def faults(self) -> list[Fault]:
        return [Fault(**f) for f in self._call("GET", "/faults")]

    def add_fault(self, **fields: Any) -> Fault:
        """Arm a fault: ``Fault``'s fields, e.g. ``service=, operation=, code=, status=``."""
        return Fault(**self._call("POST", "/faults", fields))

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def durations(self) -> dict[str, float]:
        return self._call("GET", "/durations")

    def set_durations(self, **seconds: float) -> dict[str, float]:
        return self._call("PATCH", "/durations", seconds)

    def mutations(self, service: str | None = None, operation: str | None = None) -> list[Mutation]:
        entries = self._call("GET", "/mutations", service=service, operation=operation)
        return [Mutation(**e) for e in entries]

    def requests(
        self, api: str | None = None, caller: str | None = None, since: float | None = None
    ) -> list[ApiRequest]:
        entries = self._call("GET", "/requests", api=api, caller=caller, since=since)
        return [ApiRequest.from_dict(e) for e in entries]

    def reset(self) -> None:
        self._call("POST", "/reset")
