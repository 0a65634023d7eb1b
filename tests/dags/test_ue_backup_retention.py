"""ue_backup_retention end to end on the sandbox: dry runs, refusals, a real run, costs.

The world: one installation with four backup sets made by ``ue_backup`` (the
third one's EFS job failed), each with copies in the copy region (RDS
snapshot, recovery point, MemoryDB ``.rdb`` file tagged with the set), and,
sharing the same instance, vault, cluster, Velero and bucket, artifacts that
are untagged or another installation's. With ``keep_last: 2`` and
``keep_days: 0`` the policy keeps the two newest sets and the two newest
restorable ones, so exactly the oldest set goes.
"""

from __future__ import annotations

import json
import time

import pytest
from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

from sandbox.airflow_harness.dag_runner import rerun, run_dag, write_config
from sandbox.faults import Fault
from sandbox.installation import ROLE_ARN
from tests.dags.worlds import seeded
from tests.plugins.tasks.test_retention_delete import SETTINGS
from ue_backup.config import load_config_file
from ue_backup.inventory import list_artifacts
from ue_backup.manifest import GB
from ue_backup.planning import iso, memorydb_snapshot_time
from ue_backup.records import META_NODE_TYPE, META_SHARDS, META_SNAPSHOT, META_TIME
from ue_backup.tasks.retention_delete import GONE
from ue_backup.tasks.retention_delete import delete as delete_sets

pytestmark = pytest.mark.e2e

COPY_REGION = "eu-central-1"
COPY_VAULT = "ue-test-dr"
COPY_BUCKET = "ue-test-memorydb-dr"
OTHER_SET = "ue-other-20260101t000000z"
MUTATING_K8S = {"create", "replace", "patch", "delete"}


def _tags(installation: str, backup_set: str) -> dict[str, str]:
    return {"ue-backup:installation": installation, "ue-backup:backup-set": backup_set}


