"""The run settings models: built from real configurations, the keys the DAGs read, nothing more.

Each model is built from the example configuration (``include/config``) and
the test configurations of ``test_config``; its JSON dump must have exactly
the keys the DAG files and task steps read (listed here, as they were when
the settings were untyped dicts), and a field the model does not have is
refused: by the model, and by the templates the DAG files are built from.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pydantic
import pytest

from tests.plugins.test_config import CROSS_REGION, DERBY, EXAMPLE, VALID, with_change
from ue_backup.backup_set import COMPONENTS, BackupSet
from ue_backup.config import load_config_file, parse_config
from ue_backup.dag_support import (
    BACKUP,
    DRILL,
    PLANNED,
    RESTORE,
    RETENTION,
    UnknownSetting,
    expression,
    only_if,
    setting_field,
)
from ue_backup.run_settings import (
    BackupRunSettings,
    DrillRunSettings,
    RestorePlanResult,
    RestoreRunSettings,
    RetentionRunSettings,
)
from ue_backup.switch_over import replaced_name
from ue_backup.tasks.drill_steps import drill_names
from ue_backup.tasks.restore_steps import restore_names

CONFIGS = {
    "example": lambda: load_config_file(EXAMPLE),
    "test": lambda: parse_config(copy.deepcopy(VALID)),
    "cross-region": lambda: parse_config({**copy.deepcopy(VALID), "cross_region": CROSS_REGION}),
    "derby, no memorydb, no velero": lambda: parse_config(
        {**with_change("database", DERBY), "memorydb": None, "velero": None}
    ),
}
RUN_AFTER = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
AWS = {"installation", "region", "aws_conn_id", "aws_botocore_config", "kubernetes_conn_id"}

# The keys each first task returned when the settings were untyped dicts (and the DAGs read).
BACKUP_KEYS = AWS | {
    "backup_set", "reason", "rds_instance", "efs_file_system_id", "efs_method", "backup_vault",
    "backup_role_arn", "backup_lifecycle", "backup_complete_window_minutes", "datasync_task_arn",
    "datasync_target", "datasync_subdirectory", "datasync_subnet_arn",
    "datasync_security_group_arns",
    "memorydb_cluster", "velero_namespace", "velero_included_namespaces",
    "velero_storage_location", "velero_ttl", "velero_allow_partially_failed", "cold_window",
    "managed_window", "namespace", "ecd_label_selector", "ecd_names", "platform",
    "drain_timeout_minutes", "max_window_minutes", "manifest_bucket", "manifest_prefix",
    "prices", "copy_region",
    "copy_rds", "copy_rds_kms_key_id", "copy_efs", "copy_backup_vault_arn", "copy_memorydb",
    "memorydb_export_bucket", "memorydb_copy_bucket", "warnings", "rpo_minutes",
    "metrics_region", "copy_efs_immutable", "immutable_vault_arn", "immutable_lifecycle",
    "immutable_account", "immutable_conn_id", "immutable_region", "immutable_vault",
    "immutable_bucket", "copy_rds_immutable", "copy_memorydb_immutable",
    "immutable_memorydb_export_bucket", "window_estimate",
}  # fmt: skip
RESTORE_KEYS = AWS | {
    "restore_id", "rds_target", "memorydb_target", "home_region", "from_copy", "request", "mode",
    "target", "restoring", "in_place", "approval", "components", "namespace", "ecd_label_selector",
    "ecd_names", "platform", "rds_instance", "efs_file_system_id", "backup_vault",
    "backup_role_arn", "memorydb_cluster", "rds_shape_source", "memorydb_shape_source",
    "efs_shape_source", "velero_namespace",
    "velero_included_namespaces", "max_window_minutes", "drain_timeout_minutes", "purge_image",
    "jobs", "verification", "manifest_bucket", "manifest_prefix", "from_immutable",
    "immutable_conn_id", "immutable_region", "immutable_vault", "immutable_backup_role_arn",
    "immutable_staging_bucket", "network_by_hand",
}  # fmt: skip
STEP_KEYS = {
    "restore_database", "restore_efs", "restore_memorydb", "restore_velero", "rds_snapshot_id",
    "rds_restore_time", "recovery_point_arn", "datasync_task_arn", "copy_efs",
    "memorydb_snapshot_name",
    "velero_backup_name",
    "velero_backup_set", "switch_over_database", "resume_owners", "memorydb_snapshot_arns",
    "memorydb_node_type", "memorydb_num_shards", "check_application", "check_database",
    "check_cluster", "verification", "check_login_instance", "check_manage_password",
}  # fmt: skip
PLAN_KEYS = STEP_KEYS | {"plan", "region", "from_immutable", "recorded_network"}
DRILL_KEYS = AWS | STEP_KEYS | {
    "drill_id", "rds_target", "memorydb_target", "efs_token", "velero_restore",
    "drill_namespace", "efs_claim", "efs_volume", "place_job", "check_job", "app_check_job",
    "dry_run", "started_at", "backup_set", "plan", "namespace", "namespace_mapping",
    "ecd_namespaces", "velero_namespace", "efs_file_system_id", "backup_role_arn", "rds_instance",
    "memorydb_cluster", "job_image", "jobs", "tags", "manifest_bucket", "manifest_prefix", "live",
    "resources", "source", "from_immutable", "backup_vault", "immutable_conn_id",
    "immutable_region", "immutable_vault", "immutable_backup_role_arn", "immutable_staging_bucket",
}  # fmt: skip
RETENTION_KEYS = AWS | {
    "dry_run", "apply", "keep_sets", "keep_last", "keep_days", "prices", "now",
    "delete_datasync", "efs_file_system_id", "datasync_target", "datasync_subdirectory",
    "datasync_task_arn", "namespace", "jobs",
}  # fmt: skip


def a_plan(cfg) -> dict:
    """A plan as ``planning.plan_restore`` shapes it, of every component ``cfg`` has."""
    return {
        "backup_set": f"{cfg.installation}-20260301t020000z",
        "database": {"kind": "snapshot", "snapshot_id": "s1"}
        if cfg.uses_rds
        else {"kind": "derby"},
        "disk": {"recovery_point_arn": "arn:aws:backup:eu-west-1:123456789012:recovery-point:1"},
        "memorydb": {"snapshot_name": "m1"} if cfg.memorydb else None,
        "velero": {"backup_name": "v1"} if cfg.velero else None,
    }


def built(cfg) -> dict[type, pydantic.BaseModel]:
    """One model of each kind, built as the first tasks build them."""
    backup_set = BackupSet.for_run(cfg.installation, RUN_AFTER, "manual__1").id
    names = restore_names(cfg.installation, RUN_AFTER)
    restore = RestoreRunSettings.build(cfg, names, {"type": "latest"}, {"mode": "restore"})
    return {
        BackupRunSettings: BackupRunSettings.build(cfg, backup_set, set(COMPONENTS), "", []),
        RestoreRunSettings: restore,
        RestorePlanResult: RestorePlanResult.build(restore, a_plan(cfg), {}),
        DrillRunSettings: DrillRunSettings.build(
            cfg, drill_names(cfg, RUN_AFTER), a_plan(cfg), {}, False, RUN_AFTER
        ),
        RetentionRunSettings: RetentionRunSettings.build(cfg, False, [], RUN_AFTER),
    }


EXPECTED_KEYS = {
    BackupRunSettings: BACKUP_KEYS,
    RestoreRunSettings: RESTORE_KEYS,
    RestorePlanResult: PLAN_KEYS,
    DrillRunSettings: DRILL_KEYS,
    RetentionRunSettings: RETENTION_KEYS,
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_each_model_dumps_exactly_the_keys_the_dags_read(name):
    for model, settings in built(CONFIGS[name]()).items():
        dumped = settings.model_dump(mode="json")
        assert set(dumped) == EXPECTED_KEYS[model], model.__name__
        assert set(dumped) == set(model.model_fields), model.__name__
        # The dump is what XCom carries: it builds the same model again.
        assert model.model_validate(dumped) == settings


def test_every_field_says_what_it_is():
    for model in EXPECTED_KEYS:
        bare = [name for name, field in model.model_fields.items() if not field.description]
        assert bare == [], f"{model.__name__}: fields without a description: {bare}"


def test_the_backup_settings_of_the_example_configuration():
    cfg = CONFIGS["example"]()
    settings = built(cfg)[BackupRunSettings]
    assert settings.rds_instance == "ue-prod-platform-db"
    assert settings.memorydb_cluster == "ue-prod-aggregation"
    assert settings.cold_window == "managed"
    assert settings.managed_window is True
    assert settings.aws_botocore_config == {
        "retries": {"mode": cfg.aws_retries.mode.value, "total_max_attempts": 10}
    }
    assert settings.copy_efs is bool(cfg.cross_region)
    left_out = BackupRunSettings.build(cfg, settings.backup_set, {"efs"})
    assert (left_out.rds_instance, left_out.memorydb_cluster, left_out.velero_namespace) == (
        None,
        None,
        None,
    )
    assert left_out.copy_rds is False
    assert left_out.copy_memorydb is False


def test_derby_restores_no_database_and_the_drill_names_no_rds():
    cfg = CONFIGS["derby, no memorydb, no velero"]()
    models = built(cfg)
    assert models[RestorePlanResult].restore_database is False
    assert models[DrillRunSettings].resources["rds_instance"] is None
    assert models[BackupRunSettings].rds_instance is None


DATASYNC_DISK = {
    "kind": "datasync",
    "recovery_point_arn": None,
    "task_arn": "arn:aws:datasync:eu-west-1:123456789012:task/task-0123456789abcdef1",
}


@pytest.mark.parametrize(
    ("disk", "params", "copied"),
    [
        (DATASYNC_DISK, {"mode": "restore"}, True),
        (DATASYNC_DISK, {"mode": "plan"}, False),
        (DATASYNC_DISK, {"mode": "restore", "components": ["database"]}, False),
        ({"kind": "aws_backup", "recovery_point_arn": "arn:rp"}, {"mode": "restore"}, False),
    ],
    ids=["datasync", "datasync-plan-only", "datasync-no-efs", "aws-backup"],
)
def test_a_datasync_set_is_restored_by_a_copy_of_its_folder(disk, params, copied):
    """copy_efs runs the DataSync steps (and not the restore job's wait) exactly when the plan
    restores EFS from a DataSync set; its task is the set's, no recovery point."""
    cfg = CONFIGS["test"]()
    names = restore_names(cfg.installation, RUN_AFTER)
    restore = RestoreRunSettings.build(cfg, names, {"type": "latest"}, params)
    planned = RestorePlanResult.build(restore, {**a_plan(cfg), "disk": disk}, {})
    assert planned.copy_efs is copied
    assert planned.datasync_task_arn == disk.get("task_arn")
    assert planned.recovery_point_arn == disk["recovery_point_arn"]


def test_a_field_the_model_does_not_have_is_refused():
    dumped = built(CONFIGS["test"]())[BackupRunSettings].model_dump(mode="json")
    with pytest.raises(pydantic.ValidationError, match="rds_instanc"):
        BackupRunSettings.model_validate({**dumped, "rds_instanc": "x"})
    with pytest.raises(pydantic.ValidationError, match="Field required"):
        BackupRunSettings.model_validate({k: v for k, v in dumped.items() if k != "region"})
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        BackupRunSettings.model_validate(dumped).region = "us-east-1"


@pytest.mark.parametrize(
    ("templates", "model", "task_id"),
    [
        (BACKUP, BackupRunSettings, "preflight"),
        (RESTORE, RestoreRunSettings, "validate"),
        (PLANNED, RestorePlanResult, "plan"),
        (DRILL, DrillRunSettings, "prepare"),
        (RETENTION, RetentionRunSettings, "validate"),
    ],
)
def test_the_templates_name_each_field_of_their_model(templates, model, task_id):
    for field in model.model_fields:
        template = getattr(templates, field)
        assert template == f'{{{{ ti.xcom_pull(task_ids="{task_id}")["{field}"] }}}}'
        assert type(template) is str  # the DAG processor serializes no subclass of str
        assert setting_field(template) == (task_id, field)


def test_a_misspelt_template_names_the_model_the_field_and_close_matches():
    with pytest.raises(UnknownSetting) as caught:
        BACKUP.rds_instanse  # noqa: B018
    message = str(caught.value)
    assert "BackupRunSettings" in message
    assert "'rds_instanse'" in message
    assert "close matches: rds_instance" in message


def test_only_if_takes_only_a_checked_template():
    """A bare key string could be misspelt without a parse error: only_if refuses it."""
    with pytest.raises(ValueError, match=r"settings template such as BACKUP\.rds_instance"):
        only_if("restore_efs")
    with pytest.raises(UnknownSetting, match="RestorePlanResult has no field 'restore_efss'"):
        only_if(PLANNED.restore_efss)


def test_expression_is_the_template_without_its_braces():
    assert expression(RESTORE.in_place) == 'ti.xcom_pull(task_ids="validate")["in_place"]'
    assert RESTORE.in_place == "{{ " + expression(RESTORE.in_place) + " }}"
    with pytest.raises(ValueError, match="not a settings template"):
        expression("{{ params.mode }}")


class _Ti:
    def __init__(self, settings):
        self.settings = settings

    def xcom_pull(self, task_ids):
        return self.settings[task_ids]


def test_only_if_skips_on_the_field_it_was_given():
    from ue_backup.compat import AirflowSkipException

    gate = only_if(BACKUP.efs_method, "datasync")
    gate({"ti": _Ti({"preflight": {"efs_method": "datasync"}})})
    with pytest.raises(AirflowSkipException, match="efs_method is 'aws_backup'"):
        gate({"ti": _Ti({"preflight": {"efs_method": "aws_backup"}})})
    with pytest.raises(AirflowSkipException, match="restore_efs is False"):
        only_if(PLANNED.restore_efs)({"ti": _Ti({"plan": {"restore_efs": False}})})


CHECKS = {
    "sql_checks": [{"name": "sessions", "query": "select 1", "expect": "rows"}],
    "reference_checks": {"efs_paths_query": "select 'a'", "redis_keys_query": "select 'k'"},
}


@pytest.mark.parametrize(
    ("params", "database"),
    [
        ({"mode": "restore"}, "rds_target"),  # side by side: the new instance
        ({"mode": "restore", "target": "in_place"}, "rds_instance"),  # switched over: live name
    ],
)
def test_the_checks_query_the_instance_that_carries_the_restored_data(params, database):
    cfg = parse_config({**copy.deepcopy(VALID), "verification": CHECKS})
    names = restore_names(cfg.installation, RUN_AFTER)
    settings = RestoreRunSettings.build(cfg, names, {"type": "latest"}, params)
    planned = RestorePlanResult.build(settings, a_plan(cfg), {})
    assert planned.check_application
    assert planned.check_database == getattr(settings, database)
    assert planned.check_cluster == settings.memorydb_target
    if database == "rds_instance":  # live: keeps its password, the replaced one lends its login
        assert planned.check_login_instance == replaced_name(
            settings.rds_instance, settings.restore_id
        )
        assert not planned.check_manage_password
    else:  # a copy nobody uses yet: RDS gives it a managed password
        assert planned.check_login_instance is None
        assert planned.check_manage_password
    assert planned.verification == cfg.verification.model_dump(mode="json")


def test_a_plan_runs_no_check_without_configured_checks_a_restore_or_the_database():
    cfg = parse_config({**copy.deepcopy(VALID), "verification": CHECKS})
    names = restore_names(cfg.installation, RUN_AFTER)

    def planned(params):
        settings = RestoreRunSettings.build(cfg, names, {"type": "latest"}, params)
        return RestorePlanResult.build(settings, a_plan(cfg), {})

    assert not planned({"mode": "plan"}).check_application  # a dry run restores nothing
    only_efs = planned({"mode": "restore", "components": ["efs", "memorydb"]})
    assert not only_efs.check_application  # nothing to query
    assert only_efs.check_database is None
    no_cache = planned({"mode": "restore", "components": ["database", "efs"]})
    assert no_cache.check_application
    assert no_cache.check_cluster is None  # the live cluster is not judged
    assert no_cache.verification["reference_checks"]["redis_keys_query"] is None
    unconfigured = parse_config(copy.deepcopy(VALID))
    settings = RestoreRunSettings.build(
        unconfigured, names, {"type": "latest"}, {"mode": "restore"}
    )
    assert not RestorePlanResult.build(settings, a_plan(unconfigured), {}).check_application


def test_a_drill_checks_its_own_temporary_instance_and_cluster():
    cfg = parse_config({**copy.deepcopy(VALID), "verification": CHECKS})
    names = drill_names(cfg, RUN_AFTER)
    drill = DrillRunSettings.build(cfg, names, a_plan(cfg), {}, False, RUN_AFTER)
    assert drill.check_application
    assert (drill.check_database, drill.check_cluster) == (
        names["rds_target"],
        names["memorydb_target"],
    )
    assert names["app_check_job"] in drill.resources["jobs"]  # the cleanup deletes it too
    assert drill.check_manage_password
    assert drill.check_login_instance is None
    dry = DrillRunSettings.build(cfg, names, a_plan(cfg), {}, True, RUN_AFTER)
    assert not dry.check_application
