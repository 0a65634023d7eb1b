"""Faults on demand at the API: errors with their Status, throttling with
Retry-After, conflicts, hangs; targeted by verb and ``<ns>/<plural>/<name>``."""

from __future__ import annotations

import json
import time

import pytest
from kubernetes.client.exceptions import ApiException

from sandbox.faults import Fault

pytest_plugins = ["sandbox.k8s.fixtures"]

NS = "uepe"
ECD = {"group": "mz.digitalroute.com", "version": "v1alpha1", "plural": "ecdeployments"}


@pytest.fixture
def ecds(k8s):
    k8s.create_ecd(NS, "ecd-a")
    k8s.create_ecd(NS, "ecd-b")


def get(custom_api, name: str) -> dict:
    return custom_api.get_namespaced_custom_object(**ECD, namespace=NS, name=name)


def test_an_error_fault_answers_with_its_status_once(ecds, k8s, custom_api):
    k8s.faults.add(
        Fault(
            service="k8s", operation="get", target=f"{NS}/ecdeployments/ecd-a", message="etcd down"
        )
    )
    assert get(custom_api, "ecd-b")["metadata"]["name"] == "ecd-b"  # other targets are untouched
    with pytest.raises(ApiException) as failed:
        get(custom_api, "ecd-a")
    assert failed.value.status == 500
    assert json.loads(failed.value.body)["reason"] == "InternalError"
    assert json.loads(failed.value.body)["message"] == "etcd down"
    assert get(custom_api, "ecd-a")["metadata"]["name"] == "ecd-a"  # consumed


def test_throttling_carries_retry_after_which_the_client_honours(ecds, k8s, custom_api):
    k8s.faults.add(Fault(service="k8s", operation="list", status=429, seconds=1))
    started = time.monotonic()
    listed = custom_api.list_namespaced_custom_object(
        **ECD, namespace=NS
    )  # urllib3 waits and retries
    assert time.monotonic() - started >= 1
    assert len(listed["items"]) == 2

    k8s.faults.add(Fault(service="k8s", operation="list", status=429, times=None))
    with pytest.raises(ApiException) as throttled:
        custom_api.list_namespaced_custom_object(**ECD, namespace=NS)
    assert throttled.value.status == 429
    assert throttled.value.headers["Retry-After"] == "0"
    assert json.loads(throttled.value.body)["details"]["retryAfterSeconds"] == 0


def test_an_injected_conflict_changes_nothing(ecds, k8s, custom_api):
    k8s.faults.add(Fault(service="k8s", operation="patch", status=409, message="conflict"))
    with pytest.raises(ApiException) as conflict:
        custom_api.patch_namespaced_custom_object(
            **ECD, namespace=NS, name="ecd-a", body={"spec": {"enabled": False}}
        )
    assert (conflict.value.status, json.loads(conflict.value.body)["reason"]) == (409, "Conflict")
    assert get(custom_api, "ecd-a")["spec"]["enabled"] is True
    assert k8s.log.entries(operation="patch") == []


def test_a_hang_delays_the_answer(ecds, k8s, custom_api):
    k8s.faults.add(
        Fault(service="k8s", operation="patch", kind="hang", seconds=0.4, target="ecd-a")
    )
    started = time.monotonic()
    custom_api.patch_namespaced_custom_object(
        **ECD, namespace=NS, name="ecd-a", body={"spec": {"enabled": False}}
    )
    assert time.monotonic() - started >= 0.4
    assert get(custom_api, "ecd-a")["spec"]["enabled"] is False


def test_faults_on_create_and_delete_of_core_objects(k8s, core_api):
    k8s.faults.add(Fault(service="k8s", operation="create", target=f"{NS}/configmaps/", status=503))
    with pytest.raises(ApiException) as unavailable:
        core_api.create_namespaced_config_map(NS, {"metadata": {"name": "cfg"}})
    assert unavailable.value.status == 503
    core_api.create_namespaced_config_map(NS, {"metadata": {"name": "cfg"}})
    k8s.faults.add(
        Fault(
            service="k8s",
            operation="delete",
            target="configmaps/cfg",
            status=403,
            message="forbidden",
        )
    )
    with pytest.raises(ApiException) as forbidden:
        core_api.delete_namespaced_config_map("cfg", NS)
    assert json.loads(forbidden.value.body)["reason"] == "Forbidden"
    assert k8s.get("configmaps", NS, "cfg")


def test_a_lost_answer_comes_after_the_request_was_carried_out(k8s, core_api):
    k8s.faults.add(
        Fault(service="k8s", operation="create", kind="lost", target=f"{NS}/configmaps/")
    )
    with pytest.raises(ApiException) as lost:
        core_api.create_namespaced_config_map(NS, {"metadata": {"name": "cfg"}})
    assert lost.value.status == 500
    assert k8s.get("configmaps", NS, "cfg")  # made all the same
    (made,) = k8s.log.entries("k8s", "create")
    assert (made.detail["served"], made.detail["lost"]) == (201, True)
    with pytest.raises(ApiException) as again:  # the caller's retry meets it
        core_api.create_namespaced_config_map(NS, {"metadata": {"name": "cfg"}})
    assert again.value.status == 409
