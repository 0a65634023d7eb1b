"""Velero: Kubernetes resources (ECDs, the platform) backed up and restored as objects.

Velero is driven through its custom resources (``velero.io/v1`` Backup and
Restore) in its own namespace; the Velero server does the work. Volume data
is never included: EFS is backed up separately, so ``snapshotVolumes`` is
off and no file-system backup is requested.
"""

from __future__ import annotations

from typing import Any

import yaml
from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
from kubernetes.client.rest import ApiException

from ue_backup.backup_set import OWNER_LABELS, same_owner
from ue_backup.errors import PermanentFailure
from ue_backup.kube_names import ECD_GROUP, ECD_PLURAL, delete_request_name, modifiers_name
from ue_backup.transient import is_transient

VELERO_GROUP = "velero.io"
VELERO_VERSION = "v1"


def disable_ecds_modifier(namespaces: list[str]) -> dict[str, Any]:
    """A Velero resource-modifier rule set that restores every ECD with ``spec.enabled: false``.

    Restored ECDs must not start processing before the restored data is in
    place and cleaned of temporary files; the resume step enables them.
    """
    return {
        "version": "v1",
        "resourceModifierRules": [
            {
                "conditions": {
                    "groupResource": f"{ECD_PLURAL}.{ECD_GROUP}",
                    "resourceNameRegex": ".*",
                    "namespaces": namespaces,
                },
                # "add", not "replace": JSON Patch's replace fails on an ECD that has no
                # spec.enabled (which counts as enabled), and Velero would skip it
                "patches": [{"operation": "add", "path": "/spec/enabled", "value": "false"}],
            }
        ],
    }


