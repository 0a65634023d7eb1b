"""Velero operators against the sandbox: the set's Backup, and Restores with ECDs off."""

from __future__ import annotations

import pytest

from tests.plugins.ecds import NS, enabled, seed_ecds
from tests.plugins.support import SET_ID, defer, make_context, mutations
from tests.plugins.velero_support import VELERO, finished
from ue_backup.backup_set import BackupSet
from ue_backup.hooks.velero import VeleroHook
from ue_backup.operators.velero import VeleroCreateBackupOperator, VeleroCreateRestoreOperator
from ue_backup.sensors.velero import VeleroBackupCompletedSensor, VeleroRestoreCompletedSensor

BACKUP = f"ueb-{SET_ID}"
RESTORE = f"ueb-{SET_ID}-restore"


@pytest.fixture
def hook(sandbox, fast) -> VeleroHook:
    sandbox.durations.update(velero=0.1)
    seed_ecds(sandbox, a=True, b=True)
    return VeleroHook()


def backup_operator() -> VeleroCreateBackupOperator:
    return VeleroCreateBackupOperator(
        task_id="velero_backup", backup_set_id=SET_ID, included_namespaces=[NS], ttl="240h0m0s"
    )


def restore_operator(**kwargs) -> VeleroCreateRestoreOperator:
    return VeleroCreateRestoreOperator(
        task_id="velero_restore",
        backup_set_id=SET_ID,
        backup_name=BACKUP,
        restore_name=RESTORE,
        ecd_namespaces=[NS],
        **kwargs,
    )


def test_the_sets_backup_then_wait_deferred(sandbox, hook, context):
    result = backup_operator().execute(context)

    assert result == {"name": BACKUP, "namespace": VELERO}
    backup = hook.get_backup(VELERO, BACKUP)
    assert backup["metadata"]["labels"] == BackupSet.parse(SET_ID).labels
    assert backup["spec"]["includedNamespaces"] == [NS]
    assert backup["spec"]["ttl"] == "240h0m0s"
    assert backup["spec"]["snapshotVolumes"] is False
    assert backup["spec"]["defaultVolumesToFsBackup"] is False
    sensor = VeleroBackupCompletedSensor(task_id="wait_velero", name=BACKUP)
    assert defer(sensor, context).resume() == BACKUP
    names = {o["metadata"]["name"] for o in sandbox.k8s.velero_backup_items(BACKUP)}
    assert {"ecd-a", "ecd-b"} <= names


def test_a_backup_retry_after_success_creates_nothing(sandbox, hook):
    backup_operator().execute(make_context())
    finished(sandbox, hook, "backup", BACKUP)

    assert backup_operator().execute(make_context())["name"] == BACKUP
    assert len(mutations(sandbox, "k8s", "create", f"{VELERO}/backups/")) == 1


def test_a_restore_over_live_ecds_switches_them_off_then_wait_poking(sandbox, hook, context):
    backup_operator().execute(context)
    finished(sandbox, hook, "backup", BACKUP)

    result = restore_operator(existing_resource_policy="update").execute(context)

    assert result == {"name": RESTORE, "namespace": VELERO}
    restore = hook.get_restore(VELERO, RESTORE)
    assert restore["spec"]["backupName"] == BACKUP
    assert restore["spec"]["existingResourcePolicy"] == "update"
    assert restore["metadata"]["labels"] == BackupSet.parse(SET_ID).labels
    sensor = VeleroRestoreCompletedSensor(task_id="wait_restore", name=RESTORE, deferrable=False)
    assert sensor.execute(context) == RESTORE
    assert enabled(sandbox) == {"ecd-a": False, "ecd-b": False}


def test_a_restore_retry_creates_nothing(sandbox, hook):
    backup_operator().execute(make_context())
    finished(sandbox, hook, "backup", BACKUP)
    restore_operator().execute(make_context())
    finished(sandbox, hook, "restore", RESTORE)

    assert restore_operator().execute(make_context())["name"] == RESTORE
    assert len(mutations(sandbox, "k8s", "create", f"{VELERO}/restores/")) == 1


def test_a_restore_beside_the_live_namespace_leaves_it_alone(sandbox, hook, context):
    """The restore drill's use: a mapped namespace, extra modifiers, nothing cluster-wide."""
    sandbox.k8s.create_efs_pvc(NS, "data", "fs-0123456789abcdef0")
    sandbox.k8s.create("configmaps", {"metadata": {"name": "settings"}, "data": {"a": "b"}}, NS)
    backup_operator().execute(context)
    finished(sandbox, hook, "backup", BACKUP)
    sandbox.log.clear()
    rules = [
        {
            "conditions": {"groupResource": "configmaps", "resourceNameRegex": "^settings$"},
            "patches": [{"operation": "add", "path": "/data/mode", "value": "drill"}],
        }
    ]

    VeleroCreateRestoreOperator(
        task_id="velero_restore",
        backup_set_id=SET_ID,
        backup_name=BACKUP,
        restore_name=RESTORE,
        ecd_namespaces=[NS, "drill"],
        included_namespaces=[NS],
        namespace_mapping={NS: "drill"},
        include_cluster_resources=False,
        included_resources=["ecdeployments.mz.digitalroute.com", "configmaps"],
        extra_modifier_rules=rules,
    ).execute(context)
    restore = finished(sandbox, hook, "restore", RESTORE)

    assert restore["spec"]["namespaceMapping"] == {NS: "drill"}
    assert restore["spec"]["includeClusterResources"] is False
    assert restore["spec"]["includedResources"] == [
        "ecdeployments.mz.digitalroute.com",
        "configmaps",
    ]
    assert restore["status"]["phase"] == "Completed"
    drill_ecds = sandbox.k8s.list("ecdeployments", "drill")
    assert {e["metadata"]["name"]: e["spec"]["enabled"] for e in drill_ecds} == {
        "ecd-a": False,
        "ecd-b": False,
    }
    assert sandbox.k8s.get("configmaps", "drill", "settings")["data"] == {"a": "b", "mode": "drill"}
    assert sandbox.k8s.get("configmaps", NS, "settings")["data"] == {"a": "b"}
    assert enabled(sandbox) == {"ecd-a": True, "ecd-b": True}  # the live ones
    assert sandbox.k8s.list("persistentvolumeclaims", "drill") == []
    written = {e.target.split("/", 1)[0] for e in sandbox.log.entries("k8s", "velero-restored")}
    assert written == {"drill"}  # nothing in the live namespace, nothing cluster-wide
