"""The installation description: the example loads, bad input is refused field by field."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from ue_backup.config import (
    CONFIG_FILE_ENV,
    DEFAULT_CHECK_IMAGE,
    ColdWindowMode,
    ComparisonOp,
    ConfigError,
    DatabaseEngine,
    EfsBackupMethod,
    SqlExpectation,
    load_config,
    load_config_file,
    load_config_for_parsing,
    load_config_json,
    parse_config,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "include" / "config" / "installation.example.yaml"

VALID = {
    "installation": "ue-test",
    "region": "eu-west-1",
    "database": {"engine": "rds", "rds_instance_identifier": "ue-test-db"},
    "efs": {
        "file_system_id": "fs-0123456789abcdef0",
        "backup_method": "aws_backup",
        "aws_backup": {
            "vault_name": "ue-test-vault",
            "iam_role_arn": "arn:aws:iam::123456789012:role/ue-backup",
        },
    },
    "memorydb": {"cluster_name": "ue-test-agg"},
    "kubernetes": {"namespace": "uepe", "ecd_selection": {"names": ["ecd-a", "ecd-b"]}},
    "cold_window": {"disk_storage_used": ["aggregation"]},
    "velero": {"included_namespaces": ["uepe"]},
    "manifests": {"bucket": "ue-test-manifests"},
}


CROSS_REGION = {
    "region": "eu-central-1",
    "backup_vault_arn": "arn:aws:backup:eu-central-1:123456789012:backup-vault:dr",
    "memorydb_export_bucket": "ue-test-export",
    "memorydb_bucket": "ue-test-dr",
}


def with_change(path: str, value) -> dict:
    """VALID with the dotted ``path`` set to ``value`` (``...`` deletes it)."""
    data = copy.deepcopy(VALID)
    *parents, leaf = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    if value is ...:
        del node[leaf]
    else:
        node[leaf] = value
    return data


def problems_of(data) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    return dict(caught.value.problems)


def test_example_configuration_loads():
    cfg = load_config_file(EXAMPLE)
    assert cfg.installation == "ue-prod"
    assert cfg.database.engine is DatabaseEngine.RDS
    assert cfg.efs.backup_method is EfsBackupMethod.AWS_BACKUP
    assert cfg.cold_window.required
    assert cfg.velero.ttl == "720h0m0s"


def test_valid_configuration_gets_safe_defaults():
    cfg = parse_config(VALID)
    assert cfg.prices.rds_snapshot_gb_month == 0.05
    assert cfg.prices.efs_warm_gb_month == 0.095
    assert cfg.prices.memorydb_snapshot_gb_month == 0.085
    assert cfg.cold_window.mode is ColdWindowMode.MANAGED
    assert cfg.efs.aws_backup.lifecycle.as_aws() == {"DeleteAfterDays": 35}
    assert cfg.manifests.prefix == "ue-backup/"
    assert cfg.aws_conn_id == "aws_default"
    assert cfg.schedule is None


DERBY_WITH_RDS = {"engine": "derby", "rds_instance_identifier": "ue-test-db"}
# A Derby installation: the platform workload that writes Derby, stopped by the cold window.
DERBY = {"engine": "derby", "derby": {"platform": {"kind": "StatefulSet", "name": "platform"}}}
DATASYNC_OK = {
    "target_file_system_id": "fs-0fedcba9876543210",
    "task_arn": "arn:aws:datasync:eu-west-1:123456789012:task/task-0123456789abcdef0",
}

INVALID = [
    # (what, dotted path to change, new value or ... to delete, field named, words in message)
    ("missing name", "installation", ..., "installation", "required"),
    ("bad name", "installation", "UE Prod!", "installation", "not a valid installation name"),
    ("name too long", "installation", "a" * 41, "installation", "not a valid installation name"),
    ("name with --", "installation", "ue--prod", "installation", "RDS and MemoryDB refuse"),
    ("bad region", "region", "europe-1", "region", "not a valid AWS region"),
    ("missing database", "database", ..., "database", "required"),
    ("unknown engine", "database.engine", "oracle", "database.engine", "rds"),
    (
        "rds without id",
        "database.rds_instance_identifier",
        ...,
        "database.rds_instance_identifier",
        "required when engine is 'rds'",
    ),
    (
        "malformed rds id",
        "database.rds_instance_identifier",
        "1-bad--id-",
        "database.rds_instance_identifier",
        "not a valid RDS DB instance identifier",
    ),
    (
        "derby with rds id",
        "database",
        DERBY_WITH_RDS,
        "database.rds_instance_identifier",
        "must not be set when engine is 'derby'",
    ),
    (
        "malformed fs id",
        "efs.file_system_id",
        "fs_123",
        "efs.file_system_id",
        "not a valid EFS file system id",
    ),
    ("unknown method", "efs.backup_method", "tape", "efs.backup_method", "aws_backup"),
    (
        "aws backup section missing",
        "efs.aws_backup",
        ...,
        "efs.aws_backup",
        "required when backup_method is 'aws_backup'",
    ),
    (
        "malformed role arn",
        "efs.aws_backup.iam_role_arn",
        "arn:aws:iam::12:role/x",
        "efs.aws_backup.iam_role_arn",
        "not a valid IAM role ARN",
    ),
    (
        "bad vault name",
        "efs.aws_backup.vault_name",
        "v",
        "efs.aws_backup.vault_name",
        "not a valid backup vault name",
    ),
    (
        "negative lifecycle",
        "efs.aws_backup.lifecycle",
        {"delete_after_days": -1},
        "efs.aws_backup.lifecycle.delete_after_days",
        "greater than 0",
    ),
    (
        "cold storage too late",
        "efs.aws_backup.lifecycle",
        {"delete_after_days": 30, "move_to_cold_storage_after_days": 10},
        "efs.aws_backup.lifecycle.delete_after_days",
        "at least 90 days",
    ),
    (
        "datasync section with aws_backup method",
        "efs.datasync",
        DATASYNC_OK,
        "efs.datasync",
        "must not be set when backup_method is 'aws_backup'",
    ),
    ("misspelt option", "efs.aws_backup.vault", "x", "efs.aws_backup.vault", "not a known option"),
    (
        "bad memorydb name",
        "memorydb.cluster_name",
        "Agg_Cluster",
        "memorydb.cluster_name",
        "not a valid MemoryDB cluster name",
    ),
    (
        "removed snapshot retention (never applied)",
        "memorydb.snapshot_retention_days",
        3,
        "memorydb.snapshot_retention_days",
        "no longer accepted (it was never applied)",
    ),
    (
        "copy region is home",
        "memorydb.copy_region",
        "eu-west-1",
        "memorydb.copy_region",
        "home region",
    ),
    (
        "bad namespace",
        "kubernetes.namespace",
        "UEPE",
        "kubernetes.namespace",
        "not a valid Kubernetes namespace",
    ),
    (
        "bad selector",
        "kubernetes.ecd_selection",
        {"label_selector": "app in (a,"},
        "kubernetes.ecd_selection.label_selector",
        "not a valid Kubernetes label selector",
    ),
    (
        "selector and names",
        "kubernetes.ecd_selection",
        {"label_selector": "app=x", "names": ["a"]},
        "kubernetes.ecd_selection.names",
        "either label_selector or names",
    ),
    (
        "cold window without ECDs",
        "kubernetes.ecd_selection",
        {},
        "kubernetes.ecd_selection",
        "no ECDs are selected",
    ),
    (
        "unknown disk storage",
        "cold_window.disk_storage_used",
        ["archive"],
        "cold_window.disk_storage_used.0",
        "aggregation",
    ),
    (
        "negative drain timeout",
        "cold_window.drain_timeout_minutes",
        -5,
        "cold_window.drain_timeout_minutes",
        "greater than 0",
    ),
    (
        "drain longer than window",
        "cold_window",
        {
            "disk_storage_used": ["aggregation"],
            "drain_timeout_minutes": 90,
            "max_window_minutes": 60,
        },
        "cold_window.drain_timeout_minutes",
        "must be shorter",
    ),
    (
        "external mode without until",
        "cold_window",
        {
            "disk_storage_used": ["aggregation"],
            "mode": "external",
            "external_suspend_from": "0 1 * * *",
        },
        "cold_window.external_suspend_until",
        "needs external_suspend_from and external_suspend_until",
    ),
    ("unknown cold window mode", "cold_window.mode", "sometimes", "cold_window.mode", "managed"),
    (
        "velero with no namespaces",
        "velero.included_namespaces",
        [],
        "velero.included_namespaces",
        "at least one namespace",
    ),
    ("velero zero ttl", "velero.ttl_hours", 0, "velero.ttl_hours", "greater than 0"),
    (
        "bad bucket",
        "manifests.bucket",
        "My_Bucket",
        "manifests.bucket",
        "not a valid S3 bucket name",
    ),
    ("absolute prefix", "manifests.prefix", "/backups", "manifests.prefix", "must not start"),
    ("bad schedule", "schedule", "every night", "schedule", "not a valid cron expression"),
    (
        "bad retention schedule",
        "retention",
        {"schedule": "daily"},
        "retention.schedule",
        "not a valid cron expression",
    ),
    (
        "negative price",
        "prices",
        {"efs_warm_gb_month": -0.1},
        "prices.efs_warm_gb_month",
        "greater than or equal to 0",
    ),
    (
        "cross region at home",
        "cross_region",
        {
            "region": "eu-west-1",
            "backup_vault_arn": "arn:aws:backup:eu-west-1:123456789012:backup-vault:dr",
        },
        "cross_region.region",
        "home region",
    ),
    (
        "cross region without vault",
        "cross_region",
        {"region": "eu-central-1"},
        "cross_region.backup_vault_arn",
        "required to copy",
    ),
    (
        "malformed vault arn",
        "cross_region",
        {"region": "eu-central-1", "backup_vault_arn": "arn:aws:backup:vault"},
        "cross_region.backup_vault_arn",
        "not a valid backup vault ARN",
    ),
    (
        "memorydb copy without export bucket",
        "cross_region",
        {**CROSS_REGION, "memorydb_export_bucket": None},
        "cross_region.memorydb_export_bucket",
        "exports a snapshot only to a bucket in its own region",
    ),
    (
        "memorydb copy without bucket there",
        "cross_region",
        {**CROSS_REGION, "memorydb_bucket": None},
        "cross_region.memorydb_bucket",
        "an S3 bucket in eu-central-1",
    ),
    (
        "memorydb copy into the export bucket",
        "cross_region",
        {**CROSS_REGION, "memorydb_bucket": "ue-test-export"},
        "cross_region.memorydb_bucket",
        "is the export bucket itself",
    ),
    (
        "bad memorydb bucket",
        "cross_region",
        {**CROSS_REGION, "memorydb_bucket": "Bad_Bucket"},
        "cross_region.memorydb_bucket",
        "not a valid S3 bucket name",
    ),
    (
        "memorydb copy region elsewhere",
        "memorydb",
        {"cluster_name": "ue-test-agg", "copy_region": "us-east-1"},
        "memorydb.copy_region",
        "needs a cross_region section",
    ),
]


@pytest.mark.parametrize(
    ("path", "value", "field", "words"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_configuration_names_the_field(path, value, field, words):
    problems = problems_of(with_change(path, value))
    assert field in problems, f"{field} not named in {problems}"
    assert words in problems[field]


def test_datasync_method_needs_its_section_and_forbids_aws_backup():
    data = with_change("efs.backup_method", "datasync")
    problems = problems_of(data)
    assert "required when backup_method is 'datasync'" in problems["efs.datasync"]
    assert "must not be set" in problems["efs.aws_backup"]


def test_datasync_target_must_differ_from_source():
    data = with_change(
        "efs",
        {
            "file_system_id": "fs-0123456789abcdef0",
            "backup_method": "datasync",
            "datasync": {**DATASYNC_OK, "target_file_system_id": "fs-0123456789abcdef0"},
        },
    )
    assert "protected file system itself" in problems_of(data)["efs.datasync.target_file_system_id"]


def test_every_problem_is_listed_at_once():
    data = with_change("region", "nowhere")
    data["installation"] = "Bad Name"
    data["database"] = DERBY_WITH_RDS
    data["efs"]["file_system_id"] = "nope"
    data["manifests"] = {}
    problems = problems_of(data)
    assert set(problems) >= {
        "region",
        "installation",
        "database.rds_instance_identifier",
        "efs.file_system_id",
        "manifests.bucket",
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert f"({len(problems)} problem(s))" in str(caught.value)


def test_a_failed_section_is_not_also_reported_missing():
    data = with_change("efs.aws_backup.iam_role_arn", "not-an-arn")
    assert set(problems_of(data)) == {"efs.aws_backup.iam_role_arn"}


def test_no_cold_window_needs_no_ecd_selection():
    data = with_change("kubernetes.ecd_selection", {})
    data["cold_window"] = {"disk_storage_used": []}
    cfg = parse_config(data)
    assert not cfg.cold_window.required


def test_derby_configuration_is_valid_without_rds():
    cfg = parse_config(with_change("database", DERBY))
    assert not cfg.uses_rds
    assert cfg.database.derby.platform.kind == "StatefulSet"


def test_derby_names_the_platform_that_writes_it():
    problems = problems_of(with_change("database", {"engine": "derby"}))
    assert "name the platform workload that writes Derby" in problems["database.derby"]
    problems = problems_of(with_change("database.derby", DERBY["derby"]))
    assert "must not be set when engine is 'rds'" in problems["database.derby"]
    bad = {"engine": "derby", "derby": {"platform": {"kind": "Pod", "name": "platform"}}}
    assert "database.derby.platform.kind" in problems_of(with_change("database", bad))


def test_derby_without_a_cold_window_is_refused_naming_the_field():
    data = with_change("database", DERBY)
    data["cold_window"] = {"disk_storage_used": []}
    problems = problems_of(data)
    assert "a Derby installation needs a cold window" in problems["cold_window.disk_storage_used"]
    data["cold_window"] = {"disk_storage_used": ["derby"]}
    assert parse_config(data).cold_window.required


def test_derby_in_an_external_window_is_refused_naming_the_mode():
    """The platform's own suspend window stops the workflows, not the platform itself."""
    data = with_change("database", DERBY)
    data["cold_window"] = {
        "disk_storage_used": ["aggregation"],
        "mode": "external",
        "external_suspend_from": "0 2 * * *",
        "external_suspend_until": "0 3 * * *",
    }
    problems = problems_of(data)
    assert "only a managed window stops the platform" in problems["cold_window.mode"]


