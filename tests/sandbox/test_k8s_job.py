"""Jobs run their command locally, with PVC mounts mapped to EFS directories: enough
for a purge job using find/rm."""

from __future__ import annotations

import time

import pytest
from kubernetes.client.exceptions import ApiException

from sandbox.faults import Fault

pytest_plugins = ["sandbox.k8s.fixtures"]

NS = "uepe"
TEMP_FOLDERS = "-type d \\( -name tmp -o -name DR_TMP_DIR -o -name pending \\)"
PURGE = (
    f"find /mnt/efs -mindepth 1 \\( \\( {TEMP_FOLDERS} \\) -o -name 'TEMP.*' \\) "
    "-prune -print -exec rm -rf {} +"
)


def job(name: str, command: list[str], volumes=(), mounts=(), **spec) -> dict:
    container = {
        "name": "main",
        "image": "busybox",
        "command": command,
        "volumeMounts": list(mounts),
    }
    return {
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            **spec,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [container],
                    "volumes": list(volumes),
                }
            },
        },
    }


def efs_claim_volume(claim: str = "aggregation") -> dict:
    return {"name": "efs", "persistentVolumeClaim": {"claimName": claim}}


def finished(k8s, batch_api, name: str):
    def terminal():
        status = batch_api.read_namespaced_job_status(name, NS).status
        return (
            status
            if any(c.type in ("Complete", "Failed") for c in status.conditions or [])
            else None
        )

    return k8s.wait_until(terminal)


def pod_log(core_api, pod) -> str:
    """The pod's log. Client 36 turns a text response into the repr of its bytes unless
    the content is read raw, as the provider's hook does."""
    return core_api.read_namespaced_pod_log(
        pod.metadata.name, NS, _preload_content=False
    ).data.decode()


def job_pods(core_api, name: str):
    return core_api.list_namespaced_pod(NS, label_selector=f"job-name={name}").items


@pytest.fixture
def efs_tree(k8s):
    """An aggregation file system with data and every kind of temporary file."""
    root = k8s.efs_path("fs-0a1b2c")
    files = [
        "aggregation/wf1/state.dat",
        "aggregation/wf1/TEMP.state.dat",
        "duplicates/tmp/chunk.1",
        "duplicates/index.db",
        "interwf/DR_TMP_DIR/batch.7",
        "interwf/batch.6",
        "archive/pending/a.gz",
        "archive/done/b.gz",
    ]
    for relative in files:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(relative)
    k8s.create_efs_pvc(NS, "aggregation", "fs-0a1b2c")
    return root


def test_a_purge_job_deletes_temporary_files_through_the_efs_mount(
    efs_tree, k8s, batch_api, core_api
):
    mount = {"name": "efs", "mountPath": "/mnt/efs"}
    batch_api.create_namespaced_job(
        NS, job("purge", ["sh", "-c", PURGE], [efs_claim_volume()], [mount])
    )

    status = finished(k8s, batch_api, "purge")
    assert [c.type for c in status.conditions] == ["SuccessCriteriaMet", "Complete"]
    assert (status.succeeded, status.active, status.failed) == (1, None, None)
    assert status.start_time
    assert status.completion_time

    left = sorted(str(p.relative_to(efs_tree)) for p in efs_tree.rglob("*") if p.is_file())
    assert left == [
        "aggregation/wf1/state.dat",
        "archive/done/b.gz",
        "duplicates/index.db",
        "interwf/batch.6",
    ]

    [pod] = job_pods(core_api, "purge")
    assert pod.status.phase == "Succeeded"
    assert pod.status.container_statuses[0].state.terminated.exit_code == 0
    log = pod_log(core_api, pod)
    assert k8s.pod_log(NS, pod.metadata.name) == log
    assert sorted(log.splitlines()) == [  # paths as the container sees them
        "/mnt/efs/aggregation/wf1/TEMP.state.dat",
        "/mnt/efs/archive/pending",
        "/mnt/efs/duplicates/tmp",
        "/mnt/efs/interwf/DR_TMP_DIR",
    ]
    assert [e.operation for e in k8s.log.entries("k8s") if e.operation.startswith("job-")] == [
        "job-completed"
    ]


