"""Alerts: one SNS message per failed step, and one per overdue cold window.

Operators learn about a failed backup from a page, not from browsing the UI.
Every task of the ue-backup DAGs carries ``TaskFailureNotifier`` as its
failure callback; Airflow calls it once, when a task fails for good (not on
a retry), so one failing step gives exactly one message naming that step and
its reason. The run's own summary task (``run_outcome``) does not alert: it
only repeats what the failed step already said.

The topic comes from the configuration (``alerts.sns_topic_arn``), read when
the alert is sent, so a configuration kept in the Airflow Variable works too.
The message is always logged as well, so the run log says the same thing.
Sending goes through the amazon provider's ``SnsNotifier``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from airflow.providers.common.compat.notifier import BaseNotifier

from ue_backup.config import InstallationConfig

log = logging.getLogger(__name__)

SUBJECT_LIMIT = 100  # SNS refuses longer subjects
REASON_LIMIT = 2000


def send_alert(cfg: InstallationConfig, subject: str, message: str) -> bool:
    """Log the alert and publish it to the configured topic; False when none is configured."""
    log.error("ALERT: %s\n%s", subject, message)
    if cfg.alerts is None:
        log.warning("No alerts.sns_topic_arn is configured: this alert is only in the log")
        return False
    from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

    SnsNotifier(
        aws_conn_id=cfg.aws_conn_id,
        target_arn=cfg.alerts.sns_topic_arn,
        region_name=cfg.alerts.region,
        subject=subject[:SUBJECT_LIMIT],
        message=message,
    ).notify({})
    return True


def failure_alert(installation: str, context: Mapping[str, Any]) -> tuple[str, str]:
    """Subject and message for a failed task: which step of which run, and why."""
    ti = context["ti"]
    error = context.get("exception")
    reason = f"{type(error).__name__}: {error}" if error else "(no exception recorded)"
    if len(reason) > REASON_LIMIT:
        reason = reason[:REASON_LIMIT] + " ..."
    subject = f"ue-backup {installation}: {ti.dag_id} failed at {ti.task_id}"
    lines = [
        f"Installation: {installation}",
        f"DAG: {ti.dag_id}",
        f"Run: {ti.run_id}",
        f"Failed step: {ti.task_id} (attempt {ti.try_number})",
        f"Reason: {reason}",
    ]
    url = getattr(ti, "log_url", None)
    if url:
        lines.append(f"Log: {url}")
    if ti.dag_id == "ue_backup":
        lines.append("The workflows are resumed by the run's teardown (or the watchdog).")
    return subject, "\n".join(lines)


class TaskFailureNotifier(BaseNotifier):
    """The failure callback of every ue-backup task: one alert naming the step and reason."""

    template_fields = ()

    def notify(self, context: Any) -> None:
        from ue_backup.config import ConfigError, load_config

        try:
            cfg = load_config()
        except ConfigError as error:
            # The failure is the configuration itself (preflight says so): log only.
            log.error("Cannot send the failure alert, the configuration is invalid: %s", error)
            return
        subject, message = failure_alert(cfg.installation, context)
        try:
            send_alert(cfg, subject, message)
        except Exception:
            # An alerting outage must not hide the original failure in the log.
            log.exception("Sending the failure alert to %s failed", cfg.alerts)


class UnlessInPlaceNotifier(TaskFailureNotifier):
    """``TaskFailureNotifier``, except in an in-place restore (``validate``'s ``in_place``).

    There the run's ``resume_workflows`` fails too, holding the workflows, and
    its alert names this step's failure with what is live and how to resume:
    one failure, one alert.
    """

    def notify(self, context: Any) -> None:
        settings = context["ti"].xcom_pull(task_ids="validate") or {}
        if settings.get("in_place"):
            log.error("No alert from this step: resume_workflows' alert names its failure")
            return
        super().notify(context)
