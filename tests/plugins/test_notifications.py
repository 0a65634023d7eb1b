"""Alerts: the message names the failed step and its reason, and reaches the SNS topic."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from sandbox.installation import seed_installation
from tests.plugins.alerts_support import alert_topic
from ue_backup.config import ConfigError, InstallationConfig, parse_config
from ue_backup.errors import PermanentFailure
from ue_backup.notifications import TaskFailureNotifier, failure_alert, send_alert


def failed_context(task_id: str = "wait_efs_backup", error: Exception | None = None) -> dict:
    ti = SimpleNamespace(
        dag_id="ue_backup",
        task_id=task_id,
        run_id="manual__2026-11-25T02:00:00+00:00",
        try_number=3,
        log_url="http://127.0.0.1:8080/log",
    )
    return {"ti": ti, "exception": error or PermanentFailure("backup job FAILED: EFS throttled")}


def test_the_failure_alert_names_the_step_the_run_and_the_reason():
    subject, message = failure_alert("ue-prod", failed_context())
    assert subject == "ue-backup ue-prod: ue_backup failed at wait_efs_backup"
    assert "Failed step: wait_efs_backup (attempt 3)" in message
    assert "Reason: PermanentFailure: backup job FAILED: EFS throttled" in message
    assert "Run: manual__2026-11-25T02:00:00+00:00" in message
    assert "Log: http://127.0.0.1:8080/log" in message


def test_a_huge_reason_is_cut_so_the_alert_still_goes_out():
    _, message = failure_alert("ue-prod", failed_context(error=RuntimeError("x" * 10_000)))
    assert len(message) < 3000
    assert "xxx ...\nLog:" in message


@pytest.fixture
def config(sandbox) -> InstallationConfig:
    return parse_config(seed_installation(sandbox, "ue-alerts").config)


def test_an_alert_is_published_to_the_configured_topic(sandbox, config):
    topic = alert_topic(sandbox)
    raw = config.model_dump(mode="json", exclude_none=True)
    cfg = parse_config({**raw, "alerts": {"sns_topic_arn": topic.topic_arn}})

    assert send_alert(cfg, "subject " + "s" * 200, "the body") is True

    (published,) = topic.messages()
    assert published["message"] == "the body"
    assert published["subject"] == ("subject " + "s" * 200)[:100]


def test_without_a_topic_the_alert_is_only_logged(sandbox, config, caplog):
    topic = alert_topic(sandbox)
    with caplog.at_level(logging.ERROR):
        assert send_alert(config, "the subject", "the body") is False
    assert "ALERT: the subject" in caplog.text
    assert topic.messages() == []


def test_the_task_failure_notifier_reads_the_configuration_and_publishes_once(
    sandbox, config, tmp_path, monkeypatch
):
    import yaml

    topic = alert_topic(sandbox)
    raw = config.model_dump(mode="json", exclude_none=True)
    raw["alerts"] = {"sns_topic_arn": topic.topic_arn}
    path = tmp_path / "installation.yaml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("UE_BACKUP_CONFIG_FILE", str(path))

    TaskFailureNotifier().notify(failed_context("rds_snapshot"))

    (published,) = topic.messages()
    assert published["subject"] == "ue-backup ue-alerts: ue_backup failed at rds_snapshot"
    assert "Reason: PermanentFailure" in published["message"]


def test_an_invalid_configuration_does_not_hide_the_failure(tmp_path, monkeypatch, caplog):
    path = tmp_path / "installation.yaml"
    path.write_text("installation: 'Not Valid'\n")
    monkeypatch.setenv("UE_BACKUP_CONFIG_FILE", str(path))
    with caplog.at_level(logging.ERROR):
        TaskFailureNotifier().notify(failed_context())  # must not raise
    assert "Cannot send the failure alert" in caplog.text


def test_the_alert_topic_must_be_an_sns_topic_arn(config):
    raw = config.model_dump(mode="json", exclude_none=True)
    raw["alerts"] = {"sns_topic_arn": "arn:aws:sqs:eu-west-1:123456789012:not-a-topic"}
    with pytest.raises(ConfigError, match=r"alerts\.sns_topic_arn"):
        parse_config(raw)
