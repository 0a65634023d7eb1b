"""The node: moves pods through their lifecycle.

- A long-running pod (``restartPolicy: Always``, e.g. an EC pod) is simulated: it
  becomes Running and Ready ``durations.ecd_start`` after it is first seen.
- A run-to-completion pod (``Never``/``OnFailure``, i.e. Job pods) really runs its
  first container's command locally (:mod:`sandbox.k8s.runner`) after
  ``durations.job``, with its volumes mapped to local directories
  (:mod:`sandbox.k8s.mounts`), and ends Succeeded or Failed on its exit code;
  the output becomes the pod's log. Fault ``never`` on (``k8s``, ``job``,
  ``<ns>/pods/<pod>``) leaves it Running for ever without running anything; fault
  ``outcome`` there ends it Failed at once, its message as the log, without running it.
- A pod being deleted gracefully stops: a running process is killed at once; a
  long-running pod drains for ``durations.ecd_drain`` before it is removed (what an
  EC does while its workflows stop), unless fault ``never`` on (``k8s``, ``drain``,
  ``<ns>/pods/<pod>``) holds it Terminating for ever. Pod names start with their
  Deployment's, i.e. the ECD's, name, so a fault target of the ECD name matches.
- A volume that cannot be mounted keeps the pod Pending in ContainerCreating (an EFS
  file system without an available mount target, too: :mod:`sandbox.k8s.mounts`),
  with the reason in its container's waiting message, until the Job's
  ``activeDeadlineSeconds`` fails it.
"""

from __future__ import annotations

import shutil
from typing import Any

from sandbox.k8s.controllers.loop import ControllerContext
from sandbox.k8s.controllers.objects import condition, merge_conditions
from sandbox.k8s.env import EnvError, resolve_env
from sandbox.k8s.mounts import MountError, pod_mounts
from sandbox.k8s.resources import PODS
from sandbox.k8s.runner import DEFAULT_TIMEOUT, PodProcess
from sandbox.k8s.store import Obj
from sandbox.k8s.timestamps import rfc3339

RUN_TO_COMPLETION = ("Never", "OnFailure")


def _runs_to_completion(pod: Obj) -> bool:
    return pod["spec"].get("restartPolicy") in RUN_TO_COMPLETION


def _label(pod: Obj) -> str:
    return f"{pod['metadata']['namespace']}/pods/{pod['metadata']['name']}"