def _wait(check, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _noise(sandbox, inst) -> dict[str, str]:
    """Untagged artifacts and another installation's, in the installation's own places."""
    rds, backup = sandbox.client("rds"), sandbox.client("backup")
    rds.create_db_snapshot(DBInstanceIdentifier=inst.rds_instance, DBSnapshotIdentifier="by-hand")
    rds.create_db_snapshot(
        DBInstanceIdentifier=inst.rds_instance,
        DBSnapshotIdentifier=f"ueb-{OTHER_SET}",
        Tags=[{"Key": k, "Value": v} for k, v in _tags("ue-other", OTHER_SET).items()],
    )
    efs = sandbox.client("efs").describe_file_systems(FileSystemId=inst.file_system_id)
    fs_arn = efs["FileSystems"][0]["FileSystemArn"]
    untagged = backup.start_backup_job(
        BackupVaultName=inst.vault, ResourceArn=fs_arn, IamRoleArn=ROLE_ARN
    )["RecoveryPointArn"]
    other_fs = sandbox.aws.create_file_system("ue-other-efs")
    other_arn = sandbox.client("efs").describe_file_systems(FileSystemId=other_fs)
    foreign = backup.start_backup_job(
        BackupVaultName=inst.vault,
        ResourceArn=other_arn["FileSystems"][0]["FileSystemArn"],
        IamRoleArn=ROLE_ARN,
        RecoveryPointTags=_tags("ue-other", OTHER_SET),
    )["RecoveryPointArn"]
    sandbox.client("memorydb").create_snapshot(
        ClusterName=inst.memorydb_cluster,
        SnapshotName=f"ueb-{OTHER_SET}",
        Tags=[{"Key": k, "Value": v} for k, v in _tags("ue-other", OTHER_SET).items()],
    )
    sandbox.k8s.create(
        "backups",
        {
            "apiVersion": "velero.io/v1",
            "kind": "Backup",
            "metadata": {
                "name": f"ueb-{OTHER_SET}",
                "labels": {"ue-backup/installation": "ue-other"},
            },
            "spec": {"includedNamespaces": ["uepe"], "ttl": "24h0m0s"},
        },
        "velero",
    )
    # Under our prefix, but another installation's manifest (copied to the wrong place).
    stray = "ue-backup/ue-test/ue-test-20200101t000000z/manifest.json"
    sandbox.client("s3").put_object(
        Bucket=inst.bucket,
        Key=stray,
        Body=json.dumps({"installation": "ue-other", "backup_set": OTHER_SET}).encode(),
    )
    _wait(
        lambda: all(
            backup.describe_recovery_point(BackupVaultName=inst.vault, RecoveryPointArn=arn)[
                "Status"
            ]
            == "COMPLETED"
            for arn in (untagged, foreign)
        ),
        "the noise recovery points",
    )
    return {
        "rds": "by-hand",
        "rds_other": f"ueb-{OTHER_SET}",
        "rp": untagged,
        "rp_other": foreign,
        "memorydb_other": f"ueb-{OTHER_SET}",
        "manifest_stray": stray,
    }


def _copies(sandbox, inst, backup_set: str, manifest: dict | None) -> None:
    """The set's copies in the copy region, made and tagged the way ue_backup makes them."""
    tags = _tags(inst.name, backup_set)
    rds_copy = sandbox.client("rds", COPY_REGION)
    source = sandbox.client("rds").describe_db_snapshots(DBSnapshotIdentifier=f"ueb-{backup_set}")
    rds_copy.copy_db_snapshot(
        SourceDBSnapshotIdentifier=source["DBSnapshots"][0]["DBSnapshotArn"],
        TargetDBSnapshotIdentifier=f"ueb-{backup_set}",
        SourceRegion=sandbox.region,
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )
    _wait(
        lambda: (
            rds_copy.describe_db_snapshots(DBSnapshotIdentifier=f"ueb-{backup_set}")["DBSnapshots"][
                0
            ]["Status"]
            == "available"
        ),
        "the RDS copy",
    )
    if manifest and manifest["artifacts"].get("efs_recovery_point"):
        backup = sandbox.client("backup")
        job = backup.start_copy_job(
            RecoveryPointArn=manifest["artifacts"]["efs_recovery_point"]["arn"],
            SourceBackupVaultName=inst.vault,
            DestinationBackupVaultArn=_copy_vault_arn(),
            IamRoleArn=ROLE_ARN,
        )["CopyJobId"]
        _wait(
            lambda: backup.describe_copy_job(CopyJobId=job)["CopyJob"]["State"] == "COMPLETED",
            "the recovery point copy",
        )
    snapshot = sandbox.client("memorydb").describe_snapshots(
        SnapshotName=f"ueb-{backup_set}", ShowDetail=True
    )["Snapshots"][0]
    config = snapshot["ClusterConfiguration"]
    sandbox.client("s3", COPY_REGION).put_object(
        Bucket=COPY_BUCKET,
        Key=f"ueb-{backup_set}-0001.rdb",
        Body=b"r" * 3000,
        Tagging="&".join(f"{k}={v}" for k, v in tags.items()),
        Metadata={  # what MemoryDbCopyExportOperator records for a restore there
            META_SNAPSHOT: snapshot["Name"],
            META_TIME: iso(memorydb_snapshot_time(snapshot)),
            META_NODE_TYPE: config["NodeType"],
            META_SHARDS: str(len(config["Shards"])),
        },
    )


def _copy_vault_arn() -> str:
    return f"arn:aws:backup:{COPY_REGION}:123456789012:backup-vault:{COPY_VAULT}"


def retention_config(inst, **retention) -> dict:
    return {
        **inst.config,
        "retention": {"keep_last": 2, "keep_days": 0, **retention},
        "cross_region": {
            "region": COPY_REGION,
            "backup_vault_arn": _copy_vault_arn(),
            "memorydb_export_bucket": "ue-test-memorydb-export",
            "memorydb_bucket": COPY_BUCKET,
        },
    }


@pytest.fixture(scope="module")
def world(sandbox_session, tmp_path_factory):
    """Four backup sets (the third failed), their copies, and the neighbours' artifacts."""
    sandbox = sandbox_session
    with seeded(sandbox, "ue-test") as (patch, inst):
        sandbox.client("backup", COPY_REGION).create_backup_vault(BackupVaultName=COPY_VAULT)
        for bucket, region in (
            (COPY_BUCKET, COPY_REGION),
            ("ue-test-memorydb-export", sandbox.region),
        ):
            sandbox.client("s3", region).create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
            )
        noise = _noise(sandbox, inst)
        write_config(inst.config, tmp_path_factory.mktemp("backups"), patch)
        sets = []
        for failing in (False, False, True, False):
            if failing:
                sandbox.faults.add(
                    Fault("backup", "StartBackupJob", kind="outcome", state="FAILED")
                )
            result = run_dag("ue_backup")
            assert result.state == ("failed" if failing else "success"), result.tasks
            sandbox.faults.clear()
            backup_set = result.xcom("preflight")["backup_set"]
            _copies(sandbox, inst, backup_set, None if failing else result.xcom("manifest"))
            sets.append(backup_set)
        path = write_config(retention_config(inst), tmp_path_factory.mktemp("retention"), patch)
        yield sandbox, inst, sets, noise, path


