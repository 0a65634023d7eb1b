"""The DAGs a configuration file shapes: no task for what it lacks, the rest as before.

Each DAG folder is parsed as a deployment parses it, with
``UE_BACKUP_CONFIG_FILE`` set (``dag_runner.load_shaped_dags``). What a shape
leaves out is named here explicitly; what it keeps must run in the same
order, with the same trigger rules, as in the full shape (the shape a
configuration kept in the Variable gets), which every other DAG test runs.
The end-to-end tests then run shaped DAGs against the sandbox, and a run
whose DAG was parsed before a component was added refuses before changing
anything.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.airflow_harness.dag_runner import (
    load_dags,
    load_shaped_dags,
    parse_shaped,
    run_dag,
    write_config,
)
from sandbox.installation import NAMESPACE, seed_installation
from tests.dags.integrity import assert_crosses_the_wire
from tests.plugins.test_config import CROSS_REGION, VALID
from tests.plugins.test_dag_shape import DATASYNC, DERBY_ALONE, EXTERNAL
from ue_backup.backup_set import COMPONENTS
from ue_backup.config import parse_config
from ue_backup.dag_shape import backup_steps_needed, retention_steps_needed, unbuilt_steps
from ue_backup.run_settings import BackupRunSettings, RetentionRunSettings

# The full case also configures application checks, so it keeps check_application.
CHECKS = {"sql_checks": [{"name": "sessions", "query": "select 1", "expect": "rows"}]}
CONFIGS = {
    "full": {**VALID, "verification": CHECKS},
    "derby-alone": DERBY_ALONE,
    "datasync": DATASYNC,
    "external-cross-region": {**EXTERNAL, "cross_region": CROSS_REGION},
}
SHAPED_DAGS = ("ue_backup", "ue_restore", "ue_restore_drill", "ue_backup_retention")

# A DataSync set's copy back: no task for an AWS Backup installation (and no wait_efs, the
# restore job's, for a DataSync one).
DATASYNC_COPY = ("copy_efs", "wait_efs_copy", "release_efs_copy")

# What an installation with Derby, no MemoryDB and no Velero has no task for.
DERBY_ALONE_LEFT_OUT = {
    "ue_backup": {
        "check_external_window",
        "rds_snapshot",
        "wait_rds_snapshot",
        "datasync_copy",
        "wait_datasync_copy",
        "memorydb_snapshot",
        "wait_memorydb_snapshot",
        "velero_backup",
        "wait_velero_backup",
        "copy_rds_snapshot",
        "wait_rds_snapshot_copy",
        "copy_efs_recovery_point",
        "wait_efs_recovery_point_copy",
        "export_memorydb_snapshot",
        "wait_memorydb_export",
        "copy_memorydb_snapshot",
        "copy_efs_immutable",
        "wait_efs_immutable_copy",
        "rds_backup_job",
        "wait_rds_backup_point",
        "wait_rds_backup_job",
        "copy_rds_immutable",
        "wait_rds_immutable_copy",
        "verify_locked",
        "lock_manifest",
        "export_memorydb_immutable",
        "wait_memorydb_immutable_export",
        "lock_memorydb_immutable",
    },
    "ue_restore": {
        "bring_back_locked_copies",
        "remove_staged_files",
        *DATASYNC_COPY,
        "restore_database",
        "wait_database",
        "switch_over_database",
        "restore_memorydb",
        "wait_memorydb",
        "restore_kubernetes",
        "wait_kubernetes",
        "check_application",
    },
    "ue_restore_drill": {
        "bring_back_locked_copies",
        *DATASYNC_COPY,
        "restore_database",
        "wait_database",
        "verify_database",
        "restore_memorydb",
        "wait_memorydb",
        "verify_memorydb",
        "restore_kubernetes",
        "wait_kubernetes",
        "verify_kubernetes",
        "check_application",
    },
    # AWS Backup: no DataSync set folder to remove
    "ue_backup_retention": {"delete_datasync_copies"},
}


@pytest.fixture(scope="module")
def bags(tmp_path_factory) -> dict[str, Any]:
    """Every case's DagBag, parsed with its configuration file."""
    out = {}
    for case, data in CONFIGS.items():
        path = tmp_path_factory.mktemp(case) / "installation.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        out[case] = parse_shaped(path)
    return out


@pytest.fixture(scope="module")
def shaped(bags) -> dict[str, dict[str, Any]]:
    """Every case's DAGs, by DAG id."""
    return {case: bag.dags for case, bag in bags.items()}


