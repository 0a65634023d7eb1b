"""CloudWatch: the RPO guard's metric and alarms (``tasks.rpo``).

The provider has no CloudWatch metrics hook (its ``AwsLogsHook`` is
CloudWatch Logs). This one owns the ``cloudwatch`` client, with this
project's retries, and the three calls the RPO guard makes: publish the
verified-set metric, read an alarm, create or update it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from ue_backup.aws import RetryingHookMixin


class CloudWatchHook(RetryingHookMixin, AwsBaseHook):
    """Interact with Amazon CloudWatch (metrics and alarms) through the ``cloudwatch`` client."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "cloudwatch"
        super().__init__(*args, **kwargs)

    def put_metric_data(self, namespace: str, metric_data: list[dict[str, Any]]) -> None:
        """Publish data points (``MetricData`` as CloudWatch takes it) in ``namespace``.

        The IAM policy allows ``PutMetricData`` in the guard's namespace only
        (a condition on ``cloudwatch:namespace``), so the namespace is a
        parameter of its own, never inside the data.
        """
        self.conn.put_metric_data(Namespace=namespace, MetricData=metric_data)

    def get_metric_alarm(self, name: str) -> dict[str, Any] | None:
        """The metric alarm of that name as CloudWatch describes it, or None.

        Asked by name (``AlarmNames``): the policy lets the role read its own
        alarms only, so the guard never lists the account's alarms.
        """
        found = self.conn.describe_alarms(AlarmNames=[name], AlarmTypes=["MetricAlarm"])
        return next(iter(found.get("MetricAlarms") or []), None)

    def put_metric_alarm(self, spec: Mapping[str, Any]) -> None:
        """Create the alarm ``spec`` describes, or update it (CloudWatch keeps its state)."""
        self.conn.put_metric_alarm(**spec)
