"""CloudWatch: metric alarms that are evaluated, on a clock the tests control, and notify SNS.

moto stores alarms and metric data but never evaluates an alarm, so an alarm
never leaves its first state and never sends anything. The sandbox adds:

- ``evaluate(now)``: every metric alarm is judged as CloudWatch judges it,
  over its last ``EvaluationPeriods`` whole periods before ``now`` (the
  statistic of the data points in each; a period without data is missing,
  and ``TreatMissingData`` says what that counts as), ``DatapointsToAlarm``
  of them breaching -> ALARM, else OK (INSUFFICIENT_DATA when nothing is
  left to judge). On a change it sets the alarm's state and publishes, to
  every SNS topic among the new state's actions, a message shaped like
  CloudWatch's (JSON: ``AlarmName``, ``NewStateValue``, ``NewStateReason``,
  ``OldStateValue``, ``Trigger``, ...). Tests call it with the time they
  want; ``AlarmClock`` calls it with the real time in a loop, for the demo.
- alarms as CloudWatch keeps them: a new alarm is ``INSUFFICIENT_DATA``
  until evaluated (moto says ``OK``), and ``PutMetricAlarm`` on an existing
  alarm keeps its state (moto makes a new alarm in state ``OK``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.cloudwatch import urls
from moto.cloudwatch.models import cloudwatch_backends
from moto.cloudwatch.responses import CloudWatchResponse
from moto.sns.models import sns_backends

from sandbox.aws.context import OneCallAtATime, current
from sandbox.aws.extensions import Extension

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "GreaterThanThreshold": lambda v, t: v > t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


class SandboxCloudWatchResponse(OneCallAtATime, CloudWatchResponse):
    def put_metric_alarm(self) -> Any:
        backend = cloudwatch_backends[self.current_account][self.region]
        before = backend.alarms.get(self._get_param("AlarmName"))
        result = super().put_metric_alarm()
        alarm = backend.alarms[self._get_param("AlarmName")]
        if before is None:
            alarm.state_value = "INSUFFICIENT_DATA"
        else:  # an update keeps the state and its history
            alarm.state_value = before.state_value
            alarm.state_reason = before.state_reason
            alarm.state_reason_data = before.state_reason_data
            alarm.state_updated_timestamp = before.state_updated_timestamp
            alarm.history = before.history
        return result


EXTENSION = Extension(urls, SandboxCloudWatchResponse)


# --- evaluation -----------------------------------------------------------------------------


def _naive_utc(moment: datetime) -> datetime:
    """moto keeps metric timestamps as naive UTC."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _statistic(name: str, values: list[float]) -> float:
    return {
        "Sum": sum,
        "SampleCount": len,
        "Average": lambda v: sum(v) / len(v),
        "Minimum": min,
        "Maximum": max,
    }[name](values)


def _values(backend: Any, alarm: Any, start: datetime, end: datetime) -> list[float]:
    """The values of the alarm's metric (same namespace, name and dimensions) in [start, end)."""
    wanted = sorted((d.name, d.value) for d in alarm.dimensions)
    return [
        float(datum.value)
        for datum in backend.metric_data
        if datum.namespace == alarm.namespace
        and datum.name == alarm.metric_name
        and sorted((d.name, d.value) for d in datum.dimensions) == wanted
        and start <= _naive_utc(datum.timestamp) < end
        and hasattr(datum, "value")
    ]


