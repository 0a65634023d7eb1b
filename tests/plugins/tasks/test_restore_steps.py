"""The restore request's checks: the region it works in (home or copy region), its target time."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.plugins.test_config import CROSS_REGION, VALID
from ue_backup.config import parse_config
from ue_backup.run_settings import vault_in
from ue_backup.tasks.restore_steps import check_request, check_source_region

DATASYNC_EFS = {
    "file_system_id": "fs-0123456789abcdef0",
    "backup_method": "datasync",
    "datasync": {
        "target_file_system_id": "fs-0123456789abcdef1",
        "task_arn": "arn:aws:datasync:eu-west-1:123456789012:task/task-0123456789abcdef0",
    },
}
WITH_COPIES = parse_config({**VALID, "cross_region": CROSS_REGION})
HOME_ONLY = parse_config(copy.deepcopy(VALID))


@pytest.mark.parametrize("region", [None, "", "eu-west-1", "eu-central-1"])
def test_the_home_and_the_copy_region_are_accepted(region):
    assert check_source_region({"source_region": region}, WITH_COPIES) == []


def test_another_region_is_refused_naming_the_field_and_the_choices():
    (problem,) = check_source_region({"source_region": "us-east-1"}, WITH_COPIES)
    assert problem.startswith("params.source_region: 'us-east-1' holds no backups of ue-test")
    assert "'eu-west-1'" in problem
    assert "'eu-central-1' (cross_region.region)" in problem


def test_without_copies_only_the_home_region_is_accepted():
    (problem,) = check_source_region({"source_region": "eu-central-1"}, HOME_ONLY)
    assert "no cross_region is configured" in problem
    assert check_source_region({"source_region": "eu-west-1"}, HOME_ONLY) == []


def test_a_restore_from_the_copy_region_is_side_by_side_only():
    params = {"source_region": "eu-central-1", "target": "in_place"}
    (problem,) = check_source_region(params, WITH_COPIES)
    assert problem.startswith("params.target: in_place replaces the live resources in eu-west-1")


def test_a_datasync_installation_restores_in_its_home_region_only():
    """Its copies are folders on a file system of the home region: even the configured copy
    region holds none (a cross_region section copies the other components)."""
    datasync = parse_config({**VALID, "cross_region": CROSS_REGION, "efs": DATASYNC_EFS})
    (problem,) = check_source_region({"source_region": "eu-central-1"}, datasync)
    assert problem.startswith("params.source_region: 'eu-central-1': a DataSync installation")
    assert "leave source_region empty" in problem
    assert check_source_region({"source_region": "eu-west-1"}, datasync) == []
    assert check_source_region({}, datasync) == []


def test_a_region_that_is_not_text_is_refused_by_the_request_check():
    _, problems = check_request({"source_region": 42}, {"source_region": 42}, None)
    assert problems == ["params.source_region: 42 is not a region name"]


def test_source_region_is_a_known_param():
    _, problems = check_request({}, {"source_region": "eu-central-1"}, None)
    assert problems == []


def test_the_vault_of_each_region():
    assert vault_in(WITH_COPIES, "eu-west-1") == "ue-test-vault"
    assert vault_in(WITH_COPIES, "eu-central-1") == "dr"


ASKED_AT = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
POINT_IN_TIME = {"request_type": "point_in_time"}


def test_a_target_time_after_the_request_is_refused_naming_the_field():
    params = {**POINT_IN_TIME, "target_time": "2062-12-06T11:00:00Z"}  # a mistyped year
    _, problems = check_request(params, params, None, ASKED_AT)
    (problem,) = problems
    assert problem.startswith("params.target_time: 2062-12-06T11:00:00+00:00 is after the moment")
    assert ASKED_AT.isoformat() in problem


@pytest.mark.parametrize("target", ["2026-12-06T11:59:59Z", "2026-12-06T12:00:00+00:00"])
def test_a_target_time_up_to_the_request_is_accepted(target):
    params = {**POINT_IN_TIME, "target_time": target}
    request, problems = check_request(params, params, None, ASKED_AT)
    assert problems == []
    assert request["target_time"].startswith("2026-12-06T1")


def test_without_the_moment_of_the_request_now_is_the_bound():
    params = {**POINT_IN_TIME, "target_time": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}
    _, problems = check_request(params, params, None)
    (problem,) = problems
    assert "is after the moment of the request" in problem


# --- in place, the checks need the live instance's managed login, refused before anything ---


def checked_in_place(cfg, live: str):
    """An in-place restore plan of ``cfg`` whose checks borrow ``live``'s login."""
    from tests.plugins.test_run_settings import a_plan
    from ue_backup.run_settings import RestorePlanResult, RestoreRunSettings
    from ue_backup.tasks.restore_steps import restore_names

    names = restore_names(cfg.installation, datetime(2026, 3, 1, tzinfo=UTC))
    params = {"mode": "restore", "target": "in_place"}
    settings = RestoreRunSettings.build(cfg, names, {"type": "latest"}, params)
    return settings, RestorePlanResult.build(settings, a_plan(cfg), {})


