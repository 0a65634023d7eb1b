"""The restore drill's pure parts: names, refusals, scripts, Velero rules, schedule."""

from __future__ import annotations

import copy
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from sandbox.installation import LIVE_FILES, TEMPORARY_FILES, write_tree
from sandbox.k8s.velero import modifiers
from ue_backup.config import MEMORYDB_NAME_RE, RDS_ID_RE, parse_config
from ue_backup.hooks.velero import disable_ecds_modifier
from ue_backup.restore_scripts import DONE_MARKER
from ue_backup.tasks.drill_steps import (
    check_config,
    check_params,
    drill_id,
    drill_names,
    modifier_rules,
    tree_check_script,
)

RUN_AFTER = datetime(2026, 3, 1, 4, 0, 0, tzinfo=UTC)
CONFIG = {
    "installation": "ue-test",
    "region": "eu-west-1",
    "database": {"engine": "rds", "rds_instance_identifier": "ue-test-db"},
    "efs": {
        "file_system_id": "fs-0123456789abcdef0",
        "backup_method": "aws_backup",
        "aws_backup": {
            "vault_name": "ue-test-vault",
            "iam_role_arn": "arn:aws:iam::123456789012:role/ue-backup",
        },
    },
    "kubernetes": {"namespace": "uepe", "ecd_selection": {"names": ["ecd-a"]}},
    "velero": {"included_namespaces": ["uepe", "uepe-platform"]},
    "manifests": {"bucket": "ue-test-manifests"},
}


def config(**sections):
    return parse_config({**copy.deepcopy(CONFIG), **sections})


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "installation",
    ["ue-test", "a" * 40, "abcdefghijklmnopqrst-uvwxyz", "a--b", "prod-eu-west-1-usage-engine"],
)
def test_drill_ids_fit_every_service_that_names_a_resource_after_them(installation):
    did = drill_id(installation, RUN_AFTER)

    assert did.endswith("-drill-260301040000")
    assert len(did) <= 40
    assert MEMORYDB_NAME_RE.match(did)
    assert RDS_ID_RE.match(did)
    assert "--" not in did


def test_the_id_comes_from_the_run_in_utc():
    east = RUN_AFTER.astimezone(timezone(timedelta(hours=2)))

    assert drill_id("ue-test", east) == "ue-test-drill-260301040000"
    assert drill_id("ue-test", RUN_AFTER + timedelta(seconds=1)) != drill_id("ue-test", RUN_AFTER)


def test_every_temporary_name_derives_from_the_drill_and_none_is_live():
    names = drill_names(config(), RUN_AFTER)

    did = names["drill_id"]
    assert names["drill_namespace"] == "uepe-drill"
    assert names["efs_volume"] == f"uepe-drill-{did}-efs"  # KubeJobHook.ensure_efs_claim's name
    assert all(did in v for k, v in names.items() if k != "drill_namespace")
    assert not {"ue-test-db", "fs-0123456789abcdef0", "uepe"} & set(names.values())
    assert drill_names(config(drill={"namespace": "dr"}), RUN_AFTER)["drill_namespace"] == "dr"


# --- refusals ---------------------------------------------------------------------------------


def test_params_problems_name_their_field_all_at_once():
    request, problems = check_params(
        {"backup_set": "nonsense", "dry_run": "yes", "source": "attic"},
        {"backup_set": "nonsense", "colour": "red"},
    )

    assert request["type"] == "latest"
    assert problems == [
        "params.colour: is not a parameter of this DAG "
        "(known: backup_set, allow_point_in_time_restore, dry_run, source)",
        "params.dry_run: 'yes' is not true or false",
        "params.source: 'attic' is not one of home, immutable",
        "params.backup_set: 'nonsense' is not a backup set id "
        "(<installation>-<yyyymmdd>t<hhmmss>z)",
    ]


def test_a_named_set_is_planned_as_that_set():
    request, problems = check_params(
        {"backup_set": "ue-test-20260301t020000z", "allow_point_in_time_restore": False}, {}
    )

    assert problems == []
    assert request == {
        "type": "backup_set",
        "backup_set": "ue-test-20260301t020000z",
        "allow_point_in_time_restore": False,
    }
    assert check_params({}, {})[0] == {"type": "latest", "allow_point_in_time_restore": True}


@pytest.mark.parametrize(
    ("sections", "request_", "words"),
    [
        ({}, {"type": "backup_set", "backup_set": "ue-prod-20260301t020000z"}, "is a set of"),
        ({"drill": {"namespace": "uepe"}}, {"type": "latest"}, "drill.namespace: 'uepe'"),
        ({"drill": {"namespace": "uepe-platform"}}, {"type": "latest"}, "drill.namespace"),
    ],
    ids=["other-installation", "live-namespace", "velero-namespace"],
)
def test_configurations_a_drill_cannot_serve_are_refused(sections, request_, words):
    (problem,) = check_config(config(**sections), request_)

    assert words in problem