def graph(dag) -> dict[str, set[str]]:
    return {t.task_id: set(t.downstream_task_ids) for t in dag.tasks}


def reachable(edges: Mapping[str, set[str]], among: set[str]) -> set[tuple[str, str]]:
    """Every (a, b) of ``among`` with a path a -> b, the path free to pass through any task."""
    pairs = set()
    for start in among:
        seen, todo = set(), list(edges[start])
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(edges[node])
        pairs |= {(start, end) for end in seen & among}
    return pairs


def test_derby_alone_builds_no_task_for_rds_memorydb_velero_or_copies(shaped):
    full = load_dags()
    for dag_id in SHAPED_DAGS:
        missing = set(full[dag_id].task_ids) - set(shaped["derby-alone"][dag_id].task_ids)
        assert missing == DERBY_ALONE_LEFT_OUT[dag_id], dag_id


def test_the_full_configuration_leaves_out_only_what_it_does_not_use(shaped):
    full = load_dags()
    dags = shaped["full"]
    assert set(full["ue_backup"].task_ids) - set(dags["ue_backup"].task_ids) == {
        "check_external_window",
        "datasync_copy",
        "wait_datasync_copy",
        "copy_rds_snapshot",
        "wait_rds_snapshot_copy",
        "copy_efs_recovery_point",
        "wait_efs_recovery_point_copy",
        "export_memorydb_snapshot",
        "wait_memorydb_export",
        "copy_memorydb_snapshot",
        "copy_efs_immutable",
        "wait_efs_immutable_copy",
        "rds_backup_job",
        "wait_rds_backup_point",
        "wait_rds_backup_job",
        "copy_rds_immutable",
        "wait_rds_immutable_copy",
        "verify_locked",
        "lock_manifest",
        "export_memorydb_immutable",
        "wait_memorydb_immutable_export",
        "lock_memorydb_immutable",
    }
    # no immutable section: nothing to bring back from the protected copies (nor to remove)
    assert set(full["ue_restore"].task_ids) - set(dags["ue_restore"].task_ids) == {
        "bring_back_locked_copies",
        "remove_staged_files",
        *DATASYNC_COPY,
    }
    assert set(full["ue_restore_drill"].task_ids) - set(dags["ue_restore_drill"].task_ids) == {
        "bring_back_locked_copies",
        *DATASYNC_COPY,
    }
    assert set(full["ue_backup_retention"].task_ids) - set(
        dags["ue_backup_retention"].task_ids
    ) == {"delete_datasync_copies"}
    other = shaped["datasync"]["ue_backup"].task_ids
    assert "datasync_copy" in other
    assert "efs_backup" not in other
    retention = shaped["datasync"]["ue_backup_retention"]
    assert set(retention.task_ids) == set(full["ue_backup_retention"].task_ids)
    for dag_id in ("ue_restore", "ue_restore_drill"):  # the copy back, not the job's wait
        tasks = set(shaped["datasync"][dag_id].task_ids)
        assert set(DATASYNC_COPY) <= tasks, dag_id
        assert "wait_efs" not in tasks, dag_id
        assert {"restore_efs", "restored_file_system", "purge_efs", "check_efs_clean"} <= tasks
    external = shaped["external-cross-region"]["ue_backup"].task_ids
    assert {"check_external_window", "copy_rds_snapshot", "copy_memorydb_snapshot"} <= set(external)


@pytest.mark.parametrize("case", CONFIGS)
@pytest.mark.parametrize("dag_id", SHAPED_DAGS)
def test_the_kept_tasks_run_in_the_same_order_as_in_the_full_shape(shaped, case, dag_id):
    """What a shape keeps is ordered as before: a path between two kept tasks in the full
    DAG (perhaps through a left-out one) is a path in the shaped DAG, and no new one."""
    full, dag = load_dags()[dag_id], shaped[case][dag_id]
    kept = set(dag.task_ids)
    assert kept <= set(full.task_ids)
    assert reachable(graph(dag), kept) == reachable(graph(full), kept)
    for task in dag.tasks:
        before = full.get_task(task.task_id)
        assert (type(task), task.trigger_rule, task.is_setup, task.is_teardown) == (
            type(before),
            before.trigger_rule,
            before.is_setup,
            before.is_teardown,
        ), task.task_id


