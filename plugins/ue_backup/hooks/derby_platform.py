"""The platform workload that writes Derby: scaled to zero for the cold window, and back.

A Derby installation keeps its system database in the EFS tree, open by the
platform process. The ECDs' suspension does not stop it, so the managed cold
window also scales the platform's Deployment or StatefulSet
(``database.derby.platform``) to zero. The scale-down is recorded on the
workload itself with the ECDs' annotations (``hooks.ecd``: owner, suspending
run, when, resume deadline, held) plus ``ue-backup/previous-replicas``, so
the teardown, a retry or the watchdog can undo it from the cluster's state
alone, exactly as for an ECD.

Each Kubernetes call has its own method (``read_workload``, ``patch_workload``,
``list_pods``); writes carry ``metadata.resourceVersion``, so a concurrent
change is a 409 that is read again and decided again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
from kubernetes.client.rest import ApiException

from ue_backup.hooks.ecd import (
    CONFLICT_RETRIES,
    HELD,
    OVERDUE_ALERTED,
    RESUME_DEADLINE,
    SUSPENDED_AT,
    SUSPENDED_BY,
    SUSPENDING_RUN,
    SUSPENSION_ANNOTATIONS,
    EcdError,
)
from ue_backup.planning import to_utc

PREVIOUS_REPLICAS = "ue-backup/previous-replicas"
PLATFORM_ANNOTATIONS = (*SUSPENSION_ANNOTATIONS, PREVIOUS_REPLICAS)
KINDS = ("Deployment", "StatefulSet")


class PlatformError(EcdError):
    """The platform workload could not be read, scaled down or scaled back; says which."""


@dataclass(frozen=True)
class PlatformSuspension:
    """What the annotations on the platform workload say about its scale-down."""

    kind: str
    name: str
    owner: str
    previous_replicas: int
    deadline: datetime | None
    replicas_now: int
    run: str = ""
    overdue_alerted: bool = False
    held: str = ""
    suspended_at: datetime | None = None
    created_at: datetime | None = None

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def restored(self) -> bool:
        """The scale-down is older than the workload itself: it came back with a restore.

        As ``Suspension.restored`` for an ECD: Velero restores the platform as it was
        backed up, inside that backup's window (zero replicas, a long-gone run's
        annotations, a deadline long past). Only the restore that brought it back may
        scale it up, once the tree is placed and checked; the watchdog must not.
        """
        return bool(self.suspended_at and self.created_at and self.suspended_at < self.created_at)

    @classmethod
    def of(cls, kind: str, workload: dict[str, Any]) -> PlatformSuspension | None:
        meta = workload["metadata"]
        annotations = meta.get("annotations") or {}
        owner = annotations.get(SUSPENDED_BY)
        if not owner:
            return None
        deadline = annotations.get(RESUME_DEADLINE)
        return cls(
            kind=kind,
            name=meta["name"],
            owner=owner,
            previous_replicas=int(annotations.get(PREVIOUS_REPLICAS) or 1),
            deadline=datetime.fromisoformat(deadline) if deadline else None,
            replicas_now=replicas(workload),
            run=annotations.get(SUSPENDING_RUN, ""),
            overdue_alerted=bool(annotations.get(OVERDUE_ALERTED)),
            held=annotations.get(HELD) or "",
            suspended_at=_time(annotations.get(SUSPENDED_AT)),
            created_at=_time(meta.get("creationTimestamp")),
        )


def _time(value: Any) -> datetime | None:
    """An annotation's or the API server's timestamp as UTC (None when absent)."""
    return to_utc(value) if value else None


def replicas(workload: dict[str, Any]) -> int:
    """``spec.replicas``; absent means 1, as the API server defaults it."""
    value = (workload.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise PlatformError(f"platform kind {kind!r} is not one of {list(KINDS)}")
    return kind


class PlatformHook(KubernetesHook):
    """The platform's Deployment or StatefulSet through the ``kubernetes_default`` connection."""

    # --- one method per Kubernetes call -------------------------------------------------

    def read_workload(self, namespace: str, kind: str, name: str) -> dict[str, Any]:
        read = (
            self.apps_v1_client.read_namespaced_deployment
            if check_kind(kind) == "Deployment"
            else self.apps_v1_client.read_namespaced_stateful_set
        )
        try:
            found = read(name, namespace)
        except ApiException as error:
            if error.status == 404:
                raise PlatformError(f"platform {kind} {namespace}/{name} does not exist") from None
            raise
        return self.api_client.sanitize_for_serialization(found)

    def patch_workload(
        self, namespace: str, kind: str, name: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """A merge of annotations and ``spec.replicas`` (the scale a patch of the workload sets)."""
        patch = (
            self.apps_v1_client.patch_namespaced_deployment
            if check_kind(kind) == "Deployment"
            else self.apps_v1_client.patch_namespaced_stateful_set
        )
        # A merge patch, said explicitly: the client would send a dict as a JSON patch.
        done = patch(name, namespace, body, _content_type="application/merge-patch+json")
        return self.api_client.sanitize_for_serialization(done)

    def list_pods(self, namespace: str, selector: str) -> list[str]:
        pods = self.core_v1_client.list_namespaced_pod(namespace, label_selector=selector).items
        return sorted(p.metadata.name for p in pods)

    # --- reading --------------------------------------------------------------------------

    def suspension(self, namespace: str, kind: str, name: str) -> PlatformSuspension | None:
        """The recorded scale-down of the platform, None when there is none (or no workload)."""
        try:
            return PlatformSuspension.of(kind, self.read_workload(namespace, kind, name))
        except PlatformError:
            return None

    def replicas_of(self, namespace: str, kind: str, name: str) -> int:
        """``spec.replicas`` now; 0 when the workload does not exist."""
        try:
            return replicas(self.read_workload(namespace, kind, name))
        except PlatformError:
            return 0

    def running(self, namespace: str, kind: str, name: str) -> list[str]:
        """The platform's pods still there (terminating ones included); [] when drained.

        A reported replica without a pod listed yet counts as running too.
        """
        try:
            workload = self.read_workload(namespace, kind, name)
        except PlatformError:
            return []
        status = workload.get("status") or {}
        count = max(status.get(k) or 0 for k in ("replicas", "readyReplicas", "availableReplicas"))
        labels = ((workload.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        pods = self.list_pods(namespace, selector) if selector else []
        return pods or ([f"{kind}/{name}: {count} replica(s)"] if count else [])

    # --- writing --------------------------------------------------------------------------

    def _update_with_retry(self, namespace: str, kind: str, name: str, decide) -> Any:
        for _ in range(CONFLICT_RETRIES):
            workload = self.read_workload(namespace, kind, name)
            patch = decide(workload)
            if patch is None:
                return None
            patch.setdefault("metadata", {})["resourceVersion"] = workload["metadata"][
                "resourceVersion"
            ]
            try:
                return self.patch_workload(namespace, kind, name, patch)
            except ApiException as error:
                if error.status != 409:
                    raise
                self.log.info("%s %s changed while we wrote it (409): reading again", kind, name)
        raise PlatformError(
            f"platform {kind} {namespace}/{name} kept changing: gave up after "
            f"{CONFLICT_RETRIES} tries"
        )

    def suspend(
        self,
        namespace: str,
        kind: str,
        name: str,
        owner: str,
        deadline: datetime,
        run: str = "",
    ) -> bool:
        """Scale the platform to zero and record it; True when this owner holds it.

        Like ``EcdHook.suspend_one``: a retry of the same owner changes nothing, a
        platform already at zero replicas (not by us) is left alone and not
        recorded, and one held by another owner is refused.
        """
        outcome = {"held": False}

        def decide(workload):
            current = PlatformSuspension.of(kind, workload)
            if current and current.owner == owner:
                outcome["held"] = True
                return None
            if current:
                raise PlatformError(
                    f"platform {kind} {namespace}/{name} is held by another suspension "
                    f"({current.owner}, deadline {current.deadline}); resume it first"
                )
            before = replicas(workload)
            if before == 0:
                self.log.info("Platform %s/%s is at 0 replicas already (not by us)", kind, name)
                return None
            outcome["held"] = True
            return {
                "metadata": {
                    "annotations": {
                        SUSPENDED_BY: owner,
                        PREVIOUS_REPLICAS: str(before),
                        RESUME_DEADLINE: deadline.astimezone(UTC).isoformat(),
                        SUSPENDED_AT: datetime.now(UTC).isoformat(),
                        SUSPENDING_RUN: run,
                    }
                },
                "spec": {"replicas": 0},
            }

        self._update_with_retry(namespace, kind, name, decide)
        return outcome["held"]

    def resume(self, namespace: str, kind: str, name: str, owner: str) -> str:
        """Undo this owner's scale-down: ``resumed``, ``left-running`` or ``not-ours``.

        ``left-running``: somebody scaled it up meanwhile; only our annotations go.
        """
        outcome = {"result": "not-ours"}

        def decide(workload):
            current = PlatformSuspension.of(kind, workload)
            if not current or current.owner != owner:
                outcome["result"] = "not-ours"
                return None
            patch: dict[str, Any] = {
                "metadata": {"annotations": dict.fromkeys(PLATFORM_ANNOTATIONS)}
            }
            if current.replicas_now:
                outcome["result"] = "left-running"
            else:
                outcome["result"] = "resumed"
                patch["spec"] = {"replicas": current.previous_replicas}
            return patch

        try:
            self._update_with_retry(namespace, kind, name, decide)
        except PlatformError:
            if self.suspension(namespace, kind, name) is None:
                return "not-ours"  # no workload (any more): nothing of ours to scale back
            raise
        return outcome["result"]

    def mark_overdue_alerted(
        self, namespace: str, kind: str, name: str, owner: str, when: datetime
    ) -> None:
        """Record on the workload that its overdue window was announced (announced once)."""

        def decide(workload):
            current = PlatformSuspension.of(kind, workload)
            if not current or current.owner != owner:
                return None
            return {"metadata": {"annotations": {OVERDUE_ALERTED: when.isoformat()}}}

        self._update_with_retry(namespace, kind, name, decide)

    def hold(self, namespace: str, kind: str, name: str, owner: str, reason: str) -> bool:
        """Keep this owner's scale-down for good (no deadline; ``ue-backup/held`` why).

        As ``EcdHook.hold``: the watchdog never resumes it, ``resume`` still does.
        """

        def decide(workload):
            current = PlatformSuspension.of(kind, workload)
            if not current or current.owner != owner:
                return None
            if current.held == reason and not current.deadline:
                return None
            return {"metadata": {"annotations": {RESUME_DEADLINE: None, HELD: reason}}}

        if self.suspension(namespace, kind, name) is None:
            return False
        self._update_with_retry(namespace, kind, name, decide)
        current = self.suspension(namespace, kind, name)
        return bool(current and current.owner == owner)
