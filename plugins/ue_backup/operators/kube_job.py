"""Run a shell script on EFS data in a Kubernetes Job: purge, check, switch over.

The file system is reached either through an existing claim (the platform's
own, for an in-place restore) or through a claim this operator creates for
a file system restored side by side. The wait defers to the triggerer.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from ue_backup.config import JobsConfig
from ue_backup.triggers.base import run_inline
from ue_backup.triggers.kube_job import KubeJobCompleteTrigger
from ue_backup.triggers.waits import done_inline, ended_by_trigger, event_or_fail, poll_interval


class KubeEfsJobOperator(BaseOperator):
    """Run ``script`` (``sh -c``) with the EFS file system mounted at ``/efs``.

    Give ``claim`` (an existing claim) or ``file_system_id`` (a claim named
    ``claim_name``, by default ``<job_name>-efs``, is created for it). The
    Job's log goes to the task log; a failed Job fails the task with its log.
    ``poke_interval`` is how often the Job is checked; ``end_from_trigger``
    ends the task in the triggerer when the Job succeeds, with no XCom;
    ``inline_wait_seconds`` checks in the worker for that long first.
    ``job``: the Jobs' settings (config ``kubernetes.jobs``: resources, TTL,
    deadline, image), a ``JobsConfig``, its mapping or a template rendering to
    one (the run's settings); default: their defaults. ``image`` overrides
    their image. The wait has no timeout: the Job's deadline ends it.
    """

    template_fields = (
        "namespace",
        "job_name",
        "script",
        "claim",
        "claim_name",
        "file_system_id",
        "image",
        "job",
        "kubernetes_conn_id",
    )

    def __init__(
        self,
        *,
        namespace: str,
        job_name: str,
        script: str,
        claim: str | None = None,
        file_system_id: str | None = None,
        claim_name: str | None = None,
        image: str | None = None,
        job: JobsConfig | dict[str, Any] | str | None = None,
        kubernetes_conn_id: str = "kubernetes_default",
        deferrable: bool = True,
        poke_interval: float = 10.0,
        end_from_trigger: bool = False,
        inline_wait_seconds: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.namespace = namespace
        self.job_name = job_name
        self.script = script
        self.claim = claim
        self.file_system_id = file_system_id
        self.claim_name = claim_name
        self.image = image
        self.job = job
        self.kubernetes_conn_id = kubernetes_conn_id
        self.deferrable = deferrable
        self.poke_interval = poke_interval
        self.end_from_trigger = end_from_trigger
        self.inline_wait_seconds = inline_wait_seconds

    def execute(self, context: Any) -> Any:
        from ue_backup.hooks.kube_job import KubeJobHook  # not at parse: see kube_names

        hook = KubeJobHook(conn_id=self.kubernetes_conn_id)
        claim = self.claim
        if not claim:
            if not self.file_system_id:
                raise ValueError("give claim or file_system_id")
            claim = hook.ensure_efs_claim(
                self.namespace, self.claim_name or f"{self.job_name}-efs", self.file_system_id
            )
        hook.run_job(
            self.namespace,
            self.job_name,
            image=self.image or None,
            script=self.script,
            claim=claim,
            settings=job_settings(self.job),
        )
        self.log.info("Job %s/%s started on claim %s", self.namespace, self.job_name, claim)
        trigger = KubeJobCompleteTrigger(
            namespace=self.namespace,
            name=self.job_name,
            poll_interval=poll_interval(self.poke_interval),
            kubernetes_conn_id=self.kubernetes_conn_id,
            end_task=self.end_from_trigger and self.deferrable,
        )
        if self.deferrable:
            # the trigger's own check judges the Job, inline as in the triggerer
            event = (
                done_inline(trigger.check, self.inline_wait_seconds)
                if self.inline_wait_seconds
                else None
            )
            if event is not None:
                return self.execute_complete(context, event.payload)
            self.defer(trigger=trigger, method_name="execute_complete")
        return self.execute_complete(context, run_inline(trigger))

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict | None:
        if ended_by_trigger(event):  # the triggerer logged the Job's output
            return None
        event = event_or_fail(event)
        self.log.info("Job %s succeeded; its log:\n%s", self.job_name, event.get("log", ""))
        return {"job": self.job_name, "log": event.get("log", "")}


def job_settings(value: JobsConfig | dict[str, Any] | str | None) -> JobsConfig:
    """The Jobs' settings an operator was given (rendered): a model, its mapping, or None."""
    if isinstance(value, JobsConfig):
        return value
    if isinstance(value, str):
        raise ValueError(
            f"job settings rendered to text, not a mapping: {value[:80]!r} "
            "(the DAG needs render_template_as_native_obj=True)"
        )
    return JobsConfig.model_validate(value or {})
