"""The PersistentVolume binder: a claim that names its volume (``spec.volumeName``,
static provisioning as used for EFS) becomes Bound to it, and a volume whose claim
is gone becomes Released (reclaim policy Retain keeps the data).

Dynamic provisioning (a claim with only a storage class) is not modelled: such a
claim stays Pending.
"""

from __future__ import annotations

from sandbox.k8s.controllers.loop import ControllerContext
from sandbox.k8s.resources import PVCS, PVS
from sandbox.k8s.store import Obj


class VolumeBinder:
    time_driven = False  # acts on claims and volumes as the store holds them

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx

    def reset(self) -> None:
        """Stateless: everything it needs is in the store."""

    def reconcile(self, now: float) -> None:
        store = self.ctx.store
        for pvc in store.list(PVCS):
            volume = pvc["spec"].get("volumeName")
            pv = store.find(PVS, None, volume) if volume else None
            if pv and pvc["status"].get("phase") != "Bound":
                self._bind(pvc, pv)
        for pv in store.list(PVS):
            claim = pv["spec"].get("claimRef")
            if claim and pv["status"].get("phase") == "Bound" and not self._claim_exists(claim):
                store.update(
                    PVS, None, pv["metadata"]["name"], _with_phase("Released"), subresource="status"
                )

    def _claim_exists(self, claim: dict) -> bool:
        pvc = self.ctx.store.find(PVCS, claim.get("namespace"), claim.get("name", ""))
        return pvc is not None and pvc["metadata"]["uid"] == claim.get("uid")

    def _bind(self, pvc: Obj, pv: Obj) -> None:
        store, meta = self.ctx.store, pvc["metadata"]
        claim = pv["spec"].get("claimRef")
        if claim and (claim.get("namespace"), claim.get("name")) != (
            meta["namespace"],
            meta["name"],
        ):
            return  # bound to another claim
        claim_ref = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "namespace": meta["namespace"],
            "name": meta["name"],
            "uid": meta["uid"],
        }

        def set_claim(current: Obj) -> Obj:
            current["spec"]["claimRef"] = claim_ref
            return current

        store.update(PVS, None, pv["metadata"]["name"], set_claim)
        store.update(PVS, None, pv["metadata"]["name"], _with_phase("Bound"), subresource="status")

        def bound(current: Obj) -> Obj:
            current["status"] = {
                "phase": "Bound",
                "accessModes": pv["spec"].get("accessModes", []),
                "capacity": pv["spec"].get("capacity", {}),
            }
            return current

        store.update(PVCS, meta["namespace"], meta["name"], bound, subresource="status")


def _with_phase(phase: str):
    def mutate(current: Obj) -> Obj:
        current["status"] = {**current.get("status", {}), "phase": phase}
        return current

    return mutate
