"""Discovery (what ``kubernetes.dynamic`` and version checks read) and watches."""

from __future__ import annotations

import json
import threading

import pytest
from kubernetes import client, dynamic, watch

from sandbox.k8s.resources import CONFIGMAPS, ECDEPLOYMENTS
from sandbox.k8s.routing import Target
from sandbox.k8s.store import Store
from sandbox.k8s.watch import stream as watch_stream

pytest_plugins = ["sandbox.k8s.fixtures"]

NS = "uepe"
ECD = {"group": "mz.digitalroute.com", "version": "v1alpha1", "plural": "ecdeployments"}


def test_version(k8s, k8s_client):
    assert client.VersionApi(k8s_client).get_code().git_version.startswith("v1.33")


def test_dynamic_client_discovers_every_served_kind(k8s, k8s_client):
    discovered = dynamic.DynamicClient(k8s_client)
    for api_version, kind in [
        ("mz.digitalroute.com/v1alpha1", "ECDeployment"),
        ("velero.io/v1", "Backup"),
        ("velero.io/v1", "Restore"),
        ("v1", "Pod"),
        ("v1", "PersistentVolumeClaim"),
        ("v1", "PersistentVolume"),
        ("v1", "ConfigMap"),
        ("v1", "Event"),
        ("apps/v1", "Deployment"),
        ("batch/v1", "Job"),
    ]:
        resource = discovered.resources.get(api_version=api_version, kind=kind)
        assert resource.get(namespace=NS if resource.namespaced else None).items == []
    ecds = discovered.resources.get(api_version="mz.digitalroute.com/v1alpha1", kind="ECDeployment")
    assert ecds.namespaced
    assert ecds.short_names == ["ecd"]


def test_watch_streams_changes_of_the_selected_objects(k8s, custom_api):
    k8s.durations.update(ecd_start=60)
    k8s.create_ecd(NS, "ecd-a", labels={"watched": "yes"})
    k8s.create_ecd(NS, "ecd-b")
    k8s.wait_until(lambda: k8s.get("ecdeployments", NS, "ecd-b").get("status"))

    def disable():
        custom_api.patch_namespaced_custom_object(
            **ECD, namespace=NS, name="ecd-a", body={"spec": {"enabled": False}}
        )
        custom_api.patch_namespaced_custom_object(
            **ECD, namespace=NS, name="ecd-b", body={"spec": {"enabled": False}}
        )
        custom_api.patch_namespaced_custom_object(
            **ECD, namespace=NS, name="ecd-a", body={"metadata": {"labels": None}}
        )

    seen = []
    watcher = watch.Watch()
    for event in watcher.stream(
        custom_api.list_namespaced_custom_object,
        **ECD,
        namespace=NS,
        label_selector="watched=yes",
        timeout_seconds=5,
    ):
        seen.append(
            (event["type"], event["object"]["metadata"]["name"], event["object"]["spec"]["enabled"])
        )
        if len(seen) == 1:
            threading.Thread(target=disable).start()
        if event["type"] == "DELETED":
            watcher.stop()
    assert seen[0] == ("ADDED", "ecd-a", True)
    assert ("MODIFIED", "ecd-a", False) in seen
    assert seen[-1] == ("DELETED", "ecd-a", False)  # no longer matches the selector
    assert all(name == "ecd-a" for _, name, _ in seen)


def test_watch_from_a_compacted_version_says_gone(k8s, k8s_client):
    k8s.create_ecd(NS, "ecd-a")
    k8s.reset()  # drops the event history
    events = watch.Watch().stream(
        client.CustomObjectsApi(k8s_client).list_namespaced_custom_object,
        **ECD,
        namespace=NS,
        resource_version="1",
        timeout_seconds=2,
    )
    with pytest.raises(client.exceptions.ApiException) as gone:
        next(events)
    assert gone.value.status == 410


def test_a_too_old_version_is_gone_even_when_the_timeout_has_already_passed():
    """Judged on arrival: a loaded machine must not turn 410 into an empty stream."""
    store = Store()
    for name in ("cm-a", "cm-b"):
        store.create(CONFIGMAPS, NS, {"metadata": {"name": name}})
    store.clear()  # drops the event history: version 1 is now too old
    lines = list(
        watch_stream(
            store,
            Target(ECDEPLOYMENTS, NS, "", ""),
            [],
            [],
            {"resourceVersion": "1", "timeoutSeconds": "0"},
            threading.Event(),
        )
    )
    assert [json.loads(line)["type"] for line in lines] == ["ERROR"]
    assert json.loads(lines[0])["object"]["code"] == 410
