"""The RPO guard's rules: the RPO of each region, the breach logic, the alarm's shape."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from tests.plugins.test_config import CROSS_REGION, EXAMPLE, VALID, problems_of
from ue_backup import rpo
from ue_backup.config import RPO_MAX_MINUTES, load_config_file, parse_config

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def config(schedule=None, cross=False, **section):
    data = copy.deepcopy(VALID)
    if schedule:
        data["schedule"] = schedule
    if cross:
        data["cross_region"] = CROSS_REGION
    if section:
        data["rpo"] = section
    return parse_config(data)


# --- the RPO of each region -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cron", "minutes"),
    [
        ("0 2 * * *", 1440),  # daily
        ("*/15 * * * *", 15),
        ("0 */6 * * *", 360),
        ("0 2 * * 1-5", 3 * 1440),  # weekdays: Friday to Monday
        ("0 2 * * 0", 7 * 1440),  # weekly
        ("0 1,23 * * *", 22 * 60),  # the longest gap, not the shortest
    ],
)
def test_the_schedule_interval_is_its_longest_gap(cron, minutes):
    assert rpo.schedule_interval(cron) == timedelta(minutes=minutes)


def test_default_rpo_is_twice_the_interval_plus_the_window():
    cfg = config("0 2 * * *")
    assert rpo.targets(cfg) == {"eu-west-1": 2 * 1440 + 60}


def test_default_rpo_is_capped_at_what_an_alarm_can_watch():
    assert rpo.targets(config("0 2 * * 0")) == {"eu-west-1": RPO_MAX_MINUTES}
    assert RPO_MAX_MINUTES == rpo.MAX_MINUTES


def test_copy_region_is_watched_with_the_home_rpo_unless_given():
    assert rpo.targets(config("0 2 * * *", cross=True, home_minutes=1500)) == {
        "eu-west-1": 1500,
        "eu-central-1": 1500,
    }
    assert rpo.targets(config("0 2 * * *", cross=True, copy_minutes=3000)) == {
        "eu-west-1": 2940,
        "eu-central-1": 3000,
    }


def test_the_guard_is_off_without_schedule_or_values():
    assert rpo.targets(config()) == {}
    assert rpo.targets(config(home_minutes=600)) == {"eu-west-1": 600}


def test_the_example_configuration_is_guarded():
    cfg = load_config_file(EXAMPLE)
    assert list(rpo.problems(cfg)) == []
    assert rpo.targets(cfg) == {"eu-west-1": 2940, "eu-central-1": 3000}


# --- refusals, each naming the field ---------------------------------------------------------


def test_an_rpo_shorter_than_the_interval_is_refused_naming_the_field():
    found = dict(rpo.problems(config("0 2 * * *", cross=True, home_minutes=600, copy_minutes=60)))
    assert set(found) == {"rpo.home_minutes", "rpo.copy_minutes"}
    assert "shorter than the schedule's interval (1440 minutes" in found["rpo.home_minutes"]
    assert list(rpo.problems(config("0 2 * * *", home_minutes=1440))) == []


def test_a_copy_rpo_needs_a_copy_region():
    found = dict(rpo.problems(config(copy_minutes=600)))
    assert "needs a cross_region section" in found["rpo.copy_minutes"]


def test_a_schedule_longer_than_an_alarm_can_watch_is_refused():
    found = dict(rpo.problems(config("0 2 1 * *")))
    assert "more than the 10080 minutes (7 days)" in found["rpo.home_minutes"]


@pytest.mark.parametrize(
    ("section", "field", "words"),
    [
        ({"home_minutes": RPO_MAX_MINUTES + 1}, "rpo.home_minutes", "at most 7 days of data"),
        ({"copy_minutes": 0}, "rpo.copy_minutes", "greater than 0"),
        ({"home_minutes": "soon"}, "rpo.home_minutes", "valid integer"),
        ({"hours": 3}, "rpo.hours", "not a known option"),
    ],
)
def test_bad_rpo_values_are_refused_by_the_configuration(section, field, words):
    found = problems_of({**copy.deepcopy(VALID), "rpo": section})
    assert words in found[field], found


# --- the breach, in Airflow ------------------------------------------------------------------


def test_a_set_within_the_rpo_is_no_breach_and_says_nothing():
    verdict = rpo.judge(NOW - timedelta(minutes=90), NOW, 120, was_in_breach=False)
    assert verdict == {
        "newest": (NOW - timedelta(minutes=90)).isoformat(),
        "age_minutes": 90.0,
        "rpo_minutes": 120,
        "in_breach": False,
        "transition": None,
    }


def test_alerts_once_per_breach_and_once_on_recovery():
    old, fresh = NOW - timedelta(minutes=121), NOW - timedelta(minutes=5)
    assert rpo.judge(old, NOW, 120, was_in_breach=False)["transition"] == "breach"
    assert rpo.judge(old, NOW, 120, was_in_breach=True)["transition"] is None
    assert rpo.judge(fresh, NOW, 120, was_in_breach=True)["transition"] == "recovered"
    assert rpo.judge(fresh, NOW, 120, was_in_breach=False)["transition"] is None


def test_nothing_restorable_is_a_breach():
    verdict = rpo.judge(None, NOW, 120, was_in_breach=False)
    assert verdict["in_breach"]
    assert verdict["age_minutes"] is None
    subject, message = rpo.alert_text("ue-test", "eu-west-1", verdict)
    assert subject == "ue-backup ue-test: RPO breached in eu-west-1"
    assert "no backup set can be restored at all" in message


def test_the_age_is_measured_from_the_plans_oldest_point():
    plan = {
        "database": {"kind": "snapshot", "time": "2026-03-10T02:00:00+00:00"},
        "disk": {"time": "2026-03-10T02:00:05+00:00"},
        "memorydb": {"time": "2026-03-10T02:00:03+00:00"},
        "velero": {"time": "2026-03-01T00:00:00+00:00"},  # configuration, not data
    }
    assert rpo.plan_time(plan) == datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


# --- the alarm, outside Airflow --------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "shape"),
    [
        (15, (60, 15)),
        (1440, (60, 1440)),  # a day of one-minute periods: CloudWatch's limit for them
        (1441, (3600, 25)),  # beyond, hourly periods (rounded up to the hour)
        (2940, (3600, 49)),
        (RPO_MAX_MINUTES, (3600, 168)),
    ],
)
def test_the_alarm_covers_the_rpo_within_cloudwatch_limits(minutes, shape):
    period, periods = rpo.alarm_shape(minutes)
    assert (period, periods) == shape
    assert period * periods >= minutes * 60
    assert period * periods <= 7 * 86400
    assert period >= 3600 or period * periods <= 86400


def test_an_rpo_an_alarm_cannot_watch_is_refused():
    with pytest.raises(ValueError, match="cannot be watched by a CloudWatch alarm"):
        rpo.alarm_shape(RPO_MAX_MINUTES + 1)


def test_the_alarm_pages_when_nothing_arrives():
    spec = rpo.alarm_spec("ue-test", "eu-west-1", 120, "arn:aws:sns:eu-west-1:123456789012:t")
    assert spec["AlarmName"] == "ue-backup-rpo-ue-test-eu-west-1"
    assert spec["TreatMissingData"] == "breaching"
    assert (spec["Statistic"], spec["ComparisonOperator"], spec["Threshold"]) == (
        "Sum",
        "LessThanThreshold",
        1.0,
    )
    assert spec["EvaluationPeriods"] == spec["DatapointsToAlarm"] == 120
    assert spec["AlarmActions"] == spec["OKActions"] == ["arn:aws:sns:eu-west-1:123456789012:t"]
    assert {d["Name"] for d in spec["Dimensions"]} == {"Installation", "Region"}


def test_an_alarm_as_specified_is_not_put_again():
    spec = rpo.alarm_spec("ue-test", "eu-west-1", 120, None)
    described = {**spec, "Dimensions": spec["Dimensions"][::-1], "StateValue": "OK"}
    assert not rpo.alarm_differs(spec, described)
    assert rpo.alarm_differs(spec, {**described, "EvaluationPeriods": 60})
    assert rpo.alarm_differs(spec, None)
