"""The temporary entries of a real directory tree: the tests' oracle for rule 2.

The product removes and checks temporary files with shell commands run in a
Kubernetes Job (``temp_files.purge_command`` / ``check_clean_command``) and
keeps them out of DataSync copies with a filter (``datasync_excludes``). The
tests compare what those do on a real tree with this walk, built on the rule's
Python predicate ``temp_files.is_temporary``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ue_backup.temp_files import is_temporary


def find_temporary(root: str | os.PathLike[str]) -> list[str]:
    """The top-most temporary entries under ``root``, as sorted relative POSIX paths.

    Entries below a temporary folder are not listed again: removing the
    listed ones removes everything temporary.
    """
    root = Path(root)
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = Path(dirpath).relative_to(root)
        for name in list(dirnames):
            path = (rel / name).as_posix()
            if is_temporary(path, is_dir=True):
                found.append(path)
                dirnames.remove(name)  # do not descend: everything below is temporary
        found.extend(
            (rel / name).as_posix()
            for name in filenames
            if is_temporary((rel / name).as_posix(), is_dir=False)
        )
    return sorted(found)
