"""kubernetes.jobs: the settings of every Job ue-backup starts, each bad value named."""

from __future__ import annotations

import copy
import logging

import pytest

from tests.plugins.test_config import VALID, problems_of
from ue_backup.config import DEFAULT_JOB_IMAGE, JobsConfig, parse_config, quantity_value


def with_jobs(jobs=None, **kubernetes) -> dict:
    data = copy.deepcopy(VALID)
    if jobs is not None:
        data["kubernetes"]["jobs"] = jobs
    data["kubernetes"].update(kubernetes)
    return data


def test_the_defaults_are_hardened_and_pinned():
    jobs = parse_config(VALID).kubernetes.jobs
    assert jobs == JobsConfig()
    assert jobs.image == DEFAULT_JOB_IMAGE
    assert "@sha256:" in jobs.image
    assert jobs.requests.model_dump() == {"cpu": "100m", "memory": "64Mi"}
    assert jobs.limits.model_dump() == {"cpu": "1", "memory": "256Mi"}
    assert jobs.ttl_seconds_after_finished == 3600
    assert jobs.active_deadline_seconds == 4 * 3600


def test_every_setting_is_configurable():
    cfg = parse_config(
        with_jobs(
            {
                "image": "mirror.example/busybox@sha256:" + "b" * 64,
                "requests": {"cpu": "0.05", "memory": "32Mi"},
                "limits": {"cpu": 2, "memory": "1Gi"},  # a YAML number is a quantity
                "ttl_seconds_after_finished": 0,
                "active_deadline_seconds": 600,
            }
        )
    )
    jobs = cfg.kubernetes.jobs
    assert jobs.image == "mirror.example/busybox@sha256:" + "b" * 64
    assert (jobs.requests.cpu, jobs.limits.cpu, jobs.limits.memory) == ("0.05", "2", "1Gi")
    assert (jobs.ttl_seconds_after_finished, jobs.active_deadline_seconds) == (0, 600)


@pytest.mark.parametrize(
    ("jobs", "path", "message"),
    [
        ({"image": "busy box"}, "kubernetes.jobs.image", "not an image reference"),
        ({"image": ""}, "kubernetes.jobs.image", "not an image reference"),
        (
            {"requests": {"cpu": "lots", "memory": "64Mi"}},
            "kubernetes.jobs.requests.cpu",
            "not a Kubernetes quantity",
        ),
        (
            {"limits": {"cpu": "1", "memory": "0"}},
            "kubernetes.jobs.limits.memory",
            "must be more than zero",
        ),
        (
            {"limits": {"cpu": "50m", "memory": "256Mi"}},
            "kubernetes.jobs.requests.cpu",
            "cpu request 100m is more than its limit 50m",
        ),
        ({"requests": {"cpu": "1"}}, "kubernetes.jobs.requests.memory", "required"),
        (
            {"ttl_seconds_after_finished": -1},
            "kubernetes.jobs.ttl_seconds_after_finished",
            "greater than or equal to 0",
        ),
        (
            {"active_deadline_seconds": 0},
            "kubernetes.jobs.active_deadline_seconds",
            "greater than 0",
        ),
        (
            {"active_deadline_seconds": 8 * 24 * 3600},
            "kubernetes.jobs.active_deadline_seconds",
            "less than or equal to 604800",
        ),
        ({"ttl": 60}, "kubernetes.jobs.ttl", "not a known option"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(jobs, path, message):
    problems = problems_of(with_jobs(jobs))
    assert path in problems, problems
    assert message in problems[path]


def test_the_deprecated_job_image_still_sets_the_image(caplog):
    with caplog.at_level(logging.WARNING, logger="ue_backup.config"):
        cfg = parse_config(with_jobs(job_image="busybox:1.36"))
    assert cfg.kubernetes.jobs.image == "busybox:1.36"
    assert cfg.kubernetes.job_image == "busybox:1.36"  # the old name, read
    assert "kubernetes.job_image is deprecated" in caplog.text
    # beside the same jobs.image, or other job settings, it is accepted
    jobs = {"image": "x:1", "ttl_seconds_after_finished": 60}
    cfg = parse_config(with_jobs(jobs, job_image="x:1"))
    assert cfg.kubernetes.jobs == JobsConfig.model_validate(jobs)


def test_job_image_and_a_different_jobs_image_are_refused():
    problems = problems_of(with_jobs({"image": "a:1"}, job_image="b:1"))
    assert problems == {
        "kubernetes.job_image": "job_image (deprecated) and jobs.image differ: give jobs.image only"
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [("250m", 0.25), ("1", 1), ("1.5", 1.5), ("64Mi", 64 * 2**20), ("1G", 1e9), ("2Ki", 2048)],
)
def test_quantities(text, value):
    assert quantity_value(text) == pytest.approx(value)
