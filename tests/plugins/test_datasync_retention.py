"""Retention of a DataSync installation, the pure half: which folders go, and the Job's script.

A DataSync set's copy (its folder on the target file system, its task, its
destination location) is judged with its set by the retention policy and
priced as EFS storage; only a deleted set's own folder, exactly
``<target_subdirectory>/<set id>`` on the target file system, is ever handed
to the Job, and the Job's script checks each path again where the data is
(run here with ``sh`` on a directory tree standing in for the file system).
"""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ue_backup.backup_set import (
    BACKUP_SET_TAG,
    DELETING,
    INSTALLATION_TAG,
    RETENTION_TAG,
    VERIFIED_TAG,
    BackupSet,
)
from ue_backup.config import PricesConfig
from ue_backup.datasync_retention import (
    ALREADY_GONE,
    REMOVED,
    DoomedFolder,
    claim_name,
    doomed_folders,
    folder_problem,
    job_name,
    location_problem,
    remove_folders_script,
    task_problem,
    unreadable_copies,
)
from ue_backup.datasync_sets import set_copy
from ue_backup.errors import PermanentFailure
from ue_backup.manifest import GB
from ue_backup.planning import RestorePlanError, plan_restore
from ue_backup.retention import decide, to_delete
from ue_backup.retention_artifacts import DATASYNC_FOLDER, Artifact, datasync_folder
from ue_backup.retention_cost import component_costs

ME = "ue-test"
REGION = "eu-west-1"
LIVE, TARGET = "fs-0live0000000000a", "fs-0target00000000b"
SUBDIRECTORY = "/ue-backup"
TEMPLATE = f"arn:aws:datasync:{REGION}:123456789012:task/task-0template000000"
T0 = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
SETS = [BackupSet.for_run(ME, T0 + timedelta(days=day)).id for day in range(3)]
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def arn(kind: str, name: str) -> str:
    return f"arn:aws:datasync:{REGION}:123456789012:{kind}/{kind}-{name}"


def copy(set_id: str, *, folder: str | None = None, fs: str = TARGET, **tags: str) -> dict:
    """A set's copy as ``DataSyncHook.set_copies`` lists it (``datasync_sets.set_copy``)."""
    created = BackupSet.parse(set_id).created_at
    task = {
        "TaskArn": arn("task", set_id[-16:]),
        "DestinationLocationArn": arn("location", set_id[-16:]),
        "SourceLocationArn": arn("location", "live"),
    }
    where = folder or f"{SUBDIRECTORY}/{set_id}"
    location = {"LocationUri": f"efs://{REGION}.{fs}{where}/"}
    execution = {
        "TaskExecutionArn": task["TaskArn"] + "/execution/exec-1",
        "Status": "SUCCESS",
        "StartTime": (created + timedelta(minutes=5)).isoformat(),
        "BytesWritten": 3 * GB,
        "Tags": {BACKUP_SET_TAG: set_id},
    }
    owner = {INSTALLATION_TAG: ME, BACKUP_SET_TAG: set_id, VERIFIED_TAG: "passed", **tags}
    return set_copy(task, owner, location, [execution], set_id)


def view(copies: list[dict]) -> dict:
    """The planner's view of a Derby installation on DataSync: the copies are its disk."""
    return {
        "database": "derby",
        "rds_snapshots": None,
        "rds_restore_window": None,
        "efs_recovery_points": [],
        "datasync_copies": copies,
        "memorydb_snapshots": None,
        "velero_backups": None,
    }


def decision(copies: list[dict], keep_last: int = 2) -> dict:
    return decide(
        [datasync_folder(c, REGION) for c in copies],
        view(copies),
        installation=ME,
        keep_last=keep_last,
        keep_days=0,
        now=T0 + timedelta(days=30),
    )


def doomed(plan: dict, **overrides) -> list[DoomedFolder]:
    options = {
        "installation": ME,
        "target_file_system_id": TARGET,
        "subdirectory": SUBDIRECTORY,
        "live_file_system_id": LIVE,
        "template_task_arn": TEMPLATE,
        **overrides,
    }
    return doomed_folders(plan, **options)


