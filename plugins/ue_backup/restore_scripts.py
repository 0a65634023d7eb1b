"""Shell scripts for the Kubernetes Jobs that finish an EFS restore.

AWS Backup never overwrites: a restore lands in ``aws-backup-restore_<ts>/``
off the file system's root, temporary files included (AWS Backup cannot
exclude paths). The restore turns that into a usable file system before any
workflow can see it, in steps that keep the live data untouched until the
commit:

- ``stage_restored_tree`` (preparation): the restore directory becomes
  ``ue-backup-restoring_<id>/`` and its temporary files are purged (rule 2,
  from ``temp_files``);
- ``check_staged_tree`` (preparation): it exists, holds files and is clean;
- ``place_staged_tree`` (the commit): whatever was live is set aside in
  ``ue-backup-replaced_<id>/`` (kept for the operator to delete once
  satisfied; never deleted here) and the staged tree moves to the root;
- ``discard_staged_tree``: after a failure before the commit, this restore's
  directories are removed and the live file system is as it was.

``place_restored_tree`` does stage and place in one go, for a file system
nobody uses (the drill's).

A DataSync copy (``datasync_sets``) writes its tree straight into
``ue-backup-restoring_<id>/``: ``stage_restored_tree`` then finds it staged
already and only purges, and the later steps are the same. Only POSIX sh,
find, sort, ls and mv are used, so any small image runs them.
"""

from __future__ import annotations

import shlex

from ue_backup.temp_files import check_clean_command, purge_command

RESTORE_DIR_PREFIX = "aws-backup-restore_"
RESTORE_DIR_GLOB = f"{RESTORE_DIR_PREFIX}*"
ASIDE_PREFIX = "ue-backup-replaced_"
# A restore's own tree before it is placed: a staged AWS Backup directory, or where a
# DataSync copy lands (datasync_sets.restore_folder).
STAGE_PREFIX = "ue-backup-restoring_"
DONE_MARKER = ".ue-backup-restored"
# Written once the live data is set aside, removed once the restored tree is placed.
PLACING_MARKER = ".ue-backup-placing"


def place_restored_tree(mount: str, restore_id: str) -> str:
    """The script that purges this restore's tree and moves it into place.

    The tree is ``ue-backup-restoring_<id>/`` when a DataSync copy wrote it
    there (``datasync_sets.restore_folder``), else the newest
    ``aws-backup-restore_*`` directory. Idempotent: once done, the marker file
    names this restore and a second run only says so.
    """
    aside = shlex.quote(f"{ASIDE_PREFIX}{restore_id}")
    stage = shlex.quote(f"{STAGE_PREFIX}{restore_id}")
    marker = shlex.quote(DONE_MARKER)
    rid = shlex.quote(restore_id)
    purge = purge_command(".")[2]
    return "\n".join(
        [
            "set -eu",
            f"cd {shlex.quote(mount)}",
            f'if [ -f {marker} ] && [ "$(cat {marker})" = {rid} ]; then',
            f"  echo 'restore {restore_id} is in place already'; exit 0",
            "fi",
            f"if [ -d {stage} ]; then restored={stage}; else",
            f"  restored=$(ls -d {RESTORE_DIR_GLOB} 2>/dev/null | sort | tail -n 1)",
            "fi",
            'if [ -z "$restored" ]; then',
            f"  echo 'no aws-backup-restore_ directory (nor {STAGE_PREFIX}{restore_id}) on this "
            "file system'; exit 1",
            "fi",
            'echo "purging temporary files in $restored"',
            f'(cd "$restored" && {purge})',
            f"mkdir -p {aside}",
            "for entry in * .[!.]* ..?*; do",
            '  [ -e "$entry" ] || continue',
            '  case "$entry" in',
            f'    "$restored"|{ASIDE_PREFIX}*) continue ;;',
            "  esac",
            f'  mv "$entry" {aside}/',
            "done",
            'for entry in "$restored"/* "$restored"/.[!.]* "$restored"/..?*; do',
            '  [ -e "$entry" ] || continue',
            '  mv "$entry" ./',
            "done",
            'rmdir "$restored"',
            f"rmdir {aside} 2>/dev/null || echo 'the data that was live is kept in {aside}/'",
            f"echo {rid} > {marker}",
            f"echo 'restore {restore_id} is in place'",
        ]
    )


