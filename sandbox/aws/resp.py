"""A tiny Redis client (RESP2 over TCP on 127.0.0.1), for the sandbox's real MemoryDB data.

The project depends on no Redis client package; the sandbox needs only a handful
of commands (PING, SAVE, SCAN, MIGRATE) and the tests a few more (SET, GET, KEYS),
so one request and one reply per call over a short-lived socket is all there is.
"""

from __future__ import annotations

import socket
from typing import Any, BinaryIO

HOST = "127.0.0.1"


class RedisError(Exception):
    """An error reply (``-ERR ...``) from the server."""


def command(port: int, *args: str | bytes | int, timeout: float = 10.0) -> Any:
    """Send one command to the server on 127.0.0.1:``port``; its reply, decoded.

    Bulk strings come back as ``str`` (UTF-8, the sandbox stores text), integers as
    ``int``, arrays as ``list``, a nil as ``None``; an error reply raises ``RedisError``.
    """
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(encode(args))
        with sock.makefile("rb") as reply:
            return read_reply(reply)


def encode(args: tuple[str | bytes | int, ...]) -> bytes:
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts += [f"${len(data)}\r\n".encode(), data, b"\r\n"]
    return b"".join(parts)


def read_reply(stream: BinaryIO) -> Any:
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("the Redis server closed the connection mid-reply")
    kind, body = line[:1], line[1:-2].decode()
    if kind == b"+":
        return body
    if kind == b"-":
        raise RedisError(body)
    if kind == b":":
        return int(body)
    if kind == b"$":
        if int(body) < 0:
            return None
        data = stream.read(int(body) + 2)[:-2]
        return data.decode()
    if kind == b"*":
        return None if int(body) < 0 else [read_reply(stream) for _ in range(int(body))]
    raise ConnectionError(f"not a RESP reply: {line!r}")
