"""VeleroHook against the sandbox's Velero: Backups and Restores by name, ECDs restored off."""

from __future__ import annotations

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from sandbox.faults import Fault
from tests.plugins.ecds import NS, enabled, seed_ecds
from tests.plugins.support import mutations
from tests.plugins.velero_support import VELERO, finished, phase, start_backup
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.ecd import ECD_GROUP, ECD_PLURAL, ECD_VERSION
from ue_backup.hooks.velero import VeleroHook, disable_ecds_modifier


@pytest.fixture
def hook(sandbox) -> VeleroHook:
    sandbox.durations.update(velero=0.1)
    return VeleroHook()


def test_a_backup_takes_the_namespaces_objects_without_volume_data(sandbox, hook):
    seed_ecds(sandbox, a=True)

    created = hook.create_backup(
        namespace=VELERO,
        name="b1",
        labels={"ue-backup/backup-set": "s1"},
        included_namespaces=[NS],
        storage_location="default",
        ttl="48h0m0s",
    )

    assert created["spec"] == {
        "includedNamespaces": [NS],
        "storageLocation": "default",
        "ttl": "48h0m0s",
        "snapshotVolumes": False,
        "defaultVolumesToFsBackup": False,
    }
    assert finished(sandbox, hook, "backup", "b1")["status"]["phase"] == "Completed"
    kinds = {(o["kind"], o["metadata"]["name"]) for o in sandbox.k8s.velero_backup_items("b1")}
    assert ("ECDeployment", "ecd-a") in kinds
    assert [
        b["metadata"]["name"] for b in hook.list_backups(VELERO, "ue-backup/backup-set=s1")
    ] == ["b1"]
    assert hook.list_backups(VELERO, "ue-backup/backup-set=other") == []


def test_creating_a_backup_again_returns_the_existing_one(sandbox, hook):
    start_backup(hook, "b1")
    again = start_backup(hook, "b1")

    assert again == "b1"
    assert len(mutations(sandbox, "k8s", "create", f"{VELERO}/backups/b1")) == 1
    assert hook.get_backup(VELERO, "missing") is None
    assert hook.get_restore(VELERO, "missing") is None


def test_a_restore_brings_ecds_back_switched_off(sandbox, hook):
    seed_ecds(sandbox, a=True, b=True)
    start_backup(hook, "b1")
    finished(sandbox, hook, "backup", "b1")
    for name in ("ecd-a", "ecd-b"):  # a new cluster: the ECDs are gone
        hook.custom_object_client.delete_namespaced_custom_object(
            ECD_GROUP, ECD_VERSION, NS, ECD_PLURAL, name
        )
    sandbox.k8s.wait_until(lambda: not sandbox.k8s.list("ecdeployments", NS))

    restore = hook.create_restore(
        namespace=VELERO, name="r1", backup_name="b1", labels={}, disable_ecds_in=[NS]
    )

    assert restore["spec"]["resourceModifier"] == {"kind": "ConfigMap", "name": "r1-modifiers"}
    assert restore["spec"]["restorePVs"] is False
    config_map = sandbox.k8s.get("configmaps", VELERO, "r1-modifiers")
    assert yaml.safe_load(config_map["data"]["modifiers.yaml"]) == disable_ecds_modifier([NS])
    assert finished(sandbox, hook, "restore", "r1")["status"]["phase"] == "Completed"
    assert enabled(sandbox) == {"ecd-a": False, "ecd-b": False}


def test_creating_a_restore_again_creates_nothing(sandbox, hook):
    start_backup(hook, "b1")
    finished(sandbox, hook, "backup", "b1")
    for _ in range(2):
        hook.create_restore(
            namespace=VELERO, name="r1", backup_name="b1", labels={}, disable_ecds_in=[NS]
        )

    assert len(mutations(sandbox, "k8s", "create", f"{VELERO}/restores/r1")) == 1
    assert len(mutations(sandbox, "k8s", "create", f"{VELERO}/configmaps/r1-modifiers")) == 1


