"""MemoryDB's locked copy, its pure rules: the configuration field, the DAG's shape and the
run's steps, verify's checks on the locked .rdb files, and the manifest's cost."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from tests.plugins.tasks.test_preflight_immutable import CONFIG
from ue_backup.backup_set import BackupSet
from ue_backup.config import ConfigError, PricesConfig, parse_config
from ue_backup.dag_shape import DagShape, backup_steps_needed
from ue_backup.manifest import GB, build_manifest
from ue_backup.records import META_SHARDS, META_TIME
from ue_backup.run_settings import BackupRunSettings
from ue_backup.tasks.locked_verdict import locked_rdb_record
from ue_backup.verify_locked import verify_locked_set

STAGING = "ue-test-memorydb-locked-export"


def _config(memorydb=True, **immutable) -> dict:
    config = copy.deepcopy(CONFIG)
    if memorydb:
        config["memorydb"] = {"cluster_name": "ue-test-agg"}
    config["immutable"].update({"memorydb_export_bucket": STAGING, **immutable})
    config["immutable"] = {k: v for k, v in config["immutable"].items() if v is not None}
    return config


def _refused(config: dict) -> str:
    with pytest.raises(ConfigError) as refused:
        parse_config(config)
    return str(refused.value)


# --- the configuration ------------------------------------------------------------------


def test_the_staging_bucket_is_read_and_validated():
    assert parse_config(_config()).immutable.memorydb_export_bucket == STAGING
    assert "immutable.memorydb_export_bucket" in _refused(
        _config(memorydb_export_bucket="Not_A_Bucket")
    )


def test_memorydb_with_an_immutable_section_needs_the_staging_bucket():
    message = _refused(_config(memorydb_export_bucket=None))
    assert "immutable.memorydb_export_bucket: is required with a memorydb section" in message


def test_a_staging_bucket_without_memorydb_is_refused():
    message = _refused(_config(memorydb=False))
    assert "immutable.memorydb_export_bucket: is set but there is no memorydb section" in message
    assert parse_config(_config(memorydb=False, memorydb_export_bucket=None)).memorydb is None


def test_the_staging_bucket_is_neither_the_locked_bucket_nor_the_cross_region_export():
    message = _refused(_config(memorydb_export_bucket=CONFIG["immutable"]["bucket"]))
    assert "immutable.memorydb_export_bucket: is immutable.bucket itself" in message
    config = _config()
    config["cross_region"] = {
        "region": "eu-central-1",
        "backup_vault_arn": "arn:aws:backup:eu-central-1:123456789012:backup-vault:dr",
        "memorydb_export_bucket": STAGING,
        "memorydb_bucket": "ue-test-memorydb-dr",
    }
    assert "is cross_region.memorydb_export_bucket" in _refused(config)
    config["cross_region"]["memorydb_export_bucket"] = "ue-test-memorydb-export"
    assert parse_config(config).immutable.memorydb_export_bucket == STAGING


# --- the DAG's shape and the run's steps --------------------------------------------------


def test_the_steps_are_built_and_needed_only_with_memorydb_and_the_section():
    cfg = parse_config(_config())
    assert DagShape.of(cfg).copy_memorydb_immutable
    no_memorydb = parse_config(_config(memorydb=False, memorydb_export_bucket=None))
    assert not DagShape.of(no_memorydb).copy_memorydb_immutable
    run = BackupRunSettings.build(cfg, "ue-test-20261206t020000z", {"efs", "memorydb"})
    assert (run.copy_memorydb_immutable, run.immutable_memorydb_export_bucket) == (True, STAGING)
    assert backup_steps_needed(run)["export_memorydb_immutable"]
    # a run that leaves MemoryDB out (params.components) needs no locked copy of it
    without = BackupRunSettings.build(cfg, "ue-test-20261206t020000z", {"efs"})
    assert (without.copy_memorydb_immutable, without.immutable_memorydb_export_bucket) == (
        False,
        None,
    )
    assert not backup_steps_needed(without)["export_memorydb_immutable"]


# --- verify's checks on the locked files ----------------------------------------------------

SET = BackupSet.parse("ue-test-20261206t020000z")
T0 = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
LIFECYCLE = {"DeleteAfterDays": 35}


def _snapshot(shards=2) -> dict:
    return {
        "Status": "available",
        "ClusterConfiguration": {
            "Shards": [
                {"Name": f"000{i}", "SnapshotCreationTime": T0 + timedelta(seconds=30 + i)}
                for i in range(shards)
            ]
        },
    }


def _file(i: int, mode="COMPLIANCE", until_days=36, time=None, shards="2") -> dict:
    return {
        "Key": f"ue-backup/ue-test/{SET.id}/memorydb/ueb-{SET.id}-000{i}.rdb",
        "VersionId": f"v{i}",
        "ContentLength": GB,
        "Metadata": {
            META_TIME: (time or T0 + timedelta(seconds=30)).isoformat(),
            META_SHARDS: shards,
        },
        "Retention": {"Mode": mode, "RetainUntilDate": T0 + timedelta(days=until_days)},
    }


def _checks(
    files, snapshot=None, lifecycle=LIFECYCLE, expected=("memorydb",)
) -> dict[str, tuple[bool, str]]:
    result = verify_locked_set(
        SET,
        expected=expected,
        recovery_point={"Status": "COMPLETED", "CreationDate": T0 + timedelta(seconds=20)},
        memorydb_snapshot=snapshot or _snapshot(),
        memorydb_immutable=files,
        immutable_lifecycle=lifecycle,
    )
    return {c["check"]: (c["ok"], c["detail"]) for c in result["checks"]}


def test_every_shards_file_locked_in_compliance_with_the_snapshots_time_passes():
    checks = _checks([_file(1), _file(2)])
    locked = {k: v for k, v in checks.items() if k.startswith("memorydb immutable")}
    assert len(locked) == 6
    assert all(ok for ok, _ in locked.values()), locked


def test_a_missing_shard_file_fails():
    ok, detail = _checks([_file(1)])["memorydb immutable copy complete"]
    assert not ok
    assert detail == "1 locked .rdb file(s) for 2 shard(s)"
    assert not _checks([])["memorydb immutable copy complete"][0]


def test_a_file_in_governance_mode_or_without_a_lock_fails():
    key = _file(1)["Key"]
    ok, detail = _checks([_file(1, mode="GOVERNANCE"), _file(2)])[
        f"memorydb immutable copy {key} locked"
    ]
    assert not ok
    assert "GOVERNANCE mode, not COMPLIANCE" in detail
    unlocked = {**_file(1), "Retention": {}}
    ok, detail = _checks([unlocked, _file(2)])[f"memorydb immutable copy {key} locked"]
    assert (ok, detail.endswith("has no retention: it can be deleted")) == (False, True)


def test_a_file_locked_shorter_than_the_sets_time_plus_min_retention_fails():
    key = _file(1)["Key"]
    ok, detail = _checks([_file(1, until_days=34), _file(2)])[
        f"memorydb immutable copy {key} locked"
    ]
    assert not ok
    assert "(the backup set's time + min_retention_days 35)" in detail
    # exactly the set's time + 35 days is enough
    assert _checks([_file(1, until_days=35), _file(2)])[f"memorydb immutable copy {key} locked"][0]


def test_a_file_with_another_point_in_time_or_shard_count_fails():
    key = _file(1)["Key"]
    name = f"memorydb immutable copy {key} point in time"
    assert not _checks([_file(1, time=T0), _file(2)])[name][0]
    assert not _checks([_file(1, shards="3"), _file(2)])[name][0]


def test_without_locked_files_to_judge_no_check_is_made_unless_the_run_was_to_make_them():
    assert not [k for k in _checks(None, expected=()) if k.startswith("memorydb immutable")]
    checks = _checks(None)  # the lock task failed: no files, and that is said
    assert [k for k in checks if k.startswith("memorydb immutable")] == [
        "memorydb immutable copy made"
    ]
    assert checks["memorydb immutable copy made"][0] is False


# --- the manifest ----------------------------------------------------------------------------


def test_the_locked_files_are_the_protected_accounts_cost_at_the_s3_price():
    record = {"id": "s3://locked/x/", "files": [], "size_bytes": 10 * GB, "state": "locked"}
    m = build_manifest(
        SET,
        {"memorydb_snapshot_immutable": record},
        prices=PricesConfig(),
        cold_window=None,
        verification={"result": "passed", "checks": []},
    )
    cost = round(10 * PricesConfig().s3_standard_gb_month, 4)
    assert m["artifacts"]["memorydb_snapshot_immutable"]["monthly_cost_usd"] == cost
    assert (m["monthly_cost_usd"], m["protected_account_monthly_cost_usd"]) == (0.0, cost)


def test_the_manifest_record_takes_sizes_and_locks_as_verify_read_them():
    files = [_file(1), _file(2)]
    record = {
        "id": "s3://locked/x/",
        "size_bytes": 1,
        "files": [
            {"key": f["Key"], "version_id": f["VersionId"], "size_bytes": 1, "locked_until": "?"}
            for f in files
        ],
    }
    entry = locked_rdb_record(record, files)
    assert entry["size_bytes"] == 2 * GB
    assert entry["locked_until"] == (T0 + timedelta(days=36)).isoformat()
    assert locked_rdb_record(None, files) is None
