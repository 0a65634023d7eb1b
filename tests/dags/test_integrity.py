"""Every DAG in dags/ imports cleanly, touches nothing at parse time and is documented.

The checker itself is exercised on small DAG folders written here, so that a
broken DAG is shown to fail the suite.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.dags.integrity import assert_crosses_the_wire, integrity_report, load_dag_folder

DAGS = Path(__file__).resolve().parents[2] / "dags"

GOOD_DAG = """
    from airflow.sdk import DAG
    from airflow.providers.standard.operators.empty import EmptyOperator

    with DAG("good", description="d", tags=["t"], schedule=None,
             default_args={"owner": "ue-backup", "retries": 2}):
        EmptyOperator(task_id="one")
"""


def write_dag(folder: Path, name: str, source: str) -> None:
    (folder / name).write_text(textwrap.dedent(source))


def test_project_dag_folder_has_no_problems():
    report = integrity_report(DAGS)
    assert report == {}


@pytest.fixture
def dag_folder(tmp_path: Path) -> Path:
    write_dag(tmp_path, "good.py", GOOD_DAG)
    return tmp_path


def test_a_good_dag_passes(dag_folder: Path):
    assert integrity_report(dag_folder) == {}
    assert list(load_dag_folder(dag_folder).dags) == ["good"]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import no_such_module\n", "No module named 'no_such_module'"),
        (
            "from airflow.sdk import Variable\nVariable.get('ue_backup_config')\n",
            "Variable read at DAG parse time",
        ),
        (
            "from airflow.sdk import BaseHook\nBaseHook.get_connection('aws_default')\n",
            "Connection read at DAG parse time",
        ),
        (
            "import socket\nsocket.create_connection(('127.0.0.1', 9))\n",
            "at DAG parse time",
        ),
    ],
    ids=["import-error", "variable", "connection", "network"],
)
def test_a_broken_dag_file_is_reported(dag_folder: Path, source: str, expected: str):
    write_dag(dag_folder, "broken.py", "from airflow.sdk import DAG\n" + source)
    report = integrity_report(dag_folder)
    broken = [key for key in report if key.endswith("broken.py")]
    assert broken, report
    assert expected in report[broken[0]][0]


def test_missing_metadata_is_reported(dag_folder: Path):
    write_dag(
        dag_folder,
        "bare.py",
        """
        from airflow.sdk import DAG
        from airflow.providers.standard.operators.empty import EmptyOperator

        with DAG("bare", schedule=None):
            EmptyOperator(task_id="one")
        """,
    )
    report = integrity_report(dag_folder)
    assert set(report["bare"]) == {
        "no description",
        "no tags",
        "task one: no owner",
        "task one: no retries",
    }


def test_a_template_in_a_plain_field_is_reported(dag_folder: Path):
    write_dag(
        dag_folder,
        "plain.py",
        """
        from airflow.sdk import DAG
        from airflow.providers.standard.operators.bash import BashOperator

        with DAG("plain", description="d", tags=["t"], schedule=None,
                 default_args={"owner": "ue-backup", "retries": 1}):
            BashOperator(task_id="one", bash_command="true", output_encoding="{{ ds }}")
        """,
    )
    assert integrity_report(dag_folder)["plain"] == [
        "task one: output_encoding holds a template but is not templated"
    ]


def test_every_aws_step_of_every_dag_retries_as_the_configuration_says():
    """Each AWS operator and sensor takes its botocore config from its run's settings.

    Without it a step would retry with the module default, whatever
    ``aws_retries`` says (ue_backup.aws).
    """
    from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
    from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor

    from sandbox.airflow_harness.dag_runner import load_dags

    unconfigured = {
        f"{dag_id}.{task.task_id}"
        for dag_id, dag in load_dags().items()
        for task in dag.tasks
        if isinstance(task, AwsBaseOperator | AwsBaseSensor)
        and "aws_botocore_config" not in str(task.botocore_config)
    }
    aws_steps = [
        t
        for d in load_dags().values()
        for t in d.tasks
        if isinstance(t, AwsBaseOperator | AwsBaseSensor)
    ]
    assert len(aws_steps) > 20  # the check looks at something
    assert unconfigured == set()


def test_every_dag_crosses_the_dag_processors_wire():
    """Each DAG serializes and encodes as a real DAG processor sends it to its manager
    (``integrity.assert_crosses_the_wire``), in the full shape; the shapes a
    configuration file gives are checked in test_dag_shapes."""
    from airflow.dag_processing.dagbag import DagBag

    from sandbox.airflow_harness.dag_runner import DAGS

    assert_crosses_the_wire(DagBag(dag_folder=str(DAGS), bundle_path=DAGS))


def test_the_protections_run_from_their_first_deployment():
    """The watchdog and the RPO check are not paused when first deployed (every other DAG
    is, as Airflow's default has it): checked on the DAGs as the DAG processor sends them."""
    import structlog
    from airflow.dag_processing.dagbag import DagBag
    from airflow.dag_processing.processor import _serialize_dags

    from sandbox.airflow_harness.dag_runner import DAGS

    serialized, _ = _serialize_dags(
        DagBag(dag_folder=str(DAGS), bundle_path=DAGS), structlog.get_logger()
    )
    unpaused = {d.dag_id for d in serialized if d.is_paused_upon_creation is False}
    assert unpaused == {"ue_backup_watchdog", "ue_backup_rpo"}
