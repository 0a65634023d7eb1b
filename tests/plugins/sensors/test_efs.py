"""The EFS mount-target sensor against the sandbox: both ways of waiting, and failure."""

from __future__ import annotations

import pytest

from sandbox.aws.network import add_mount_targets
from tests.plugins.support import defer
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.efs import EfsHook
from ue_backup.sensors.efs import EfsMountTargetsAvailableSensor


@pytest.fixture
def new_file_system(sandbox, fast):
    # long enough to be seen creating on a loaded machine (0.6 s was not, once, in CI)
    sandbox.durations.update(efs_mount_target=2.0)
    live = sandbox.aws.create_file_system("live")
    add_mount_targets(sandbox, live)
    new = sandbox.aws.create_file_system("restored")
    EfsHook().copy_mount_targets(live, new)
    return new


def states(sandbox, fs_id: str) -> list[str]:
    targets = sandbox.client("efs").describe_mount_targets(FileSystemId=fs_id)["MountTargets"]
    return [t["LifeCycleState"] for t in targets]


def test_the_sensor_defers_until_every_mount_target_is_available(sandbox, new_file_system, context):
    sensor = EfsMountTargetsAvailableSensor(task_id="wait", resource_id=new_file_system)
    assert states(sandbox, new_file_system) == ["creating", "creating"]

    assert defer(sensor, context).resume() == new_file_system
    assert states(sandbox, new_file_system) == ["available", "available"]


def test_a_short_wait_checks_inline_before_it_defers(sandbox, new_file_system, context):
    """Mount targets are usually up within seconds: no trip through the triggerer."""
    sensor = EfsMountTargetsAvailableSensor(
        task_id="wait", resource_id=new_file_system, inline_wait_seconds=10
    )

    assert sensor.execute(context) == new_file_system  # no TaskDeferred
    assert states(sandbox, new_file_system) == ["available", "available"]


def test_a_short_wait_still_defers_when_the_work_takes_longer(sandbox, new_file_system, context):
    sandbox.durations.update(efs_mount_target=30)
    newer = sandbox.aws.create_file_system("slow")
    EfsHook().copy_mount_targets(new_file_system, newer)
    sensor = EfsMountTargetsAvailableSensor(task_id="w", resource_id=newer, inline_wait_seconds=1)

    deferral = defer(sensor, context)

    assert deferral.trigger.waiter_args == {"FileSystemId": newer}


def test_poking_waits_too_and_a_file_system_without_targets_is_ready_at_once(
    sandbox, new_file_system, context
):
    sensor = EfsMountTargetsAvailableSensor(
        task_id="wait", resource_id=new_file_system, deferrable=False
    )
    assert sensor.poke(context) is False

    assert sensor.execute(context) == new_file_system
    bare = sandbox.aws.create_file_system("bare")
    assert EfsMountTargetsAvailableSensor(task_id="w", resource_id=bare).poke(context) is True


def test_a_missing_file_system_fails_the_wait(sandbox, fast, context):
    sensor = EfsMountTargetsAvailableSensor(task_id="wait", resource_id="fs-0000000000000000")

    with pytest.raises(PermanentFailure, match="failed"):
        sensor.poke(context)