# --- the policy judges a set's copy with its set ---------------------------------------------


def test_the_oldest_sets_copy_is_the_one_given_up_and_priced_as_efs_storage():
    plan = decision([copy(s) for s in SETS])

    assert [(s["backup_set"], s["action"]) for s in plan["sets"]] == [
        (SETS[2], "keep"),
        (SETS[1], "keep"),
        (SETS[0], "delete"),
    ]
    assert plan["newest_restorable"] == SETS[2]
    gone = to_delete(plan)[0]["artifacts"]
    assert [(a["kind"], a["folder"], a["container"]) for a in gone] == [
        (DATASYNC_FOLDER, f"{SUBDIRECTORY}/{SETS[0]}", TARGET)
    ]
    costs = component_costs(plan, PricesConfig(efs_standard_gb_month=0.30))
    folders = costs["components"][DATASYNC_FOLDER]
    assert folders["kept"] == {
        "count": 2,
        "size_bytes": 6 * GB,
        "unknown_size": 0,
        "monthly_usd": 1.8,
    }
    assert folders["removed"]["monthly_usd"] == 0.9


def test_a_copy_still_being_written_keeps_its_set_and_a_failed_one_is_no_disk_point():
    running = copy(SETS[0])
    running["Status"] = "TRANSFERRING"
    failed = copy(SETS[1])
    failed["Status"] = "ERROR"
    plan = decision([running, failed, copy(SETS[2])], keep_last=1)

    actions = {s["backup_set"]: s for s in plan["sets"]}
    assert actions[SETS[0]]["action"] == "keep"
    assert "still being made" in actions[SETS[0]]["reasons"][-1]
    assert actions[SETS[1]]["action"] == "delete"
    assert actions[SETS[1]]["restorable"] is False


def test_a_copy_retention_began_to_delete_is_no_disk_point_any_more():
    """Its folder may be gone already: the planner passes it over (planning)."""
    inventory = view([copy(SETS[0], **{RETENTION_TAG: DELETING})])
    with pytest.raises(RestorePlanError, match="no successful DataSync copy exists"):
        plan_restore(inventory, {"type": "backup_set", "backup_set": SETS[0]})
    assert plan_restore(view([copy(SETS[0])]), {"type": "latest"})["backup_set"] == SETS[0]


def test_the_artifact_carries_the_copy_s_task_location_folder_and_size():
    listed = copy(SETS[0])
    listed["BytesWritten"] = None
    listed["BytesTransferred"] = 1234
    artifact = datasync_folder(listed, REGION)

    assert artifact == Artifact(
        kind=DATASYNC_FOLDER,
        service="datasync",
        id=listed["TaskArn"],
        region=REGION,
        container=TARGET,
        installation=ME,
        backup_set=SETS[0],
        state="SUCCESS",
        time="2026-01-01T02:05:00+00:00",
        size_bytes=1234,
        location=listed["LocationArn"],
        folder=f"{SUBDIRECTORY}/{SETS[0]}",
    )
    assert Artifact.from_json(artifact.as_json()) == artifact
    assert (
        artifact.label
        == f"datasync_folder {TARGET}:{SUBDIRECTORY}/{SETS[0]} (task {listed['TaskArn']})"
    )


# --- which folders go: only the deleted sets' own ---------------------------------------------


def test_only_the_deleted_sets_folder_is_handed_to_the_job():
    plan = decision([copy(s) for s in SETS])

    assert doomed(plan) == [
        DoomedFolder(
            backup_set=SETS[0],
            task_arn=arn("task", SETS[0][-16:]),
            location_arn=arn("location", SETS[0][-16:]),
            file_system_id=TARGET,
            folder=f"{SUBDIRECTORY}/{SETS[0]}",
        )
    ]
    kept = decision([copy(s) for s in SETS], keep_last=3)
    assert doomed(kept) == []


