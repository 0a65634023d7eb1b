"""The sandbox's Jobs honour the settings ue-backup's Jobs carry (kubernetes.jobs).

A finished Job goes after ``ttlSecondsAfterFinished`` with its pods (the TTL
controller); a hardened body (``kube_job.job_body``: read-only root, an emptyDir
at /tmp, an EFS claim) runs; values a server refuses are refused here too.
"""

from __future__ import annotations

import time

import pytest
from kubernetes.client.exceptions import ApiException

from tests.sandbox.test_k8s_job import NS, finished, job, job_pods, pod_log
from ue_backup.config import JobsConfig
from ue_backup.hooks.kube_job import EFS_WORK_CAPABILITIES, job_body

pytest_plugins = ["sandbox.k8s.fixtures"]


def test_a_finished_job_is_deleted_after_its_ttl_with_its_pods(k8s, batch_api, core_api):
    batch_api.create_namespaced_job(NS, job("brief", ["true"], ttlSecondsAfterFinished=1))
    finished(k8s, batch_api, "brief")
    assert job_pods(core_api, "brief")

    def gone():
        try:
            batch_api.read_namespaced_job("brief", NS)
        except ApiException as error:
            return error.status == 404
        return False

    k8s.wait_until(gone, timeout=5)
    k8s.wait_until(lambda: not job_pods(core_api, "brief"), timeout=5)


def test_a_finished_job_stays_until_its_ttl_or_for_good_without_one(k8s, batch_api):
    batch_api.create_namespaced_job(NS, job("kept", ["true"], ttlSecondsAfterFinished=60))
    finished(k8s, batch_api, "kept")
    batch_api.create_namespaced_job(NS, job("kept-too", ["true"]))
    finished(k8s, batch_api, "kept-too")
    time.sleep(1.5)  # several passes of the Job controller
    assert batch_api.read_namespaced_job("kept", NS).spec.ttl_seconds_after_finished == 60
    assert batch_api.read_namespaced_job("kept-too", NS)


def test_a_hardened_job_runs_with_its_scratch_space_and_claim(k8s, batch_api, core_api):
    root = k8s.efs_path("fs-0a1b2c")
    (root / "data").mkdir(parents=True)
    (root / "data" / "TEMP.x").write_text("half written")
    k8s.create_efs_pvc(NS, "restored", "fs-0a1b2c")
    script = (
        "set -eu; echo scratch > /tmp/note; cat /tmp/note; "
        "rm /efs/data/TEMP.x; ls /efs/data | wc -l"
    )
    body = job_body(
        "hardened",
        namespace=NS,
        container="work",
        script=script,
        claim="restored",
        settings=JobsConfig(),
        capabilities=EFS_WORK_CAPABILITIES,
    )
    batch_api.create_namespaced_job(NS, body)

    status = finished(k8s, batch_api, "hardened")
    assert status.succeeded == 1
    [pod] = job_pods(core_api, "hardened")
    assert pod_log(core_api, pod).split() == ["scratch", "0"]
    assert not (root / "data" / "TEMP.x").exists()
    stored = batch_api.read_namespaced_job("hardened", NS)
    assert stored.spec.active_deadline_seconds == 4 * 3600
    assert stored.spec.template.spec.automount_service_account_token is False


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"activeDeadlineSeconds": 0}, "spec.activeDeadlineSeconds"),
        ({"ttlSecondsAfterFinished": -1}, "spec.ttlSecondsAfterFinished"),
    ],
)
def test_a_bad_deadline_or_ttl_is_refused(batch_api, spec, field):
    with pytest.raises(ApiException) as refused:
        batch_api.create_namespaced_job(NS, job("bad", ["true"], **spec))
    assert refused.value.status == 422
    assert field in refused.value.body


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        (
            {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}},
            "must be less than or equal to cpu limit of 1",
        ),
        ({"limits": {"memory": "lots"}}, "quantities must match"),
    ],
)
def test_bad_resources_are_refused(batch_api, resources, message):
    body = job("bad-resources", ["true"])
    body["spec"]["template"]["spec"]["containers"][0]["resources"] = resources
    with pytest.raises(ApiException) as refused:
        batch_api.create_namespaced_job(NS, body)
    assert refused.value.status == 422
    assert message in refused.value.body


def test_a_pod_stopped_at_the_deadline_counts_as_failed(k8s, batch_api):
    """As Kubernetes counts it: a client reading ``status.failed`` sees the Job failed."""
    batch_api.create_namespaced_job(NS, job("late", ["sleep", "30"], activeDeadlineSeconds=1))
    status = finished(k8s, batch_api, "late")
    assert (status.failed, status.active) == (1, None)
    assert status.conditions[-1].reason == "DeadlineExceeded"