def test_more_history_than_aws_backup_lists_is_refused_naming_the_field():
    """ListBackupJobs lists the last 30 days only: 31 would be silently cut."""
    assert parse_config(with_change("cold_window.estimate_history_days", 30))
    problems = problems_of(with_change("cold_window.estimate_history_days", 31))
    assert (
        "lists the backup jobs of the last 30 days only"
        in problems["cold_window.estimate_history_days"]
    )
    datasync = with_change(
        "efs",
        {
            "file_system_id": "fs-0123456789abcdef0",
            "backup_method": "datasync",
            "datasync": DATASYNC_OK,
        },
    )
    datasync["cold_window"]["estimate_history_days"] = 60  # DataSync lists all executions
    assert parse_config(datasync).cold_window.estimate_history_days == 60


def test_not_a_mapping_is_refused():
    assert "must be a mapping" in problems_of(["a", "list"])["(top level)"]


def test_load_from_variable_json(monkeypatch):
    monkeypatch.delenv(CONFIG_FILE_ENV, raising=False)
    monkeypatch.setenv("AIRFLOW_VAR_UE_BACKUP_CONFIG", json.dumps(VALID))
    assert load_config().installation == "ue-test"


def test_load_from_file_wins_over_variable(monkeypatch):
    monkeypatch.setenv(CONFIG_FILE_ENV, str(EXAMPLE))
    monkeypatch.setenv("AIRFLOW_VAR_UE_BACKUP_CONFIG", json.dumps(VALID))
    assert load_config().installation == "ue-prod"


