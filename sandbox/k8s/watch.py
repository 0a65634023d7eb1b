"""Watches: a list request with ``watch=true`` streams change events, one JSON object
per line, until ``timeoutSeconds``, a sandbox reset or server stop.

A watch from resourceVersion "" or "0" starts with an ADDED event per existing object
(as the API server's watch cache does); a resourceVersion older than the store's
history yields an ERROR event with a 410 Status, which clients answer by re-listing.
An object that stops (starts) matching the selectors is reported DELETED (ADDED).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping

from sandbox.k8s import errors
from sandbox.k8s.routing import Target
from sandbox.k8s.selectors import FieldRequirement, Requirement
from sandbox.k8s.store import Event, Obj, Store

_DEFAULT_TIMEOUT = 1800.0
_POLL = 0.5  # how often an idle watch re-checks stop and timeout


def _line(kind: str, obj: Obj) -> bytes:
    return json.dumps({"type": kind, "object": obj}).encode() + b"\n"


def _translate(
    event: Event,
    target: Target,
    labels: list[Requirement],
    fields: list[FieldRequirement],
) -> str | None:
    """The watch event type this store event means for ``target``'s selection, if any."""
    if event.rt != target.rt:
        return None
    if target.namespace is not None and event.obj["metadata"].get("namespace") != target.namespace:
        return None
    now = event.type != "DELETED" and Store.selected(event.obj, labels, fields)
    before = event.previous is not None and Store.selected(event.previous, labels, fields)
    if event.type == "ADDED":
        return "ADDED" if now else None
    if event.type == "DELETED":
        return "DELETED" if before else None
    if now:
        return "MODIFIED" if before else "ADDED"
    return "DELETED" if before else None


def stream(
    store: Store,
    target: Target,
    labels: list[Requirement],
    fields: list[FieldRequirement],
    query: Mapping[str, str],
    stopped: threading.Event,
) -> Iterator[bytes]:
    """The event lines of one watch (``resourceVersion`` and ``timeoutSeconds`` from ``query``)."""
    deadline = time.monotonic() + float(query.get("timeoutSeconds") or _DEFAULT_TIMEOUT)
    epoch = store.epoch
    start = query.get("resourceVersion") or "0"
    if start == "0":
        items, since = store.snapshot(target.rt, target.namespace, labels, fields)
        for item in items:
            yield _line("ADDED", item)
    else:
        since = int(start)
    # One pass always runs, so a too-old starting version is answered 410 on arrival (as
    # the API server does) even when the timeout has passed before the first pass.
    while True:
        try:
            events = store.events_after(since)
        except errors.ApiError as error:
            yield _line("ERROR", error.body())
            return
        for event in events:
            since = event.rv
            kind = _translate(event, target, labels, fields)
            if kind:
                yield _line(kind, event.obj)
        if stopped.is_set() or store.epoch != epoch or time.monotonic() >= deadline:
            return
        store.wait_for_change(since, min(_POLL, max(0.0, deadline - time.monotonic())))
