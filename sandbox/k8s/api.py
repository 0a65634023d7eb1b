"""The WSGI application of the sandbox API server: authentication, discovery, fault
injection and dispatch of resource requests to the verb handlers.

Faults are consulted before a resource request is served, with the verb
(get/list/create/replace/patch/delete) and the target ``<ns>/<plural>/<name>``:
a ``hang`` fault delays the request by its ``seconds``, an ``error`` fault answers
with its ``status`` and ``message`` as a ``Status`` (429 with ``Retry-After`` =
``seconds`` rounded up); a ``lost`` fault lets the request be served (the object
is created, the mutation log says so) and then answers as ``error`` would.

Every authenticated request is written to the request log
(``sandbox/request_log.py``) in RBAC's terms: the verb (``watch``,
``update``, ``deletecollection`` included), the API group, the resource with
its subresource, the namespace and the name; requests for paths that name no
resource (discovery, health) with their path.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from werkzeug.wrappers import Request, Response

from sandbox.faults import FaultBook
from sandbox.k8s import errors, watch
from sandbox.k8s.handlers import Handlers, flag, selectors
from sandbox.k8s.routing import Target, discovery_document, resource_target
from sandbox.k8s.store import Store
from sandbox.mutation_log import MutationLog
from sandbox.request_log import RequestLog

logger = logging.getLogger(__name__)
_PUBLIC = (["version"], ["healthz"], ["readyz"], ["livez"])


def _json(body: Any, code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), code, headers=headers, mimetype="application/json")


def _body(request: Request) -> Any:
    raw = request.get_data()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as error:
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {error}") from error


class KubeApi:
    """Serves one store; ``address`` is filled in once the server is bound."""

    def __init__(
        self,
        store: Store,
        faults: FaultBook,
        log: MutationLog,
        token: str,
        requests: RequestLog | None = None,
    ) -> None:
        self.store = store
        self.faults = faults
        self.token = token
        self.requests = requests if requests is not None else RequestLog()
        self.handlers = Handlers(store, log)
        self.address = ""
        self.stopped = threading.Event()  # ends open watches when the server stops

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            response = self._dispatch(request)
        except errors.ApiError as error:
            response = _json(error.body(), error.code, error.headers)
        except Exception as error:  # a sandbox bug: answer as an API server would, and say so
            logger.exception("k8s sandbox failed on %s %s", request.method, request.path)
            failure = errors.ApiError(500, f"sandbox internal error: {error!r}")
            response = _json(failure.body(), 500)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        self._authenticate(request, parts)
        if parts and parts[0] in ("healthz", "readyz", "livez"):
            self._log_path(request)
            return Response("ok", mimetype="text/plain")
        document = discovery_document(parts, self.address)
        if document is not None:
            self._log_path(request)
            return _json(document)
        target = resource_target(parts)
        verb = self._verb(request.method, target)
        self._log_request(request, verb, target)
        self._inject_faults(verb, target)
        lost = self.faults.take("k8s", verb, target.label, kind="lost")
        logged = len(self.handlers.log)
        response = self._serve(request, target)
        if lost:  # carried out, but the answer is lost: the caller sees the fault's error
            for entry in self.handlers.log.entries()[logged:]:
                if entry.operation == verb and entry.target.startswith(target.label):
                    entry.detail.update(served=response.status_code, lost=True)
            raise errors.from_fault(lost)
        return response

    def _authenticate(self, request: Request, parts: list[str]) -> None:
        """Bearer token from the kubeconfig; anonymous callers only see version and health."""
        header = request.headers.get("Authorization")
        if header == f"Bearer {self.token}" or (header is None and parts in _PUBLIC):
            return
        raise errors.ApiError(401, "Unauthorized")

    def _log_path(self, request: Request) -> None:
        self.requests.record("k8s", "", request.method.lower(), path=request.path)

    def _log_request(self, request: Request, verb: str, target: Target) -> None:
        """The request as RBAC authorizes it (``replace`` is ``update``, a watch is ``watch``)."""
        if verb == "list" and flag(request.args, "watch"):
            verb = "watch"
        elif verb == "replace":
            verb = "update"
        elif verb == "delete" and not target.name:
            verb = "deletecollection"
        resource = target.rt.plural + (f"/{target.subresource}" if target.subresource else "")
        self.requests.record(
            "k8s",
            target.rt.group,
            verb,
            resource=resource,
            namespace=target.namespace or "",
            name=target.name,
            path=request.path,
        )

    @staticmethod
    def _verb(method: str, target: Target) -> str:
        collection = not target.name
        verbs = {
            ("GET", False): "get",
            ("GET", True): "list",
            ("POST", True): "create",
            ("PUT", False): "replace",
            ("PATCH", False): "patch",
            ("DELETE", False): "delete",
            ("DELETE", True): "delete",
        }
        verb = verbs.get((method, collection))
        if verb is None or (target.subresource == "log" and verb != "get"):
            raise errors.ApiError(
                405, "the server does not allow this method on the requested resource"
            )
        if target.subresource and collection:
            raise errors.unknown_resource()
        return verb

    def _inject_faults(self, verb: str, target: Target) -> None:
        hang = self.faults.take("k8s", verb, target.label, kind="hang")
        if hang:
            time.sleep(hang.seconds)
        error = self.faults.take("k8s", verb, target.label, kind="error")
        if error:
            raise errors.from_fault(error)

    def _serve(self, request: Request, target: Target) -> Response:
        h, args, method = self.handlers, request.args, request.method
        if method == "GET" and target.subresource == "log":
            return Response(h.log_text(target, args), mimetype="text/plain")
        if method == "GET" and target.name:
            return _json(h.get(target))
        if method == "GET" and flag(args, "watch"):
            labels, fields = selectors(target, args)  # a bad selector is a 400, not a stream
            events = watch.stream(self.store, target, labels, fields, args, self.stopped)
            return Response(events, mimetype="application/json", direct_passthrough=True)
        if method == "GET":
            return _json(h.list(target, args))
        if method == "POST":
            return _json(h.create(target, args, _body(request)), 201)
        if method == "PUT":
            return _json(h.replace(target, args, _body(request)))
        if method == "PATCH":
            return _json(h.patch(target, args, request.get_data(), request.content_type or ""))
        if target.name:
            return _json(h.delete(target, args, _body(request)))
        return _json(h.delete_collection(target, args, _body(request)))
