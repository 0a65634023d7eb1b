"""The one inventory on the sandbox: each kind listed once, each caller's view from it.

The end-to-end tests (restore, drill, retention, backup) show the views
unchanged; these pin the parts that are easy to get subtly wrong: the
MemoryDB ``.rdb`` copies grouped into snapshots (restore's copy view) and
listed as retention artifacts, manifests that are not JSON, MemoryDB
snapshots of any cluster, and the backup's read-back of a set whose
artifacts are (partly) gone.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from sandbox.installation import COPY_REGION, add_cross_region, copy_in_policy, seed_installation
from ue_backup import inventory
from ue_backup.backup_set import BackupSet
from ue_backup.config import parse_config
from ue_backup.records import META_NODE_TYPE, META_SHARDS, META_SNAPSHOT, META_TIME
from ue_backup.run_settings import BackupRunSettings, aws_access

SET = BackupSet("ue-test", "ue-test-20260101t000000z")
OTHER = BackupSet("ue-other", "ue-other-20260101t000000z")
WHEN = "2026-01-01T00:00:00+00:00"


@pytest.fixture
def world(sandbox):
    """An installation with copies to COPY_REGION; returns (installation, configuration)."""
    inst = seed_installation(sandbox, "ue-test", velero=False, ecds=())
    add_cross_region(sandbox, inst)
    return inst, parse_config(inst.config)


def put_rdb(sandbox, bucket, key, backup_set, shards=2, meta=True):
    """One exported ``.rdb`` file of a set's MemoryDB copy, tagged and described as the export."""
    metadata = {
        META_SNAPSHOT: backup_set.memorydb_snapshot_name,
        META_TIME: WHEN,
        META_NODE_TYPE: "db.t4g.small",
        META_SHARDS: str(shards),
    }
    sandbox.client("s3", region=COPY_REGION).put_object(
        Bucket=bucket,
        Key=key,
        Body=b"REDIS0011",
        Metadata=metadata if meta else {},
        Tagging=urlencode(backup_set.tags),
    )


def test_the_copy_region_memorydb_files_are_grouped_into_snapshots_of_ours_only(sandbox, world):
    _, cfg = world
    bucket = cfg.cross_region.memorydb_bucket
    name = SET.memorydb_snapshot_name
    put_rdb(sandbox, bucket, f"{name}-0001.rdb", SET)
    put_rdb(sandbox, bucket, f"{name}-0002.rdb", SET)
    half = BackupSet("ue-test", "ue-test-20260102t000000z")
    put_rdb(sandbox, bucket, f"{half.memorydb_snapshot_name}-0001.rdb", half)  # 1 of 2 shards
    put_rdb(sandbox, bucket, f"{OTHER.memorydb_snapshot_name}-0001.rdb", OTHER)
    put_rdb(sandbox, bucket, f"{name}-0003.txt", SET)  # not a snapshot file
    put_rdb(sandbox, bucket, "ueb-ue-test-stray.rdb", SET, meta=False)  # no export metadata

    found = inventory.memorydb_copies(aws_access(cfg, COPY_REGION), bucket, cfg)

    by_name = {s["Name"]: s for s in found}
    assert sorted(by_name) == sorted([name, half.memorydb_snapshot_name])
    whole = by_name[name]
    assert whole["Status"] == "available"
    assert whole["SnapshotArns"] == [
        f"arn:aws:s3:::{bucket}/{name}-0001.rdb",
        f"arn:aws:s3:::{bucket}/{name}-0002.rdb",
    ]
    assert whole["ClusterConfiguration"]["NumShards"] == 2
    assert whole["ClusterConfiguration"]["NodeType"] == "db.t4g.small"
    assert {s["SnapshotCreationTime"] for s in whole["ClusterConfiguration"]["Shards"]} == {WHEN}
    assert whole["Tags"] == SET.tags
    assert by_name[half.memorydb_snapshot_name]["Status"] == "incomplete"


