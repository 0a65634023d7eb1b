"""The verbs of the resource API, against the store, with the mutation log.

Each handler takes the request's :class:`Target`, its query parameters and body,
checks what the API server checks at this layer (body kind and name against the
URL, patch media types, dry runs) and returns the response object. Every write that
is not a dry run is recorded in the mutation log as ``k8s``/verb/target.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from sandbox.k8s import errors, patches
from sandbox.k8s.resources import PODS
from sandbox.k8s.routing import Target
from sandbox.k8s.selectors import (
    FieldRequirement,
    Requirement,
    parse_field_selector,
    parse_label_selector,
)
from sandbox.k8s.store import Obj, Store
from sandbox.mutation_log import MutationLog

_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json")
_STRATEGIC = "application/strategic-merge-patch+json"


def selectors(
    target: Target, query: Mapping[str, str]
) -> tuple[list[Requirement], list[FieldRequirement]]:
    try:
        return (
            parse_label_selector(query.get("labelSelector")),
            parse_field_selector(query.get("fieldSelector"), target.rt.field_labels),
        )
    except ValueError as error:
        raise errors.bad_request(str(error)) from error


def flag(query: Mapping[str, str], name: str) -> bool:
    """A boolean query parameter, parsed like Go's ``strconv.ParseBool`` (``watch=True``)."""
    return (query.get(name) or "").lower() in ("1", "t", "true")


def _dry_run(query: Mapping[str, str]) -> bool:
    return query.get("dryRun") == "All"


def _log_time(pod: Obj) -> str:
    """When the container's output was collected: the sandbox stamps every line so."""
    state = (pod["status"].get("containerStatuses") or [{}])[0].get("state", {})
    terminated, running = state.get("terminated") or {}, state.get("running") or {}
    return terminated.get("finishedAt") or running.get("startedAt") or ""


