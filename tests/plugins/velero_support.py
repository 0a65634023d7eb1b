"""Velero in the sandbox for the Velero tests: a namespace of ECDs and finished objects."""

from __future__ import annotations

from tests.plugins.ecds import NS
from ue_backup.hooks.velero import VeleroHook
from ue_backup.kube_names import FINISHED_PHASES

VELERO = "velero"


def phase(obj: dict | None) -> str:
    return ((obj or {}).get("status") or {}).get("phase") or ""


def finished(sandbox, hook: VeleroHook, kind: str, name: str) -> dict:
    read = hook.get_backup if kind == "backup" else hook.get_restore
    return sandbox.k8s.wait_until(
        lambda: phase(obj := read(VELERO, name)) in FINISHED_PHASES and obj, timeout=10
    )


def start_backup(hook: VeleroHook, name: str = "b1") -> str:
    hook.create_backup(
        namespace=VELERO,
        name=name,
        labels={"ue-backup/backup-set": name},
        included_namespaces=[NS],
        storage_location="default",
        ttl="24h0m0s",
    )
    return name