def test_missing_configuration_says_how_to_supply_it(monkeypatch):
    monkeypatch.delenv(CONFIG_FILE_ENV, raising=False)
    monkeypatch.delenv("AIRFLOW_VAR_UE_BACKUP_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="ue_backup_config"):
        load_config()


def test_broken_json_and_yaml_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config_json("{nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("installation: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config_file(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config_file(tmp_path / "absent.yaml")


def test_parse_time_loading_reads_the_file_only(monkeypatch, tmp_path):
    monkeypatch.delenv(CONFIG_FILE_ENV, raising=False)
    assert load_config_for_parsing() is None
    bad = tmp_path / "bad.yaml"
    bad.write_text("installation: X\n")
    monkeypatch.setenv(CONFIG_FILE_ENV, str(bad))
    assert load_config_for_parsing() is None
    monkeypatch.setenv(CONFIG_FILE_ENV, str(EXAMPLE))
    assert load_config_for_parsing().installation == "ue-prod"


def test_a_complete_cross_region_section_is_valid():
    cfg = parse_config({**VALID, "cross_region": CROSS_REGION})
    assert cfg.cross_region.backup_vault_name == "dr"
    assert cfg.cross_region.memorydb_bucket == "ue-test-dr"


def test_memorydb_copy_region_must_be_the_sets_copy_region():
    data = {
        **VALID,
        "cross_region": CROSS_REGION,
        "memorydb": {**VALID["memorydb"], "copy_region": "us-east-1"},
    }
    assert "differs from cross_region.region" in problems_of(data)["memorydb.copy_region"]
    data["memorydb"]["copy_region"] = "eu-central-1"
    assert parse_config(data).memorydb.copy_region == "eu-central-1"


def test_aws_retries_default_to_standard_mode_and_ten_attempts():
    cfg = parse_config(VALID)
    assert (cfg.aws_retries.mode.value, cfg.aws_retries.max_attempts) == ("standard", 10)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"max_attempts": 0}, "greater than or equal to 1"),
        ({"max_attempts": 500}, "less than or equal to 50"),
        ({"mode": "legacy"}, "'standard' or 'adaptive'"),
    ],
)
def test_bad_aws_retries_are_refused_by_field(value, words):
    problems = problems_of(with_change("aws_retries", value))
    field = f"aws_retries.{next(iter(value))}"
    assert field in problems, problems
    assert words in problems[field]


