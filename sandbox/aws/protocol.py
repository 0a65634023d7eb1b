"""Reading an AWS request the way the service would, and answering with an AWS error.

The fault injector and the mutation log sit in front of moto and need, for
any service, the operation a request calls and the resources it names. The
signing scope names the service; moto's router maps the request to the
operation in botocore's model whatever the protocol (``X-Amz-Target`` for
JSON, ``Action`` for query, method and URI for rest-json and rest-xml); moto's
parser reads the parameters from wherever the model puts them.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from moto.core.parse import PROTOCOL_PARSERS, RequestParserError
from moto.core.request import Request, determine_request_protocol
from moto.core.routing import get_service_router
from moto.core.serialize import get_serializer_class
from moto.core.utils import get_service_model
from werkzeug.exceptions import NotFound

from sandbox.aws.errors import AwsError

# SigV4 signing names that differ from botocore's service names.
SERVICE_BY_SIGNING_NAME = {"elasticfilesystem": "efs", "monitoring": "cloudwatch"}

READ_PREFIXES = ("Describe", "List", "Get", "Head")

# Members that name the caller or a key rather than the resource acted on.
_NOT_TARGETS = ("RoleArn", "KmsKeyId", "KeyArn")
_TARGET_SUFFIXES = ("Arn", "Identifier", "Id", "Name")
_TARGET_NAMES = ("Bucket", "Key")


@dataclass(frozen=True)
class AwsCall:
    service: str  # botocore's name: "backup", "efs", "rds", ...
    operation: str  # "StartBackupJob"
    protocol: str  # "rest-json", "json", "query", ...
    target: str  # the resource names and ARNs in the request, space-separated
    region: str = ""  # the signing region
    # The request's parameters as the service reads them, blobs left out (request log).
    params: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def mutating(self) -> bool:
        return not self.operation.startswith(READ_PREFIXES)


def identify(environ: dict[str, Any]) -> AwsCall | None:
    """The AWS call a signed request makes, or None when it is not one (e.g. moto's own API).

    The body is read once and put back, so moto still sees it.
    """
    scope = signing_scope(environ)
    if scope is None:
        return None
    service, region = scope
    body = _take_body(environ)
    probe = dict(environ, **{"wsgi.input": io.BytesIO(body)})
    try:
        model = get_service_model(service)
        request = Request(probe)
        operation, uri_params = get_service_router(service).match(request)
        protocol = determine_request_protocol(model, request.content_type)
        parser = PROTOCOL_PARSERS[protocol](operation)
        params = parser.parse(
            {
                "method": request.method,
                "values": request.values,
                "headers": request.headers,
                "body": body,
                "url_path": request.path,
                "url_params": uri_params,
            }
        )
    except (NotFound, NotImplementedError, RequestParserError, ValueError, KeyError):
        return None
    return AwsCall(
        service, operation.name, protocol, _target(operation, params), region, _plain(params)
    )


def error_response(call: AwsCall, code: str, message: str, status: int) -> tuple[int, dict, bytes]:
    """The status, headers and body AWS sends for an error, in the call's protocol."""
    model = get_service_model(call.service)
    serializer = get_serializer_class(call.service, call.protocol)(
        operation_model=model.operation_model(call.operation)
    )
    with warnings.catch_warnings():
        # Injected codes (ThrottlingException, ...) are often not in the service's model.
        warnings.simplefilter("ignore")
        response = serializer.serialize(AwsError(code, message))
    body = response["body"]
    return status, dict(response["headers"]), body.encode() if isinstance(body, str) else body


def _take_body(environ: dict[str, Any]) -> bytes:
    """Read the request body and put an unread copy back for moto."""
    if environ.get("CONTENT_LENGTH"):
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
    elif environ.get("wsgi.input_terminated"):  # chunked: the server ends the stream
        body = environ["wsgi.input"].read()
    else:
        return b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def signing_scope(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(service, region) from a SigV4 ``Credential=<key>/<date>/<region>/<service>/aws4_request``.

    None when the request is not signed (moto's own API, the sandbox's control calls).
    """
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" not in authorization:
        return None
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    if len(scope) != 5:
        return None
    return SERVICE_BY_SIGNING_NAME.get(scope[3], scope[3]), scope[2]


def _plain(value: Any) -> Any:
    """Parameters as plain JSON values: blobs (an object's body) left out, times as ISO text."""
    if isinstance(value, dict):
        return {
            k: _plain(v)
            for k, v in value.items()
            if not isinstance(v, bytes | bytearray | io.IOBase)
        }
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value if not isinstance(v, bytes | bytearray | io.IOBase)]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _target(operation: Any, params: dict[str, Any]) -> str:
    members = operation.input_shape.members if operation.input_shape else {}
    names = [
        name
        for name, shape in members.items()
        if (name.endswith(_TARGET_SUFFIXES) or name in _TARGET_NAMES)
        and not name.endswith(_NOT_TARGETS)
        and not shape.metadata.get("idempotencyToken")
        and isinstance(params.get(name), str)
    ]
    return " ".join(params[name] for name in names)


def target_of(service: str, operation: str, params: dict[str, Any]) -> str:
    """The target of a call from its parsed parameters, as ``identify`` computes it.

    Asynchronous jobs take their outcome faults with this, so a fault's
    ``target`` selects a job the same way it selects a request.
    """
    return _target(get_service_model(service).operation_model(operation), params)
