"""Which errors mean "ask again later": throttling, 5xx answers, lost connections.

A wait (a sensor's poke, a trigger's poll) that meets one of these answers
"not yet" and checks again at its next interval, until its own timeout: a
busy account or a service's bad minute never fails a backup. Any other error
(access denied, a resource that does not exist, a bad request) still fails.

The codes are botocore's own lists for its standard retry mode (throttling and
transient errors) plus the server-side codes AWS services answer with 5xx;
Kubernetes answers 429 and 5xx the same way. Judged by attributes, not by
class, so this module imports neither botocore nor the Kubernetes client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
SERVER_CODES = frozenset(
    {
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "InternalServerException",
        "InternalException",
        "ServiceFailure",
        "ServiceException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServerException",
        "Unavailable",
        "BadGateway",
        "GatewayTimeout",
    }
)
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})

# Errors raised before any answer arrived: botocore's (EndpointConnectionError,
# ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError are subclasses of its
# ConnectionError or HTTPClientError), urllib3's, aiohttp's, and Python's own.
CONNECTION_ERROR_NAMES = frozenset(
    {
        "ConnectionError",
        "HTTPClientError",
        "ProtocolError",
        "MaxRetryError",
        "NewConnectionError",
        "TimeoutError",
        "ReadTimeoutError",
        "ClientConnectionError",
        "ServerDisconnectedError",
    }
)


def transient_answer(response: Mapping[str, Any] | None) -> bool:
    """True when an AWS error answer (botocore's parsed response) is throttling or 5xx."""
    if not response:
        return False
    code = (response.get("Error") or {}).get("Code")
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return code in THROTTLING_CODES or code in SERVER_CODES or status in TRANSIENT_STATUSES


def is_transient(error: BaseException) -> bool:
    """True when ``error`` (or what caused it) is throttling, a 5xx answer or a lost connection.

    AWS: a ``ClientError`` (or a ``WaiterError``) whose answer is throttling
    or 5xx. Kubernetes: an ``ApiException`` with status 429 or 5xx. Any
    connection or timeout error on the way.
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        response = getattr(error, "response", None)
        if not isinstance(response, Mapping):
            response = getattr(error, "last_response", None)
        if isinstance(response, Mapping) and transient_answer(response):
            return True
        if getattr(error, "status", None) in TRANSIENT_STATUSES:
            return True
        if isinstance(error, ConnectionError | TimeoutError) or any(
            cls.__name__ in CONNECTION_ERROR_NAMES for cls in type(error).__mro__
        ):
            return True
        error = error.__cause__  # an explicit cause only: a context may be unrelated
    return False
