"""Build ``dist/plugins.zip`` for Amazon MWAA: ``python scripts/mwaa_package.py [--out PATH]``.

MWAA unpacks ``plugins.zip`` into its plugins folder, which is on the Python
path of every component (scheduler, DAG processor, workers, triggerer). So the
archive holds the package ``ue_backup/`` at its root, with every module and
every waiter definition (``ue_backup/waiters/*.json``): the triggerer imports
the triggers by their class path (``ue_backup.triggers...``) and the hooks
read the waiter files next to their module.

The archive is deterministic: the same sources give the same bytes (sorted
entries, fixed timestamps and permissions), so its S3 object version only
changes when the plugins do.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "ue_backup"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
SKIPPED_DIRS = {"__pycache__"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}


def package_files(plugins: Path) -> Iterator[Path]:
    """Every file of the package, sorted, without bytecode caches."""
    root = plugins / PACKAGE
    if not (root / "__init__.py").is_file():
        raise FileNotFoundError(f"no package {PACKAGE!r} in {plugins}")
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(plugins)
        hidden = any(part.startswith(".") for part in relative.parts)
        if path.is_file() and not (
            hidden or SKIPPED_DIRS.intersection(relative.parts) or path.suffix in SKIPPED_SUFFIXES
        ):
            yield path


def build(out: Path, plugins: Path = REPO / "plugins") -> list[str]:
    """Write the archive to ``out``; returns the names of its entries."""
    names = []
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in package_files(plugins):
            name = path.relative_to(plugins).as_posix()
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100644 & 0xFFFF) << 16  # a regular file, rw-r--r--
            info.create_system = 3  # Unix, so the permissions above are read back
            archive.writestr(info, path.read_bytes(), compresslevel=9)
            names.append(name)
    tmp.replace(out)
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist" / "plugins.zip")
    parser.add_argument("--plugins", type=Path, default=REPO / "plugins")
    args = parser.parse_args(argv)
    names = build(args.out, args.plugins)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    waiters = [name for name in names if name.endswith(".json")]
    print(f"{args.out}: {len(names)} files ({len(waiters)} waiter definitions), sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
