"""Retention's side effect: delete the artifacts of the sets the decision gave up.

Idempotent, so a retry (or a second run) is safe: an artifact already gone
counts as deleted. The decision is checked again before anything is
deleted: every artifact must be this installation's and of the set it is
deleted with. Velero backups go through a DeleteBackupRequest (their data
leaves the bucket too) and are waited for: in the DAG the task defers to
``VeleroDeletionTrigger`` meanwhile (``RetentionDeleteOperator``), so no
worker slot sleeps through Velero's work. A DataSync set's copy (folder,
task, location) is deleted before this step, by ``delete_datasync_copies``
(``tasks.retention_datasync``: the folder by a Kubernetes Job first); here it
is only checked gone. A set's manifest goes last, and
only once everything else of the set is gone, so a set half deleted by a
failure still has its record; a failure fails the task after every other
deletion was tried, and the retry picks up what is left.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator
from botocore.exceptions import ClientError

from ue_backup.aws import settings_hook
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.aws_backup import AwsBackupHook
from ue_backup.hooks.datasync import DataSyncHook
from ue_backup.hooks.memorydb import MemoryDbHook
from ue_backup.hooks.rds import RdsHook
from ue_backup.hooks.s3 import S3Hook
from ue_backup.retention import ownership_problem, to_delete
from ue_backup.retention_artifacts import MANIFEST, UNREADABLE, Artifact, base_kind
from ue_backup.retention_locked import LOCKED_KINDS
from ue_backup.run_settings import RetentionRunSettings
from ue_backup.triggers.base import run_inline
from ue_backup.triggers.velero import VeleroDeletionTrigger
from ue_backup.triggers.waits import event_or_fail, poll_interval

log = logging.getLogger(__name__)

DELETED, GONE, REQUESTED = "deleted", "already gone", "deletion requested"
DATASYNC_STEP = "delete_datasync_copies"  # the task that deleted the DataSync copies first
VELERO_DELETE_TIMEOUT_SECONDS = 600
STATE_KEY = "deletion_state"  # what start() did, kept across the deferred wait
# Error codes that mean the artifact does not exist (any more).
NOT_FOUND = {
    "DBSnapshotNotFound",
    "DBSnapshotNotFoundFault",
    "ResourceNotFoundException",
    "SnapshotNotFoundFault",
}


class _Deleter:
    """One delete call per artifact kind, through hooks made once per service and region."""

    def __init__(
        self, settings: RetentionRunSettings, datasync: Mapping[str, str] | None = None
    ) -> None:
        self.settings = settings
        self._hooks: dict[tuple[type, str], Any] = {}
        self._points: dict[tuple[str, str], set[str]] = {}  # (region, vault) -> listed ARNs
        self._datasync_listed: dict[str, set[str]] = {}  # region -> task and location ARNs
        # set task ARN -> what delete_datasync_copies did with its copy in this run
        self._datasync_done = dict(datasync or {})

    def _hook(self, hook_class: type, region: str) -> Any:
        if (hook_class, region) not in self._hooks:
            self._hooks[hook_class, region] = settings_hook(hook_class, self.settings, region)
        return self._hooks[hook_class, region]

    def delete(self, a: Artifact) -> str:
        try:
            if a.service == "rds":
                self._hook(RdsHook, a.region).delete_snapshot(a.id)
            elif a.service == "backup":
                return self._recovery_point(a)
            elif a.service == "memorydb":
                self._hook(MemoryDbHook, a.region).delete_snapshot(a.id)
            elif a.service == "velero":
                return self._velero(a)
            elif a.service == "s3":
                return self._object(a)
            elif a.service == "datasync":
                return self._datasync_copy(a)
            else:
                raise PermanentFailure(f"retention cannot delete {a.label} ({a.service})")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in NOT_FOUND:
                return GONE
            raise
        return DELETED

    def _recovery_point(self, a: Artifact) -> str:
        """Delete a recovery point that the vault still lists.

        The IAM policy lets the role delete only recovery points tagged with
        its installation (``include/iam``). A point already deleted has no
        tags left for that condition, so deleting it again may be refused
        with AccessDenied instead of ResourceNotFound: the vault's listing
        (no tag condition) tells "already gone" first.
        """
        hook = self._hook(AwsBackupHook, a.region)
        key = (a.region, a.container)
        if key not in self._points:
            self._points[key] = hook.recovery_point_arns(a.container)
        if a.id not in self._points[key]:
            return GONE
        hook.delete_recovery_point(a.container, a.id)
        return DELETED

    def _datasync_copy(self, a: Artifact) -> str:
        """A DataSync set's copy: gone (its task and location), or the set is not done.

        ``delete_datasync_copies`` deletes it before this step, the folder first; a
        run without that step (its DAG parsed before the installation used DataSync)
        or whose step stopped half-way leaves it, and the set keeps its manifest.
        """
        if a.region not in self._datasync_listed:
            hook = self._hook(DataSyncHook, a.region)
            self._datasync_listed[a.region] = hook.task_arns() | hook.location_arns()
        listed = self._datasync_listed[a.region]
        left = [what for what, arn in (("task", a.id), ("location", a.location)) if arn in listed]
        if left and a.state == UNREADABLE:
            raise RuntimeError(
                f"its task could not be read when listed, so its folder was not removed and "
                f"its {' and '.join(left)} still exist: look at them by hand"
            )
        if left:
            raise RuntimeError(
                f"its {' and '.join(left)} still exist: delete_datasync_copies deletes them "
                "once it has removed the folder (did it run?)"
            )
        return self._datasync_done.get(a.id, GONE)

    def _velero(self, a: Artifact) -> str:
        from ue_backup.hooks.velero import VeleroHook  # not at parse: the Kubernetes client

        hook = VeleroHook(conn_id=self.settings.kubernetes_conn_id)
        backup = hook.get_backup(a.container, a.id)
        if backup is None:
            return GONE
        hook.request_backup_deletion(a.container, backup)
        return REQUESTED

    def _object(self, a: Artifact) -> str:
        hook = self._hook(S3Hook, a.region)
        if not hook.check_for_key(a.id, a.container):
            return GONE
        hook.delete_key(a.container, a.id)
        return DELETED


def _check(decision: Mapping[str, Any], installation: str) -> list[tuple[str, Artifact]]:
    """(set, artifact) pairs to delete; refuse a decision naming anything not ours."""
    pairs = []
    for backup_set in to_delete(decision):
        for data in backup_set["artifacts"]:
            artifact = Artifact.from_json(data)
            problem = ownership_problem(artifact, installation)
            if base_kind(artifact.kind) in LOCKED_KINDS:  # the protected account's, locked
                problem = "a protected copy: retention never deletes one"
            if problem or artifact.backup_set != backup_set["backup_set"]:
                raise PermanentFailure(
                    f"refusing to delete {artifact.label}: "
                    f"{problem or 'it is not of set ' + backup_set['backup_set']}"
                )
            pairs.append((backup_set["backup_set"], artifact))
    return pairs


def _key(a: Artifact) -> tuple[str, str, str | None]:
    return a.kind, a.id, a.region


def start(
    settings: RetentionRunSettings,
    decision: Mapping[str, Any],
    datasync: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Check the decision and delete every artifact but the manifests; the state to go on with.

    ``datasync``: what ``delete_datasync_copies`` returned in this run (None: it
    did not run). Returns ``outcomes`` (as ``delete`` reports them), ``failed``
    (set: its problems) and ``requested`` (the Velero backups whose deletion was
    asked for, to wait for), all JSON: the task may defer between this and ``finish``.
    """
    pairs = _check(decision, settings.installation)
    deleter = _Deleter(settings, datasync_outcomes(datasync))
    outcomes: list[dict[str, Any]] = []
    failed: dict[str, list[str]] = {}
    for backup_set, artifact in pairs:
        if artifact.kind != MANIFEST:
            _attempt(deleter, backup_set, artifact, outcomes, failed)
    requested = [o for o in outcomes if o["outcome"] == REQUESTED]
    return {
        "outcomes": outcomes,
        "failed": failed,
        "requested": [[o["container"], o["id"]] for o in requested],
    }


