"""include/k8s: the RBAC grants exactly the Kubernetes verbs the end-to-end suites use.

Checked against the sandbox API server's request log: every request the
system made during the end-to-end tests is allowed for Airflow's service
account, and every verb granted was needed by one of them.
"""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from include.render import k8s_values, render_rbac
from tests.include import rbac
from tests.include.recorder import ROOT
from tests.include.support import (
    SERVICE_ACCOUNT,
    grants_for,
    incomplete_note,
    k8s_template,
    rbac_objects,
)
from tests.plugins.test_config import DERBY
from ue_backup.tasks import drill_steps

CHECK_TIMEOUT = 3600  # the checks may have to run the end-to-end modules first

CONFIG = {
    "installation": "ue-test",
    "region": "eu-west-1",
    "database": copy.deepcopy(DERBY),
    "cold_window": {"disk_storage_used": ["derby"]},  # Derby is copied cold
    "efs": {
        "file_system_id": "fs-0123456789abcdef0",
        "backup_method": "aws_backup",
        "aws_backup": {
            "vault_name": "ue-test-vault",
            "iam_role_arn": "arn:aws:iam::123456789012:role/ue-backup-aws-backup",
        },
    },
    "kubernetes": {
        "namespace": "uepe",
        "ecd_selection": {"label_selector": "app.kubernetes.io/part-of=usage-engine"},
    },
    "velero": {"namespace": "velero", "included_namespaces": ["uepe"]},
    "manifests": {"bucket": "ue-test-manifests"},
}


def request(verb, group, resource, namespace, name="", test="synthetic"):
    return {
        "api": "k8s",
        "service": group,
        "operation": verb,
        "resource": resource,
        "namespace": namespace,
        "name": name,
        "path": f"/{resource}",
        "test": test,
        "config": 0,
    }


def grants(config=CONFIG, who=SERVICE_ACCOUNT) -> list[rbac.Grant]:
    return rbac.grants(rbac_objects(config), who)


def check(requests, config=CONFIG) -> rbac.Verdict:
    given = grants(config)
    return rbac.evaluate(requests, lambda _: given, given)


def k8s_requests(recording):
    return [r for r in recording.requests if r["api"] == "k8s"]


def all_grants(recording) -> set[rbac.Grant]:
    return {g for c in recording.configs if c for g in grants(c)}


# --- the recording of the end-to-end suites ---------------------------------------------


@pytest.mark.timeout(CHECK_TIMEOUT)
def test_every_kubernetes_request_of_the_end_to_end_suites_is_allowed(e2e_recording):
    requests = k8s_requests(e2e_recording)
    assert requests, "the end-to-end suites made no Kubernetes request: is the recorder attached?"
    verdict = rbac.evaluate(requests, grants_for(e2e_recording), all_grants(e2e_recording))
    denied = sorted(set(verdict.denied))
    assert not denied, (
        f"{len(denied)} request(s) include/k8s/rbac.yaml does not allow:\n  "
        + "\n  ".join(denied[:50])
    )


@pytest.mark.timeout(CHECK_TIMEOUT)
def test_every_verb_the_rbac_grants_is_used_by_the_end_to_end_suites(e2e_recording):
    verdict = rbac.evaluate(
        k8s_requests(e2e_recording), grants_for(e2e_recording), all_grants(e2e_recording)
    )
    assert not verdict.unused, (
        f"include/k8s/rbac.yaml grants what no end-to-end test uses: {verdict.unused}"
        + incomplete_note(e2e_recording)
    )


@pytest.mark.timeout(CHECK_TIMEOUT)
def test_each_verb_removed_from_the_rbac_is_reported(e2e_recording):
    """For every granted verb: without it, some request of the recording is denied."""
    requests = k8s_requests(e2e_recording)
    given = grants_for(e2e_recording)
    unnoticed = []
    for grant in sorted(all_grants(e2e_recording), key=lambda g: g.describe()):

        def without(req, grant=grant):
            return [g for g in given(req) if g != grant]

        if not rbac.evaluate(requests, without, []).denied:
            unnoticed.append(grant.describe())
    assert not unnoticed


# --- the checks fail when the code and the RBAC disagree -------------------------------------


def test_a_verb_the_rbac_lacks_is_denied():
    patch = request("patch", "batch", "jobs", "uepe", "r1-place")
    assert check([patch]).denied == ["patch jobs/r1-place (batch) in uepe [synthetic]"]


