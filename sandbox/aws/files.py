"""Local directories standing in for EFS file systems and AWS Backup's storage.

Each file system's contents are a real directory, ``<root>/efs/<fs-id>/``, so
a test (or the demo's purge Job) writes files the way a workflow would, and a
backup, a restore or a DataSync copy moves real files. Recovery points are kept
as plain copies under ``<root>/recovery-points/<id>/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

Skip = Callable[[str], bool]


@dataclass(frozen=True)
class TreeSize:
    files: int
    bytes: int


class EfsFiles:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._file_systems = root / "efs"
        self._recovery_points = root / "recovery-points"

    def file_system(self, fs_id: str) -> Path:
        """The directory that is the file system's contents, created on demand."""
        path = self._file_systems / fs_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def remove_file_system(self, fs_id: str) -> None:
        shutil.rmtree(self._file_systems / fs_id, ignore_errors=True)

    def recovery_point(self, point_id: str) -> Path:
        """Where a recovery point's copy of the data is kept (not created here)."""
        return self._recovery_points / point_id

    def clear(self) -> None:
        """Forget every file system's and recovery point's contents."""
        for area in (self._file_systems, self._recovery_points):
            shutil.rmtree(area, ignore_errors=True)
            area.mkdir(parents=True, exist_ok=True)


def _walk(source: Path, skip: Skip) -> Iterator[tuple[Path, list[str]]]:
    """Each folder under ``source`` (relative) with its files, leaving out skipped paths.

    ``skip`` gets each entry's path relative to ``source`` with a leading ``/``;
    a skipped folder is left out with everything below it.
    """
    for dirpath, dirnames, filenames in os.walk(source):
        inside = Path(dirpath).relative_to(source)
        prefix = "" if inside == Path(".") else f"/{inside.as_posix()}"
        dirnames[:] = [d for d in dirnames if not skip(f"{prefix}/{d}")]
        yield inside, [name for name in filenames if not skip(f"{prefix}/{name}")]


def _keep_all(_: str) -> bool:
    return False


def tree_size(path: Path, skip: Skip = _keep_all) -> TreeSize:
    """The files under ``path`` (those ``skip`` leaves) and their total size."""
    files = size = 0
    for inside, names in _walk(path, skip):
        files += len(names)
        size += sum(os.lstat(path / inside / name).st_size for name in names)
    return TreeSize(files, size)


def copy_tree(source: Path, destination: Path, skip: Skip = _keep_all) -> TreeSize:
    """Copy ``source`` into ``destination``, merging and overwriting; returns what was copied."""
    for inside, names in _walk(source, skip):
        target = destination / inside
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copy2(source / inside / name, target / name)
    return tree_size(source, skip)


def copy_changed(source: Path, destination: Path, since: float, until: float) -> None:
    """Copy the files of ``source`` modified between ``since`` and ``until`` into ``destination``.

    This is how writes made while an EFS backup runs end up in the recovery
    point: AWS Backup reads the file system over the job's duration, not at
    one instant.
    """
    for inside, names in _walk(source, _keep_all):
        for name in names:
            path = source / inside / name
            if since <= os.lstat(path).st_mtime <= until:
                (destination / inside).mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, destination / inside / name)