def _ours(existing: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """``existing``, when its ownership labels are the ones ``body`` asks for; else refuse."""
    found = existing.get("metadata", {}).get("labels") or {}
    if not same_owner(body["metadata"].get("labels"), found, OWNER_LABELS):
        raise PermanentFailure(
            f"Velero {existing.get('kind', 'object')} {body['metadata']['name']} exists but "
            f"is not this set's (labels {found}): not adopting it"
        )
    return existing


class VeleroHook(KubernetesHook):
    """Velero Backup and Restore objects through the ``kubernetes_default`` connection."""

    def _get(self, namespace: str, plural: str, name: str) -> dict[str, Any] | None:
        try:
            return self.custom_object_client.get_namespaced_custom_object(
                VELERO_GROUP, VELERO_VERSION, namespace, plural, name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def _create(self, namespace: str, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create the object, or return the existing one of that name (a retry).

        Also when the create's answer was lost (a 5xx, a dropped connection:
        the Kubernetes client never retries a POST) but the object is there.
        An existing object is returned only when its installation and set
        labels are the body's; another one of that name is refused.
        """
        name = body["metadata"]["name"]
        existing = self._get(namespace, plural, name)
        if existing is not None:
            existing = _ours(existing, body)
            self.log.info("Velero %s %s exists already: reusing it", plural, name)
            return existing
        try:
            return self.custom_object_client.create_namespaced_custom_object(
                VELERO_GROUP, VELERO_VERSION, namespace, plural, body
            )
        except Exception as error:
            # 409: created between our read and our write; transient: maybe created
            # before the answer was lost
            if getattr(error, "status", None) != 409 and not is_transient(error):
                raise
            existing = self._get(namespace, plural, name)
            if existing is None:
                raise
            existing = _ours(existing, body)
            self.log.info("Velero %s %s was created by this call: adopting it", plural, name)
            return existing

    def get_backup(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get(namespace, "backups", name)

    def get_restore(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get(namespace, "restores", name)

    def delete_restore(self, namespace: str, name: str) -> bool:
        """Delete a Restore object and its resource-modifier ConfigMap; False if both were gone.

        What the restore created stays: Velero never deletes restored objects.
        """
        found = False
        for delete in (
            lambda: self.custom_object_client.delete_namespaced_custom_object(
                VELERO_GROUP, VELERO_VERSION, namespace, "restores", name
            ),
            lambda: self.core_v1_client.delete_namespaced_config_map(
                modifiers_name(name), namespace
            ),
        ):
            try:
                delete()
                found = True
            except ApiException as error:
                if error.status != 404:
                    raise
        return found

    def list_backups(self, namespace: str, label_selector: str = "") -> list[dict[str, Any]]:
        found = self.custom_object_client.list_namespaced_custom_object(
            VELERO_GROUP, VELERO_VERSION, namespace, "backups", label_selector=label_selector
        )
        return found.get("items", [])

    def get_delete_request(self, namespace: str, backup_name: str) -> dict[str, Any] | None:
        """The DeleteBackupRequest ``request_backup_deletion`` made for that backup, if any."""
        return self._get(namespace, "deletebackuprequests", delete_request_name(backup_name))

    def request_backup_deletion(self, namespace: str, backup: dict[str, Any]) -> dict[str, Any]:
        """Ask Velero to delete a backup and its data, as ``velero backup delete`` does.

        Deleting the Backup object alone would leave the data in the bucket,
        and Velero's sync would bring the object back: a DeleteBackupRequest
        is the way. It is named after the backup, so a retry finds its own
        request; one that Velero processed while the backup still exists (it
        failed) is replaced by a new one.
        """
        meta = backup["metadata"]
        name = delete_request_name(meta["name"])
        existing = self._get(namespace, "deletebackuprequests", name)
        if existing is not None and (existing.get("status") or {}).get("phase") == "Processed":
            self.log.info("Velero processed %s without deleting the backup: asking again", name)
            try:
                self.custom_object_client.delete_namespaced_custom_object(
                    VELERO_GROUP, VELERO_VERSION, namespace, "deletebackuprequests", name
                )
            except ApiException as error:
                if error.status != 404:
                    raise
        labels = {"velero.io/backup-name": meta["name"]}
        if meta.get("uid"):
            labels["velero.io/backup-uid"] = meta["uid"]
        body = {
            "apiVersion": f"{VELERO_GROUP}/{VELERO_VERSION}",
            "kind": "DeleteBackupRequest",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"backupName": meta["name"]},
        }
        return self._create(namespace, "deletebackuprequests", body)

    def create_backup(
        self,
        *,
        namespace: str,
        name: str,
        labels: dict[str, str],
        included_namespaces: list[str],
        storage_location: str,
        ttl: str,
    ) -> dict[str, Any]:
        body = {
            "apiVersion": f"{VELERO_GROUP}/{VELERO_VERSION}",
            "kind": "Backup",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {
                "includedNamespaces": included_namespaces,
                "storageLocation": storage_location,
                "ttl": ttl,
                "snapshotVolumes": False,
                "defaultVolumesToFsBackup": False,
            },
        }
        return self._create(namespace, "backups", body)

    def create_restore(
        self,
        *,
        namespace: str,
        name: str,
        backup_name: str,
        labels: dict[str, str],
        included_namespaces: list[str] | None = None,
        disable_ecds_in: list[str] | None = None,
        existing_resource_policy: str = "none",
        namespace_mapping: dict[str, str] | None = None,
        include_cluster_resources: bool | None = None,
        included_resources: list[str] | None = None,
        extra_modifier_rules: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Create a Restore; with ``disable_ecds_in`` the ECDs come back switched off.

        ``namespace_mapping`` (Velero's ``namespaceMapping``) restores beside the
        originals, e.g. into a drill namespace; ``extra_modifier_rules`` are
        resource-modifier rules applied with the ECD rule.
        """
        spec: dict[str, Any] = {
            "backupName": backup_name,
            "existingResourcePolicy": existing_resource_policy,
            "restorePVs": False,
        }
        if included_namespaces:
            spec["includedNamespaces"] = included_namespaces
        if namespace_mapping:
            spec["namespaceMapping"] = dict(namespace_mapping)
        if include_cluster_resources is not None:
            spec["includeClusterResources"] = include_cluster_resources
        if included_resources:
            spec["includedResources"] = list(included_resources)
        if disable_ecds_in:
            spec["resourceModifier"] = {
                "kind": "ConfigMap",
                "name": self._ensure_modifier(
                    namespace, name, disable_ecds_in, labels, extra_modifier_rules
                ),
            }
        body = {
            "apiVersion": f"{VELERO_GROUP}/{VELERO_VERSION}",
            "kind": "Restore",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": spec,
        }
        return self._create(namespace, "restores", body)

    def _ensure_modifier(
        self,
        namespace: str,
        restore_name: str,
        namespaces: list[str],
        labels: dict[str, str],
        extra_rules: list[dict[str, Any]] | None = None,
    ) -> str:
        """The ConfigMap holding the resource modifiers of one restore (created once)."""
        name = modifiers_name(restore_name)
        modifiers = disable_ecds_modifier(namespaces)
        modifiers["resourceModifierRules"] += list(extra_rules or ())
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "data": {"modifiers.yaml": yaml.safe_dump(modifiers)},
        }
        try:
            self.core_v1_client.create_namespaced_config_map(namespace, body)
        except ApiException as error:
            if error.status != 409:
                raise
        return name
