"""The garbage collector: an object whose owners (by ``ownerReferences`` uid) are all
gone is deleted, so deleting an ECD takes its Deployment and pods with it and a Job
deleted with ``propagationPolicy: Background`` takes its pods. Foreground deletion is
treated as Background. Pods are deleted gracefully, so they terminate as usual.
"""

from __future__ import annotations

from sandbox.k8s.controllers.loop import ControllerContext
from sandbox.k8s.resources import ALL


class GarbageCollector:
    time_driven = False  # acts on owners gone from the store

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx

    def reset(self) -> None:
        """Stateless: everything it needs is in the store."""

    def reconcile(self, now: float) -> None:
        store = self.ctx.store
        alive = store.uids()
        for rt in ALL:
            for obj in store.list(rt):
                meta = obj["metadata"]
                owners = meta.get("ownerReferences") or []
                if (
                    owners
                    and not meta.get("deletionTimestamp")
                    and not any(o.get("uid") in alive for o in owners)
                ):
                    store.delete(rt, meta.get("namespace"), meta["name"], propagation="Background")
