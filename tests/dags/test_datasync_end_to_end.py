"""Issue 18's DataSync installation, end to end: copies with a history that restore.

Three backups make three sets, each in its own folder on the target file system.
``ue_restore`` restores the oldest side by side and the newest in place (rule 1
held, no temporary file, the set-aside data kept), the drill passes on it, and
retention deletes the oldest set's folder, task and location and nothing else.
The tests run in file order on one world: read-only first, retention last.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from sandbox.airflow_harness.dag_runner import run_dag, write_config
from sandbox.aws.network import add_mount_targets
from sandbox.installation import LIVE_FILES, TEMPORARY_FILES
from tests.dags.restore_support import MARKER, tree
from tests.dags.worlds import seeded
from ue_backup.backup_set import BACKUP_SET_TAG
from ue_backup.hooks.datasync import DataSyncHook

pytestmark = pytest.mark.e2e

GENERATION = "aggregation/generation.txt"  # which backup the live tree was at


@pytest.fixture(scope="module")
def world(sandbox_session, tmp_path_factory):
    sandbox = sandbox_session
    with seeded(sandbox, "ue-test", method="datasync", memorydb=False) as (patch, inst):
        add_mount_targets(sandbox, inst.file_system_id)  # two zones, copied side by side
        inst.config["efs"]["datasync"]["target_subdirectory"] = "/ue-backup"
        inst.config["retention"] = {**inst.config.get("retention", {}), "keep_last": 2}
        inst.config["retention"]["keep_days"] = 0
        write_config(inst.config, tmp_path_factory.mktemp("datasync"), patch)
        sets = []
        for generation in (1, 2, 3):
            (inst.efs_path(sandbox) / GENERATION).write_text(f"generation {generation}")
            result = run_dag("ue_backup")
            assert result.state == "success", result.tasks
            sets.append(result.xcom("preflight")["backup_set"])
        yield sandbox, inst, sets


@pytest.fixture
def sandbox(world):
    world[0].log.clear()
    world[0].faults.clear()
    return world[0]


@pytest.fixture
def installation(world):
    return world[1]


@pytest.fixture
def sets(world):
    return world[2]


def folders(sandbox, installation) -> set[str]:
    base = sandbox.aws.efs_path(installation.datasync_target) / "ue-backup"
    return {p.name for p in base.iterdir() if p.is_dir()}


def test_three_backups_make_three_folders_each_its_sets_copy(sandbox, installation, sets):
    assert folders(sandbox, installation) == set(sets)
    base = sandbox.aws.efs_path(installation.datasync_target) / "ue-backup"
    for generation, backup_set in enumerate(sets, start=1):
        files = tree(base / backup_set)
        assert files[GENERATION] == f"generation {generation}"
        assert not set(files) & set(TEMPORARY_FILES)
    copies = DataSyncHook().set_copies(installation.name)
    assert sorted(c["Tags"][BACKUP_SET_TAG] for c in copies) == sorted(sets)
    assert all(c["Tags"].get("ue-backup:verified") == "passed" for c in copies)


def test_the_oldest_set_restores_side_by_side_under_rule_1(sandbox, installation, sets):
    result = run_dag(
        "ue_restore", {"mode": "restore", "request_type": "backup_set", "backup_set": sets[0]}
    )
    assert result.state == "success", result.tasks
    plan = result.xcom("plan")["plan"]
    assert plan["disk"]["kind"] == "datasync"
    assert plan["disk"]["folder"] == f"/ue-backup/{sets[0]}"
    assert datetime.fromisoformat(plan["database"]["time"]) < datetime.fromisoformat(
        plan["disk"]["time"]
    )
    restored_fs = result.xcom("report")["restored"]["efs_file_system_id"]
    assert restored_fs not in (installation.file_system_id, installation.datasync_target)
    files = tree(sandbox.aws.efs_path(restored_fs))
    assert set(files) == set(LIVE_FILES) | {GENERATION, MARKER}
    assert files[GENERATION] == "generation 1"
    # the live system and every set's folder are untouched
    assert (installation.efs_path(sandbox) / GENERATION).read_text() == "generation 3"
    assert folders(sandbox, installation) == set(sets)


def test_the_drill_passes_on_a_datasync_set(sandbox, installation, sets):
    result = run_dag("ue_restore_drill")
    assert result.state == "success", result.tasks
    report = result.xcom("report")
    assert report["outcome"] == "passed", report
    assert report["backup_set"] == sets[2]
    assert folders(sandbox, installation) == set(sets)


def test_the_newest_set_restores_in_place_setting_the_live_data_aside(sandbox, installation, sets):
    live = installation.efs_path(sandbox)
    (live / "aggregation" / "written-after-backup.bin").write_text("newer than the backup")
    result = run_dag(
        "ue_restore",
        {"mode": "restore", "target": "in_place", "confirm": installation.name},
    )
    assert result.state == "success", result.tasks
    assert result.xcom("plan")["plan"]["backup_set"] == sets[2]
    files = tree(live)
    restored = {k for k in files if not k.startswith("ue-backup-replaced_")}
    assert restored == set(LIVE_FILES) | {GENERATION, MARKER}
    assert not restored & set(TEMPORARY_FILES)
    assert files[GENERATION] == "generation 3"
    aside = [k for k in files if k.startswith("ue-backup-replaced_")]
    assert any(k.endswith("aggregation/written-after-backup.bin") for k in aside)
    assert folders(sandbox, installation) == set(sets)


def test_retention_deletes_the_oldest_sets_folder_and_nothing_else(sandbox, installation, sets):
    hook = DataSyncHook()
    before = {c["Tags"][BACKUP_SET_TAG]: c for c in hook.set_copies(installation.name)}
    conn = hook.get_conn()
    locations_before = {loc["LocationArn"] for loc in conn.list_locations()["Locations"]}
    live_before = tree(installation.efs_path(sandbox))

    result = run_dag("ue_backup_retention", {"dry_run": False})

    assert result.state == "success", result.tasks
    assert folders(sandbox, installation) == set(sets[1:])
    after = {c["Tags"][BACKUP_SET_TAG] for c in hook.set_copies(installation.name)}
    assert after == set(sets[1:])
    locations_after = {loc["LocationArn"] for loc in conn.list_locations()["Locations"]}
    assert locations_before - locations_after == {before[sets[0]]["LocationArn"]}
    assert tree(installation.efs_path(sandbox)) == live_before
