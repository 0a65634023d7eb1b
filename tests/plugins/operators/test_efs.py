"""``restore_efs`` for a DataSync set, on the sandbox: the file system the copy goes into.

Side by side a new file system is made shaped like the live one (modes, key, tags), found
again by its creation token on a retry, and handed on only once EFS made it available (in
the worker for a few seconds, else in the triggerer); in place it is the live one. An AWS
Backup set still starts its restore job (``tests/plugins/operators/test_aws_backup.py``).
"""

from __future__ import annotations

import pytest

from sandbox.installation import seed_installation
from tests.plugins.support import defer, make_context
from ue_backup.hooks.efs import EfsHook
from ue_backup.operators import efs as efs_operators
from ue_backup.operators.efs import EfsRestoreStartOperator

TOKEN = "ue-test-r260101020000-efs"
TAGS = {"ue-backup:installation": "ue-test", "ue-backup:restore": "ue-test-r260101020000"}
SHAPE_KEYS = ("PerformanceMode", "ThroughputMode", "ProvisionedThroughputInMibps", "KmsKeyId")


@pytest.fixture
def installation(sandbox, fast):
    sandbox.durations.update(efs_file_system=0.1)
    seeded = seed_installation(
        sandbox, method="datasync", memorydb=False, velero=False, ecds=(), shaped=True
    )
    sandbox.client("efs").tag_resource(
        ResourceId=seeded.file_system_id,
        Tags=[{"Key": "cost-center", "Value": "billing"}, {"Key": "Name", "Value": "live"}],
    )
    return seeded


def start(installation, **overrides) -> EfsRestoreStartOperator:
    arguments = {
        "task_id": "restore_efs",
        "recovery_point_arn": None,
        "iam_role_arn": None,
        "idempotency_token": TOKEN,
        "file_system_id": installation.file_system_id,
        "new_file_system": True,
        "shape_source": installation.file_system_id,
        "datasync": True,
        "tags": TAGS,
        **overrides,
    }
    return EfsRestoreStartOperator(**arguments)


def tags_of(fs_id: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in EfsHook().describe_file_system(fs_id)["Tags"]}


def test_side_by_side_a_new_file_system_shaped_like_the_live_one(sandbox, installation):
    found = start(installation).execute(make_context())

    efs = EfsHook()
    new, live = (
        efs.describe_file_system(found["file_system_id"]),
        efs.describe_file_system(installation.file_system_id),
    )
    assert found["new"] is True
    assert found["file_system_id"] != installation.file_system_id
    assert new["LifeCycleState"] == "available"
    assert {k: new.get(k) for k in SHAPE_KEYS} == {k: live.get(k) for k in SHAPE_KEYS}
    assert new["ThroughputMode"] == "provisioned"  # at creation: no UpdateFileSystem after
    assert not sandbox.log.entries("efs", "UpdateFileSystem")
    assert new["Encrypted"] is True
    assert tags_of(found["file_system_id"]) == {**TAGS, "cost-center": "billing", "Name": TOKEN}
    assert found["shape"]["throughput_mode"] == "provisioned"
    assert not sandbox.log.entries("backup", "StartRestoreJob")


def test_a_retry_finds_the_file_system_by_its_token(sandbox, installation):
    first = start(installation).execute(make_context())

    again = start(installation).execute(make_context())

    assert again == first
    assert len(sandbox.client("efs").describe_file_systems(CreationToken=TOKEN)["FileSystems"]) == 1
    assert len(sandbox.log.entries("efs", "CreateFileSystem")) == 1


def test_a_drill_s_file_system_takes_none_of_the_live_tags(sandbox, installation):
    found = start(installation, temporary=True).execute(make_context())

    assert tags_of(found["file_system_id"]) == {**TAGS, "Name": TOKEN}


def test_in_place_the_copy_goes_into_the_live_file_system(sandbox, installation):
    found = start(installation, new_file_system="False").execute(make_context())

    assert found == {
        "file_system_id": installation.file_system_id,
        "new": False,
        "shape": None,
        "region": sandbox.region,
    }
    assert not sandbox.log.entries("efs", "CreateFileSystem")


def test_a_file_system_still_creating_is_waited_for_in_the_triggerer(
    sandbox, installation, monkeypatch
):
    sandbox.durations.update(efs_file_system=1.0)
    monkeypatch.setattr(efs_operators, "SHORT_WAIT_INLINE_SECONDS", 0.2)
    context = make_context()

    deferral = defer(start(installation), context)
    assert deferral.wait()["status"] == "success"
    found = deferral.resume()

    assert found["new"] is True
    assert EfsHook().describe_file_system(found["file_system_id"])["LifeCycleState"] == "available"
    assert len(sandbox.log.entries("efs", "CreateFileSystem")) == 1  # found again, not remade
