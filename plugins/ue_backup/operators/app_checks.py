"""Run the configured application checks against a restored system, in a Kubernetes Job.

Airflow's workers usually have no route to a restored database; the
installation's cluster has. So the checks (``ue_backup.app_checks`` renders
their script) run in a Job there, with the restored EFS file system mounted,
pointed at the restored RDS instance and MemoryDB cluster. Where they are is
read at run time (RDS and MemoryDB describe calls); the database password
comes from an RDS-managed master secret (``MasterUserSecret``), read with
Secrets Manager. RDS restores a PostgreSQL copy with its source's password
and no such secret: a copy nobody uses yet (side by side, a drill) first
gets one (``manage_password``: RDS makes a new password nobody sees); after
an in-place restore the instance it replaced lends its secret
(``login_instance``), since the live database keeps the password the
platform has. The password reaches the pod only through a Kubernetes
Secret created for this run and owned by its Job: never the Job's spec, a
log or XCom. The Job and its Secret are deleted when the task ends, passed
or failed (a retry makes them again); ``ttlSecondsAfterFinished`` deletes
them if the task itself dies first.

The result is the Job's log parsed into one result per check, returned (and
pushed as the return value when the checks fail, for the report to read); a
failing check fails the task with its name and a sample of what is missing.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from airflow.sdk.bases.xcom import BaseXCom

from ue_backup.app_checks import (
    DB_PASSWORD_ENV,
    LOGIN_SECRET_KEY,
    PASSWORD_MANAGED_KEY,
    ChecksLogError,
    describe_failure,
    parse_log,
    render_script,
    summarize,
    table,
)
from ue_backup.compat import TaskDeferred
from ue_backup.config import VerificationConfig
from ue_backup.errors import PermanentFailure
from ue_backup.operators.kube_job import KubeEfsJobOperator, job_settings
from ue_backup.triggers.base import run_inline
from ue_backup.triggers.kube_job import KubeJobCompleteTrigger
from ue_backup.triggers.waits import done_inline, poll_interval

# A finished Job (and the Secret it owns) is deleted by Kubernetes this long after it
# ended, should the task die before it deletes them itself: at most this (the Secret holds a
# password), less when kubernetes.jobs.ttl_seconds_after_finished is less. The Job is stopped
# after kubernetes.jobs.active_deadline_seconds, whatever its checks are doing.
JOB_TTL_SECONDS = 600
# psql waits this long for the server before the check reports an error.
CONNECT_TIMEOUT_SECONDS = 10
# How often, and how many times, the task looks for a copy's new managed password.
PASSWORD_POLL_SECONDS = 15
PASSWORD_WAIT_ROUNDS = 40


def _truthy(value: Any) -> bool:
    """A templated flag: True, or a rendered "True" (render_template_as_native_obj off)."""
    return value is True or str(value).lower() == "true"


class AppChecksOperator(KubeEfsJobOperator):
    """Run ``verification``'s checks in the Job ``job_name`` against a restored system.

    ``db_instance_identifier``: the restored RDS instance (its endpoint and
    managed master secret are read when the task runs; ``database`` names the
    database, by default the instance's ``DBName``); ``memorydb_cluster_name``:
    the restored cluster, when a Redis reference check is configured
    (``redis_tls`` overrides the cluster's ``TLSEnabled``); ``claim`` or
    ``file_system_id``: the restored EFS, when an EFS reference check is.
    ``image`` defaults to the verification's image. ``verification`` is a
    ``VerificationConfig`` (or its mapping), or a template that renders to one
    when the task runs (a DAG whose configuration is only known at run time):
    a model is never rendered, and a template's result is not rendered again,
    so a query's own braces are safe either way.
    """

    template_fields = (
        *KubeEfsJobOperator.template_fields,
        "verification",
        "db_instance_identifier",
        "login_instance",
        "manage_password",
        "database",
        "memorydb_cluster_name",
        "aws_conn_id",
        "region_name",
    )

    def __init__(
        self,
        *,
        verification: VerificationConfig | dict[str, Any] | str,
        db_instance_identifier: str,
        login_instance: str | None = None,
        manage_password: bool | str = False,
        database: str | None = None,
        memorydb_cluster_name: str | None = None,
        redis_tls: bool | None = None,
        image: str | None = None,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        # a mapping becomes a model now: Airflow would render a mapping's strings as templates
        self.verification: Any = (
            verification
            if isinstance(verification, str)
            else VerificationConfig.model_validate(verification)
        )
        kwargs.pop("end_from_trigger", None)  # the task must resume: it cleans up, it returns
        super().__init__(script="", image=image or "", end_from_trigger=False, **kwargs)
        self.db_instance_identifier = db_instance_identifier
        self.login_instance = login_instance
        self.manage_password = manage_password
        self.database = database
        self._password_rounds = 0
        self.memorydb_cluster_name = memorydb_cluster_name
        self.redis_tls = redis_tls
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name

    # --- start ---------------------------------------------------------------------------

    def execute(self, context: Any) -> Any:
        from ue_backup.hooks.kube_job import MOUNT_PATH, KubeJobHook

        self.verification = VerificationConfig.model_validate(self.verification or {})
        if not self.verification.has_checks:
            raise PermanentFailure("the verification section configures no check")
        self.image = self.image or self.verification.image
        rds = self._rds()
        instance, lender, arn = self._login_secret(rds)
        if arn is None:
            return self._await_password(context, rds, instance, lender)
        context["ti"].xcom_push(key=LOGIN_SECRET_KEY, value=arn)  # its name, never its value
        env, secret = self._target(instance, arn)
        hook = KubeJobHook(conn_id=self.kubernetes_conn_id)
        claim = self.claim
        if not self.verification.reference_checks.efs_paths_query:
            claim = None  # nothing to look for on EFS: no volume to mount
        elif not claim and self.file_system_id:
            claim = hook.ensure_efs_claim(
                self.namespace, self.claim_name or f"{self.job_name}-efs", self.file_system_id
            )
        script = render_script(self.verification, efs_mount=MOUNT_PATH if claim else None)
        self._clean(hook)  # what an earlier try left: its results are not this try's
        try:
            uid = hook.create_job_with_secret_env(
                self.namespace,
                self.job_name,
                image=self.image,
                script=script,
                claim=claim,
                env=env,
                secret_keys=sorted(secret),
                settings=job_settings(self.job),
                ttl_seconds=JOB_TTL_SECONDS,
            )
            hook.create_owned_secret(self.namespace, self.job_name, secret, job_uid=uid)
        except BaseException:
            self._clean(hook)
            raise
        self.log.info(
            "Check Job %s/%s started against %s (%s)",
            self.namespace,
            self.job_name,
            self.db_instance_identifier,
            ", ".join(f"{k}={v}" for k, v in env.items()),
        )
        trigger = KubeJobCompleteTrigger(
            namespace=self.namespace,
            name=self.job_name,
            poll_interval=poll_interval(self.poke_interval),
            kubernetes_conn_id=self.kubernetes_conn_id,
        )
        try:
            if self.deferrable:
                event = (
                    done_inline(trigger.check, self.inline_wait_seconds)
                    if self.inline_wait_seconds
                    else None
                )
                if event is None:
                    self.defer(
                        trigger=trigger,
                        method_name="execute_complete",
                        kwargs={"job_uid": uid},
                    )
                payload = event.payload
            else:
                payload = run_inline(trigger)
        except TaskDeferred:
            raise
        except BaseException:
            self._clean(hook)
            raise
        return self.execute_complete(context, payload, job_uid=uid)

    # --- the login -----------------------------------------------------------------------

    def _rds(self) -> Any:
        from ue_backup.hooks.rds import RdsHook

        return RdsHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name)

    def _login_secret(self, rds: Any) -> tuple[dict[str, Any], dict[str, Any], str | None]:
        """The checked instance, the one whose secret logs in, and that secret (None: not yet).

        The secret is the checked instance's own managed master secret, or that
        of ``login_instance`` (in place: the instance the restore replaced), once
        Secrets Manager holds it (``SecretStatus`` active).
        """
        instance = rds.describe_instance(self.db_instance_identifier)
        source = rds.describe_instance(self.login_instance) if self.login_instance else instance
        secret = source.get("MasterUserSecret") or {}
        ready = (
            secret.get("SecretArn")
            and secret.get("SecretStatus", "active") == "active"
            # a password being set (RDS modifying the instance) may not log in yet
            and instance.get("DBInstanceStatus", "available") == "available"
            and not (instance.get("PendingModifiedValues") or {}).get("MasterUserPassword")
        )
        return instance, source, secret["SecretArn"] if ready else None

    def _await_password(
        self, context: Any, rds: Any, instance: dict[str, Any], lender: dict[str, Any]
    ) -> Any:
        """Ask RDS to manage the copy's master password (once), then look again later.

        RDS restores a PostgreSQL instance with the source's password and no
        managed secret, so a copy nobody uses yet (``manage_password``: side by
        side, a drill) is given one: RDS makes a new password and keeps it in
        a new secret, and nobody ever sees it. Never for the database that is
        live (in place), whose password the platform uses.
        """
        name = self.db_instance_identifier
        has_secret = lender.get("MasterUserSecret")
        if not has_secret and (self.login_instance or not _truthy(self.manage_password)):
            lender = f" (the login of {self.login_instance})" if self.login_instance else ""
            raise PermanentFailure(
                f"no managed master password to log the checks in to {name}{lender}: "
                "the checks read their login from an RDS-managed secret (MasterUserSecret)"
            )
        if not has_secret:
            from botocore.exceptions import ClientError

            try:
                rds.manage_master_password(name)
            except ClientError as error:  # still busy after its restore (backing-up): later
                if error.response.get("Error", {}).get("Code") != "InvalidDBInstanceState":
                    raise
                self.log.info("%s cannot be modified yet: %s", name, error)
            else:
                self.log.info(
                    "%s was restored without a managed master password (RDS restores "
                    "PostgreSQL so): asked RDS to give it one, kept in a secret of its own",
                    name,
                )
                # the restore's report tells the operator: the copy's password changed
                context["ti"].xcom_push(key=PASSWORD_MANAGED_KEY, value=name)
        self._password_rounds += 1
        if self._password_rounds > PASSWORD_WAIT_ROUNDS:
            raise RuntimeError(f"RDS has not made {name}'s managed master password yet")
        delay = poll_interval(PASSWORD_POLL_SECONDS)
        if self.deferrable:
            from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger

            self.defer(
                trigger=TimeDeltaTrigger(timedelta(seconds=delay)),
                method_name="execute_after_password_wait",
                kwargs={"rounds": self._password_rounds},
            )
        time.sleep(delay)
        return self.execute(context)

    def execute_after_password_wait(self, context: Any, event: Any = None, rounds: int = 0) -> Any:
        """Resumed after a wait for the managed password: start over, counting the waits."""
        self._password_rounds = rounds
        return self.execute(context)

    def _target(self, instance: dict[str, Any], arn: str) -> tuple[dict[str, str], dict[str, str]]:
        """The Job's plain environment, and its secret one (only ever in the Secret)."""
        from airflow.providers.amazon.aws.hooks.secrets_manager import SecretsManagerHook
        from airflow.sdk.log import mask_secret

        from ue_backup.hooks.memorydb import MemoryDbHook

        aws = {"aws_conn_id": self.aws_conn_id, "region_name": self.region_name}
        endpoint = instance.get("Endpoint") or {}
        if not endpoint.get("Address"):
            raise RuntimeError(f"{self.db_instance_identifier} has no endpoint yet")
        # the secret lives in the instance's region (a copy region's restore: that one)
        login = SecretsManagerHook(
            aws_conn_id=self.aws_conn_id, region_name=arn.split(":")[3]
        ).get_secret_as_dict(arn)
        password = login.get("password")
        if not password or not login.get("username"):
            raise PermanentFailure(f"the secret of {self.db_instance_identifier} has no login")
        mask_secret(password)
        env = {
            "PGHOST": endpoint["Address"],
            "PGPORT": str(endpoint.get("Port") or 5432),
            "PGDATABASE": self.database or instance.get("DBName") or "postgres",
            "PGUSER": login["username"],
            "PGCONNECT_TIMEOUT": str(CONNECT_TIMEOUT_SECONDS),
        }
        if self.verification.reference_checks.redis_keys_query:
            if not self.memorydb_cluster_name:
                raise PermanentFailure("a Redis reference check needs memorydb_cluster_name")
            cluster = MemoryDbHook(**aws).describe_cluster(self.memorydb_cluster_name)
            where = cluster.get("ClusterEndpoint") or {}
            if not where.get("Address"):
                raise RuntimeError(f"{self.memorydb_cluster_name} has no endpoint yet")
            tls = cluster.get("TLSEnabled", True) if self.redis_tls is None else self.redis_tls
            env.update(
                UE_CHECK_REDIS_HOST=where["Address"],
                UE_CHECK_REDIS_PORT=str(where.get("Port") or 6379),
                UE_CHECK_REDIS_TLS="1" if tls else "0",
            )
        return env, {DB_PASSWORD_ENV: password}

    # --- end -----------------------------------------------------------------------------

    def execute_complete(
        self, context: Any, event: dict[str, Any] | None = None, job_uid: str | None = None
    ) -> dict:
        from ue_backup.hooks.kube_job import KubeJobHook

        hook = KubeJobHook(conn_id=self.kubernetes_conn_id)
        # resumed after a deferral: a new operator, its template rendered again
        self.verification = VerificationConfig.model_validate(self.verification or {})
        try:
            event = event or {}
            if event.get("status") != "success" and event.get("kind") == "error":
                # the wait's own check failed (access denied, say): this try only
                raise RuntimeError(event.get("message") or f"wait failed: {event!r}")
            log = (
                hook.job_log_by_uid(self.namespace, job_uid)
                if job_uid
                else hook.job_log(self.namespace, self.job_name)
            )
            return self._judge(context, log, event)
        finally:
            self._clean(hook)

    def _judge(self, context: Any, log: str, event: dict[str, Any]) -> dict:
        try:
            results = parse_log(log, self.verification)
        except ChecksLogError as error:
            why = "" if event.get("status") == "success" else f"{event.get('message')}\n"
            raise PermanentFailure(f"the check Job {self.job_name}: {why}{error}") from None
        summary = summarize(self.job_name, results)
        self.log.info("Application checks:\n%s", table(results))
        failed = [r for r in results if not r.ok]
        if failed:
            context["ti"].xcom_push(key=BaseXCom.XCOM_RETURN_KEY, value=summary)
            raise PermanentFailure(
                f"{len(failed)} of {len(results)} application check(s) failed: "
                + "; ".join(describe_failure(r) for r in failed)
            )
        return summary

    def _clean(self, hook: Any) -> None:
        hook.delete_job(self.namespace, self.job_name)
        hook.delete_secret(self.namespace, self.job_name)
