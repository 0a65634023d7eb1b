"""Retention's inventory: every artifact that may belong to this installation, read-only.

Two views are listed. The *restore view* is exactly what ``ue_restore`` lists
(``restore_steps.list_inventory``), so the retention policy judges
restorability as the restore planner would; with cross-region copies, also
what it lists in the copy region. The *artifacts* are everything
that could carry this installation's tags, wherever a backup set leaves
something: RDS manual snapshots, recovery points in the vault, MemoryDB
snapshots, the copies of the three in the cross-region copy region (for
MemoryDB: the ``.rdb`` files in the copy bucket), Velero backups and
manifests. Nothing is filtered by tag here: the policy
does that, and reports what it leaves alone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from ue_backup.backup_set import INSTALLATION_LABEL, tag_dict
from ue_backup.config import InstallationConfig
from ue_backup.hooks.aws_backup import AwsBackupHook
from ue_backup.hooks.memorydb import MemoryDbHook
from ue_backup.hooks.rds import RdsHook
from ue_backup.hooks.velero import VeleroHook
from ue_backup.retention_artifacts import (
    Artifact,
    manifest,
    memorydb_copy_object,
    memorydb_snapshot,
    rds_snapshot,
    recovery_point,
    velero_backup,
)
from ue_backup.tasks.restore_steps import list_inventory

log = logging.getLogger(__name__)


def _rds(conn_id: str, region: str, home: str) -> list[Artifact]:
    hook = RdsHook(aws_conn_id=conn_id, region_name=region)
    return [rds_snapshot(s, region, home) for s in hook.list_manual_snapshots()]


def _recovery_points(conn_id: str, region: str, home: str, vault: str) -> list[Artifact]:
    hook = AwsBackupHook(aws_conn_id=conn_id, region_name=region)
    return [recovery_point(p, region, home) for p in hook.list_recovery_points(vault)]


def _memorydb(conn_id: str, region: str, home: str) -> list[Artifact]:
    """Every snapshot in the region, whatever its cluster (tags decide, not the name)."""
    hook = MemoryDbHook(aws_conn_id=conn_id, region_name=region)
    pages = hook.conn.get_paginator("describe_snapshots").paginate(ShowDetail=True)
    return [
        memorydb_snapshot({**s, "Tags": hook.tags(s["ARN"])}, region, home)
        for page in pages
        for s in page["Snapshots"]
    ]


def _manifests(cfg: InstallationConfig) -> list[Artifact]:
    """This installation's manifests; each claims the set its own body names."""
    hook = S3Hook(aws_conn_id=cfg.aws_conn_id, region_name=cfg.region)
    bucket, prefix = cfg.manifests.bucket, f"{cfg.manifests.prefix}{cfg.installation}/"
    pages = hook.conn.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    found = []
    for item in (o for page in pages for o in page.get("Contents") or ()):
        if not item["Key"].endswith("/manifest.json"):
            continue
        try:
            body = json.loads(hook.read_key(item["Key"], bucket))
        except ValueError:
            log.warning("Manifest %s is not JSON: left alone", item["Key"])
            body = None
        found.append(manifest(item["Key"], bucket, cfg.region, body, item.get("Size")))
    return found


def _memorydb_copies(cfg: InstallationConfig) -> list[Artifact]:
    """The ``.rdb`` files of MemoryDB snapshot copies in the copy region's bucket, tagged."""
    region, bucket = cfg.cross_region.region, cfg.cross_region.memorydb_bucket
    conn = S3Hook(aws_conn_id=cfg.aws_conn_id, region_name=region).conn
    # Every set's snapshot is named ueb-<set id>, and a set id starts with the installation.
    pages = conn.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"ueb-{cfg.installation}-"
    )
    found = []
    for item in (o for page in pages for o in page.get("Contents") or ()):
        tagging = conn.get_object_tagging(Bucket=bucket, Key=item["Key"]).get("TagSet", [])
        tags = tag_dict(tagging)
        found.append(memorydb_copy_object(item, bucket, region, tags))
    return found


def list_artifacts(cfg: InstallationConfig) -> list[Artifact]:
    """Every artifact a backup set of this installation may have left, any owner."""
    conn, home = cfg.aws_conn_id, cfg.region
    copy_region = cfg.cross_region.region if cfg.cross_region else None
    found: list[Artifact] = []
    if cfg.uses_rds:
        found += _rds(conn, home, home)
        if copy_region:
            found += _rds(conn, copy_region, home)
    if cfg.efs.aws_backup:
        found += _recovery_points(conn, home, home, cfg.efs.aws_backup.vault_name)
        if cfg.cross_region and cfg.cross_region.backup_vault_arn:
            vault = cfg.cross_region.backup_vault_arn.rsplit(":", 1)[-1]
            found += _recovery_points(conn, copy_region, home, vault)
    if cfg.memorydb:
        found += _memorydb(conn, home, home)
        if cfg.cross_region and cfg.cross_region.memorydb_bucket:
            found += _memorydb_copies(cfg)
    if cfg.velero:
        found += [
            velero_backup(b)
            for b in VeleroHook(conn_id=cfg.kubernetes_conn_id).list_backups(
                cfg.velero.namespace, f"{INSTALLATION_LABEL}={cfg.installation}"
            )
        ]
    found += _manifests(cfg)
    return found


def inventory(settings: Mapping[str, Any], cfg: InstallationConfig) -> dict[str, Any]:
    """The artifacts (as JSON) and the restore planner's view, for the plan task."""
    artifacts = list_artifacts(cfg)
    counts: dict[str, int] = {}
    for artifact in artifacts:
        counts[artifact.kind] = counts.get(artifact.kind, 0) + 1
    log.info("Listed %d artifact(s): %s", len(artifacts), counts)
    copy_region = cfg.cross_region.region if cfg.cross_region else None
    return {
        "artifacts": [a.as_json() for a in artifacts],
        "restore_view": list_inventory(settings, cfg),
        # What a restore from the copies would see (the region a lost home leaves).
        "copy_region": copy_region,
        "copy_view": list_inventory({**settings, "region": copy_region}, cfg)
        if copy_region
        else None,
    }
