"""List filtering and paging: label selectors in every operator, field selectors,
``limit``/``continue``."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

pytest_plugins = ["sandbox.k8s.fixtures"]

NS = "uepe"
ECD = {"group": "mz.digitalroute.com", "version": "v1alpha1", "plural": "ecdeployments"}
LABELS = {
    "ecd-a": {"tier": "batch", "backup": "cold"},
    "ecd-b": {"tier": "realtime", "backup": "cold"},
    "ecd-c": {"tier": "realtime"},
    "ecd-d": {},
}


@pytest.fixture
def ecds(k8s):
    k8s.durations.update(ecd_start=60)
    for name, labels in LABELS.items():
        k8s.create_ecd(NS, name, labels=labels)
    k8s.create_ecd("other", "ecd-e", labels={"tier": "batch"})


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("tier=batch", ["ecd-a"]),
        ("tier==realtime", ["ecd-b", "ecd-c"]),
        ("tier!=realtime", ["ecd-a", "ecd-d"]),
        ("tier in (batch, realtime)", ["ecd-a", "ecd-b", "ecd-c"]),
        ("tier notin (batch)", ["ecd-b", "ecd-c", "ecd-d"]),
        ("backup", ["ecd-a", "ecd-b"]),
        ("!backup", ["ecd-c", "ecd-d"]),
        ("tier=realtime,backup=cold", ["ecd-b"]),
        ("tier in (realtime),!backup", ["ecd-c"]),
        ("", ["ecd-a", "ecd-b", "ecd-c", "ecd-d"]),
    ],
)
def test_label_selectors(ecds, custom_api, selector, expected):
    listed = custom_api.list_namespaced_custom_object(**ECD, namespace=NS, label_selector=selector)
    assert [i["metadata"]["name"] for i in listed["items"]] == expected


def test_listing_across_namespaces(ecds, custom_api):
    listed = custom_api.list_cluster_custom_object(**ECD, label_selector="tier=batch")
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in listed["items"]] == [
        ("other", "ecd-e"),
        (NS, "ecd-a"),
    ]


def test_a_malformed_selector_is_a_bad_request(ecds, custom_api):
    with pytest.raises(ApiException) as bad:
        custom_api.list_namespaced_custom_object(
            **ECD, namespace=NS, label_selector="tier in batch"
        )
    assert bad.value.status == 400


def test_field_selectors(ecds, k8s, custom_api, core_api):
    by_name = custom_api.list_namespaced_custom_object(
        **ECD, namespace=NS, field_selector="metadata.name=ecd-b"
    )
    assert [i["metadata"]["name"] for i in by_name["items"]] == ["ecd-b"]
    not_name = custom_api.list_namespaced_custom_object(
        **ECD, namespace=NS, field_selector="metadata.name!=ecd-b"
    )
    assert len(not_name["items"]) == 3

    k8s.wait_until(lambda: len(k8s.list("pods", NS)) == 4)
    pending = core_api.list_namespaced_pod(NS, field_selector="status.phase=Pending").items
    assert len(pending) == 4
    assert core_api.list_namespaced_pod(NS, field_selector="status.phase=Running").items == []
    with pytest.raises(ApiException) as unsupported:
        core_api.list_namespaced_pod(NS, field_selector="spec.containers=x")
    assert unsupported.value.status == 400


def test_paging_with_limit_and_continue(ecds, custom_api):
    first = custom_api.list_namespaced_custom_object(**ECD, namespace=NS, limit=3)
    assert [i["metadata"]["name"] for i in first["items"]] == ["ecd-a", "ecd-b", "ecd-c"]
    assert first["metadata"]["remainingItemCount"] == 1
    rest = custom_api.list_namespaced_custom_object(
        **ECD, namespace=NS, limit=3, _continue=first["metadata"]["continue"]
    )
    assert [i["metadata"]["name"] for i in rest["items"]] == ["ecd-d"]
    assert "continue" not in rest["metadata"]
