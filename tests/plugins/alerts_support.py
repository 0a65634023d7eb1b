"""An SNS topic in the sandbox with an SQS queue subscribed, to read back what was published."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass
class AlertTopic:
    sandbox: Any
    topic_arn: str
    queue_url: str

    def messages(self) -> list[dict[str, str]]:
        """Every alert published so far, as {"subject", "message"} (drains the queue)."""
        sqs = self.sandbox.client("sqs")
        found = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not batch:
                return found
            for m in batch:
                body = json.loads(m["Body"])
                found.append({"subject": body.get("Subject"), "message": body["Message"]})
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])


def alert_topic(sandbox, name: str = "ue-backup-alerts") -> AlertTopic:
    sns, sqs = sandbox.client("sns"), sandbox.client("sqs")
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{name}-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return AlertTopic(sandbox, topic_arn, queue_url)
