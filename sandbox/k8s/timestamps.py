"""Time in the shapes Kubernetes and Velero write it.

Kubernetes serialises ``metav1.Time`` as RFC 3339 with second precision and Velero
spells durations the Go way (``720h0m0s``); both are parsed and produced here so
every module agrees on them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def rfc3339(at: float) -> str:
    """``at`` (seconds since the epoch) as Kubernetes writes a timestamp."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> float:
    """The inverse of :func:`rfc3339`, accepting fractional seconds too."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string such as ``720h0m0s`` or ``1h30m``.

    Raises ValueError for anything Go's ``time.ParseDuration`` would refuse here.
    """
    if text in ("0", ""):
        return 0.0
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"time: invalid duration {text!r}")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
