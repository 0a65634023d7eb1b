"""The mutation log: every write through the API, none for reads, dry runs or
refused writes, and the controllers' milestones in order."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

pytest_plugins = ["sandbox.k8s.fixtures"]

NS = "uepe"
ECD = {"group": "mz.digitalroute.com", "version": "v1alpha1", "plural": "ecdeployments"}


def test_every_api_write_is_recorded_with_its_target_and_detail(k8s, custom_api):
    body = {
        "apiVersion": "mz.digitalroute.com/v1alpha1",
        "kind": "ECDeployment",
        "metadata": {"name": "ecd-a"},
        "spec": {"enabled": True},
    }
    custom_api.create_namespaced_custom_object(**ECD, namespace=NS, body=body)
    custom_api.patch_namespaced_custom_object(
        **ECD, namespace=NS, name="ecd-a", body={"spec": {"enabled": False}}
    )
    k8s.wait_ecds_settled()  # no operator status write between the read and the write
    current = custom_api.get_namespaced_custom_object(**ECD, namespace=NS, name="ecd-a")
    current["metadata"]["annotations"] = {"a": "b"}
    custom_api.replace_namespaced_custom_object(**ECD, namespace=NS, name="ecd-a", body=current)
    custom_api.list_namespaced_custom_object(**ECD, namespace=NS)
    custom_api.delete_namespaced_custom_object(**ECD, namespace=NS, name="ecd-a")

    writes = [
        e for e in k8s.log.entries("k8s") if e.operation in ("create", "replace", "patch", "delete")
    ]
    assert [(e.operation, e.target) for e in writes] == [
        ("create", f"{NS}/ecdeployments/ecd-a"),
        ("patch", f"{NS}/ecdeployments/ecd-a"),
        ("replace", f"{NS}/ecdeployments/ecd-a"),
        ("delete", f"{NS}/ecdeployments/ecd-a"),
    ]
    create, patch, replace, _ = writes
    assert create.detail["enabled"] is True
    assert patch.detail["patch"] == {"spec": {"enabled": False}}
    assert patch.detail["content_type"] == "application/merge-patch+json"
    assert patch.detail["enabled"] is False
    assert int(replace.detail["resourceVersion"]) > int(patch.detail["resourceVersion"])
    assert [e.at for e in writes] == sorted(e.at for e in writes)


def test_reads_dry_runs_and_refused_writes_are_not_recorded(k8s, custom_api):
    k8s.create_ecd(NS, "ecd-a")  # seeding is set-up, not a call under test
    custom_api.get_namespaced_custom_object(**ECD, namespace=NS, name="ecd-a")
    custom_api.patch_namespaced_custom_object(
        **ECD, namespace=NS, name="ecd-a", body={"spec": {"enabled": False}}, dry_run="All"
    )
    with pytest.raises(ApiException):
        custom_api.patch_namespaced_custom_object(
            **ECD,
            namespace=NS,
            name="ecd-a",
            body={"metadata": {"resourceVersion": "1"}, "spec": {"enabled": False}},
        )
    with pytest.raises(ApiException):
        custom_api.delete_namespaced_custom_object(**ECD, namespace=NS, name="missing")
    assert [
        e for e in k8s.log.entries("k8s") if e.operation in ("create", "replace", "patch", "delete")
    ] == []


def test_controller_milestones_time_the_cold_window(k8s, custom_api):
    k8s.durations.update(ecd_start=0.05, ecd_drain=0.1)
    k8s.create_ecd(NS, "ecd-a")
    k8s.wait_ecds_settled()
    for enabled in (False, True):
        custom_api.patch_namespaced_custom_object(
            **ECD, namespace=NS, name="ecd-a", body={"spec": {"enabled": enabled}}
        )
        k8s.wait_ecds_settled()
    sequence = [e.operation for e in k8s.log.entries("k8s")]
    assert sequence == [
        "ecd-pods-started",
        "patch",
        "ecd-pods-stopped",
        "patch",
        "ecd-pods-started",
    ]
    entries = k8s.log.entries("k8s")
    assert entries[2].at - entries[1].at >= 0.1
    assert entries[4].at - entries[3].at >= 0.05
