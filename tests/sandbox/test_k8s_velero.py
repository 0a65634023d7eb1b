"""Velero: Backup and Restore phases, what a backup captures, a restore that forces
ECDs disabled through a resource modifier, existing objects, and failure outcomes."""

from __future__ import annotations

import pytest

from sandbox.faults import Fault
from sandbox.k8s.timestamps import parse_rfc3339

pytest_plugins = ["sandbox.k8s.fixtures"]

NS = "uepe"
VELERO = "velero"
ECD = {"group": "mz.digitalroute.com", "version": "v1alpha1", "plural": "ecdeployments"}
FINISHED = ("Completed", "PartiallyFailed", "Failed", "FailedValidation")
FORCE_DISABLED = """\
version: v1
resourceModifierRules:
- conditions:
    groupResource: ecdeployments.mz.digitalroute.com
    namespaces: [uepe]
  patches:
  - operation: replace
    path: /spec/enabled
    value: "false"
"""


def create(custom_api, plural: str, name: str, spec: dict) -> dict:
    kind = {
        "backups": "Backup",
        "restores": "Restore",
        "deletebackuprequests": "DeleteBackupRequest",
    }[plural]
    body = {"apiVersion": "velero.io/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}
    return custom_api.create_namespaced_custom_object("velero.io", "v1", VELERO, plural, body)


def read(custom_api, plural: str, name: str) -> dict:
    return custom_api.get_namespaced_custom_object("velero.io", "v1", VELERO, plural, name)


def phase(obj: dict) -> str:
    return (obj.get("status") or {}).get("phase", "")


def finished(k8s, custom_api, plural: str, name: str) -> dict:
    return k8s.wait_until(lambda: phase(obj := read(custom_api, plural, name)) in FINISHED and obj)


@pytest.fixture
def installation(k8s, efs_root):
    """Two ECDs, a config map and an EFS claim in the platform namespace, one ECD elsewhere."""
    k8s.durations.update(velero=0.1, ecd_start=0.02)
    k8s.create_ecd(NS, "ecd-a", labels={"backup": "yes"})
    k8s.create_ecd(NS, "ecd-b")
    k8s.create_ecd("other", "ecd-c", labels={"backup": "yes"})
    k8s.create("configmaps", {"metadata": {"name": "platform"}, "data": {"k": "v"}}, NS)
    k8s.create_efs_pvc(NS, "aggregation", "fs-1111")
    k8s.wait_ecds_settled()


def test_backup_moves_through_its_phases_and_captures_the_namespace(installation, k8s, custom_api):
    create(custom_api, "backups", "b1", {"includedNamespaces": [NS], "ttl": "24h0m0s"})
    running = k8s.wait_until(
        lambda: phase(obj := read(custom_api, "backups", "b1")) == "InProgress" and obj
    )
    assert running["status"]["progress"]["itemsBackedUp"] == 0
    start = parse_rfc3339(running["status"]["startTimestamp"])
    assert parse_rfc3339(running["status"]["expiration"]) - start == 24 * 3600

    done = finished(k8s, custom_api, "backups", "b1")
    status = done["status"]
    assert status["phase"] == "Completed"
    assert "errors" not in status
    assert "warnings" not in status
    assert status["progress"]["totalItems"] == status["progress"]["itemsBackedUp"]
    assert parse_rfc3339(status["completionTimestamp"]) >= start

    captured = {(o["kind"], o["metadata"]["name"]) for o in k8s.velero_backup_items("b1")}
    assert {
        ("ECDeployment", "ecd-a"),
        ("ECDeployment", "ecd-b"),
        ("ConfigMap", "platform"),
    } <= captured
    assert {("Deployment", "ecd-a"), ("PersistentVolumeClaim", "aggregation")} <= captured
    assert ("PersistentVolume", "efs-uepe-aggregation") in captured  # bound to a captured claim
    assert ("ECDeployment", "ecd-c") not in captured
    assert len(captured) == status["progress"]["itemsBackedUp"]
    assert [
        e.detail["phase"] for e in k8s.log.entries("k8s") if e.operation.startswith("velero-backup")
    ] == [
        "InProgress",
        "Completed",
    ]


def test_backups_run_one_at_a_time(installation, k8s, custom_api):
    create(custom_api, "backups", "first", {})
    create(custom_api, "backups", "second", {})
    k8s.wait_until(lambda: phase(read(custom_api, "backups", "first")) == "InProgress")
    assert phase(read(custom_api, "backups", "second")) in ("", "New")
    finished(k8s, custom_api, "backups", "first")
    assert phase(finished(k8s, custom_api, "backups", "second")) == "Completed"


def test_backup_selection_by_resource_and_label(installation, k8s, custom_api):
    spec = {
        "includedResources": ["ecdeployments.mz.digitalroute.com"],
        "labelSelector": {"matchLabels": {"backup": "yes"}},
    }
    create(custom_api, "backups", "ecds", spec)
    finished(k8s, custom_api, "backups", "ecds")
    captured = [
        (o["metadata"]["namespace"], o["metadata"]["name"]) for o in k8s.velero_backup_items("ecds")
    ]
    assert sorted(captured) == [("other", "ecd-c"), (NS, "ecd-a")]


def test_invalid_backup_spec_fails_validation(installation, k8s, custom_api):
    create(custom_api, "backups", "bad", {"includedNamespaces": [NS], "excludedNamespaces": [NS]})
    done = finished(k8s, custom_api, "backups", "bad")
    assert done["status"]["phase"] == "FailedValidation"
    assert (
        "excludes list cannot contain an item in the includes list"
        in done["status"]["validationErrors"][0]
    )


def test_restore_recreates_ecds_forced_disabled(installation, k8s, custom_api, apps_api):
    create(custom_api, "backups", "b1", {"includedNamespaces": [NS]})
    finished(k8s, custom_api, "backups", "b1")
    for name in ("ecd-a", "ecd-b"):
        custom_api.delete_namespaced_custom_object(**ECD, namespace=NS, name=name)
    k8s.wait_until(lambda: not k8s.list("deployments", NS))
    k8s.create(
        "configmaps",
        {"metadata": {"name": "force-disabled"}, "data": {"rules.yaml": FORCE_DISABLED}},
        VELERO,
    )

    k8s.log.clear()
    spec = {"backupName": "b1", "resourceModifier": {"kind": "ConfigMap", "name": "force-disabled"}}
    create(custom_api, "restores", "r1", spec)
    done = finished(k8s, custom_api, "restores", "r1")
    assert done["status"]["phase"] == "Completed"
    assert done["status"]["progress"]["itemsRestored"] == done["status"]["progress"]["totalItems"]

    for name in ("ecd-a", "ecd-b"):
        restored = custom_api.get_namespaced_custom_object(**ECD, namespace=NS, name=name)
        assert restored["spec"]["enabled"] is False
        assert restored["metadata"]["labels"]["velero.io/restore-name"] == "r1"
    restored_ecds = [
        e for e in k8s.log.entries("k8s", "velero-restored") if "/ecdeployments/" in e.target
    ]
    assert [e.detail["enabled"] for e in restored_ecds] == [False, False]
    assert not any(e.operation == "ecd-pods-started" for e in k8s.log.entries("k8s"))
    k8s.wait_ecds_settled()
    assert apps_api.read_namespaced_deployment("ecd-a", NS).spec.replicas == 0


def test_restore_of_a_missing_backup_fails(k8s, custom_api):
    create(custom_api, "restores", "r1", {"backupName": "nope"})
    done = finished(k8s, custom_api, "restores", "r1")
    assert done["status"]["phase"] == "FailedValidation"
    assert done["status"]["validationErrors"] == [
        'Error retrieving backup: backups.velero.io "nope" not found'
    ]


@pytest.mark.parametrize(
    ("policy", "value", "warnings"), [("none", "changed", 1), ("update", "v", 0)]
)
def test_existing_objects_follow_the_existing_resource_policy(
    installation, k8s, custom_api, core_api, policy, value, warnings
):
    create(
        custom_api,
        "backups",
        "b1",
        {"includedNamespaces": [NS], "includedResources": ["configmaps"]},
    )
    finished(k8s, custom_api, "backups", "b1")
    core_api.patch_namespaced_config_map("platform", NS, {"data": {"k": "changed"}})

    create(custom_api, "restores", "r1", {"backupName": "b1", "existingResourcePolicy": policy})
    done = finished(k8s, custom_api, "restores", "r1")
    assert done["status"]["phase"] == "Completed"
    assert done["status"].get("warnings", 0) == warnings
    assert core_api.read_namespaced_config_map("platform", NS).data == {"k": value}
    assert len(k8s.velero_restore_results("r1")["warnings"]) == warnings


@pytest.mark.parametrize("state", ["PartiallyFailed", "Failed"])
def test_backup_outcome_faults(installation, k8s, custom_api, state):
    k8s.faults.add(
        Fault(
            service="k8s",
            operation="velero-backup",
            kind="outcome",
            target="b1",
            state=state,
            message="disk full",
        )
    )
    create(custom_api, "backups", "b1", {"includedNamespaces": [NS]})
    status = finished(k8s, custom_api, "backups", "b1")["status"]
    assert (status["phase"], status["errors"]) == (state, 1)
    if state == "Failed":
        assert status["failureReason"] == "disk full"
        assert k8s.velero_backup_items("b1") == []
    else:
        assert k8s.velero_backup_items("b1")


@pytest.mark.parametrize("state", ["PartiallyFailed", "Failed"])
def test_restore_outcome_faults(installation, k8s, custom_api, core_api, state):
    create(
        custom_api,
        "backups",
        "b1",
        {"includedNamespaces": [NS], "includedResources": ["configmaps"]},
    )
    finished(k8s, custom_api, "backups", "b1")
    core_api.delete_namespaced_config_map("platform", NS)
    k8s.faults.add(
        Fault(
            service="k8s",
            operation="velero-restore",
            kind="outcome",
            target="r1",
            state=state,
            message="boom",
        )
    )
    create(custom_api, "restores", "r1", {"backupName": "b1"})
    status = finished(k8s, custom_api, "restores", "r1")["status"]
    assert (status["phase"], status["errors"]) == (state, 1)
    restored = k8s.get("configmaps", NS, "platform")
    assert (restored is None) == (state == "Failed")
    if state == "Failed":
        assert status["failureReason"] == "boom"


def test_a_delete_request_removes_the_backup_its_data_and_its_restores(
    installation, k8s, custom_api
):
    create(custom_api, "backups", "b1", {"includedNamespaces": [NS]})
    create(custom_api, "backups", "b2", {"includedNamespaces": [NS]})
    finished(k8s, custom_api, "backups", "b2")
    create(custom_api, "restores", "r1", {"backupName": "b1", "includedNamespaces": ["none"]})
    finished(k8s, custom_api, "restores", "r1")
    assert k8s.velero_backup_items("b1")

    create(custom_api, "deletebackuprequests", "b1-delete", {"backupName": "b1"})

    k8s.wait_until(lambda: k8s.get("deletebackuprequests", VELERO, "b1-delete") is None)
    assert k8s.get("backups", VELERO, "b1") is None
    assert k8s.velero_backup_items("b1") == []  # the data left the bucket too
    assert k8s.get("restores", VELERO, "r1") is None
    assert k8s.get("backups", VELERO, "b2") is not None  # only that backup
    assert k8s.velero_backup_items("b2")


def test_a_delete_request_for_a_missing_or_running_backup_ends_with_its_error(
    installation, k8s, custom_api
):
    k8s.durations.update(velero=60)
    create(custom_api, "backups", "running", {"includedNamespaces": [NS]})
    k8s.wait_until(lambda: phase(read(custom_api, "backups", "running")) == "InProgress")
    create(custom_api, "deletebackuprequests", "running-delete", {"backupName": "running"})
    create(custom_api, "deletebackuprequests", "missing-delete", {"backupName": "missing"})

    for name, error in (
        ("running-delete", "backup is still in progress"),
        ("missing-delete", "backup not found"),
    ):
        request = k8s.wait_until(
            lambda n=name: (
                phase(obj := read(custom_api, "deletebackuprequests", n)) == "Processed" and obj
            )
        )
        assert request["status"]["errors"] == [error]
    assert phase(read(custom_api, "backups", "running")) == "InProgress"