@pytest.mark.parametrize(
    ("folder", "subdirectory", "problem"),
    [
        (f"/ue-backup/{SETS[0]}", "/ue-backup", None),
        (f"/ue-backup/{SETS[0]}", "/ue-backup/", None),
        (f"/{SETS[0]}", "/", None),
        ("/", "/", "is the root"),
        ("/ue-backup", "/ue-backup", "is the target subdirectory itself"),
        ("/ue-backup/", "/ue-backup", "is the root, or has an empty"),
        (f"/ue-backup/../{SETS[0]}", "/ue-backup", "'..'"),
        (f"/ue-backup/./{SETS[0]}", "/ue-backup", "'.'"),
        (f"/ue-backup//{SETS[0]}", "/ue-backup", "empty"),
        (f"/ue-backup/{SETS[0]}/", "/ue-backup", "empty"),
        (f"/other/{SETS[0]}", "/ue-backup", "is not set"),
        (f"/ue-backup/{SETS[1]}", "/ue-backup", "is not set"),
        (f"/ue-backup/{SETS[0]}/data", "/ue-backup", "is not set"),
        (f"ue-backup/{SETS[0]}", "/ue-backup", "not an absolute path"),
        (None, "/ue-backup", "not an absolute path"),
        (f"/x/../{SETS[0]}", "/x/..", "'..'"),
    ],
)
def test_a_folder_is_exactly_its_sets_folder_under_the_subdirectory(folder, subdirectory, problem):
    found = folder_problem(folder, SETS[0], subdirectory)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"fs": LIVE}, "not the target file system"),
        ({"folder": "/"}, "is the root"),
        ({"folder": SUBDIRECTORY}, "target subdirectory itself"),
        ({"folder": f"/elsewhere/{SETS[0]}"}, "is not set"),
        ({"folder": f"{SUBDIRECTORY}/{SETS[1]}"}, "a kept set's copy is in"),
    ],
    ids=["live-file-system", "root", "subdirectory", "outside", "a-kept-sets-folder"],
)
def test_a_doomed_copy_that_is_not_exactly_its_sets_folder_is_refused_loudly(change, words):
    plan = decision([copy(SETS[0], **change), copy(SETS[1]), copy(SETS[2])])
    assert [s["backup_set"] for s in to_delete(plan)] == [SETS[0]]

    with pytest.raises(PermanentFailure, match="nothing was changed") as refused:
        doomed(plan)
    assert words in str(refused.value)


def test_the_live_file_system_and_the_template_task_are_refused_even_if_configured_as_target():
    plan = decision([copy(s) for s in SETS])
    with pytest.raises(PermanentFailure, match="it is on the live file system"):
        doomed(plan, live_file_system_id=TARGET)
    template = to_delete(plan)[0]["artifacts"][0]["id"]
    with pytest.raises(PermanentFailure, match="it is the template task"):
        doomed(plan, template_task_arn=template)


def test_a_copy_whose_task_could_not_be_read_is_left_alone_and_named_the_others_go():
    """``set_copies`` lists a task it could not read with its ``Error`` only."""
    unreadable = {
        "TaskArn": arn("task", SETS[0][-16:]),
        "Status": None,
        "Error": "An error occurred (InvalidRequestException) when calling DescribeTask",
        "Tags": {INSTALLATION_TAG: ME, BACKUP_SET_TAG: SETS[0]},
    }
    plan = decision([unreadable, copy(SETS[1]), copy(SETS[2])], keep_last=1)
    assert [s["backup_set"] for s in to_delete(plan)] == [SETS[0], SETS[1]]

    assert [d.backup_set for d in doomed(plan)] == [SETS[1]]
    assert unreadable_copies(plan) == [f"datasync_folder {unreadable['TaskArn']}"]


def test_a_decision_naming_another_installations_copy_is_refused():
    plan = decision([copy(s) for s in SETS])
    to_delete(plan)[0]["artifacts"][0]["installation"] = "ue-other"
    with pytest.raises(PermanentFailure, match="belongs to installation 'ue-other'"):
        doomed(plan)


# --- the task and location go only while they still are the set's ---------------------------

