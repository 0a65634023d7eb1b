"""Retention's delete step on the sandbox: listed by tag, deleted by service, retry-safe.

One backup set's artifacts are made by hand (RDS snapshot, MemoryDB snapshot,
Velero backup, manifest), listed the way the DAG lists them, and deleted; a
failure in the middle keeps the set's manifest and fails the step, and the
retry finishes the job.
"""

from __future__ import annotations

import json

import pytest

from sandbox.faults import Fault
from sandbox.installation import seed_installation
from tests.plugins.support import defer
from ue_backup.backup_set import BackupSet
from ue_backup.config import parse_config
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.velero import VeleroHook
from ue_backup.inventory import list_artifacts
from ue_backup.run_settings import RetentionRunSettings, botocore_config
from ue_backup.tasks.retention_delete import DELETED, GONE, RetentionDeleteOperator, delete
from ue_backup.triggers.velero import VeleroDeletionTrigger

SET = BackupSet("ue-test", "ue-test-20260101t000000z")
# The delete step's settings, as validate returns them (regions come from each artifact).
SETTINGS = RetentionRunSettings(
    installation="ue-test",
    region="eu-west-1",
    aws_conn_id="aws_default",
    aws_botocore_config=botocore_config(),
    kubernetes_conn_id="kubernetes_default",
    dry_run=False,
    apply=True,
    keep_sets=[],
    keep_last=7,
    keep_days=14,
    prices={},
    now="2026-01-01T00:00:00+00:00",
)


@pytest.fixture
def world(sandbox, fast):
    """An installation with one backup set made by hand; returns the configuration."""
    sandbox.durations.update(velero=0.1)
    inst = seed_installation(sandbox, "ue-test")
    sandbox.client("rds").create_db_snapshot(
        DBInstanceIdentifier=inst.rds_instance,
        DBSnapshotIdentifier=SET.rds_snapshot_id,
        Tags=SET.tag_list,
    )
    sandbox.client("memorydb").create_snapshot(
        ClusterName=inst.memorydb_cluster,
        SnapshotName=SET.memorydb_snapshot_name,
        Tags=SET.tag_list,
    )
    VeleroHook().create_backup(
        namespace="velero",
        name=SET.velero_backup_name,
        labels=SET.labels,
        included_namespaces=["uepe"],
        storage_location="default",
        ttl="24h0m0s",
    )
    sandbox.client("s3").put_object(
        Bucket=inst.bucket,
        Key=f"ue-backup/{SET.manifest_key}",
        Body=json.dumps({"installation": SET.installation, "backup_set": SET.id}).encode(),
    )
    sandbox.k8s.wait_until(
        lambda: all(a.state in ("available", "Completed") for a in listed(inst.config)),
        timeout=10,
    )
    sandbox.log.clear()
    return inst.config


def listed(config):
    return [a for a in list_artifacts(parse_config(config)) if a.backup_set == SET.id]


def decision(artifacts) -> dict:
    return {
        "sets": [
            {
                "backup_set": SET.id,
                "action": "delete",
                "artifacts": [a.as_json() for a in artifacts],
            }
        ]
    }


def test_a_failure_keeps_the_manifest_and_the_retry_finishes(sandbox, world):
    artifacts = listed(world)
    assert sorted(a.kind for a in artifacts) == [
        "manifest",
        "memorydb_snapshot",
        "rds_snapshot",
        "velero_backup",
    ]
    sandbox.faults.add(
        Fault("memorydb", "DeleteSnapshot", code="InvalidSnapshotStateFault", status=400)
    )

    with pytest.raises(RuntimeError, match="memorydb_snapshot ueb-ue-test-20260101t000000z"):
        delete(SETTINGS, decision(artifacts))

    left = {a.kind for a in listed(world)}
    assert left == {"memorydb_snapshot", "manifest"}  # the set keeps its record
    outcomes = delete(SETTINGS, decision(artifacts))["outcomes"]
    assert {o["kind"]: o["outcome"] for o in outcomes} == {
        "rds_snapshot": GONE,
        "velero_backup": GONE,
        "memorydb_snapshot": DELETED,
        "manifest": DELETED,
    }
    assert listed(world) == []
    assert sandbox.k8s.velero_backup_items(SET.velero_backup_name) == []


def test_a_decision_naming_anything_not_ours_is_refused_before_any_change(sandbox, world):
    artifacts = listed(world)
    foreign = artifacts[0].__class__(**{**artifacts[0].as_json(), "installation": "ue-other"})

    with pytest.raises(PermanentFailure, match="belongs to installation 'ue-other'"):
        delete(SETTINGS, decision([*artifacts[1:], foreign]))

    assert sandbox.log.entries() == []
    assert len(listed(world)) == 4


class FakeTi:
    """What the delete task reads and keeps: validate's settings, plan's decision, its XCom."""

    task_id = "delete"

    def __init__(self, settings, decision) -> None:
        self.xcoms = {("validate", "return_value"): settings, ("plan", "return_value"): decision}

    def get_dr_count(self, dag_id, states):
        return 0  # no restore runs

    def xcom_push(self, key, value):
        self.xcoms[self.task_id, key] = value

    def xcom_pull(self, task_ids, key="return_value"):
        return self.xcoms.get((task_ids, key))


def test_the_task_waits_for_velero_in_the_triggerer_and_finishes_on_resume(sandbox, world):
    artifacts = listed(world)
    task = RetentionDeleteOperator(task_id="delete")
    context = {"ti": FakeTi(SETTINGS.dump(), decision(artifacts))}

    deferral = defer(task, context)

    assert isinstance(deferral.trigger, VeleroDeletionTrigger)
    left = {a.kind for a in listed(world)}
    assert "manifest" in left  # it waits for Velero's deletion
    assert left <= {"velero_backup", "manifest"}
    outcomes = deferral.resume()["outcomes"]
    assert {o["kind"]: o["outcome"] for o in outcomes} == {
        "rds_snapshot": DELETED,
        "memorydb_snapshot": DELETED,
        "velero_backup": DELETED,
        "manifest": DELETED,
    }
    assert listed(world) == []


def test_a_backup_velero_kept_fails_the_task_after_the_wait_and_keeps_the_manifest(sandbox, world):
    sandbox.faults.add(
        Fault(
            "k8s",
            "velero-deletebackuprequest",
            kind="outcome",
            target=f"velero/deletebackuprequests/{SET.velero_backup_name}-delete",
            message="AccessDenied on the bucket",
        )
    )
    task = RetentionDeleteOperator(task_id="delete")
    deferral = defer(task, {"ti": FakeTi(SETTINGS.dump(), decision(listed(world)))})

    with pytest.raises(RuntimeError, match=r"Velero did not delete it: .*AccessDenied"):
        deferral.resume()
    assert {a.kind for a in listed(world)} == {"velero_backup", "manifest"}
