"""CRUD on every resource kind the sandbox serves, through the official client."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

pytest_plugins = ["sandbox.k8s.fixtures"]

NS = "uepe"
ECD = {"group": "mz.digitalroute.com", "version": "v1alpha1", "plural": "ecdeployments"}


def ecd(name: str, enabled: bool = True, labels: dict | None = None) -> dict:
    return {
        "apiVersion": "mz.digitalroute.com/v1alpha1",
        "kind": "ECDeployment",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"enabled": enabled, "workflows": ["wf.a"]},
    }


CONTAINER = {"name": "main", "image": "busybox", "command": ["true"]}
BUILT_IN = {
    "config_map": (client.CoreV1Api, {"data": {"k": "v"}}),
    "pod": (client.CoreV1Api, {"spec": {"containers": [CONTAINER]}}),
    "persistent_volume_claim": (
        client.CoreV1Api,
        {"spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1Gi"}}}},
    ),
    "deployment": (
        client.AppsV1Api,
        {
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "crud"}},
                "template": {
                    "metadata": {"labels": {"app": "crud"}},
                    "spec": {"containers": [CONTAINER]},
                },
            }
        },
    ),
    "job": (
        client.BatchV1Api,
        {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [CONTAINER]}}}},
    ),
}


def replace_with_retry(call):
    """Read-modify-write as clients must: controllers write status concurrently (409)."""
    for _ in range(10):
        current = call("read", "crud", NS)
        current.metadata.annotations = {"note": "replaced"}
        try:
            return call("replace", "crud", NS, current)
        except ApiException as error:
            if error.status != 409:
                raise
    raise AssertionError("replace kept conflicting")


@pytest.mark.parametrize("kind", sorted(BUILT_IN))
def test_namespaced_built_in_kinds_support_every_verb(k8s, k8s_client, kind):
    api_class, body = BUILT_IN[kind]
    api = api_class(k8s_client)
    call = lambda verb, *args, **kwargs: getattr(api, f"{verb}_namespaced_{kind}")(*args, **kwargs)  # noqa: E731
    body = {"metadata": {"name": "crud", "labels": {"app": "crud", "tier": "a"}}, **body}

    created = call("create", NS, body)
    assert created.metadata.uid
    assert created.metadata.creation_timestamp
    assert call("read", "crud", NS).metadata.uid == created.metadata.uid
    assert [i.metadata.name for i in call("list", NS, label_selector="tier=a").items] == ["crud"]

    patched = call("patch", "crud", NS, {"metadata": {"labels": {"tier": "b"}}})
    assert patched.metadata.labels == {
        "app": "crud",
        "tier": "b",
    }  # strategic merge keeps other labels
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)

    assert replace_with_retry(call).metadata.annotations == {"note": "replaced"}

    call("delete", "crud", NS, grace_period_seconds=0, propagation_policy="Background")
    with pytest.raises(ApiException) as missing:
        call("read", "crud", NS)
    assert missing.value.status == 404


def test_cluster_scoped_persistent_volume(k8s, core_api):
    body = {
        "metadata": {"name": "pv-crud"},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteMany"],
            "csi": {"driver": "efs.csi.aws.com", "volumeHandle": "fs-123"},
        },
    }
    created = core_api.create_persistent_volume(body)
    assert created.metadata.namespace is None
    assert created.status.phase == "Available"
    core_api.patch_persistent_volume("pv-crud", {"metadata": {"labels": {"x": "y"}}})
    assert [
        v.metadata.name for v in core_api.list_persistent_volume(label_selector="x=y").items
    ] == ["pv-crud"]
    core_api.delete_persistent_volume("pv-crud")
    assert core_api.list_persistent_volume().items == []


def test_events_can_be_created_and_listed(k8s, core_api):
    core_api.create_namespaced_event(
        NS,
        {
            "metadata": {"name": "ecd-a.1"},
            "involvedObject": {"kind": "ECDeployment", "name": "ecd-a", "namespace": NS},
            "reason": "Suspended",
            "message": "suspended by run r1",
            "type": "Normal",
        },
    )
    events = core_api.list_namespaced_event(NS, field_selector="involvedObject.name=ecd-a").items
    assert [e.reason for e in events] == ["Suspended"]


def test_ecd_custom_object_lifecycle(k8s, custom_api):
    created = custom_api.create_namespaced_custom_object(**ECD, namespace=NS, body=ecd("ecd-a"))
    meta = created["metadata"]
    assert (meta["generation"], meta["namespace"]) == (1, NS)
    assert all(meta[field] for field in ("uid", "creationTimestamp", "resourceVersion"))

    k8s.wait_ecds_settled()  # the operator writes status until its pod runs: 409s before that
    current = custom_api.get_namespaced_custom_object(**ECD, namespace=NS, name="ecd-a")
    current["spec"]["enabled"] = False
    replaced = custom_api.replace_namespaced_custom_object(
        **ECD, namespace=NS, name="ecd-a", body=current
    )
    assert replaced["spec"]["enabled"] is False
    assert replaced["metadata"]["generation"] == 2

    listed = custom_api.list_namespaced_custom_object(**ECD, namespace=NS)
    assert listed["kind"] == "ECDeploymentList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["ecd-a"]
    assert listed["items"][0]["kind"] == "ECDeployment"

    status = custom_api.delete_namespaced_custom_object(**ECD, namespace=NS, name="ecd-a")
    assert (status["status"], status["details"]["name"]) == ("Success", "ecd-a")
    assert custom_api.list_namespaced_custom_object(**ECD, namespace=NS)["items"] == []


@pytest.mark.parametrize(
    ("plural", "kind", "spec"),
    [("backups", "Backup", {"ttl": "1h0m0s"}), ("restores", "Restore", {"backupName": "b"})],
)
def test_velero_objects_have_no_status_subresource(k8s, custom_api, plural, kind, spec):
    """Velero itself writes status through the main resource, so a client can too."""
    k8s.durations.update(velero=60)
    body = {"apiVersion": "velero.io/v1", "kind": kind, "metadata": {"name": "v1"}, "spec": spec}
    custom_api.create_namespaced_custom_object("velero.io", "v1", "velero", plural, body)
    patched = custom_api.patch_namespaced_custom_object(
        "velero.io", "v1", "velero", plural, "v1", {"status": {"phase": "Deleting"}}
    )
    assert patched["status"]["phase"] == "Deleting"
    custom_api.delete_namespaced_custom_object("velero.io", "v1", "velero", plural, "v1")