@pytest.fixture
def sandbox(world):
    world[0].log.clear()
    world[0].faults.clear()
    return world[0]


@pytest.fixture
def sets(world):
    """The four sets, oldest first; the third one's EFS job failed."""
    return world[2]


def changes(sandbox) -> list:
    """State-changing calls (the sandbox controllers' own bookkeeping aside)."""
    return [m for m in sandbox.log.entries() if m.service != "k8s" or m.operation in MUTATING_K8S]


def inventory(world) -> set[tuple]:
    """Every artifact the retention DAG can see, by kind, id and region."""
    cfg = load_config_file(world[4])
    return {(a.kind, a.id, a.region, a.backup_set) for a in list_artifacts(cfg)}


def planned(result) -> dict[str, str]:
    return {s["backup_set"]: s["action"] for s in result.xcom("plan")["sets"]}


def test_dry_run_lists_the_oldest_set_and_changes_nothing(world, sandbox, sets):
    result = run_dag("ue_backup_retention", {"dry_run": True})
    assert result.state == "success", result.tasks
    assert result.tasks["delete"] == "skipped"
    assert changes(sandbox) == []
    plan = result.xcom("plan")
    assert planned(result) == {
        sets[3]: "keep",
        sets[2]: "keep",  # one of the newest 2 sets, though its EFS job failed
        sets[1]: "keep",  # one of the newest 2 restorable sets
        sets[0]: "delete",
    }
    assert plan["newest_restorable"] == sets[3]
    assert plan["newest_restorable_from_copies"] == sets[3]
    copies = {s["backup_set"]: s["restorable_from_copies"] for s in plan["sets"]}
    assert copies == {sets[0]: True, sets[1]: True, sets[2]: False, sets[3]: True}
    doomed = next(s for s in plan["sets"] if s["backup_set"] == sets[0])
    assert sorted(a["kind"] for a in doomed["artifacts"]) == [
        "efs_recovery_point",
        "efs_recovery_point_copy",
        "manifest",
        "memorydb_snapshot",
        "memorydb_snapshot_copy",
        "rds_snapshot",
        "rds_snapshot_copy",
        "velero_backup",
    ]
    noise = world[3]
    ignored = {i["artifact"]["id"]: i["reason"] for i in plan["ignored"]}
    assert set(noise.values()) <= set(ignored)
    assert "untagged" in ignored[noise["rds"]]
    assert "ue-other" in ignored[noise["rp_other"]]
    assert "untagged" in ignored[noise["manifest_stray"]]  # its body claims another's set
    summary = result.xcom("summary")
    assert summary["would_delete_sets"] == [sets[0]]
    assert summary["deleted_sets"] == []


