"""A pod mounts an EFS file system only through an available mount target, as on a node.

The EFS CSI driver mounts over NFS through the mount target in the node's
zone (amazon-efs-utils resolves ``<fs-id>.efs.<region>.amazonaws.com``, which
only a mount target makes resolvable). A file system without one cannot be
mounted: the pod never starts, and the Job's deadline fails it. The sandbox
was kinder before (any file system mounted), which hid a restore whose new
file system got no mount targets.
"""

from __future__ import annotations

import pytest
from kubernetes import client, config

from sandbox.aws.network import add_mount_targets
from tests.sandbox.test_k8s_job import efs_claim_volume, finished, job, job_pods

NS = "uepe"
MOUNT = {"name": "efs", "mountPath": "/mnt/efs"}


@pytest.fixture
def apis(sandbox):
    api = config.new_client_from_config(config_file=str(sandbox.k8s.kubeconfig_path))
    return client.BatchV1Api(api), client.CoreV1Api(api)


def _file_system(sandbox, name: str) -> str:
    fs_id = sandbox.aws.create_file_system(name)
    (sandbox.aws.efs_path(fs_id) / "data").write_text("restored")
    sandbox.k8s.create_efs_pvc(NS, name, fs_id)
    return fs_id


def test_a_file_system_without_a_mount_target_never_mounts_and_the_deadline_fails_the_job(
    sandbox, apis
):
    batch, core = apis
    fs_id = _file_system(sandbox, "restored")
    batch.create_namespaced_job(
        NS,
        job(
            "purge",
            ["cat", "/mnt/efs/data"],
            [efs_claim_volume("restored")],
            [MOUNT],
            activeDeadlineSeconds=2,
        ),
    )

    pod = sandbox.k8s.wait_until(
        lambda: (pods := job_pods(core, "purge")) and pods[0].status.container_statuses and pods[0]
    )
    waiting = pod.status.container_statuses[0].state.waiting
    assert (pod.status.phase, waiting.reason) == ("Pending", "ContainerCreating")
    assert f'Failed to resolve "{fs_id}.efs.{sandbox.region}.amazonaws.com"' in waiting.message
    assert "EFS mount target" in waiting.message
    failed = finished(sandbox.k8s, batch, "purge").conditions[-1]
    assert (failed.type, failed.reason) == ("Failed", "DeadlineExceeded")


def test_the_pod_starts_once_its_mount_target_is_available(sandbox, apis):
    batch, core = apis
    sandbox.durations.update(efs_mount_target=0.5)
    fs_id = _file_system(sandbox, "given")
    add_mount_targets(sandbox.aws, fs_id, zones=("a",))  # creating for 0.5 s, then available
    batch.create_namespaced_job(
        NS, job("read", ["cat", "/mnt/efs/data"], [efs_claim_volume("given")], [MOUNT])
    )

    done = finished(sandbox.k8s, batch, "read").conditions[-1]

    assert done.type == "Complete"
    [pod] = job_pods(core, "read")
    log = core.read_namespaced_pod_log(pod.metadata.name, NS, _preload_content=False)
    assert log.data.decode() == "restored"


def test_an_unknown_file_system_never_mounts(sandbox, apis):
    batch, core = apis
    sandbox.k8s.create_efs_pvc(NS, "nowhere", "fs-0000000000000dead")
    batch.create_namespaced_job(NS, job("lost", ["true"], [efs_claim_volume("nowhere")], [MOUNT]))

    pod = sandbox.k8s.wait_until(
        lambda: (pods := job_pods(core, "lost")) and pods[0].status.container_statuses and pods[0]
    )

    assert (
        "fs-0000000000000dead not found" in pod.status.container_statuses[0].state.waiting.message
    )
