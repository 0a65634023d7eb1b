"""AWS Backup recovery points: what a backup made, with the data it holds.

An EFS recovery point's data is a plain copy of the file system's directory,
kept by the sandbox under its root (see ``files``); an RDS one's is the RDS
snapshot its ARN names (see ``backup_rds``); everything else is the metadata AWS
shows in ``DescribeRecoveryPoint`` and the two listings.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.backup.models import Vault

from sandbox.aws.context import current
from sandbox.aws.files import tree_size


def new_id() -> str:
    """An id in the form AWS Backup uses for jobs and recovery points."""
    return str(uuid.uuid4()).upper()


def present(values: dict[str, Any]) -> dict[str, Any]:
    """A response shape without the members that have no value."""
    return {key: value for key, value in values.items() if value is not None}


def recovery_point_arn(vault: Vault, point_id: str) -> str:
    _, partition, service, region, account, _ = vault.backup_vault_arn.split(":", 5)
    return f"arn:{partition}:{service}:{region}:{account}:recovery-point:{point_id}"


class RecoveryPoint:
    def __init__(
        self,
        vault: Vault,
        resource_arn: str,
        iam_role_arn: str,
        lifecycle: dict[str, Any] | None,
        source_vault_arn: str | None = None,
        point_id: str | None = None,
        resource_type: str = "EFS",
        arn: str | None = None,
    ) -> None:
        self.id = point_id or new_id()
        # An RDS point's ARN is its snapshot's (arn:aws:rds:...:snapshot:awsbackup:...).
        self.arn = arn or recovery_point_arn(vault, self.id)
        self.resource_type = resource_type
        self.vault = vault
        self.resource_arn = resource_arn
        self.iam_role_arn = iam_role_arn
        self.lifecycle = lifecycle or None
        self.source_vault_arn = source_vault_arn
        self.status = "CREATING"
        self.status_message: str | None = None
        self.creation_date = datetime.now(UTC)
        self.completion_date: datetime | None = None
        self.size = 0
        self.path = current().files.recovery_point(self.id)
        self.restore_metadata: dict[str, str] = {}

    def complete(self, at: datetime, status: str = "COMPLETED", size: int | None = None) -> None:
        """Done at ``at``; its size is its files' unless given (an RDS point has none)."""
        self.status = status
        self.completion_date = at
        self.size = tree_size(self.path).bytes if size is None else size

    def _calculated_lifecycle(self) -> dict[str, datetime] | None:
        if not self.lifecycle:
            return None
        dates = {
            "MoveToColdStorageAt": self.lifecycle.get("MoveToColdStorageAfterDays"),
            "DeleteAt": self.lifecycle.get("DeleteAfterDays"),
        }
        return present(
            {
                key: self.creation_date + timedelta(days=days) if days else None
                for key, days in dates.items()
            }
        )

    def described(self) -> dict[str, Any]:
        return present(
            {
                "RecoveryPointArn": self.arn,
                "BackupVaultName": self.vault.backup_vault_name,
                "BackupVaultArn": self.vault.backup_vault_arn,
                "SourceBackupVaultArn": self.source_vault_arn,
                "ResourceArn": self.resource_arn,
                "ResourceType": self.resource_type,
                "IamRoleArn": self.iam_role_arn,
                "Status": self.status,
                "StatusMessage": self.status_message,
                "CreationDate": self.creation_date,
                "CompletionDate": self.completion_date,
                "BackupSizeInBytes": self.size,
                "Lifecycle": self.lifecycle,
                "CalculatedLifecycle": self._calculated_lifecycle(),
                "IsEncrypted": False,
                "StorageClass": "WARM",
                "IsParent": False,
                "VaultType": "BACKUP_VAULT",
            }
        )

    def by_vault(self) -> dict[str, Any]:
        listed = self.described()
        listed.pop("StorageClass")
        return listed

    def by_resource(self) -> dict[str, Any]:
        return present(
            {
                "RecoveryPointArn": self.arn,
                "CreationDate": self.creation_date,
                "Status": self.status,
                "BackupSizeBytes": self.size,
                "BackupVaultName": self.vault.backup_vault_name,
                "IsParent": False,
                "VaultType": "BACKUP_VAULT",
            }
        )