def judge(backend: Any, alarm: Any, now: datetime) -> tuple[str, str, list[str]]:
    """(state, reason, per-period outcomes) of one metric alarm at ``now``."""
    period = timedelta(seconds=int(alarm.period))
    end = datetime.fromtimestamp(
        now.timestamp() // period.total_seconds() * period.total_seconds(), UTC
    )
    end = _naive_utc(end)
    outcomes, points = [], []
    for i in range(int(alarm.evaluation_periods)):
        start = end - period * (i + 1)
        values = _values(backend, alarm, start, start + period)
        if not values:
            outcomes.append("missing")
            continue
        value = _statistic(alarm.statistic, values)
        points.append(f"{value:g} ({start.isoformat()})")
        breach = _COMPARE[alarm.comparison_operator](value, float(alarm.threshold))
        outcomes.append("breaching" if breach else "ok")
    treat = alarm.treat_missing_data or "missing"
    if treat == "breaching":
        outcomes = ["breaching" if o == "missing" else o for o in outcomes]
    elif treat == "notBreaching":
        outcomes = ["ok" if o == "missing" else o for o in outcomes]
    else:
        outcomes = [o for o in outcomes if o != "missing"]
    needed = int(alarm.datapoints_to_alarm or alarm.evaluation_periods)
    breaching = outcomes.count("breaching")
    if not outcomes:
        if treat == "ignore":
            return alarm.state_value, alarm.state_reason, outcomes
        return "INSUFFICIENT_DATA", "Insufficient Data: no data points were received", outcomes
    state = "ALARM" if breaching >= needed else "OK"
    reason = (
        f"Threshold Crossed: {breaching} out of the last {alarm.evaluation_periods} datapoints "
        f"were {'' if state == 'ALARM' else 'not '}{alarm.comparison_operator} "
        f"{float(alarm.threshold):g} (missing data treated as {treat}; "
        f"datapoints: {', '.join(points) or 'none'})"
    )
    return state, reason, outcomes


def message(alarm: Any, old: str, now: datetime, account: str) -> dict[str, Any]:
    """The notification CloudWatch publishes for a state change (its JSON shape)."""
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": alarm.configuration_updated_timestamp.isoformat(),
        "NewStateValue": alarm.state_value,
        "NewStateReason": alarm.state_reason,
        "StateChangeTime": now.astimezone(UTC).isoformat(),
        "Region": alarm.region_name,
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old,
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
        "Trigger": {
            "MetricName": alarm.metric_name,
            "Namespace": alarm.namespace,
            "StatisticType": "Statistic",
            "Statistic": str(alarm.statistic).upper(),
            "Unit": alarm.unit,
            "Dimensions": [{"name": d.name, "value": d.value} for d in alarm.dimensions],
            "Period": int(alarm.period),
            "EvaluationPeriods": int(alarm.evaluation_periods),
            "DatapointsToAlarm": int(alarm.datapoints_to_alarm or alarm.evaluation_periods),
            "ComparisonOperator": alarm.comparison_operator,
            "Threshold": float(alarm.threshold),
            "TreatMissingData": alarm.treat_missing_data or "missing",
        },
    }


def _notify(alarm: Any, body: dict[str, Any], account: str) -> list[str]:
    actions = {
        "ALARM": alarm.alarm_actions,
        "OK": alarm.ok_actions,
        "INSUFFICIENT_DATA": alarm.insufficient_data_actions,
    }[alarm.state_value]
    sent = []
    for arn in actions or ():
        if not arn.startswith("arn:aws:sns:") or not alarm.actions_enabled:
            continue
        region = arn.split(":")[3]
        sns_backends[account][region].publish(
            json.dumps(body),
            arn=arn,
            subject=f'{alarm.state_value}: "{alarm.name}" in {alarm.region_name}'[:100],
        )
        sent.append(arn)
    return sent


def evaluate(now: datetime) -> list[dict[str, Any]]:
    """Judge every metric alarm of every account and region at ``now``; the changes made."""
    changes = []
    with current().lock:
        for account, regions in list(cloudwatch_backends.items()):
            for backend in list(regions.values()):
                for alarm in list(backend.alarms.values()):
                    if alarm.metric_data_queries or alarm.rule or not alarm.metric_name:
                        continue  # metric math and composite alarms are not evaluated here
                    state, reason, outcomes = judge(backend, alarm, now)
                    if state == alarm.state_value:
                        continue
                    old = alarm.state_value
                    data = json.dumps({"version": "1.0", "evaluatedDatapoints": outcomes})
                    alarm.update_state(reason, data, state)
                    body = message(alarm, old, now, account)
                    sent = _notify(alarm, body, account)
                    changes.append({"alarm": alarm.name, "old": old, "new": state, "sent": sent})
    return changes


class AlarmClock:
    """Evaluates every alarm with the real time every ``interval`` seconds (the demo)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cloudwatch-alarms", daemon=True)

    def start(self) -> AlarmClock:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                evaluate(datetime.now(UTC))
            except RuntimeError:  # the sandbox has stopped
                return
