"""Velero's object storage, as plain directories under the sandbox root.

The layout mirrors what Velero uploads (uncompressed): ``backups/<name>/velero-backup.json``
and ``backups/<name>/resources/<group-resource>/namespaces/<ns>/<name>.json`` (or
``.../cluster/<name>.json``), and ``restores/<name>/results.json`` with the restore's
warnings and errors, so a test can look at exactly what a backup holds.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from sandbox.k8s.resources import by_name
from sandbox.k8s.store import Obj
from sandbox.k8s.velero.selection import Item


class BackupStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def _backup_dir(self, name: str) -> Path:
        return self.root / "backups" / name

    def write_backup(self, backup: Obj, items: list[Item]) -> None:
        directory = self._backup_dir(backup["metadata"]["name"])
        shutil.rmtree(directory, ignore_errors=True)
        resources = directory / "resources"
        for rt, obj in items:
            scope = f"namespaces/{obj['metadata']['namespace']}" if rt.namespaced else "cluster"
            path = resources / rt.group_resource / scope / f"{obj['metadata']['name']}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(obj, indent=2, sort_keys=True))
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "velero-backup.json").write_text(json.dumps(backup, indent=2, sort_keys=True))

    def delete_backup(self, name: str) -> None:
        """What Velero's deletion removes from the bucket: the backup's files."""
        shutil.rmtree(self._backup_dir(name), ignore_errors=True)

    def has_backup(self, name: str) -> bool:
        return (self._backup_dir(name) / "velero-backup.json").is_file()

    def read_items(self, name: str) -> list[Item]:
        """The backed-up objects, each with its resource type, in a stable order."""
        resources = self._backup_dir(name) / "resources"
        return [
            (by_name(path.relative_to(resources).parts[0]), json.loads(path.read_text()))
            for path in sorted(resources.rglob("*.json"))
        ]

    def write_restore_results(self, name: str, results: dict[str, Any]) -> None:
        path = self.root / "restores" / name / "results.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2, sort_keys=True))

    def read_restore_results(self, name: str) -> dict[str, Any] | None:
        path = self.root / "restores" / name / "results.json"
        return json.loads(path.read_text()) if path.is_file() else None
