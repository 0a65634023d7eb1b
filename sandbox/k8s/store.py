"""The object store behind the API server: what etcd plus the generic registry do.

Every write goes through here, from the API and from the controllers alike, so the
invariants clients rely on hold everywhere: one cluster-wide ``resourceVersion``
bumped on each write (and not on a write that changes nothing), optimistic
concurrency, ``uid``/``creationTimestamp``/``generation``, status-subresource rules,
graceful pod deletion, finalizers, orphaning, and a bounded history of watch events.
Objects go in and out as deep copies: nobody holds a reference into the store.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.k8s import errors
from sandbox.k8s.defaults import apply_defaults
from sandbox.k8s.resources import ALL, PODS, ResourceType
from sandbox.k8s.selectors import FieldRequirement, Requirement, matches
from sandbox.k8s.timestamps import rfc3339
from sandbox.k8s.validation import check_decodable, validate


def clone(value: Any) -> Any:
    """A deep copy of a JSON-shaped object (dicts, lists, scalars), as ``copy.deepcopy``
    makes it but several times faster: the controllers copy every object they list, and
    ``deepcopy``'s memo and dispatch were a large part of a running sandbox's CPU.
    Anything else (not expected in a stored object) goes to ``copy.deepcopy``."""
    if isinstance(value, dict):
        return {key: clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clone(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return copy.deepcopy(value)


Obj = dict[str, Any]
_SERVER_FIELDS = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")
_NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_HISTORY = 4096  # watch events kept; an older resourceVersion gets 410 Expired


def random_suffix(length: int = 5) -> str:
    """The suffix generateName and the controllers append (no vowels, as Kubernetes)."""
    return "".join(secrets.choice(_NAME_SUFFIX_ALPHABET) for _ in range(length))


@dataclass(frozen=True)
class Event:
    """One change, as a watch reports it; ``previous`` lets selectors see transitions."""

    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    rt: ResourceType
    obj: Obj
    previous: Obj | None


def _key(rt: ResourceType, namespace: str | None, name: str) -> tuple[str, str, str]:
    return (rt.group_resource, namespace if rt.namespaced else "", name)


def _without(obj: Obj, *fields: str) -> Obj:
    """``obj`` minus top-level ``fields`` and minus metadata: what generation tracks."""
    return {k: v for k, v in obj.items() if k not in ("metadata", *fields)}


class Store:
    """Thread-safe; ``changed`` is notified on every write and on ``clear``."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.changed = threading.Condition(self._lock)
        self._objects: dict[tuple[str, str, str], Obj] = {}
        self._logs: dict[tuple[str, str], str] = {}
        self._rv = 0
        self._events: deque[Event] = deque(maxlen=_HISTORY)
        self._compacted = 0
        self.epoch = 0  # bumped by clear(): open watches end

    @property
    def resource_version(self) -> int:
        with self._lock:
            return self._rv

    def clear(self) -> None:
        with self._lock:
            self._objects.clear()
            self._logs.clear()
            self._events.clear()
            self._compacted = self._rv
            self.epoch += 1
            self.changed.notify_all()

    # reads

    def find(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        with self._lock:
            obj = self._objects.get(_key(rt, namespace, name))
            return clone(obj) if obj else None

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self.find(rt, namespace, name)
        if obj is None:
            raise errors.not_found(rt, name)
        return obj

    def list(
        self,
        rt: ResourceType,
        namespace: str | None = None,
        labels: list[Requirement] | None = None,
        fields: list[FieldRequirement] | None = None,
    ) -> list[Obj]:
        """Matching objects sorted by namespace and name; ``namespace=None`` means all."""
        with self._lock:
            found = [
                clone(obj)
                for (group_resource, ns, _), obj in sorted(self._objects.items())
                if group_resource == rt.group_resource
                and (namespace is None or not rt.namespaced or ns == namespace)
                and self.selected(obj, labels, fields)
            ]
        return found

    def snapshot(
        self,
        rt: ResourceType,
        namespace: str | None,
        labels: list[Requirement],
        fields: list[FieldRequirement],
    ) -> tuple[list[Obj], int]:
        """A list and the resourceVersion it is current at, taken atomically (for watches)."""
        with self._lock:
            return self.list(rt, namespace, labels, fields), self._rv

    @staticmethod
    def selected(
        obj: Obj, labels: list[Requirement] | None, fields: list[FieldRequirement] | None
    ) -> bool:
        return matches(labels or [], obj["metadata"].get("labels")) and all(
            f.matches(obj) for f in fields or []
        )

    def owned_by(self, uid: str) -> list[tuple[ResourceType, Obj]]:
        """Every object with an ownerReference to ``uid``, for the controllers and the GC."""
        with self._lock:
            return [
                (rt, clone(obj))
                for rt in ALL
                for (group_resource, _, _), obj in sorted(self._objects.items())
                if group_resource == rt.group_resource
                and any(
                    ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or []
                )
            ]

    def uids(self) -> set[str]:
        with self._lock:
            return {obj["metadata"]["uid"] for obj in self._objects.values()}

    # writes

    def create(
        self, rt: ResourceType, namespace: str | None, body: Obj, dry_run: bool = False
    ) -> Obj:
        check_decodable(body)
        obj = clone(body)
        meta = obj.setdefault("metadata", {})
        with self._lock:
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + random_suffix()
            name = meta.get("name") or ""
            if name and _key(rt, namespace, name) in self._objects:
                raise errors.already_exists(rt, name)
            for field in (*_SERVER_FIELDS, "resourceVersion", "generation"):
                meta.pop(field, None)
            obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
            if rt.namespaced:
                meta["namespace"] = namespace
            else:
                meta.pop("namespace", None)
            if rt.status_subresource:
                obj.pop("status", None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = rfc3339(time.time())
            meta["generation"] = 1
            apply_defaults(rt.plural, obj)
            validate(rt, obj)
            if dry_run:
                return obj
            return self._commit(rt, obj, None, "ADDED")

    def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        mutate: Callable[[Obj], Obj],
        subresource: str | None = None,
        require_rv: bool = False,
        dry_run: bool = False,
    ) -> Obj:
        """Atomically replace the object by ``mutate(copy)``.

        A ``metadata.resourceVersion`` left in the result must still be current (how
        PUT bodies and patches that carry one get their 409); ``require_rv`` makes
        it mandatory, as for PUT on custom resources.
        """
        with self._lock:
            current = self.get(rt, namespace, name)
            new = mutate(clone(current))
            check_decodable(new)
            new_meta = new.setdefault("metadata", {})
            self._check_preconditions(rt, current, new_meta, require_rv)
            result = self._merge_subresource(rt, current, new, subresource)
            meta = result["metadata"]
            for field in _SERVER_FIELDS:
                meta.pop(field, None)
                if field in current["metadata"]:
                    meta[field] = current["metadata"][field]
            meta["name"], meta["resourceVersion"] = name, current["metadata"]["resourceVersion"]
            if rt.namespaced:
                meta["namespace"] = namespace
            result["apiVersion"], result["kind"] = rt.api_version, rt.kind
            ignored = ("status",) if rt.status_subresource else ()
            generation = current["metadata"].get("generation", 1)
            if _without(result, *ignored) != _without(current, *ignored):
                generation += 1
            meta["generation"] = generation
            validate(rt, result)
            if dry_run or result == current:
                return result
            if meta.get("deletionTimestamp") and not meta.get("finalizers") and rt != PODS:
                self._drop(rt, result)
                return result
            return self._commit(rt, result, current, "MODIFIED")

    @staticmethod
    def _check_preconditions(
        rt: ResourceType, current: Obj, new_meta: Obj, require_rv: bool
    ) -> None:
        name = current["metadata"]["name"]
        rv = new_meta.get("resourceVersion")
        if not rv and require_rv:
            raise errors.invalid(
                rt,
                name,
                [
                    (
                        "metadata.resourceVersion",
                        "Invalid value: 0x0: must be specified for an update",
                    )
                ],
            )
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise errors.stale(rt, name)
        uid = new_meta.get("uid")
        if uid and uid != current["metadata"]["uid"]:
            raise errors.conflict(
                rt,
                name,
                f"Precondition failed: UID in precondition: {uid}, "
                f"UID in object meta: {current['metadata']['uid']}",
            )

    @staticmethod
    def _merge_subresource(
        rt: ResourceType, current: Obj, new: Obj, subresource: str | None
    ) -> Obj:
        if not rt.status_subresource:
            return new
        if subresource == "status":
            result = clone(current)
            result["status"] = new.get("status") or {}
            return result
        result = dict(new)
        result.pop("status", None)
        if "status" in current:
            result["status"] = current["status"]
        return result

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        propagation: str | None = None,
        grace_seconds: int | None = None,
        preconditions: dict[str, str] | None = None,
        dry_run: bool = False,
    ) -> tuple[Obj, bool]:
        """Delete, or start deleting: returns the object and whether it is gone.

        Pods that still run terminate gracefully (deletionTimestamp now + grace; the
        kubelet removes them), objects with finalizers wait for them to be removed.
        """
        with self._lock:
            obj = self.get(rt, namespace, name)
            meta = obj["metadata"]
            for field, value in (preconditions or {}).items():
                if value and meta.get(field) != value:
                    raise errors.conflict(
                        rt,
                        name,
                        f"Precondition failed: {field} in precondition: {value}, "
                        f"{field} in object meta: {meta.get(field)}",
                    )
            if dry_run:
                return obj, False
            if (propagation or rt.default_propagation) == "Orphan":
                self._orphan(meta["uid"])
            graceful = rt == PODS and (obj.get("status") or {}).get("phase") in (
                "Pending",
                "Running",
            )
            grace = grace_seconds
            if grace is None:
                grace = (obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
            if graceful and grace > 0:
                if meta.get("deletionTimestamp"):
                    return obj, False  # already terminating
                meta["deletionTimestamp"] = rfc3339(time.time() + grace)
                meta["deletionGracePeriodSeconds"] = grace
                return self._commit(rt, obj, self.get(rt, namespace, name), "MODIFIED"), False
            if meta.get("finalizers"):
                if not meta.get("deletionTimestamp"):
                    meta["deletionTimestamp"] = rfc3339(time.time())
                    meta["deletionGracePeriodSeconds"] = 0
                    obj = self._commit(rt, obj, self.get(rt, namespace, name), "MODIFIED")
                return obj, False
            self._drop(rt, obj)
            return obj, True

    def remove(self, rt: ResourceType, namespace: str | None, name: str) -> None:
        """Finish a deletion now (a kubelet done terminating a pod); absent is fine."""
        with self._lock:
            obj = self.find(rt, namespace, name)
            if obj is not None:
                self._drop(rt, obj)

    def _orphan(self, uid: str) -> None:
        for rt, dependent in self.owned_by(uid):
            refs = dependent["metadata"]["ownerReferences"]
            dependent["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
            previous = self.find(
                rt, dependent["metadata"].get("namespace"), dependent["metadata"]["name"]
            )
            self._commit(rt, dependent, previous, "MODIFIED")

    def _commit(self, rt: ResourceType, obj: Obj, previous: Obj | None, event: str) -> Obj:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        meta = obj["metadata"]
        self._objects[_key(rt, meta.get("namespace"), meta["name"])] = clone(obj)
        self._record(Event(self._rv, event, rt, clone(obj), previous))
        return obj

    def _drop(self, rt: ResourceType, obj: Obj) -> None:
        meta = obj["metadata"]
        self._objects.pop(_key(rt, meta.get("namespace"), meta["name"]), None)
        if rt == PODS:
            self._logs.pop((meta["namespace"], meta["name"]), None)
        self._rv += 1
        self._record(Event(self._rv, "DELETED", rt, clone(obj), clone(obj)))

    def _record(self, event: Event) -> None:
        if len(self._events) == self._events.maxlen:
            self._compacted = self._events[0].rv
        self._events.append(event)
        self.changed.notify_all()

    # watch support

    def events_after(self, rv: int) -> list[Event]:
        """Events newer than ``rv``; 410 Expired when history no longer reaches back."""
        with self._lock:
            if rv < self._compacted:
                raise errors.ApiError(
                    410, f"too old resource version: {rv} ({self._compacted})", "Expired"
                )
            return [e for e in self._events if e.rv > rv]

    def wait_for_change(self, rv: int, timeout: float) -> None:
        """Block until a write newer than ``rv`` (or a clear), at most ``timeout``."""
        with self._lock:
            epoch = self.epoch
            self.changed.wait_for(lambda: self._rv > rv or self.epoch != epoch, timeout)

    # pod logs: not part of the object, as on a real node

    def set_log(self, namespace: str, pod: str, text: str) -> None:
        with self._lock:
            self._logs[(namespace, pod)] = text

    def get_log(self, namespace: str, pod: str) -> str | None:
        with self._lock:
            return self._logs.get((namespace, pod))
