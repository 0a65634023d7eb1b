"""The drill cleanup's rules: which Kubernetes types the drill restores, and a resource's state.

The drill's Velero restore brings back exactly ``RESTORED_RESOURCES``; its
cleanup (``hooks/drill.py``) deletes exactly these types, and the drill Role
grants exactly them. A drill from the protected copies also leaves what its
bring-back put in the installation's account: each copy job's point (due
once the job left ``COPY_JOB_RUNNING``) and MemoryDB's staged files. Each
temporary resource is ``gone``, ``present`` (a delete call is due),
``busy`` (AWS or Kubernetes still works on it) or left to the operator (what
the cleanup cannot prove is the drill's). Pure:
the drill's steps, its DAG and its hook share these without any client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ue_backup.kube_names import ECD_GROUP, ECD_PLURAL, ECD_VERSION

GONE, BUSY, PRESENT = "gone", "busy", "present"
# What the cleanup cannot prove is the drill's, or could not read: named, never deleted,
# and the cleanup fails once everything else is gone (``DrillCleanupOperator``).
BY_HAND = "left to the operator"
RESTORE_JOB_RUNNING = ("CREATED", "PENDING", "RUNNING")
# A bring-back's copy job still under way: its point in the installation's vault is to come.
COPY_JOB_RUNNING = ("CREATED", "RUNNING")

# What the drill's Velero restore brings back (its ``includedResources``), as (API group,
# version, plural): the ECDs and the workloads the drill verifies, and the configuration
# they read. Nothing else: not what runs (pods, jobs), not claims that would point at the
# live file system, not ingresses that would compete for the live host names, and not
# secrets, whose restored copies the drill's account would then have to be allowed to
# list. The cleanup deletes exactly these types, and the drill Role in
# include/k8s/rbac.yaml grants exactly them (tests/include/test_k8s_rbac.py checks both).
RESTORED_RESOURCES = (
    (ECD_GROUP, ECD_VERSION, ECD_PLURAL),
    ("apps", "v1", "deployments"),
    ("", "v1", "configmaps"),
)


@dataclass(frozen=True)
class State:
    """Where one resource stands (``GONE``, ``BUSY`` or ``PRESENT``), and why, for the log."""

    status: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.status}{f' ({self.detail})' if self.detail else ''}"


def summary(states: Mapping[str, State]) -> str:
    """The states as lines for the task log."""
    width = max((len(name) for name in states), default=0)
    return "\n".join(f"{name.ljust(width)}  {state}" for name, state in states.items())