def _expected_costs(sandbox, inst, sets) -> dict[str, tuple[float, float]]:
    """(kept, removed) USD/month per component, from the sizes the sandbox reports."""
    rds = sandbox.client("rds").describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    rds_gb = {s["DBSnapshotIdentifier"]: s["AllocatedStorage"] for s in rds}
    backup = sandbox.client("backup")
    points = backup.list_recovery_points_by_backup_vault(BackupVaultName=inst.vault)
    rp_bytes = {}
    for p in points["RecoveryPoints"]:
        tag = backup.list_tags(ResourceArn=p["RecoveryPointArn"])["Tags"].get(
            "ue-backup:backup-set"
        )
        if tag in sets and p["Status"] == "COMPLETED":
            rp_bytes[tag] = p["BackupSizeInBytes"]
    snapshots = sandbox.client("memorydb").describe_snapshots(ShowDetail=True)["Snapshots"]
    mdb_mb = {
        s["Name"]: float(s["ClusterConfiguration"]["Shards"][0]["Size"].split()[0])
        for s in snapshots
    }
    objects = sandbox.client("s3", COPY_REGION).list_objects_v2(Bucket=COPY_BUCKET)["Contents"]
    rdb_bytes = {o["Key"]: o["Size"] for o in objects}
    old, kept = sets[0], sets[1:]
    memorydb_kept = [mdb_mb[f"ueb-{s}"] for s in kept]
    return {
        "rds_snapshot": (
            sum(rds_gb[f"ueb-{s}"] for s in kept) * 0.05,
            rds_gb[f"ueb-{old}"] * 0.05,
        ),
        "efs_recovery_point": (
            sum(rp_bytes[s] for s in kept if s in rp_bytes) / GB * 0.095,
            rp_bytes[old] / GB * 0.095,
        ),
        # one snapshot per cluster is free: before, the oldest (the deleted one); after,
        # the oldest kept. What deleting saves is the newest kept one's price.
        "memorydb_snapshot": (
            (sum(memorydb_kept) - memorydb_kept[0]) / 1024 * 0.085,
            memorydb_kept[0] / 1024 * 0.085,
        ),
        "memorydb_snapshot_copy": (
            sum(rdb_bytes[f"ueb-{s}-0001.rdb"] for s in kept) / GB * 0.023,
            rdb_bytes[f"ueb-{old}-0001.rdb"] / GB * 0.023,
        ),
    }


def test_the_cost_summary_follows_the_sizes_the_sandbox_reports(world, sandbox, sets):
    result = run_dag("ue_backup_retention", {"dry_run": True})
    assert result.state == "success", result.tasks
    costs = result.xcom("summary")["costs"]["components"]
    for component, (kept, removed) in _expected_costs(sandbox, world[1], sets).items():
        assert costs[component]["kept"]["monthly_usd"] == pytest.approx(kept, abs=1e-3), component
        assert costs[component]["removed"]["monthly_usd"] == pytest.approx(removed, abs=1e-3), (
            component
        )
    assert costs["rds_snapshot_copy"]["removed"]["monthly_usd"] == pytest.approx(20 * 0.05)
    assert costs["velero_backup"]["removed"] == {
        "count": 1,
        "size_bytes": 0,
        "unknown_size": 1,
        "monthly_usd": None,
    }


def test_young_sets_and_named_sets_are_kept(world, sandbox, sets, tmp_path, monkeypatch):
    result = run_dag("ue_backup_retention", {"dry_run": True, "keep_sets": [sets[0]]})
    assert result.state == "success", result.tasks
    assert set(planned(result).values()) == {"keep"}
    reasons = {s["backup_set"]: s["reasons"] for s in result.xcom("plan")["sets"]}
    assert reasons[sets[0]] == ["in use: named in this run's keep_sets"]

    write_config(retention_config(world[1], keep_days=1), tmp_path, monkeypatch)
    result = run_dag("ue_backup_retention", {"dry_run": True})
    assert result.state == "success", result.tasks
    assert set(planned(result).values()) == {"keep"}
    assert changes(sandbox) == []


@pytest.mark.parametrize(
    ("conf", "words"),
    [
        ({"keep_sets": ["nonsense"]}, "params.keep_sets"),
        ({"keep_sets": [OTHER_SET]}, "is not a backup set of 'ue-test'"),
        ({"flavour": "vanilla"}, "params.flavour: is not a parameter"),
    ],
    ids=["bad-set-id", "other-installations-set", "unknown-param"],
)
def test_bad_params_are_refused_before_anything_is_listed(sandbox, conf, words, capfd, caplog):
    result = run_dag("ue_backup_retention", conf)
    assert result.state == "failed"
    assert result.tasks["validate"] == "failed"
    assert result.tasks["inventory"] == "upstream_failed"
    assert changes(sandbox) == []
    out, err = capfd.readouterr()
    assert words in out + err + caplog.text