def test_a_good_configuration_has_no_problem():
    assert check_config(config(), {"type": "latest"}) == []


def test_a_datasync_installation_is_drilled():
    """A DataSync set restores by a copy of its folder: the drill no longer refuses it."""
    datasync = {
        "file_system_id": "fs-0123456789abcdef0",
        "backup_method": "datasync",
        "datasync": {
            "target_file_system_id": "fs-0123456789abcdef1",
            "task_arn": "arn:aws:datasync:eu-west-1:123456789012:task/task-0123456789abcdef0",
        },
    }
    assert check_config(config(efs=datasync), {"type": "latest"}) == []


def test_a_drill_from_the_protected_copies_without_the_section_is_refused_naming_the_param():
    (problem,) = check_config(config(), {"type": "latest"}, "immutable")

    assert problem.startswith("params.source: immutable drills a restore from the protected")
    assert "no immutable section" in problem


# --- the EFS check ---------------------------------------------------------------------------


def run_check(root: Path) -> subprocess.CompletedProcess:
    script = tree_check_script("/efs").replace("/efs", str(root))
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30)


def test_the_check_passes_a_clean_tree_and_counts_its_files(tmp_path):
    write_tree(tmp_path, LIVE_FILES)
    (tmp_path / DONE_MARKER).write_text("drill")

    checked = run_check(tmp_path)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"files: {len(LIVE_FILES)}" in checked.stdout


@pytest.mark.parametrize("temporary", sorted(TEMPORARY_FILES))
def test_the_check_fails_on_any_temporary_file(tmp_path, temporary):
    write_tree(tmp_path, {**LIVE_FILES, temporary: TEMPORARY_FILES[temporary]})

    checked = run_check(tmp_path)

    assert checked.returncode != 0
    assert "temporary files present" in checked.stdout


def test_the_check_fails_on_an_empty_tree(tmp_path):
    (tmp_path / DONE_MARKER).write_text("drill")

    checked = run_check(tmp_path)

    assert checked.returncode != 0
    assert "holds no file" in checked.stdout


# --- what Velero is told ------------------------------------------------------------------------


def test_the_modifier_rules_load_in_velero_and_zero_every_workload():
    document = disable_ecds_modifier(["uepe", "uepe-drill"])
    document["resourceModifierRules"] += modifier_rules()
    config_map = {
        "metadata": {"name": "d-modifiers", "namespace": "velero"},
        "data": {"modifiers.yaml": yaml.safe_dump(document)},
    }
    rules = modifiers.load(config_map)

    deployment = {
        "metadata": {"name": "platform", "namespace": "uepe-drill"},
        "spec": {"replicas": 3},
    }
    ecd = {"metadata": {"name": "ecd-a", "namespace": "uepe-drill"}, "spec": {"enabled": True}}
    assert modifiers.apply(rules, deployment, "deployments.apps")["spec"]["replicas"] == 0
    assert modifiers.apply(rules, ecd, "ecdeployments.mz.digitalroute.com")["spec"] == {
        "enabled": False
    }
    configmap = {"metadata": {"name": "c", "namespace": "uepe-drill"}, "data": {"a": "b"}}
    assert modifiers.apply(rules, configmap, "configmaps") == configmap


# --- when it runs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("drill", "expected"),
    [
        ({}, ("AssetOrTimeSchedule", "0 4 * * 0")),
        ({"schedule": "30 1 * * *"}, ("AssetOrTimeSchedule", "30 1 * * *")),
        ({"after_backup": False}, ("CronTriggerTimetable", "0 4 * * 0")),
        ({"schedule": None}, ("Asset", None)),
        ({"schedule": None, "after_backup": False}, ("NoneType", None)),
    ],
)
def test_the_schedule_comes_from_the_drill_section(tmp_path, monkeypatch, drill, expected):
    from ue_backup.dag_support import BACKUP_SET_ASSET, drill_schedule

    path = tmp_path / "installation.yaml"
    path.write_text(yaml.safe_dump({**CONFIG, "drill": drill}))
    monkeypatch.setenv("UE_BACKUP_CONFIG_FILE", str(path))

    schedule = drill_schedule()

    assert type(schedule).__name__ == expected[0]
    cron = getattr(schedule, "timetable", schedule)
    assert getattr(cron, "expression", None) == expected[1]
    if drill.get("after_backup", True):
        assert getattr(schedule, "asset_condition", schedule) == BACKUP_SET_ASSET


def test_a_bad_drill_schedule_is_refused_with_its_field():
    from ue_backup.config import ConfigError

    with pytest.raises(ConfigError, match=r"drill\.schedule"):
        config(drill={"schedule": "every sunday"})
