"""Rule 2 on real directory trees: every consumer of the rules agrees."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.plugins.temp_tree import find_temporary
from ue_backup.temp_files import (
    TEMP_FOLDER_NAMES,
    check_clean_command,
    datasync_excludes,
    is_temporary,
    purge_command,
)

# A Usage Engine-like tree: (path, is_dir) with the expected verdict.
TREE = {
    "aggregation/session-1/data.bin": False,
    "aggregation/session-1/TEMP.data.bin": True,
    "TEMP.root-file": True,
    "duplicate-udr/wf1/tmp/chunk-1": True,
    "duplicate-udr/wf1/index.db": False,
    "interworkflow/DR_TMP_DIR/batch-7": True,
    "interworkflow/out/batch-6": False,
    "archive/pending/file-9": True,
    "archive/done/file-8": False,
    "archive/done/tmp": False,  # a *file* named tmp is kept
    "notes/TEMPLATE.txt": False,  # prefix is TEMP. with the dot
    "notes/temp.lower": False,  # case-sensitive
    "deep/a/b/c/pending/x/y": True,
    "deep/a/TEMP.dir/inside": True,
}


def make_tree(root: Path) -> None:
    for rel in TREE:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)


@pytest.mark.parametrize(("path", "expected"), TREE.items())
def test_predicate_on_files(path, expected):
    assert is_temporary(path) is expected


@pytest.mark.parametrize("name", TEMP_FOLDER_NAMES)
def test_temporary_folders_themselves(name):
    assert is_temporary(f"a/{name}", is_dir=True)
    assert is_temporary(name, is_dir=True)
    assert not is_temporary(f"a/{name}", is_dir=False)
    assert not is_temporary(f"a/{name}x", is_dir=True)


def test_root_is_not_temporary():
    assert not is_temporary("")
    assert not is_temporary("/")


def test_find_lists_top_most_temporary_entries(tmp_path):
    make_tree(tmp_path)
    assert find_temporary(tmp_path) == sorted(
        [
            "TEMP.root-file",
            "aggregation/session-1/TEMP.data.bin",
            "archive/pending",
            "deep/a/TEMP.dir",
            "deep/a/b/c/pending",
            "duplicate-udr/wf1/tmp",
            "interworkflow/DR_TMP_DIR",
        ]
    )


def all_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_purge_command_removes_exactly_the_temporary_entries(tmp_path):
    make_tree(tmp_path)
    result = subprocess.run(
        purge_command(str(tmp_path)), capture_output=True, text=True, check=True
    )
    assert all_files(tmp_path) == {p for p, temp in TREE.items() if not temp}
    assert find_temporary(tmp_path) == []
    assert "duplicate-udr/wf1/tmp" in result.stdout  # the log says what went


def test_purge_dry_run_changes_nothing(tmp_path):
    make_tree(tmp_path)
    result = subprocess.run(
        purge_command(str(tmp_path), dry_run=True), capture_output=True, text=True, check=True
    )
    assert all_files(tmp_path) == set(TREE)
    listed = {Path(line).relative_to(tmp_path).as_posix() for line in result.stdout.split()}
    assert listed == set(find_temporary(tmp_path))


def test_purge_of_a_clean_tree_succeeds(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "keep").write_text("x")
    subprocess.run(purge_command(str(tmp_path)), check=True)
    assert all_files(tmp_path) == {"a/keep"}


def datasync_excluded(path: str) -> bool:
    """DataSync's SIMPLE_PATTERN: '*' spans anything, a matched folder covers its contents."""
    (flt,) = datasync_excludes()
    assert flt["FilterType"] == "SIMPLE_PATTERN"
    full = "/" + path
    for pattern in flt["Value"].split("|"):
        regex = "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "(/.*)?$"
        if re.match(regex, full):
            return True
    return False


@pytest.mark.parametrize(("path", "expected"), TREE.items())
def test_datasync_filter_agrees_with_predicate(path, expected):
    if path.endswith("/tmp") and not expected:
        # DataSync cannot tell a file from a folder: a *file* named tmp is excluded too.
        assert datasync_excluded(path)
    else:
        assert datasync_excluded(path) is expected


names = st.sampled_from(["a", "b", "tmp", "pending", "DR_TMP_DIR", "TEMP.x", "TEMPx", "data"])


@settings(max_examples=300, deadline=None)
@given(st.lists(names, min_size=1, max_size=5))
def test_datasync_never_lets_a_temporary_file_through(parts):
    path = "/".join(parts)
    if is_temporary(path):
        assert datasync_excluded(path)
    elif datasync_excluded(path):
        # the only over-exclusion: a file whose own name is a temporary folder name
        assert parts[-1] in TEMP_FOLDER_NAMES


def test_check_clean_fails_listing_temporary_files_then_passes_after_purge(tmp_path):
    make_tree(tmp_path)
    dirty = subprocess.run(check_clean_command(str(tmp_path)), capture_output=True, text=True)
    assert dirty.returncode == 1
    assert "archive/pending" in dirty.stdout
    subprocess.run(purge_command(str(tmp_path)), check=True, capture_output=True)
    clean = subprocess.run(check_clean_command(str(tmp_path)), capture_output=True, text=True)
    assert clean.returncode == 0, clean.stdout
    assert "holds no temporary file" in clean.stdout
