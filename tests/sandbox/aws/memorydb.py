"""MemoryDB: moto's clusters and snapshots, with the real service's timing and checks.

moto makes snapshots ``available`` at once, restores a cluster from any
snapshot name, finds the wrong snapshot when asked by cluster and name, and has
no ``CopySnapshot``. Here a snapshot is ``creating`` (a copy ``copying``) for
``durations.memorydb_snapshot``, a cluster restored from a snapshot is
``creating`` for ``durations.memorydb_cluster`` and needs a snapshot that
exists and is available, and ``CopySnapshot`` makes the target snapshot.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from moto.core.responses import ActionResult
from moto.memorydb import urls
from moto.memorydb.models import MemoryDBCluster, MemoryDBSnapshot
from moto.memorydb.responses import MemoryDBResponse

from tests.sandbox.aws.context import OneCallAtATime, current
from tests.sandbox.aws.errors import AwsError
from tests.sandbox.aws.extensions import Extension
from tests.sandbox.aws.progress import Progress, TimedStatus, make_timed
from tests.sandbox.aws.protocol import target_of


class TimedSnapshot(TimedStatus, MemoryDBSnapshot):
    """A moto snapshot that is ``creating`` (or ``copying``) until its ``Progress`` ends."""


class TimedCluster(TimedStatus, MemoryDBCluster):
    """A moto cluster that is ``creating`` until its ``Progress`` ends."""

    failure_status = "create-failed"


class SandboxMemoryDbResponse(OneCallAtATime, MemoryDBResponse):
    @property
    def _request(self) -> dict[str, Any]:
        return json.loads(self.body or "{}")

    def _progress(self, operation: str, duration: float) -> Progress:
        return Progress.begin(
            "memorydb", operation, target_of("memorydb", operation, self._request), duration
        )

    def _snapshot(self, name: str) -> MemoryDBSnapshot:
        snapshot = self.memorydb_backend.snapshots.get(name)
        if snapshot is None:
            raise AwsError("SnapshotNotFoundFault", f"Snapshot {name} not found.")
        return snapshot

    def create_snapshot(self) -> ActionResult:
        cluster = self.memorydb_backend.clusters.get(self._request.get("ClusterName"))
        if cluster is not None and cluster.status != "available":
            raise AwsError(
                "InvalidClusterStateFault", f"Cluster {cluster.cluster_name} is not available."
            )
        result = super().create_snapshot()
        snapshot = self.memorydb_backend.snapshots[self._request["SnapshotName"]]
        self._time(snapshot, "creating", "CreateSnapshot")
        result.result["Snapshot"]["Status"] = snapshot.status  # type: ignore[index]
        return result

    def copy_snapshot(self) -> ActionResult:
        request = self._request
        source = self._snapshot(request["SourceSnapshotName"])
        if source.status != "available":
            raise AwsError(
                "InvalidSnapshotStateFault", f"Snapshot {source.snapshot_name} is not available."
            )
        name = request["TargetSnapshotName"]
        if name in self.memorydb_backend.snapshots:
            raise AwsError("SnapshotAlreadyExistsFault", f"Snapshot {name} already exists.")
        target = MemoryDBSnapshot(
            account_id=self.current_account,
            region_name=self.region,
            cluster=source.cluster,
            snapshot_name=name,
            kms_key_id=request.get("KmsKeyId") or source.kms_key_id,
            tags=request.get("Tags"),
            source="manual",
        )
        target.shards = copy.deepcopy(source.shards)  # the data, and its point in time
        self.memorydb_backend.snapshots[name] = target
        if request.get("Tags"):
            self.memorydb_backend.tag_resource(target.arn, request["Tags"])
        self._time(target, "copying", "CopySnapshot")
        return ActionResult({"Snapshot": target.to_dict()})

    def _time(self, snapshot: MemoryDBSnapshot, running_status: str, operation: str) -> None:
        make_timed(
            snapshot,
            TimedSnapshot,
            self._progress(operation, current().durations.memorydb_snapshot),
            running_statuses=(running_status,),
        )

    def describe_snapshots(self) -> ActionResult:
        request = self._request
        cluster_name, name = request.get("ClusterName"), request.get("SnapshotName")
        if not (cluster_name and name):
            return super().describe_snapshots()
        snapshot = self._snapshot(name)
        if snapshot.cluster_name != cluster_name or request.get("Source") not in (
            None,
            snapshot.source,
        ):
            raise AwsError("SnapshotNotFoundFault", f"Snapshot {name} not found.")
        shown = snapshot.to_desc_dict() if request.get("ShowDetail") else snapshot.to_dict()
        return ActionResult({"Snapshots": [shown]})

    def create_cluster(self) -> ActionResult:
        snapshot_name = self._request.get("SnapshotName")
        if snapshot_name is None:
            return super().create_cluster()
        if self._snapshot(snapshot_name).status != "available":
            raise AwsError(
                "InvalidParameterValueException", f"Snapshot {snapshot_name} is not available."
            )
        result = super().create_cluster()
        cluster = self.memorydb_backend.clusters[self._request["ClusterName"]]
        make_timed(
            cluster,
            TimedCluster,
            self._progress("CreateCluster", current().durations.memorydb_cluster),
        )
        result.result["Cluster"]["Status"] = cluster.status  # type: ignore[index]
        return result


EXTENSION = Extension(urls, SandboxMemoryDbResponse)
