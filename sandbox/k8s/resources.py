"""The resource types the sandbox serves, with the per-type behaviour a real API
server derives from its registry or from a CRD.

Only what this project touches is registered; an unknown resource is a 404, as on a
cluster without that CRD.
"""

from __future__ import annotations

from dataclasses import dataclass

STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    # With a status subresource, writes to the main resource leave status alone and
    # writes to /status leave everything else alone (Velero's CRDs have none).
    status_subresource: bool = True
    # Custom resources: PUT needs metadata.resourceVersion, no strategic merge patch,
    # and a body must name its kind.
    custom: bool = False
    # What DELETE does to dependents when the client does not say: batch/v1 Jobs
    # still orphan their pods by default, everything else is collected.
    default_propagation: str = "Background"
    short_names: tuple[str, ...] = ()
    # Field selectors beyond metadata.name / metadata.namespace.
    field_labels: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """``plural.group``: how error messages, Velero and its modifiers name a type."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def known_as(self, name: str) -> bool:
        """Whether ``name`` designates this type the way Velero's include lists accept."""
        name = name.lower()
        names = {self.plural, self.singular, *self.short_names}
        return name in names or name in {f"{n}.{self.group}" for n in names if self.group}


# The EC operator's status is assumed to live in a status subresource, as operators'
# CRDs usually have it: clients cannot overwrite it by PUTting a stale copy.
ECDEPLOYMENTS = ResourceType(
    "mz.digitalroute.com",
    "v1alpha1",
    "ecdeployments",
    "ECDeployment",
    custom=True,
    short_names=("ecd",),
)
BACKUPS = ResourceType(
    "velero.io", "v1", "backups", "Backup", status_subresource=False, custom=True
)
RESTORES = ResourceType(
    "velero.io", "v1", "restores", "Restore", status_subresource=False, custom=True
)
# What ``velero backup delete`` creates: the only way to delete a backup with its data.
DELETE_BACKUP_REQUESTS = ResourceType(
    "velero.io",
    "v1",
    "deletebackuprequests",
    "DeleteBackupRequest",
    status_subresource=False,
    custom=True,
)
PODS = ResourceType(
    "",
    "v1",
    "pods",
    "Pod",
    short_names=("po",),
    field_labels=("status.phase", "spec.nodeName", "spec.restartPolicy"),
)
PVCS = ResourceType(
    "", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short_names=("pvc",)
)
PVS = ResourceType(
    "", "v1", "persistentvolumes", "PersistentVolume", namespaced=False, short_names=("pv",)
)
CONFIGMAPS = ResourceType(
    "", "v1", "configmaps", "ConfigMap", status_subresource=False, short_names=("cm",)
)
# Secrets: a Job's credentials come from one through env valueFrom.secretKeyRef, which
# the kubelet resolves (sandbox/k8s/controllers/kubelet.py); stringData is folded into
# data on create (sandbox/k8s/defaults.py).
SECRETS = ResourceType("", "v1", "secrets", "Secret", status_subresource=False)
EVENTS = ResourceType(
    "",
    "v1",
    "events",
    "Event",
    status_subresource=False,
    short_names=("ev",),
    field_labels=("involvedObject.kind", "involvedObject.name", "reason", "type"),
)
DEPLOYMENTS = ResourceType("apps", "v1", "deployments", "Deployment", short_names=("deploy",))
JOBS = ResourceType(
    "batch", "v1", "jobs", "Job", default_propagation="Orphan", field_labels=("status.successful",)
)

ALL = (
    ECDEPLOYMENTS,
    BACKUPS,
    RESTORES,
    DELETE_BACKUP_REQUESTS,
    PODS,
    PVCS,
    PVS,
    CONFIGMAPS,
    SECRETS,
    EVENTS,
    DEPLOYMENTS,
    JOBS,
)


def lookup(group: str, version: str, plural: str) -> ResourceType | None:
    """The type served at ``/api[s]/<group>/<version>/<plural>``, if any."""
    for rt in ALL:
        if (rt.group, rt.version, rt.plural) == (group, version, plural):
            return rt
    return None


def by_name(name: str) -> ResourceType:
    """The type a test or Velero names by plural, ``plural.group``, kind or short name."""
    for rt in ALL:
        if rt.known_as(name):
            return rt
    raise KeyError(name)


def group_versions() -> list[tuple[str, str]]:
    """Every served ``(group, version)``, core first, in a stable order."""
    seen: list[tuple[str, str]] = []
    for rt in ALL:
        if (rt.group, rt.version) not in seen:
            seen.append((rt.group, rt.version))
    return sorted(seen, key=lambda gv: (gv[0] != "", gv[0]))
