"""The records an operator returns and the backup's read-back and retention read alike."""

from __future__ import annotations

from datetime import UTC, datetime

from ue_backup.manifest import GB
from ue_backup.planning import iso
from ue_backup.records import (
    memorydb_snapshot_record,
    rds_copy_record,
    rds_snapshot_record,
    s3_object_arn,
)

CREATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
COPIED = datetime(2026, 1, 2, 4, 0, 0, tzinfo=UTC)
SNAPSHOT = {
    "DBSnapshotIdentifier": "ueb-1",
    "DBSnapshotArn": "arn:aws:rds:eu-west-1:1:snapshot:ueb-1",
    "SnapshotCreateTime": CREATED,
    "Status": "available",
    "AllocatedStorage": 20,
    "DBInstanceIdentifier": "ue-db",
}


def test_an_rds_snapshot_record_has_its_time_and_size():
    assert rds_snapshot_record(SNAPSHOT) == {
        "id": "ueb-1",
        "arn": "arn:aws:rds:eu-west-1:1:snapshot:ueb-1",
        "time": CREATED.isoformat(),
        "state": "available",
        "size_bytes": 20 * GB,
        "instance": "ue-db",
    }


def test_an_rds_copy_keeps_the_data_time_not_its_own():
    copy = {**SNAPSHOT, "SnapshotCreateTime": COPIED, "OriginalSnapshotCreateTime": CREATED}

    record = rds_copy_record(copy, "eu-central-1")

    assert (record["time"], record["copied_at"]) == (CREATED.isoformat(), COPIED.isoformat())
    assert record["region"] == "eu-central-1"


def test_a_memorydb_snapshot_record_sums_its_shard_sizes():
    snapshot = {
        "Name": "ueb-1",
        "Status": "available",
        "ClusterConfiguration": {
            "Name": "agg",
            "Shards": [
                {"Size": "11 MB", "SnapshotCreationTime": CREATED},
                {"Size": "1 KB", "SnapshotCreationTime": COPIED},
            ],
        },
    }

    record = memorydb_snapshot_record(snapshot)

    assert record["size_bytes"] == 11 * 1024**2 + 1024
    assert record["time"] == iso(CREATED)  # the earliest shard's
    assert record["cluster"] == "agg"


def test_an_s3_object_arn():
    assert s3_object_arn("b", "k/x.rdb") == "arn:aws:s3:::b/k/x.rdb"