@pytest.mark.parametrize("managed", [True, False])
def test_an_in_place_restore_with_checks_needs_the_live_instances_managed_login(sandbox, managed):
    from sandbox.aws.fixtures import create_db_instance
    from ue_backup.errors import PermanentFailure
    from ue_backup.tasks.restore_steps import refuse_checks_without_a_login

    live = "ue-live-db"
    create_db_instance(sandbox.client("rds"), live, ManageMasterUserPassword=managed)
    checks = {"sql_checks": [{"name": "sessions", "query": "select 1", "expect": "rows"}]}
    data = copy.deepcopy(VALID)
    data["database"]["rds_instance_identifier"] = live
    cfg = parse_config({**data, "region": sandbox.region, "verification": checks})
    settings, planned = checked_in_place(cfg, live)
    assert planned.check_login_instance  # the replaced instance lends its login

    if managed:
        refuse_checks_without_a_login(settings, planned)  # passes
        return
    with pytest.raises(PermanentFailure, match=rf"{live} has none. Nothing was changed"):
        refuse_checks_without_a_login(settings, planned)


def test_the_report_is_kept_after_failed_checks_only():
    from ue_backup.compat import AirflowSkipException
    from ue_backup.tasks.restore_steps import refuse_report_after_failure

    ok = {"restore_efs": "success", "commit_point": "skipped"}
    refuse_report_after_failure({**ok, "check_application": "failed"})  # the restore exists
    # run_outcome may have failed the run already (it only repeats the check's failure)
    refuse_report_after_failure({**ok, "check_application": "failed", "run_outcome": "failed"})
    for failed in ({"restore_efs": "failed"}, {"place_efs": "upstream_failed"}):
        with pytest.raises(AirflowSkipException, match=re.escape(str(sorted(failed)))):
            refuse_report_after_failure({**ok, **failed, "check_application": "failed"})


@pytest.mark.parametrize(("target", "named"), [("side_by_side", True), ("in_place", False)])
def test_the_report_names_a_derby_platform_velero_brought_back_stopped(target, named):
    """Side by side nobody scales the platform Velero created back: the report says how.
    In place the restore resumes the backup set's own scale-down itself."""
    from tests.plugins.plans import restore_steps
    from tests.plugins.test_config import DERBY, with_change
    from ue_backup.run_settings import RestoreRunSettings
    from ue_backup.tasks.restore_steps import restore_report

    cfg = parse_config(with_change("database", DERBY))
    names = {"restore_id": "r", "rds_target": "r", "memorydb_target": "r"}
    run = RestoreRunSettings.build(
        cfg, names, {"type": "latest"}, {"mode": "restore", "target": target}
    )
    plan = {"backup_set": "s", "database": {"kind": "derby"}, "disk": {}}
    planned = {**restore_steps(restore_efs=True, restore_velero=True), "plan": plan}
    report = restore_report(run.dump(), planned, efs=None, resumed=None)
    steps = [s for s in report["next_steps"] if "StatefulSet platform" in s]
    assert bool(steps) == named, report["next_steps"]


# --- confirm: empty (the approval in the UI), the installation's name, or refused ---


@pytest.mark.parametrize(
    ("params", "in_ui", "refused"),
    [
        ({"mode": "restore", "target": "in_place"}, True, None),
        ({"mode": "restore", "target": "in_place", "confirm": "ue-test"}, True, None),
        ({"mode": "restore", "target": "in_place", "confirm": "ue-test"}, False, None),
        ({"mode": "plan", "target": "in_place"}, False, None),
        ({"mode": "restore", "target": "in_place"}, False, "it needs 3.1 or later"),
        ({"mode": "restore", "target": "in_place", "confirm": "ue-other"}, True, "'ue-other'"),
        ({"mode": "plan", "confirm": "ue-test "}, True, "is not this installation's name"),
    ],
    ids=[
        "ui-approval",
        "ahead",
        "ahead-on-3.0",
        "plan-on-3.0",
        "no-approval-on-3.0",
        "wrong-name",
        "trailing-space",
    ],
)
def test_confirm_is_empty_or_the_installations_name(params, in_ui, refused):
    from ue_backup.tasks.restore_steps import check_confirm

    problems = check_confirm(params, "ue-test", in_ui)
    if refused is None:
        assert problems == []
    else:
        (problem,) = problems
        assert problem.startswith("params.confirm: ")
        assert refused in problem


@pytest.mark.parametrize(
    ("params", "approval"),
    [
        ({"mode": "restore", "target": "in_place"}, "human"),
        ({"mode": "restore", "target": "in_place", "confirm": "ue-test"}, "confirmed"),
        ({"mode": "plan", "target": "in_place"}, "not_needed"),
        ({"mode": "restore", "target": "side_by_side", "confirm": "ue-test"}, "not_needed"),
    ],
)
def test_only_an_in_place_restore_waits_for_a_person(params, approval):
    from ue_backup.run_settings import approval_of

    in_place = params["target"] == "in_place" and params["mode"] == "restore"
    assert approval_of(in_place, params, "ue-test") == approval
