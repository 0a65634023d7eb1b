"""KubeEfsJobOperator against the sandbox: a script on an EFS file system, in a Job.

Each way of waiting is checked: deferred and resumed on a worker, deferred
and ended in the triggerer (``end_from_trigger``), and inline.
"""

from __future__ import annotations

import pytest
from airflow.triggers.base import TaskSuccessEvent

from sandbox.aws.network import add_mount_targets
from sandbox.k8s.resources import JOBS
from tests.plugins.support import defer
from ue_backup.config import DEFAULT_JOB_IMAGE
from ue_backup.errors import PermanentFailure
from ue_backup.operators.kube_job import KubeEfsJobOperator
from ue_backup.triggers.base import first_event

NS = "uepe"


@pytest.fixture
def file_system(sandbox, fast) -> str:
    fs = sandbox.aws.create_file_system("scratch")
    add_mount_targets(sandbox.aws, fs, zones=("a",))  # the Jobs' EFS CSI driver mounts through it
    (sandbox.aws.efs_path(fs) / "TEMP.x").write_text("half written")
    return fs


def job(task_id: str, script: str, file_system: str, **kwargs) -> KubeEfsJobOperator:
    return KubeEfsJobOperator(
        task_id=task_id,
        namespace=NS,
        job_name=task_id.replace("_", "-"),
        script=script,
        file_system_id=file_system,
        **kwargs,
    )


def test_a_job_deferred_and_resumed_returns_its_log(sandbox, file_system, context):
    task = job("purge", "rm /efs/TEMP.x && echo purged", file_system)

    deferral = defer(task, context)

    assert deferral.resume() == {"job": "purge", "log": "purged\n"}
    assert not (sandbox.aws.efs_path(file_system) / "TEMP.x").exists()


def test_a_job_that_ends_in_the_triggerer_logs_its_output_there(file_system, context, capsys):
    task = job("purge_fast", "echo purged", file_system, end_from_trigger=True, poke_interval=5)

    deferral = defer(task, context)
    event = first_event(deferral.trigger)

    assert deferral.trigger.poll_interval == pytest.approx(0.2)  # the tests' pace wins
    assert isinstance(event, TaskSuccessEvent)
    logged = capsys.readouterr().out
    assert "'log': 'purged\\n'" in logged
    assert "the task ends here, in the triggerer" in logged
    # dag.test() (airflow dags test) resumes such a task with the end event's payload;
    # it returns nothing, as in a deployment
    assert deferral.resume() is None


def test_a_failed_job_goes_back_to_the_worker_and_fails_with_its_log(file_system, context):
    task = job("check", "echo found TEMP.x; exit 3", file_system, end_from_trigger=True)

    deferral = defer(task, context)
    assert deferral.wait()["status"] == "error"
    with pytest.raises(PermanentFailure, match=r"found TEMP\.x"):
        deferral.resume()


def test_a_short_job_is_waited_for_in_the_worker_first(sandbox, file_system, context):
    task = job("quick", "echo quick", file_system, inline_wait_seconds=10)

    assert task.execute(context) == {"job": "quick", "log": "quick\n"}  # no TaskDeferred


def test_a_short_job_that_fails_fails_the_task_with_its_log(file_system, context):
    task = job("quick_fail", "echo found TEMP.x; exit 3", file_system, inline_wait_seconds=10)

    with pytest.raises(PermanentFailure, match=r"found TEMP\.x"):
        task.execute(context)


def test_a_longer_job_still_defers(file_system, context):
    task = job("slow", "sleep 5", file_system, inline_wait_seconds=0.5)

    assert defer(task, context).trigger.name == "slow"


def test_a_job_inline(sandbox, file_system, context):
    task = job("inline", "ls /efs", file_system, deferrable=False, end_from_trigger=True)

    assert task.execute(context) == {"job": "inline", "log": "TEMP.x\n"}


def test_a_claim_or_a_file_system_is_required(context):
    task = KubeEfsJobOperator(task_id="j", namespace=NS, job_name="j", script="true")

    with pytest.raises(ValueError, match="give claim or file_system_id"):
        task.execute(context)


def test_the_job_settings_reach_the_job_and_its_deadline_ends_the_wait(
    sandbox, file_system, context
):
    """The wait has no timeout of its own: a Job past its deadline fails, and so does the task."""
    settings = {
        "active_deadline_seconds": 1,
        "ttl_seconds_after_finished": 120,
        "requests": {"cpu": "50m", "memory": "16Mi"},
        "limits": {"cpu": "200m", "memory": "32Mi"},
    }
    task = job("too_slow", "sleep 30", file_system, job=settings, inline_wait_seconds=10)

    with pytest.raises(PermanentFailure, match="active longer than specified deadline"):
        task.execute(context)

    stored = sandbox.k8s.store.get(JOBS, NS, "too-slow")
    assert stored["spec"]["activeDeadlineSeconds"] == 1
    assert stored["spec"]["ttlSecondsAfterFinished"] == 120
    (container,) = stored["spec"]["template"]["spec"]["containers"]
    assert container["resources"] == {k: settings[k] for k in ("requests", "limits")}
    assert container["image"] == DEFAULT_JOB_IMAGE  # no image given: the settings' default
