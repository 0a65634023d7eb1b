"""The waits on a critical path check every few seconds in production, and end in the triggerer.

The wait that closes the cold window holds the workflows suspended until it
sees the EFS job end, and every restore wait adds to the recovery time (a
drill measures it): at their services' usual 15 to 30 s pace each would add
that much again on average, and a trip back to a worker after each adds a
task start. The DAG files are parsed as in production, without the tests'
``UE_BACKUP_POLL_SECONDS``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ue_backup.triggers.waits import CRITICAL_PATH_POLL_SECONDS

pytestmark = pytest.mark.slow  # parses in fresh processes: not in make check

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1], bundle_path=sys.argv[1])
assert not bag.import_errors, bag.import_errors
print("FILES", json.dumps({dag_id: dag.fileloc for dag_id, dag in bag.dags.items()}))
print("PACE", json.dumps({
    dag_id: {
        t.task_id: [t.poke_interval, getattr(t, "end_from_trigger", False)]
        for t in dag.tasks if hasattr(t, "poke_interval")
    }
    for dag_id, dag in bag.dags.items()
}))
"""
# A restore's and a drill's waits: the same steps, named alike in both DAGs.
RESTORE_WAITS = {
    "wait_database",
    "wait_efs",
    "wait_memorydb",
    "wait_efs_mount_targets",
    "wait_kubernetes",
}
CRITICAL = {
    "ue_backup": {"wait_workflows_drained", "wait_efs_backup", "wait_datasync_copy"},
    "ue_restore": RESTORE_WAITS
    | {"wait_workflows_drained", "purge_efs", "check_efs_clean", "place_efs"},
    "ue_restore_drill": RESTORE_WAITS | {"purge_efs"},
}
# Critical-path waits whose result a later task reads: they resume on a worker.
RESULT_READ = {"ue_restore_drill": {"check_efs_clean"}}


def parse_dags(**settings: str) -> dict[str, dict]:
    """Parse the DAG folder in a new process, as production does, with these settings."""
    env = {k: v for k, v in os.environ.items() if k != "UE_BACKUP_POLL_SECONDS"} | settings
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT / "dags")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(x.split(" ", 1) for x in done.stdout.splitlines() if x[:6] in ("PACE {", "FILES "))
    return {name: json.loads(value) for name, value in lines.items()}


@pytest.fixture(scope="module")
def parsed() -> dict[str, dict]:
    return parse_dags(AIRFLOW__CORE__LOAD_EXAMPLES="False")


@pytest.fixture(scope="module")
def production_pace(parsed) -> dict[str, dict[str, tuple[float, bool]]]:
    return parsed["PACE"]


@pytest.mark.parametrize("dag_id", sorted(CRITICAL))
def test_critical_path_waits_check_every_few_seconds(production_pace, dag_id):
    paces = production_pace[dag_id]
    assert CRITICAL[dag_id] <= set(paces), f"{dag_id} lacks {CRITICAL[dag_id] - set(paces)}"
    waits = CRITICAL[dag_id] | RESULT_READ.get(dag_id, set())
    slow = {t: paces[t][0] for t in waits if paces[t][0] > CRITICAL_PATH_POLL_SECONDS}
    assert not slow, f"{dag_id}: critical-path waits checking less often than every 5 s: {slow}"


@pytest.mark.parametrize("dag_id", sorted(CRITICAL))
def test_critical_path_waits_end_in_the_triggerer(production_pace, dag_id):
    paces = production_pace[dag_id]
    back_to_worker = sorted(t for t in CRITICAL[dag_id] if not paces[t][1])
    assert not back_to_worker, f"{dag_id}: waits resuming on a worker: {back_to_worker}"


def xcom_reads(source: str, task_id: str) -> list[str]:
    """Where a DAG file reads ``task_id``'s XCom: ``task_ids=...`` or the ``xcom(...)`` helper."""
    quoted = f"[\"']{re.escape(task_id)}[\"']"
    return re.findall(rf"(?:task_ids\s*=\s*|xcom\(\s*){quoted}", source)


@pytest.mark.parametrize("dag_id", sorted(CRITICAL))
def test_no_task_reads_the_xcom_of_a_wait_that_ends_in_the_triggerer(parsed, dag_id):
    """Such a wait returns nothing (the triggerer's XCom would come back as text)."""
    source = Path(parsed["FILES"][dag_id]).read_text()
    ending = [t for t, (_, ends) in parsed["PACE"][dag_id].items() if ends]
    read = {t: xcom_reads(source, t) for t in ending if xcom_reads(source, t)}
    assert not read, f"{dag_id}: XComs read of tasks that end in the triggerer: {read}"
    for task_id in RESULT_READ.get(dag_id, ()):
        assert xcom_reads(source, task_id), f"{task_id} is read: the check above would see it"


def test_waits_off_the_critical_path_keep_their_service_pace(production_pace):
    """The snapshots' waits run after the window closed: no need to ask AWS every 5 s."""
    backup = production_pace["ue_backup"]
    assert backup["wait_rds_snapshot"][0] > CRITICAL_PATH_POLL_SECONDS
    assert backup["wait_memorydb_snapshot"][0] > CRITICAL_PATH_POLL_SECONDS


def test_with_listeners_installed_the_dags_load_and_every_wait_resumes_on_a_worker():
    """Airflow refuses a task that ends in the triggerer where listeners are installed
    (OpenLineage, a plugin's: here the example plugin's): the DAGs must still load."""
    paces = parse_dags(AIRFLOW__CORE__LOAD_EXAMPLES="True")["PACE"]

    assert set(CRITICAL) <= set(paces)  # loaded: the probe asserts no import error
    ending = {dag: [t for t, (_, ends) in tasks.items() if ends] for dag, tasks in paces.items()}
    assert not any(ending.values()), ending