def check_restored_tree(mount: str) -> str:
    """The script that fails if the restored tree holds a temporary file (set-aside data aside)."""
    return check_clean_command(mount, skip=(f"{ASIDE_PREFIX}*",))[2]


def _at_or_after(cutoff: str, then: str) -> list[str]:
    """sh lines running ``then`` for each restore directory whose name sorts at or after ``cutoff``.

    AWS names the directory after the restore's UTC time, so names sort by time.
    """
    return [
        f"for candidate in {RESTORE_DIR_GLOB}; do",
        '  [ -d "$candidate" ] || continue',
        f'  first=$(printf "%s\\n%s\\n" {cutoff} "$candidate" | LC_ALL=C sort | head -n 1)',
        f'  if [ "$first" = {cutoff} ]; then {then}; fi',
        "done",
    ]


def _placed_already(restore_id: str) -> list[str]:
    marker, rid = shlex.quote(DONE_MARKER), shlex.quote(restore_id)
    return [
        f'if [ -f {marker} ] && [ "$(cat {marker})" = {rid} ]; then',
        f"  echo 'restore {restore_id} is in place already'; exit 0",
        "fi",
    ]


def _require_stage(restore_id: str) -> str:
    name = f"{STAGE_PREFIX}{restore_id}"
    return f"if [ ! -d {shlex.quote(name)} ]; then echo 'no staged tree {name}'; exit 1; fi"


def restore_dir_name_since(when: str | None, margin_seconds: int = 60) -> str:
    """The ``aws-backup-restore_`` time of ``when`` less a margin for clock skew ("" for None).

    A restore's directory is named after the time AWS ran it, after the run
    suspended the workflows: directories named before that are not this
    restore's.
    """
    if not when:
        return ""
    from datetime import UTC, datetime, timedelta

    moment = datetime.fromisoformat(when).astimezone(UTC) - timedelta(seconds=margin_seconds)
    return f"{moment:%Y-%m-%dT%H-%M-%S}"


def stage_restored_tree(mount: str, restore_id: str, since: str = "") -> str:
    """Preparation, nothing live touched: name the restore directory after the restore, purge it.

    The newest ``aws-backup-restore_*`` directory named at or after ``since``
    (see ``restore_dir_name_since``; empty: any) becomes
    ``ue-backup-restoring_<id>/``, so later steps, and the clean-up of a failed
    restore, find exactly this restore's tree; its temporary files are
    removed (rule 2). Idempotent: a second run finds the staged tree and
    purges again.
    """
    name = f"{STAGE_PREFIX}{restore_id}"
    stage, cutoff = shlex.quote(name), shlex.quote(f"{RESTORE_DIR_PREFIX}{since}")
    purge = purge_command(".")[2]
    return "\n".join(
        [
            "set -eu",
            f"cd {shlex.quote(mount)}",
            *_placed_already(restore_id),
            f"if [ ! -d {stage} ]; then",
            "  restored=''",
            *("  " + line for line in _at_or_after(cutoff, 'restored="$candidate"')),
            '  if [ -z "$restored" ]; then',
            f"    echo 'no aws-backup-restore_ directory named at or after {since or 'any time'}'",
            "    exit 1",
            "  fi",
            f'  mv "$restored" {stage}',
            f'  echo "restore directory $restored is now {name}"',
            "fi",
            f"echo 'purging temporary files in {name}'",
            f"(cd {stage} && {purge})",
        ]
    )