# --- verification (application checks on a restored system) ---------------------

CHECK = {"name": "sessions", "query": "SELECT 1 FROM sessions", "expect": "rows"}


def test_verification_is_optional_and_runs_nothing_by_default():
    verification = parse_config(VALID).verification
    assert not verification.has_checks
    assert verification.image == DEFAULT_CHECK_IMAGE
    assert verification.reference_checks.sample == 10


def test_verification_takes_every_expectation_and_both_reference_queries():
    checks = [
        CHECK,
        {"name": "no-orphans", "query": "SELECT id\nFROM t WHERE n = 'it''s'", "expect": "no_rows"},
        {"name": "count", "query": "SELECT count(*) FROM t", "expect": {"op": ">=", "value": 1}},
    ]
    data = with_change(
        "verification",
        {
            "image": "registry.example.com/ue-backup-checks:1.0",
            "sql_checks": checks,
            "reference_checks": {
                "efs_paths_query": "SELECT path FROM files",
                "redis_keys_query": "SELECT key FROM keys",
                "sample": 3,
            },
        },
    )
    verification = parse_config(data).verification
    assert verification.has_checks
    assert [c.expect for c in verification.sql_checks[:2]] == [
        SqlExpectation.ROWS,
        SqlExpectation.NO_ROWS,
    ]
    comparison = verification.sql_checks[2].expect
    assert (comparison.op, comparison.value) == (ComparisonOp.GE, 1)
    assert verification.sql_checks[1].query == "SELECT id\nFROM t WHERE n = 'it''s'"


