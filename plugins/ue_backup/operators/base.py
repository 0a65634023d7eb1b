"""What every ue-backup operator shares: the backup set of the run it works for."""

from __future__ import annotations

from typing import Any

from ue_backup.backup_set import BackupSet


class BackupSetMixin:
    """Operators that create artifacts name and tag them from ``backup_set_id``.

    The set id is a template field, so a DAG passes it from the run's first
    task; the run id (a tag on every artifact) comes from the context.
    """

    backup_set_id: str

    def backup_set(self, context: Any) -> BackupSet:
        return BackupSet.parse(self.backup_set_id, run_id=str(context.get("run_id") or ""))
