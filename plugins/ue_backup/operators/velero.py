"""Velero Backup and Restore of the Kubernetes resources (ECDs, the platform).

Names derive from the backup set, so a retry finds the object its first try
created. No volume data is taken: EFS is backed up on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from ue_backup.operators.base import BackupSetMixin

if TYPE_CHECKING:  # imported when used: a DAG parse never loads the Kubernetes client
    from ue_backup.hooks.velero import VeleroHook


class _VeleroOperator(BackupSetMixin, BaseOperator):
    def __init__(
        self,
        *,
        backup_set_id: str,
        velero_namespace: str = "velero",
        kubernetes_conn_id: str = "kubernetes_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.backup_set_id = backup_set_id
        self.velero_namespace = velero_namespace
        self.kubernetes_conn_id = kubernetes_conn_id

    @property
    def hook(self) -> VeleroHook:
        from ue_backup.hooks.velero import VeleroHook

        return VeleroHook(conn_id=self.kubernetes_conn_id)


class VeleroCreateBackupOperator(_VeleroOperator):
    """Create the set's Velero Backup of ``included_namespaces``; returns its name."""

    template_fields = (
        "backup_set_id",
        "velero_namespace",
        "included_namespaces",
        "storage_location",
        "ttl",
        "kubernetes_conn_id",
    )

    def __init__(
        self,
        *,
        included_namespaces: list[str],
        storage_location: str = "default",
        ttl: str = "720h0m0s",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.included_namespaces = included_namespaces
        self.storage_location = storage_location
        self.ttl = ttl

    def execute(self, context: Any) -> dict[str, Any]:
        backup_set = self.backup_set(context)
        backup = self.hook.create_backup(
            namespace=self.velero_namespace,
            name=backup_set.velero_backup_name,
            labels=backup_set.labels,
            included_namespaces=list(self.included_namespaces),
            storage_location=self.storage_location,
            ttl=self.ttl,
        )
        name = backup["metadata"]["name"]
        self.log.info(
            "Velero backup %s/%s of %s", self.velero_namespace, name, self.included_namespaces
        )
        return {"name": name, "namespace": self.velero_namespace}


class VeleroCreateRestoreOperator(_VeleroOperator):
    """Restore a Velero backup with every ECD forced to ``spec.enabled: false``.

    The ECDs must not process anything before the restored data is in place
    and free of temporary files; the restore DAG's resume enables them.
    ``included_namespaces``, ``namespace_mapping``, ``include_cluster_resources``,
    ``included_resources`` and ``extra_modifier_rules`` go to the Restore as they
    are (the restore drill restores into a namespace of its own, workloads
    scaled to zero).
    """

    template_fields = (
        "backup_set_id",
        "velero_namespace",
        "backup_name",
        "restore_name",
        "ecd_namespaces",
        "included_namespaces",
        "namespace_mapping",
        "kubernetes_conn_id",
    )

    def __init__(
        self,
        *,
        backup_name: str,
        restore_name: str,
        ecd_namespaces: list[str],
        existing_resource_policy: str = "none",
        included_namespaces: list[str] | None = None,
        namespace_mapping: dict[str, str] | None = None,
        include_cluster_resources: bool | None = None,
        included_resources: list[str] | None = None,
        extra_modifier_rules: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.backup_name = backup_name
        self.restore_name = restore_name
        self.ecd_namespaces = ecd_namespaces
        self.existing_resource_policy = existing_resource_policy
        self.included_namespaces = included_namespaces
        self.namespace_mapping = namespace_mapping
        self.include_cluster_resources = include_cluster_resources
        self.included_resources = included_resources
        self.extra_modifier_rules = extra_modifier_rules

    def execute(self, context: Any) -> dict[str, Any]:
        backup_set = self.backup_set(context)
        restore = self.hook.create_restore(
            namespace=self.velero_namespace,
            name=self.restore_name,
            backup_name=self.backup_name,
            labels=backup_set.labels,
            disable_ecds_in=list(self.ecd_namespaces),
            existing_resource_policy=self.existing_resource_policy,
            included_namespaces=self.included_namespaces,
            namespace_mapping=self.namespace_mapping,
            include_cluster_resources=self.include_cluster_resources,
            included_resources=self.included_resources,
            extra_modifier_rules=self.extra_modifier_rules,
        )
        self.log.info("Velero restore %s of backup %s", self.restore_name, self.backup_name)
        return {"name": restore["metadata"]["name"], "namespace": self.velero_namespace}