@pytest.mark.parametrize("case", CONFIGS)
def test_a_configuration_needs_no_step_its_own_shape_lacks(shaped, case):
    """No false refusal: the steps a run of this configuration needs all have a task."""
    cfg = parse_config(CONFIGS[case])
    settings = BackupRunSettings.build(cfg, "ue-test-20260101T0000Z", set(COMPONENTS))
    tasks = shaped[case]["ue_backup"].task_ids
    assert unbuilt_steps(backup_steps_needed(settings), tasks) == []
    retention = RetentionRunSettings.build(cfg, False, [], datetime(2026, 1, 1, tzinfo=UTC))
    tasks = shaped[case]["ue_backup_retention"].task_ids
    assert unbuilt_steps(retention_steps_needed(retention), tasks) == []
    for dag_id in ("ue_restore", "ue_restore_drill"):
        tasks = set(shaped[case][dag_id].task_ids)
        assert cfg.uses_rds == ("restore_database" in tasks)
        assert (cfg.memorydb is not None) == ("restore_memorydb" in tasks)
        assert (cfg.velero is not None) == ("restore_kubernetes" in tasks)


@pytest.mark.parametrize("case", CONFIGS)
def test_every_shape_crosses_the_dag_processors_wire(bags, case):
    assert_crosses_the_wire(bags[case])


# --- end to end: shaped DAGs against the sandbox -------------------------------------------


def derby_alone(sandbox, tmp_path: Path, monkeypatch) -> tuple[Any, dict[str, Any]]:
    inst = seed_installation(sandbox, "ue-test", database="derby", memorydb=False, velero=False)
    inst.config["cold_window"]["drain_timeout_minutes"] = 0.05
    path = write_config(inst.config, tmp_path, monkeypatch)
    return inst, load_shaped_dags(path)


@pytest.mark.e2e
def test_a_derby_installation_backs_up_restores_and_drills_with_only_its_tasks(
    sandbox, tmp_path, monkeypatch
):
    inst, dags = derby_alone(sandbox, tmp_path, monkeypatch)

    backup = run_dag("ue_backup", {"reason": "shaped"}, dags=dags)
    assert backup.state == "success", backup.tasks
    assert not set(backup.tasks) & DERBY_ALONE_LEFT_OUT["ue_backup"]
    assert backup.tasks["efs_backup"] == "success"
    assert backup.xcom("verify")["result"] == "passed"

    restore = run_dag("ue_restore", {"mode": "restore"}, dags=dags)
    assert restore.state == "success", restore.tasks
    assert not set(restore.tasks) & DERBY_ALONE_LEFT_OUT["ue_restore"]
    assert restore.tasks["check_efs_clean"] == "success"

    drill = run_dag("ue_restore_drill", dags=dags)
    assert drill.state == "success", drill.tasks
    assert not set(drill.tasks) & DERBY_ALONE_LEFT_OUT["ue_restore_drill"]
    assert drill.xcom("report")["outcome"] == "passed"

    # In place, the commit has no database to switch over: placing the tree completes it,
    # and the workflows are resumed (a missing switch-over task is not a half-done commit).
    conf = {"mode": "restore", "target": "in_place", "confirm": inst.name}
    in_place = run_dag("ue_restore", conf, dags=dags)
    assert in_place.state == "success", in_place.tasks
    assert in_place.tasks["place_efs"] == "success"
    assert "switch_over_database" not in in_place.tasks
    enabled = {
        e["metadata"]["name"]: e["spec"].get("enabled", True)
        for e in sandbox.k8s.list("ecdeployments", NAMESPACE)
    }
    assert enabled == dict.fromkeys(inst.ecds, True)


@pytest.mark.e2e
def test_a_run_parsed_before_a_component_was_added_refuses_and_changes_nothing(
    sandbox, tmp_path, monkeypatch, capfd, caplog
):
    inst = seed_installation(sandbox, "ue-test")
    inst.config["cold_window"]["drain_timeout_minutes"] = 0.05
    without = copy.deepcopy(inst.config)
    without.pop("memorydb")
    without.pop("velero")
    (tmp_path / "before").mkdir()
    stale = load_shaped_dags(write_config(without, tmp_path / "before", monkeypatch))
    write_config(inst.config, tmp_path, monkeypatch)  # MemoryDB and Velero added since

    result = run_dag("ue_backup", dags=stale)

    assert result.state == "failed"
    assert result.tasks["preflight"] == "failed"
    assert result.tasks["suspend_workflows"] != "success"
    assert len(sandbox.log) == 0
    out, err = capfd.readouterr()
    said = out + err + caplog.text
    assert "has no task ['memorydb_snapshot', 'velero_backup']" in said
    assert "Nothing was changed" in said
