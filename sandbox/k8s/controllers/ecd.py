"""The EC operator of Usage Engine: turns each ECDeployment into a Deployment of the
same name (one EC pod when ``spec.enabled`` is true or absent, none when false) and
reports progress in the ECD's status.

The Deployment and its pods are the documented signal that an ECD stopped; the
status is a sandbox convenience: ``phase`` is Starting, Running, Stopping or Stopped,
with ``replicas``/``readyReplicas`` and ``observedGeneration``. A phase change to
Running or Stopped is recorded in the mutation log as ``ecd-pods-started`` /
``ecd-pods-stopped`` (target ``<ns>/ecdeployments/<name>``), which is how tests time
the cold window.
"""

from __future__ import annotations

from sandbox.k8s.controllers.deployment import is_ready
from sandbox.k8s.controllers.loop import ControllerContext
from sandbox.k8s.controllers.objects import owner_reference
from sandbox.k8s.resources import DEPLOYMENTS, ECDEPLOYMENTS, PODS
from sandbox.k8s.selectors import from_label_selector
from sandbox.k8s.store import Obj

EC_IMAGE = "digitalroute/uepe-ec:sandbox"
MANAGED_BY = {"app.kubernetes.io/managed-by": "ec-operator"}


def pod_labels(ecd_name: str) -> dict[str, str]:
    """The labels of an ECD's pods, and its Deployment's selector."""
    return {"app": ecd_name}


def enabled(ecd: Obj) -> bool:
    return (ecd.get("spec") or {}).get("enabled", True) is not False


class EcdController:
    time_driven = False  # acts on ECDs and Deployments as the store holds them

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx

    def reset(self) -> None:
        """Stateless: everything it needs is in the store."""

    def reconcile(self, now: float) -> None:
        for ecd in self.ctx.store.list(ECDEPLOYMENTS):
            if not ecd["metadata"].get("deletionTimestamp"):
                self._ensure_deployment(ecd)
                self._report(ecd)

    def _ensure_deployment(self, ecd: Obj) -> None:
        store, meta = self.ctx.store, ecd["metadata"]
        replicas = 1 if enabled(ecd) else 0
        if store.find(DEPLOYMENTS, meta["namespace"], meta["name"]) is None:
            store.create(DEPLOYMENTS, meta["namespace"], self._deployment(ecd, replicas))
            return

        def adjust(current: Obj) -> Obj:
            current["spec"]["replicas"] = replicas
            current["metadata"]["ownerReferences"] = [owner_reference(ecd)]
            return current

        store.update(DEPLOYMENTS, meta["namespace"], meta["name"], adjust)

    @staticmethod
    def _deployment(ecd: Obj, replicas: int) -> Obj:
        name = ecd["metadata"]["name"]
        return {
            "metadata": {
                "name": name,
                "labels": {**pod_labels(name), **MANAGED_BY},
                "ownerReferences": [owner_reference(ecd)],
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": pod_labels(name)},
                "template": {
                    "metadata": {"labels": pod_labels(name)},
                    "spec": {
                        "containers": [
                            {
                                "name": "ec",
                                "image": (ecd.get("spec") or {}).get("image") or EC_IMAGE,
                            }
                        ],
                        "terminationGracePeriodSeconds": 30,
                    },
                },
            },
        }

    def _report(self, ecd: Obj) -> None:
        store, meta = self.ctx.store, ecd["metadata"]
        pods = store.list(
            PODS, meta["namespace"], from_label_selector({"matchLabels": pod_labels(meta["name"])})
        )
        active = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        ready = sum(1 for p in active if is_ready(p))
        if enabled(ecd):
            phase = "Running" if ready >= 1 and len(pods) == len(active) else "Starting"
        else:
            phase = "Stopping" if pods else "Stopped"
        status = {
            "observedGeneration": meta["generation"],
            "phase": phase,
            "replicas": len(active),
            "readyReplicas": ready,
        }
        previous = (ecd.get("status") or {}).get("phase")
        if ecd.get("status") == status:
            return

        def mutate(current: Obj) -> Obj:
            current["status"] = status
            return current

        store.update(ECDEPLOYMENTS, meta["namespace"], meta["name"], mutate, subresource="status")
        milestone = {"Running": "ecd-pods-started", "Stopped": "ecd-pods-stopped"}.get(phase)
        if milestone and previous not in (None, phase):
            self.ctx.log.record(
                "k8s",
                milestone,
                f"{meta['namespace']}/ecdeployments/{meta['name']}",
                enabled=enabled(ecd),
            )
