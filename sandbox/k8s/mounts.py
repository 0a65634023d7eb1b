"""Where a pod's volume mounts live on this machine.

There are no real mounts: the kubelet resolves each ``volumeMount`` of the pod's
first container to a local directory and the runner rewrites the mount paths in the
command (see :mod:`sandbox.k8s.runner`). Supported volumes:

- ``persistentVolumeClaim`` of a claim bound to a PersistentVolume of the EFS CSI
  driver (``efs.csi.aws.com``): ``volumeHandle`` is ``fs-id``, ``fs-id:/subpath`` or
  ``fs-id:[/subpath]:fsap-id``; the file system's directory comes from ``efs_path``.
  As on a node, the driver mounts it over NFS through a mount target: a file
  system with no available mount target (``efs_mount_problem`` says why) cannot
  be mounted, and the pod never starts (the Job's deadline then fails it).
  An access point's own root directory is not known here, so it mounts the
  file-system root (plus the subpath).
- ``emptyDir``: a fresh directory per pod.
- ``configMap``: the ConfigMap's keys written as files (``items`` and ``defaultMode``
  honoured), the usual way to ship a script to a Job.

Anything else raises :class:`MountError`, which keeps the pod in ContainerCreating
as a failed mount does on a node.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from sandbox.k8s.resources import CONFIGMAPS, PVCS, PVS
from sandbox.k8s.store import Obj, Store

EFS_DRIVER = "efs.csi.aws.com"


class MountError(Exception):
    """A volume that cannot be mounted (yet); the message is what a FailedMount event says."""


def efs_directory(
    pv: Obj,
    efs_path: Callable[[str], Path],
    mount_problem: Callable[[str], str | None] = lambda file_system_id: None,
) -> Path:
    """The local directory an EFS CSI PersistentVolume mounts."""
    csi = (pv.get("spec") or {}).get("csi") or {}
    if csi.get("driver") != EFS_DRIVER:
        raise MountError(f'persistentvolume "{pv["metadata"]["name"]}" is not an EFS CSI volume')
    file_system, _, rest = csi.get("volumeHandle", "").partition(":")
    subpath, _, _access_point = rest.partition(":")
    if not file_system.startswith("fs-"):
        raise MountError(f"invalid EFS volume handle {csi.get('volumeHandle')!r}")
    problem = mount_problem(file_system)
    if problem:
        raise MountError(f'volume "{pv["metadata"]["name"]}": {problem}')
    return efs_path(file_system) / subpath.lstrip("/")


def _claim_directory(
    store: Store,
    namespace: str,
    claim: str,
    efs_path: Callable[[str], Path],
    mount_problem: Callable[[str], str | None],
) -> Path:
    pvc = store.find(PVCS, namespace, claim)
    if pvc is None:
        raise MountError(f'persistentvolumeclaim "{claim}" not found')
    if (pvc.get("status") or {}).get("phase") != "Bound":
        raise MountError(f'pod has unbound immediate PersistentVolumeClaims ("{claim}")')
    pv = store.find(PVS, None, pvc["spec"]["volumeName"])
    if pv is None:
        raise MountError(f'persistentvolume "{pvc["spec"]["volumeName"]}" not found')
    return efs_directory(pv, efs_path, mount_problem)


def _config_map_directory(
    store: Store, namespace: str, source: dict[str, Any], target: Path
) -> Path:
    config_map = store.find(CONFIGMAPS, namespace, source.get("name", ""))
    if config_map is None:
        raise MountError(f'configmap "{source.get("name")}" not found')
    data = config_map.get("data") or {}
    items = source.get("items") or [{"key": key, "path": key} for key in data]
    target.mkdir(parents=True, exist_ok=True)
    for item in items:
        path = target / item["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data.get(item["key"], ""))
        path.chmod(item.get("mode", source.get("defaultMode", 0o644)))
    return target


class PodMounts(NamedTuple):
    paths: dict[str, Path]  # mountPath -> local directory
    config_maps: set[str]  # the mountPaths backed by a ConfigMap (scripts to rewrite)


def pod_mounts(
    store: Store,
    pod: Obj,
    efs_path: Callable[[str], Path],
    scratch: Path,
    mount_problem: Callable[[str], str | None] = lambda file_system_id: None,
) -> PodMounts:
    """The local directories behind the volume mounts of the pod's first container."""
    namespace = pod["metadata"]["namespace"]
    volumes = {v["name"]: v for v in pod["spec"].get("volumes") or []}
    mounts = PodMounts({}, set())
    for mount in pod["spec"]["containers"][0].get("volumeMounts") or []:
        volume = volumes.get(mount["name"])
        if volume is None:
            raise MountError(f'volume "{mount["name"]}" not found in the pod spec')
        if "persistentVolumeClaim" in volume:
            base = _claim_directory(
                store,
                namespace,
                volume["persistentVolumeClaim"]["claimName"],
                efs_path,
                mount_problem,
            )
        elif "emptyDir" in volume:
            base = scratch / "volumes" / volume["name"]
        elif "configMap" in volume:
            base = _config_map_directory(
                store, namespace, volume["configMap"], scratch / "volumes" / volume["name"]
            )
        else:
            raise MountError(
                f'volume "{volume["name"]}": this type is not supported by the sandbox'
            )
        if not base.is_dir() and "persistentVolumeClaim" in volume:
            raise MountError(f"mount source {base} does not exist on the EFS file system")
        local = base / mount.get("subPath", "")
        local.mkdir(parents=True, exist_ok=True)
        mount_path = mount["mountPath"].rstrip("/") or "/"
        mounts.paths[mount_path] = local
        if "configMap" in volume:
            mounts.config_maps.add(mount_path)
    return mounts
