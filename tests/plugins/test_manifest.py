"""The manifest: sizes priced at configured rates, the cold window measured, a readable table."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ue_backup.backup_set import BackupSet
from ue_backup.config import PricesConfig
from ue_backup.manifest import GB, build_manifest, manifest_json, monthly_cost, summary_table

SET = BackupSet.for_run("ue-prod", datetime(2026, 11, 24, 2, tzinfo=UTC), "run-1")
ARTIFACTS = {
    "rds_snapshot": {
        "id": "ueb-x",
        "time": "2026-11-24T02:00:01Z",
        "state": "available",
        "size_bytes": 20 * GB,
    },
    "efs_recovery_point": {
        "id": "arn:rp",
        "time": datetime(2026, 11, 24, 2, 0, 2, tzinfo=UTC),
        "state": "COMPLETED",
        "size_bytes": 10 * GB,
    },
    "memorydb_snapshot": {
        "id": "ueb-x",
        "time": "2026-11-24T02:00:03+00:00",
        "state": "available",
        "size_bytes": 2 * GB,
    },
    "velero_backup": {"id": "ueb-x", "state": "Completed"},
    "datasync_execution": None,
}


def make(**kwargs):
    defaults = dict(
        prices=PricesConfig(),
        cold_window={
            "start": "2026-11-24T02:00:00Z",
            "end": "2026-11-24T02:00:40Z",
            "mode": "managed",
        },
        verification={"result": "passed", "checks": []},
    )
    return build_manifest(SET, ARTIFACTS, **{**defaults, **kwargs})


def test_costs_use_the_configured_prices():
    m = make()
    assert m["artifacts"]["rds_snapshot"]["monthly_cost_usd"] == 1.0  # 20 GB x 0.05
    assert m["artifacts"]["efs_recovery_point"]["monthly_cost_usd"] == 0.95
    assert m["artifacts"]["memorydb_snapshot"]["monthly_cost_usd"] == 0.17
    assert m["artifacts"]["velero_backup"]["monthly_cost_usd"] is None
    assert m["monthly_cost_usd"] == 2.12
    cheap = make(prices=PricesConfig(rds_snapshot_gb_month=0.01))
    assert cheap["artifacts"]["rds_snapshot"]["monthly_cost_usd"] == 0.2


def test_cross_region_copies_are_priced_and_name_their_region():
    copies = {
        "rds_snapshot_copy": {**ARTIFACTS["rds_snapshot"], "region": "eu-central-1"},
        "efs_recovery_point_copy": {**ARTIFACTS["efs_recovery_point"], "region": "eu-central-1"},
        "memorydb_snapshot_copy": {**ARTIFACTS["memorydb_snapshot"], "region": "eu-central-1"},
    }
    m = build_manifest(
        SET,
        {**ARTIFACTS, **copies},
        prices=PricesConfig(s3_standard_gb_month=0.02),
        cold_window=None,
        verification={"result": "passed", "checks": []},
        memorydb_first_snapshot=True,  # free at home; the copy in S3 is not
    )
    a = m["artifacts"]
    assert a["rds_snapshot_copy"]["monthly_cost_usd"] == 1.0  # 20 GB x 0.05
    assert a["efs_recovery_point_copy"]["monthly_cost_usd"] == 0.95  # 10 GB x 0.095
    assert a["memorydb_snapshot_copy"]["monthly_cost_usd"] == 0.04  # 2 GB x 0.02 (S3)
    assert a["memorydb_snapshot"]["monthly_cost_usd"] == 0.0
    assert {a[k]["region"] for k in copies} == {"eu-central-1"}
    assert m["monthly_cost_usd"] == round(1.0 + 0.95 + 0.0 + 1.0 + 0.95 + 0.04, 4)
    assert "rds_snapshot_copy" in summary_table(m)


def test_first_memorydb_snapshot_is_free():
    m = make(memorydb_first_snapshot=True)
    assert m["artifacts"]["memorydb_snapshot"]["monthly_cost_usd"] == 0.0
    assert monthly_cost("memorydb_snapshot", None, PricesConfig()) is None


def test_times_and_window_are_utc_iso():
    m = make()
    assert m["artifacts"]["efs_recovery_point"]["time"] == "2026-11-24T02:00:02+00:00"
    assert m["cold_window"]["seconds"] == 40.0
    assert m["backup_set"] == SET.id
    assert json.loads(manifest_json(m))["installation"] == "ue-prod"


def test_summary_table_names_every_artifact_and_the_window():
    table = summary_table(make())
    assert "efs_recovery_point" in table
    assert "10.0 GiB" in table
    assert "(not configured)" in table
    assert "40.0 s" in table
    assert "2.12 USD/month" in table
    assert "hot backup" in summary_table(make(cold_window=None))


def test_the_window_records_what_preflight_estimated_beside_what_it_lasted():
    window = {
        "start": "2026-11-24T02:00:00Z",
        "end": "2026-11-24T02:00:40Z",
        "mode": "external",
        "estimate": {"seconds": 2400.0, "basis": "p90 of the last 5 completed EFS backup jobs"},
    }
    m = make(cold_window=window)
    assert m["cold_window"]["seconds"] == 40.0
    assert m["cold_window"]["estimate_seconds"] == 2400.0
    assert m["cold_window"]["estimate_basis"] == "p90 of the last 5 completed EFS backup jobs"
    assert "(40.0 s, external; estimated 2400.0 s)" in summary_table(m)
    unestimated = make()["cold_window"]
    assert unestimated["estimate_seconds"] is None
    assert unestimated["estimate_basis"] is None


def test_the_locked_copy_is_the_protected_accounts_cost_not_the_installations():
    locked = {"id": "arn:locked", "state": "COMPLETED", "size_bytes": 10 * GB}
    m = build_manifest(
        SET,
        {**ARTIFACTS, "efs_recovery_point_immutable": locked},
        prices=PricesConfig(),
        cold_window=None,
        verification={"result": "passed", "checks": []},
    )
    assert m["artifacts"]["efs_recovery_point_immutable"]["monthly_cost_usd"] == 0.95
    assert m["monthly_cost_usd"] == 2.12  # as without it
    assert m["protected_account_monthly_cost_usd"] == 0.95
    assert "in the protected account (locked copies): 0.95 USD/month" in summary_table(m)
    assert "protected account" not in summary_table(make())


def test_the_databases_recovery_point_is_the_installations_and_its_locked_copy_is_not():
    """The database's AWS Backup point (the locked copy's source) is priced as the RDS
    snapshot it is, in the installation's total; its locked copy goes to the protected
    account's total with the disk's."""
    point = {"id": "arn:rds-point", "state": "COMPLETED", "size_bytes": 10 * GB}
    m = build_manifest(
        SET,
        {
            **ARTIFACTS,
            "rds_recovery_point": point,
            "rds_recovery_point_immutable": {**point, "id": "arn:locked-db"},
            "efs_recovery_point_immutable": {**point, "id": "arn:locked-efs"},
        },
        prices=PricesConfig(),
        cold_window=None,
        verification={"result": "passed", "checks": []},
    )
    database = m["artifacts"]["rds_recovery_point"]["monthly_cost_usd"]
    assert database == round(10 * PricesConfig().rds_snapshot_gb_month, 4)
    assert m["monthly_cost_usd"] == round(2.12 + database, 4)
    assert m["protected_account_monthly_cost_usd"] == round(0.95 + database, 4)
