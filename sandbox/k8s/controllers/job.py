"""The Job controller: one pod at a time until one succeeds, a new pod per failure up
to ``backoffLimit``, ``activeDeadlineSeconds`` enforced, and the status clients poll
(``startTime``, ``active``/``ready``/``succeeded``/``failed``, ``completionTime``
and the terminal conditions ``SuccessCriteriaMet`` + ``Complete`` or ``FailureTarget``
+ ``Failed``, as Kubernetes 1.31+ writes them). A finished Job with
``ttlSecondsAfterFinished`` is deleted that long after it finished (the TTL-after-finished
controller's work), its pods and whatever else it owns following through the garbage
collector, as with ``propagationPolicy: Background``.

Simplifications: ``parallelism`` and ``completions`` above 1, indexed jobs, pod
failure policies and the exponential back-off between retries are not modelled; an
``OnFailure`` pod is retried as a new pod like ``Never``. Each finished Job is recorded
in the mutation log as ``job-completed`` or ``job-failed``.
"""

from __future__ import annotations

from sandbox.k8s.controllers.loop import ControllerContext
from sandbox.k8s.controllers.objects import condition, owner_reference
from sandbox.k8s.errors import ApiError
from sandbox.k8s.resources import JOBS, PODS
from sandbox.k8s.store import Obj, random_suffix
from sandbox.k8s.timestamps import parse_rfc3339, rfc3339

_TERMINAL = ("Complete", "Failed")


class JobController:
    time_driven = True  # activeDeadlineSeconds

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx

    def reset(self) -> None:
        """Stateless: everything it needs is in the store."""

    def reconcile(self, now: float) -> None:
        for job in self.ctx.store.list(JOBS):
            conditions = job.get("status", {}).get("conditions") or []
            ended = [c for c in conditions if c["type"] in _TERMINAL and c["status"] == "True"]
            if job["metadata"].get("deletionTimestamp"):
                continue
            if not ended:
                self._sync(job, now)
            else:
                self._expire(job, parse_rfc3339(ended[0]["lastTransitionTime"]), now)

    def _expire(self, job: Obj, finished: float, now: float) -> None:
        """Delete a finished Job whose ``ttlSecondsAfterFinished`` has passed."""
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        if ttl is None or now - finished < ttl:
            return
        meta = job["metadata"]
        try:
            self.ctx.store.delete(JOBS, meta["namespace"], meta["name"], propagation="Background")
        except ApiError as error:  # deleted meanwhile by a client: nothing left to do
            if error.code != 404:
                raise

    def _sync(self, job: Obj, now: float) -> None:
        store, meta, spec = self.ctx.store, job["metadata"], job["spec"]
        pods = [obj for rt, obj in store.owned_by(meta["uid"]) if rt == PODS]
        phases = [p["status"].get("phase") for p in pods]
        active = [
            p
            for p in pods
            if p["status"].get("phase") in ("Pending", "Running")
            and not p["metadata"].get("deletionTimestamp")
        ]
        succeeded, failed = phases.count("Succeeded"), phases.count("Failed")
        status = dict(job.get("status") or {})
        status.setdefault("startTime", rfc3339(now))
        deadline = spec.get("activeDeadlineSeconds")
        outcome = None
        if deadline is not None and now - parse_rfc3339(status["startTime"]) >= deadline:
            outcome = (
                "Failed",
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
            )
        elif succeeded >= spec.get("completions", 1):
            outcome = (
                "Complete",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            )
        elif failed > spec.get("backoffLimit", 6):
            outcome = (
                "Failed",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            )
        elif not active and not spec.get("suspend"):
            active.append(store.create(PODS, meta["namespace"], self._new_pod(job)))
        if outcome:
            for pod in active:
                store.delete(PODS, meta["namespace"], pod["metadata"]["name"])
            if outcome[0] == "Failed":  # a pod stopped at the deadline counts as failed
                failed += len(active)
            active = []
        counts = {"active": len(active), "succeeded": succeeded, "failed": failed}
        status.update({k: v for k, v in counts.items() if v})
        for key in [k for k, v in counts.items() if not v]:
            status.pop(key, None)
        status["ready"] = sum(1 for p in active if p["status"].get("phase") == "Running")
        if outcome:
            kind, reason, message = outcome
            criteria = "SuccessCriteriaMet" if kind == "Complete" else "FailureTarget"
            status["conditions"] = [
                condition(criteria, True, now, reason, message),
                condition(kind, True, now, reason, message),
            ]
            if kind == "Complete":
                status["completionTime"] = rfc3339(now)

        def mutate(current: Obj) -> Obj:
            current["status"] = status
            return current

        store.update(JOBS, meta["namespace"], meta["name"], mutate, subresource="status")
        if outcome:
            operation = "job-completed" if outcome[0] == "Complete" else "job-failed"
            self.ctx.log.record(
                "k8s", operation, f"{meta['namespace']}/jobs/{meta['name']}", reason=outcome[1]
            )

    @staticmethod
    def _new_pod(job: Obj) -> Obj:
        template = job["spec"]["template"]
        return {
            "metadata": {
                "name": f"{job['metadata']['name']}-{random_suffix()}",
                "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                "ownerReferences": [owner_reference(job)],
            },
            "spec": template["spec"],
        }
