"""The EC operator: ECD -> Deployment -> EC pods, drain and restart timing, and a
drain that never finishes."""

from __future__ import annotations

import time

import pytest

from sandbox.faults import Fault

pytest_plugins = ["sandbox.k8s.fixtures"]

NS = "uepe"
ECD = {"group": "mz.digitalroute.com", "version": "v1alpha1", "plural": "ecdeployments"}
SLACK = 0.15  # the controllers' tick plus scheduling noise


def disable(custom_api, name: str, enabled: bool = False) -> None:
    custom_api.patch_namespaced_custom_object(
        **ECD, namespace=NS, name=name, body={"spec": {"enabled": enabled}}
    )


def stopped(k8s, apps_api, name: str) -> bool:
    """The documented test: the Deployment reports no replicas and no pod matches it."""
    status = apps_api.read_namespaced_deployment(name, NS).status
    counts = (status.replicas, status.ready_replicas, status.available_replicas)
    return all(not count for count in counts) and not k8s.ecd_pods(NS, name)


def milestone(k8s, operation: str, name: str) -> float:
    [entry] = [
        e for e in k8s.log.entries("k8s", operation) if e.target == f"{NS}/ecdeployments/{name}"
    ]
    return entry.at


def test_an_enabled_ecd_runs_one_ec_pod_after_the_start_delay(k8s, apps_api, core_api):
    created = time.time()
    k8s.create_ecd(NS, "ecd-a", labels={"tier": "batch"})
    pending = k8s.wait_until(
        lambda: core_api.list_namespaced_pod(NS, label_selector="app=ecd-a").items
    )
    assert [p.status.phase for p in pending] == ["Pending"]
    assert pending[0].metadata.name.startswith("ecd-a-")

    k8s.wait_until(
        lambda: (apps_api.read_namespaced_deployment("ecd-a", NS).status.ready_replicas or 0) == 1
    )
    started = time.time() - created
    assert k8s.durations.ecd_start <= started < k8s.durations.ecd_start + SLACK
    deployment = apps_api.read_namespaced_deployment("ecd-a", NS)
    assert (
        deployment.spec.replicas,
        deployment.status.replicas,
        deployment.status.available_replicas,
    ) == (1, 1, 1)
    assert deployment.metadata.owner_references[0].kind == "ECDeployment"
    [pod] = core_api.list_namespaced_pod(NS, label_selector="app=ecd-a").items
    assert pod.status.phase == "Running"
    assert k8s.get("ecdeployments", NS, "ecd-a")["status"]["phase"] == "Running"


def test_disabling_drains_the_pods_after_the_drain_delay(k8s, apps_api, custom_api):
    k8s.create_ecd(NS, "ecd-a")
    k8s.wait_ecds_settled()

    disable(custom_api, "ecd-a")
    k8s.wait_until(lambda: not apps_api.read_namespaced_deployment("ecd-a", NS).status.replicas)
    [terminating] = k8s.ecd_pods(NS, "ecd-a")
    assert terminating["metadata"]["deletionTimestamp"]  # the trap: 0 replicas, pod still there
    assert not stopped(k8s, apps_api, "ecd-a")

    k8s.wait_until(lambda: stopped(k8s, apps_api, "ecd-a"))
    [patch] = k8s.log.entries("k8s", "patch")
    assert patch.target == f"{NS}/ecdeployments/ecd-a"
    assert patch.detail["enabled"] is False
    drained = milestone(k8s, "ecd-pods-stopped", "ecd-a") - patch.at
    assert k8s.durations.ecd_drain <= drained < k8s.durations.ecd_drain + SLACK
    assert k8s.get("ecdeployments", NS, "ecd-a")["status"]["phase"] == "Stopped"


def test_re_enabling_brings_the_pods_back(k8s, apps_api, custom_api):
    k8s.create_ecd(NS, "ecd-a", enabled=False)
    k8s.wait_ecds_settled()
    assert stopped(k8s, apps_api, "ecd-a")

    disable(custom_api, "ecd-a", enabled=True)
    k8s.wait_ecds_settled()
    enabled_at = k8s.log.entries("k8s", "patch")[0].at
    restarted = milestone(k8s, "ecd-pods-started", "ecd-a") - enabled_at
    assert k8s.durations.ecd_start <= restarted < k8s.durations.ecd_start + SLACK
    assert apps_api.read_namespaced_deployment("ecd-a", NS).status.ready_replicas == 1


def test_a_drain_that_never_finishes(k8s, apps_api, custom_api):
    k8s.durations.update(ecd_drain=0.05)
    k8s.create_ecd(NS, "ecd-a")
    k8s.create_ecd(NS, "ecd-b")
    k8s.wait_ecds_settled()
    k8s.faults.add(Fault(service="k8s", operation="drain", kind="never", target="ecd-a"))

    disable(custom_api, "ecd-a")
    disable(custom_api, "ecd-b")
    k8s.wait_until(lambda: stopped(k8s, apps_api, "ecd-b"))
    time.sleep(10 * k8s.durations.ecd_drain)
    assert len(k8s.ecd_pods(NS, "ecd-a")) == 1
    assert not apps_api.read_namespaced_deployment("ecd-a", NS).status.replicas
    assert k8s.get("ecdeployments", NS, "ecd-a")["status"]["phase"] == "Stopping"


def test_durations_are_read_while_a_drain_runs(k8s, apps_api, custom_api):
    k8s.create_ecd(NS, "ecd-a")
    k8s.wait_ecds_settled()
    k8s.durations.update(ecd_drain=30)
    disable(custom_api, "ecd-a")
    time.sleep(0.1)
    assert k8s.ecd_pods(NS, "ecd-a")
    k8s.durations.update(ecd_drain=0)
    k8s.wait_until(lambda: stopped(k8s, apps_api, "ecd-a"), timeout=1)


def test_deleting_an_ecd_removes_its_deployment_and_pods(k8s, apps_api, custom_api):
    k8s.durations.update(ecd_drain=0.05)
    k8s.create_ecd(NS, "ecd-a")
    k8s.wait_ecds_settled()
    custom_api.delete_namespaced_custom_object(**ECD, namespace=NS, name="ecd-a")
    k8s.wait_until(lambda: not k8s.list("deployments", NS) and not k8s.ecd_pods(NS, "ecd-a"))


@pytest.mark.parametrize("enabled", [True, False])
def test_the_operator_puts_back_what_it_owns(k8s, apps_api, enabled):
    k8s.create_ecd(NS, "ecd-a", enabled=enabled)
    k8s.wait_ecds_settled()
    apps_api.patch_namespaced_deployment("ecd-a", NS, {"spec": {"replicas": 3}})
    k8s.wait_until(
        lambda: apps_api.read_namespaced_deployment("ecd-a", NS).spec.replicas == int(enabled)
    )
