"""Retention of a DataSync installation: which set folders go, checked, and the Job's script.

A DataSync set's copy is a folder of its own on the target file system
(``datasync_sets``), written by the set's task into the set's destination
location. Retention deletes all three; EFS has no API for files, so the folder
is removed by a Kubernetes Job that mounts the target file system (the
hardened EFS Jobs of ``hooks.kube_job``). Removing the wrong folder is the
mistake to rule out, so a folder is checked twice before it goes, each time
against the configuration and not against what AWS happens to say:

- here, before anything changes (``doomed_folders``): it is a set's folder the
  decision deletes, of this installation, on the configured target file system
  (never the live one), exactly ``<target_subdirectory>/<set id>`` (never ``/``,
  never the subdirectory itself, never a path with ``.`` or ``..``), named by a
  set task (never the template task), and no kept set names it; a copy whose
  task could not be read is never removed (``unreadable_copies``);
- by the Job's script (``remove_folders_script``) where the data is: each path
  must match the set-folder pattern under the subdirectory, be a directory and
  resolve to itself (no symbolic link on the way); one refusal and nothing at
  all is removed. A folder already gone counts as removed, so a retry is safe.

Pure: rules, names and text; the calls are ``tasks.retention_datasync``'s.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ue_backup.backup_set import BACKUP_SET_TAG, INSTALLATION_TAG
from ue_backup.datasync_sets import folder_of, set_folder
from ue_backup.errors import PermanentFailure
from ue_backup.names import fit
from ue_backup.retention import KEEP, ownership_problem, to_delete
from ue_backup.retention_artifacts import DATASYNC_FOLDER, UNREADABLE, Artifact

# How much of the installation name the retention Job's name keeps (a DNS-1123 label of at
# most 63 characters: <24>-retention-<10 hex>-t<try>).
JOB_INSTALLATION_KEEP = 24
REMOVED, ALREADY_GONE = "removed", "already gone"
NOT_A_SET_FOLDER = "not a backup set folder under the target subdirectory"


@dataclass(frozen=True)
class DoomedFolder:
    """One set's DataSync copy that retention deletes: its folder, task and location."""

    backup_set: str
    task_arn: str
    location_arn: str
    file_system_id: str
    folder: str


def folder_problem(folder: Any, set_id: str, subdirectory: str) -> str | None:
    """Why ``folder`` is not set ``set_id``'s folder under ``subdirectory``, or None."""
    if not isinstance(folder, str) or not folder.startswith("/"):
        return f"{folder!r} is not an absolute path"
    if any(part in ("", ".", "..") for part in folder.split("/")[1:]):
        return f"{folder!r} is the root, or has an empty, '.' or '..' part"
    base = "/" + subdirectory.strip("/")
    if folder.rstrip("/") == base:
        return f"{folder!r} is the target subdirectory itself"
    if any(part in (".", "..") for part in base.split("/")):
        return f"the target subdirectory {subdirectory!r} has a '.' or '..' part"
    expected = set_folder(subdirectory, set_id)
    if folder != expected:
        return f"{folder!r} is not set {set_id}'s folder {expected!r}"
    return None


def _folders(sets: Iterable[Mapping[str, Any]]) -> list[tuple[str, Artifact]]:
    return [
        (backup_set["backup_set"], Artifact.from_json(data))
        for backup_set in sets
        for data in backup_set["artifacts"]
        if data["kind"] == DATASYNC_FOLDER
    ]


