"""MemoryDB: moto's clusters and snapshots, with the real service's timing and checks.

moto makes snapshots ``available`` at once, restores a cluster from any
snapshot name, finds the wrong snapshot when asked by cluster and name, and has
no ``CopySnapshot``. Here a snapshot is ``creating`` (a copy ``copying``) for
``durations.memorydb_snapshot``, a cluster restored from a snapshot is
``creating`` for ``durations.memorydb_cluster`` and needs a snapshot that
exists and is available, and ``CopySnapshot`` makes the target snapshot.

``CopySnapshot`` with ``TargetBucket`` exports instead, as MemoryDB does: the
bucket must exist in the snapshot's own region (MemoryDB cannot copy or
export a snapshot to another region), one ``<name>-<shard>.rdb`` object per
shard is written to it at once, and the source snapshot shows ``exporting``
for ``durations.memorydb_export``. ``CreateCluster`` with ``SnapshotArns``
seeds a cluster from such objects, which must be in a bucket of the
cluster's region.

moto deletes a cluster at once; here it is ``deleting`` for
``durations.memorydb_delete`` and then gone, and only an ``available`` (or
``create-failed``) cluster can be deleted (``InvalidClusterStateFault``).

moto has no parameter groups (any name is taken), no ``Engine``, ``NetworkType``
or ``IpDiscovery``, and takes any ``DataTiering``. Here parameter groups are
modelled by hand (``CreateParameterGroup``, ``DescribeParameterGroups``,
``DeleteParameterGroup``; the engines' defaults always there, a group a cluster
uses not deletable), and ``CreateCluster`` refuses, as MemoryDB does, a
parameter group that does not exist or is of another engine family than the
cluster's engine and version, an ``r6gd`` node type without ``DataTiering``
and ``DataTiering`` on any other; the engine and the IP settings are kept and
described.

A subnet group lists the subnets it was made with, deleted ones too, and
``CreateCluster`` refuses one with none of them left, and security groups of
another VPC than the group's (``placement``).

With the sandbox's ``real_data`` on, each cluster is a real ``redis-server`` on
127.0.0.1 and each snapshot its RDB file (``memorydb_data``): the hooks below
start, save, copy, export, load and stop them; off, nothing of that runs.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from moto.core.responses import ActionResult
from moto.memorydb import urls
from moto.memorydb.models import MemoryDBCluster, MemoryDBSnapshot, MemoryDBSubnetGroup
from moto.memorydb.responses import MemoryDBResponse
from moto.s3.models import s3_backends

from sandbox.aws import memorydb_data as data
from sandbox.aws import placement
from sandbox.aws.context import OneCallAtATime, current, state_of
from sandbox.aws.errors import AwsError
from sandbox.aws.extensions import Extension
from sandbox.aws.progress import Progress, TimedStatus, make_timed
from sandbox.aws.protocol import target_of
from sandbox.aws.resp import HOST


class TimedSnapshot(TimedStatus, MemoryDBSnapshot):
    """A moto snapshot that is ``creating`` (or ``copying``) until its ``Progress`` ends."""


class TimedCluster(TimedStatus, MemoryDBCluster):
    """A moto cluster that is ``creating`` until its ``Progress`` ends."""

    failure_status = "create-failed"


class DeletingCluster(TimedStatus, MemoryDBCluster):
    """A cluster being deleted: ``deleting`` until its ``Progress`` ends, then gone."""

    running_statuses = ("deleting",)


class ListedSubnetGroup(MemoryDBSubnetGroup):
    """A subnet group that lists the subnets it was made with, deleted ones too, in the VPC
    it was made in (moto reads them from EC2 each time: a deleted subnet vanished from the
    list, and a group with none left answered every description with an internal error)."""

    _listed: list[Any]
    _vpc: str

    @property
    def subnets(self) -> Any:  # type: ignore[override]
        return self._listed

    @property
    def vpc_id(self) -> str:
        return self._vpc


class MemoryDbState:
    """What one account and region remembers beyond moto: the clusters being deleted, and
    the access control lists (moto has none)."""

    def __init__(self, backend: Any) -> None:
        self.deleting: dict[str, Progress] = {}
        self.acls: dict[str, dict[str, Any]] = {}
        self.parameter_groups: dict[str, dict[str, str]] = {
            name: {"Family": family, "Description": "Default parameter group for " + family}
            for name, family in DEFAULT_PARAMETER_GROUPS.items()
        }
        self.clusters: dict[str, dict[str, str]] = {}  # name: Engine, NetworkType, IpDiscovery


# MemoryDB's built-in ACL, in every region: it lets anyone who reaches the cluster in.
OPEN_ACCESS = "open-access"
# The engines' default parameter groups, in every region, and their families.
DEFAULT_PARAMETER_GROUPS = {
    "default.memorydb-redis6": "memorydb_redis6",
    "default.memorydb-redis7": "memorydb_redis7",
    "default.memorydb-valkey7": "memorydb_valkey7",
}
DATA_TIERING_NODE_TYPES = ("db.r6gd.",)  # CreateCluster.DataTiering: required there, only there


class SandboxMemoryDbResponse(OneCallAtATime, MemoryDBResponse):
    @property
    def _request(self) -> dict[str, Any]:
        return json.loads(self.body or "{}")

    def call_action(self) -> Any:
        with current().lock:
            self._forget_deleted()
            return super().call_action()

    def _forget_deleted(self) -> None:
        """Clusters whose deletion has run its time are gone (moto removes them at once)."""
        state = state_of(self.memorydb_backend, MemoryDbState)
        for name, progress in list(state.deleting.items()):
            if progress.finished:
                del state.deleting[name]
                self.memorydb_backend.clusters.pop(name, None)
                state.clusters.pop(name, None)

    def delete_cluster(self) -> ActionResult:
        """``deleting`` for ``durations.memorydb_delete``; refused unless the cluster is settled.

        MemoryDB refuses to delete a cluster that is being created, updated or
        already deleted; a cluster whose creation failed can be deleted.
        """
        request = self._request
        name = request.get("ClusterName")
        cluster = self.memorydb_backend.clusters.get(name)
        if cluster is None:
            raise AwsError("ClusterNotFoundFault", f"Cluster {name} not found.")
        if cluster.status not in ("available", "create-failed"):
            raise AwsError(
                "InvalidClusterStateFault",
                f"Cluster {name} is {cluster.status}: it cannot be deleted now.",
            )
        if request.get("FinalSnapshotName"):
            self.memorydb_backend.create_snapshot(
                cluster_name=name, snapshot_name=request["FinalSnapshotName"], source="manual"
            )
            data.take_snapshot(self._root, self._key(name), self._key(request["FinalSnapshotName"]))
        data.stop_cluster(self._key(name))
        progress = self._progress("DeleteCluster", current().durations.memorydb_delete)
        make_timed(cluster, DeletingCluster, progress)
        cluster.status = "deleting"
        state_of(self.memorydb_backend, MemoryDbState).deleting[name] = progress
        return ActionResult({"Cluster": cluster.to_dict()})

    def _key(self, name: str) -> data.Key:
        """A cluster's or snapshot's key among the real data stores (``memorydb_data``)."""
        return (self.current_account, self.region, name)

    @property
    def _root(self) -> Any:
        return current().files.root

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
        data.take_snapshot(
            self._root, self._key(snapshot.cluster_name), self._key(snapshot.snapshot_name)
        )
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
        if request.get("TargetBucket"):
            return self._export(source, name, request["TargetBucket"])
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
        data.copy_snapshot(self._root, self._key(source.snapshot_name), self._key(name))
        if request.get("Tags"):
            self.memorydb_backend.tag_resource(target.arn, request["Tags"])
        self._time(target, "copying", "CopySnapshot")
        return ActionResult({"Snapshot": target.to_dict()})

    def _export(self, source: MemoryDBSnapshot, name: str, bucket_name: str) -> ActionResult:
        """Write the snapshot's shards to the bucket as ``.rdb`` objects; nothing else changes."""
        s3 = s3_backends[self.current_account]["aws"]
        bucket = s3.buckets.get(bucket_name)
        if bucket is None:
            raise AwsError(
                "InvalidParameterValueException", f"The S3 bucket {bucket_name} does not exist."
            )
        if bucket.region_name != self.region:
            raise AwsError(
                "InvalidParameterValueException",
                f"The S3 bucket {bucket_name} is in {bucket.region_name}, not in {self.region}: "
                "a snapshot can only be exported to a bucket in its own region.",
            )
        keys = [export_key(name, i) for i in range(1, len(source.shards) + 1)]
        if any(key in bucket.keys for key in keys):
            raise AwsError(
                "SnapshotAlreadyExistsFault", f"Snapshot {name} already exists in {bucket_name}."
            )
        real = data.snapshot_rdb(self._key(source.snapshot_name))  # the whole data set, or None
        for key, shard in zip(keys, source.shards, strict=True):
            s3.put_object(bucket_name, key, real or rdb_bytes(source, shard))
        self._time(source, "exporting", "CopySnapshot", current().durations.memorydb_export)
        return ActionResult({"Snapshot": source.to_dict()})

    def _time(
        self,
        snapshot: MemoryDBSnapshot,
        running_status: str,
        operation: str,
        duration: float | None = None,
    ) -> None:
        make_timed(
            snapshot,
            TimedSnapshot,
            self._progress(
                operation,
                current().durations.memorydb_snapshot if duration is None else duration,
            ),
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

    # --- access control lists: modelled by hand (moto 5 has none), as the MemoryDB API
    # reference describes CreateACL and DescribeACLs; users are names only.

    def _acl(self, name: str, users: list[str]) -> dict[str, Any]:
        return {
            "Name": name,
            "Status": "active",
            "UserNames": list(users),
            "MinimumEngineVersion": "6.2",
            "PendingChanges": {},
            "Clusters": [
                c.cluster_name
                for c in self.memorydb_backend.clusters.values()
                if c.acl_name == name
            ],
            "ARN": f"arn:aws:memorydb:{self.region}:{self.current_account}:acl/{name}",
        }

    def create_acl(self) -> ActionResult:
        request = self._request
        name = request["ACLName"]
        acls = state_of(self.memorydb_backend, MemoryDbState).acls
        if name in acls or name == OPEN_ACCESS:
            raise AwsError("ACLAlreadyExistsFault", f"ACL {name} already exists.")
        acls[name] = {"users": list(request.get("UserNames") or [])}
        return ActionResult({"ACL": self._acl(name, acls[name]["users"])})

    def describe_acls(self) -> ActionResult:
        """One ACL by name (``ACLNotFoundFault`` when there is none), or all of them."""
        acls = {OPEN_ACCESS: {"users": ["default"]}}
        acls |= state_of(self.memorydb_backend, MemoryDbState).acls
        name = self._request.get("ACLName")
        if name is not None and name not in acls:
            raise AwsError("ACLNotFoundFault", f"ACL {name} not found.")
        chosen = [name] if name is not None else sorted(acls)
        return ActionResult({"ACLs": [self._acl(n, acls[n]["users"]) for n in chosen]})

    describe_ac_ls = describe_acls  # the method name moto derives from "DescribeACLs"

    def create_subnet_group(self) -> ActionResult:
        result = super().create_subnet_group()
        group = self.memorydb_backend.subnet_groups[self._request["SubnetGroupName"]]
        listed, vpc = list(group.subnets), group.vpc_id
        group.__class__ = ListedSubnetGroup
        group._listed, group._vpc = listed, vpc
        return result

    def _check_network(self) -> None:
        """CreateCluster's ACL and subnet group must exist (moto takes any ACL name, and
        answers an unknown subnet group with an internal error, not MemoryDB's fault), the
        group must have a subnet left and the security groups be in its VPC
        (``placement``; none named: the default group, in the default VPC)."""
        request = self._request
        acl = request.get("ACLName")
        if (
            acl
            and acl != OPEN_ACCESS
            and acl not in state_of(self.memorydb_backend, MemoryDbState).acls
        ):
            raise AwsError("ACLNotFoundFault", f"ACL {acl} not found.")
        group = request.get("SubnetGroupName")
        if group and group not in self.memorydb_backend.subnet_groups:
            raise AwsError("SubnetGroupNotFoundFault", f"Subnet group {group} not found.")
        found = self.memorydb_backend.subnet_groups.get(group or "default")
        if found is None:
            return
        vpc = (
            found.vpc_id
            if isinstance(found, ListedSubnetGroup)
            else placement.default_vpc(self.current_account, self.region)  # moto's default
        )
        placement.refuse_cluster_placement(
            self.current_account,
            self.region,
            found.subnet_group_name,
            vpc,
            list(found.subnet_ids),
            request.get("SecurityGroupIds") or [],
        )

    # --- parameter groups: modelled by hand (moto 5 has none), as the MemoryDB API
    # reference describes CreateParameterGroup, DescribeParameterGroups, DeleteParameterGroup.

    @property
    def _state(self) -> MemoryDbState:
        return state_of(self.memorydb_backend, MemoryDbState)

    def _parameter_group(self, name: str) -> dict[str, Any]:
        group = self._state.parameter_groups.get(name)
        if group is None:
            raise AwsError("ParameterGroupNotFoundFault", f"Parameter group {name} not found.")
        return {
            "Name": name,
            **group,
            "ARN": f"arn:aws:memorydb:{self.region}:{self.current_account}:parametergroup/{name}",
        }

    def create_parameter_group(self) -> ActionResult:
        request = self._request
        name = request["ParameterGroupName"]
        if name in self._state.parameter_groups:
            raise AwsError(
                "ParameterGroupAlreadyExistsFault", f"Parameter group {name} already exists."
            )
        if request["Family"] not in DEFAULT_PARAMETER_GROUPS.values():
            raise AwsError("InvalidParameterValueException", f"Unknown family {request['Family']}.")
        self._state.parameter_groups[name] = {
            "Family": request["Family"],
            "Description": request.get("Description") or "",
        }
        return ActionResult({"ParameterGroup": self._parameter_group(name)})

    def describe_parameter_groups(self) -> ActionResult:
        name = self._request.get("ParameterGroupName")
        names = [name] if name else sorted(self._state.parameter_groups)
        return ActionResult({"ParameterGroups": [self._parameter_group(n) for n in names]})

    def delete_parameter_group(self) -> ActionResult:
        name = self._request["ParameterGroupName"]
        group = self._parameter_group(name)
        if name in DEFAULT_PARAMETER_GROUPS:
            raise AwsError(
                "InvalidParameterValueException",
                f"Default parameter group {name} cannot be deleted.",
            )
        users = [
            c.cluster_name
            for c in self.memorydb_backend.clusters.values()
            if c.parameter_group_name == name
        ]
        if users:
            raise AwsError(
                "InvalidParameterGroupStateFault",
                f"Parameter group {name} is in use by {', '.join(users)}.",
            )
        del self._state.parameter_groups[name]
        return ActionResult({"ParameterGroup": group})

    def _check_shape(self) -> dict[str, str]:
        """CreateCluster's parameter group, data tiering and engine, refused as MemoryDB does;
        the engine, IP settings and parameter group the new cluster is described with."""
        request = self._request
        engine = request.get("Engine") or "redis"
        version = str(request.get("EngineVersion") or "7.1")  # moto's default version
        family = f"memorydb_{engine}{version.split('.')[0]}"
        group = request.get("ParameterGroupName")
        if group:
            found = self._parameter_group(group)
            if found["Family"] != family:
                raise AwsError(
                    "InvalidParameterCombinationException",
                    f"Parameter group {group} is of family {found['Family']}, which does not "
                    f"match engine {engine} {version} ({family}).",
                )
        tiered = str(request.get("NodeType") or "").startswith(DATA_TIERING_NODE_TYPES)
        if tiered and request.get("DataTiering") is not True:
            raise AwsError(
                "InvalidParameterCombinationException",
                f"DataTiering must be true for node type {request.get('NodeType')}.",
            )
        if request.get("DataTiering") and not tiered:
            raise AwsError(
                "InvalidParameterCombinationException",
                f"Data tiering is only supported for r6gd node types, not "
                f"{request.get('NodeType')}.",
            )
        return {
            "Engine": engine,
            "NetworkType": request.get("NetworkType") or "ipv4",
            "IpDiscovery": request.get("IpDiscovery") or "ipv4",
            "ParameterGroupName": group or f"default.memorydb-{family.removeprefix('memorydb_')}",
        }

    def _described(self, clusters: list[dict[str, Any]]) -> None:
        """Add what moto does not keep (``_check_shape``) to clusters as described."""
        for cluster in clusters:
            cluster.update(self._state.clusters.get(cluster.get("Name"), {}))

    def describe_clusters(self) -> ActionResult:
        result = super().describe_clusters()
        self._described(result.result["Clusters"])  # type: ignore[index]
        return result

    def create_cluster(self) -> ActionResult:
        self._check_network()
        shape = self._check_shape()
        result = self._create_cluster()
        name = self._request["ClusterName"]
        self.memorydb_backend.clusters[name].parameter_group_name = shape.pop("ParameterGroupName")
        self._state.clusters[name] = shape
        result.result["Cluster"]["ParameterGroupName"] = (  # type: ignore[index]
            self.memorydb_backend.clusters[name].parameter_group_name
        )
        self._described([result.result["Cluster"]])  # type: ignore[index]
        return result

    def update_cluster(self) -> ActionResult:
        """A parameter group named must exist and fit the cluster's engine (moto takes any)."""
        group = self._request.get("ParameterGroupName")
        cluster = self.memorydb_backend.clusters.get(self._request.get("ClusterName"))
        if group and cluster is not None:
            found = self._parameter_group(group)
            engine = self._state.clusters.get(cluster.cluster_name, {}).get("Engine", "redis")
            family = f"memorydb_{engine}{str(cluster.engine_version).split('.')[0]}"
            if found["Family"] != family:
                raise AwsError(
                    "InvalidParameterCombinationException",
                    f"Parameter group {group} is of family {found['Family']}, not {family}.",
                )
        result = super().update_cluster()
        self._described([result.result["Cluster"]])  # type: ignore[index]
        return result

    def _create_cluster(self) -> ActionResult:
        snapshot_name = self._request.get("SnapshotName")
        snapshot_arns = self._request.get("SnapshotArns")
        if snapshot_name is None and not snapshot_arns:
            return self._serve(super().create_cluster(), [])
        if snapshot_name is not None and self._snapshot(snapshot_name).status != "available":
            raise AwsError(
                "InvalidParameterValueException", f"Snapshot {snapshot_name} is not available."
            )
        for arn in snapshot_arns or ():
            self._check_seed(arn)
        result = super().create_cluster()
        cluster = self.memorydb_backend.clusters[self._request["ClusterName"]]
        make_timed(
            cluster,
            TimedCluster,
            self._progress("CreateCluster", current().durations.memorydb_cluster),
        )
        result = self._serve(result, self._seeds(snapshot_name, snapshot_arns or []))
        result.result["Cluster"]["Status"] = cluster.status  # type: ignore[index]
        return result

    def _serve(self, result: ActionResult, seeds: list[bytes]) -> ActionResult:
        """With ``real_data``: the new cluster's server, loaded from ``seeds``, as its endpoint.

        A seed Redis cannot load leaves the cluster ``create-failed`` once it has been
        ``creating`` for its time, as MemoryDB fails on a bad RDB file.
        """
        if not current().real_data:
            return result
        cluster = self.memorydb_backend.clusters[self._request["ClusterName"]]
        try:
            server = data.start_cluster(self._root, self._key(cluster.cluster_name), seeds)
        except data.RedisLoadError:
            cluster.status = "create-failed"
            return result
        cluster.cluster_endpoint = {"Address": HOST, "Port": server.port}
        for shard in cluster.shards:
            for node in shard["Nodes"]:
                node["Endpoint"] = dict(cluster.cluster_endpoint)
        result.result["Cluster"] = cluster.to_dict()  # type: ignore[index]
        return result

    def _seeds(self, snapshot_name: str | None, arns: list[str]) -> list[bytes]:
        """The RDB files a new cluster loads: its snapshot's (if it has one), or the objects'."""
        if snapshot_name is not None:
            rdb = data.snapshot_rdb(self._key(snapshot_name))
            return [rdb] if rdb is not None else []
        buckets = s3_backends[self.current_account]["aws"].buckets
        seeds = []
        for arn in arns:
            bucket_name, _, key = arn.removeprefix("arn:aws:s3:::").partition("/")
            seeds.append(buckets[bucket_name].keys[key].value)
        return seeds

    def delete_snapshot(self) -> ActionResult:
        result = super().delete_snapshot()
        data.forget_snapshot(self._key(self._request["SnapshotName"]))
        return result

    def _check_seed(self, arn: str) -> None:
        """An ``.rdb`` object to seed a cluster from: it must exist, in this region."""
        bucket_name, _, key = arn.removeprefix("arn:aws:s3:::").partition("/")
        bucket = s3_backends[self.current_account]["aws"].buckets.get(bucket_name)
        if not arn.startswith("arn:aws:s3:::") or bucket is None or key not in bucket.keys:
            raise AwsError("InvalidParameterValueException", f"No snapshot object at {arn}.")
        if bucket.region_name != self.region:
            raise AwsError(
                "InvalidParameterValueException",
                f"The snapshot object {arn} is in {bucket.region_name}, not in {self.region}.",
            )


def export_key(name: str, shard: int) -> str:
    """The object an export writes for one shard (1-based)."""
    return f"{name}-{shard:04d}.rdb"


def rdb_bytes(snapshot: MemoryDBSnapshot, shard: dict[str, Any]) -> bytes:
    """A stand-in for a shard's RDB file: the header and what the shard held, as JSON."""
    body = {
        "cluster": snapshot.cluster_name,
        "shard": shard["Name"],
        "time": shard["SnapshotCreationTime"].isoformat(),
    }
    return b"REDIS0011" + json.dumps(body).encode() + b"\n" * 1024


EXTENSION = Extension(urls, SandboxMemoryDbResponse)
