"""Velero sensors against the sandbox: Completed, PartiallyFailed and Failed, both ways.

PartiallyFailed fails the task unless allowed; every failure names the phase
with Velero's error and warning counts.
"""

from __future__ import annotations

import pytest

from sandbox.faults import Fault
from tests.plugins.ecds import NS, seed_ecds
from tests.plugins.support import defer
from tests.plugins.velero_support import VELERO, finished, start_backup
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.velero import VeleroHook
from ue_backup.sensors.velero import VeleroBackupCompletedSensor, VeleroRestoreCompletedSensor


@pytest.fixture
def hook(sandbox, fast) -> VeleroHook:
    sandbox.durations.update(velero=0.1)
    seed_ecds(sandbox, a=True)
    return VeleroHook()


def outcome(sandbox, kind: str, name: str, state: str, message: str = "injected") -> None:
    plural = "backups" if kind == "backup" else "restores"
    sandbox.faults.add(
        Fault(
            "k8s",
            f"velero-{kind}",
            kind="outcome",
            target=f"{VELERO}/{plural}/{name}",
            state=state,
            message=message,
        )
    )


def both_ways(sensor_class, name: str, context, **kwargs) -> list:
    """Deferred and poked; each result or PermanentFailure, in that order."""
    results = []
    for deferrable in (True, False):
        sensor = sensor_class(task_id="wait", name=name, deferrable=deferrable, **kwargs)
        try:
            if deferrable:
                results.append(defer(sensor, context).resume())
            else:
                results.append(sensor.execute(context))
        except PermanentFailure as failure:
            results.append(failure)
    return results


def test_a_completed_backup_both_ways(sandbox, hook, context):
    start_backup(hook, "b1")

    assert both_ways(VeleroBackupCompletedSensor, "b1", context) == ["b1", "b1"]


def test_a_partially_failed_backup_fails_both_ways_with_its_counts(sandbox, hook, context):
    outcome(sandbox, "backup", "b1", "PartiallyFailed")
    start_backup(hook, "b1")

    deferred, poked = both_ways(VeleroBackupCompletedSensor, "b1", context)

    for failure in (deferred, poked):
        assert isinstance(failure, PermanentFailure)
        assert str(failure) == "Velero backup b1: phase PartiallyFailed, errors 1, warnings 0"


def test_a_partially_failed_backup_passes_when_allowed(sandbox, hook, context):
    outcome(sandbox, "backup", "b1", "PartiallyFailed")
    start_backup(hook, "b1")

    results = both_ways(VeleroBackupCompletedSensor, "b1", context, allow_partially_failed=True)

    assert results == ["b1", "b1"]
    assert finished(sandbox, hook, "backup", "b1")["status"]["phase"] == "PartiallyFailed"


def test_a_failed_backup_fails_even_when_partial_failure_is_allowed(sandbox, hook, context):
    outcome(sandbox, "backup", "b1", "Failed", message="object store unreachable")
    start_backup(hook, "b1")

    deferred, poked = both_ways(
        VeleroBackupCompletedSensor, "b1", context, allow_partially_failed=True
    )

    for failure in (deferred, poked):
        assert isinstance(failure, PermanentFailure)
        assert str(failure) == (
            "Velero backup b1: phase Failed, errors 1, warnings 0, "
            "failure reason: object store unreachable"
        )


def test_a_backup_that_does_not_exist_fails(sandbox, hook, context):
    deferred, poked = both_ways(VeleroBackupCompletedSensor, "nope", context)

    for failure in (deferred, poked):
        assert str(failure) == "Velero backup nope does not exist"


def start_restore(sandbox, hook, name: str = "r1") -> str:
    start_backup(hook, "b1")
    finished(sandbox, hook, "backup", "b1")
    hook.create_restore(
        namespace=VELERO,
        name=name,
        backup_name="b1",
        labels={},
        disable_ecds_in=[NS],
        existing_resource_policy="update",
    )
    return name


def test_a_completed_restore_both_ways(sandbox, hook, context):
    start_restore(sandbox, hook)

    assert both_ways(VeleroRestoreCompletedSensor, "r1", context) == ["r1", "r1"]


def test_a_failed_restore_fails_both_ways(sandbox, hook, context):
    outcome(sandbox, "restore", "r1", "Failed", message="restore helper crashed")
    start_restore(sandbox, hook)

    deferred, poked = both_ways(VeleroRestoreCompletedSensor, "r1", context)

    for failure in (deferred, poked):
        assert isinstance(failure, PermanentFailure)
        assert "Velero restore r1: phase Failed, errors 1" in str(failure)
        assert "failure reason: restore helper crashed" in str(failure)


def test_a_partially_failed_restore_fails_with_errors_and_warnings(sandbox, hook, context):
    outcome(sandbox, "restore", "r1", "PartiallyFailed")
    start_restore(sandbox, hook)

    deferred, poked = both_ways(VeleroRestoreCompletedSensor, "r1", context)

    for failure in (deferred, poked):
        assert isinstance(failure, PermanentFailure)
        assert "Velero restore r1: phase PartiallyFailed, errors 1, warnings " in str(failure)
