"""MemoryDB: snapshots of the aggregation cluster, and clusters restored from them.

The provider has no MemoryDB hook. This one owns the ``memorydb`` client and
the waiters in ``waiters/memorydb.json`` (AWS ships none).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from ue_backup.aws import RetryingHookMixin
from ue_backup.backup_set import OWNER_TAGS, same_owner, tag_dict
from ue_backup.errors import PermanentFailure
from ue_backup.waiters import CustomWaitersMixin


class MemoryDbHook(RetryingHookMixin, CustomWaitersMixin, AwsBaseHook):
    """Interact with Amazon MemoryDB through the ``memorydb`` boto3 client."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "memorydb"
        super().__init__(*args, **kwargs)

    def get_snapshot(self, snapshot_name: str) -> dict[str, Any] | None:
        """The snapshot with its shard details and tags, or None when it does not exist."""
        try:
            found = self.conn.describe_snapshots(SnapshotName=snapshot_name, ShowDetail=True)
        except self.conn.exceptions.SnapshotNotFoundFault:
            return None
        snapshots = [s for s in found["Snapshots"] if s["Name"] == snapshot_name]
        return snapshots[0] if snapshots else None

    def create_snapshot(
        self, *, cluster_name: str, snapshot_name: str, tags: list[dict[str, str]]
    ) -> dict[str, Any]:
        """Create the snapshot, or return the existing one of that name (a retry).

        An existing snapshot is returned only when it is of ``cluster_name``
        and carries every one of ``tags``' installation and set tags; any
        other of that name raises ``PermanentFailure``. So is a create that
        botocore retried after its answer was lost (a 5xx, a dropped
        connection): the retry meets ``SnapshotAlreadyExistsFault``, and the
        snapshot its first attempt made is adopted.
        """
        existing = self.get_snapshot(snapshot_name)
        if existing is not None:
            existing = self._ours(existing, cluster_name, tags)
            self.log.info("MemoryDB snapshot %s exists already: reusing it", snapshot_name)
            return existing
        try:
            return self.conn.create_snapshot(
                ClusterName=cluster_name, SnapshotName=snapshot_name, Tags=tags
            )["Snapshot"]
        except self.conn.exceptions.SnapshotAlreadyExistsFault:
            existing = self.get_snapshot(snapshot_name)
            if existing is None:
                raise
            existing = self._ours(existing, cluster_name, tags)
            self.log.info("MemoryDB snapshot %s was made by an earlier attempt", snapshot_name)
            return existing

    def _ours(
        self, snapshot: dict[str, Any], cluster_name: str, tags: list[dict[str, str]]
    ) -> dict[str, Any]:
        """The snapshot, when it is of the cluster and carries the set's tags; else refuse."""
        found = self.tags(snapshot["ARN"])
        cluster = (snapshot.get("ClusterConfiguration") or {}).get("Name")
        if cluster != cluster_name or not same_owner(tag_dict(tags), found, OWNER_TAGS):
            raise PermanentFailure(
                f"MemoryDB snapshot {snapshot['Name']} exists but is not this set's "
                f"(cluster {cluster}, tags {found}): not adopting it"
            )
        return snapshot

    def list_snapshots(self, cluster_name: str | None = None) -> list[dict[str, Any]]:
        """Every snapshot of the cluster (None: of every cluster), in detail, with its tags."""
        kwargs: dict[str, Any] = {"ShowDetail": True}
        if cluster_name:
            kwargs["ClusterName"] = cluster_name
        paginator = self.conn.get_paginator("describe_snapshots")
        snapshots = [s for page in paginator.paginate(**kwargs) for s in page["Snapshots"]]
        for snapshot in snapshots:
            snapshot["Tags"] = self.tags(snapshot["ARN"])
        return snapshots

    def tags(self, arn: str) -> dict[str, str]:
        """The tags of a snapshot or cluster, as a dict."""
        return tag_dict(self.conn.list_tags(ResourceArn=arn).get("TagList"))

    def get_cluster(self, cluster_name: str) -> dict[str, Any] | None:
        try:
            return self.conn.describe_clusters(ClusterName=cluster_name)["Clusters"][0]
        except self.conn.exceptions.ClusterNotFoundFault:
            return None

    def describe_cluster(self, cluster_name: str) -> dict[str, Any]:
        """The cluster; raises ``ClusterNotFoundFault`` where ``get_cluster`` says None.

        For callers that report MemoryDB's own error: preflight names its code
        when the configured cluster cannot be used, and the in-place restore's
        report says why a restored cluster's endpoint is not known.
        """
        return self.conn.describe_clusters(ClusterName=cluster_name)["Clusters"][0]

    def existing_subnet_groups(self, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Those of the subnet groups ``names`` that exist, each as described (its VPC and
        ``Subnets``: a restore's network check, as ``recorded_network.subnet_group`` reads
        it; one recreated by name may be in another VPC)."""
        found = {}
        for name in names:
            try:
                [group] = self.conn.describe_subnet_groups(SubnetGroupName=name)["SubnetGroups"]
            except self.conn.exceptions.SubnetGroupNotFoundFault:
                continue
            found[name] = group
        return found

    def existing_acls(self, names: Iterable[str]) -> set[str]:
        """Those of the ACLs ``names`` that exist (a restore's network check)."""
        found = set()
        for name in names:
            try:
                self.conn.describe_acls(ACLName=name)
            except self.conn.exceptions.ACLNotFoundFault:
                continue
            found.add(name)
        return found

    def existing_parameter_groups(self, names: Iterable[str]) -> set[str]:
        """Those of the parameter groups ``names`` that exist (a restore's check of the
        group a backup set recorded: one deleted would fail ``CreateCluster`` late)."""
        found = set()
        for name in names:
            try:
                self.conn.describe_parameter_groups(ParameterGroupName=name)
            except self.conn.exceptions.ParameterGroupNotFoundFault:
                continue
            found.add(name)
        return found

    def delete_snapshot(self, snapshot_name: str) -> None:
        """Delete a snapshot (retention); raises ``SnapshotNotFoundFault`` when it is gone.

        The error is raised, not swallowed: retention counts that code as
        "already gone" along with the other services' NotFound codes.
        """
        self.conn.delete_snapshot(SnapshotName=snapshot_name)

    def add_tags(self, arn: str, tags: list[dict[str, str]]) -> None:
        """Add ``tags`` (``Key``/``Value`` pairs) to a snapshot or cluster; others stay.

        Verification marks the set's snapshot with its verdict through this;
        writing the same tags again changes nothing.
        """
        self.conn.tag_resource(ResourceArn=arn, Tags=tags)
