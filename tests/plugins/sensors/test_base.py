"""A sensor's poke judges a waiter attempt as its trigger does: transient errors are "not yet"."""

from __future__ import annotations

import pytest

from tests.sandbox.faults import Fault
from ue_backup.sensors.memorydb import MemoryDbSnapshotAvailableSensor

ONE_ATTEMPT = {"retries": {"mode": "standard", "total_max_attempts": 1}}


@pytest.fixture
def sensor(sandbox, fast):
    sandbox.durations.update(memorydb_snapshot=0.1)
    client = sandbox.client("memorydb")
    client.create_cluster(
        ClusterName="agg", NodeType="db.t4g.small", ACLName="open-access", NumShards=1
    )
    client.create_snapshot(ClusterName="agg", SnapshotName="snap")
    return MemoryDbSnapshotAvailableSensor(
        task_id="wait", resource_id="snap", deferrable=False, botocore_config=ONE_ATTEMPT
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [("ThrottlingException", 400), ("ServiceUnavailableException", 503), ("InternalFailure", 500)],
)
def test_a_poke_that_meets_throttling_or_5xx_says_not_yet(sandbox, sensor, context, code, status):
    sandbox.faults.add(Fault("memorydb", "DescribeSnapshots", code=code, status=status, times=3))

    assert [sensor.poke(context) for _ in range(3)] == [False, False, False]
    assert sandbox.faults.armed() == []


def test_a_non_deferrable_wait_outlasts_throttling(sandbox, sensor, context):
    sandbox.faults.add(
        Fault("memorydb", "DescribeSnapshots", code="ThrottlingException", status=400, times=10)
    )

    assert sensor.execute(context) == "snap"


def test_a_poke_fails_this_try_on_an_error_that_is_not_transient(sandbox, sensor, context):
    sandbox.faults.add(Fault("memorydb", "DescribeSnapshots", code="AccessDenied", status=403))

    with pytest.raises(RuntimeError, match="AccessDenied"):
        sensor.poke(context)
