"""MemoryDbHook against the sandbox: its waiters, idempotent snapshots, listings."""

from __future__ import annotations

import pytest
from botocore.exceptions import WaiterError

from sandbox.faults import Fault
from sandbox.installation import seed_installation
from tests.plugins.support import mutations
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.memorydb import MemoryDbHook
from ue_backup.waiters import WAITERS_DIR

TAGS = [{"Key": "ue-backup:backup-set", "Value": "ue-test-20250101t000000z"}]
FAST_WAIT = {"Delay": 0.1, "MaxAttempts": 100}


@pytest.fixture
def cluster(sandbox) -> str:
    sandbox.durations.update(memorydb_snapshot=0.1, memorydb_cluster=0.1)
    return seed_installation(sandbox, velero=False, ecds=()).memorydb_cluster


@pytest.fixture
def hook(sandbox) -> MemoryDbHook:
    return MemoryDbHook()


def test_the_hook_uses_this_projects_waiters(sandbox, hook):
    assert hook.waiter_path == WAITERS_DIR / "memorydb.json"
    assert hook.get_waiter("snapshot_available").name == "snapshot_available"
    assert hook.get_waiter("cluster_available").name == "cluster_available"


def test_create_snapshot_is_idempotent_by_name(sandbox, hook, cluster):
    assert hook.get_snapshot("snap") is None

    created = hook.create_snapshot(cluster_name=cluster, snapshot_name="snap", tags=TAGS)
    again = hook.create_snapshot(cluster_name=cluster, snapshot_name="snap", tags=TAGS)

    assert created["Name"] == again["Name"] == "snap"
    assert len(mutations(sandbox, "memorydb", "CreateSnapshot")) == 1
    detailed = hook.get_snapshot("snap")
    assert detailed["ClusterConfiguration"]["Name"] == cluster
    assert detailed["ClusterConfiguration"]["Shards"]


def test_the_snapshot_waiter_succeeds_on_available_and_fails_on_failed(sandbox, hook, cluster):
    hook.create_snapshot(cluster_name=cluster, snapshot_name="good", tags=TAGS)
    hook.get_waiter("snapshot_available").wait(SnapshotName="good", WaiterConfig=FAST_WAIT)
    assert hook.get_snapshot("good")["Status"] == "available"

    sandbox.faults.add(Fault("memorydb", "CreateSnapshot", kind="outcome", state="failed"))
    hook.create_snapshot(cluster_name=cluster, snapshot_name="bad", tags=TAGS)
    with pytest.raises(WaiterError, match="terminal failure"):
        hook.get_waiter("snapshot_available").wait(SnapshotName="bad", WaiterConfig=FAST_WAIT)


def test_the_snapshot_waiter_fails_on_a_missing_snapshot(sandbox, hook):
    with pytest.raises(WaiterError, match="terminal failure"):
        hook.get_waiter("snapshot_available").wait(SnapshotName="nope", WaiterConfig=FAST_WAIT)


def test_list_snapshots_of_a_cluster_with_their_tags(sandbox, hook, cluster):
    hook.create_snapshot(cluster_name=cluster, snapshot_name="snap", tags=TAGS)

    (snapshot,) = hook.list_snapshots(cluster)

    assert snapshot["Name"] == "snap"
    assert snapshot["Tags"] == {"ue-backup:backup-set": "ue-test-20250101t000000z"}


def test_get_cluster(sandbox, hook, cluster):
    assert hook.get_cluster(cluster)["Name"] == cluster
    assert hook.get_cluster("no-such-cluster") is None


def test_a_create_whose_answer_was_lost_returns_the_snapshot_it_made(sandbox, hook, cluster):
    sandbox.faults.add(Fault("memorydb", "CreateSnapshot", kind="lost"))

    created = hook.create_snapshot(cluster_name=cluster, snapshot_name="snap", tags=TAGS)

    assert created["Name"] == "snap"
    made, refused = sandbox.log.entries("memorydb", "CreateSnapshot")
    assert (made.detail["served"], refused.detail["status"]) == (200, 400)


OTHER_SET = [{"Key": "ue-backup:backup-set", "Value": "ue-test-20990101t000000z"}]


@pytest.mark.parametrize("tags", [[], OTHER_SET], ids=["untagged", "another-set"])
def test_a_snapshot_of_the_name_that_is_not_the_sets_is_refused(sandbox, hook, cluster, tags):
    sandbox.client("memorydb").create_snapshot(ClusterName=cluster, SnapshotName="snap", Tags=tags)

    with pytest.raises(PermanentFailure, match="snap exists but is not this set's"):
        hook.create_snapshot(cluster_name=cluster, snapshot_name="snap", tags=TAGS)

    # and when the look came before the other's create, the create's refusal is not taken
    # for a lost answer of ours
    sandbox.faults.add(
        Fault("memorydb", "DescribeSnapshots", code="SnapshotNotFoundFault", status=400)
    )
    with pytest.raises(PermanentFailure, match="not this set's"):
        hook.create_snapshot(cluster_name=cluster, snapshot_name="snap", tags=TAGS)
    assert [e.detail["status"] for e in sandbox.log.entries("memorydb", "CreateSnapshot")] == [
        200,
        400,
    ]


# --- the calls preflight, retention, verify and the restore's report make -----------------


def test_describe_cluster_raises_where_get_cluster_says_none(sandbox, hook, cluster):
    assert hook.describe_cluster(cluster)["Name"] == cluster
    with pytest.raises(hook.conn.exceptions.ClusterNotFoundFault):
        hook.describe_cluster("no-such-cluster")


def test_delete_snapshot_then_deleting_it_again_is_snapshot_not_found(sandbox, hook, cluster):
    from botocore.exceptions import ClientError

    hook.create_snapshot(cluster_name=cluster, snapshot_name="old", tags=TAGS)
    hook.get_waiter("snapshot_available").wait(SnapshotName="old", WaiterConfig=FAST_WAIT)

    hook.delete_snapshot("old")

    assert hook.get_snapshot("old") is None
    with pytest.raises(ClientError) as again:
        hook.delete_snapshot("old")
    assert again.value.response["Error"]["Code"] == "SnapshotNotFoundFault"  # retention: gone


def test_add_tags_adds_to_the_snapshots_tags(sandbox, hook, cluster):
    snapshot = hook.create_snapshot(cluster_name=cluster, snapshot_name="snap", tags=TAGS)

    hook.add_tags(snapshot["ARN"], [{"Key": "ue-backup:verified", "Value": "passed"}])

    assert hook.tags(snapshot["ARN"]) == {
        "ue-backup:backup-set": "ue-test-20250101t000000z",
        "ue-backup:verified": "passed",
    }
