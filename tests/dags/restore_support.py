"""What the restore's end-to-end modules share: the restored tree and the restore's own changes."""

from __future__ import annotations

# The file the placed tree carries (restore_scripts), besides the live files.
MARKER = ".ue-backup-restored"


def tree(root) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*") if p.is_file()}


def state_changes(sandbox) -> list:
    """Mutations made by the restore itself (controllers' own bookkeeping aside)."""
    return [m for m in sandbox.log.entries() if m.operation in MUTATING]


MUTATING = {"create", "replace", "patch", "delete"} | {
    "RestoreDBInstanceFromDBSnapshot",
    "RestoreDBInstanceToPointInTime",
    "StartRestoreJob",
    "CreateCluster",
    "ModifyDBInstance",
}
