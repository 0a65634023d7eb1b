"""Every name the project generates is one AWS and Kubernetes accept, for every installation.

The property test draws installation names from the configuration's own rule
(``config.INSTALLATION_RE``, kept only when the whole configuration accepts
them) and run times, makes every identifier the backup, the restore and the
drill would make, and checks each against the validators written from the
services' documented rules (``tests/plugins/names_support.py``) and against
botocore's model. Case 7 of issue 14 (the 24th character of the installation
name a hyphen) is an explicit example as well.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from tests.plugins.names_support import CASE_7, installations, problems_of, times
from tests.plugins.test_config import VALID
from ue_backup.backup_set import BackupSet
from ue_backup.config import K8S_NAME_RE, RDS_ID_RE, ConfigError, parse_config
from ue_backup.drill_report import report_key
from ue_backup.kube_names import delete_request_name, modifiers_name
from ue_backup.names import MEMORYDB_CLUSTER_MAX, fit
from ue_backup.operators.memorydb import export_prefix
from ue_backup.rpo import alarm_name, dimensions
from ue_backup.switch_over import replaced_name
from ue_backup.tasks.drill_steps import drill_id, drill_names
from ue_backup.tasks.restore_steps import restore_id, restore_names

CONFIG = VALID  # tests/plugins/test_config.py: a valid installation, copied per use
RUN_AFTER = datetime(2026, 3, 1, 4, 0, 0, tzinfo=UTC)


def accepted(installation: str, namespace: str = "uepe", rds: str = "ue-test-db"):
    """The configuration for ``installation``, or None when the configuration refuses it."""
    data = copy.deepcopy(CONFIG)
    data["installation"] = installation
    data["kubernetes"]["namespace"] = data["velero"]["included_namespaces"][0] = namespace
    data["database"]["rds_instance_identifier"] = rds
    try:
        return parse_config(data)
    except ConfigError:
        return None


def generated(cfg, when: datetime) -> list[tuple[str, str, tuple[str, ...]]]:
    """(what, name, the rules it must meet) for every name a backup, restore and drill make."""
    backup = BackupSet.for_run(cfg.installation, when, "scheduled__2026-03-01T04:00:00+00:00")
    named = [
        ("RDS snapshot", backup.rds_snapshot_id, ("rds snapshot",)),
        ("MemoryDB snapshot", backup.memorydb_snapshot_name, ("memorydb snapshot",)),
        ("Velero backup", backup.velero_backup_name, ("k8s label", "k8s subdomain")),
        (
            "Velero DeleteBackupRequest",
            delete_request_name(backup.velero_backup_name),
            ("k8s subdomain",),
        ),
        ("EFS backup token", backup.efs_idempotency_token, ("backup token",)),
        ("EFS copy token", backup.copy_token("efs"), ("backup token",)),
        ("manifest key", f"{cfg.manifests.prefix}{backup.manifest_key}", ("s3 key",)),
        (
            "MemoryDB export object",
            f"{export_prefix(backup.memorydb_snapshot_name)}0001.rdb",
            ("s3 key",),
        ),
        *(("tag value", v, ("aws tag value",)) for v in backup.tags.values()),
        *(("label value", v, ("k8s label value",)) for v in backup.labels.values()),
        ("RPO alarm", alarm_name(cfg.installation, cfg.region), ("cloudwatch alarm",)),
        *(
            ("RPO metric dimension", d["Value"], ("cloudwatch dimension value",))
            for d in dimensions(cfg.installation, cfg.region)
        ),
    ]
    restore = restore_names(cfg.installation, when)
    rid = restore["restore_id"]
    named += [
        ("restore id (Velero restore)", rid, ("k8s label", "k8s label value")),
        ("restore RDS instance", restore["rds_target"], ("rds instance",)),
        ("restore MemoryDB cluster", restore["memorydb_target"], ("memorydb cluster",)),
        # The DAG's own names (<id>-efs, <id>-place, ...): tests/dags/test_restore_names.py.
        ("restore modifiers", modifiers_name(rid), ("k8s subdomain",)),
        (
            "replaced live instance",
            replaced_name(cfg.database.rds_instance_identifier, rid),
            ("rds instance",),
        ),
    ]
    drill = drill_names(cfg, when)
    named += [
        ("drill id", drill["drill_id"], ("aws tag value", "k8s label value")),
        ("drill RDS instance", drill["rds_target"], ("rds instance",)),
        ("drill MemoryDB cluster", drill["memorydb_target"], ("memorydb cluster",)),
        ("drill EFS token", drill["efs_token"], ("backup token", "efs creation token")),
        ("drill Velero restore", drill["velero_restore"], ("k8s label",)),
        ("drill namespace", drill["drill_namespace"], ("k8s label",)),
        ("drill EFS claim", drill["efs_claim"], ("k8s subdomain",)),
        ("drill EFS volume", drill["efs_volume"], ("k8s subdomain",)),
        ("drill place Job", drill["place_job"], ("k8s label",)),
        ("drill check Job", drill["check_job"], ("k8s label",)),
        ("drill modifiers", modifiers_name(drill["velero_restore"]), ("k8s subdomain",)),
        (
            "drill report key",
            report_key(cfg.manifests.prefix, cfg.installation, drill["drill_id"]),
            ("s3 key",),
        ),
    ]
    return named


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    installations,
    times,
    st.from_regex(K8S_NAME_RE, fullmatch=True),
    st.from_regex(RDS_ID_RE, fullmatch=True),
)
@example(CASE_7, RUN_AFTER, "uepe", "ue-test-db")
@example("a" * 40, RUN_AFTER, "n" * 63, "d" * 63)
def test_every_generated_name_is_valid_for_every_accepted_installation(
    installation, when, namespace, rds
):
    cfg = accepted(installation, namespace, rds)
    assume(cfg is not None)

    assert problems_of(generated(cfg, when)) == []


def test_case_7_a_hyphen_at_the_cut_makes_no_double_hyphen():
    cfg = accepted(CASE_7)

    names = restore_names(CASE_7, RUN_AFTER)

    assert names["restore_id"] == "abcdefghijklmnopqrstuvw-r260301040000"
    assert names["rds_target"] == "abcdefghijklmnopqrstuvw-r260301040000-db"
    assert names["memorydb_target"] == "abcdefghijklmnopqrstuvw-r260301040000-ag"
    assert problems_of(generated(cfg, RUN_AFTER)) == []


@given(installations, times)
def test_a_name_that_was_valid_is_made_again_unchanged(installation, when):
    """A retry of a run started before the fix finds the artifacts its first try named.

    The restore id was ``installation[:24]-r<time>``; wherever that was valid (no
    hyphen at the cut), it is unchanged. The drill id was already cut this way.
    """
    stamp = f"{when.astimezone(UTC):%y%m%d%H%M%S}"
    if not installation[:24].endswith("-"):
        assert restore_id(installation, when) == f"{installation[:24]}-r{stamp}"
        old_agg = f"{installation[:24]}-r{stamp}-agg"[:40]
        assert restore_names(installation, when)["memorydb_target"] == old_agg
    base = installation[:21].rstrip("-")
    assert drill_id(installation, when) == f"{base}-drill-{stamp}"


def test_the_names_derive_from_the_run_so_a_retry_finds_them():
    assert restore_names("ue-test", RUN_AFTER) == restore_names("ue-test", RUN_AFTER)
    assert restore_names("ue-test", RUN_AFTER) == {
        "restore_id": "ue-test-r260301040000",
        "rds_target": "ue-test-r260301040000-db",
        "memorydb_target": "ue-test-r260301040000-agg",
    }
    assert replaced_name("ue-test-db", "ue-test-r260301040000") == (
        "ue-test-db-replaced-ue-test-r260301040000"
    )


def test_the_validators_refuse_what_the_services_refuse():
    """Each rule can fail: the property above would catch a bad name."""
    bad = [
        ("rds", "a" * 64, ("rds instance",)),
        ("rds", "a--b", ("rds instance", "rds snapshot", "memorydb snapshot")),
        ("rds", "ab-", ("rds instance", "memorydb cluster")),
        ("rds", "1ab", ("rds instance", "memorydb cluster")),
        ("memorydb", "a" * 41, ("memorydb cluster",)),
        ("memorydb", "Ab", ("memorydb cluster",)),
        ("efs", "t" * 65, ("efs creation token",)),
        ("backup", "", ("backup token",)),
        ("k8s", "a" * 64, ("k8s label", "k8s label value")),
        ("k8s", "a.b", ("k8s label",)),
        ("k8s", "-a", ("k8s subdomain",)),
        ("k8s", "a" * 254, ("k8s subdomain",)),
        ("s3", "/x y", ("s3 key",)),
        ("tag", "v" * 257, ("aws tag value",)),
        ("alarm", "a" * 256, ("cloudwatch alarm",)),
        ("alarm", "a\nb", ("cloudwatch alarm",)),
        ("dimension", "", ("cloudwatch dimension value",)),
    ]
    for what, name, kinds in bad:
        for kind in kinds:
            assert problems_of([(what, name, (kind,))]), (name, kind)


def test_botocore_constraints_apply_where_the_model_has_them():
    problems = problems_of([("efs", "t" * 65, ("efs creation token",))])

    assert any("botocore efs.CreateFileSystem.CreationToken: longer than 64" in p for p in problems)


# --- fit ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "limit", "expected"),
    [
        ("ue-test", 24, "ue-test"),
        ("abcdefghijklmnopqrstuvw-xyz", 24, "abcdefghijklmnopqrstuvw"),
        ("abc--def", 40, "abc-def"),
        ("abc---", 40, "abc"),
        ("a" * 50, 40, "a" * 40),
    ],
)
def test_fit_cuts_and_keeps_the_name_valid(name, limit, expected):
    assert fit(name, limit) == expected


def test_fit_refuses_a_name_without_a_letter_first():
    with pytest.raises(ValueError, match="does not start with a letter"):
        fit("-ab", 40)


@given(st.from_regex(r"[a-zA-Z][a-zA-Z0-9-]{0,80}", fullmatch=True), st.integers(1, 63))
def test_fit_gives_a_valid_identifier_of_at_most_the_limit(name, limit):
    fitted = fit(name, limit)

    assert len(fitted) <= limit
    assert problems_of([("fitted", fitted, ("rds instance",))]) == []
    assert len(fit(f"{fitted}-agg", MEMORYDB_CLUSTER_MAX)) <= MEMORYDB_CLUSTER_MAX
