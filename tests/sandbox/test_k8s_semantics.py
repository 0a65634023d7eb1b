"""The API server behaviour clients rely on: optimistic concurrency, the patch media
types, error Status objects, status subresources, finalizers, dry runs, garbage
collection and authentication."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from kubernetes.client.exceptions import ApiException

pytest_plugins = ["sandbox.k8s.fixtures"]

NS = "uepe"
ECD = {"group": "mz.digitalroute.com", "version": "v1alpha1", "plural": "ecdeployments"}
JSON_PATCH = "application/json-patch+json"


def body(name: str = "ecd-a", **spec) -> dict:
    return {
        "apiVersion": "mz.digitalroute.com/v1alpha1",
        "kind": "ECDeployment",
        "metadata": {"name": name},
        "spec": {"enabled": True, **spec},
    }


def status_of(error: pytest.ExceptionInfo[ApiException]) -> dict:
    return json.loads(error.value.body)


@pytest.fixture
def ecd(k8s, custom_api):
    """An ECD whose operator has reported once and then stays quiet (its pod never starts)."""
    k8s.durations.update(ecd_start=60)
    custom_api.create_namespaced_custom_object(**ECD, namespace=NS, body=body())
    k8s.wait_until(lambda: k8s.get("ecdeployments", NS, "ecd-a").get("status"))
    return custom_api.get_namespaced_custom_object(**ECD, namespace=NS, name="ecd-a")


def test_merge_patch_and_json_patch_on_an_ecd(ecd, custom_api):
    merged = custom_api.patch_namespaced_custom_object(
        **ECD, namespace=NS, name="ecd-a", body={"spec": {"enabled": False}}
    )
    assert merged["spec"] == {"enabled": False}

    ops = [
        {
            "op": "add",
            "path": "/metadata/annotations",
            "value": {"ue-backup/suspended-by": "run-1"},
        },
        {"op": "replace", "path": "/spec/enabled", "value": True},
    ]
    patched = custom_api.patch_namespaced_custom_object(
        **ECD, namespace=NS, name="ecd-a", body=ops, _content_type=JSON_PATCH
    )
    assert patched["spec"]["enabled"] is True
    assert patched["metadata"]["annotations"] == {"ue-backup/suspended-by": "run-1"}
    assert patched["metadata"]["generation"] == 3


def test_stale_resource_version_is_a_conflict_for_put_and_patches(ecd, custom_api):
    stale = ecd["metadata"]["resourceVersion"]
    custom_api.patch_namespaced_custom_object(
        **ECD, namespace=NS, name="ecd-a", body={"metadata": {"labels": {"x": "1"}}}
    )

    old = dict(ecd, spec={"enabled": False})
    with pytest.raises(ApiException) as put:
        custom_api.replace_namespaced_custom_object(**ECD, namespace=NS, name="ecd-a", body=old)
    with pytest.raises(ApiException) as merge:
        custom_api.patch_namespaced_custom_object(
            **ECD,
            namespace=NS,
            name="ecd-a",
            body={"metadata": {"resourceVersion": stale}, "spec": {"enabled": False}},
        )
    with pytest.raises(ApiException) as json_patch:
        custom_api.patch_namespaced_custom_object(
            **ECD,
            namespace=NS,
            name="ecd-a",
            body=[{"op": "replace", "path": "/metadata/resourceVersion", "value": stale}],
            _content_type=JSON_PATCH,
        )
    for error in (put, merge, json_patch):
        assert error.value.status == 409
        assert status_of(error)["reason"] == "Conflict"
        assert "the object has been modified" in status_of(error)["message"]
    assert (
        custom_api.get_namespaced_custom_object(**ECD, namespace=NS, name="ecd-a")["spec"][
            "enabled"
        ]
        is True
    )


def test_json_patch_test_operation_guards_a_change(ecd, custom_api):
    guarded = [
        {"op": "test", "path": "/spec/enabled", "value": False},
        {"op": "replace", "path": "/spec/enabled", "value": True},
    ]
    with pytest.raises(ApiException) as failed:
        custom_api.patch_namespaced_custom_object(
            **ECD, namespace=NS, name="ecd-a", body=guarded, _content_type=JSON_PATCH
        )
    assert failed.value.status == 422


def test_strategic_merge_patch_is_refused_for_custom_resources(ecd, custom_api):
    with pytest.raises(ApiException) as refused:
        custom_api.patch_namespaced_custom_object(
            **ECD,
            namespace=NS,
            name="ecd-a",
            body={"spec": {"enabled": False}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert refused.value.status == 415
    assert status_of(refused)["reason"] == "UnsupportedMediaType"


def test_put_needs_a_resource_version_on_custom_resources_only(ecd, k8s, custom_api, core_api):
    unversioned = body()
    with pytest.raises(ApiException) as refused:
        custom_api.replace_namespaced_custom_object(
            **ECD, namespace=NS, name="ecd-a", body=unversioned
        )
    assert refused.value.status == 422

    core_api.create_namespaced_config_map(NS, {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
    replaced = core_api.replace_namespaced_config_map(
        "cfg", NS, {"metadata": {"name": "cfg"}, "data": {"a": "2"}}
    )
    assert replaced.data == {"a": "2"}


def test_missing_and_duplicate_objects(k8s, custom_api):
    with pytest.raises(ApiException) as missing:
        custom_api.get_namespaced_custom_object(**ECD, namespace=NS, name="nope")
    assert missing.value.status == 404
    assert status_of(missing) | {"details": None} == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'ecdeployments.mz.digitalroute.com "nope" not found',
        "reason": "NotFound",
        "code": 404,
        "details": None,
    }
    assert status_of(missing)["details"] == {
        "name": "nope",
        "group": "mz.digitalroute.com",
        "kind": "ecdeployments",
    }

    custom_api.create_namespaced_custom_object(**ECD, namespace=NS, body=body("twice"))
    with pytest.raises(ApiException) as duplicate:
        custom_api.create_namespaced_custom_object(**ECD, namespace=NS, body=body("twice"))
    assert (duplicate.value.status, status_of(duplicate)["reason"]) == (409, "AlreadyExists")


@pytest.mark.parametrize(
    ("api", "create", "obj", "field"),
    [
        ("custom_api", "create_namespaced_custom_object", body("x", enabled="yes"), "spec.enabled"),
        ("custom_api", "create_namespaced_custom_object", body("Upper_Case"), "metadata.name"),
        (
            "batch_api",
            "create_namespaced_job",
            {
                "metadata": {"name": "j"},
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Always",
                            "containers": [{"name": "c", "image": "i"}],
                        }
                    }
                },
            },
            "spec.template.spec.restartPolicy",
        ),
        (
            "core_api",
            "create_namespaced_pod",
            {"metadata": {"name": "p"}, "spec": {"containers": []}},
            "spec.containers",
        ),
    ],
)
def test_invalid_objects_are_unprocessable(k8s, request, api, create, obj, field):
    create_call = getattr(request.getfixturevalue(api), create)
    where = ECD if api == "custom_api" else {}
    with pytest.raises(ApiException) as invalid:
        create_call(**where, namespace=NS, body=obj)
    assert invalid.value.status == 422
    assert status_of(invalid)["reason"] == "Invalid"
    assert field in [cause["field"] for cause in status_of(invalid)["details"]["causes"]]
    assert k8s.log.entries() == []


def test_ecd_status_is_a_subresource(ecd, custom_api):
    written = dict(ecd, status={"phase": "Forged"})
    replaced = custom_api.replace_namespaced_custom_object(
        **ECD, namespace=NS, name="ecd-a", body=written
    )
    assert replaced["status"]["phase"] != "Forged"
    assert replaced["metadata"]["generation"] == 1  # nothing outside metadata and status changed

    status = custom_api.patch_namespaced_custom_object_status(
        **ECD,
        namespace=NS,
        name="ecd-a",
        body={"status": {"note": "x"}, "spec": {"enabled": False}},
    )
    assert status["status"]["note"] == "x"
    assert status["spec"]["enabled"] is True


def test_finalizers_hold_a_deletion(ecd, custom_api):
    custom_api.patch_namespaced_custom_object(
        **ECD, namespace=NS, name="ecd-a", body={"metadata": {"finalizers": ["ue-backup/hold"]}}
    )
    deleting = custom_api.delete_namespaced_custom_object(**ECD, namespace=NS, name="ecd-a")
    assert deleting["metadata"]["deletionTimestamp"]
    custom_api.patch_namespaced_custom_object(
        **ECD, namespace=NS, name="ecd-a", body={"metadata": {"finalizers": None}}
    )
    with pytest.raises(ApiException) as gone:
        custom_api.get_namespaced_custom_object(**ECD, namespace=NS, name="ecd-a")
    assert gone.value.status == 404


def test_dry_run_changes_nothing(ecd, k8s, custom_api):
    before = k8s.store.resource_version
    result = custom_api.patch_namespaced_custom_object(
        **ECD, namespace=NS, name="ecd-a", body={"spec": {"enabled": False}}, dry_run="All"
    )
    assert result["spec"]["enabled"] is False
    assert (
        custom_api.get_namespaced_custom_object(**ECD, namespace=NS, name="ecd-a")["spec"][
            "enabled"
        ]
        is True
    )
    assert k8s.store.resource_version == before
    assert k8s.log.entries(operation="patch") == []


def test_generate_name(k8s, core_api):
    created = core_api.create_namespaced_config_map(
        NS, {"metadata": {"generateName": "purge-"}, "data": {}}
    )
    assert re.fullmatch(r"purge-[a-z0-9]{5}", created.metadata.name)


def test_deleting_a_job_orphans_its_pods_unless_told_otherwise(k8s, batch_api, core_api):
    k8s.durations.update(job=60)
    job = {
        "metadata": {"name": "j"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "i", "command": ["true"]}],
                }
            }
        },
    }
    batch_api.create_namespaced_job(NS, job)
    pod = k8s.wait_until(
        lambda: core_api.list_namespaced_pod(NS, label_selector="job-name=j").items
    )[0]
    assert pod.metadata.owner_references[0].kind == "Job"
    batch_api.delete_namespaced_job("j", NS)
    orphan = core_api.read_namespaced_pod(pod.metadata.name, NS)
    assert not orphan.metadata.owner_references

    batch_api.create_namespaced_job(NS, job)
    k8s.wait_until(
        lambda: len(core_api.list_namespaced_pod(NS, label_selector="job-name=j").items) == 2
    )
    batch_api.delete_namespaced_job("j", NS, propagation_policy="Background")
    k8s.wait_until(
        lambda: len(core_api.list_namespaced_pod(NS, label_selector="job-name=j").items) == 1
    )


def test_requests_need_the_kubeconfig_token(k8s):
    with urllib.request.urlopen(f"{k8s.url}/version") as anonymous:
        assert json.load(anonymous)["major"] == "1"
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        request = urllib.request.Request(f"{k8s.url}/api/v1/namespaces/{NS}/pods", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request)
        assert refused.value.code == 401
