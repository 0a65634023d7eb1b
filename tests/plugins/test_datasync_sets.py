"""datasync_sets: each set's folder, task name, location URI and the options its copy needs."""

from __future__ import annotations

from tests.plugins.test_verify import SET, recovery_point, verify
from ue_backup.datasync_sets import (
    TASK_OPTIONS,
    location_uri,
    options_problems,
    set_folder,
    task_name,
)
from ue_backup.temp_files import datasync_excludes


def test_each_set_has_its_own_folder_and_task():
    assert set_folder("/", SET.id) == f"/{SET.id}"
    assert set_folder("/ue-backup/", SET.id) == f"/ue-backup/{SET.id}"
    assert set_folder("ue-backup", SET.id) == f"/ue-backup/{SET.id}"
    assert task_name(SET.id) == f"ue-backup-{SET.id}"


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
