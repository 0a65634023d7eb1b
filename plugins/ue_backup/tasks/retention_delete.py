"""Retention's side effect: delete the artifacts of the sets the decision gave up.

Idempotent, so a retry (or a second run) is safe: an artifact already gone
counts as deleted. The decision is checked again before anything is
deleted: every artifact must be this installation's and of the set it is
deleted with. Velero backups go through a DeleteBackupRequest (their data
leaves the bucket too) and are waited for. A set's manifest goes last, and
only once everything else of the set is gone, so a set half deleted by a
failure still has its record; a failure fails the task after every other
deletion was tried, and the retry picks up what is left.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from botocore.exceptions import ClientError

from ue_backup.aws import aws_client
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.velero import VeleroHook
from ue_backup.retention import ownership_problem, to_delete
from ue_backup.retention_artifacts import MANIFEST, Artifact
from ue_backup.triggers.waits import poll_interval

log = logging.getLogger(__name__)

DELETED, GONE, REQUESTED = "deleted", "already gone", "deletion requested"
VELERO_DELETE_TIMEOUT_SECONDS = 600
# Error codes that mean the artifact does not exist (any more).
NOT_FOUND = {
    "DBSnapshotNotFound",
    "DBSnapshotNotFoundFault",
    "ResourceNotFoundException",
    "SnapshotNotFoundFault",
}


class _Deleter:
    """One delete call per artifact kind, with clients made once per service and region."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = settings
        self._clients: dict[tuple[str, str], Any] = {}
        self._points: dict[tuple[str, str], set[str]] = {}  # (region, vault) -> listed ARNs

    def _client(self, service: str, region: str) -> Any:
        if (service, region) not in self._clients:
            self._clients[service, region] = aws_client(
                self.settings["aws_conn_id"], region, service
            )
        return self._clients[service, region]

    def delete(self, a: Artifact) -> str:
        try:
            if a.service == "rds":
                self._client("rds", a.region).delete_db_snapshot(DBSnapshotIdentifier=a.id)
            elif a.service == "backup":
                return self._recovery_point(a)
            elif a.service == "memorydb":
                self._client("memorydb", a.region).delete_snapshot(SnapshotName=a.id)
            elif a.service == "velero":
                return self._velero(a)
            elif a.service == "s3":
                return self._object(a)
            else:
                raise PermanentFailure(f"retention cannot delete {a.label} ({a.service})")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in NOT_FOUND:
                return GONE
            raise
        return DELETED

    def _recovery_point(self, a: Artifact) -> str:
        """Delete a recovery point that the vault still lists.

        The IAM policy lets the role delete only recovery points tagged with
        its installation (``include/iam``). A point already deleted has no
        tags left for that condition, so deleting it again may be refused
        with AccessDenied instead of ResourceNotFound: the vault's listing
        (no tag condition) tells "already gone" first.
        """
        key = (a.region, a.container)
        if key not in self._points:
            pages = (
                self._client("backup", a.region)
                .get_paginator("list_recovery_points_by_backup_vault")
                .paginate(BackupVaultName=a.container)
            )
            self._points[key] = {
                p["RecoveryPointArn"] for page in pages for p in page["RecoveryPoints"]
            }
        if a.id not in self._points[key]:
            return GONE
        self._client("backup", a.region).delete_recovery_point(
            BackupVaultName=a.container, RecoveryPointArn=a.id
        )
        return DELETED

    def _velero(self, a: Artifact) -> str:
        hook = VeleroHook(conn_id=self.settings["kubernetes_conn_id"])
        backup = hook.get_backup(a.container, a.id)
        if backup is None:
            return GONE
        hook.request_backup_deletion(a.container, backup)
        return REQUESTED

    def _object(self, a: Artifact) -> str:
        hook = S3Hook(aws_conn_id=self.settings["aws_conn_id"], region_name=a.region)
        if not hook.check_for_key(a.id, a.container):
            return GONE
        hook.conn.delete_object(Bucket=a.container, Key=a.id)
        return DELETED


