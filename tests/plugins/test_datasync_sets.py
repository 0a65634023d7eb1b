"""datasync_sets: each set's folder, task name, location URI and the options its copy needs."""

from __future__ import annotations

from tests.plugins.test_verify import SET, recovery_point, verify
from ue_backup.backup_set import BACKUP_SET_TAG
from ue_backup.datasync_sets import (
    REWRITTEN,
    TASK_OPTIONS,
    folder_of,
    is_restore_location,
    location_uri,
    options_problems,
    restore_folder,
    restore_task_name,
    set_copy,
    set_folder,
    task_name,
)
from ue_backup.temp_files import datasync_excludes


def test_each_set_has_its_own_folder_and_task():
    assert set_folder("/", SET.id) == f"/{SET.id}"
    assert set_folder("/ue-backup/", SET.id) == f"/ue-backup/{SET.id}"
    assert set_folder("ue-backup", SET.id) == f"/ue-backup/{SET.id}"
    assert task_name(SET.id) == f"ue-backup-{SET.id}"


def test_a_restore_copies_into_its_staged_tree_with_a_task_of_its_own():
    """The restore's task is never named like a set's, and its destination is the staged
    tree the restore's Jobs find (restore_scripts.STAGE_PREFIX)."""
    assert restore_task_name("ue-test-r260101020000") == "ue-backup-restore-ue-test-r260101020000"
    assert restore_folder("ue-test-r260101020000") == "/ue-backup-restoring_ue-test-r260101020000"
    uri = location_uri("eu-west-1", "fs-9", restore_folder("r1"))
    assert is_restore_location(uri, "r1")
    assert not is_restore_location(uri, "r2")
    assert not is_restore_location(location_uri("eu-west-1", "fs-9", "/sets/r1"), "r1")
    assert not is_restore_location(uri.replace("r1/", "r1/deeper/"), "r1")
    assert not is_restore_location(location_uri("eu-west-1", "fs-9", set_folder("/", SET.id)), "r1")


def test_the_location_uri_is_the_one_datasync_lists():
    assert location_uri("eu-west-1", "fs-1", "/") == "efs://eu-west-1.fs-1/"
    assert location_uri("eu-west-1", "fs-1", "/a/b") == "efs://eu-west-1.fs-1/a/b/"


def test_an_execution_with_other_options_is_named():
    assert options_problems(TASK_OPTIONS) == []
    changed = {**TASK_OPTIONS, "TransferMode": "CHANGED", "PreserveDeletedFiles": "PRESERVE"}
    assert options_problems(changed) == [
        "TransferMode 'CHANGED', expected 'ALL'",
        "PreserveDeletedFiles 'PRESERVE', expected 'REMOVE'",
    ]
    assert len(options_problems(None)) == 4


def test_verify_fails_a_copy_made_with_other_options():
    def execution(options):
        return {
            "Status": "SUCCESS",
            "Excludes": datasync_excludes(),
            "Options": options,
            "StartTime": recovery_point()["CreationDate"],
        }

    result, checks = verify(recovery_point=None, datasync_execution=execution(TASK_OPTIONS))
    assert result == "passed", checks
    name = "datasync copied the whole tree into the set's folder"
    result, checks = verify(
        recovery_point=None,
        datasync_execution=execution({**TASK_OPTIONS, "PreserveDeletedFiles": "PRESERVE"}),
    )
    assert result == "failed"
    assert checks[name] == (False, "PreserveDeletedFiles 'PRESERVE', expected 'REMOVE'")


def test_a_location_uri_names_its_file_system_and_folder():
    assert folder_of("efs://eu-west-1.fs-1/ue-backup/s1/") == ("fs-1", "/ue-backup/s1")
    assert folder_of("efs://eu-west-1.fs-1/") == ("fs-1", "/")


def _execution(arn: str, start: str, set_id: str | None) -> dict:
    tags = {BACKUP_SET_TAG: set_id} if set_id else {}
    return {"TaskExecutionArn": arn, "Status": "SUCCESS", "StartTime": start, "Tags": tags}


def test_a_sets_copy_is_its_own_execution_and_folder():
    task = {"TaskArn": "t", "DestinationLocationArn": "loc-d", "SourceLocationArn": "loc-s"}
    location = {"LocationUri": "efs://eu-west-1.fs-2/ue-backup/s1/"}
    failed = {**_execution("e-failed", "2026-12-01T00:50:00Z", "s1"), "Status": "ERROR"}
    own = _execution("e-own", "2026-12-01T01:00:00Z", "s1")  # the retry after it
    copy = set_copy(task, {BACKUP_SET_TAG: "s1"}, location, [own, failed], "s1")
    assert (copy["TaskExecutionArn"], copy["Status"]) == ("e-own", "SUCCESS")
    assert copy["StartTime"] == "2026-12-01T01:00:00Z"
    assert (copy["FileSystemId"], copy["Folder"], copy["LocationArn"]) == (
        "fs-2",
        "/ue-backup/s1",
        "loc-d",
    )


def test_a_copy_by_hand_is_never_the_sets_and_one_after_it_makes_the_folder_not_the_sets():
    task = {"TaskArn": "t", "DestinationLocationArn": "loc-d"}
    location = {"LocationUri": "efs://eu-west-1.fs-2/ue-backup/s1/"}
    by_hand = _execution("e-later", "2026-12-01T02:00:00Z", None)  # perhaps while live
    own = _execution("e-own", "2026-12-01T01:00:00Z", "s1")
    alone = set_copy(task, {}, location, [by_hand], "s1")
    assert (alone["TaskExecutionArn"], alone["Status"]) == (None, None)
    rewritten = set_copy(task, {}, location, [own, by_hand], "s1")
    assert (rewritten["TaskExecutionArn"], rewritten["Status"]) == ("e-own", REWRITTEN)
    assert set_copy(task, {}, location, [], "s1")["Status"] is None


def test_a_sets_copy_carries_how_long_its_execution_took_and_what_it_wrote():
    """What the window estimate learns from (``past_runs.datasync_runs``)."""
    task = {"TaskArn": "t", "DestinationLocationArn": "loc-d"}
    own = _execution("e-own", "2026-12-01T01:00:00Z", "s1") | {
        "EndTime": "2026-12-01T01:20:00Z",
        "Result": {"TotalDuration": 1_140_000},
        "BytesWritten": 42,
    }
    other = _execution("e-later", "2026-12-01T02:00:00Z", None) | {"BytesWritten": 7}
    copy = set_copy(task, {}, {"LocationUri": "efs://r.fs-2/s1/"}, [own, other], "s1")
    assert copy["EndTime"] == "2026-12-01T01:20:00Z"
    assert copy["Result"] == {"TotalDuration": 1_140_000}
    assert copy["BytesWritten"] == 42
