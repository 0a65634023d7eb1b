"""What the DAG files read at parse time: the retention schedule from the configuration file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ue_backup.config import CONFIG_FILE_ENV
from ue_backup.dag_support import retention_schedule

EXAMPLE = Path(__file__).resolve().parents[2] / "include" / "config" / "installation.example.yaml"


@pytest.mark.parametrize(
    ("retention", "expected"),
    [
        ({"schedule": "30 4 * * *"}, "30 4 * * *"),
        ({"schedule": None}, None),  # by hand only
        ({}, "0 6 * * *"),
    ],
    ids=["configured", "off", "default"],
)
def test_the_retention_schedule_comes_from_the_file(tmp_path, monkeypatch, retention, expected):
    config = yaml.safe_load(EXAMPLE.read_text())
    config["retention"] = retention
    path = tmp_path / "installation.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv(CONFIG_FILE_ENV, str(path))
    assert retention_schedule() == expected


def test_without_a_file_retention_runs_daily(monkeypatch):
    monkeypatch.delenv(CONFIG_FILE_ENV, raising=False)
    assert retention_schedule() == "0 6 * * *"


# --- what run_outcome says of the run's other teardown (the resume), from its state ----------

RESUMED, NOT_RESUMED = "the workflows were resumed", "the workflows were NOT resumed"


@pytest.mark.parametrize(
    ("state", "summary", "said"),
    [
        ("success", None, RESUMED),
        ("success", "nothing live was changed", "nothing live was changed"),
        ("failed", None, f"{NOT_RESUMED} (resume_workflows: failed; see its log)"),
        (
            "failed",
            "ACTION REQUIRED: point the platform at r1-agg",
            f"{NOT_RESUMED} (resume_workflows: failed; see its log): "
            "ACTION REQUIRED: point the platform at r1-agg",
        ),
        (
            "upstream_failed",
            None,
            f"{NOT_RESUMED} (resume_workflows: upstream_failed; see its log)",
        ),
        (None, None, f"{NOT_RESUMED} (resume_workflows: did not run; see its log)"),
        ("skipped", None, "resume_workflows was skipped"),
    ],
)
def test_the_run_outcome_says_what_the_resume_did_from_its_state(state, summary, said):
    from ue_backup.dag_support import teardown_outcome

    assert teardown_outcome("resume_workflows", state, RESUMED, NOT_RESUMED, summary) == said