DOOMED = DoomedFolder(
    SETS[0], arn("task", "a"), arn("location", "a"), TARGET, f"{SUBDIRECTORY}/{SETS[0]}"
)
URI = f"efs://{REGION}.{TARGET}{SUBDIRECTORY}/{SETS[0]}/"
OWNED = {INSTALLATION_TAG: ME, BACKUP_SET_TAG: SETS[0]}


def test_the_sets_task_is_deleted_only_while_it_writes_into_the_sets_location():
    mine = {
        "DestinationLocationArn": DOOMED.location_arn,
        "SourceLocationArn": arn("location", "l"),
    }
    assert task_problem(DOOMED, mine) is None
    changed = {**mine, "DestinationLocationArn": arn("location", "b")}
    assert "not the set's location" in task_problem(DOOMED, changed)
    reading = {**mine, "SourceLocationArn": DOOMED.location_arn}
    assert "reads from the set's location" in task_problem(DOOMED, reading)


@pytest.mark.parametrize(
    ("tags", "uri", "users", "words"),
    [
        (OWNED, URI, [], None),
        ({INSTALLATION_TAG: ME}, URI, [], "is tagged"),  # the live one: the installation only
        ({}, URI, [], "is tagged"),
        ({**OWNED, BACKUP_SET_TAG: SETS[1]}, URI, [], "is tagged"),
        (OWNED, f"efs://{REGION}.{LIVE}/", [], "names"),
        (OWNED, f"efs://{REGION}.{TARGET}{SUBDIRECTORY}/", [], "names"),
        (OWNED, URI, [arn("task", "restore")], "still used by task(s)"),
    ],
    ids=["the-sets", "live-location", "untagged", "other-set", "live-fs", "subdir", "in-use"],
)
def test_the_sets_location_is_deleted_only_while_it_is_the_sets_and_unused(tags, uri, users, words):
    found = location_problem(DOOMED, ME, tags, uri, users)
    if words is None:
        assert found is None
    else:
        assert found is not None
        assert words in found


# --- the Job's script, run with sh on a tree standing in for the target file system ---------


def tree(root: Path) -> Path:
    """Three set folders, a file beside them, and data elsewhere on the file system."""
    for set_id in SETS:
        (root / "ue-backup" / set_id / "aggregation").mkdir(parents=True)
        (root / "ue-backup" / set_id / "aggregation" / "session.dat").write_text(set_id)
    (root / "ue-backup" / "README").write_text("not a set")
    (root / "other").mkdir()
    (root / "other" / "keep.dat").write_text("kept")
    return root


def run(
    root: Path, folders: list[str], subdirectory: str = SUBDIRECTORY
) -> subprocess.CompletedProcess:
    script = remove_folders_script(str(root), folders, subdirectory, ME)
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30)


