"""Which errors a wait treats as "not yet": real botocore and Kubernetes exception types."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    WaiterError,
)
from kubernetes.client.exceptions import ApiException

from ue_backup.transient import is_transient


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "DescribeBackupJob",
    )


def waiter_error(code: str, status: int) -> WaiterError:
    response = client_error(code, status).response
    return WaiterError("w", f"An error occurred ({code}): m", response)


TRANSIENT = {
    "throttling": client_error("ThrottlingException", 400),
    "s3 slow down": client_error("SlowDown", 503),
    "a 5xx by any code": client_error("SomethingBroke", 502),
    "internal failure": client_error("InternalFailure", 500),
    "waiter throttled": waiter_error("Throttling", 400),
    "waiter 503": waiter_error("ServiceUnavailableException", 503),
    "no connection": EndpointConnectionError(endpoint_url="https://backup.example"),
    "connect timeout": ConnectTimeoutError(endpoint_url="https://backup.example"),
    "read timeout": ReadTimeoutError(endpoint_url="https://backup.example"),
    "kubernetes 429": ApiException(status=429, reason="Too Many Requests"),
    "kubernetes 503": ApiException(status=503, reason="Service Unavailable"),
    "socket": ConnectionResetError(104, "reset"),
}
PERMANENT = {
    "access denied": client_error("AccessDeniedException", 403),
    "not found": client_error("ResourceNotFoundException", 400),
    "waiter not found": waiter_error("SnapshotNotFoundFault", 404),
    "terminal failure": WaiterError("w", "Waiter encountered a terminal failure state", {}),
    "kubernetes 404": ApiException(status=404, reason="Not Found"),
    "kubernetes 409": ApiException(status=409, reason="Conflict"),
    "a bug": KeyError("State"),
}


@pytest.mark.parametrize("error", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_transient_errors_mean_not_yet(error):
    assert is_transient(error)


@pytest.mark.parametrize("error", PERMANENT.values(), ids=PERMANENT.keys())
def test_other_errors_are_failures(error):
    assert not is_transient(error)


def raised(make, kind: type[Exception]) -> BaseException:
    """What ``make()`` raises, with the cause and context Python gives it."""
    with pytest.raises(kind) as caught:
        make()
    return caught.value


def rethrow(error: BaseException, *, cause: bool) -> None:
    try:
        raise error
    except Exception as inner:
        if cause:
            raise RuntimeError("describe failed") from inner
        raise ValueError("a bad value")  # noqa: B904


def test_the_cause_of_a_wrapped_error_counts():
    throttled = client_error("ThrottlingException", 400)
    wrapped = raised(lambda: rethrow(throttled, cause=True), RuntimeError)
    assert is_transient(wrapped)


def test_an_error_merely_raised_while_handling_a_throttle_does_not():
    throttled = client_error("ThrottlingException", 400)
    unrelated = raised(lambda: rethrow(throttled, cause=False), ValueError)
    assert unrelated.__context__ is not None
    assert not is_transient(unrelated)