def test_a_grant_nothing_uses_is_reported_as_unused():
    used = request("get", "apps", "deployments", "uepe", "ecd-rating")
    unused = check([used]).unused
    assert "Role/uepe/ue-backup: get deployments (apps) in uepe" not in unused
    assert "Role/uepe/ue-backup: patch ecdeployments (mz.digitalroute.com) in uepe" in unused


def test_grants_hold_in_their_own_namespace_only():
    assert not check([request("patch", "mz.digitalroute.com", "ecdeployments", "uepe", "e")]).denied
    elsewhere = request("patch", "mz.digitalroute.com", "ecdeployments", "kube-system", "e")
    assert check([elsewhere]).denied
    assert check([request("create", "velero.io", "backups", "uepe")]).denied
    assert not check([request("create", "velero.io", "backups", "velero")]).denied
    # persistent volumes are cluster scoped: the ClusterRole, bound cluster-wide
    assert not check([request("create", "", "persistentvolumes", "")]).denied
    assert not check([request("delete", "", "persistentvolumes", "", "pv-1")]).denied
    assert check([request("list", "", "persistentvolumes", "")]).denied
    # the drill's namespace: its Jobs and what its restore brought, nowhere else
    assert not check([request("create", "batch", "jobs", "uepe-drill")]).denied
    assert not check([request("deletecollection", "apps", "deployments", "uepe-drill")]).denied
    assert check([request("deletecollection", "apps", "deployments", "uepe")]).denied
    assert check([request("patch", "batch", "jobs", "uepe", "r1-place")]).denied
    # the checks' Secret is made and deleted, never read back
    assert not check([request("delete", "", "secrets", "uepe", "r1-checks")]).denied
    assert check([request("get", "", "secrets", "uepe", "r1-checks")]).denied
    assert check([request("list", "", "secrets", "uepe-drill")]).denied


def test_the_drill_role_lists_and_deletes_exactly_what_the_drill_restores():
    """The drill's cleanup goes through RESTORED_RESOURCES; its Role must match it exactly."""
    restored = {(group, plural) for group, _, plural in drill_steps.RESTORED_RESOURCES}
    # what the drill makes itself, not by restoring: its EFS Jobs, their pods, the claim
    own = {("batch", "jobs"), ("", "pods"), ("", "persistentvolumeclaims")}
    drill_role = [g for g in grants() if g.role == "Role/uepe-drill/ue-backup-drill"]
    for verb in ("list", "deletecollection"):
        granted = {(g.group, g.resource) for g in drill_role if g.verb == verb}
        assert granted - own == restored, verb
    # secrets: only the checks' own, made and deleted, never read (restored copies of the
    # live ones are left out of the restore, and could not be read anyway)
    secrets = {g.verb for g in drill_role if (g.group, g.resource) == ("", "secrets")}
    assert secrets == {"create", "delete"}


def test_subresources_are_granted_by_name():
    assert not check([request("get", "", "pods/log", "uepe", "p")]).denied
    assert check([request("create", "", "pods/exec", "uepe", "p")]).denied
    assert check([request("get", "", "pods", "uepe", "p")]).denied  # list only


def test_another_service_account_is_granted_nothing():
    assert grants(who=rbac.Subject("airflow", "someone-else")) == []
    assert grants(who=rbac.Subject("other", SERVICE_ACCOUNT.name)) == []


def test_discovery_is_allowed_and_other_paths_are_not():
    discovery = {**request("get", "", "", ""), "path": "/apis"}
    metrics = {**request("get", "", "", ""), "path": "/metrics"}
    assert check([discovery]).denied == []
    assert check([metrics]).denied == ["non-resource path /metrics"]


# --- the RBAC objects --------------------------------------------------------------------------


def test_the_rbac_has_no_wildcards_and_binds_every_role():
    objects = rbac_objects(CONFIG)
    roles = {
        (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])
        for o in objects
        if o["kind"] in ("Role", "ClusterRole")
    }
    granted = {g.role for g in grants()}
    # with Derby's platform Role, and the read Role of a StatefulSet platform
    assert len(granted) == len(roles) == 6
    for obj in objects:
        assert obj["apiVersion"] == "rbac.authorization.k8s.io/v1"


