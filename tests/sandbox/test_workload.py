"""The sandbox's Usage Engine workload (``sandbox/workload.py``) and its dangling-reference oracle.

With real data stores on: rows reference files and keys that exist at any moment
on the live system; writes stop while every ECD is disabled and resume after;
a database snapshot taken before the disk and cache are copied (rule 1) restores
with no dangling reference, one taken after them with some, named.
"""

from __future__ import annotations

import shutil
import time

import pytest

from sandbox.installation import NAMESPACE, seed_installation
from sandbox.k8s.resources import ECDEPLOYMENTS
from sandbox.workload import TABLES, Workload, dangling, stop_all


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
    return value


def rds_available(sandbox, name: str) -> dict:
    rds = sandbox.client("rds")
    return wait_for(
        lambda: next(
            (
                i
                for i in rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"]
                if i["DBInstanceStatus"] == "available"
            ),
            None,
        )
    )


def cluster_available(sandbox, name: str) -> dict:
    memorydb = sandbox.client("memorydb")
    return wait_for(
        lambda: next(
            (
                c
                for c in memorydb.describe_clusters(ClusterName=name)["Clusters"]
                if c["Status"] == "available"
            ),
            None,
        )
    )


def seeded(sandbox, memorydb: bool = True):
    installation = seed_installation(sandbox, "wl", memorydb=memorydb)
    rds_available(sandbox, installation.rds_instance)
    if memorydb:
        cluster_available(sandbox, installation.memorydb_cluster)
    return installation


@pytest.fixture
def world(sandbox):
    """The sandbox with real data stores on and short durations; stopped servers after."""
    sandbox.aws.real_data = True
    sandbox.durations.update(
        rds_snapshot=0.05,
        rds_instance=0.05,
        memorydb_snapshot=0.05,
        memorydb_cluster=0.05,
        ecd_drain=0.3,
        ecd_start=0.1,
    )
    try:
        yield sandbox
    finally:
        sandbox.aws.real_data = False
        sandbox.reset()


def set_enabled(sandbox, ecd: str, enabled: bool) -> None:
    def mutate(current):
        current["spec"]["enabled"] = enabled
        return current

    sandbox.k8s.store.update(ECDEPLOYMENTS, NAMESPACE, ecd, mutate)


def phase(sandbox, ecd: str) -> str | None:
    return (sandbox.k8s.get("ecdeployments", NAMESPACE, ecd).get("status") or {}).get("phase")


def copy_file_system(sandbox, fs_id: str) -> str:
    """A plain copy of the live tree into a new file system, temporary files left out."""
    copy = sandbox.aws.create_file_system("wl-efs-copy")
    shutil.copytree(
        sandbox.aws.efs_path(fs_id),
        sandbox.aws.efs_path(copy),
        ignore=shutil.ignore_patterns("TEMP.*"),
        dirs_exist_ok=True,
    )
    return copy


def db_snapshot(sandbox, instance: str, name: str) -> None:
    """A snapshot of the instance's data as of this call (a base backup taken during it)."""
    rds = sandbox.client("rds")
    rds.create_db_snapshot(DBInstanceIdentifier=instance, DBSnapshotIdentifier=name)
    wait_for(
        lambda: (
            rds.describe_db_snapshots(DBSnapshotIdentifier=name)["DBSnapshots"][0]["Status"]
            == "available"
        )
    )


def cache_snapshot(sandbox, cluster: str, name: str) -> None:
    memorydb = sandbox.client("memorydb")
    memorydb.create_snapshot(ClusterName=cluster, SnapshotName=name)
    wait_for(
        lambda: (
            memorydb.describe_snapshots(SnapshotName=name)["Snapshots"][0]["Status"] == "available"
        )
    )


def restore(sandbox, db_snapshot_name: str, cache_snapshot_name: str) -> tuple[str, str]:
    """A new instance and a new cluster from the two snapshots; their names."""
    instance, cluster = f"{db_snapshot_name}-db", f"{cache_snapshot_name}-agg"
    sandbox.client("rds").restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier=instance, DBSnapshotIdentifier=db_snapshot_name
    )
    sandbox.client("memorydb").create_cluster(
        ClusterName=cluster,
        NodeType="db.t4g.small",
        ACLName="open-access",
        SnapshotName=cache_snapshot_name,
    )
    rds_available(sandbox, instance)
    cluster_available(sandbox, cluster)
    return instance, cluster


def wait_rows(workload: Workload, more_than: int) -> None:
    wait_for(lambda: workload.rows_written > more_than)


