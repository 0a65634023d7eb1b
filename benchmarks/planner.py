"""Planner benchmark: plan a restore over 100,000 candidate points.

Reported as a ratio measured side by side in the same run: the planner's
time over the time to merely sort the same inventory's timestamps (the least
any planner must do). Absolute seconds are printed too, for scale only.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from ue_backup.planning import BACKUP_SET_TAG, plan_restore

POINTS = 100_000
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def inventory(points: int, seed: int = 7) -> dict[str, Any]:
    """``points`` EFS recovery points with RDS snapshots and MemoryDB snapshots around them.

    A third of the newest sets are incomplete, so the planner walks back.
    """
    rng = random.Random(seed)
    rds, efs, mdb = [], [], []
    for i in range(points):
        when = T0 + timedelta(minutes=10 * i)
        set_id = f"ue-bench-{i:08d}"
        rds.append(
            {
                "DBSnapshotIdentifier": f"s{i}",
                "SnapshotCreateTime": when,
                "Status": "available",
                "SnapshotType": "manual",
                "TagList": [{"Key": BACKUP_SET_TAG, "Value": set_id}],
            }
        )
        efs.append(
            {
                "RecoveryPointArn": f"arn:rp:{i}",
                "CreationDate": when + timedelta(seconds=5),
                "Status": "COMPLETED" if rng.random() > 0.3 or i < points * 0.9 else "PARTIAL",
                "Tags": {BACKUP_SET_TAG: set_id},
            }
        )
        mdb.append(
            {
                "Name": f"m{i}",
                "Status": "available" if i < points - 5 else "creating",
                "ClusterConfiguration": {
                    "Shards": [{"SnapshotCreationTime": when + timedelta(seconds=3)}]
                },
                "Tags": {BACKUP_SET_TAG: set_id},
            }
        )
    rng.shuffle(efs)
    return {
        "database": "rds",
        "rds_snapshots": rds,
        "rds_restore_window": None,
        "efs_recovery_points": efs,
        "memorydb_snapshots": mdb,
        "velero_backups": None,
    }


def best_of(runs: int, work) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def run(points: int = POINTS, runs: int = 3) -> dict[str, Any]:
    inv = inventory(points)
    request = {"type": "point_in_time", "target_time": (T0 + timedelta(days=3650)).isoformat()}
    planner = best_of(runs, lambda: plan_restore(inv, request))
    baseline = best_of(
        runs,
        lambda: (
            sorted(p["CreationDate"] for p in inv["efs_recovery_points"]),
            sorted(s["SnapshotCreateTime"] for s in inv["rds_snapshots"]),
            sorted(
                m["ClusterConfiguration"]["Shards"][0]["SnapshotCreationTime"]
                for m in inv["memorydb_snapshots"]
            ),
        ),
    )
    return {
        "name": "planner over 100,000 candidate points",
        "points": points,
        "planner_seconds": round(planner, 3),
        "sort_baseline_seconds": round(baseline, 3),
        "ratio_planner_to_sort": round(planner / baseline, 2),
    }
