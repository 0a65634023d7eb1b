"""Preflight of a DataSync installation: a warning while the region's tasks near the quota.

Each backup set has a DataSync task of its own until retention deletes it; at the
default quota (100 per region) the next set's CreateTask would fail inside the cold
window. Against the sandbox's DataSync.
"""

from __future__ import annotations

import pytest

from sandbox.installation import seed_installation
from ue_backup.config import parse_config
from ue_backup.tasks.preflight import DATASYNC_TASK_WARNING, check_resources


@pytest.fixture
def installation(sandbox):
    return seed_installation(sandbox, method="datasync", memorydb=False, velero=False, ecds=())


def _tasks(sandbox, installation, count: int) -> None:
    """``count`` more tasks between the template's locations (any owner's count)."""
    datasync = sandbox.client("datasync")
    template = datasync.describe_task(TaskArn=installation.config["efs"]["datasync"]["task_arn"])
    for i in range(count):
        datasync.create_task(
            SourceLocationArn=template["SourceLocationArn"],
            DestinationLocationArn=template["DestinationLocationArn"],
            Name=f"someone-else-{i}",
        )


def _quota_warnings(installation) -> list[str]:
    _, warnings = check_resources(parse_config(installation.config), {"efs"})
    return [w for w in warnings if "DataSync tasks exist" in w]


def test_no_warning_far_from_the_quota(sandbox, installation):
    _tasks(sandbox, installation, 10)
    assert _quota_warnings(installation) == []


def test_a_warning_near_the_quota_names_the_count_and_what_to_check(sandbox, installation):
    _tasks(sandbox, installation, DATASYNC_TASK_WARNING)  # with the template: one more
    (warning,) = _quota_warnings(installation)
    assert warning.startswith(f"efs.datasync: {DATASYNC_TASK_WARNING + 1} DataSync tasks exist")
    assert "retention.keep_last" in warning