def test_retention_lists_every_file_of_its_copies_and_every_manifest(sandbox, world):
    inst, cfg = world
    bucket = cfg.cross_region.memorydb_bucket
    name = SET.memorydb_snapshot_name
    put_rdb(sandbox, bucket, f"{name}-0001.rdb", SET)
    put_rdb(sandbox, bucket, f"{name}-0003.txt", SET)  # retention deletes every file of a copy
    put_rdb(sandbox, bucket, f"{OTHER.memorydb_snapshot_name}-0001.rdb", OTHER)  # not our prefix
    s3 = sandbox.client("s3")
    s3.put_object(
        Bucket=inst.bucket,
        Key=f"ue-backup/{SET.manifest_key}",
        Body=json.dumps({"installation": SET.installation, "backup_set": SET.id}).encode(),
    )
    broken = "ue-backup/ue-test/half-written/manifest.json"
    s3.put_object(Bucket=inst.bucket, Key=broken, Body=b"{not json")

    listed = inventory.list_artifacts(cfg)

    copies = sorted((a.id, a.backup_set) for a in listed if a.region == COPY_REGION)
    assert copies == [
        (f"{name}-0001.rdb", SET.id),
        (f"{name}-0003.txt", SET.id),
    ]
    manifests = {a.id: (a.installation, a.backup_set) for a in listed if a.kind == "manifest"}
    assert manifests == {
        f"ue-backup/{SET.manifest_key}": ("ue-test", SET.id),
        broken: (None, None),  # unreadable: claims nothing, left alone by the policy
    }


def test_memorydb_snapshots_of_every_cluster_or_of_one(sandbox, world):
    inst, cfg = world
    memorydb = sandbox.client("memorydb")
    memorydb.create_cluster(
        ClusterName="elsewhere", NodeType="db.t4g.small", ACLName="open-access", NumShards=1
    )
    memorydb.create_snapshot(
        ClusterName=inst.memorydb_cluster, SnapshotName="ours", Tags=SET.tag_list
    )
    memorydb.create_snapshot(ClusterName="elsewhere", SnapshotName="theirs")
    access = aws_access(cfg)

    every = {s["Name"]: s["Tags"] for s in inventory.memorydb_snapshots(access)}
    one = [s["Name"] for s in inventory.memorydb_snapshots(access, cluster=inst.memorydb_cluster)]

    assert every == {"ours": SET.tags, "theirs": {}}
    assert one == ["ours"]


def test_the_read_back_says_none_for_what_is_gone_and_skips_a_missing_copy_file(sandbox, world):
    _, cfg = world
    bucket = cfg.cross_region.memorydb_bucket
    name = SET.memorydb_snapshot_name
    put_rdb(sandbox, bucket, f"{name}-0001.rdb", SET)
    settings = BackupRunSettings.build(cfg, SET.id, {"efs", "memorydb"}).dump()
    records = {
        "rds": {"id": SET.rds_snapshot_id},  # never made
        "memorydb_copy": {
            "bucket": bucket,
            "snapshot_arns": [
                f"arn:aws:s3:::{bucket}/{name}-0001.rdb",
                f"arn:aws:s3:::{bucket}/{name}-0002.rdb",  # never copied
            ],
        },
    }

    found = inventory.read_artifacts(settings, records)

    assert set(found) == set(inventory.READ_BACK)
    assert found["rds_snapshot"] is None
    (copied,) = found["memorydb_copy"]
    assert copied["Key"] == f"{name}-0001.rdb"
    assert copied["Tags"] == SET.tags
    assert copied["Metadata"][META_SNAPSHOT] == name
    assert copied["ContentLength"] == len(b"REDIS0011")


def test_a_restore_from_the_protected_copies_reads_whether_its_vault_lets_them_back_in(sandbox):
    """After an attack the installation's vault may have lost the grant that lets the
    protected account copy back in: read (never changed) before anything is brought back."""
    from tests.plugins.tasks.test_preflight_immutable import BACKUP_ROLE, PROTECTED, ROLE

    inst = seed_installation(sandbox, "ue-test", memorydb=False, velero=False, ecds=())
    inst.config["immutable"] = {
        "account_id": PROTECTED,
        "role_arn": ROLE,
        "backup_role_arn": BACKUP_ROLE,
        "backup_vault_name": "ue-test-locked",
        "bucket": "ue-test-locked-artifacts",
    }
    cfg = parse_config(inst.config)
    [gone] = inventory.home_vault_grant_problems(aws_access(cfg), cfg)
    assert gone.startswith("efs.aws_backup.vault_name: vault ue-test-vault has no access policy")
    assert f"arn:aws:iam::{PROTECTED}:root" in gone

    def grant(account: str) -> None:
        sandbox.client("backup").put_backup_vault_access_policy(
            BackupVaultName=inst.vault, Policy=copy_in_policy(account)
        )

    grant("999988887777")
    [other] = inventory.home_vault_grant_problems(aws_access(cfg), cfg)
    assert f"does not allow backup:CopyIntoBackupVault from account {PROTECTED}" in other
    grant(PROTECTED)
    assert inventory.home_vault_grant_problems(aws_access(cfg), cfg) == []
