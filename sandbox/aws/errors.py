"""The errors the sandbox's own AWS operations answer with.

moto serialises any ``ServiceException`` in the protocol of the call (query XML,
JSON ``__type``, rest-json headers), so raising one is all an extension needs to
answer like AWS. It has to be defined outside the ``moto`` package: moto derives
the service model of its own exceptions from their module name.
"""

from __future__ import annotations

from moto.core.exceptions import ServiceException


class AwsError(ServiceException):
    """An AWS error ``code`` with its ``message``; the HTTP status comes from the model."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