class Handlers:
    def __init__(self, store: Store, log: MutationLog) -> None:
        self.store = store
        self.log = log

    def _record(self, verb: str, target: Target, obj: Obj, **detail: Any) -> None:
        detail["resourceVersion"] = obj["metadata"].get("resourceVersion")
        spec = obj.get("spec")
        if isinstance(spec, dict) and "enabled" in spec:  # an ECD switched on or off
            detail["enabled"] = spec["enabled"]
        if isinstance(spec, dict) and target.rt.plural == "deployments" and "replicas" in spec:
            detail["replicas"] = spec["replicas"]  # a workload scaled (Derby's platform)
        self.log.record("k8s", verb, target.label, **detail)

    def _check_body(self, target: Target, body: Any, name_from_url: bool) -> Obj:
        """400 for a body that names another kind, namespace or (on PUT) object."""
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        rt = target.rt
        kind, api_version = body.get("kind"), body.get("apiVersion")
        if rt.custom and not kind:
            raise errors.bad_request(f"Object 'Kind' is missing in '{json.dumps(body)}'")
        if kind and kind != rt.kind:
            raise errors.bad_request(
                f"the object provided is unrecognized (must be of type {rt.kind}): {kind}"
            )
        if api_version and api_version != rt.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({rt.api_version})"
            )
        meta = body.get("metadata") or {}
        if isinstance(meta, dict):
            if rt.namespaced and meta.get("namespace") not in (None, "", target.namespace):
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            if name_from_url and meta.get("name") not in (None, target.name):
                raise errors.bad_request(
                    f"the name of the object ({meta.get('name')}) does not match the name on "
                    f"the URL ({target.name})"
                )
        return body

    # reads

    def get(self, target: Target) -> Obj:
        return self.store.get(target.rt, target.namespace, target.name)

    def list(self, target: Target, query: Mapping[str, str]) -> Obj:
        labels, fields = selectors(target, query)
        items = self.store.list(target.rt, target.namespace, labels, fields)
        rv = str(self.store.resource_version)
        metadata: dict[str, Any] = {"resourceVersion": rv}
        if token := query.get("continue"):
            after = tuple(json.loads(base64.urlsafe_b64decode(token)))
            items = [
                i
                for i in items
                if (i["metadata"].get("namespace", ""), i["metadata"]["name"]) > after
            ]
        limit = int(query.get("limit") or 0)
        if limit and len(items) > limit:
            last = items[limit - 1]["metadata"]
            position = json.dumps([last.get("namespace", ""), last["name"]]).encode()
            metadata["continue"] = base64.urlsafe_b64encode(position).decode()
            metadata["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        if not target.rt.custom:  # built-in lists leave kind and apiVersion off their items
            for item in items:
                item.pop("kind", None)
                item.pop("apiVersion", None)
        return {
            "apiVersion": target.rt.api_version,
            "kind": target.rt.list_kind,
            "metadata": metadata,
            "items": items,
        }

    def log_text(self, target: Target, query: Mapping[str, str]) -> str:
        """The pod's log with ``container``, ``tailLines`` and ``timestamps``; the sandbox
        has the whole output at once, so ``follow`` and ``sinceSeconds`` change nothing."""
        pod = self.store.get(PODS, target.namespace, target.name)
        containers = [c["name"] for c in pod["spec"].get("containers", [])]
        container = query.get("container") or ""
        if not container and len(containers) > 1:
            raise errors.bad_request(
                f"a container name must be specified for pod {target.name}, "
                f"choose one of: {containers}"
            )
        container = container or containers[0]
        if container not in containers:
            raise errors.bad_request(f"container {container} is not valid for pod {target.name}")
        text = self.store.get_log(target.namespace or "", target.name)
        if text is None:
            if pod["status"].get("phase") == "Pending":
                raise errors.bad_request(
                    f'container "{container}" in pod "{target.name}" is waiting to start: '
                    "ContainerCreating"
                )
            text = ""
        lines = text.splitlines(keepends=True)
        if tail := query.get("tailLines"):
            lines = lines[-int(tail) :]
        if flag(query, "timestamps"):
            stamp = _log_time(pod).replace("Z", ".000000000Z")
            lines = [f"{stamp} {line}" for line in lines]
        return "".join(lines)

    # writes

    def create(self, target: Target, query: Mapping[str, str], body: Any) -> Obj:
        body = self._check_body(target, body, name_from_url=False)
        obj = self.store.create(target.rt, target.namespace, body, dry_run=_dry_run(query))
        if not _dry_run(query):
            created = Target(target.rt, target.namespace, obj["metadata"]["name"], "")
            self._record("create", created, obj)
        return obj

    def replace(self, target: Target, query: Mapping[str, str], body: Any) -> Obj:
        body = self._check_body(target, body, name_from_url=True)
        obj = self.store.update(
            target.rt,
            target.namespace,
            target.name,
            lambda _: body,
            subresource=target.subresource or None,
            require_rv=target.rt.custom,
            dry_run=_dry_run(query),
        )
        if not _dry_run(query):
            self._record("replace", target, obj)
        return obj

    def patch(self, target: Target, query: Mapping[str, str], raw: bytes, content_type: str) -> Obj:
        media = content_type.split(";")[0].strip().lower()
        accepted = list(_PATCH_TYPES) + ([] if target.rt.custom else [_STRATEGIC])
        if media not in accepted:
            raise errors.unsupported_patch(accepted)
        try:
            body = json.loads(raw or b"null")
        except ValueError as error:
            raise errors.bad_request(f"error decoding patch: {error}") from error
        apply = {
            "application/json-patch+json": patches.json_patch,
            "application/merge-patch+json": patches.merge_patch,
            _STRATEGIC: patches.strategic_merge_patch,
        }[media]

        def patched(current: Obj) -> Obj:
            try:
                return apply(current, body)
            except patches.PatchError as error:
                raise errors.bad_request(str(error)) from error
            except patches.PatchConflict as error:
                raise errors.ApiError(422, str(error)) from error

        obj = self.store.update(
            target.rt,
            target.namespace,
            target.name,
            patched,
            subresource=target.subresource or None,
            dry_run=_dry_run(query),
        )
        if not _dry_run(query):
            self._record("patch", target, obj, patch=body, content_type=media)
        return obj

    def delete(self, target: Target, query: Mapping[str, str], body: Any) -> Obj:
        options = body if isinstance(body, dict) else {}
        propagation = query.get("propagationPolicy") or options.get("propagationPolicy")
        grace = query.get("gracePeriodSeconds", options.get("gracePeriodSeconds"))
        dry_run = _dry_run(query) or "All" in (options.get("dryRun") or [])
        obj, gone = self.store.delete(
            target.rt,
            target.namespace,
            target.name,
            propagation=propagation,
            grace_seconds=None if grace is None else int(grace),
            preconditions=options.get("preconditions"),
            dry_run=dry_run,
        )
        if not dry_run:
            self._record("delete", target, obj, propagationPolicy=propagation)
        if not gone or target.rt == PODS:
            return obj
        details = {"name": target.name, "kind": target.rt.plural, "uid": obj["metadata"]["uid"]}
        if target.rt.group:
            details["group"] = target.rt.group
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }

    def delete_collection(self, target: Target, query: Mapping[str, str], body: Any) -> Obj:
        labels, fields = selectors(target, query)
        deleted = []
        for item in self.store.list(target.rt, target.namespace, labels, fields):
            meta = item["metadata"]
            one = Target(target.rt, meta.get("namespace"), meta["name"], "")
            self.delete(one, query, body)
            deleted.append(item)
        return {
            "apiVersion": target.rt.api_version,
            "kind": target.rt.list_kind,
            "metadata": {},
            "items": deleted,
        }
