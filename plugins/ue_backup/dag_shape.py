"""Which optional steps a DAG builds, and which ones a run's settings need.

A configuration kept in a file is read when the DAG files are parsed, so a
component the installation does not have (no RDS with Derby, no MemoryDB,
no Velero, the other EFS method, no cross-region copy, no external window,
no application checks)
gets no tasks at all: a run's grid shows only what it does. A configuration
kept in the Airflow Variable is only known at run time; the DAGs then keep
every step, and a step whose component is absent skips itself, as before.

The DAG a run executes was parsed at some earlier moment; the configuration
its first task reads is the current one. When a component was added in
between, the run may have no task for it yet and would silently leave it
out. So the first task of every DAG compares the steps its settings need
(``backup_steps_needed``, ``restore_steps_needed``, ``retention_steps_needed``)
with the tasks the run really has (``present_tasks``: a task ``removed``
from the run does not count) and, before anything is changed, fails with ``StaleShape``
(``unbuilt_steps``). That failure is retried: for a DAG-folder bundle (and
MWAA's) the scheduler moves a running run to the newest DAG version once the
DAG processor has re-read the file, adding the new tasks, so a retry finds
them. The same move marks the unfinished tasks of a component removed from
the file ``removed``, which is why an in-place restore's commit point
checks every planned component itself (``tasks/restore_commit.commit``).

Pure: reads models, changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from ue_backup.config import ColdWindowMode, EfsBackupMethod, InstallationConfig
from ue_backup.run_settings import BackupRunSettings, RestoreSteps, RetentionRunSettings
from ue_backup.states import state_value


class StaleShape(RuntimeError):
    """The run has no task for a step its settings need; retried (see the module doc)."""


@dataclass(frozen=True)
class DagShape:
    """The optional parts a DAG file builds; every one of them unless a configuration says."""

    database: bool = True  # an RDS instance (Derby lives inside the EFS tree)
    memorydb: bool = True
    velero: bool = True
    efs_aws_backup: bool = True
    efs_datasync: bool = True
    external_window: bool = True
    copy_rds: bool = True
    copy_efs: bool = True
    copy_memorydb: bool = True
    copy_efs_immutable: bool = True  # the immutable section (and AWS Backup for EFS)
    copy_rds_immutable: bool = True  # the immutable section and RDS
    copy_memorydb_immutable: bool = True  # the immutable section and MemoryDB
    lock_manifest: bool = True  # the immutable section
    restore_from_immutable: bool = True  # the immutable section (ue_restore's source)
    app_checks: bool = True  # the verification section configures checks (and RDS)

    @classmethod
    def of(cls, cfg: InstallationConfig | None) -> DagShape:
        """The shape for a configuration read at parse time; None (the Variable): everything."""
        if cfg is None:
            return cls()
        cross = cfg.cross_region is not None
        window = cfg.cold_window
        return cls(
            database=cfg.uses_rds,
            memorydb=cfg.memorydb is not None,
            velero=cfg.velero is not None,
            efs_aws_backup=cfg.efs.backup_method == EfsBackupMethod.AWS_BACKUP,
            efs_datasync=cfg.efs.backup_method == EfsBackupMethod.DATASYNC,
            external_window=window.required and window.mode == ColdWindowMode.EXTERNAL,
            copy_rds=cross and cfg.uses_rds,
            copy_efs=cross and cfg.efs.aws_backup is not None,
            copy_memorydb=cross and cfg.memorydb is not None,
            copy_efs_immutable=cfg.immutable is not None and cfg.efs.aws_backup is not None,
            copy_rds_immutable=cfg.immutable is not None and cfg.uses_rds,
            copy_memorydb_immutable=cfg.immutable is not None and cfg.memorydb is not None,
            lock_manifest=cfg.immutable is not None,
            restore_from_immutable=cfg.immutable is not None,
            app_checks=cfg.verification.has_checks and cfg.uses_rds,
        )

    def left_out(self) -> list[str]:
        """The parts this shape does not build (for the log and the DAG's documentation)."""
        return [f.name for f in fields(self) if not getattr(self, f.name)]


def backup_steps_needed(run: BackupRunSettings) -> dict[str, bool]:
    """``ue_backup``'s optional task ids, each with whether this run's settings need it."""
    return {
        "check_external_window": run.cold_window == ColdWindowMode.EXTERNAL.value,
        "rds_snapshot": run.rds_instance is not None,
        "efs_backup": run.efs_method == EfsBackupMethod.AWS_BACKUP.value,
        "datasync_copy": run.efs_method == EfsBackupMethod.DATASYNC.value,
        "memorydb_snapshot": run.memorydb_cluster is not None,
        "velero_backup": run.velero_namespace is not None,
        "copy_rds_snapshot": run.copy_rds,
        "copy_efs_recovery_point": run.copy_efs,
        "export_memorydb_snapshot": run.copy_memorydb,
        "copy_efs_immutable": run.copy_efs_immutable,
        "rds_backup_job": run.copy_rds_immutable,
        "verify_locked": run.immutable_bucket is not None,
        "lock_manifest": run.immutable_bucket is not None,
        "export_memorydb_immutable": run.copy_memorydb_immutable,
    }


def retention_steps_needed(run: RetentionRunSettings) -> dict[str, bool]:
    """``ue_backup_retention``'s optional task ids, each with whether this run needs it."""
    return {"delete_datasync_copies": run.delete_datasync}


def restore_steps_needed(steps: RestoreSteps) -> dict[str, bool]:
    """The restore chain's optional task ids, each with whether the plan restores it."""
    return {
        "restore_database": steps.restore_database,
        # the EFS restore's method: an AWS Backup job's wait, or a DataSync copy
        "wait_efs": steps.restore_efs and not steps.copy_efs,
        "copy_efs": steps.copy_efs,
        "restore_memorydb": steps.restore_memorydb,
        "restore_kubernetes": steps.restore_velero,
        "check_application": steps.check_application,
    }


def present_tasks(states: Mapping[str, Any]) -> set[str]:
    """The tasks a run has, from its task states: every task but those ``removed`` from it."""
    return {task for task, state in states.items() if state_value(state) != "removed"}


def unbuilt_steps(needed: Mapping[str, bool], task_ids: Iterable[str]) -> list[str]:
    """The needed steps this run has no task for, sorted (empty: the run can do its job)."""
    present = set(task_ids)
    return sorted(step for step, wanted in needed.items() if wanted and step not in present)


def unbuilt_message(missing: list[str]) -> str:
    """Why a run refuses to start without steps its configuration needs, and what to do."""
    return (
        f"this run's DAG has no task {missing}, which the configuration now needs: it was "
        "parsed before the configuration file gained that component. Nothing was changed. "
        "The task retries: once the DAG processor has re-read the file ([dag_processor] "
        "min_file_process_interval), the scheduler adds the steps to this run. If the "
        "retries run out, trigger the DAG again once its graph shows the steps."
    )
