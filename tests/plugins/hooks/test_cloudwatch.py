"""CloudWatchHook against the sandbox: the RPO guard's metric and alarm calls."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.plugins.support import mutations
from ue_backup import rpo
from ue_backup.hooks.cloudwatch import CloudWatchHook


def spec(minutes: int = 1500) -> dict:
    return rpo.alarm_spec("ue-test", "eu-west-1", minutes, None)


def test_an_alarm_is_none_until_put_then_as_specified_and_updated(sandbox):
    hook = CloudWatchHook()
    assert hook.get_metric_alarm(spec()["AlarmName"]) is None

    hook.put_metric_alarm(spec())
    found = hook.get_metric_alarm(spec()["AlarmName"])

    assert found["AlarmName"] == spec()["AlarmName"]
    assert not rpo.alarm_differs(spec(), found)
    hook.put_metric_alarm(spec(3000))
    assert rpo.alarm_differs(spec(), hook.get_metric_alarm(spec()["AlarmName"]))
    assert hook.get_metric_alarm("ue-backup-rpo-someone-else") is None


def test_put_metric_data_publishes_in_the_namespace(sandbox):
    hook = CloudWatchHook()
    point = datetime.now(UTC).replace(microsecond=0)

    hook.put_metric_data(
        rpo.NAMESPACE,
        [
            {
                "MetricName": rpo.METRIC,
                "Dimensions": rpo.dimensions("ue-test", "eu-west-1"),
                "Timestamp": point,
                "Value": 1.0,
                "Unit": "Count",
            }
        ],
    )

    (put,) = mutations(sandbox, "cloudwatch", "PutMetricData")
    listed = sandbox.client("cloudwatch").list_metrics(Namespace=rpo.NAMESPACE)["Metrics"]
    assert [m["MetricName"] for m in listed] == [rpo.METRIC]
    assert put
