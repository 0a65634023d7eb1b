"""The backup set: one id per run, from which every name, tag and token derives.

Why derived and not random: a retried task must find the artifact its first
try created instead of making a second one. With the snapshot name, the
Velero object name and the AWS Backup idempotency token all computed from the
set id, a retry asks AWS for the same thing and gets it back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

# What a backup set can hold, and what a run's `components` param may name.
COMPONENTS = ("database", "efs", "memorydb", "velero")

INSTALLATION_TAG = "ue-backup:installation"
BACKUP_SET_TAG = "ue-backup:backup-set"
RUN_ID_TAG = "ue-backup:run-id"
# Put on every artifact of a set by its verification: "passed" or "failed" (absent: its
# run never verified it), and how its cold window ended: "intact", "broken" or "none".
VERIFIED_TAG = "ue-backup:verified"
WINDOW_TAG = "ue-backup:window"
# Put on a DataSync set's task by retention before its folder is removed ("deleting"): from
# then on the planner takes the set's copy for no disk point, even if the deletion stops
# half-way (the folder gone, the task not yet); retention's next run finishes it.
RETENTION_TAG = "ue-backup:retention"
DELETING = "deleting"


def tag_dict(tags: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    """AWS's ``[{"Key": k, "Value": v}, ...]`` tag lists (RDS, MemoryDB, S3) as a dict."""
    return {t["Key"]: t["Value"] for t in tags or ()}


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """A dict of tags in AWS's ``[{"Key": k, "Value": v}, ...]`` shape (``tag_dict``'s inverse)."""
    return [{"Key": k, "Value": v} for k, v in tags.items()]


# Kubernetes label keys allow one '/', not ':'.
BACKUP_SET_LABEL = "ue-backup/backup-set"
INSTALLATION_LABEL = "ue-backup/installation"
VERIFIED_LABEL = "ue-backup/verified"
WINDOW_LABEL = "ue-backup/window"

# What makes an artifact a set's own: its installation and set, as tags or as labels.
OWNER_TAGS = (INSTALLATION_TAG, BACKUP_SET_TAG)
OWNER_LABELS = (INSTALLATION_LABEL, BACKUP_SET_LABEL)


def same_owner(
    wanted: Mapping[str, str] | None, found: Mapping[str, str] | None, keys: Iterable[str]
) -> bool:
    """True when ``found`` carries each of ``keys`` that ``wanted`` names, with its value.

    The one ownership rule: a start meeting an artifact of its name adopts it only
    when this holds (``BackupSet.owns``, the MemoryDB and Velero hooks).
    """
    wanted, found = wanted or {}, found or {}
    return all(found.get(key) == wanted[key] for key in keys if key in wanted)


_SET_ID_RE = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]-\d{8}t\d{6}z$")


@dataclass(frozen=True)
class BackupSet:
    """One backup set of one installation; ``id`` is ``<installation>-<yyyymmdd>t<hhmmss>z``."""

    installation: str
    id: str
    run_id: str = ""

    @classmethod
    def for_run(cls, installation: str, run_after: datetime, run_id: str = "") -> BackupSet:
        """The set of the DAG run that was scheduled (or triggered) at ``run_after``."""
        stamp = run_after.astimezone(UTC).strftime("%Y%m%dt%H%M%Sz")
        return cls(installation, f"{installation}-{stamp}", run_id)

    @classmethod
    def parse(cls, set_id: str, run_id: str = "") -> BackupSet:
        if not _SET_ID_RE.match(set_id):
            expected = "<installation>-<yyyymmdd>t<hhmmss>z"
            raise ValueError(f"{set_id!r} is not a backup set id ({expected})")
        return cls(set_id.rsplit("-", 1)[0], set_id, run_id)

    @property
    def created_at(self) -> datetime:
        return datetime.strptime(self.id.rsplit("-", 1)[1], "%Y%m%dt%H%M%Sz").replace(tzinfo=UTC)

    # --- names ---------------------------------------------------------------
    # ``ueb-<set id>`` is at most 61 characters (an installation name is at most 40,
    # config.INSTALLATION_RE) and holds no ``--`` (the configuration refuses one in an
    # installation name): valid as an RDS and MemoryDB snapshot name and as a Kubernetes
    # label value. Names restored from a set are named after the restore or the drill
    # (tasks/restore_steps.restore_names, tasks/drill_steps.drill_names), which cut the
    # installation name to fit (names.fit).

    @property
    def rds_snapshot_id(self) -> str:
        return f"ueb-{self.id}"

    @property
    def memorydb_snapshot_name(self) -> str:
        return f"ueb-{self.id}"

    @property
    def velero_backup_name(self) -> str:
        return f"ueb-{self.id}"

    @property
    def efs_idempotency_token(self) -> str:
        return f"ueb-{self.id}-efs"

    @property
    def rds_idempotency_token(self) -> str:
        return f"ueb-{self.id}-rds"

    def copy_token(self, what: str) -> str:
        return f"ueb-{self.id}-{what}-copy"

    @property
    def manifest_key(self) -> str:
        return f"{self.installation}/{self.id}/manifest.json"

    # --- tags ----------------------------------------------------------------

    @property
    def tags(self) -> dict[str, str]:
        tags = {INSTALLATION_TAG: self.installation, BACKUP_SET_TAG: self.id}
        if self.run_id:
            tags[RUN_ID_TAG] = self.run_id
        return tags

    @property
    def tag_list(self) -> list[dict[str, str]]:
        """The tags in the ``[{"Key": ..., "Value": ...}]`` shape RDS and MemoryDB take."""
        return tag_list(self.tags)

    @property
    def labels(self) -> dict[str, str]:
        """Kubernetes labels (Velero objects): label keys cannot hold ':'."""
        return {INSTALLATION_LABEL: self.installation, BACKUP_SET_LABEL: self.id}

    # --- ownership -----------------------------------------------------------
    # A start whose answer was lost (a 5xx, a dropped connection after AWS acted) is
    # retried, by botocore or by the task, and meets an artifact of the set's name. It
    # is adopted only when its tags say it is this set's: a snapshot of that name made
    # by anyone else (another deployment of the same installation, a person) is not.

    def owns(self, tags: Mapping[str, str] | None) -> bool:
        """True when an artifact's tags (a dict) name this installation and set."""
        return same_owner(self.tags, tags, OWNER_TAGS)

    def owns_labels(self, labels: Mapping[str, str] | None) -> bool:
        """True when a Kubernetes object's labels name this installation and set."""
        return same_owner(self.labels, labels, OWNER_LABELS)