BAD_VERIFICATION = [
    # (what, verification section, field named, words in message)
    (
        "unknown op",
        {"sql_checks": [{**CHECK, "expect": {"op": "=~", "value": 1}}]},
        "verification.sql_checks.0.expect.op",
        "'=~' is not a known comparison; use one of '==', '!=', '<', '<=', '>', '>='",
    ),
    (
        "unknown expectation",
        {"sql_checks": [{**CHECK, "expect": "some_rows"}]},
        "verification.sql_checks.0.expect",
        "'some_rows' is not an expectation",
    ),
    (
        "comparison without value",
        {"sql_checks": [{**CHECK, "expect": {"op": ">"}}]},
        "verification.sql_checks.0.expect.value",
        "required",
    ),
    (
        "comparison with a word",
        {"sql_checks": [{**CHECK, "expect": {"op": ">", "value": "1"}}]},
        "verification.sql_checks.0.expect.value",
        "valid number",
    ),
    (
        "comparison with a stray key",
        {"sql_checks": [{**CHECK, "expect": {"op": ">", "value": 1, "of": "x"}}]},
        "verification.sql_checks.0.expect.of",
        "not a known option",
    ),
    (
        "empty query",
        {"sql_checks": [{**CHECK, "query": "   "}]},
        "verification.sql_checks.0.query",
        "must not be empty",
    ),
    (
        "bad name",
        {"sql_checks": [{**CHECK, "name": "Sessions Check"}]},
        "verification.sql_checks.0.name",
        "not a valid check name",
    ),
    (
        "same name twice",
        {"sql_checks": [CHECK, {**CHECK, "expect": "no_rows"}]},
        "verification.sql_checks",
        "['sessions'] more than once",
    ),
    (
        "reference check's name",
        {"sql_checks": [{**CHECK, "name": "efs_references"}]},
        "verification.sql_checks",
        "reference checks' own names",
    ),
    (
        "empty reference query",
        {"reference_checks": {"efs_paths_query": ""}},
        "verification.reference_checks.efs_paths_query",
        "must not be empty",
    ),
    (
        "no sample",
        {"reference_checks": {"sample": 0}},
        "verification.reference_checks.sample",
        "greater than or equal to 1",
    ),
    (
        "image with a space",
        {"image": "ue checks"},
        "verification.image",
        "not an image reference",
    ),
    (
        "unknown option",
        {"sql_check": [CHECK]},
        "verification.sql_check",
        "not a known option",
    ),
]


@pytest.mark.parametrize(
    ("section", "field", "words"),
    [case[1:] for case in BAD_VERIFICATION],
    ids=[case[0] for case in BAD_VERIFICATION],
)
def test_a_bad_verification_value_is_refused_naming_its_field(section, field, words):
    problems = problems_of(with_change("verification", section))
    assert field in problems, problems
    assert words in problems[field]


def test_checks_need_an_rds_database_and_key_checks_need_memorydb():
    refs = {"efs_paths_query": "SELECT p FROM f", "redis_keys_query": "SELECT k FROM r"}
    data = with_change("verification", {"reference_checks": refs})
    data["database"] = DERBY
    del data["memorydb"]
    problems = problems_of(data)
    assert "need database.engine 'rds'" in problems["verification"]
    assert "needs a memorydb section" in problems["verification.reference_checks.redis_keys_query"]


def test_the_examples_verification_section_loads():
    verification = load_config_file(EXAMPLE).verification
    assert [c.name for c in verification.sql_checks] == [
        "sessions-present",
        "no-stuck-batches",
        "enough-sessions",
    ]
    assert verification.reference_checks.efs_paths_query
    assert verification.reference_checks.redis_keys_query
