"""The restore chain, built once for ``ue_restore`` and ``ue_restore_drill``.

Both DAGs restore a planned backup set the same way: the database from a
snapshot or to a point in time, EFS through an AWS Backup restore job (or, for
a DataSync installation, a DataSync copy of the set's folder) into a file
system given mount targets and purged of temporary files by a Job, the
MemoryDB cluster from its snapshot, the Kubernetes resources through Velero,
each followed by its wait. Only the targets differ (a restore names what it
creates after the restore, a drill after the drill; a drill always restores
EFS into a new file system) and what each DAG does around the chain (the
restore's cold window and commit; the drill's checks and cleanup). So one
factory builds the chain from a ``RestoreChainSpec``, and a fix to a step
reaches both DAGs.

Each component is a TaskGroup (database, efs, memorydb, kubernetes), shown
as one row in the grid that opens to its steps; the task ids carry no group
prefix, so they are the same in both DAGs and in every log, alert and test.
A component the parse-time configuration does not have (``DagShape``) gets
no group at all. DAG-support layer: it builds tasks, it runs nothing.

After the chain, both DAGs run the configured application checks on what it
restored (``check_application``): the same step, pointed where each DAG
needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ue_backup.compat import TriggerRule
from ue_backup.dag_shape import DagShape
from ue_backup.dag_support import brought_back, only_if, planned_if, xcom
from ue_backup.operators.app_checks import AppChecksOperator
from ue_backup.operators.datasync import (
    DataSyncReleaseRestoreCopyOperator,
    DataSyncRestoreCopyOperator,
)
from ue_backup.operators.efs import EfsRestoreStartOperator
from ue_backup.operators.kube_job import KubeEfsJobOperator
from ue_backup.operators.locked_copies import BringBackLockedCopiesOperator
from ue_backup.operators.memorydb import MemoryDbRestoreClusterOperator
from ue_backup.operators.rds import RdsRestoreInstanceOperator
from ue_backup.operators.velero import VeleroCreateRestoreOperator
from ue_backup.run_settings import DrillRunSettings, RestoreRunSettings
from ue_backup.sensors.aws_backup import AwsBackupRestoreJobCompletedSensor
from ue_backup.sensors.datasync import DataSyncTaskExecutionCompletedSensor
from ue_backup.sensors.efs import EfsMountTargetsAvailableSensor
from ue_backup.sensors.memorydb import MemoryDbClusterAvailableSensor
from ue_backup.sensors.rds import RdsInstanceAvailableSensor
from ue_backup.sensors.velero import VeleroRestoreCompletedSensor
from ue_backup.triggers.waits import critical_path_wait


@dataclass(frozen=True)
class EfsJob:
    """One Job on the restored file system: its name and its script."""

    job_name: str
    script: str


@dataclass(frozen=True)
class RestoreChainSpec:
    """What one DAG's restore chain restores from, where to, and how a start is gated.

    Every value is a template or a literal as the operators take it.
    ``steps`` are the plan's ``RestoreSteps`` templates (``PLANNED`` or
    ``DRILL``); ``settings_task`` returns the run's settings
    (``settings_model``), which the restored-file-system step reads;
    ``gate`` makes a restore start's ``pre_execute`` from a ``steps`` flag
    (``only_if``, or the drill's ``drill_step``, which also starts its clock).
    """

    steps: Any
    settings_task: str
    settings_model: type[RestoreRunSettings] | type[DrillRunSettings]
    gate: Callable[[str], Callable[[Any], None]]
    aws: Mapping[str, Any]
    kubernetes: Mapping[str, Any]
    rds_target: str
    rds_source: str
    memorydb_target: str
    memorydb_source: str
    backup_role_arn: str
    efs_file_system_id: str
    efs_token: str
    new_file_system: Any
    efs_job: Mapping[str, Any]  # namespace, claim_name, image (and any pre_execute or wait)
    purge: EfsJob
    check: EfsJob
    check_result_read: bool  # a later task reads the check Job's log (the drill's verify)
    new_file_system_only: bool  # refuse a job that restored into the live file system
    velero: Mapping[str, Any]  # VeleroCreateRestoreOperator's other arguments
    restore_id: Any  # the restore's (or drill's) id: names its DataSync copy task
    tags: Any = None
    shape: DagShape = field(default_factory=DagShape)
    # What the database and EFS restores start from, when not the plan's own points
    # (ue_restore: the protected copies brought back home first).
    rds_snapshot_id: Any = None
    recovery_point_arn: Any = None
    memorydb_snapshot_arns: Any = None
    # ue_restore from the protected copies: the live network the chosen set recorded
    # (PLANNED.recorded_network), given to what is restored when the live one is gone.
    recorded_network: Any = None
    # The file system a new one is shaped like (restored_shape): the live one at home,
    # None in the copy region.
    efs_shape_source: Any = None
    # A drill: the restored instance is temporary (no deletion protection, no live tags).
    temporary: bool = False


@dataclass
class RestoreChain:
    """The chain's tasks a DAG wires to: its starts, and each component's last step."""

    starts: list[Any]
    ready: dict[str, Any]  # by component: the step after which it is restored and checked

    def ready_steps(self) -> list[Any]:
        return list(self.ready.values())


def bring_back_locked_copies(
    settings: Any, steps: Any, *, token_prefix: str, home_region: str
) -> tuple[Any, dict[str, str]]:
    """The step that brings the planned protected copies home, and what the chain then
    restores from (``RestoreChainSpec``'s overrides): ``ue_restore``'s and the drill's.

    ``settings`` are the run's settings templates (``RESTORE``, ``DRILL``), ``steps``
    the plan's (``PLANNED``, ``DRILL``). The step never skips: with the installation's own
    backups it does nothing, so the restore starts after it never see a skip.
    """
    step = BringBackLockedCopiesOperator(
        task_id="bring_back_locked_copies",
        active=settings.from_immutable,
        sources={
            "database": planned_if(steps.rds_snapshot_id, steps.restore_database),
            "efs": planned_if(steps.recovery_point_arn, steps.restore_efs),
            "memorydb": planned_if(steps.memorydb_snapshot_arns, steps.restore_memorydb),
        },
        staging_bucket=settings.immutable_staging_bucket,
        source_vault_name=settings.immutable_vault,
        destination_vault_name=settings.backup_vault,
        iam_role_arn=settings.immutable_backup_role_arn,
        token_prefix=token_prefix,
        home_conn_id=settings.aws_conn_id,
        home_region=home_region,
        aws_conn_id=settings.immutable_conn_id,
        region_name=settings.immutable_region,
        botocore_config=settings.aws_botocore_config,
    )
    sources = {
        "rds_snapshot_id": brought_back("database", steps.rds_snapshot_id),
        "recovery_point_arn": brought_back("efs", steps.recovery_point_arn),
        "memorydb_snapshot_arns": brought_back(
            "memorydb", steps.memorydb_snapshot_arns, key="snapshot_arns"
        ),
    }
    return step, sources


def restore_chain(spec: RestoreChainSpec) -> RestoreChain:
    """Build the chain's TaskGroups in the current DAG; the DAG wires their ends."""
    builders = {
        "database": _database if spec.shape.database else None,
        "efs": _efs,
        "memorydb": _memorydb if spec.shape.memorydb else None,
        "kubernetes": _kubernetes if spec.shape.velero else None,
    }
    chain = RestoreChain(starts=[], ready={})
    for component, build in builders.items():
        if build is not None:
            start, ready = build(spec)
            chain.starts.append(start)
            chain.ready[component] = ready
    return chain


def _group(group_id: str, tooltip: str) -> Any:
    from airflow.sdk import TaskGroup

    return TaskGroup(group_id=group_id, prefix_group_id=False, tooltip=tooltip)


def _database(spec: RestoreChainSpec) -> tuple[Any, Any]:
    with _group("database", "The RDS instance: restored from a snapshot or to a time"):
        restore = RdsRestoreInstanceOperator(
            task_id="restore_database",
            target_instance_identifier=spec.rds_target,
            source_instance_identifier=spec.rds_source,
            snapshot_id=spec.rds_snapshot_id or spec.steps.rds_snapshot_id,
            restore_time=spec.steps.rds_restore_time,
            tags=spec.tags,
            recorded_network=spec.recorded_network,
            temporary=spec.temporary,
            pre_execute=spec.gate(spec.steps.restore_database),
            **spec.aws,
        )
        ready = RdsInstanceAvailableSensor(
            task_id="wait_database",
            resource_id=spec.rds_target,
            **spec.aws,
            **critical_path_wait(),
        )
        restore >> ready
    return restore, ready


def _efs(spec: RestoreChainSpec) -> tuple[Any, Any]:
    """The EFS group: the same task ids whichever method backed the set up.

    An AWS Backup set: ``restore_efs`` starts the restore job, ``wait_efs`` waits
    for it, ``restored_file_system`` finds the file system it wrote to. A DataSync
    set (the plan's ``copy_efs``): ``restore_efs`` makes the file system the copy
    goes into (new, or in place the live one), ``restored_file_system`` gives it
    mount targets, then ``copy_efs`` copies the set's folder into its
    ``ue-backup-restoring_<id>/``, ``wait_efs_copy`` waits and ``release_efs_copy``
    deletes the restore's DataSync task. From ``wait_efs_mount_targets`` on both are
    the same: the purge finds the tree staged and the check judges it. A file that
    configures one method builds only its steps (``DagShape``); the Variable builds
    both, and each method's own steps skip themselves by the plan.
    """
    from airflow.sdk import chain as in_order
    from airflow.sdk import task

    with _group("efs", "The EFS data: restored, mountable, temporary files purged, checked"):
        restore = EfsRestoreStartOperator(
            task_id="restore_efs",
            recovery_point_arn=spec.recovery_point_arn or spec.steps.recovery_point_arn,
            iam_role_arn=spec.backup_role_arn,
            idempotency_token=spec.efs_token,
            file_system_id=spec.efs_file_system_id,
            new_file_system=spec.new_file_system,
            shape_source=spec.efs_shape_source,
            recorded_network=spec.recorded_network,
            datasync=spec.steps.copy_efs,
            tags=spec.tags,
            temporary=spec.temporary,
            pre_execute=spec.gate(spec.steps.restore_efs),
            **spec.aws,
        )
        job_done = None
        if spec.shape.efs_aws_backup:
            job_done = AwsBackupRestoreJobCompletedSensor(
                task_id="wait_efs",
                resource_id=xcom("restore_efs", "job_id"),
                # no job for a DataSync copy (None: a plan made before copy_efs existed)
                pre_execute=only_if(spec.steps.copy_efs, False, None),
                **spec.aws,
                **critical_path_wait(),
            )

        # none_failed: after wait_efs, skipped for a DataSync copy (it skips itself when
        # restore_efs made nothing)
        @task(task_id="restored_file_system", trigger_rule=TriggerRule.NONE_FAILED)
        def restored_file_system(recorded_network: Any = None, **context: Any) -> dict[str, Any]:
            """Where the EFS data was restored (or, for a DataSync copy, is to be copied),
            given mount targets like the live ones (or, the live one gone, the recorded
            ones: ``recorded_network``, rendered)."""
            from ue_backup.compat import AirflowSkipException
            from ue_backup.tasks.restored_efs import copy_target
            from ue_backup.tasks.restored_efs import restored_file_system as find

            ti = context["ti"]
            started = ti.xcom_pull(task_ids="restore_efs")
            if not started:  # restore_efs skipped (its gate), or marked by hand: nothing to find
                raise AirflowSkipException("no EFS restore was started in this run")
            settings = spec.settings_model.model_validate(ti.xcom_pull(task_ids=spec.settings_task))
            if "job_id" not in started:  # a DataSync copy's file system
                return copy_target(settings, started, new_only=spec.new_file_system_only)
            return find(
                settings,
                started["job_id"],
                new_only=spec.new_file_system_only,
                recorded_network=recorded_network or None,
                shape=started.get("shape"),
            )

        mountable = EfsMountTargetsAvailableSensor(
            task_id="wait_efs_mount_targets",
            resource_id=xcom("restored_file_system", "file_system_id"),
            **spec.aws,
            **critical_path_wait(short=True),
        )
        copied = _datasync_copy(spec) if spec.shape.efs_datasync else []
        job = {
            **spec.kubernetes,
            **critical_path_wait(short=True),
            **spec.efs_job,
            "file_system_id": xcom("restored_file_system", "file_system_id"),
        }
        purge = KubeEfsJobOperator(
            task_id="purge_efs",
            job_name=spec.purge.job_name,
            script=spec.purge.script,
            # none_failed: after the copy's steps, skipped for an AWS Backup restore
            **{
                **job,
                "trigger_rule": TriggerRule.NONE_FAILED,
                "pre_execute": only_if(spec.steps.restore_efs),
            },
        )
        read = critical_path_wait(result_read=spec.check_result_read, short=True)
        check = KubeEfsJobOperator(
            task_id="check_efs_clean",
            job_name=spec.check.job_name,
            script=spec.check.script,
            **{**job, **read},
        )
        found = restored_file_system(spec.recorded_network)
        in_order(
            restore, *([job_done] if job_done else []), found, mountable, *copied, purge, check
        )
    return restore, check


def _datasync_copy(spec: RestoreChainSpec) -> list[Any]:
    """A DataSync set's copy back, once the file system it goes into is mountable: the
    restore's task started, waited for, then deleted (never the set's)."""
    start = DataSyncRestoreCopyOperator(
        task_id="copy_efs",
        restore_id=spec.restore_id,
        set_task_arn=spec.steps.datasync_task_arn,
        file_system_id=xcom("restored_file_system", "file_system_id"),
        tags=spec.tags,
        pre_execute=only_if(spec.steps.copy_efs),
        **spec.aws,
    )
    done = DataSyncTaskExecutionCompletedSensor(
        task_id="wait_efs_copy",
        resource_id=xcom("copy_efs", "task_execution_arn"),
        **spec.aws,
        **critical_path_wait(),
    )
    release = DataSyncReleaseRestoreCopyOperator(
        task_id="release_efs_copy",
        restore_id=spec.restore_id,
        copy=xcom("copy_efs"),
        tags=spec.tags,
        **spec.aws,
    )
    return [start, done, release]


def _memorydb(spec: RestoreChainSpec) -> tuple[Any, Any]:
    with _group("memorydb", "The MemoryDB cluster: restored from its snapshot"):
        restore = MemoryDbRestoreClusterOperator(
            task_id="restore_memorydb",
            snapshot_name=spec.steps.memorydb_snapshot_name,
            snapshot_arns=spec.memorydb_snapshot_arns or spec.steps.memorydb_snapshot_arns,
            node_type=spec.steps.memorydb_node_type,
            num_shards=spec.steps.memorydb_num_shards,
            target_cluster_name=spec.memorydb_target,
            source_cluster_name=spec.memorydb_source,
            tags=spec.tags,
            recorded_network=spec.recorded_network,
            pre_execute=spec.gate(spec.steps.restore_memorydb),
            **spec.aws,
        )
        ready = MemoryDbClusterAvailableSensor(
            task_id="wait_memorydb",
            resource_id=spec.memorydb_target,
            **spec.aws,
            **critical_path_wait(),
        )
        restore >> ready
    return restore, ready


def _kubernetes(spec: RestoreChainSpec) -> tuple[Any, Any]:
    with _group("kubernetes", "The Kubernetes resources: restored by Velero, ECDs disabled"):
        restore = VeleroCreateRestoreOperator(
            task_id="restore_kubernetes",
            backup_set_id=spec.steps.velero_backup_set,
            backup_name=spec.steps.velero_backup_name,
            pre_execute=spec.gate(spec.steps.restore_velero),
            **spec.velero,
            **spec.kubernetes,
        )
        ready = VeleroRestoreCompletedSensor(
            task_id="wait_kubernetes",
            name=xcom("restore_kubernetes", "name"),
            namespace=spec.velero["velero_namespace"],
            **spec.kubernetes,
            **critical_path_wait(),
        )
        restore >> ready
    return restore, ready


def check_application(
    spec: RestoreChainSpec, *, job_name: str, namespace: str, claim_name: str, **kwargs: Any
) -> Any:
    """The application checks (config ``verification``) on what the chain restored.

    What they query comes from the plan (``RestoreSteps.check_*``: the
    restored instance, in place under its live name after the switch-over;
    the restored cluster), the file system from ``restored_file_system``; the
    checks the plan can judge are in its ``verification``, rendered when the
    task runs. Skipped when the plan runs none.
    """
    return AppChecksOperator(
        task_id="check_application",
        verification=spec.steps.verification,
        db_instance_identifier=spec.steps.check_database,
        login_instance=spec.steps.check_login_instance,
        manage_password=spec.steps.check_manage_password,
        memorydb_cluster_name=spec.steps.check_cluster,
        job_name=job_name,
        namespace=namespace,
        claim_name=claim_name,
        file_system_id=xcom("restored_file_system", "file_system_id"),
        pre_execute=only_if(spec.steps.check_application),
        aws_conn_id=spec.aws["aws_conn_id"],
        region_name=spec.aws["region_name"],
        **spec.kubernetes,
        **critical_path_wait(short=True),
        **kwargs,
    )