def doomed_folders(
    decision: Mapping[str, Any],
    *,
    installation: str,
    target_file_system_id: str,
    subdirectory: str,
    live_file_system_id: str,
    template_task_arn: str | None = None,
) -> list[DoomedFolder]:
    """The DataSync copies of the sets the decision deletes, oldest set first.

    Raises ``PermanentFailure`` naming every problem when any copy is not
    exactly what retention may delete (see the module doc): nothing is then
    changed, for any set.
    """
    kept = {a.folder for _, a in _folders(s for s in decision["sets"] if s["action"] == KEEP)}
    doomed, problems = [], []
    for set_id, a in _folders(to_delete(decision)):
        if a.state == UNREADABLE:  # nothing known to check it by: left (unreadable_copies)
            continue
        found = [
            ownership_problem(a, installation),
            None if a.backup_set == set_id else f"it is not of set {set_id}",
            None if a.location else "it names no destination location",
            None
            if a.container == target_file_system_id
            else f"it is on {a.container}, not the target file system {target_file_system_id}",
            "it is on the live file system" if a.container == live_file_system_id else None,
            "it is the template task" if template_task_arn and a.id == template_task_arn else None,
            folder_problem(a.folder, set_id, subdirectory),
            f"a kept set's copy is in {a.folder!r} too" if a.folder in kept else None,
        ]
        reasons = [reason for reason in found if reason]
        if reasons:
            problems.append(f"{a.label}: {'; '.join(reasons)}")
            continue
        doomed.append(DoomedFolder(set_id, a.id, str(a.location), str(a.container), str(a.folder)))
    if problems:
        raise PermanentFailure(
            "refusing to delete these DataSync copies (nothing was changed):\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    return doomed


def unreadable_copies(decision: Mapping[str, Any]) -> list[str]:
    """The doomed sets' copies whose task could not be read when listed: never removed.

    Without its task's description there is no folder or location to check, so
    retention leaves such a copy (and, since its task is still listed, its set's
    manifest) for a person to look at; the run fails on it in ``delete``.
    """
    return [a.label for _, a in _folders(to_delete(decision)) if a.state == UNREADABLE]


def task_problem(doomed: DoomedFolder, task: Mapping[str, Any]) -> str | None:
    """Why the set's task (DescribeTask) may not be deleted with its folder, or None.

    It must still write into the set's location: a task changed to write elsewhere
    (or to read from the set's folder) is not the set's copy any more.
    """
    if task.get("DestinationLocationArn") != doomed.location_arn:
        return (
            f"task {doomed.task_arn} writes into {task.get('DestinationLocationArn')}, "
            f"not the set's location {doomed.location_arn}"
        )
    if task.get("SourceLocationArn") == doomed.location_arn:
        return f"task {doomed.task_arn} reads from the set's location"
    return None


def location_problem(
    doomed: DoomedFolder,
    installation: str,
    tags: Mapping[str, str],
    location_uri: str,
    users: Iterable[str],
) -> str | None:
    """Why the set's destination location may not be deleted, or None.

    It must be tagged with the installation and the set (the live file system's
    location, shared by every set's task, carries no set: it is never deleted),
    name the set's folder on the target file system (``LocationUri``), and no
    task may use it any more (``users``: ListTasks by location, after the set's
    own task went; a restore's task reading the folder, say).
    """
    owner = (tags.get(INSTALLATION_TAG), tags.get(BACKUP_SET_TAG))
    if owner != (installation, doomed.backup_set):
        return (
            f"location {doomed.location_arn} is tagged {owner}, "
            f"not ({installation!r}, {doomed.backup_set!r})"
        )
    where = folder_of(location_uri)
    if where != (doomed.file_system_id, doomed.folder):
        return (
            f"location {doomed.location_arn} names {where[0]}:{where[1]}, "
            f"not {doomed.file_system_id}:{doomed.folder}"
        )
    users = sorted(users)
    if users:
        return f"location {doomed.location_arn} is still used by task(s) {', '.join(users)}"
    return None


def remove_folders_script(
    mount: str, folders: Iterable[str], subdirectory: str, installation: str
) -> str:
    """The Job's script: check every folder, then remove each (gone already: fine).

    ``mount`` is where the target file system is mounted. The paths are used
    relative to it (``cd`` first), so no path the script touches is outside
    it; each must match ``<subdirectory>/<installation>-<yyyymmdd>t<hhmmss>z``
    (a shell pattern, the subdirectory quoted), be a directory and resolve to
    itself with ``pwd -P``. Only POSIX sh, cd, pwd, rm.
    """
    relative = [folder.strip("/") for folder in folders]
    base = subdirectory.strip("/")
    digits = "[0-9]" * 8 + "t" + "[0-9]" * 6 + "z"
    pattern = shlex.quote(f"{base + '/' if base else ''}{installation}-") + digits
    listed = " ".join(shlex.quote(r) for r in relative)
    refuse = 'echo "refusing /$folder: {why}; nothing was removed"; exit 1'
    return "\n".join(
        [
            "set -eu",
            f"cd {shlex.quote(mount)}",
            "root=$(pwd -P)",
            f"for folder in {listed}; do",
            '  case "$folder" in',
            f"    {pattern}) ;;",
            f"    *) {refuse.format(why=NOT_A_SET_FOLDER)} ;;",
            "  esac",
            '  case "$folder" in',
            f"    */./*|*/../*|./*|../*) {refuse.format(why='a . or .. in the path')} ;;",
            "  esac",
            '  if [ -L "$folder" ]; then',
            f"    {refuse.format(why='a symbolic link')}",
            "  fi",
            '  if [ -e "$folder" ]; then',
            '    if [ ! -d "$folder" ]; then',
            f"      {refuse.format(why='not a directory')}",
            "    fi",
            '    real=$(cd "$folder" && pwd -P)',
            '    if [ "$real" != "$root/$folder" ]; then',
            f"      {refuse.format(why='a symbolic link on its path')}",
            "    fi",
            "  fi",
            "done",
            f"for folder in {listed}; do",
            '  if [ ! -e "$folder" ]; then',
            f'    echo "{ALREADY_GONE}: /$folder"',
            "    continue",
            "  fi",
            '  rm -rf -- "$folder"',
            '  if [ -e "$folder" ]; then',
            '    echo "still there after rm: /$folder"; exit 1',
            "  fi",
            f'  echo "{REMOVED}: /$folder"',
            "done",
        ]
    )


def job_name(installation: str, now: str, folders: Iterable[str], try_number: int) -> str:
    """The retention Job's name: the run (its time) and what it removes, and the try.

    A retry after a failed Job must not adopt it (``KubeJobHook.run_job`` takes an
    existing Job of its name as its own), so each try has its own; a second run at
    the same second with other folders must not either, so the folders count too.
    """
    digest = hashlib.sha256("\n".join([now, *folders]).encode()).hexdigest()[:10]
    return f"{fit(installation, JOB_INSTALLATION_KEEP)}-retention-{digest}-t{try_number}"


def claim_name(file_system_id: str) -> str:
    """The claim (and, with its namespace, the volume) that mounts the target file system:
    one per target, made by the first run and found by every later one."""
    return f"ue-backup-retention-{file_system_id}"