def everything(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def test_the_script_removes_exactly_the_folders_given_and_a_second_run_finds_them_gone(tmp_path):
    root = tree(tmp_path / "efs")
    before = everything(root)

    done = run(root, [f"{SUBDIRECTORY}/{SETS[0]}"])

    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{REMOVED}: /ue-backup/{SETS[0]}" in done.stdout
    assert before - everything(root) == {
        f"ue-backup/{SETS[0]}",
        f"ue-backup/{SETS[0]}/aggregation",
        f"ue-backup/{SETS[0]}/aggregation/session.dat",
    }
    again = run(root, [f"{SUBDIRECTORY}/{SETS[0]}"])
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{ALREADY_GONE}: /ue-backup/{SETS[0]}" in again.stdout


@pytest.mark.parametrize(
    ("folders", "subdirectory", "words"),
    [
        (["/ue-backup"], SUBDIRECTORY, "not a backup set folder"),
        (["/"], SUBDIRECTORY, "not a backup set folder"),
        (["/other"], SUBDIRECTORY, "not a backup set folder"),
        ([f"/ue-backup/{SETS[0]}/aggregation"], SUBDIRECTORY, "not a backup set folder"),
        (["/ue-backup/ue-other-20260101t020000z"], SUBDIRECTORY, "not a backup set folder"),
        ([f"/{SETS[0]}"], SUBDIRECTORY, "not a backup set folder"),
        (["/ue-backup/README"], SUBDIRECTORY, "not a backup set folder"),
    ],
)
def test_the_script_refuses_any_other_path_and_then_removes_nothing(
    tmp_path, folders, subdirectory, words
):
    root = tree(tmp_path / "efs")
    before = everything(root)

    # the good folder first: one refusal and nothing at all is removed
    done = run(root, [f"{SUBDIRECTORY}/{SETS[0]}", *folders], subdirectory)

    assert done.returncode != 0
    assert words in done.stdout
    assert "nothing was removed" in done.stdout
    assert everything(root) == before


def test_the_script_refuses_a_symbolic_link_and_a_link_on_the_path(tmp_path):
    root = tree(tmp_path / "efs")
    outside = tmp_path / "outside" / SETS[1]
    outside.mkdir(parents=True)
    (outside / "precious").write_text("not on the target")
    (root / "ue-backup" / SETS[1]).rename(tmp_path / "moved")
    (root / "ue-backup" / SETS[1]).symlink_to(outside)

    done = run(root, [f"{SUBDIRECTORY}/{SETS[1]}"])
    assert done.returncode != 0
    assert f"refusing /ue-backup/{SETS[1]}: a symbolic link; nothing was removed" in done.stdout
    assert (outside / "precious").exists()
    # a link to nothing is no folder already gone either
    (outside / "precious").unlink()
    outside.rmdir()
    done = run(root, [f"{SUBDIRECTORY}/{SETS[1]}"])
    assert done.returncode != 0
    assert f"refusing /ue-backup/{SETS[1]}: a symbolic link; nothing was removed" in done.stdout

    # the subdirectory itself a link to elsewhere: the set's folder does not resolve to itself
    elsewhere = tmp_path / "elsewhere"
    (root / "ue-backup").rename(elsewhere)
    (root / "ue-backup").symlink_to(elsewhere)
    done = run(root, [f"{SUBDIRECTORY}/{SETS[0]}"])
    assert done.returncode != 0
    assert "a symbolic link on its path" in done.stdout
    assert (elsewhere / SETS[0] / "aggregation" / "session.dat").exists()


def test_the_script_refuses_a_file_where_a_folder_should_be(tmp_path):
    root = tree(tmp_path / "efs")
    (root / "ue-backup" / "ue-test-20990101t000000z").write_text("a file")
    done = run(root, ["/ue-backup/ue-test-20990101t000000z"])
    assert done.returncode != 0
    assert "not a directory" in done.stdout
    assert (root / "ue-backup" / "ue-test-20990101t000000z").exists()


def test_the_script_with_the_root_as_subdirectory_takes_folders_at_the_root(tmp_path):
    root = tmp_path / "efs"
    (root / SETS[0]).mkdir(parents=True)
    (root / "ue-backup").mkdir()
    done = run(root, [f"/{SETS[0]}"], "/")
    assert done.returncode == 0, done.stdout
    assert everything(root) == {"ue-backup"}
    refused = run(root, ["/ue-backup"], "/")
    assert refused.returncode != 0
    assert (root / "ue-backup").exists()


# --- names ------------------------------------------------------------------------------------


def test_the_job_is_named_per_run_folders_and_try_within_a_dns_label():
    long = "a" * 39 + "z"
    folders = [f"/ue-backup/{long}-20260101t000000z"]
    first = job_name(long, "2026-01-01T06:00:00+00:00", folders, 1)
    assert len(first) <= 63, first
    assert DNS_LABEL.match(first), first
    assert job_name(long, "2026-01-01T06:00:00+00:00", folders, 2) != first
    assert job_name(long, "2026-01-01T06:00:00+00:00", ["/ue-backup/x"], 1) != first
    assert job_name(long, "2026-01-02T06:00:00+00:00", folders, 1) != first
    assert job_name(long, "2026-01-01T06:00:00+00:00", folders, 1) == first
    assert DNS_LABEL.match(claim_name(TARGET))
    assert len(claim_name(TARGET)) <= 63
