"""The approval an in-place restore waits for before anything live is replaced.

Built on the standard provider's ``ApprovalOperator`` (human-in-the-loop,
Airflow 3.1+): the task shows the plan and exactly what will be replaced and
set aside (``plan_view.approval_body``) in the run's Required Actions, and
the run waits there, with the live system untouched, until someone with
the right to respond approves or rejects it. Two things differ from the
provider's operator, each for a reason:

- A run that needs no approval passes straight through: a side-by-side
  restore, or an in-place restore approved ahead with ``confirm`` (REST,
  CLI). The provider's operator always waits; skipping it instead would skip
  everything after it. A plan (mode ``plan``) ends here: every later step is
  marked skipped at once, without a worker start each (``end_a_plan``).
- Reject, and a response that never comes, fail the task with a sentence
  saying nothing was changed and who decided. The provider's default on
  reject skips the tasks downstream and the run ends "success", which reads
  as a restore done. A failed run here is loud and true: no restore happened.

Only ``ue_restore`` builds it, and only where ``HUMAN_IN_THE_LOOP``
(Airflow 3.0, as on MWAA, keeps ``confirm`` as the only way).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from airflow.exceptions import AirflowException, AirflowOptionalProviderFeatureException

from ue_backup.compat import AirflowFailException
from ue_backup.plan_view import approval_body

# Human-in-the-loop (the standard provider's ApprovalOperator) needs Airflow 3.1+: on 3.0
# (MWAA today) the provider refuses the import, and an in-place restore is approved ahead
# with params.confirm alone (tasks.restore_steps.check_confirm).
try:
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    HUMAN_IN_THE_LOOP = True
# Airflow 3.0: the provider raises its feature exception (through common.compat, which may
# be another class than airflow.exceptions' on 3.0), or the import fails outright
except (ImportError, AirflowOptionalProviderFeatureException, AirflowException):
    ApprovalOperator = None  # type: ignore[assignment,misc]
    HUMAN_IN_THE_LOOP = False

# How long an in-place restore waits for a response before it ends with nothing changed.
APPROVAL_TIMEOUT = timedelta(hours=4)


def responder_name(user: Any) -> str:
    """Who responded: a dict (HITLUser) from the Core API, a model from the trigger path."""
    if isinstance(user, dict):
        return str(user.get("name") or user.get("id") or "someone")
    return str(getattr(user, "name", None) or "someone")


if HUMAN_IN_THE_LOOP:

    class InPlaceApprovalOperator(ApprovalOperator):  # type: ignore[misc,valid-type]
        """Wait for a person's approval of an in-place restore; pass the others through.

        Reads the run's settings (``settings_task``) and plan (``plan_task``);
        returns how the run was approved (``approval``, ``by``, ``at``).
        """

        def __init__(
            self,
            *,
            settings_task: str = "validate",
            plan_task: str = "plan",
            response_timeout: timedelta = APPROVAL_TIMEOUT,
            before_going_ahead: Callable[[Any], None] | None = None,
            **kwargs: Any,
        ) -> None:
            super().__init__(
                subject="Replace the live installation with a backup set?",
                response_timeout=response_timeout,
                **kwargs,
            )
            self.settings_task = settings_task
            self.plan_task = plan_task
            # Checked again once approved (hours may have passed since validate): the DAG
            # passes its run guard, so an approval never starts a restore over a backup.
            self.before_going_ahead = before_going_ahead

        def execute(self, context: Any) -> Any:
            ti = context["ti"]
            settings = ti.xcom_pull(task_ids=self.settings_task)
            approval = settings.get("approval", "not_needed")
            if not settings.get("restoring"):
                self.end_a_plan(context)
            if approval != "human":
                why = {
                    "not_needed": "nothing live is replaced (side by side, or a plan)",
                    "confirmed": f"confirm named {settings['installation']} (approved ahead)",
                }[approval]
                self.log.info("No approval to wait for: %s", why)
                return {"approval": approval}
            planned = ti.xcom_pull(task_ids=self.plan_task)
            self.subject = (
                f"Replace the live {settings['installation']} with backup set "
                f"{planned['plan'].get('backup_set') or '(mixed points)'}?"
            )
            self.body = approval_body(settings, planned)
            self.log.info(
                "Waiting up to %s for a person to approve or reject the in-place restore "
                "(the run's Required Actions); nothing live has changed",
                self.response_timeout,
            )
            return super().execute(context)

        def end_a_plan(self, context: Any) -> None:
            """Mode plan ends here: every later step is marked skipped at once.

            Each would otherwise start a worker only to skip itself through its gate
            (a dozen starts, a minute on a busy deployment, for a plan the operator
            is waiting to read). Nothing was set up, so the teardowns have nothing to
            undo. Raises the Task SDK's DownstreamTasksSkipped: the return value is
            pushed first.
            """
            context["ti"].xcom_push(key="return_value", value={"approval": "not_needed"})
            later = context["task"].get_flat_relatives(upstream=False)
            self.log.info("A plan only: the %d later steps are skipped now", len(later))
            self.skip(ti=context["ti"], tasks=later)

        def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
            if "error" in event:
                raise AirflowFailException(
                    f"No one approved the in-place restore within {self.response_timeout} "
                    f"({event.get('error_type')}): nothing was changed; trigger it again to "
                    "restore"
                )
            chosen = event["chosen_options"]
            who = responder_name(event.get("responded_by_user"))
            at = event.get("responded_at")
            if chosen != [self.APPROVE]:
                raise AirflowFailException(
                    f"{who} rejected the in-place restore at {at}: nothing was changed"
                )
            super().execute_complete(context, event)
            self.log.info("%s approved the in-place restore at %s", who, at)
            if self.before_going_ahead is not None:
                try:
                    self.before_going_ahead(context["ti"])
                except Exception as refused:
                    raise AirflowFailException(
                        f"{who} approved the in-place restore at {at}, but it cannot go ahead "
                        f"now: {refused} Nothing was changed; trigger it again."
                    ) from None
            return {"approval": "approved", "by": who, "at": str(at)}

else:  # Airflow 3.0: no human-in-the-loop; ue_restore builds no approval task
    InPlaceApprovalOperator = None  # type: ignore[assignment,misc]