def test_a_sub_path_volume_handle_and_a_script_from_a_config_map(k8s, batch_api, core_api):
    data = k8s.efs_path("fs-0a1b2c") / "uepe"
    data.mkdir(parents=True)
    (data / "TEMP.x").write_text("x")
    (data / "keep").write_text("k")
    k8s.create_efs_pvc(NS, "aggregation", "fs-0a1b2c", subpath="/uepe")
    k8s.create(
        "configmaps",
        {"metadata": {"name": "scripts"}, "data": {"purge.sh": "#!/bin/sh\nrm -v /data/TEMP.*\n"}},
        NS,
    )
    volumes = [
        efs_claim_volume(),
        {"name": "scripts", "configMap": {"name": "scripts", "defaultMode": 0o755}},
    ]
    mounts = [{"name": "efs", "mountPath": "/data"}, {"name": "scripts", "mountPath": "/scripts"}]
    batch_api.create_namespaced_job(NS, job("purge", ["/scripts/purge.sh"], volumes, mounts))

    assert finished(k8s, batch_api, "purge").succeeded == 1
    assert sorted(p.name for p in data.iterdir()) == ["keep"]
    [pod] = job_pods(core_api, "purge")
    assert pod_log(core_api, pod) == "removed '/data/TEMP.x'\n"


def test_a_failing_job_retries_up_to_its_backoff_limit(k8s, batch_api, core_api):
    batch_api.create_namespaced_job(
        NS, job("fails", ["sh", "-c", "echo no space left >&2; exit 3"], backoffLimit=1)
    )
    status = finished(k8s, batch_api, "fails")
    failed = status.conditions[-1]
    assert (failed.type, failed.reason) == ("Failed", "BackoffLimitExceeded")
    assert status.failed == 2
    pods = job_pods(core_api, "fails")
    assert [p.status.phase for p in pods] == ["Failed", "Failed"]
    assert pods[0].status.container_statuses[0].state.terminated.exit_code == 3
    assert pod_log(core_api, pods[0]) == "no space left\n"


def test_active_deadline_stops_a_job_that_runs_too_long(k8s, batch_api, core_api):
    started = time.monotonic()
    batch_api.create_namespaced_job(NS, job("slow", ["sleep", "30"], activeDeadlineSeconds=1))
    failed = finished(k8s, batch_api, "slow").conditions[-1]
    assert (failed.type, failed.reason) == ("Failed", "DeadlineExceeded")
    assert time.monotonic() - started < 3
    k8s.wait_until(
        lambda: not job_pods(core_api, "slow")
    )  # its pod was deleted, its process killed


def test_an_unbound_claim_keeps_the_pod_creating(k8s, batch_api, core_api):
    k8s.create(
        "persistentvolumeclaims",
        {
            "metadata": {"name": "dynamic"},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
        NS,
    )
    mount = {"name": "efs", "mountPath": "/mnt/efs"}
    batch_api.create_namespaced_job(
        NS, job("stuck", ["true"], [efs_claim_volume("dynamic")], [mount])
    )
    pod = k8s.wait_until(
        lambda: (
            (pods := job_pods(core_api, "stuck")) and pods[0].status.container_statuses and pods[0]
        )
    )
    waiting = pod.status.container_statuses[0].state.waiting
    assert (pod.status.phase, waiting.reason) == ("Pending", "ContainerCreating")
    assert "unbound" in waiting.message
    with pytest.raises(ApiException) as not_started:
        pod_log(core_api, pod)
    assert not_started.value.status == 400


def test_a_job_that_never_finishes(k8s, batch_api, core_api):
    k8s.faults.add(Fault(service="k8s", operation="job", kind="never", target="stuck"))
    batch_api.create_namespaced_job(NS, job("stuck", ["true"]))
    k8s.wait_until(
        lambda: (pods := job_pods(core_api, "stuck")) and pods[0].status.phase == "Running"
    )
    time.sleep(0.2)
    status = batch_api.read_namespaced_job_status("stuck", NS).status
    assert (status.active, status.ready, status.conditions) == (1, 1, None)


def test_a_job_whose_pod_fails_by_fault_runs_nothing(k8s, batch_api, core_api, tmp_path):
    witness = tmp_path / "ran"
    k8s.faults.add(Fault(service="k8s", operation="job", kind="outcome", target="doomed"))
    batch_api.create_namespaced_job(NS, job("doomed", ["sh", "-c", f"touch {witness}"]))
    status = finished(k8s, batch_api, "doomed")
    assert status.failed == 1
    assert [c.type for c in status.conditions] == ["FailureTarget", "Failed"]
    assert pod_log(core_api, job_pods(core_api, "doomed")[0]) == "injected fault\n"
    assert not witness.exists()
