"""Every settings key a DAG reads exists, and a misspelt one fails the DAG's parse.

The DAG files read their run's settings through templates
(``BACKUP.rds_instance``) and ``only_if`` gates checked against the models of
``ue_backup.run_settings`` when the file is imported. Here the real DAGs are
parsed and every key their templates and gates read is looked up in the
model of the task it is read from; and copies of the DAG files with one key
misspelt are parsed by a DagBag, which must report an import error naming
the key (never a DAG that would render None or silently skip a component).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dags.integrity import load_dag_folder
from ue_backup.run_settings import (
    BackupRunSettings,
    DrillRunSettings,
    RestorePlanResult,
    RestoreRunSettings,
    RetentionRunSettings,
)

DAGS = Path(__file__).resolve().parents[2] / "dags"
# The model each DAG's settings-returning tasks return, by task id.
MODELS = {
    "ue_backup": {"preflight": BackupRunSettings},
    "ue_restore": {"validate": RestoreRunSettings, "plan": RestorePlanResult},
    "ue_restore_drill": {"prepare": DrillRunSettings},
    "ue_backup_retention": {"validate": RetentionRunSettings},
}
READ = re.compile(r"""xcom_pull\(task_ids=["'](\w+)["']\)\[["'](\w+)["']\]""")


def template_reads(value: Any) -> Iterator[tuple[str, str]]:
    """(task id, key) of every settings read in a templated value, however nested."""
    if isinstance(value, str):
        yield from READ.findall(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from template_reads(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from template_reads(item)


def gate_reads(hook: Any) -> Iterator[tuple[str, str]]:
    """(task id, key) an ``only_if`` gate reads, also inside a wrapper (``drill_step``)."""
    if not callable(hook) or not getattr(hook, "__closure__", None):
        return
    contents = (cell.cell_contents for cell in hook.__closure__)
    cells = dict(zip(hook.__code__.co_freevars, contents, strict=True))
    if "key" in cells and "task_id" in cells:
        yield cells["task_id"], cells["key"]
    for value in cells.values():
        if callable(value) and value is not hook:
            yield from gate_reads(value)


@pytest.fixture(scope="module")
def dags():
    bag = load_dag_folder(DAGS)
    assert bag.import_errors == {}
    return bag.dags


@pytest.mark.parametrize("dag_id", list(MODELS))
def test_every_key_a_dag_reads_is_a_field_of_its_settings_model(dags, dag_id):
    models = MODELS[dag_id]
    reads = set()
    for task in dags[dag_id].tasks:
        for field in task.template_fields:
            reads |= {(task.task_id, *r) for r in template_reads(getattr(task, field, None))}
        reads |= {(task.task_id, *r) for r in gate_reads(task._pre_execute_hook)}
    settings_reads = {(where, t, k) for where, t, k in reads if t in models}
    assert settings_reads, f"{dag_id} reads no settings: the scan is broken"
    unknown = sorted(
        f"{where} reads {key!r} of {t} ({models[t].__name__})"
        for where, t, key in settings_reads
        if key not in models[t].model_fields
    )
    assert unknown == []
    # Each gate is seen: a component's skip is decided by a field of the model.
    gates = {k for task in dags[dag_id].tasks for _, k in gate_reads(task._pre_execute_hook)}
    assert gates <= {f for m in models.values() for f in m.model_fields}


# (DAG file, a key as the file reads it, the same key misspelt): a template, gates, a shim.
MISSPELT = [
    ("ue_backup.py", "BACKUP.rds_instance,", "BACKUP.rds_instanse,", "rds_instanse"),
    ("ue_backup.py", "only_if(BACKUP.copy_efs)", "only_if(BACKUP.copy_efss)", "copy_efss"),
    (
        "ue_restore.py",
        "only_if(PLANNED.switch_over_database)",
        "only_if(PLANNED.switch_over_databse)",
        "switch_over_databse",
    ),
    (
        "ue_restore_drill.py",
        "memorydb_target=DRILL.memorydb_target,",
        "memorydb_target=DRILL.memorydb_targt,",
        "memorydb_targt",
    ),
    ("ue_backup_retention.py", "only_if(RETENTION.apply)", "only_if(RETENTION.aply)", "aply"),
]


@pytest.mark.parametrize(("name", "right", "wrong", "key"), MISSPELT, ids=[m[3] for m in MISSPELT])
def test_a_misspelt_settings_key_fails_the_dags_parse(tmp_path, name, right, wrong, key):
    source = (DAGS / name).read_text()
    assert right in source, f"{name} no longer reads {right}: update this case"
    (tmp_path / name).write_text(source.replace(right, wrong, 1))

    bag = load_dag_folder(tmp_path)

    assert bag.dags == {}, "the DAG with a misspelt key was loaded"
    (error,) = bag.import_errors.values()
    assert f"no field {key!r}" in error, error
    assert "close matches:" in error, error
