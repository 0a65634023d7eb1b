"""The pure pieces behind the API and Velero: patch formats, selectors, Go durations,
Velero's modifier values and the runner's mount-path rewriting."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.k8s import patches
from sandbox.k8s.mounts import EFS_DRIVER, efs_directory
from sandbox.k8s.runner import rewrite, unrewrite
from sandbox.k8s.selectors import Requirement, parse_label_selector
from sandbox.k8s.timestamps import parse_go_duration
from sandbox.k8s.velero import modifiers


def test_json_patch_operations():
    doc = {"metadata": {"annotations": {"a/b": "1"}}, "spec": {"workflows": ["x", "y"]}}
    ops = [
        {"op": "copy", "from": "/metadata/annotations/a~1b", "path": "/metadata/annotations/c"},
        {"op": "move", "from": "/spec/workflows/0", "path": "/spec/workflows/-"},
        {"op": "remove", "path": "/metadata/annotations/a~1b"},
        {"op": "test", "path": "/spec/workflows", "value": ["y", "x"]},
    ]
    assert patches.json_patch(doc, ops) == {
        "metadata": {"annotations": {"c": "1"}},
        "spec": {"workflows": ["y", "x"]},
    }
    assert doc["metadata"]["annotations"] == {"a/b": "1"}  # input untouched
    with pytest.raises(patches.PatchConflict):
        patches.json_patch(doc, [{"op": "replace", "path": "/spec/missing", "value": 1}])
    with pytest.raises(patches.PatchError):
        patches.json_patch(doc, {"op": "add"})


def test_merge_and_strategic_merge_patch():
    pod = {
        "metadata": {"labels": {"a": "1", "b": "2"}, "finalizers": ["x"]},
        "spec": {
            "containers": [
                {"name": "c", "image": "old", "args": ["1"]},
                {"name": "d", "image": "d"},
            ]
        },
    }
    assert patches.merge_patch(pod, {"metadata": {"labels": {"a": None}}})["metadata"][
        "labels"
    ] == {"b": "2"}
    merged = patches.strategic_merge_patch(
        pod,
        {
            "metadata": {"finalizers": ["y"]},
            "spec": {
                "containers": [{"name": "c", "image": "new"}, {"name": "d", "$patch": "delete"}]
            },
        },
    )
    assert merged["metadata"]["finalizers"] == ["x", "y"]
    assert merged["spec"]["containers"] == [{"name": "c", "image": "new", "args": ["1"]}]
    replaced = patches.merge_patch(pod, {"spec": {"containers": [{"name": "e"}]}})
    assert replaced["spec"]["containers"] == [{"name": "e"}]  # merge patch replaces lists


def test_label_selector_parsing():
    assert parse_label_selector("a in (x, y),!b,c!=d") == [
        Requirement("a", "in", ("x", "y")),
        Requirement("b", "!"),
        Requirement("c", "notin", ("d",)),
    ]
    for bad in ("a in x", "a=b=c", "-a"):
        with pytest.raises(ValueError, match="unable to parse"):
            parse_label_selector(bad)


def test_go_durations():
    assert parse_go_duration("720h0m0s") == 720 * 3600
    assert parse_go_duration("1h30m") == 5400
    assert parse_go_duration("1.5s") == 1.5
    with pytest.raises(ValueError, match="invalid duration"):
        parse_go_duration("10 days")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("false", False),
        ("True", True),
        ("3", 3),
        ("null", None),
        ('"true"', "true"),
        ("premium", "premium"),
        ("[1]", [1]),
        ("", ""),
    ],
)
def test_velero_modifier_values_follow_velero(value, expected):
    rules = [
        {
            "conditions": {"groupResource": "*"},
            "patches": [{"operation": "add", "path": "/v", "value": value}],
        }
    ]
    assert modifiers.apply(rules, {"metadata": {"name": "x"}}, "configmaps")["v"] == expected


def test_velero_group_resource_globs_stop_at_dots():
    rule = {
        "conditions": {"groupResource": "*.mz.digitalroute.com"},
        "patches": [{"operation": "add", "path": "/hit", "value": "true"}],
    }
    assert (
        modifiers.apply([rule], {"metadata": {"name": "e"}}, "ecdeployments.mz.digitalroute.com")[
            "hit"
        ]
        is True
    )
    assert "hit" not in modifiers.apply([rule], {"metadata": {"name": "e"}}, "deployments.apps")


@pytest.mark.parametrize(
    ("handle", "directory"),
    [("fs-1", "efs/fs-1"), ("fs-1:/uepe/data", "efs/fs-1/uepe/data"), ("fs-1::fsap-9", "efs/fs-1")],
)
def test_efs_csi_volume_handles(handle, directory):
    pv = {
        "metadata": {"name": "pv"},
        "spec": {"csi": {"driver": EFS_DRIVER, "volumeHandle": handle}},
    }
    assert efs_directory(pv, lambda fs: Path("efs") / fs) == Path(directory)


def test_mount_paths_are_rewritten_only_where_they_are_paths():
    mounts = {"/data": Path("/local/fs-1"), "/data/sub": Path("/local/fs-2")}
    command = "ls /data /data/x /data/sub/y /database '/data' x/data"
    rewritten = rewrite(command, mounts)
    assert rewritten == "ls /local/fs-1 /local/fs-1/x /local/fs-2/y /database '/local/fs-1' x/data"
    assert unrewrite(rewritten, mounts) == command
