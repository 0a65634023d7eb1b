"""Shell scripts for the Kubernetes Jobs that finish an EFS restore.

AWS Backup never overwrites: a restore lands in ``aws-backup-restore_<ts>/``
off the file system's root, temporary files included (AWS Backup cannot
exclude paths). ``place_restored_tree`` turns that into a usable file system
before any workflow can see it: it purges the temporary files (rule 2, from
``temp_files``), sets whatever was live aside in ``ue-backup-replaced_<id>/``
(kept for the operator to delete once satisfied; never deleted here), and
moves the restored tree to the root. Only POSIX sh, find, ls and mv are
used, so any small image runs them.
"""

from __future__ import annotations

import shlex

from ue_backup.temp_files import check_clean_command, purge_command

RESTORE_DIR_GLOB = "aws-backup-restore_*"
ASIDE_PREFIX = "ue-backup-replaced_"
DONE_MARKER = ".ue-backup-restored"


def place_restored_tree(mount: str, restore_id: str) -> str:
    """The script that purges the newest restore directory and moves it into place.

    Idempotent: once done, the marker file names this restore and a second
    run only says so.
    """
    aside = shlex.quote(f"{ASIDE_PREFIX}{restore_id}")
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
            f"restored=$(ls -d {RESTORE_DIR_GLOB} 2>/dev/null | sort | tail -n 1)",
            'if [ -z "$restored" ]; then',
            "  echo 'no aws-backup-restore_ directory on this file system'; exit 1",
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
