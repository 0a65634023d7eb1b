"""The provider's KubernetesHook against the sandbox, configured the way the DAGs
are: ``AIRFLOW_CONN_KUBERNETES_DEFAULT`` with ``kube_config_path``."""

from __future__ import annotations

import asyncio

import pytest
from kubernetes import client

from sandbox.faults import Fault

pytest_plugins = ["sandbox.k8s.fixtures"]

NS = "uepe"
ECD = ("mz.digitalroute.com", "v1alpha1", "ecdeployments")


@pytest.fixture
def connection(k8s, monkeypatch):
    """``kubernetes_default`` pointing at the sandbox, as the demo and the DAG tests set it."""
    monkeypatch.setenv("AIRFLOW_CONN_KUBERNETES_DEFAULT", k8s.airflow_connection(namespace=NS))


@pytest.fixture
def hook(connection):
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook

    return KubernetesHook()


def test_the_connection_reaches_the_sandbox(hook):
    ok, message = hook.test_connection()
    assert ok, message
    assert hook.get_namespace() == NS


def test_custom_objects_through_the_hook(k8s, hook):
    body = {
        "apiVersion": "mz.digitalroute.com/v1alpha1",
        "kind": "ECDeployment",
        "metadata": {"name": "ecd-a"},
        "spec": {"enabled": True},
    }
    hook.create_custom_object(*ECD, body=body)
    assert hook.get_custom_object(*ECD, name="ecd-a")["metadata"]["namespace"] == NS

    api = hook.custom_object_client
    api.patch_namespaced_custom_object(*ECD[:2], NS, ECD[2], "ecd-a", {"spec": {"enabled": False}})
    ops = [
        {
            "op": "add",
            "path": "/metadata/annotations",
            "value": {"ue-backup/resume-by": "2030-01-01T00:00:00Z"},
        }
    ]
    patched = api.patch_namespaced_custom_object(
        *ECD[:2], NS, ECD[2], "ecd-a", ops, _content_type="application/json-patch+json"
    )
    assert patched["spec"]["enabled"] is False
    assert patched["metadata"]["annotations"]["ue-backup/resume-by"].startswith("2030")

    hook.delete_custom_object(*ECD, name="ecd-a")
    assert k8s.get("ecdeployments", NS, "ecd-a") is None
    calls = [e.operation for e in k8s.log.entries("k8s") if not e.operation.startswith("ecd-")]
    assert calls == ["create", "patch", "patch", "delete"]


def test_a_job_through_the_hook(k8s, hook):
    (k8s.efs_path("fs-1") / "TEMP.a").parent.mkdir(parents=True)
    (k8s.efs_path("fs-1") / "TEMP.a").write_text("a")
    k8s.create_efs_pvc(NS, "aggregation", "fs-1")
    container = client.V1Container(
        name="purge",
        image="busybox",
        command=["sh", "-c", "rm -v /efs/TEMP.*"],
        volume_mounts=[client.V1VolumeMount(name="efs", mount_path="/efs")],
    )
    volume = client.V1Volume(
        name="efs",
        persistent_volume_claim=client.V1PersistentVolumeClaimVolumeSource(
            claim_name="aggregation"
        ),
    )
    job = client.V1Job(
        metadata=client.V1ObjectMeta(name="purge", namespace=NS),
        spec=client.V1JobSpec(
            backoff_limit=0,
            template=client.V1PodTemplateSpec(
                spec=client.V1PodSpec(
                    restart_policy="Never", containers=[container], volumes=[volume]
                )
            ),
        ),
    )
    hook.create_job(job)
    done = hook.wait_until_job_complete("purge", NS, job_poll_interval=0.05)
    assert hook.is_job_successful(done)
    [pod] = hook.get_namespaced_pod_list(label_selector="job-name=purge").json()["items"]
    assert (
        hook.get_pod_logs(pod["metadata"]["name"], namespace=NS).data == b"removed '/efs/TEMP.a'\n"
    )
    assert not (k8s.efs_path("fs-1") / "TEMP.a").exists()


def test_the_async_hook_used_by_triggers(k8s, connection):
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import AsyncKubernetesHook

    container = {"name": "main", "image": "busybox", "command": ["echo", "purged"]}
    job = {
        "metadata": {"name": "purge"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [container]}}},
    }
    k8s.create("jobs", job, NS)

    async def watch_it() -> tuple:
        async_hook = AsyncKubernetesHook(conn_id="kubernetes_default")
        done = await async_hook.wait_until_job_complete("purge", NS, poll_interval=0.05)
        [pod] = k8s.list("pods", NS, "job-name=purge")
        return done, await async_hook.read_logs(pod["metadata"]["name"], NS)

    done, lines = asyncio.run(watch_it())
    assert done.status.succeeded == 1
    [line] = lines
    stamp, text = line.split(" ", 1)
    assert text == "purged"
    assert stamp.endswith(".000000000Z")


def test_the_hook_retries_throttling_after_retry_after(k8s, hook):
    k8s.create_ecd(NS, "ecd-a")
    k8s.faults.add(
        Fault(
            service="k8s",
            operation="get",
            target="ecdeployments/ecd-a",
            status=429,
            message="slow down",
        )
    )
    assert hook.get_custom_object(*ECD, name="ecd-a")["metadata"]["name"] == "ecd-a"
    assert k8s.faults.armed() == []
