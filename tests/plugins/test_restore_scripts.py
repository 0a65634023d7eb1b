"""The restore Job scripts on real directory trees: purge, set aside, move into place."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ue_backup.restore_scripts import (
    DONE_MARKER,
    PLACING_MARKER,
    STAGE_PREFIX,
    check_restored_tree,
    check_staged_tree,
    discard_staged_tree,
    place_restored_tree,
    place_staged_tree,
    restore_dir_name_since,
    stage_restored_tree,
)

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


# --- in place: prepare (stage, check) without touching the live data, then commit (place) ---

OLD_DIR = "aws-backup-restore_2026-11-23T02-00-00-000000001Z"  # another restore's, older
NEW_DIR = "aws-backup-restore_2026-11-24T02-00-05-000000001Z"
SINCE = "2026-11-24T02-00-00"


def live_tree(root: Path) -> dict[str, str]:
    """The tree as workflows see it: without restore directories, set-aside data and markers."""
    skip = ("aws-backup-", "ue-backup-", DONE_MARKER)
    return {k: v for k, v in files(root).items() if not k.startswith(skip)}


def test_preparation_leaves_the_live_data_alone_and_stages_only_this_restores_tree(tmp_path):
    write(tmp_path, LIVE)
    write(tmp_path / OLD_DIR, {"old": "older restore"})
    write(tmp_path / NEW_DIR, RESTORED)
    staged = sh(stage_restored_tree(str(tmp_path), "r5", SINCE))
    assert staged.returncode == 0, staged.stdout + staged.stderr
    assert live_tree(tmp_path) == LIVE
    assert (tmp_path / OLD_DIR / "old").exists()
    stage = files(tmp_path / f"{STAGE_PREFIX}r5")
    assert stage == {"aggregation/state.bin": "restored", ".hidden-config": "restored"}
    assert sh(stage_restored_tree(str(tmp_path), "r5", SINCE)).returncode == 0  # a retry
    checked = sh(check_staged_tree(str(tmp_path), "r5"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert live_tree(tmp_path) == LIVE


def test_stage_refuses_a_directory_older_than_the_restore(tmp_path):
    write(tmp_path / OLD_DIR, RESTORED)
    staged = sh(stage_restored_tree(str(tmp_path), "r6", SINCE))
    assert staged.returncode == 1
    assert "no aws-backup-restore_ directory named at or after" in staged.stdout
    assert (tmp_path / OLD_DIR).is_dir()


def test_check_fails_on_a_dirty_missing_or_empty_staged_tree(tmp_path):
    assert sh(check_staged_tree(str(tmp_path), "r7")).returncode == 1  # missing
    (tmp_path / f"{STAGE_PREFIX}r7" / "empty").mkdir(parents=True)
    empty = sh(check_staged_tree(str(tmp_path), "r7"))
    assert empty.returncode == 1
    assert "holds no file" in empty.stdout
    write(tmp_path / f"{STAGE_PREFIX}r7", RESTORED)
    dirty = sh(check_staged_tree(str(tmp_path), "r7"))
    assert dirty.returncode == 1
    assert "DR_TMP_DIR" in dirty.stdout


def test_place_sets_live_data_aside_and_a_retry_after_a_half_placement_finishes_it(tmp_path):
    write(tmp_path, LIVE)
    write(tmp_path / f"{STAGE_PREFIX}r8", {"aggregation/state.bin": "restored", "b/c": "r"})
    placed = sh(place_staged_tree(str(tmp_path), "r8"))
    assert placed.returncode == 0, placed.stdout + placed.stderr
    result = files(tmp_path)
    assert live_tree(tmp_path) == {"aggregation/state.bin": "restored", "b/c": "r"}
    assert result["ue-backup-replaced_r8/aggregation/state.bin"] == "live, newer"
    assert result[DONE_MARKER].strip() == "r8"
    assert PLACING_MARKER not in result
    assert "in place already" in sh(place_staged_tree(str(tmp_path), "r8")).stdout

    # stopped after phase one and part of phase two: a retry sets no restored entry aside
    other = tmp_path / "other"
    write(other, LIVE)
    write(other / f"{STAGE_PREFIX}r9", {"aggregation/state.bin": "restored", "b/c": "r"})
    (other / PLACING_MARKER).write_text("r9\n")
    (other / "ue-backup-replaced_r9").mkdir()
    for name in ("aggregation", "interworkflow"):
        (other / name).rename(other / "ue-backup-replaced_r9" / name)
    (other / f"{STAGE_PREFIX}r9" / "b").rename(other / "b")
    assert sh(place_staged_tree(str(other), "r9")).returncode == 0
    assert live_tree(other) == {"aggregation/state.bin": "restored", "b/c": "r"}
    assert files(other)["ue-backup-replaced_r9/aggregation/state.bin"] == "live, newer"


def test_discard_removes_this_restores_trees_only_and_never_after_the_commit(tmp_path):
    write(tmp_path, LIVE)
    write(tmp_path / OLD_DIR, {"old": "older restore"})
    write(tmp_path / NEW_DIR, RESTORED)
    write(tmp_path / f"{STAGE_PREFIX}r10", RESTORED)
    done = sh(discard_staged_tree(str(tmp_path), "r10", SINCE))
    assert done.returncode == 0, done.stdout + done.stderr
    assert live_tree(tmp_path) == LIVE
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("aws", "ue"))) == [
        OLD_DIR
    ]
    (tmp_path / PLACING_MARKER).write_text("r10\n")
    write(tmp_path / f"{STAGE_PREFIX}r10", RESTORED)
    refused = sh(discard_staged_tree(str(tmp_path), "r10", SINCE))
    assert refused.returncode == 1
    assert (tmp_path / f"{STAGE_PREFIX}r10").is_dir()


def test_the_restore_directory_cut_off_allows_for_clock_skew():
    assert restore_dir_name_since("2026-11-24T03:00:30+01:00") == "2026-11-24T01-59-30"
    assert restore_dir_name_since(None) == ""


# --- a DataSync copy lands in ue-backup-restoring_<id>/ itself (datasync_sets) ------------


def test_a_datasync_copy_is_found_staged_purged_checked_and_placed_as_a_job_s_tree(tmp_path):
    """The copy writes straight into the staged directory: staging only purges it, whatever
    aws-backup-restore_ directories the file system holds, and placing it works unchanged."""
    write(tmp_path, LIVE)
    write(tmp_path / NEW_DIR, {"other": "another restore's, not this one's"})
    write(tmp_path / f"{STAGE_PREFIX}r11", RESTORED)
    staged = sh(stage_restored_tree(str(tmp_path), "r11", SINCE))
    assert staged.returncode == 0, staged.stdout + staged.stderr
    assert "is now" not in staged.stdout  # nothing renamed
    assert files(tmp_path / f"{STAGE_PREFIX}r11") == {
        "aggregation/state.bin": "restored",
        ".hidden-config": "restored",
    }
    assert files(tmp_path / NEW_DIR) == {"other": "another restore's, not this one's"}
    assert sh(check_staged_tree(str(tmp_path), "r11")).returncode == 0
    assert live_tree(tmp_path) == LIVE
    assert sh(place_staged_tree(str(tmp_path), "r11")).returncode == 0
    restored = {"aggregation/state.bin": "restored", ".hidden-config": "restored"}
    assert live_tree(tmp_path) == restored
    assert files(tmp_path)["ue-backup-replaced_r11/aggregation/state.bin"] == "live, newer"


def test_the_drill_places_a_datasync_copy_before_any_restore_directory(tmp_path):
    """On a new file system the drill's one Job purges and places the copy's staged tree;
    without it, the newest aws-backup-restore_ directory, as before."""
    write(tmp_path / NEW_DIR, {"stray": "not the drill's"})
    write(tmp_path / f"{STAGE_PREFIX}d1", RESTORED)
    done = sh(place_restored_tree(str(tmp_path), "d1"))
    assert done.returncode == 0, done.stdout + done.stderr
    placed = files(tmp_path)
    assert {k: v for k, v in placed.items() if not k.startswith("ue-backup-replaced_")} == {
        "aggregation/state.bin": "restored",
        ".hidden-config": "restored",
        DONE_MARKER: "d1\n",
    }
    assert placed[f"ue-backup-replaced_d1/{NEW_DIR}/stray"] == "not the drill's"  # set aside
    assert not (tmp_path / f"{STAGE_PREFIX}d1").exists()
