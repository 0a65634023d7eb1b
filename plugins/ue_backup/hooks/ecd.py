"""EC Deployments: suspend and resume the workflows of a Usage Engine installation.

Workflows run in EC Deployments (``ecdeployments.mz.digitalroute.com``,
v1alpha1), switched with ``spec.enabled``. A cold backup window needs them
off while disk data is copied, and the system must always end up running
again. So every suspension is recorded *on the resource itself*:

- ``ue-backup/suspended-by``: the owner (the backup-set id of the run);
- ``ue-backup/previous-enabled``: what ``spec.enabled`` was before (``true``,
  or ``absent`` when the field was not set: resume removes it again);
- ``ue-backup/resume-deadline``: when the window must be closed at the latest;
- ``ue-backup/suspended-at``: when this run switched it off;
- ``ue-backup/suspending-run``: ``<dag_id>/<run_id>``, so the watchdog can ask
  Airflow whether that run still lives;
- ``ue-backup/held``: why a suspension was kept for good (an in-place restore
  that failed part-way through its commit); a held suspension has no resume
  deadline, so the watchdog never resumes it.

A retry, a teardown on another worker or the watchdog can then finish or
undo the work of a run that crashed, from the cluster's state alone. Resume
touches only ECDs whose annotation names the owner, and leaves alone an ECD
that somebody re-enabled meanwhile.

An ECD without ``spec.enabled`` counts as enabled (``is_enabled``): nothing
documents that the operator treats a missing switch as off, and if it treats
it as on, such an ECD would write to EFS during the whole window.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
from kubernetes.client.rest import ApiException

from ue_backup.kube_names import ECD_GROUP, ECD_PLURAL, ECD_VERSION, is_enabled
from ue_backup.planning import to_utc

SUSPENDED_BY = "ue-backup/suspended-by"
PREVIOUS_ENABLED = "ue-backup/previous-enabled"
RESUME_DEADLINE = "ue-backup/resume-deadline"
SUSPENDED_AT = "ue-backup/suspended-at"
SUSPENDING_RUN = "ue-backup/suspending-run"
OVERDUE_ALERTED = "ue-backup/overdue-alerted"
HELD = "ue-backup/held"
SUSPENSION_ANNOTATIONS = (
    SUSPENDED_BY,
    PREVIOUS_ENABLED,
    RESUME_DEADLINE,
    SUSPENDED_AT,
    SUSPENDING_RUN,
    OVERDUE_ALERTED,
    HELD,
)

CONFLICT_RETRIES = 5
# ``PREVIOUS_ENABLED`` when the ECD had no ``spec.enabled`` before it was suspended.
ABSENT = "absent"


def previous_form(ecd: dict[str, Any]) -> str:
    """What ``PREVIOUS_ENABLED`` records of an ECD about to be suspended."""
    spec = ecd.get("spec") or {}
    return "true" if "enabled" in spec else ABSENT


class EcdError(RuntimeError):
    """An ECD could not be found, suspended or resumed; the message names it."""


@dataclass(frozen=True)
class Suspension:
    """What the annotations on one ECD say about who suspended it and until when."""

    name: str
    owner: str
    previous_enabled: bool | None  # None: spec.enabled was absent (an enabled ECD)
    deadline: datetime | None
    enabled_now: bool
    run: str = ""
    overdue_alerted: bool = False
    suspended_at: datetime | None = None
    created_at: datetime | None = None

    @property
    def restored(self) -> bool:
        """The suspension is older than the ECD itself: it came back with a restore.

        Velero restores an ECD with the annotations it had when it was backed up,
        inside that backup's cold window: a suspension by a run long gone, its
        deadline long past. Only the restore that brought it back may resume it
        (its teardown resumes the backup set's suspension); the watchdog must not,
        or workflows would start on a half-restored system.
        """
        return bool(self.suspended_at and self.created_at and self.suspended_at < self.created_at)

    @classmethod
    def of(cls, ecd: dict[str, Any]) -> Suspension | None:
        annotations = ecd["metadata"].get("annotations") or {}
        owner = annotations.get(SUSPENDED_BY)
        if not owner:
            return None
        deadline = annotations.get(RESUME_DEADLINE)
        suspended_at = annotations.get(SUSPENDED_AT)
        created_at = ecd["metadata"].get("creationTimestamp")
        return cls(
            name=ecd["metadata"]["name"],
            owner=owner,
            previous_enabled=_previous(annotations.get(PREVIOUS_ENABLED, "true")),
            deadline=datetime.fromisoformat(deadline) if deadline else None,
            enabled_now=is_enabled(ecd),
            run=annotations.get(SUSPENDING_RUN, ""),
            overdue_alerted=bool(annotations.get(OVERDUE_ALERTED)),
            suspended_at=to_utc(suspended_at) if suspended_at else None,
            created_at=to_utc(created_at) if created_at else None,
        )


def _previous(recorded: str) -> bool | None:
    return None if recorded == ABSENT else recorded == "true"


def _now() -> datetime:
    return datetime.now(UTC)


class EcdHook(KubernetesHook):
    """EC Deployments through the ``kubernetes_default`` connection.

    The provider's KubernetesHook has no patch or list for custom objects; we
    use its ``custom_object_client`` (a CustomObjectsApi) and send merge
    patches carrying ``metadata.resourceVersion``, so a concurrent change is a
    409 Conflict that we re-read and re-decide rather than overwrite.
    """

    # --- reading ------------------------------------------------------------------

    def get_ecd(self, namespace: str, name: str) -> dict[str, Any]:
        try:
            return self.custom_object_client.get_namespaced_custom_object(
                ECD_GROUP, ECD_VERSION, namespace, ECD_PLURAL, name
            )
        except ApiException as error:
            if error.status == 404:
                raise EcdError(f"ECD {namespace}/{name} does not exist") from None
            raise

    def list_ecds(self, namespace: str, label_selector: str | None = None) -> list[dict]:
        found = self.custom_object_client.list_namespaced_custom_object(
            ECD_GROUP, ECD_VERSION, namespace, ECD_PLURAL, label_selector=label_selector or ""
        )
        return sorted(found.get("items", []), key=lambda o: o["metadata"]["name"])

    def select_ecds(
        self, namespace: str, label_selector: str | None = None, names: Iterable[str] = ()
    ) -> list[dict]:
        """The ECDs of a configured selection: by names (all must exist) or by label selector."""
        names = list(names)
        if not names:
            return self.list_ecds(namespace, label_selector)
        ecds, missing = [], []
        for name in names:
            try:
                ecds.append(self.get_ecd(namespace, name))
            except EcdError:
                missing.append(name)
        if missing:
            raise EcdError(f"ECDs not found in namespace {namespace}: {', '.join(missing)}")
        return ecds

    def pods_of(self, namespace: str, name: str) -> tuple[int, list[str]]:
        """(replicas the ECD's Deployment reports, names of pods matching its selector).

        The ECD has no documented status; its operator creates a Deployment of
        the same name, and "stopped" means that Deployment reports no replicas
        and no pod matches its selector. No Deployment at all means no pods.

        ``<kind>/<name>`` names a Derby installation's platform workload (a
        Deployment or StatefulSet, ``hooks.derby_platform``), which the drain waits for too.
        """
        kind, _, workload = name.rpartition("/")
        read = (
            self.apps_v1_client.read_namespaced_stateful_set
            if kind == "StatefulSet"
            else self.apps_v1_client.read_namespaced_deployment
        )
        try:
            deployment = read(workload, namespace)
        except ApiException as error:
            if error.status == 404:
                return 0, []
            raise
        status = deployment.status
        replicas = max(
            status.replicas or 0, status.ready_replicas or 0, status.available_replicas or 0
        )
        labels = deployment.spec.selector.match_labels or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        pods = self.core_v1_client.list_namespaced_pod(namespace, label_selector=selector).items
        return replicas, sorted(p.metadata.name for p in pods)

    def running(self, namespace: str, names: Iterable[str]) -> dict[str, list[str]]:
        """The ECDs among ``names`` that still have replicas or pods, with their pods."""
        still = {}
        for name in names:
            replicas, pods = self.pods_of(namespace, name)
            if replicas or pods:
                still[name] = pods
        return still

    # --- writing --------------------------------------------------------------------

    def _patch(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.custom_object_client.patch_namespaced_custom_object(
            ECD_GROUP, ECD_VERSION, namespace, ECD_PLURAL, name, body
        )

    def _update_with_retry(self, namespace: str, name: str, decide) -> dict[str, Any] | None:
        """Read, let ``decide(ecd)`` return a merge patch (or None), write; re-read on 409."""
        for _ in range(CONFLICT_RETRIES):
            ecd = self.get_ecd(namespace, name)
            patch = decide(ecd)
            if patch is None:
                return None
            patch.setdefault("metadata", {})["resourceVersion"] = ecd["metadata"]["resourceVersion"]
            try:
                return self._patch(namespace, name, patch)
            except ApiException as error:
                if error.status != 409:
                    raise
                self.log.info("ECD %s changed while we wrote it (409): reading it again", name)
        raise EcdError(
            f"ECD {namespace}/{name} kept changing: gave up after {CONFLICT_RETRIES} tries"
        )

    def suspend_one(
        self, namespace: str, name: str, owner: str, deadline: datetime, run: str = ""
    ) -> bool:
        """Switch one ECD off and record the suspension; True if this call suspended it.

        Already suspended by ``owner`` (a retry): nothing to do, True. Disabled
        by somebody else: left alone and not recorded, so we never enable
        what we did not disable. Suspended by another owner: refused.
        """
        outcome = {"suspended": False}

        def decide(ecd):
            suspension = Suspension.of(ecd)
            if suspension and suspension.owner == owner:
                outcome["suspended"] = True
                return None
            if suspension:
                raise EcdError(
                    f"ECD {namespace}/{name} is held by another suspension ({suspension.owner}, "
                    f"deadline {suspension.deadline}); resume it or let the watchdog do so first"
                )
            if not is_enabled(ecd):
                self.log.info("ECD %s is disabled already (not by us): leaving it alone", name)
                return None
            outcome["suspended"] = True
            return {
                "metadata": {
                    "annotations": {
                        SUSPENDED_BY: owner,
                        PREVIOUS_ENABLED: previous_form(ecd),
                        RESUME_DEADLINE: deadline.astimezone(UTC).isoformat(),
                        SUSPENDED_AT: _now().isoformat(),
                        SUSPENDING_RUN: run,
                    }
                },
                "spec": {"enabled": False},
            }

        self._update_with_retry(namespace, name, decide)
        return outcome["suspended"]

    def resume_one(self, namespace: str, name: str, owner: str) -> str:
        """Undo this owner's suspension of one ECD; returns what was done.

        ``"resumed"``: switched back on. ``"left-enabled"``: somebody enabled it
        meanwhile, only our annotations were removed. ``"not-ours"``: no
        suspension of this owner (a second resume is a no-op).
        """
        outcome = {"result": "not-ours"}

        def decide(ecd):
            suspension = Suspension.of(ecd)
            if not suspension or suspension.owner != owner:
                outcome["result"] = "not-ours"
                return None
            patch: dict[str, Any] = {
                "metadata": {"annotations": dict.fromkeys(SUSPENSION_ANNOTATIONS)}
            }
            if suspension.enabled_now:
                outcome["result"] = "left-enabled"
            else:
                outcome["result"] = "resumed"
                # None in a merge patch removes the field: an ECD that had no
                # spec.enabled gets none back, exactly as it was.
                patch["spec"] = {"enabled": suspension.previous_enabled}
            return patch

        self._update_with_retry(namespace, name, decide)
        return outcome["result"]

    def mark_overdue_alerted(self, namespace: str, name: str, owner: str, when: datetime) -> bool:
        """Record on the ECD that its overdue window was announced (so it is announced once).

        Resuming removes the mark with the other suspension annotations.
        False when the ECD is no longer suspended by ``owner``.
        """

        def decide(ecd):
            suspension = Suspension.of(ecd)
            if not suspension or suspension.owner != owner:
                return None
            return {"metadata": {"annotations": {OVERDUE_ALERTED: when.isoformat()}}}

        return self._update_with_retry(namespace, name, decide) is not None

    def suspend(
        self,
        namespace: str,
        names: Iterable[str],
        owner: str,
        deadline: datetime,
        run: str = "",
    ) -> list[str]:
        """Suspend every ECD in ``names``, all or nothing; returns those this owner holds.

        If any one fails, those already suspended are resumed before the error
        is raised: a failed setup task does not run its teardown.
        """
        held: list[str] = []
        for name in names:
            try:
                if self.suspend_one(namespace, name, owner, deadline, run):
                    held.append(name)
            except Exception as error:
                self.log.error("Suspending ECD %s failed (%s): undoing %s", name, error, held)
                undo_errors = self._resume_all(namespace, held, owner)
                detail = f"; undo also failed for {undo_errors}" if undo_errors else ""
                raise EcdError(
                    f"suspending ECD {namespace}/{name} failed: {error}; the {len(held)} ECD(s) "
                    f"suspended before it were resumed{detail}"
                ) from error
        return held

    def _resume_all(self, namespace: str, names: Iterable[str], owner: str) -> dict[str, str]:
        """Resume each; keep going past failures and return them by name."""
        errors = {}
        for name in names:
            try:
                self.resume_one(namespace, name, owner)
            except Exception as error:
                errors[name] = str(error)
        return errors

    def suspensions(self, namespace: str, owner: str | None = None) -> list[Suspension]:
        """Every recorded suspension in the namespace (of one owner if given)."""
        found = (Suspension.of(ecd) for ecd in self.list_ecds(namespace))
        return [s for s in found if s and (owner is None or s.owner == owner)]

    def hold(self, namespace: str, owner: str, reason: str) -> list[str]:
        """Keep this owner's suspensions for good: no resume deadline, ``ue-backup/held`` why.

        For a restore that failed after it began to change the live system:
        its workflows must stay off until an operator has made the system
        consistent, and the watchdog resumes only suspensions whose deadline
        passed. ``resume`` (or the operator) still undoes a held suspension.
        Returns the names held; a second call changes nothing.
        """
        held = []
        for suspension in self.suspensions(namespace, owner):

            def decide(ecd):
                current = Suspension.of(ecd)
                annotations = ecd["metadata"].get("annotations") or {}
                if not current or current.owner != owner:
                    return None
                if annotations.get(HELD) == reason and not current.deadline:
                    return None
                return {"metadata": {"annotations": {RESUME_DEADLINE: None, HELD: reason}}}

            self._update_with_retry(namespace, suspension.name, decide)
            held.append(suspension.name)
        return held

    def resume(self, namespace: str, owner: str) -> dict[str, str]:
        """Resume every ECD this owner suspended, found from the cluster's annotations.

        Returns ``{name: outcome}``; raises after trying all of them if any failed.
        """
        outcomes, errors = {}, {}
        for suspension in self.suspensions(namespace, owner):
            try:
                outcomes[suspension.name] = self.resume_one(namespace, suspension.name, owner)
            except Exception as error:
                errors[suspension.name] = str(error)
        if errors:
            raise EcdError(f"resuming ECDs failed: {errors} (resumed: {outcomes})")
        return outcomes

    def expired_suspensions(self, namespace: str, now: datetime | None = None) -> list[Suspension]:
        """Suspensions whose resume deadline has passed: the watchdog's work list.

        A suspension that came back with a restore (``Suspension.restored``) is
        never on it: its restore resumes it.
        """
        now = now or _now()
        return [
            s
            for s in self.suspensions(namespace)
            if s.deadline and s.deadline < now and not s.restored
        ]
