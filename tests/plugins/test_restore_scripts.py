"""The restore Job scripts on real directory trees: purge, set aside, move into place."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ue_backup.restore_scripts import DONE_MARKER, check_restored_tree, place_restored_tree

RESTORED = {
    "aggregation/state.bin": "restored",
    "aggregation/TEMP.state.bin": "temp",
    "duplicate-udr/tmp/chunk": "temp",
    "interworkflow/DR_TMP_DIR/b": "temp",
    "archive/pending/f": "temp",
    ".hidden-config": "restored",
}
LIVE = {"aggregation/state.bin": "live, newer", "interworkflow/TEMP.x": "live temp"}


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*") if p.is_file()}


def sh(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True)


def test_in_place_restore_sets_live_data_aside_and_purges(tmp_path):
    write(tmp_path, LIVE)
    write(tmp_path / "aws-backup-restore_2026-11-24T02-00-00-000000001Z", RESTORED)
    done = sh(place_restored_tree(str(tmp_path), "r1"))
    assert done.returncode == 0, done.stdout + done.stderr
    result = files(tmp_path)
    assert result["aggregation/state.bin"] == "restored"
    assert result[".hidden-config"] == "restored"
    assert result["ue-backup-replaced_r1/aggregation/state.bin"] == "live, newer"
    assert result[DONE_MARKER].strip() == "r1"
    restored_part = {k for k in result if not k.startswith("ue-backup-replaced_")}
    assert restored_part == {"aggregation/state.bin", ".hidden-config", DONE_MARKER}
    assert sh(check_restored_tree(str(tmp_path))).returncode == 0  # set-aside data not judged


def test_new_file_system_keeps_no_empty_aside_folder(tmp_path):
    write(tmp_path / "aws-backup-restore_2026-11-24T02-00-00-000000001Z", RESTORED)
    assert sh(place_restored_tree(str(tmp_path), "r2")).returncode == 0
    assert not list(tmp_path.glob("ue-backup-replaced_*"))


def test_second_run_is_a_no_op_and_missing_restore_fails(tmp_path):
    write(tmp_path / "aws-backup-restore_2026-11-24T02-00-00-000000001Z", RESTORED)
    assert sh(place_restored_tree(str(tmp_path), "r3")).returncode == 0
    before = files(tmp_path)
    again = sh(place_restored_tree(str(tmp_path), "r3"))
    assert again.returncode == 0
    assert "in place already" in again.stdout
    assert files(tmp_path) == before
    other = sh(place_restored_tree(str(tmp_path), "r4"))
    assert other.returncode == 1
    assert "no aws-backup-restore_ directory" in other.stdout


def test_check_fails_on_a_dirty_tree(tmp_path):
    write(tmp_path, RESTORED)
    checked = sh(check_restored_tree(str(tmp_path)))
    assert checked.returncode == 1
    assert "DR_TMP_DIR" in checked.stdout
