"""Deleting everything a restore drill created, whatever happened to the drill.

A drill leaves a full copy of the installation behind if nothing removes
it: an RDS instance, a file system, a MemoryDB cluster and restored
Kubernetes objects, all billed or running. The cleanup is the drill DAG's
teardown; it finds each temporary resource by the name the drill gave it
(``tasks/drill_steps.drill_names``), so it works after a failure at any step and
after a retry, and "already deleted" is simply done.

Each resource is in one of three states: ``gone``; ``present`` (a delete
call is due); ``busy`` (AWS or Kubernetes is still working on it: being
created, deleted, or its restore is still running, so a delete now would
be refused or would leave what is still to come). A round deletes what is
present; ``DrillCleanupOperator`` then waits in the triggerer until nothing
is busy, and rounds again until everything is gone. Reading the states
changes nothing, so the trigger uses the very same code.

This is the hook of the drill's cleanup: every AWS and Kubernetes call it
makes is here. The states and the resource types it deletes are pure rules
(``ue_backup.drill_resources``), so the drill's steps and DAG share them
without importing this module (and the Kubernetes client with it).

Never the live installation: every name is compared with the live
instance, cluster, file system and namespaces before anything is deleted.
A DataSync installation's drill also leaves its own copy task
(``ue-backup-restore-<drill id>``) and its destination location when the copy
failed or was not released: deleted only when they carry the drill's tag and
no set's (``DataSyncHook.restore_copy``), never a set's task or folder.

A drill from the protected copies also leaves, in the installation's own
account, the recovery points its bring-back copied into the installation's
vault (found through the copy jobs it started, read in the protected
account; each deleted through the installation's connection, the database's
snapshot going with it) and MemoryDB's files staged under
``ue-backup-restores/<drill id>/``. The locked copies they came from are
never touched: nothing here writes to the protected account, and a point
there is refused outright.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from kubernetes.client.rest import ApiException

from ue_backup.backup_set import INSTALLATION_TAG
from ue_backup.drill_resources import (
    BUSY,
    BY_HAND,
    COPY_JOB_RUNNING,
    GONE,
    PRESENT,
    RESTORE_JOB_RUNNING,
    RESTORED_RESOURCES,
    State,
)
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.rds import RdsHook
from ue_backup.hooks.velero import VeleroHook
from ue_backup.kube_names import FINISHED_PHASES, RESTORE_NAME_LABEL, modifiers_name

log = logging.getLogger(__name__)


def _gone() -> State:
    return State(GONE)


class DrillResources:
    """The temporary resources of one drill, as ``prepare`` named them.

    ``resources`` is the ``resources`` entry of the drill's settings;
    ``efs_restore_job`` the restore job id, when the restore was started.
    """

    def __init__(
        self,
        resources: Mapping[str, Any],
        efs_restore_job: str | None = None,
        copy_jobs: Mapping[str, str] | None = None,
    ) -> None:
        self.r = resources
        self.efs_restore_job = efs_restore_job or None
        self.live = resources.get("live") or {}
        # From the protected copies: where the bring-back put things, and its copy jobs.
        self.brought = resources.get("brought_back") or {}
        self.copy_jobs = dict(copy_jobs or {}) if self.brought else {}

    # --- clients -------------------------------------------------------------------------

    def _aws(self, service: str) -> Any:
        from ue_backup.aws import aws_client

        return aws_client(self.r["aws_conn_id"], self.r["region"], service)

    @cached_property
    def rds(self) -> RdsHook:
        return RdsHook(aws_conn_id=self.r["aws_conn_id"], region_name=self.r["region"])

    @cached_property
    def memorydb(self) -> Any:
        return self._aws("memorydb")

    @cached_property
    def efs(self) -> Any:
        return self._aws("efs")

    @cached_property
    def backup(self) -> Any:
        return self._aws("backup")

    @cached_property
    def datasync(self) -> Any:
        from ue_backup.hooks.datasync import DataSyncHook

        return DataSyncHook(aws_conn_id=self.r["aws_conn_id"], region_name=self.r["region"])

    @cached_property
    def s3(self) -> Any:
        return self._aws("s3")

    @cached_property
    def protected_backup(self) -> Any:
        """AWS Backup in the protected account: only to read the bring-back's copy jobs."""
        from ue_backup.aws import aws_client

        return aws_client(
            self.brought["protected_conn_id"], self.brought["protected_region"], "backup"
        )

    @cached_property
    def kube(self) -> Any:
        from ue_backup.hooks.kube_job import KubeJobHook

        return KubeJobHook(conn_id=self.r["kubernetes_conn_id"])

    @cached_property
    def velero(self) -> Any:
        return VeleroHook(conn_id=self.r["kubernetes_conn_id"])

    # --- the states ----------------------------------------------------------------------

    def _checks(self) -> dict[str, tuple[Callable[[], State], Callable[[], None]]]:
        """Each resource: (read its state, delete it), in the order they are handled."""
        checks: dict[str, tuple[Callable[[], State], Callable[[], None]]] = {}
        if self.r.get("velero_restore"):
            checks["velero restore"] = (self._velero_state, self._delete_velero)
            checks["restored objects"] = (self._objects_state, self._delete_objects)
        checks["efs jobs"] = (self._jobs_state, self._delete_jobs)
        checks["efs claim"] = (self._claim_state, self._delete_claim)
        checks["efs volume"] = (self._volume_state, self._delete_volume)
        if self.r.get("datasync_copy"):
            checks["datasync copy"] = (self._copy_state, self._delete_copy)
        checks["efs file system"] = (self._efs_state, self._delete_efs)
        if self.r.get("rds_instance"):
            checks["rds instance"] = (self._rds_state, self._delete_rds)
        if self.r.get("memorydb_cluster"):
            checks["memorydb cluster"] = (self._memorydb_state, self._delete_memorydb)
        for what in sorted(self.copy_jobs):
            checks[f"brought-back {what} point"] = (
                lambda what=what: self._point_state(what),
                lambda what=what: self._delete_point(what),
            )
        if self.brought.get("since"):
            checks["untracked brought-back points"] = (self._untracked_state, lambda: None)
        if self.brought.get("staging_bucket"):
            checks["staged memorydb files"] = (self._staged_state, self._delete_staged)
        return checks

    def states(self) -> dict[str, State]:
        """Where each temporary resource stands; reads only."""
        self._guard()
        return {name: read() for name, (read, _) in self._checks().items()}

    def delete_round(self) -> dict[str, State]:
        """Delete every resource that is present; return the states after it."""
        self._guard()
        for name, (read, delete) in self._checks().items():
            state = read()
            if state.status == PRESENT:
                log.info("Deleting the drill's %s: %s", name, state.detail)
                delete()
        return self.states()

    def _guard(self) -> None:
        """Refuse outright if a temporary name is a live one: a bug, never a cleanup."""
        clashes = [
            (what, self.r.get(key))
            for what, key, live in (
                ("RDS instance", "rds_instance", self.live.get("rds_instance")),
                ("MemoryDB cluster", "memorydb_cluster", self.live.get("memorydb_cluster")),
            )
            if self.r.get(key) and self.r.get(key) == live
        ]
        if self.r["namespace"] in (self.live.get("namespaces") or ()):
            clashes.append(("namespace", self.r["namespace"]))
        volume = _read(lambda: self.kube.core_v1_client.read_persistent_volume(self.r["volume"]))
        csi = volume.spec.csi if volume is not None else None
        live_fs = self.live.get("file_system_id")
        if csi is not None and live_fs and (csi.volume_handle or "").split(":")[0] == live_fs:
            clashes.append(("volume", self.r["volume"]))
        if clashes:
            raise PermanentFailure(f"refusing to delete live resources: {clashes}")

    # --- RDS -------------------------------------------------------------------------------

    def _rds_state(self) -> State:
        instance = self.rds.get_instance(self.r["rds_instance"])
        if instance is None:
            return _gone()
        status = instance["DBInstanceStatus"]
        if status == "deleting":
            return State(BUSY, "deleting")
        if status == "creating":
            return State(BUSY, "still being created; deleted once it is")
        return State(PRESENT, f"{self.r['rds_instance']} is {status}")

    def _delete_rds(self) -> None:
        try:
            self.rds.delete_instance(self.r["rds_instance"])
        except ClientError as error:
            if _code(error) not in ("InvalidDBInstanceState", "DBInstanceNotFound"):
                raise
            log.info("RDS instance %s: %s (next round)", self.r["rds_instance"], _code(error))

    # --- MemoryDB ------------------------------------------------------------------------

    def _memorydb_state(self) -> State:
        name = self.r["memorydb_cluster"]
        try:
            cluster = self.memorydb.describe_clusters(ClusterName=name)["Clusters"][0]
        except self.memorydb.exceptions.ClusterNotFoundFault:
            return _gone()
        status = cluster.get("Status")
        if status in ("available", "create-failed"):
            return State(PRESENT, f"{name} is {status}")
        return State(BUSY, str(status))

    def _delete_memorydb(self) -> None:
        try:
            self.memorydb.delete_cluster(ClusterName=self.r["memorydb_cluster"])
        except ClientError as error:
            if _code(error) not in ("InvalidClusterStateFault", "ClusterNotFoundFault"):
                raise
            log.info(
                "MemoryDB cluster %s: %s (next round)", self.r["memorydb_cluster"], _code(error)
            )

    # --- EFS ---------------------------------------------------------------------------------

    def _file_system(self) -> dict[str, Any] | None:
        found = self.efs.describe_file_systems(CreationToken=self.r["efs_creation_token"])
        systems = found.get("FileSystems") or []
        if systems and systems[0]["FileSystemId"] == self.live.get("file_system_id"):
            raise PermanentFailure(
                f"refusing to delete live resources: file system {systems[0]['FileSystemId']}"
            )
        return systems[0] if systems else None

    def _efs_state(self) -> State:
        if self.r.get("datasync_copy") and self._copy_state().status == BUSY:
            return State(BUSY, "the drill's DataSync copy still writes into it")
        if self.efs_restore_job:
            job = self.backup.describe_restore_job(RestoreJobId=self.efs_restore_job)
            if job.get("Status") in RESTORE_JOB_RUNNING:
                return State(BUSY, f"restore job {self.efs_restore_job} is {job['Status']}")
        file_system = self._file_system()
        if file_system is None:
            return _gone()
        fs_id, state = file_system["FileSystemId"], file_system["LifeCycleState"]
        if state != "available":
            return State(BUSY, f"{fs_id} is {state}")
        targets = self.efs.describe_mount_targets(FileSystemId=fs_id).get("MountTargets") or []
        if any(t["LifeCycleState"] == "available" for t in targets):
            return State(PRESENT, f"{fs_id}: {len(targets)} mount target(s) to delete first")
        if targets:
            return State(BUSY, f"{fs_id}: mount targets being deleted")
        if self._jobs_state().status != GONE:
            return State(BUSY, f"{fs_id}: waiting for the drill's Jobs using it to end")
        return State(PRESENT, f"{fs_id} is available")

    def _delete_efs(self) -> None:
        file_system = self._file_system()
        if file_system is None:
            return
        fs_id = file_system["FileSystemId"]
        targets = self.efs.describe_mount_targets(FileSystemId=fs_id).get("MountTargets") or []
        for target in targets:
            if target["LifeCycleState"] == "available":
                self.efs.delete_mount_target(MountTargetId=target["MountTargetId"])
        if targets:
            return
        try:
            self.efs.delete_file_system(FileSystemId=fs_id)
        except ClientError as error:
            if _code(error) not in ("FileSystemInUse", "FileSystemNotFound"):
                raise
            log.info("File system %s: %s (next round)", fs_id, _code(error))

    # --- a DataSync installation: the drill's own copy task ---------------------------------

    def _copy_state(self) -> State:
        """The drill's DataSync task (``ue-backup-restore-<drill id>``) and its destination
        location, while its copy succeeded but was not released, or failed. Only what
        carries the drill's tag and no set's is the drill's: a set's task and its
        folder's location (the copy's source) are never listed here."""
        copy = self.r["datasync_copy"]
        left = self.datasync.restore_copy(copy["restore_id"], copy["owner"])
        if left["running"]:
            return State(BUSY, f"its execution {left['running']} still copies")
        if not left["task"] and not left["locations"]:
            return _gone()
        return State(
            PRESENT,
            f"task {left['task'] or '(gone)'}, {len(left['locations'])} destination location(s)",
        )

    def _delete_copy(self) -> None:
        copy = self.r["datasync_copy"]
        self.datasync.remove_restore_copy(copy["restore_id"], copy["owner"])

    # --- what a drill from the protected copies brought back ------------------------------

    def _untracked_state(self) -> State:
        """Points brought back since the drill began that its record does not name.

        The bring-back's XCom names the jobs of its last try only (Airflow clears a
        task's XComs when it runs again): a job an earlier try started, whose try then
        failed, is in no record. The protected account lists it (``ListCopyJobs``:
        since the drill began, out of one of the drill's planned locked points, into
        the installation's vault), but so it would a restore's copy back of the same
        point started meanwhile, which the drill must never delete. So such points are
        never deleted here: they are named, and the cleanup fails at its end, leaving
        them to the operator (``BY_HAND``). A listing that fails says so the same way,
        after every other resource is gone.
        """
        where = self.brought.get("vault")
        try:
            points = self._untracked_points()
        except (ClientError, BotoCoreError) as error:
            return State(
                BY_HAND,
                f"the protected account's copy jobs could not be listed ({error}): look in "
                f"vault {where} for points brought back since {self.brought['since']} from "
                f"{', '.join(self.brought.get('sources') or ())}, and delete the drill's",
            )
        if not points:
            return _gone()
        return State(
            BY_HAND,
            f"in vault {where}, brought back since the drill began by copy jobs no record of "
            "it names (an earlier try of bring_back_locked_copies, or a restore started "
            f"meanwhile): {', '.join(points)}; delete those that are the drill's by hand",
        )

    def _untracked_points(self) -> list[str]:
        """The points in the installation's vault made by copy jobs since the drill began
        out of the drill's planned locked points, other than the recorded jobs'."""
        vault = self.backup.describe_backup_vault(BackupVaultName=self.brought["vault"])
        sources = set(self.brought.get("sources") or ())
        pages = self.protected_backup.get_paginator("list_copy_jobs").paginate(
            ByCreatedAfter=datetime.fromisoformat(self.brought["since"]),
            ByDestinationVaultArn=vault["BackupVaultArn"],
        )
        points = []
        for page in pages:
            for job in page.get("CopyJobs", []):
                arn = job.get("DestinationRecoveryPointArn")
                if (
                    job["CopyJobId"] in self.copy_jobs.values()
                    or job.get("SourceRecoveryPointArn") not in sources
                    or job.get("State") != "COMPLETED"
                    or not arn
                ):
                    continue
                try:
                    self.backup.describe_recovery_point(
                        BackupVaultName=self.brought["vault"], RecoveryPointArn=arn
                    )
                except ClientError as error:
                    if _code(error) != "ResourceNotFoundException":
                        raise
                    continue
                points.append(arn)
        return sorted(points)

    def _brought_back_point(self, what: str) -> tuple[str | None, str]:
        """(the point the copy job made in the installation's vault, or None; the job's state).

        The copy job ran in the protected account, where it is read. A point in the
        protected account is a locked copy: refused outright, never deleted.
        """
        job_id = self.copy_jobs[what]
        job = self.protected_backup.describe_copy_job(CopyJobId=job_id)["CopyJob"]
        arn = job.get("DestinationRecoveryPointArn")
        if arn and arn.split(":")[4] == str(self.brought.get("protected_account")):
            raise PermanentFailure(f"refusing to delete a locked copy: {arn} (copy job {job_id})")
        return arn, str(job.get("State"))

    def _point_state(self, what: str) -> State:
        arn, job_state = self._brought_back_point(what)
        job = self.copy_jobs[what]
        if job_state in COPY_JOB_RUNNING:
            return State(BUSY, f"copy job {job} is {job_state}: its point goes once it is there")
        if not arn:
            return State(GONE, f"copy job {job} ended {job_state}, bringing nothing back")
        try:
            point = self.backup.describe_recovery_point(
                BackupVaultName=self.brought["vault"], RecoveryPointArn=arn
            )
        except ClientError as error:
            if _code(error) != "ResourceNotFoundException":
                raise
            return _gone()
        if point.get("Status") == "DELETING":
            return State(BUSY, f"{arn} is being deleted")
        # Only this installation's point goes (as retention deletes only what carries its
        # tag): a copy job's destination is read from the protected account, which must
        # not be able to point the cleanup at anything else of the installation's vault.
        owner = self.backup.list_tags(ResourceArn=arn).get("Tags", {}).get(INSTALLATION_TAG)
        if owner != self.brought.get("installation"):
            raise PermanentFailure(
                f"refusing to delete {arn}: it carries {INSTALLATION_TAG}={owner!r}, not "
                f"{self.brought.get('installation')!r}; delete it by hand if it is the drill's"
            )
        reader = self._restore_reading(what)
        if reader:
            return State(BUSY, f"{arn}: {reader}")
        return State(PRESENT, f"{arn} in {self.brought['vault']}")

    def _restore_reading(self, what: str) -> str | None:
        """Why the drill's restore may still read the brought-back point; None when it is done."""
        if what == "efs" and self.efs_restore_job:
            job = self.backup.describe_restore_job(RestoreJobId=self.efs_restore_job)
            if job.get("Status") in RESTORE_JOB_RUNNING:
                return f"restore job {self.efs_restore_job} is {job['Status']}"
        if what == "database" and self.r.get("rds_instance"):
            instance = self.rds.get_instance(self.r["rds_instance"])
            if instance is not None and instance["DBInstanceStatus"] == "creating":
                return f"instance {self.r['rds_instance']} is still being restored from it"
        return None

    def _delete_point(self, what: str) -> None:
        arn, _ = self._brought_back_point(what)
        try:
            # the database's point is an RDS snapshot AWS Backup manages: it goes with it
            self.backup.delete_recovery_point(
                BackupVaultName=self.brought["vault"], RecoveryPointArn=arn
            )
        except ClientError as error:
            if _code(error) not in ("ResourceNotFoundException", "InvalidResourceStateException"):
                raise
            log.info("Recovery point %s: %s (next round)", arn, _code(error))

    def _staged(self) -> list[str]:
        bucket, prefix = self.brought["staging_bucket"], self.brought["staging_prefix"]
        paginator = self.s3.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents") or ()]

    def _staged_state(self) -> State:
        keys = self._staged()
        if not keys:
            return _gone()
        where = f"s3://{self.brought['staging_bucket']}/{self.brought['staging_prefix']}"
        cluster = self.r.get("memorydb_cluster")
        if cluster and self._memorydb_state().detail == "creating":
            return State(BUSY, f"{len(keys)} file(s) in {where}: cluster {cluster} reads them")
        return State(PRESENT, f"{len(keys)} file(s) in {where}")

    def _delete_staged(self) -> None:
        # One DeleteObject per file (a few: one per shard): IAM authorizes each key, and a
        # batch DeleteObjects would name only the bucket to a reader of the request.
        for key in self._staged():
            self.s3.delete_object(Bucket=self.brought["staging_bucket"], Key=key)

    # --- Velero and the restored objects -----------------------------------------------

    def _velero_state(self) -> State:
        name, namespace = self.r["velero_restore"], self.r["velero_namespace"]
        restore = self.velero.get_restore(namespace, name)
        modifiers = _read(
            lambda: self.kube.core_v1_client.read_namespaced_config_map(
                modifiers_name(name), namespace
            )
        )
        if restore is None:
            return State(PRESENT, "its modifier ConfigMap") if modifiers else _gone()
        if restore["metadata"].get("deletionTimestamp"):
            return State(BUSY, "being deleted")
        phase = (restore.get("status") or {}).get("phase") or "New"
        if phase not in FINISHED_PHASES:
            return State(BUSY, f"restore {name} is {phase}: it may still create objects")
        return State(PRESENT, f"restore {name} is {phase}")

    def _delete_velero(self) -> None:
        self.velero.delete_restore(self.r["velero_namespace"], self.r["velero_restore"])

    def _api(self, method: str, path: str, query: list | None = None, body: Any = None) -> Any:
        """One raw API call, answered as plain JSON (the typed clients know no custom type)."""
        response = self.kube.api_client.call_api(
            path,
            method,
            query_params=query or [],
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
            _preload_content=False,
        )
        return json.loads(response.data or b"{}")

    def _restored_types(self) -> list[str]:
        """The collection path, in the drill namespace, of each type the drill's restore brings.

        Exactly ``drill_resources.RESTORED_RESOURCES``, the restore's
        ``includedResources``: nothing else can carry its label, and these are
        the types the drill Role lets the cleanup list and delete.
        """
        paths = []
        for group, version, plural in RESTORED_RESOURCES:
            api = f"/apis/{group}/{version}" if group else f"/api/{version}"
            paths.append(f"{api}/namespaces/{self.r['namespace']}/{plural}")
        return paths

    def _restored_selector(self) -> list[tuple[str, str]]:
        """The query selecting what the drill's Velero restore created."""
        return [("labelSelector", f"{RESTORE_NAME_LABEL}={self.r['velero_restore']}")]

    def _restored(self) -> dict[str, list[dict[str, Any]]]:
        selector = self._restored_selector()
        found = {}
        for path in self._restored_types():
            # None (404): the cluster does not serve the type
            listed = _read(lambda path=path: self._api("GET", path, selector)) or {}
            items = listed.get("items") or []
            if items:
                found[path] = items
        return found

    def _objects_state(self) -> State:
        velero = self._velero_state()
        if velero.status == BUSY:
            return State(BUSY, f"waiting for the Velero restore: {velero.detail}")
        found = self._restored()
        if not found:
            return _gone()
        counts = ", ".join(
            f"{len(items)} {path.rsplit('/', 1)[-1]}" for path, items in found.items()
        )
        live = [
            i
            for items in found.values()
            for i in items
            if not i["metadata"].get("deletionTimestamp")
        ]
        return State(PRESENT if live else BUSY, counts + ("" if live else " terminating"))

    def _delete_objects(self) -> None:
        selector = self._restored_selector()
        for path in self._restored():
            self._api("DELETE", path, selector, {"propagationPolicy": "Background"})

    # --- the drill's EFS Jobs, claim and volume ------------------------------------------

    def _jobs_state(self) -> State:
        namespace, left, objects = self.r["namespace"], [], []
        for name in self.r["jobs"]:
            job = _read(
                lambda name=name: self.kube.batch_v1_client.read_namespaced_job(name, namespace)
            )
            pods = self.kube.core_v1_client.list_namespaced_pod(
                namespace, label_selector=f"job-name={name}"
            ).items
            if job is not None or pods:
                left.append(name)
                objects += [job, *pods] if job is not None else pods
        if not left:
            return _gone()
        terminating = all(o.metadata.deletion_timestamp for o in objects)
        return State(BUSY if terminating else PRESENT, f"Jobs {left}")

    def _delete_jobs(self) -> None:
        namespace = self.r["namespace"]
        for name in self.r["jobs"]:
            _delete(
                lambda name=name: self.kube.batch_v1_client.delete_namespaced_job(
                    name, namespace, propagation_policy="Background"
                )
            )
            self.kube.core_v1_client.delete_collection_namespaced_pod(
                namespace, label_selector=f"job-name={name}"
            )

    def _claim_state(self) -> State:
        claim = _read(
            lambda: self.kube.core_v1_client.read_namespaced_persistent_volume_claim(
                self.r["claim"], self.r["namespace"]
            )
        )
        return _object_state(claim, f"claim {self.r['claim']}")

    def _delete_claim(self) -> None:
        _delete(
            lambda: self.kube.core_v1_client.delete_namespaced_persistent_volume_claim(
                self.r["claim"], self.r["namespace"]
            )
        )

    def _volume_state(self) -> State:
        volume = _read(lambda: self.kube.core_v1_client.read_persistent_volume(self.r["volume"]))
        return _object_state(volume, f"volume {self.r['volume']}")

    def _delete_volume(self) -> None:
        _delete(lambda: self.kube.core_v1_client.delete_persistent_volume(self.r["volume"]))


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _read(read: Callable[[], Any]) -> Any:
    """The object, or None when Kubernetes answers 404."""
    try:
        return read()
    except ApiException as error:
        if error.status == 404:
            return None
        raise


def _delete(delete: Callable[[], Any]) -> None:
    """Delete, treating "not found" as done."""
    try:
        delete()
    except ApiException as error:
        if error.status != 404:
            raise


def _object_state(obj: Any, what: str) -> State:
    if obj is None:
        return _gone()
    if obj.metadata.deletion_timestamp:
        return State(BUSY, f"{what} terminating")
    return State(PRESENT, what)
