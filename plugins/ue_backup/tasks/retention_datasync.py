"""Retention's DataSync step: delete the doomed sets' copies, each folder first, by a Job.

A DataSync set's copy is its folder on the target file system, its task and
its destination location (``datasync_sets``). In order, for the sets the
decision deletes (``datasync_retention.doomed_folders``, which refuses
anything that is not exactly such a copy before anything changes):

1. each set's task is tagged ``ue-backup:retention=deleting``, so the planner
   takes its copy for no disk point from now on (``planning``), even if what
   follows stops half-way;
2. one Kubernetes Job on the target file system removes the folders (its
   script checks each path again; a folder already gone is fine); the task
   waits for it in the triggerer;
3. each set's task is deleted, then its location, each only while it still is
   the set's (``task_problem``, ``location_problem``); the live file system's
   location, the template task and the target file system are never deleted.

A failure at any step leaves the set's task or location listed, so the copy
is still retention's to finish: the retry (or the next run) does it, and
every step counts what is already gone as done. Each task and location is
looked for in its listing first (ListTasks, ListLocations: no resource-level
permission), not deleted blindly: a deletion scoped by tags in IAM would be
denied for a resource already gone. The ``delete`` task after this one checks
that each copy is gone before it deletes the set's manifest.
"""

from __future__ import annotations

import logging
from typing import Any

from ue_backup.aws import settings_hook
from ue_backup.backup_set import DELETING, RETENTION_TAG
from ue_backup.compat import AirflowSkipException
from ue_backup.datasync_retention import (
    REMOVED,
    DoomedFolder,
    claim_name,
    doomed_folders,
    job_name,
    location_problem,
    remove_folders_script,
    task_problem,
    unreadable_copies,
)
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.datasync import DataSyncHook
from ue_backup.operators.kube_job import KubeEfsJobOperator
from ue_backup.run_settings import RetentionRunSettings
from ue_backup.tasks.retention_delete import DELETED, GONE

log = logging.getLogger(__name__)


def doomed(settings: RetentionRunSettings, decision: Any) -> list[DoomedFolder]:
    """The copies this run deletes, checked against the run's configuration."""
    if not settings.datasync_target:
        return []
    return doomed_folders(
        decision,
        installation=settings.installation,
        target_file_system_id=settings.datasync_target,
        subdirectory=settings.datasync_subdirectory,
        live_file_system_id=settings.efs_file_system_id or "",
        template_task_arn=settings.datasync_task_arn,
    )


def mark_deleting(hook: DataSyncHook, copies: list[DoomedFolder]) -> list[str]:
    """Tag each set's task still there ``ue-backup:retention=deleting``; the tasks tagged."""
    present = hook.task_arns()
    marked = [c.task_arn for c in copies if c.task_arn in present]
    for arn in marked:
        hook.tag(arn, [{"Key": RETENTION_TAG, "Value": DELETING}])
    log.info("Marked %d set task(s) %s=%s: %s", len(marked), RETENTION_TAG, DELETING, marked)
    return marked


def delete_tasks_and_locations(
    settings: RetentionRunSettings, copies: list[DoomedFolder]
) -> list[dict[str, Any]]:
    """After the folders went: each set's task, then its location; the outcome of each.

    A copy that is not the set's any more is refused (``PermanentFailure``), a
    failed call fails the step (retried): either once every other copy was tried.
    """
    hook = settings_hook(DataSyncHook, settings)
    tasks, locations = hook.task_arns(), hook.location_arns()
    outcomes, refused, failed = [], [], []
    for copy in copies:
        try:
            outcome = {
                "backup_set": copy.backup_set,
                "folder": copy.folder,
                "folder_outcome": REMOVED,
                "task_arn": copy.task_arn,
                "task": _delete_task(hook, copy, tasks),
                "location_arn": copy.location_arn,
                "location": _delete_location(hook, copy, locations, settings.installation),
            }
        except PermanentFailure as error:
            refused.append(f"{copy.backup_set}: {error}")
            continue
        except Exception as error:  # every copy is tried; the retry picks up what is left
            failed.append(f"{copy.backup_set}: {error}")
            continue
        log.info(
            "%s: folder %s removed; task %s %s; location %s %s",
            copy.backup_set,
            copy.folder,
            copy.task_arn,
            outcome["task"],
            copy.location_arn,
            outcome["location"],
        )
        outcomes.append(outcome)
    lines = [f"  - {p}" for p in [*refused, *failed]]
    if refused:
        raise PermanentFailure("refused to delete a set's task or location:\n" + "\n".join(lines))
    if failed:
        raise RuntimeError(
            "could not delete every set's task and location (a retry picks up what is left):\n"
            + "\n".join(lines)
        )
    return outcomes