def _restore_running(monkeypatch, from_call: int, running: str = "ue_restore") -> None:
    """The DAG ``running`` counts as running from the ``from_call``-th question about it on."""
    calls = {"n": 0}
    original = RuntimeTaskInstance.get_dr_count

    def count(dag_id, *args, **kwargs):
        if dag_id != running:
            return original(dag_id, *args, **kwargs)
        calls["n"] += 1
        return 1 if calls["n"] >= from_call else 0

    monkeypatch.setattr(RuntimeTaskInstance, "get_dr_count", staticmethod(count))


@pytest.mark.parametrize("restoring", ["ue_restore", "ue_restore_drill"])
def test_nothing_is_deleted_while_a_restore_runs(
    sandbox, sets, monkeypatch, capfd, caplog, restoring
):
    _restore_running(monkeypatch, from_call=1, running=restoring)
    result = run_dag("ue_backup_retention")
    assert result.state == "failed"
    assert result.tasks["validate"] == "failed"
    out, err = capfd.readouterr()
    assert "a restore is in progress (1 run(s) of ue_restore or ue_restore_drill)" in (
        out + err + caplog.text
    )
    # a dry run still lists
    assert run_dag("ue_backup_retention", {"dry_run": True}).state == "success"
    # a restore that starts after the plan stops the deletion too
    _restore_running(monkeypatch, from_call=2, running=restoring)
    result = run_dag("ue_backup_retention")
    assert result.state == "failed"
    assert result.tasks["validate"] == "success"
    assert result.tasks["delete"] == "failed"
    assert changes(sandbox) == []


def test_a_real_run_deletes_exactly_the_oldest_set(world, sandbox, sets):
    before = inventory(world)
    result = run_dag("ue_backup_retention")
    assert result.state == "success", result.tasks
    after = inventory(world)
    gone = before - after
    assert after < before
    assert {backup_set for *_, backup_set in gone} == {sets[0]}
    assert {backup_set for *_, backup_set in after} >= {sets[1], sets[2], sets[3], None}
    assert {kind for kind, *_ in gone} == {
        "rds_snapshot",
        "rds_snapshot_copy",
        "efs_recovery_point",
        "efs_recovery_point_copy",
        "memorydb_snapshot",
        "memorydb_snapshot_copy",
        "velero_backup",
        "manifest",
    }
    # every change names one of the deleted artifacts: nothing else was touched
    doomed = [
        a["id"]
        for s in result.xcom("plan")["sets"]
        if s["action"] == "delete"
        for a in s["artifacts"]
    ]
    made = changes(sandbox)
    assert {c.operation for c in made} == {
        "DeleteDBSnapshot",
        "DeleteRecoveryPoint",
        "DeleteSnapshot",
        "DeleteObject",
        "create",  # the Velero DeleteBackupRequest
    }
    for change in made:
        assert any(i in change.target for i in doomed), change
    # Velero deleted the backup and its data (a DeleteBackupRequest, not just the object)
    assert sandbox.k8s.get("backups", "velero", f"ueb-{sets[0]}") is None
    assert not sandbox.k8s.velero_backup_items(f"ueb-{sets[0]}")
    summary = result.xcom("summary")
    assert summary["deleted_sets"] == [sets[0]]
    assert {o["outcome"] for o in summary["outcomes"]} == {"deleted"}
    assert len(summary["outcomes"]) == len(doomed)
    # the planner still finds the newest set
    restore = run_dag("ue_restore", {"mode": "plan"})
    assert restore.state == "success", restore.tasks
    assert restore.xcom("plan")["plan"]["backup_set"] == sets[3]


# What the retention delete step gets from its run's settings, for calling it directly.


def _artifact(kind, service, id, region, container, backup_set):
    return {
        "kind": kind,
        "service": service,
        "id": id,
        "region": region,
        "container": container,
        "installation": "ue-test",
        "backup_set": backup_set,
    }


