"""The shape a configuration gives the DAGs, and the steps a run's settings need."""

from __future__ import annotations

import pytest

from tests.plugins.plans import restore_steps
from tests.plugins.test_config import CROSS_REGION, DERBY, VALID, with_change
from ue_backup.config import parse_config
from ue_backup.dag_shape import (
    DagShape,
    backup_steps_needed,
    restore_steps_needed,
    unbuilt_message,
    unbuilt_steps,
)
from ue_backup.run_settings import BackupRunSettings, RestoreSteps

DERBY_ALONE = {
    **with_change("database", DERBY),
    "memorydb": None,
    "velero": None,
}
DATASYNC = with_change(
    "efs",
    {
        "file_system_id": "fs-0123456789abcdef0",
        "backup_method": "datasync",
        "datasync": {
            "target_file_system_id": "fs-0fedcba9876543210",
            "task_arn": "arn:aws:datasync:eu-west-1:123456789012:task/task-0123456789abcdef0",
        },
    },
)
EXTERNAL = with_change(
    "cold_window",
    {
        "disk_storage_used": ["aggregation"],
        "mode": "external",
        "external_suspend_from": "0 1 * * *",
        "external_suspend_until": "0 2 * * *",
    },
)


def test_without_a_configuration_file_every_step_is_built():
    assert DagShape.of(None) == DagShape()
    assert DagShape.of(None).left_out() == []


def test_the_full_configuration_leaves_out_the_other_efs_method_copies_and_external_check():
    shape = DagShape.of(parse_config(VALID))
    assert shape.left_out() == [
        "efs_datasync",
        "external_window",
        "copy_rds",
        "copy_efs",
        "copy_memorydb",
        "copy_efs_immutable",
        "copy_rds_immutable",
        "copy_memorydb_immutable",
        "lock_manifest",
        "restore_from_immutable",
        "app_checks",
    ]


def test_application_checks_are_built_only_when_the_verification_section_has_some():
    checks = {"sql_checks": [{"name": "sessions", "query": "select 1", "expect": "rows"}]}
    assert DagShape.of(parse_config({**VALID, "verification": checks})).app_checks
    only_image = {"image": "checks:2"}
    assert not DagShape.of(parse_config({**VALID, "verification": only_image})).app_checks


def test_derby_without_memorydb_and_velero_builds_only_efs():
    shape = DagShape.of(parse_config(DERBY_ALONE))
    assert not shape.database
    assert not shape.memorydb
    assert not shape.velero
    assert shape.efs_aws_backup
    assert not shape.efs_datasync
    assert not shape.copy_rds


def test_cross_region_copies_follow_the_components_they_copy():
    shape = DagShape.of(parse_config({**VALID, "cross_region": CROSS_REGION}))
    assert shape.copy_rds
    assert shape.copy_efs
    assert shape.copy_memorydb
    derby = DagShape.of(parse_config({**DERBY_ALONE, "cross_region": CROSS_REGION}))
    assert not derby.copy_rds
    assert derby.copy_efs
    assert not derby.copy_memorydb
    datasync = DagShape.of(parse_config({**DATASYNC, "cross_region": CROSS_REGION}))
    assert not datasync.copy_efs  # a DataSync copy has no recovery point to copy


def test_datasync_and_external_window():
    assert DagShape.of(parse_config(DATASYNC)).left_out()[0] == "efs_aws_backup"
    assert DagShape.of(parse_config(EXTERNAL)).external_window
    hot = DagShape.of(parse_config(with_change("cold_window", {"disk_storage_used": []})))
    assert not hot.external_window


def backup_settings(data: dict) -> BackupRunSettings:
    from ue_backup.backup_set import COMPONENTS

    return BackupRunSettings.build(parse_config(data), "ue-test-20260101T0000Z", set(COMPONENTS))


def test_a_component_added_after_the_parse_is_named():
    needed = backup_steps_needed(backup_settings(VALID))
    built = {"rds_snapshot", "efs_backup", "velero_backup", "preflight"}
    assert unbuilt_steps(needed, built) == ["memorydb_snapshot"]
    message = unbuilt_message(["memorydb_snapshot"])
    assert "['memorydb_snapshot']" in message
    assert "Nothing was changed" in message


@pytest.mark.parametrize("flag", ["restore_database", "restore_memorydb", "restore_velero"])
def test_the_restore_steps_needed_follow_the_plan(flag):
    steps = RestoreSteps(**restore_steps(restore_efs=True))
    assert unbuilt_steps(restore_steps_needed(steps), ["wait_efs"]) == []
    wanted = steps.model_copy(update={flag: True})
    task = {"restore_velero": "restore_kubernetes"}.get(flag, flag)
    assert unbuilt_steps(restore_steps_needed(wanted), ["restore_efs", "wait_efs"]) == [task]


def test_the_efs_method_of_the_plan_needs_its_own_steps():
    """An AWS Backup set needs the restore job's wait; a DataSync set the copy instead: a
    DAG built from a file for the other method refuses before anything changes."""
    job = RestoreSteps(**restore_steps(restore_efs=True))
    copy = job.model_copy(update={"copy_efs": True, "recovery_point_arn": None})
    datasync_dag = ["restore_efs", "copy_efs"]
    aws_backup_dag = ["restore_efs", "wait_efs"]
    assert unbuilt_steps(restore_steps_needed(job), datasync_dag) == ["wait_efs"]
    assert unbuilt_steps(restore_steps_needed(copy), aws_backup_dag) == ["copy_efs"]
    assert unbuilt_steps(restore_steps_needed(copy), datasync_dag) == []
    nothing = RestoreSteps(**restore_steps())
    assert unbuilt_steps(restore_steps_needed(nothing), []) == []


def test_a_task_removed_from_the_run_is_not_present():
    from airflow.utils.state import TaskInstanceState

    from ue_backup.dag_shape import present_tasks

    states = {"preflight": "running", "memorydb_snapshot": TaskInstanceState.REMOVED, "x": None}
    assert present_tasks(states) == {"preflight", "x"}
    needed = {"memorydb_snapshot": True}
    assert unbuilt_steps(needed, present_tasks(states)) == ["memorydb_snapshot"]


def test_a_stale_shape_is_retried_not_failed_for_good():
    """The scheduler adds the new steps to the run once the file is re-read: a retry finds
    them. A permanent failure would lose a scheduled backup until the next schedule."""
    from ue_backup.compat import AirflowFailException
    from ue_backup.dag_shape import StaleShape
    from ue_backup.errors import PermanentFailure

    assert not issubclass(StaleShape, (AirflowFailException, PermanentFailure))
    assert "The task retries" in unbuilt_message(["velero_backup"])