def check_staged_tree(mount: str, restore_id: str) -> str:
    """Preparation: fail unless this restore's staged tree exists, holds files and is clean."""
    name = f"{STAGE_PREFIX}{restore_id}"
    return "\n".join(
        [
            "set -eu",
            f"cd {shlex.quote(mount)}",
            *_placed_already(restore_id),
            _require_stage(restore_id),
            f'if [ -z "$(find {shlex.quote(name)} -type f | head -n 1)" ]; then',
            f"  echo 'the restored tree {name} holds no file'; exit 1",
            "fi",
            check_clean_command(f"{mount.rstrip('/')}/{name}")[2],
        ]
    )


def place_staged_tree(mount: str, restore_id: str) -> str:
    """The commit on disk: set the live data aside, then move the staged tree to the root.

    Two phases, each safe to re-run: everything at the root (but set-aside
    and staged trees) moves into ``ue-backup-replaced_<id>/`` and
    ``.ue-backup-placing`` records that this is done; then the staged
    entries move to the root, the staged directory goes and the marker names
    the restore. A retry after a failure in phase two sets no restored entry
    aside. Wherever it stopped, each entry is in exactly one of the root,
    ``ue-backup-replaced_<id>/`` (what was live) and
    ``ue-backup-restoring_<id>/`` (restored, not yet placed).
    """
    aside, stage = shlex.quote(ASIDE_PREFIX + restore_id), shlex.quote(STAGE_PREFIX + restore_id)
    marker, placing = shlex.quote(DONE_MARKER), shlex.quote(PLACING_MARKER)
    rid = shlex.quote(restore_id)
    return "\n".join(
        [
            "set -eu",
            f"cd {shlex.quote(mount)}",
            *_placed_already(restore_id),
            _require_stage(restore_id),
            f'if [ ! -f {placing} ] || [ "$(cat {placing})" != {rid} ]; then',
            f"  mkdir -p {aside}",
            "  for entry in * .[!.]* ..?*; do",
            '    [ -e "$entry" ] || continue',
            '    case "$entry" in',
            f"      {ASIDE_PREFIX}*|{STAGE_PREFIX}*) continue ;;",
            "    esac",
            f'    mv "$entry" {aside}/',
            "  done",
            f"  echo {rid} > {placing}",
            f"  echo 'the data that was live is set aside in {ASIDE_PREFIX}{restore_id}/'",
            "fi",
            f"for entry in {stage}/* {stage}/.[!.]* {stage}/..?*; do",
            '  [ -e "$entry" ] || continue',
            '  mv "$entry" ./',
            "done",
            f"rmdir {stage}",
            f"rmdir {aside} 2>/dev/null || true",
            f"echo {rid} > {marker}",
            f"rm -f {placing}",
            f"echo 'restore {restore_id} is in place'",
        ]
    )


def discard_staged_tree(mount: str, restore_id: str, since: str = "") -> str:
    """After a failure before the commit: remove this restore's trees from the live file system.

    Removes ``ue-backup-restoring_<id>/`` and every ``aws-backup-restore_*``
    directory named at or after ``since`` (this restore's, not yet staged).
    Refuses, removing nothing, once the commit began on this file system
    (``.ue-backup-placing`` or the marker names this restore).
    """
    name = f"{STAGE_PREFIX}{restore_id}"
    cutoff = shlex.quote(f"{RESTORE_DIR_PREFIX}{since}")
    rid = shlex.quote(restore_id)
    return "\n".join(
        [
            "set -eu",
            f"cd {shlex.quote(mount)}",
            f"for done in {shlex.quote(DONE_MARKER)} {shlex.quote(PLACING_MARKER)}; do",
            f'  if [ -f "$done" ] && [ "$(cat "$done")" = {rid} ]; then',
            f"    echo 'restore {restore_id} was placed here: nothing removed'; exit 1",
            "  fi",
            "done",
            f"rm -rf {shlex.quote(name)}",
            *_at_or_after(cutoff, 'rm -rf "$candidate"; echo "removed $candidate/"'),
            f"echo 'no tree of restore {restore_id} is left on this file system'",
        ]
    )