def test_every_row_references_a_file_and_key_that_exist_on_the_live_system(world):
    installation = seeded(world)
    live = (installation.rds_instance, installation.file_system_id, installation.memorydb_cluster)
    seen = []
    with Workload(world, installation) as workload:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            seen.append(dangling(world, *live))
            time.sleep(0.05)
    final = dangling(world, *live)

    assert [s["dangling"] for s in seen] == [0] * len(seen)
    assert final["dangling"] == 0, final
    assert final["references"] > seen[0]["references"]  # it kept writing while checked
    assert all(workload.counts[table] > 0 for table in TABLES), workload.counts
    assert workload.counts["keys"] == workload.counts["aggregation_sessions"] > 0
    assert workload.counts["errors"] == 0, workload.last_error
    root = world.aws.efs_path(installation.file_system_id)
    written = [p for ecd in installation.ecds for p in (root / "aggregation" / ecd).rglob("*")]
    assert written
    assert not [p for p in written if p.name.startswith("TEMP.")]


def test_writes_stop_while_every_ecd_is_disabled_and_resume_after(world):
    installation = seeded(world)
    first, second = installation.ecds
    with Workload(world, installation) as workload:
        wait_rows(workload, 5)

        set_enabled(world, first, False)  # one ECD still runs: writes go on
        wait_for(lambda: phase(world, first) == "Stopped")
        before = workload.rows_written
        wait_rows(workload, before + 3)

        set_enabled(world, second, False)  # every ECD disabled: the cold window
        wait_for(lambda: phase(world, second) == "Stopped")
        time.sleep(0.1)  # a tick started just before the last pod went
        cold = workload.rows_written
        time.sleep(0.6)
        assert workload.rows_written == cold
        in_db = dangling(world, installation.rds_instance, installation.file_system_id, None)

        set_enabled(world, second, True)
        wait_for(lambda: phase(world, second) == "Running")
        wait_rows(workload, cold + 3)

    assert in_db["references"] > 0
    assert workload.counts["errors"] == 0, workload.last_error


def test_without_memorydb_sessions_have_no_redis_key(world):
    installation = seeded(world, memorydb=False)
    with Workload(world, installation) as workload:
        wait_rows(workload, 9)
    found = dangling(world, installation.rds_instance, installation.file_system_id, None)

    assert workload.counts["aggregation_sessions"] > 0
    assert workload.counts["keys"] == 0
    assert found["dangling"] == 0
    assert found["missing_keys"] == []
    assert found["references"] == workload.rows_written


def test_a_database_snapshot_taken_before_the_copies_restores_with_no_dangling_reference(world):
    installation = seeded(world)
    with Workload(world, installation) as workload:
        wait_rows(workload, 10)
        db_snapshot(world, installation.rds_instance, "rule-1")  # the database first
        wait_rows(workload, workload.rows_written + 5)
        fs_copy = copy_file_system(world, installation.file_system_id)
        cache_snapshot(world, installation.memorydb_cluster, "rule-1-cache")
        wait_rows(workload, workload.rows_written + 5)
    instance, cluster = restore(world, "rule-1", "rule-1-cache")

    found = dangling(world, instance, fs_copy, cluster)
    assert found["references"] > 10
    assert found["dangling"] == 0, found


def test_a_database_snapshot_taken_after_the_copies_restores_with_dangling_references(world):
    installation = seeded(world)
    with Workload(world, installation) as workload:
        wait_rows(workload, 10)
        fs_copy = copy_file_system(world, installation.file_system_id)
        cache_snapshot(world, installation.memorydb_cluster, "late-cache")
        wait_rows(workload, workload.rows_written + 6)  # rows the copies cannot hold
        db_snapshot(world, installation.rds_instance, "late")  # the database newer
    instance, cluster = restore(world, "late", "late-cache")

    found = dangling(world, instance, fs_copy, cluster)
    assert found["dangling"] > 0, found
    assert found["missing_files"], found
    assert found["missing_keys"], found
    assert all(key.startswith("ue:aggregation:") for key in found["missing_keys"])
    assert set(found["by_table"]) <= set(TABLES)
    endpoint = rds_available(world, instance)["Endpoint"]
    by_endpoint = f"{endpoint['Address']}:{endpoint['Port']}"
    assert dangling(world, by_endpoint, fs_copy, cluster) == found  # the same database
    # the same database against the live disk and cache: nothing missing there
    live = dangling(world, instance, installation.file_system_id, installation.memorydb_cluster)
    assert live["dangling"] == 0, live


def test_the_sandbox_reset_stops_a_running_workload(world):
    installation = seeded(world)
    workload = Workload(world, installation).start()
    wait_rows(workload, 2)
    world.reset()
    assert workload._thread is None
    stop_all()  # nothing left to stop
