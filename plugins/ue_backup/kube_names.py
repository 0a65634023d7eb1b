"""The Kubernetes API names and Velero facts the hooks, triggers and DAG steps share.

Kept apart from the hooks, whose modules load the Kubernetes client: a DAG
file that only needs a name (a label, a resource group) loads nothing heavy
when it is parsed, and neither does a task that never calls Kubernetes.
"""

from __future__ import annotations

from typing import Any

# The EC Deployment custom resource of Usage Engine.
ECD_GROUP = "mz.digitalroute.com"
ECD_VERSION = "v1alpha1"
ECD_PLURAL = "ecdeployments"

# The label Velero puts on every object a Restore created: how restored objects are found.
RESTORE_NAME_LABEL = "velero.io/restore-name"

# Phases after which Velero changes a Backup or Restore no more.
FINISHED_PHASES = ("Completed", "PartiallyFailed", "Failed", "FailedValidation")


# --- names derived from another object's name ------------------------------------------------
# One definition each, so the object a hook creates and the one a cleanup or a test looks
# for are the same. Each is a DNS-1123 subdomain (at most 253 characters) for every name the
# project gives the object it derives from (tests/plugins/test_names.py).


def modifiers_name(restore_name: str) -> str:
    """The ConfigMap holding the resource modifiers of a Velero restore."""
    return f"{restore_name}-modifiers"


def delete_request_name(backup_name: str) -> str:
    """The DeleteBackupRequest asking Velero to delete a backup."""
    return f"{backup_name}-delete"


def efs_volume_name(namespace: str, claim: str) -> str:
    """The PersistentVolume (cluster-wide) bound to one namespace's EFS claim."""
    return f"{namespace}-{claim}"


def is_enabled(ecd: dict[str, Any]) -> bool:
    """Whether an ECD runs: ``spec.enabled`` true, or not set at all.

    Nothing documents that the EC operator treats a missing switch as off; if it
    treats it as on, an ECD without one writes to EFS during a whole window. So
    the suspension, the drain and the window's proof all count it as enabled.
    """
    return (ecd.get("spec") or {}).get("enabled", True) is not False
