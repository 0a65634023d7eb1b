"""CloudWatch in the sandbox: metric alarms evaluated on the tests' clock, notifying SNS."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from sandbox.aws.fixtures import aws  # noqa: F401

DIMENSIONS = [
    {"Name": "Installation", "Value": "ue-test"},
    {"Name": "Region", "Value": "eu-west-1"},
]
T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)


@pytest.fixture
def inbox(aws):  # noqa: F811
    """An SNS topic with an SQS queue subscribed; returns (topic ARN, read messages)."""
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])

    def read() -> list[dict]:
        found = []
        while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for m in batch:
                envelope = json.loads(m["Body"])
                found.append({"subject": envelope["Subject"], **json.loads(envelope["Message"])})
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
        return found

    return topic, read


def put_alarm(aws, topic, periods=10, treat="breaching", name="rpo"):  # noqa: F811
    aws.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace="UeBackup",
        MetricName="VerifiedBackupSets",
        Dimensions=DIMENSIONS,
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=periods,
        DatapointsToAlarm=periods,
        Threshold=1,
        ComparisonOperator="LessThanThreshold",
        TreatMissingData=treat,
        AlarmActions=[topic],
        OKActions=[topic],
    )


def publish(aws, at, dimensions=DIMENSIONS):  # noqa: F811
    aws.client("cloudwatch").put_metric_data(
        Namespace="UeBackup",
        MetricData=[
            {
                "MetricName": "VerifiedBackupSets",
                "Dimensions": dimensions,
                "Timestamp": at,
                "Value": 1,
            }
        ],
    )


def state(aws, name="rpo"):  # noqa: F811
    return aws.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0][
        "StateValue"
    ]


def test_a_new_alarm_waits_for_its_first_evaluation(aws, inbox):  # noqa: F811
    put_alarm(aws, inbox[0])
    assert state(aws) == "INSUFFICIENT_DATA"
    assert inbox[1]() == []


def test_no_data_for_all_periods_is_alarm_once_and_ok_again_on_data(aws, inbox):  # noqa: F811
    topic, read = inbox
    put_alarm(aws, topic)
    publish(aws, T0)

    assert [c["new"] for c in aws.evaluate_alarms(T0 + timedelta(minutes=5))] == ["OK"]
    assert aws.evaluate_alarms(T0 + timedelta(minutes=10)) == []  # T0 still in the 10 periods
    changes = aws.evaluate_alarms(T0 + timedelta(minutes=11))
    assert changes == [{"alarm": "rpo", "old": "OK", "new": "ALARM", "sent": [topic]}]
    assert aws.evaluate_alarms(T0 + timedelta(minutes=30)) == []  # no second notification
    assert state(aws) == "ALARM"

    ok, alarm = read()
    assert (ok["NewStateValue"], ok["OldStateValue"]) == ("OK", "INSUFFICIENT_DATA")
    assert alarm["subject"] == 'ALARM: "rpo" in eu-west-1'
    assert (alarm["AlarmName"], alarm["NewStateValue"], alarm["OldStateValue"]) == (
        "rpo",
        "ALARM",
        "OK",
    )
    assert "10 out of the last 10 datapoints" in alarm["NewStateReason"]
    assert alarm["Trigger"]["TreatMissingData"] == "breaching"

    publish(aws, T0 + timedelta(minutes=29))
    assert [c["new"] for c in aws.evaluate_alarms(T0 + timedelta(minutes=30))] == ["OK"]
    assert [m["NewStateValue"] for m in read()] == ["OK"]


def test_other_dimensions_do_not_count(aws, inbox):  # noqa: F811
    put_alarm(aws, inbox[0])
    other = [DIMENSIONS[0], {"Name": "Region", "Value": "eu-central-1"}]
    publish(aws, T0, dimensions=other)
    assert [c["new"] for c in aws.evaluate_alarms(T0 + timedelta(minutes=2))] == ["ALARM"]


def test_missing_data_treated_as_missing_is_insufficient(aws, inbox):  # noqa: F811
    put_alarm(aws, inbox[0], treat="missing")
    assert aws.evaluate_alarms(T0) == []
    assert state(aws) == "INSUFFICIENT_DATA"
    put_alarm(aws, inbox[0], treat="notBreaching")
    assert [c["new"] for c in aws.evaluate_alarms(T0)] == ["OK"]


def test_updating_an_alarm_keeps_its_state(aws, inbox):  # noqa: F811
    put_alarm(aws, inbox[0])
    aws.evaluate_alarms(T0)
    assert state(aws) == "ALARM"
    put_alarm(aws, inbox[0], periods=20)
    assert state(aws) == "ALARM"
    assert aws.evaluate_alarms(T0) == []
