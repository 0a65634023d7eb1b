"""Kubernetes Jobs that work on EFS data: the purge of temporary files, the switch-over.

EFS has no API for its files, so work on restored data runs where the
platform runs: a Job in the cluster mounting the file system through the
EFS CSI driver. Jobs and their volumes are named from the restore, so a
retry finds what its first try created.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
from kubernetes.client.rest import ApiException

from ue_backup.config import JobsConfig
from ue_backup.kube_names import efs_volume_name

EFS_CSI_DRIVER = "efs.csi.aws.com"
MOUNT_PATH = "/efs"
# The root file system is read-only; scratch space (the checks' mktemp -d) is an emptyDir here.
SCRATCH_PATH = "/tmp"
SCRATCH_SIZE = "64Mi"

# The image's default user is root, and the Jobs stay root: the files on EFS belong to the
# platform's user (whatever uid the installation runs as), and a Job moves, renames and
# deletes them. Every capability is dropped and only these are added back:
# - DAC_OVERRIDE: write into directories the platform's user owns (mv out of and into them,
#   rm of their entries, the marker files at the root) and read what it made private;
# - FOWNER: the operations the kernel allows only to a file's owner, on files root does not
#   own: removing or renaming entries of a sticky directory, keeping times and modes on mv.
# Not CHOWN: no script changes an owner, and mv stays within the one file system (a rename
# keeps the owner), so nothing is copied and re-owned.
EFS_WORK_CAPABILITIES = ("DAC_OVERRIDE", "FOWNER")
# The application checks only query and look for paths (test -e): they run as the user their
# image runs as (include/images/ue-backup-checks/Dockerfile: USER 65534, nobody), whatever
# image is configured, with no capability at all.
CHECKS_USER = 65534


class KubeJobHook(KubernetesHook):
    """Create EFS claims and Jobs, and read a Job's state and log."""

    def _create(self, create, *args: Any) -> None:
        """Create, treating "already exists" as success (a retry)."""
        try:
            create(*args)
        except ApiException as error:
            if error.status != 409:
                raise

    def ensure_efs_claim(self, namespace: str, name: str, file_system_id: str) -> str:
        """A PersistentVolume of the EFS CSI driver for the file system and a claim bound to it."""
        volume = efs_volume_name(namespace, name)
        self._create(
            self.core_v1_client.create_persistent_volume,
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": volume, "labels": {"app.kubernetes.io/part-of": "ue-backup"}},
                "spec": {
                    "capacity": {"storage": "5Gi"},
                    "accessModes": ["ReadWriteMany"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "storageClassName": "",
                    "csi": {"driver": EFS_CSI_DRIVER, "volumeHandle": file_system_id},
                },
            },
        )
        self._create(
            self.core_v1_client.create_namespaced_persistent_volume_claim,
            namespace,
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": name},
                "spec": {
                    "accessModes": ["ReadWriteMany"],
                    "storageClassName": "",
                    "volumeName": volume,
                    "resources": {"requests": {"storage": "5Gi"}},
                },
            },
        )
        return name

    def run_job(
        self,
        namespace: str,
        name: str,
        *,
        script: str,
        claim: str,
        settings: JobsConfig | None = None,
        image: str | None = None,
    ) -> dict[str, Any]:
        """Create the Job (once) that runs ``script`` with the claim mounted at /efs.

        ``settings``: the Jobs' configuration (default: its defaults); ``image``
        overrides its image.
        """
        body = job_body(
            name,
            namespace=namespace,
            container="work",
            image=image,
            script=script,
            claim=claim,
            settings=settings or JobsConfig(),
            capabilities=EFS_WORK_CAPABILITIES,
        )
        self._create(self.batch_v1_client.create_namespaced_job, namespace, body)
        return {"job": name, "namespace": namespace}

    def job_outcome(self, namespace: str, name: str) -> tuple[str, str]:
        """("running" | "succeeded" | "failed", a message with the Job's log when it ended)."""
        job = self.batch_v1_client.read_namespaced_job(name, namespace)
        status = job.status
        if status.succeeded:
            return "succeeded", self.job_log(namespace, name)
        ended = [c for c in status.conditions or [] if c.type == "Failed" and c.status == "True"]
        if status.failed or ended:  # the condition alone: stopped before a pod could fail
            reasons = [c.message or c.reason for c in status.conditions or [] if c.type == "Failed"]
            return (
                "failed",
                f"{'; '.join(r for r in reasons if r)}\n{self.job_log(namespace, name)}",
            )
        return "running", ""

    def job_log(self, namespace: str, name: str) -> str:
        return self._pods_log(namespace, f"job-name={name}")

    def _pods_log(self, namespace: str, selector: str) -> str:
        """The logs of the pods ``selector`` picks, one after the other."""
        pods = self.core_v1_client.list_namespaced_pod(namespace, label_selector=selector)
        logs = []
        for pod in pods.items:
            response = self.core_v1_client.read_namespaced_pod_log(
                pod.metadata.name, namespace, _preload_content=False
            )
            logs.append(response.data.decode(errors="replace"))
        return "\n".join(logs)

    # --- the application checks' Job and its Secret (operators.app_checks) ---------------

    def create_job_with_secret_env(
        self,
        namespace: str,
        name: str,
        *,
        image: str,
        script: str,
        claim: str | None,
        env: dict[str, str],
        secret_keys: list[str],
        settings: JobsConfig,
        ttl_seconds: int,
    ) -> str:
        """Create the Job (never adopting one: a leftover may hold stale results); its uid.

        ``env`` becomes plain values; each of ``secret_keys`` an entry read from
        the Secret named like the Job (``valueFrom.secretKeyRef``), which the
        caller creates next, owned by the Job: the pod waits for it
        (``CreateContainerConfigError``) and the Secret goes when the Job goes,
        whether the task deletes it or ``ttlSecondsAfterFinished`` does:
        ``ttl_seconds``, at most the configured one (the Secret holds a password).
        """
        entries: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in env.items()]
        entries += [
            {"name": key, "valueFrom": {"secretKeyRef": {"name": name, "key": key}}}
            for key in secret_keys
        ]
        body = job_body(
            name,
            namespace=namespace,
            container="checks",
            image=image,
            script=script,
            claim=claim,
            env=entries,
            settings=settings,
            run_as_user=CHECKS_USER,
            ttl_seconds=min(ttl_seconds, settings.ttl_seconds_after_finished),
        )
        job = self.batch_v1_client.create_namespaced_job(namespace, body)
        return job.metadata.uid

    def create_owned_secret(
        self, namespace: str, name: str, data: dict[str, str], *, job_uid: str
    ) -> None:
        """A Secret holding ``data``, owned by the Job ``name`` (uid ``job_uid``).

        An error names the status only: an API error's body could quote the request.
        """
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "labels": {"app.kubernetes.io/part-of": "ue-backup"},
                "ownerReferences": [
                    {"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": job_uid}
                ],
            },
            "type": "Opaque",
            "stringData": data,
        }
        try:
            self.core_v1_client.create_namespaced_secret(namespace, body)
        except ApiException as error:
            raise RuntimeError(
                f"creating Secret {namespace}/{name} failed: {error.status} {error.reason}"
            ) from None

    def delete_job(self, namespace: str, name: str) -> None:
        """Delete the Job and, in the background, its pods; gone already is fine."""
        try:
            self.batch_v1_client.delete_namespaced_job(
                name, namespace, propagation_policy="Background"
            )
        except ApiException as error:
            if error.status != 404:
                raise

    def delete_secret(self, namespace: str, name: str) -> None:
        """Delete the Secret; gone already (its Job's deletion took it) is fine."""
        try:
            self.core_v1_client.delete_namespaced_secret(name, namespace)
        except ApiException as error:
            if error.status != 404:
                raise

    def job_log_by_uid(self, namespace: str, uid: str) -> str:
        """The log of the pods of exactly this Job (by its uid): not those of an earlier Job
        of the same name whose pods the garbage collector has not removed yet."""
        return self._pods_log(namespace, f"batch.kubernetes.io/controller-uid={uid}")