def test_the_modifier_disables_every_ecd_in_the_namespaces():
    (rule,) = disable_ecds_modifier(["uepe", "other"])["resourceModifierRules"]
    assert rule["conditions"]["groupResource"] == "ecdeployments.mz.digitalroute.com"
    assert rule["conditions"]["namespaces"] == ["uepe", "other"]
    assert rule["patches"] == [{"operation": "add", "path": "/spec/enabled", "value": "false"}]


@pytest.mark.parametrize("spec", [{"enabled": True}, {"enabled": False}, {}])
def test_the_modifier_disables_an_ecd_whatever_its_switch_said(spec):
    """Applied as Velero applies it (the sandbox's rules), also without spec.enabled."""
    from sandbox.k8s.velero.modifiers import apply

    ecd = {"metadata": {"name": "e", "namespace": "uepe"}, "spec": {"image": "x", **spec}}
    rules = disable_ecds_modifier(["uepe"])["resourceModifierRules"]

    restored = apply(rules, ecd, "ecdeployments.mz.digitalroute.com")

    assert restored["spec"] == {"image": "x", "enabled": False}


def test_deleting_a_backup_goes_through_a_delete_request_a_retry_renews(sandbox, hook):
    sandbox.durations.update(velero=30)  # the backup stays InProgress: Velero refuses
    start_backup(hook, "b1")
    sandbox.k8s.wait_until(lambda: phase(hook.get_backup(VELERO, "b1")) == "InProgress")
    hook.request_backup_deletion(VELERO, hook.get_backup(VELERO, "b1"))
    refused = sandbox.k8s.wait_until(
        lambda: phase(r := hook.get_delete_request(VELERO, "b1")) == "Processed" and r
    )
    assert refused["status"]["errors"] == ["backup is still in progress"]
    assert refused["metadata"]["labels"]["velero.io/backup-name"] == "b1"

    sandbox.durations.update(velero=0.1)
    finished(sandbox, hook, "backup", "b1")
    hook.request_backup_deletion(VELERO, hook.get_backup(VELERO, "b1"))  # the retry

    sandbox.k8s.wait_until(lambda: hook.get_backup(VELERO, "b1") is None)
    assert sandbox.k8s.velero_backup_items("b1") == []
    assert len(mutations(sandbox, "k8s", "create", f"{VELERO}/deletebackuprequests/b1-delete")) == 2


def test_a_create_whose_answer_was_lost_returns_the_backup_it_made(sandbox, hook):
    sandbox.faults.add(Fault("k8s", "create", kind="lost", target=f"{VELERO}/backups", status=503))

    assert start_backup(hook, "b1") == "b1"

    (made,) = sandbox.log.entries("k8s", "create")
    assert (made.target, made.detail["lost"]) == (f"{VELERO}/backups/b1", True)


def test_a_create_that_failed_before_it_was_carried_out_still_fails(sandbox, hook):
    sandbox.faults.add(Fault("k8s", "create", target=f"{VELERO}/backups", status=503))

    with pytest.raises(ApiException) as failed:
        start_backup(hook, "b1")

    assert failed.value.status == 503
    assert hook.get_backup(VELERO, "b1") is None


@pytest.mark.parametrize("lost", [False, True], ids=["found-first", "after-a-lost-answer"])
def test_a_backup_of_the_name_that_is_not_the_sets_is_refused(sandbox, hook, lost):
    start_backup(hook, "b1")  # labelled set "b1"
    if lost:  # the look comes first and finds nothing; the create is refused
        sandbox.faults.add(
            Fault("k8s", "get", target=f"{VELERO}/backups/b1", status=404, message="gone")
        )

    with pytest.raises(PermanentFailure, match="b1 exists but is not this set's"):
        hook.create_backup(
            namespace=VELERO,
            name="b1",
            labels={"ue-backup/backup-set": "another"},
            included_namespaces=[NS],
            storage_location="default",
            ttl="24h0m0s",
        )
