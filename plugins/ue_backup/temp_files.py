"""Rule 2: temporary files are never part of a restored system.

This module is the one definition of what is temporary. Every consumer
derives from it, so they cannot drift apart:

- ``datasync_excludes()``: the DataSync exclude filter (never copied);
- ``purge_command()``: the shell command of the Kubernetes Job that removes
  them after an AWS Backup restore (AWS Backup cannot exclude paths);
- ``check_clean_command()``: the Job that verifies a restored tree is clean;
- ``is_temporary()``: the Python predicate of the same rule, for code that
  judges names itself.

What is temporary (Usage Engine's own working areas):

- any file or folder whose name starts with ``TEMP.``;
- the duplicate-UDR folder ``tmp/``, the inter-workflow folder
  ``DR_TMP_DIR/`` and the archiving folder ``pending/``, wherever they are in
  the tree, with everything below them.
"""

from __future__ import annotations

import shlex
from pathlib import PurePosixPath

TEMP_NAME_PREFIX = "TEMP."
TEMP_FOLDER_NAMES: tuple[str, ...] = ("tmp", "DR_TMP_DIR", "pending")


def _is_temp_name(name: str) -> bool:
    return name.startswith(TEMP_NAME_PREFIX)


def is_temporary(relative_path: str | PurePosixPath, is_dir: bool = False) -> bool:
    """True when the entry at ``relative_path`` (from the file system root) is temporary.

    A path is temporary when it lies below a temporary folder, when any part
    of it starts with ``TEMP.``, or when it is itself one of the temporary
    folders. A *file* named ``tmp`` is not temporary; only the folder is.
    """
    parts = PurePosixPath(relative_path).parts
    parts = tuple(p for p in parts if p not in ("/", "."))
    if not parts:
        return False
    *ancestors, name = parts
    if any(a in TEMP_FOLDER_NAMES or _is_temp_name(a) for a in ancestors):
        return True
    return _is_temp_name(name) or (is_dir and name in TEMP_FOLDER_NAMES)


def datasync_excludes() -> list[dict[str, str]]:
    """The DataSync ``Excludes`` filter for an EFS-to-EFS task.

    DataSync matches patterns against the path from the location root
    (``/a/b/TEMP.x``), ``*`` spans any characters including ``/``, and a
    matched folder is excluded with its contents. DataSync cannot tell a file
    from a folder, so a *file* named ``tmp`` is excluded too: the only place
    where this filter is stricter than ``is_temporary``.
    """
    patterns = [f"*/{TEMP_NAME_PREFIX}*"] + [f"*/{name}" for name in TEMP_FOLDER_NAMES]
    return [{"FilterType": "SIMPLE_PATTERN", "Value": "|".join(patterns)}]


def _find_temporary(root: str, skip: tuple[str, ...] = ()) -> str:
    """The ``find`` expression (sh syntax) matching every top-most temporary entry under ``root``.

    ``skip`` names top-level entries (glob patterns) that are not looked into.
    """
    folders = " -o ".join(f"-name {shlex.quote(n)}" for n in TEMP_FOLDER_NAMES)
    skipped = "".join(
        f"-path {shlex.quote(root.rstrip('/') + '/' + pattern)} -prune -o " for pattern in skip
    )
    return (
        f"find {shlex.quote(root)} -mindepth 1 {skipped}"
        f"\\( \\( -type d \\( {folders} \\) \\) -o -name {shlex.quote(TEMP_NAME_PREFIX + '*')} \\) "
        f"-prune"
    )


def purge_command(root: str, dry_run: bool = False) -> list[str]:
    """A ``sh -c`` command that removes (or, dry run, lists) every temporary entry under ``root``.

    Uses only POSIX ``find`` and ``rm`` so that it runs in a minimal image.
    Each removed path is printed first, so the Job's log says what went.
    """
    action = "-print" if dry_run else "-print -exec rm -rf {} +"
    return ["sh", "-c", f"set -eu; {_find_temporary(root)} {action}"]


def check_clean_command(root: str, skip: tuple[str, ...] = ()) -> list[str]:
    """A ``sh -c`` command that fails, listing them, if any temporary entry is under ``root``.

    Top-level entries matching ``skip`` (e.g. data set aside by a restore) are not checked.
    """
    script = (
        f"set -eu; found=$({_find_temporary(root, skip)} -print); "
        'if [ -n "$found" ]; then echo "temporary files present:"; echo "$found"; exit 1; fi; '
        f"echo {shlex.quote(root)} holds no temporary file"
    )
    return ["sh", "-c", script]
