"""The names the restore DAG composes in its templates are valid for every installation.

The DAG names its EFS token, claim, Jobs and Velero restore ``<restore id>-...``
in templates; ``restore_steps.restore_names`` gives the id (and
``tests/plugins/test_names.py`` checks it and the plugin-made names). This
renders the DAG's own templates with the settings of runs of installation
names drawn from the configuration's rule and checks each name the DAG makes
against the services' documented rules (``tests/plugins/names_support.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import jinja2
import pytest
from hypothesis import example, given, settings

from sandbox.airflow_harness.dag_runner import load_dags, run_dag, write_config
from sandbox.aws.network import add_mount_targets
from sandbox.installation import seed_installation
from tests.plugins.names_support import CASE_7, installations, problems_of, times
from ue_backup.kube_names import efs_volume_name
from ue_backup.tasks.restore_steps import restore_names

RID_TEMPLATE = 'ti.xcom_pull(task_ids="validate")["restore_id"]'
# What each templated field names, and the rules that name must meet.
FIELD_RULES = {
    "idempotency_token": ("backup token", "efs creation token"),  # also the new fs's token
    "claim_name": ("k8s subdomain",),
    "job_name": ("k8s label",),
    "restore_name": ("k8s label", "k8s label value"),  # velero.io/restore-name selects by it
    # bring_back_locked_copies: its copy jobs' tokens (<id>-<what>-back) and its staging
    # key prefix (ue-backup-restores/<id>/, any text) start with it
    "token_prefix": ("backup token",),
}
# Fields that carry the id but name nothing: an annotation's value (any text), and the id the
# switch-over derives the set-aside instance's name from (switch_over.replaced_name, checked
# in tests/plugins/test_names.py).
CARRY_THE_ID = {"suspended_by", "restore_id"}
LONGEST_NAMESPACE = "n" * 63  # the claim's PersistentVolume is named <namespace>-<claim>


def names_the_dag_makes(settings: dict) -> dict[tuple[str, str], str]:
    """(task id, field) -> the rendered name, for every field naming something after the id."""
    ti = SimpleNamespace(xcom_pull=lambda task_ids: settings if task_ids == "validate" else {})
    return {
        (task.task_id, field): jinja2.Template(value).render(ti=ti)
        for task in load_dags()["ue_restore"].tasks
        for field in task.template_fields
        if field != "script"  # a shell script naming a directory, not an object
        and field not in CARRY_THE_ID
        and isinstance(value := getattr(task, field, None), str)
        and RID_TEMPLATE in value
    }


@settings(max_examples=200, deadline=None)
@given(installations, times)
@example(CASE_7, datetime(2026, 3, 1, tzinfo=UTC))
def test_every_name_the_restore_dag_makes_is_valid(installation, when):
    made = names_the_dag_makes(restore_names(installation, when))

    assert {field for _, field in made} >= set(FIELD_RULES)
    unknown = {where for where in made if where[1] not in FIELD_RULES}
    assert not unknown, f"name these fields' rules in FIELD_RULES: {unknown}"
    named = [(f"{task}.{field}", name, FIELD_RULES[field]) for (task, field), name in made.items()]
    named += [
        ("PersistentVolume", efs_volume_name(LONGEST_NAMESPACE, name), ("k8s subdomain",))
        for (_, field), name in made.items()
        if field == "claim_name"
    ]
    assert problems_of(named) == []


@pytest.mark.e2e
def test_case_7_backs_up_and_restores_side_by_side_on_the_sandbox(
    sandbox_session, tmp_path, monkeypatch
):
    """Case 7 end to end: the sandbox's RDS refuses '--' as AWS does, as the old id made."""
    sandbox = sandbox_session
    sandbox.reset()
    for name, value in sandbox.connection_env().items():
        monkeypatch.setenv(name, value)
    inst = seed_installation(sandbox, CASE_7)
    add_mount_targets(sandbox, inst.file_system_id)
    inst.config["cold_window"]["drain_timeout_minutes"] = 0.05
    write_config(inst.config, tmp_path, monkeypatch)
    assert run_dag("ue_backup").state == "success"

    result = run_dag("ue_restore", {"mode": "restore"})

    assert result.state == "success", result.tasks
    rid = result.xcom("validate")["restore_id"]
    assert rid.startswith("abcdefghijklmnopqrstuvw-r")
    restored = result.xcom("report")["restored"]
    rds = sandbox.client("rds").describe_db_instances(DBInstanceIdentifier=restored["database"])
    assert rds["DBInstances"][0]["DBInstanceStatus"] == "available"
    memorydb = sandbox.client("memorydb").describe_clusters(
        ClusterName=restored["memorydb_cluster"]
    )
    assert memorydb["Clusters"][0]["Status"] == "available"