@pytest.mark.parametrize(
    "rule",
    [
        {"apiGroups": ["*"], "resources": ["pods"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["*"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]},
        {"nonResourceURLs": ["/metrics"], "verbs": ["get"]},
    ],
    ids=["group", "resource", "verb", "non-resource"],
)
def test_wildcards_are_refused(rule):
    objects = copy.deepcopy(rbac_objects(CONFIG))
    objects[0]["rules"].append(rule)
    with pytest.raises(rbac.RbacError):
        rbac.grants(objects, SERVICE_ACCOUNT)


def test_without_velero_there_is_no_velero_role():
    config = copy.deepcopy(CONFIG)
    config.pop("velero")
    objects = rbac_objects(config)
    assert not [o for o in objects if "velero" in o["metadata"].get("namespace", "")]
    assert {g.namespace for g in grants(config)} == {"uepe", "uepe-drill", ""}


def test_a_datasync_installation_has_the_drill_role_too():
    """The drill restores a DataSync set's copy as it restores a recovery point."""
    config = copy.deepcopy(CONFIG)
    config["efs"] = {
        "file_system_id": "fs-0123456789abcdef0",
        "backup_method": "datasync",
        "datasync": {
            "target_file_system_id": "fs-0fedcba9876543210",
            "task_arn": "arn:aws:datasync:eu-west-1:123456789012:task/task-0123456789abcdef0",
        },
    }
    assert {g.namespace for g in grants(config)} == {"uepe", "velero", "uepe-drill", ""}


def test_the_drill_role_is_in_the_configured_drill_namespace():
    config = {**CONFIG, "drill": {"namespace": "ue-rehearsal"}}
    assert {g.role for g in grants(config)} >= {"Role/ue-rehearsal/ue-backup-drill"}
    assert "uepe-drill" not in {g.namespace for g in grants(config)}


def test_one_namespace_for_usage_engine_and_velero_keeps_both_roles():
    config = copy.deepcopy(CONFIG)
    config["velero"]["namespace"] = "uepe"
    given = grants(config)  # refuses objects defined twice
    assert {g.role for g in given} == {
        "Role/uepe/ue-backup",
        "Role/uepe/ue-backup-velero",
        "Role/uepe/ue-backup-platform-platform",
        "Role/uepe/ue-backup-platform-read-platform",
        "Role/uepe-drill/ue-backup-drill",
        "ClusterRole/ue-backup-uepe-volumes",
    }


@pytest.mark.parametrize(
    ("kind", "resource"), [("StatefulSet", "statefulsets"), ("Deployment", "deployments")]
)
def test_derbys_platform_is_scaled_through_its_own_workload_only(kind, resource):
    """The cold window patches spec.replicas of database.derby.platform, and nothing else."""
    config = copy.deepcopy(CONFIG)
    config["database"]["derby"]["platform"] = {"kind": kind, "name": "platform"}
    platform = {g for g in grants(config) if g.role == "Role/uepe/ue-backup-platform-platform"}
    assert {(g.group, g.resource, g.verb, g.names) for g in platform} == {
        ("apps", resource, "patch", ("platform",)),
    }
    # read: a Deployment through the first Role (every ECD's), a StatefulSet through its own
    reads = {g for g in grants(config) if g.role == "Role/uepe/ue-backup-platform-read-platform"}
    assert {(g.resource, g.verb, g.names) for g in reads} == (
        {("statefulsets", "get", ("platform",))} if kind == "StatefulSet" else set()
    )
    for verb in ("get", "patch"):
        allowed = [request(verb, "apps", resource, "uepe", "platform")]
        assert check(allowed, config).denied == []
    assert check([request("patch", "apps", resource, "uepe", "other")], config).denied


def test_without_derby_there_is_no_platform_role():
    config = copy.deepcopy(CONFIG)
    config["database"] = {"engine": "rds", "rds_instance_identifier": "ue-test-db"}
    assert not [g for g in grants(config) if "platform" in g.role]


def test_the_render_script_writes_the_rbac(tmp_path):
    config = tmp_path / "installation.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    done = subprocess.run(
        [
            sys.executable,
            "include/render.py",
            "k8s",
            "--config",
            str(config),
            "--service-account",
            "airflow/airflow-worker",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    objects = list(yaml.safe_load_all(done.stdout))
    expected = render_rbac(k8s_template(), k8s_values(CONFIG, "airflow/airflow-worker"))
    assert objects == expected
    assert "${" not in done.stdout


def test_the_rbac_can_bind_the_user_an_eks_access_entry_maps_a_role_to(tmp_path):
    config = tmp_path / "installation.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    done = subprocess.run(
        [sys.executable, "include/render.py", "k8s", "--config", str(config), "--user", "mwaa"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    bindings = [o for o in yaml.safe_load_all(done.stdout) if "subjects" in o]
    assert len(bindings) == 6  # a StatefulSet platform: its read Role too
    for binding in bindings:
        assert binding["subjects"] == [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "mwaa"}
        ]