class Kubelet:
    time_driven = True  # start delays, running processes, drains

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self._first_seen: dict[str, float] = {}
        self._draining: dict[str, float | None] = {}  # uid -> drain start; None: never ends
        self._processes: dict[str, PodProcess] = {}
        self._scratch_root = ctx.root / "pods"  # per-pod working and emptyDir/configMap dirs

    def reset(self) -> None:
        for process in self._processes.values():
            process.kill()
        self._processes.clear()
        self._first_seen.clear()
        self._draining.clear()
        shutil.rmtree(self._scratch_root, ignore_errors=True)

    def reconcile(self, now: float) -> None:
        pods = self.ctx.store.list(PODS)
        for pod in pods:
            phase = pod["status"].get("phase")
            if pod["metadata"].get("deletionTimestamp"):
                self._terminate(pod, now)
            elif phase == "Pending":
                self._start(pod, now)
            elif phase == "Running" and pod["metadata"]["uid"] in self._processes:
                self._collect(pod, now)
        self._forget({p["metadata"]["uid"] for p in pods})

    def _forget(self, live: set[str]) -> None:
        for uid in set(self._processes) - live:
            self._processes.pop(uid).kill()
        for table in (self._first_seen, self._draining):
            for uid in set(table) - live:
                del table[uid]
                shutil.rmtree(self._scratch_root / uid, ignore_errors=True)

    def _set_status(self, pod: Obj, **status: Any) -> None:
        def mutate(current: Obj) -> Obj:
            current["status"] = {**current.get("status", {}), **status}
            return current

        meta = pod["metadata"]
        self.ctx.store.update(PODS, meta["namespace"], meta["name"], mutate, subresource="status")

    def _container_status(
        self, pod: Obj, state: dict[str, Any], ready: bool
    ) -> list[dict[str, Any]]:
        container = pod["spec"]["containers"][0]
        image = container.get("image", "")
        return [
            {
                "name": container["name"],
                "image": image,
                "imageID": f"{image}@sha256:{'0' * 64}",
                "ready": ready,
                "restartCount": 0,
                "started": "running" in state,
                "state": state,
            }
        ]

    def _start(self, pod: Obj, now: float) -> None:
        uid = pod["metadata"]["uid"]
        first_seen = self._first_seen.setdefault(uid, now)
        delay = self.ctx.durations.job if _runs_to_completion(pod) else self.ctx.durations.ecd_start
        if now - first_seen < delay:
            return
        scratch = self._scratch_root / uid
        scratch.mkdir(parents=True, exist_ok=True)
        try:
            mounts = pod_mounts(
                self.ctx.store, pod, self.ctx.efs_path, scratch, self.ctx.efs_mount_problem
            )
        except MountError as error:
            waiting = {
                "waiting": {
                    "reason": "ContainerCreating",
                    "message": f"MountVolume.SetUp failed: {error}",
                }
            }
            self._set_status(pod, containerStatuses=self._container_status(pod, waiting, False))
            return
        failed = _runs_to_completion(pod) and self.ctx.faults.take(
            "k8s", "job", _label(pod), kind="outcome"
        )
        if failed:
            self._finish(pod, now, 1, f"{failed.message}\n", "Error")
            return
        if _runs_to_completion(pod) and not self.ctx.faults.take(
            "k8s", "job", _label(pod), kind="never"
        ):
            try:
                namespace = pod["metadata"]["namespace"]
                container = resolve_env(self.ctx.store, namespace, pod["spec"]["containers"][0])
            except EnvError as error:
                reason = "CreateContainerConfigError"
                waiting = {"waiting": {"reason": reason, "message": str(error)}}
                self._set_status(pod, containerStatuses=self._container_status(pod, waiting, False))
                return
            timeout = pod["spec"].get("activeDeadlineSeconds", DEFAULT_TIMEOUT)
            try:
                self._processes[uid] = PodProcess(container, mounts, scratch, timeout)
            except (OSError, ValueError) as error:
                self._finish(pod, now, 128, f"{error}\n", "StartError")
                return
        else:
            self.ctx.store.set_log(pod["metadata"]["namespace"], pod["metadata"]["name"], "")
        running = {"running": {"startedAt": rfc3339(now)}}
        self._set_status(
            pod,
            phase="Running",
            startTime=rfc3339(now),
            conditions=merge_conditions(
                pod["status"].get("conditions"),
                [
                    condition("PodScheduled", True, now),
                    condition("Ready", True, now),
                    condition("ContainersReady", True, now),
                ],
            ),
            containerStatuses=self._container_status(pod, running, True),
        )

    def _collect(self, pod: Obj, now: float) -> None:
        process = self._processes[pod["metadata"]["uid"]]
        result = process.poll()
        if result is None:
            return
        del self._processes[pod["metadata"]["uid"]]
        code, output = result
        reason = (
            "DeadlineExceeded" if process.timed_out else ("Completed" if code == 0 else "Error")
        )
        self._finish(pod, now, code, output, reason)

    def _finish(self, pod: Obj, now: float, code: int, output: str, reason: str) -> None:
        self.ctx.store.set_log(pod["metadata"]["namespace"], pod["metadata"]["name"], output)
        started = (
            (pod["status"].get("containerStatuses") or [{}])[0].get("state", {}).get("running", {})
        )
        terminated = {
            "exitCode": code,
            "reason": reason,
            "startedAt": started.get("startedAt", rfc3339(now)),
            "finishedAt": rfc3339(now),
        }
        self._set_status(
            pod,
            phase="Succeeded" if code == 0 else "Failed",
            conditions=merge_conditions(
                pod["status"].get("conditions"),
                [
                    condition("PodScheduled", True, now),
                    condition("Ready", False, now, "PodCompleted"),
                    condition("ContainersReady", False, now, "PodCompleted"),
                ],
            ),
            containerStatuses=self._container_status(pod, {"terminated": terminated}, False),
        )

    def _terminate(self, pod: Obj, now: float) -> None:
        meta, uid = pod["metadata"], pod["metadata"]["uid"]
        if uid in self._processes:
            self._processes.pop(uid).kill()
        if _runs_to_completion(pod) or pod["status"].get("phase") != "Running":
            self.ctx.store.remove(PODS, meta["namespace"], meta["name"])
            return
        if uid not in self._draining:
            never = self.ctx.faults.take("k8s", "drain", _label(pod), kind="never")
            self._draining[uid] = None if never else now
            self._set_status(
                pod,
                conditions=merge_conditions(
                    pod["status"].get("conditions"),
                    [
                        condition("PodScheduled", True, now),
                        condition("Ready", False, now),
                        condition("ContainersReady", False, now),
                    ],
                ),
                containerStatuses=self._container_status(
                    pod, pod["status"]["containerStatuses"][0]["state"], False
                ),
            )
        started = self._draining[uid]
        if started is not None and now - started >= self.ctx.durations.ecd_drain:
            self.ctx.store.remove(PODS, meta["namespace"], meta["name"])