def _attempt(
    deleter: _Deleter,
    backup_set: str,
    artifact: Artifact,
    outcomes: list[dict[str, Any]],
    failed: dict[str, list[str]],
) -> None:
    """Delete one artifact, adding its outcome, or its failure (the others still go)."""
    try:
        outcome = deleter.delete(artifact)
    except PermanentFailure:
        raise
    except Exception as error:  # every failure is reported; the others still go
        failed.setdefault(backup_set, []).append(f"{artifact.label}: {error}")
        return
    log.info("%s: %s %s", backup_set, artifact.label, outcome)
    outcomes.append({"backup_set": backup_set, **artifact.as_json(), "outcome": outcome})


def velero_wait(settings: RetentionRunSettings, state: Mapping[str, Any]) -> VeleroDeletionTrigger:
    """The wait for Velero's deletions that ``start`` requested (at most ten minutes)."""
    return VeleroDeletionTrigger(
        backups=state["requested"],
        deadline=time.time() + VELERO_DELETE_TIMEOUT_SECONDS,
        poll_interval=poll_interval(5),
        kubernetes_conn_id=settings.kubernetes_conn_id,
    )


def finish(
    settings: RetentionRunSettings,
    decision: Mapping[str, Any],
    state: Mapping[str, Any],
    waited: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """After Velero's wait (``waited``: its event): the manifests of complete sets, the report.

    A Velero backup Velero kept, or did not delete in time, fails its set;
    the others are deleted. A set's manifest goes only when nothing else of
    the set failed. Raises, naming every problem, when anything is left.
    """
    event = event_or_fail(waited) if state["requested"] else {"refused": {}, "left": []}
    outcomes = [dict(o) for o in state["outcomes"]]
    failed = {k: list(v) for k, v in state["failed"].items()}
    for entry in [o for o in outcomes if o["outcome"] == REQUESTED]:
        errors = event["refused"].get(entry["id"]) or (
            ["not deleted in time"] if entry["id"] in event["left"] else None
        )
        if errors:
            label = Artifact.from_json(_artifact_json(entry)).label
            problem = f"{label}: Velero did not delete it: {'; '.join(errors)}"
            failed.setdefault(entry["backup_set"], []).append(problem)
            outcomes.remove(entry)
        else:
            entry["outcome"] = DELETED
    deleter = _Deleter(settings)
    for backup_set, artifact in _check(decision, settings.installation):
        if artifact.kind == MANIFEST and backup_set not in failed:
            _attempt(deleter, backup_set, artifact, outcomes, failed)
    if failed:
        lines = [f"  - {p}" for problems in failed.values() for p in problems]
        raise RuntimeError(
            "retention could not delete everything (a retry picks up what is left):\n"
            + "\n".join(lines)
        )
    return {"outcomes": outcomes}


def _artifact_json(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The artifact of an outcome entry (its ``backup_set`` is the artifact's own)."""
    return {k: v for k, v in entry.items() if k != "outcome"}


def datasync_outcomes(datasync: Mapping[str, Any] | None) -> dict[str, str]:
    """Set task ARN -> deleted (its task or location deleted in this run) or already gone."""
    return {
        o["task_arn"]: DELETED if DELETED in (o["task"], o["location"]) else GONE
        for o in (datasync or {}).get("outcomes") or ()
    }


def delete(
    settings: RetentionRunSettings,
    decision: Mapping[str, Any],
    datasync: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Delete every artifact of every set the decision deletes, in this process; each outcome.

    ``start``, Velero's wait run inline, ``finish``: what the DAG's
    ``RetentionDeleteOperator`` does with the wait deferred (``datasync``: what
    ``delete_datasync_copies`` returned, which ran before).
    """
    state = start(settings, decision, datasync)
    waited = run_inline(velero_wait(settings, state)) if state["requested"] else None
    return finish(settings, decision, state, waited)


class RetentionDeleteOperator(BaseOperator):
    """The retention DAG's ``delete`` task: delete, defer while Velero deletes, then finish.

    Refuses while a restore runs (one may have started since ``validate``),
    reads the run's settings and decision from ``validate`` and ``plan``, and
    deletes (``start``); while Velero works through its DeleteBackupRequests
    the task waits in the triggerer (``VeleroDeletionTrigger``), not in a
    worker slot; ``finish`` then deletes the manifests and fails loudly,
    naming every artifact left. A retry starts again: what is gone counts as
    deleted. What ``start`` did is kept in the task's XCom across the wait
    (``STATE_KEY``): ``dag.test()`` resumes a task with the event alone, and
    XComs survive a deferral.
    """

    def __init__(self, *, deferrable: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deferrable = deferrable

    def _inputs(self, context: Any) -> tuple[RetentionRunSettings, dict[str, Any]]:
        ti = context["ti"]
        settings = RetentionRunSettings.model_validate(ti.xcom_pull(task_ids="validate"))
        return settings, ti.xcom_pull(task_ids="plan")

    def execute(self, context: Any) -> dict[str, Any]:
        from ue_backup.tasks.retention_steps import refuse_if_restoring

        refuse_if_restoring(context["ti"])
        settings, decision = self._inputs(context)
        datasync = (
            context["ti"].xcom_pull(task_ids=DATASYNC_STEP) if settings.datasync_target else None
        )
        state = start(settings, decision, datasync)
        if not state["requested"]:
            return finish(settings, decision, state, None)
        trigger = velero_wait(settings, state)
        if not self.deferrable:
            return finish(settings, decision, state, run_inline(trigger))
        context["ti"].xcom_push(key=STATE_KEY, value=state)
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            timeout=timedelta(seconds=VELERO_DELETE_TIMEOUT_SECONDS + 300),
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resumed after Velero's wait: ``finish`` with what ``start`` kept in XCom."""
        settings, decision = self._inputs(context)
        state = context["ti"].xcom_pull(task_ids=self.task_id, key=STATE_KEY)
        if not state:  # never expected: a retry starts again, and what is gone counts as deleted
            raise RuntimeError(f"{STATE_KEY} is missing from this try's XCom")
        return finish(settings, decision, state, event)
