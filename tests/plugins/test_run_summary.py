"""A run's page summary (run_summary): what it says when a run refused, failed or planned.
The summaries of real runs are checked in tests/dags/test_ue_restore_approval.py."""

from __future__ import annotations

from ue_backup.run_summary import artifact_url, backup_summary, restore_summary


def test_a_refused_restore_says_where_to_read_why():
    summary = restore_summary(
        None, None, None, None, {"validate": "failed", "plan": "upstream_failed"}
    )
    assert summary.startswith("## Refused before anything was planned")
    assert "plan, validate" in summary


def test_a_failed_restore_names_its_failed_steps_in_the_title():
    settings = {"restoring": True, "restore_id": "r1", "target": "in_place", "region": "eu-west-1"}
    summary = restore_summary(settings, None, None, None, {"place_efs": "failed", "x": "success"})
    assert summary.startswith("## Restore r1: FAILED at place_efs")
    assert "No plan: `plan` refused" in summary


def test_a_backup_without_a_manifest_says_so():
    summary = backup_summary(None, "eu-west-1", {"efs_backup": "failed"})
    assert summary.startswith("## No backup set was written by this run")
    assert "efs_backup" in summary


def test_copies_link_to_their_own_region_and_velero_has_no_console_page():
    copy = {"id": "snap-copy", "region": "eu-central-1"}
    assert "region=eu-central-1#db-snapshot:id=snap-copy" in artifact_url(
        "rds_snapshot_copy", copy, "eu-west-1"
    )
    assert artifact_url("velero_backup", {"id": "v"}, "eu-west-1") is None


def test_a_restore_waiting_for_approval_or_rejected_says_nothing_changed():
    settings = {"restoring": True, "restore_id": "r1", "target": "in_place", "region": "eu-west-1"}
    waiting = restore_summary(settings, None, None, None, {"approve_in_place": "awaiting_input"})
    assert waiting.startswith("## Restore r1: WAITING FOR APPROVAL")
    states = {"approve_in_place": "failed", "suspend_workflows": "upstream_failed"}
    rejected = restore_summary(settings, None, None, None, states)
    assert rejected.startswith("## Restore r1: NOT APPROVED, nothing was changed")


def test_a_datasync_copy_links_to_its_task_and_a_point_in_time_restore_to_nothing():
    from ue_backup.run_summary import source_url

    plan = {
        "database": {"kind": "point_in_time", "restore_time": "t"},
        "disk": {"kind": "datasync", "task_arn": "arn:aws:datasync:eu-west-1:1:task/task-0abc"},
    }
    assert source_url("database", plan, "eu-west-1") is None
    assert source_url("efs", plan, "eu-west-1").endswith("#/tasks/task-0abc")
