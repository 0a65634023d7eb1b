"""The hostname the harness's Airflow components report: ``[core] hostname_callable``.

Airflow reaches a running task's log server at the hostname its worker
reported, which is by default this machine's name (an address that may not be
127.0.0.1). Every component of the harness runs here and nothing of it may
send traffic beyond 127.0.0.1, so each says it is 127.0.0.1.
"""

from __future__ import annotations


def hostname() -> str:
    return "127.0.0.1"