def _delete_task(hook: DataSyncHook, copy: DoomedFolder, listed: set[str]) -> str:
    if copy.task_arn not in listed:
        return GONE
    problem = task_problem(copy, hook.get_task_description(copy.task_arn))
    if problem:
        raise PermanentFailure(f"{problem}: left alone")
    hook.delete_task(copy.task_arn)
    return DELETED


def _delete_location(
    hook: DataSyncHook, copy: DoomedFolder, listed: set[str], installation: str
) -> str:
    if copy.location_arn not in listed:
        return GONE
    uri = hook.describe_location_efs(copy.location_arn).get("LocationUri") or ""
    # Its own task was just deleted: a listing that still shows it is not another user (if
    # DataSync still holds the location for it, DeleteLocation fails and the retry goes on).
    users = hook.task_arns(copy.location_arn) - {copy.task_arn}
    problem = location_problem(copy, installation, hook.tags_of(copy.location_arn), uri, users)
    if problem:
        raise PermanentFailure(f"{problem}: left alone")
    hook.delete_location(copy.location_arn)
    return DELETED


class RetentionDataSyncOperator(KubeEfsJobOperator):
    """``delete_datasync_copies``: mark, remove the folders by a Job (deferred), delete the rest.

    Refuses while a restore runs (one may have started since ``validate``).
    The Job runs in ``namespace`` with the target file system mounted through
    a claim of its own (``datasync_retention.claim_name``, made once and found
    by every later run), named after the run, its folders and the try
    (``datasync_retention.job_name``: a retry never adopts a failed Job).
    Returns ``{"folders", "outcomes", "job"}``; with nothing to delete, no Job.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("job_name", "")  # chosen per run and try, in execute
        kwargs.setdefault("script", "")
        super().__init__(**kwargs)

    @staticmethod
    def _inputs(context: Any) -> tuple[RetentionRunSettings, dict[str, Any]]:
        ti = context["ti"]
        settings = RetentionRunSettings.model_validate(ti.xcom_pull(task_ids="validate"))
        return settings, ti.xcom_pull(task_ids="plan")

    def execute(self, context: Any) -> Any:
        from ue_backup.hooks.kube_job import MOUNT_PATH  # not at parse: the Kubernetes client
        from ue_backup.tasks.retention_steps import refuse_if_restoring

        refuse_if_restoring(context["ti"])
        settings, decision = self._inputs(context)
        if not settings.datasync_target:
            raise AirflowSkipException("not a DataSync installation: no set folder to remove")
        if not settings.apply:  # the DAG's gate skips it already; never remove in a dry run
            raise AirflowSkipException("a dry run: nothing is removed")
        copies = doomed(settings, decision)
        for label in unreadable_copies(decision):
            self.log.warning(
                "!!! %s: its task could not be read when listed, so there is no folder or "
                "location to check: left alone, and its set keeps its manifest. Look at the "
                "task (and its folder) by hand.",
                label,
            )
        if not copies:
            self.log.info("No DataSync copy to delete in this run")
            return {"folders": [], "outcomes": [], "job": None}
        mark_deleting(settings_hook(DataSyncHook, settings), copies)
        folders = self._job(context, settings, copies)
        self.script = remove_folders_script(
            MOUNT_PATH, folders, settings.datasync_subdirectory, settings.installation
        )
        self.log.info(
            "Removing %d set folder(s) on %s by Job %s/%s: %s",
            len(folders),
            settings.datasync_target,
            self.namespace,
            self.job_name,
            ", ".join(folders),
        )
        return super().execute(context)

    def _job(
        self, context: Any, settings: RetentionRunSettings, copies: list[DoomedFolder]
    ) -> list[str]:
        """Name this try's Job and its claim (the same again when the task resumes)."""
        folders = [c.folder for c in copies]
        self.file_system_id = settings.datasync_target
        self.claim_name = claim_name(str(settings.datasync_target))
        self.job_name = job_name(
            settings.installation, settings.now, folders, context["ti"].try_number
        )
        return folders

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        """The Job removed every folder (else this raises with its log): now tasks, locations."""
        settings, decision = self._inputs(context)
        copies = doomed(settings, decision)
        folders = self._job(context, settings, copies)
        super().execute_complete(context, event)
        outcomes = delete_tasks_and_locations(settings, copies)
        return {"folders": folders, "outcomes": outcomes, "job": self.job_name}
