"""The RPO guard end to end on the sandbox: backups stop, and both layers say so exactly once.

A backup publishes the verified-set metric and its preflight puts the
CloudWatch alarm; then no more backups run (the DAG "paused") and the clock
moves past the RPO: the alarm goes to ALARM and one SNS message arrives
(read through an SQS queue subscribed to the topic), and ``ue_backup_rpo``,
run several times, alerts once for the breach and once when a new backup
meets the RPO again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sandbox.airflow_harness.dag_runner import run_dag, write_config
from sandbox.installation import seed_installation
from tests.plugins.alerts_support import alert_topic
from ue_backup.tasks.rpo import STATE_VARIABLE

pytestmark = pytest.mark.e2e

RPO = 1440  # minutes: the daily schedule's interval, the shortest preflight accepts
ALARM = "ue-backup-rpo-ue-test-eu-west-1"


@pytest.fixture
def guarded(sandbox, tmp_path, monkeypatch):
    from airflow.models.variable import Variable

    Variable.delete(STATE_VARIABLE)
    inst = seed_installation(sandbox, "ue-test")
    topic = alert_topic(sandbox)
    inst.config["cold_window"]["drain_timeout_minutes"] = 0.05
    inst.config["schedule"] = "0 2 * * *"
    inst.config["rpo"] = {"home_minutes": RPO}
    inst.config["alerts"] = {"sns_topic_arn": topic.topic_arn}
    write_config(inst.config, tmp_path, monkeypatch)
    return topic


def split(messages):
    """(CloudWatch's alarm notifications, the Airflow check's RPO alerts)."""
    cloudwatch = [m for m in messages if m["subject"].endswith(f'"{ALARM}" in eu-west-1')]
    airflow = [m for m in messages if "RPO" in (m["subject"] or "")]
    return cloudwatch, airflow


def check_at(moment: datetime):
    result = run_dag("ue_backup_rpo", logical_date=moment, run_after=moment)
    assert result.state == "success", result.tasks
    return result.xcom("check_rpo")["regions"]["eu-west-1"]


def test_backups_stop_the_alarm_fires_once_and_the_check_alerts_once_per_change(
    sandbox, guarded, capfd, caplog
):
    backup = run_dag("ue_backup")
    assert backup.state == "success", backup.tasks
    published = backup.xcom("publish_rpo_metric")
    assert published["published"] == ["eu-west-1"]
    (alarm,) = sandbox.client("cloudwatch").describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]
    assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["TreatMissingData"]) == (
        60,
        RPO,
        "breaching",
    )
    assert alarm["AlarmActions"] == alarm["OKActions"] == [guarded.topic_arn]
    point = datetime.fromisoformat(published["time"])
    guarded.messages()  # the backup's own messages (none expected) are not the point here

    # --- outside Airflow: no backup since; the sandbox's clock moves past the RPO ---------
    assert [c["new"] for c in sandbox.aws.evaluate_alarms(point + timedelta(minutes=5))] == ["OK"]
    for minutes in (RPO - 5, RPO + 2, RPO + 30, RPO + 600):
        sandbox.aws.evaluate_alarms(point + timedelta(minutes=minutes))
    cloudwatch, _ = split(guarded.messages())
    assert [m["subject"].split(":")[0] for m in cloudwatch] == ["OK", "ALARM"]
    assert '"NewStateValue": "ALARM"' in cloudwatch[1]["message"]

    # --- inside Airflow: the check, several times ------------------------------------------
    met = check_at(point + timedelta(minutes=30))
    # The check ages the newest restorable set by the planner's point, which may be a
    # few seconds after the metric's (the oldest artifact): measured from its own.
    newest = datetime.fromisoformat(met["newest"])
    assert point <= newest < point + timedelta(minutes=1)
    age = round((point + timedelta(minutes=30) - newest).total_seconds() / 60, 1)
    assert (met["in_breach"], met["age_minutes"]) == (False, age)
    late = [check_at(newest + timedelta(minutes=m)) for m in (RPO + 1, RPO + 6, RPO + 11)]
    assert [v["in_breach"] for v in late] == [True, True, True]
    assert late[0]["age_minutes"] == RPO + 1
    _, airflow = split(guarded.messages())
    assert [m["subject"] for m in airflow] == ["ue-backup ue-test: RPO breached in eu-west-1"]
    assert f"past the RPO of {RPO} minutes" in airflow[0]["message"]
    out, err = capfd.readouterr()
    assert f"age {RPO + 1} minutes, RPO {RPO} minutes: BREACHED" in out + err + caplog.text

    # --- backups resume: one recovery alert from each layer --------------------------------
    again = run_dag("ue_backup", logical_date=datetime.now(UTC), run_after=datetime.now(UTC))
    assert again.state == "success", again.tasks
    fresh = datetime.fromisoformat(again.xcom("publish_rpo_metric")["time"])
    recovered = [check_at(fresh + timedelta(minutes=m)) for m in (5, 10)]
    assert [v["in_breach"] for v in recovered] == [False, False]
    changes = sandbox.aws.evaluate_alarms(fresh + timedelta(minutes=5))
    assert [c["new"] for c in changes] == ["OK"]
    cloudwatch, airflow = split(guarded.messages())
    assert [m["subject"] for m in airflow] == ["ue-backup ue-test: RPO met again in eu-west-1"]
    assert [m["subject"].split(":")[0] for m in cloudwatch] == ["OK"]


def test_an_alarm_that_cannot_be_kept_is_alerted_and_never_stops_the_backup(sandbox, guarded):
    """A missing permission or CloudWatch outage must not cause the RPO loss it watches for."""
    from sandbox.faults import Fault

    sandbox.faults.add(
        Fault("cloudwatch", "PutMetricAlarm", code="AccessDenied", status=403, times=None)
    )

    backup = run_dag("ue_backup")

    assert backup.state == "success", backup.tasks
    (warning,) = [w for w in backup.xcom("preflight")["warnings"] if w.startswith("rpo:")]
    assert "could not be kept" in warning
    alerts = [m for m in guarded.messages() if "RPO alarm not kept" in (m["subject"] or "")]
    assert len(alerts) == 1
    assert "AccessDenied" in alerts[0]["message"]