def test_deleting_again_finds_everything_gone(world, sandbox, sets):
    """The delete step retried after it succeeded: every artifact is already gone, no error."""
    old, home = sets[0], sandbox.region
    name = f"ueb-{old}"
    stale = {
        "sets": [
            {
                "backup_set": old,
                "action": "delete",
                "artifacts": [
                    _artifact("rds_snapshot", "rds", name, home, None, old),
                    _artifact("rds_snapshot_copy", "rds", name, COPY_REGION, None, old),
                    _artifact(
                        "efs_recovery_point",
                        "backup",
                        f"arn:aws:backup:{home}:123456789012:recovery-point:GONE",
                        home,
                        world[1].vault,
                        old,
                    ),
                    _artifact("memorydb_snapshot", "memorydb", name, home, None, old),
                    _artifact(
                        "memorydb_snapshot_copy",
                        "s3",
                        f"{name}-0001.rdb",
                        COPY_REGION,
                        COPY_BUCKET,
                        old,
                    ),
                    _artifact("velero_backup", "velero", name, None, "velero", old),
                    _artifact(
                        "manifest",
                        "s3",
                        f"ue-backup/ue-test/{old}/manifest.json",
                        home,
                        world[1].bucket,
                        old,
                    ),
                ],
            }
        ]
    }
    outcome = delete_sets(SETTINGS, stale)
    assert [o["outcome"] for o in outcome["outcomes"]] == [GONE] * 7
    # the delete calls were made, and AWS answered "not found" to each: nothing changed
    # (a recovery point is looked for in its vault first: IAM scopes its deletion by the
    # tags a deleted point no longer has, see include/iam/README.md)
    assert {c.operation for c in changes(sandbox)} == {"DeleteDBSnapshot", "DeleteSnapshot"}
    assert all(c.detail["status"] >= 400 for c in changes(sandbox))
    sandbox.log.clear()
    # and a whole run again, cleared and re-run as from the UI, deletes nothing more
    first = run_dag("ue_backup_retention")
    again = rerun(first)
    assert again.state == "success", again.tasks
    assert first.xcom("summary")["deleted_sets"] == []
    assert again.xcom("summary")["deleted_sets"] == []


def test_keep_last_one_deletes_the_failed_set_too(world, sandbox, sets, tmp_path, monkeypatch):
    write_config(retention_config(world[1], keep_last=1), tmp_path, monkeypatch)
    result = run_dag("ue_backup_retention")
    assert result.state == "success", result.tasks
    assert result.xcom("summary")["deleted_sets"] == [sets[1], sets[2]]
    left = {backup_set for *_, backup_set in inventory(world)}
    assert sets[3] in left
    assert not left & {sets[0], sets[1], sets[2]}
    restore = run_dag("ue_restore", {"mode": "plan"})
    assert restore.state == "success", restore.tasks
    assert restore.xcom("plan")["plan"]["backup_set"] == sets[3]


def test_a_velero_deletion_that_failed_is_asked_again_on_retry(world, sandbox, sets):
    """Velero processed the request but kept the backup: the retry replaces the request.

    Velero never processes a DeleteBackupRequest twice, so asking again means
    deleting the processed one and creating it anew (the RBAC grants ``delete``
    on deletebackuprequests for this). Last in the module: it deletes the newest
    set's Velero backup.
    """
    name, request = f"ueb-{sets[3]}", f"ueb-{sets[3]}-delete"
    velero = _artifact("velero_backup", "velero", name, None, "velero", sets[3])
    decision = {"sets": [{"backup_set": sets[3], "action": "delete", "artifacts": [velero]}]}
    sandbox.faults.add(
        Fault(
            "k8s",
            "velero-deletebackuprequest",
            kind="outcome",
            target=f"velero/deletebackuprequests/{request}",
            message="AccessDenied on the bucket",
        )
    )

    with pytest.raises(RuntimeError, match=r"Velero did not delete it: .*AccessDenied"):
        delete_sets(SETTINGS, decision)
    assert sandbox.k8s.get("backups", "velero", name) is not None
    assert sandbox.k8s.get("deletebackuprequests", "velero", request)["status"]["phase"] == (
        "Processed"
    )

    outcome = delete_sets(SETTINGS, decision)  # the retry

    assert [o["outcome"] for o in outcome["outcomes"]] == ["deleted"]
    assert sandbox.k8s.get("backups", "velero", name) is None
    assert not sandbox.k8s.velero_backup_items(name)
    calls = [
        (m.operation, m.target)
        for m in sandbox.log.entries("k8s")
        if "/deletebackuprequests/" in m.target and m.operation in ("create", "delete")
    ]
    target = f"velero/deletebackuprequests/{request}"
    assert calls == [("create", target), ("delete", target), ("create", target)]
