"""The Deployment controller: keeps ``spec.replicas`` pods matching the selector and
reports them in the Deployment's status.

ReplicaSets are not modelled: pods are owned by the Deployment directly (named
``<deployment>-<template hash>-<suffix>`` as usual). Status counts follow the
ReplicaSet controller: a pod being deleted no longer counts, so ``replicas`` drops to
0 as soon as a scale-down starts while the pods are still terminating, and zero
counts are omitted from the status, as the API server's JSON omits them.
"""

from __future__ import annotations

import hashlib
import json

from sandbox.k8s.controllers.loop import ControllerContext
from sandbox.k8s.controllers.objects import (
    condition,
    controller_uid,
    merge_conditions,
    owner_reference,
)
from sandbox.k8s.resources import DEPLOYMENTS, PODS
from sandbox.k8s.selectors import from_label_selector
from sandbox.k8s.store import Obj, random_suffix


def template_hash(template: dict) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def is_ready(pod: Obj) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in pod["status"].get("conditions") or []
    )


class DeploymentController:
    time_driven = False  # acts on Deployments and pods as the store holds them

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx

    def reset(self) -> None:
        """Stateless: everything it needs is in the store."""

    def reconcile(self, now: float) -> None:
        for deployment in self.ctx.store.list(DEPLOYMENTS):
            if not deployment["metadata"].get("deletionTimestamp"):
                self._sync(deployment, now)

    def _pods(self, deployment: Obj) -> list[Obj]:
        """Pods it controls, plus orphans matching its selector (which it would adopt)."""
        meta = deployment["metadata"]
        selector = from_label_selector(deployment["spec"]["selector"])
        return [
            pod
            for pod in self.ctx.store.list(PODS, meta["namespace"], selector)
            if controller_uid(pod) in (None, meta["uid"])
        ]

    def _sync(self, deployment: Obj, now: float) -> None:
        store, meta = self.ctx.store, deployment["metadata"]
        pods = self._pods(deployment)
        active = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        desired = deployment["spec"].get("replicas", 1)
        for _ in range(desired - len(active)):
            active.append(store.create(PODS, meta["namespace"], self._new_pod(deployment)))
        surplus = sorted(active, key=is_ready)[: max(0, len(active) - desired)]
        for pod in surplus:
            store.delete(PODS, meta["namespace"], pod["metadata"]["name"])
            active.remove(pod)
        ready = sum(1 for p in active if is_ready(p))
        counts = {
            "replicas": len(active),
            "updatedReplicas": len(active),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": len(active) - ready,
        }
        status = {k: v for k, v in counts.items() if v}
        status["observedGeneration"] = meta["generation"]
        status["conditions"] = merge_conditions(
            deployment.get("status", {}).get("conditions"),
            [
                condition(
                    "Available",
                    ready >= desired,
                    now,
                    "MinimumReplicasAvailable"
                    if ready >= desired
                    else "MinimumReplicasUnavailable",
                ),
                condition("Progressing", True, now, "NewReplicaSetAvailable"),
            ],
        )

        def mutate(current: Obj) -> Obj:
            current["status"] = status
            return current

        store.update(DEPLOYMENTS, meta["namespace"], meta["name"], mutate, subresource="status")

    @staticmethod
    def _new_pod(deployment: Obj) -> Obj:
        template = deployment["spec"]["template"]
        pod_hash = template_hash(template)
        labels = {
            **(template.get("metadata") or {}).get("labels", {}),
            "pod-template-hash": pod_hash,
        }
        return {
            "metadata": {
                "name": f"{deployment['metadata']['name']}-{pod_hash}-{random_suffix()}",
                "labels": labels,
                "ownerReferences": [owner_reference(deployment)],
            },
            "spec": template["spec"],
        }