def job_body(
    name: str,
    *,
    namespace: str,
    container: str,
    script: str,
    claim: str | None,
    settings: JobsConfig,
    image: str | None = None,
    env: list[dict[str, Any]] | None = None,
    capabilities: tuple[str, ...] = (),
    run_as_user: int | None = None,
    ttl_seconds: int | None = None,
) -> dict[str, Any]:
    """A hardened Job that runs ``script`` with ``sh`` once (no retry), ``claim`` at /efs.

    Every Job ue-backup starts is built here: no privilege escalation, every
    capability dropped but ``capabilities``, a read-only root file system (an
    emptyDir at /tmp for scratch), the runtime's default seccomp profile, no
    service-account token (the scripts never call the API), requests and
    limits, a deadline and a TTL from ``settings`` (``kubernetes.jobs``).
    ``image``: the settings' image unless given; ``env``: the container's
    entries; ``run_as_user``: a non-root user (uid and gid) to run as, instead
    of the image's; ``ttl_seconds``: a shorter TTL than the settings' one.
    """
    added = {"add": list(capabilities)} if capabilities else {}
    user = (
        {"runAsNonRoot": True, "runAsUser": run_as_user, "runAsGroup": run_as_user}
        if run_as_user
        else {}
    )
    mounts = [{"name": "scratch", "mountPath": SCRATCH_PATH}]
    volumes: list[dict[str, Any]] = [{"name": "scratch", "emptyDir": {"sizeLimit": SCRATCH_SIZE}}]
    if claim:
        mounts.append({"name": "efs", "mountPath": MOUNT_PATH})
        volumes.append({"name": "efs", "persistentVolumeClaim": {"claimName": claim}})
    pod_container: dict[str, Any] = {
        "name": container,
        "image": image or settings.image,
        "command": ["sh", "-c", script],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"], **added},
            "seccompProfile": {"type": "RuntimeDefault"},
            **user,
        },
        "resources": {
            "requests": settings.requests.model_dump(),
            "limits": settings.limits.model_dump(),
        },
        "volumeMounts": mounts,
    }
    if env is not None:
        pod_container["env"] = env
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [pod_container],
        "volumes": volumes,
    }
    ttl = settings.ttl_seconds_after_finished if ttl_seconds is None else ttl_seconds
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "ue-backup"},
        },
        "spec": {
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": ttl,
            "activeDeadlineSeconds": settings.active_deadline_seconds,
            "template": {"spec": pod},
        },
    }
