"""Bring the protected copies a restore uses back into the installation's vault.

A recovery point can only be restored in the account whose vault holds it; the
locked copies are in the protected account. So a restore from them
(``ue_restore`` with ``source: immutable``) first copies each chosen point back
into the installation's own vault: an AWS Backup copy job started in the
protected account, through its connection, as its AWS Backup role
(``immutable.backup_role_arn``). The locked copy stays where it is, untouched;
the installation's vault must let the protected account copy in (its access
policy: ``backup:CopyIntoBackupVault``).

One task for every point, which waits in the triggerer for each copy job in
turn: with the installation's own backups it has nothing to do and succeeds at
once, so the restore steps after it never see it skipped.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from ue_backup.errors import PermanentFailure
from ue_backup.hooks.aws_backup import COPY_JOB_FAILED, AwsBackupHook
from ue_backup.hooks.s3 import S3Hook
from ue_backup.hooks.sts import StsHook
from ue_backup.locked_inventory import STAGING_PREFIX
from ue_backup.operators.aws_backup import _flag
from ue_backup.records import s3_object_arn
from ue_backup.triggers.aws_backup import AwsBackupCopyJobCompleteTrigger
from ue_backup.triggers.waits import event_or_fail, poll_interval

JOBS_KEY = "copy_jobs"
FILES_KEY = "memorydb_files"
# When the bring-back began and ended (the drill counts it in the recovery time).
STARTED_KEY, FINISHED_KEY = "started_at", "finished_at"
# A copy back of a large file system or database takes hours; the wait gives up after a day.
WAIT = timedelta(days=1)
# How many copy jobs a restore starts per point at most, each after the one before failed
# (retries of the task after the operator fixed the cause): ``_copy_job``'s token chain.
COPY_BACK_TOKENS = 5


class BringBackLockedCopiesOperator(AwsBaseOperator[AwsBackupHook]):
    """Copy the planned locked recovery points into the installation's vault, and wait.

    ``aws_conn_id`` and ``region_name`` are the protected account's (the locked
    vault's); ``home_conn_id`` and ``home_region`` the installation's, whose
    account number (``sts:GetCallerIdentity``) names the destination vault.
    ``sources`` maps what (``database``, ``efs``) to the locked point's ARN, and
    ``memorydb`` to its locked ``.rdb`` files' S3 ARNs (streamed into
    ``staging_bucket``, ``immutable.memorydb_export_bucket``), None where that
    component is not restored. Returns, per component, the copy job and the
    brought-back point's ARN (``{"database": {...}, "efs": {...}}``) and MemoryDB's
    staged files (``{"memorydb": {"snapshot_arns": [...]}}``); ``{}`` when
    ``active`` is false.
    """

    aws_hook_class = AwsBackupHook
    template_fields = aws_template_fields(
        "botocore_config",
        "active",
        "sources",
        "source_vault_name",
        "destination_vault_name",
        "iam_role_arn",
        "token_prefix",
        "home_conn_id",
        "home_region",
        "staging_bucket",
    )

    def __init__(
        self,
        *,
        active: bool | str,
        sources: dict[str, str | None],
        source_vault_name: str | None,
        destination_vault_name: str | None,
        iam_role_arn: str | None,
        token_prefix: str,
        home_conn_id: str,
        home_region: str,
        staging_bucket: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.active = active
        self.sources = sources
        self.source_vault_name = source_vault_name
        self.destination_vault_name = destination_vault_name
        self.iam_role_arn = iam_role_arn
        self.token_prefix = token_prefix
        self.home_conn_id = home_conn_id
        self.home_region = home_region
        self.staging_bucket = staging_bucket

    def execute(self, context: Any) -> dict[str, Any]:
        wanted = {what: arn for what, arn in (self.sources or {}).items() if arn}
        if not _flag(self.active) or not wanted:
            self.log.info("Restoring from the installation's own backups: nothing to bring back")
            return {}
        started = _now()
        context["ti"].xcom_push(key=STARTED_KEY, value=started)
        files = wanted.pop("memorydb", None)
        if files:  # MemoryDB's locked .rdb files: streamed now, before any copy job's wait
            context["ti"].xcom_push(key=FILES_KEY, value=self._bring_back_files(files))
        if not wanted:
            return self._finish(context, {})
        home = StsHook(aws_conn_id=self.home_conn_id, region_name=self.home_region)
        account = home.caller_identity()["Account"]
        destination = (
            f"arn:{self.hook.conn_partition}:backup:{self.home_region}:{account}:"
            f"backup-vault:{self.destination_vault_name}"
        )
        jobs = {}
        self._first_created: datetime | None = None
        # A job older than this run (an earlier run of the same restore or drill id, cleared
        # and run again) never moves this run's start back.
        run = context.get("dag_run")
        self._run_began = getattr(run, "start_date", None)
        for what, arn in sorted(wanted.items()):
            jobs[what] = self._copy_job(what, arn, destination)
            # Kept as each starts: a drill's cleanup deletes what every started job brings back.
            context["ti"].xcom_push(key=JOBS_KEY, value=jobs)
            self.log.info(
                "Bringing %s back: copy job %s of %s into %s", what, jobs[what], arn, destination
            )
        if self._first_created and self._first_created < datetime.fromisoformat(started):
            # A retry found jobs an earlier try started: the bring-back began then (the
            # drill's recovery time counts from there, not from this try).
            context["ti"].xcom_push(key=STARTED_KEY, value=self._first_created.isoformat())
        return self._wait_or_finish(context, jobs)

    def _copy_job(self, what: str, arn: str, destination: str) -> str:
        """The copy job bringing ``what`` back: started, or found again on a retry.

        Its idempotency tokens form a chain, ``<prefix>-<what>-back``, then ``-back-2``
        and on: each call with a token gets that token's job back from AWS, so a retry
        reuses the job a lost try started (no second copy, none left behind for the
        drill's cleanup), and goes past one that failed. With one token only, a retry
        after the operator fixed what failed it (a key, a grant) would get the same
        failed job back every time, and the restore could never go on.
        """
        for link in range(1, COPY_BACK_TOKENS + 1):
            token = f"{self.token_prefix}-{what}-back" + (f"-{link}" if link > 1 else "")
            job_id = self.hook.start_copy_job(
                recovery_point_arn=arn,
                source_vault_name=self.source_vault_name,
                destination_vault_arn=destination,
                iam_role_arn=self.iam_role_arn,
                idempotency_token=token,
            )["CopyJobId"]
            job = self.hook.describe_copy_job(job_id)
            if (job.get("SourceRecoveryPointArn"), job.get("DestinationBackupVaultArn")) != (
                arn,
                destination,
            ):
                # The token's job copies something else (a cleared run planned another set
                # under the same restore id): never restore it; go on along the chain.
                self.log.warning(
                    "Copy job %s (token %s) copies %s into %s, not the planned %s: skipped",
                    job_id,
                    token,
                    job.get("SourceRecoveryPointArn"),
                    job.get("DestinationBackupVaultArn"),
                    arn,
                )
                continue
            self._note_created(job.get("CreationDate"))
            if job.get("State") not in COPY_JOB_FAILED:
                return job_id
            self.log.warning(
                "Copy job %s (token %s) bringing %s back ended %s (%s): starting another",
                job_id,
                token,
                what,
                job.get("State"),
                job.get("StatusMessage") or "no message",
            )
        raise PermanentFailure(
            f"bringing {what} back failed {COPY_BACK_TOKENS} times (the last: {job_id}); "
            "the locked copy is untouched and nothing was restored: read the copy jobs' "
            "messages in the protected account"
        )

    def _note_created(self, created: Any) -> None:
        """Keep the earliest creation of this run's jobs of the planned points: where the
        bring-back began when a retry finds an earlier try's job."""
        if not isinstance(created, datetime):
            return
        created = created.astimezone(UTC)
        if self._run_began is not None and created < self._run_began:
            return
        if self._first_created is None or created < self._first_created:
            self._first_created = created

    def resume(self, context: Any, event: dict[str, Any] | None = None, jobs: dict | None = None):
        """Resumed after one copy job ended: wait for the next, or finish."""
        event_or_fail(event)
        # The jobs come back in next_kwargs from the triggerer; dag.test() passes only the
        # event, so they are also kept in this try's XCom.
        jobs = jobs or context["ti"].xcom_pull(task_ids=self.task_id, key=JOBS_KEY)
        return self._wait_or_finish(context, jobs or {})

    def _wait_or_finish(self, context: Any, jobs: dict[str, str]) -> dict[str, Any]:
        described = {what: self.hook.describe_copy_job(job) for what, job in jobs.items()}
        for what, job in described.items():
            if job.get("State") in COPY_JOB_FAILED:
                raise PermanentFailure(
                    f"bringing {what} back failed: copy job {job.get('CopyJobId')} ended "
                    f"{job.get('State')}: {job.get('StatusMessage') or 'no message'}. The locked "
                    "copy is untouched; nothing was restored yet"
                )
        pending = [what for what, job in described.items() if job.get("State") != "COMPLETED"]
        if pending:
            delay = poll_interval(15)
            self.defer(
                trigger=AwsBackupCopyJobCompleteTrigger(
                    resource_id=jobs[pending[0]],
                    waiter_delay=delay,
                    waiter_max_attempts=max(1, int(WAIT.total_seconds() // max(delay, 1))),
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="resume",
                kwargs={"jobs": jobs},
            )
        result = {
            what: {
                "copy_job_id": job["CopyJobId"],
                "source": job.get("SourceRecoveryPointArn"),
                "recovery_point_arn": job["DestinationRecoveryPointArn"],
            }
            for what, job in described.items()
        }
        return self._finish(context, result)

    def _finish(self, context: Any, result: dict[str, Any]) -> dict[str, Any]:
        files = context["ti"].xcom_pull(task_ids=self.task_id, key=FILES_KEY)
        if files:
            result = {**result, "memorydb": files}
        context["ti"].xcom_push(key=FINISHED_KEY, value=_now())
        self.log.info("Brought back: %s", result)
        return result

    def _bring_back_files(self, arns: list[str]) -> dict[str, Any]:
        """Stream each locked ``.rdb`` file into the installation's staging bucket.

        The protected role reads, the installation's role writes: no grant crosses
        between the accounts (as when the files were locked). A file already there
        with the same size (a retry) is not streamed again. MemoryDB is then seeded
        from the staged files, in the home region.
        """
        protected = S3Hook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)
        home = S3Hook(aws_conn_id=self.home_conn_id, region_name=self.home_region)
        staged = []
        for arn in sorted(arns):
            bucket, key = arn.split(":::", 1)[1].split("/", 1)
            target = f"{STAGING_PREFIX}{self.token_prefix}/{key.rsplit('/', 1)[-1]}"
            body, size = protected.open_current(bucket, key)
            there = home.head_object(target, self.staging_bucket)
            if there and there.get("ContentLength") == size:
                body.close()
                self.log.info("%s is staged already (a retry)", target)
            else:
                home.load_file_obj(body, target, self.staging_bucket, replace=True)
                self.log.info("Brought %s back to s3://%s/%s", arn, self.staging_bucket, target)
            staged.append(s3_object_arn(self.staging_bucket, target))
        return {"source": sorted(arns), "snapshot_arns": staged}


def _now() -> str:
    return datetime.now(UTC).isoformat()