def _check(decision: Mapping[str, Any], installation: str) -> list[tuple[str, Artifact]]:
    """(set, artifact) pairs to delete; refuse a decision naming anything not ours."""
    pairs = []
    for backup_set in to_delete(decision):
        for data in backup_set["artifacts"]:
            artifact = Artifact.from_json(data)
            problem = ownership_problem(artifact, installation)
            if problem or artifact.backup_set != backup_set["backup_set"]:
                raise PermanentFailure(
                    f"refusing to delete {artifact.label}: "
                    f"{problem or 'it is not of set ' + backup_set['backup_set']}"
                )
            pairs.append((backup_set["backup_set"], artifact))
    return pairs


def _key(a: Artifact) -> tuple[str, str, str | None]:
    return a.kind, a.id, a.region


def _wait_velero(
    settings: Mapping[str, Any], requested: list[Artifact]
) -> list[tuple[Artifact, str]]:
    """Wait until Velero has dealt with each request; the backups it did not delete, and why.

    A backup is dealt with once it is gone, or once Velero processed its
    request and the backup is still there: Velero never looks at a processed
    request again, so waiting longer would only delay the report (a retry
    makes a new request).
    """
    hook = VeleroHook(conn_id=settings["kubernetes_conn_id"])
    deadline = time.monotonic() + VELERO_DELETE_TIMEOUT_SECONDS
    left, refused = list(requested), {}
    while left and time.monotonic() < deadline:
        still = []
        for a in left:
            if hook.get_backup(a.container, a.id) is None:
                continue
            status = (hook.get_delete_request(a.container, a.id) or {}).get("status") or {}
            if status.get("phase") == "Processed":
                refused[_key(a)] = status.get("errors") or ["processed, backup kept"]
            else:
                still.append(a)
        left = still
        if left:
            time.sleep(poll_interval(5))
    problems = []
    for a in requested:
        errors = refused.get(_key(a)) or (["not deleted in time"] if a in left else None)
        if errors:
            problems.append((a, f"{a.label}: Velero did not delete it: {'; '.join(errors)}"))
    return problems


def delete(settings: Mapping[str, Any], decision: Mapping[str, Any]) -> dict[str, Any]:
    """Delete every artifact of every set the decision deletes; returns each outcome."""
    pairs = _check(decision, settings["installation"])
    set_of = {_key(a): backup_set for backup_set, a in pairs}
    deleter = _Deleter(settings)
    outcomes: dict[tuple, dict[str, Any]] = {}
    failed: dict[str, list[str]] = {}

    def attempt(backup_set: str, artifact: Artifact) -> None:
        try:
            outcome = deleter.delete(artifact)
        except PermanentFailure:
            raise
        except Exception as error:  # every failure is reported; the others still go
            failed.setdefault(backup_set, []).append(f"{artifact.label}: {error}")
            return
        log.info("%s: %s %s", backup_set, artifact.label, outcome)
        outcomes[_key(artifact)] = {
            "backup_set": backup_set,
            **artifact.as_json(),
            "outcome": outcome,
        }

    for backup_set, artifact in pairs:
        if artifact.kind != MANIFEST:
            attempt(backup_set, artifact)
    requested = [a for _, a in pairs if outcomes.get(_key(a), {}).get("outcome") == REQUESTED]
    for artifact, problem in _wait_velero(settings, requested):
        failed.setdefault(set_of[_key(artifact)], []).append(problem)
        del outcomes[_key(artifact)]
    for artifact in requested:
        if _key(artifact) in outcomes:
            outcomes[_key(artifact)]["outcome"] = DELETED
    for backup_set, artifact in pairs:
        if artifact.kind == MANIFEST and backup_set not in failed:
            attempt(backup_set, artifact)
    if failed:
        lines = [f"  - {p}" for problems in failed.values() for p in problems]
        raise RuntimeError(
            "retention could not delete everything (a retry picks up what is left):\n"
            + "\n".join(lines)
        )
    return {"outcomes": list(outcomes.values())}
