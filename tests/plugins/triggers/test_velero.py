"""VeleroPhaseTrigger against the sandbox, and the one verdict it shares with the sensors."""

from __future__ import annotations

import time

import pytest

from sandbox.faults import Fault
from tests.plugins.ecds import seed_ecds
from tests.plugins.support import round_trip
from tests.plugins.velero_support import VELERO, finished, start_backup
from ue_backup.hooks.velero import VeleroHook
from ue_backup.triggers.base import run_inline
from ue_backup.triggers.velero import (
    VeleroDeletionTrigger,
    VeleroPhaseTrigger,
    describe_outcome,
    verdict,
)


def trigger(name: str, **kwargs) -> VeleroPhaseTrigger:
    return round_trip(VeleroPhaseTrigger(namespace=VELERO, name=name, poll_interval=0.05, **kwargs))


@pytest.fixture
def hook(sandbox) -> VeleroHook:
    sandbox.durations.update(velero=0.1)
    seed_ecds(sandbox, a=True)
    return VeleroHook()


def test_fires_success_when_the_backup_completes(sandbox, hook):
    start_backup(hook, "b1")

    event = run_inline(trigger("b1"))

    assert event == {
        "status": "success",
        "message": "Velero backup b1: phase Completed, errors 0, warnings 0",
        "name": "b1",
    }


def test_fires_an_error_for_a_partially_failed_backup_unless_allowed(sandbox, hook):
    for name in ("b1", "b2"):
        sandbox.faults.add(
            Fault(
                "k8s",
                "velero-backup",
                kind="outcome",
                target=f"{VELERO}/backups/{name}",
                state="PartiallyFailed",
            )
        )
        start_backup(hook, name)

    refused = run_inline(trigger("b1"))
    allowed = run_inline(trigger("b2", allow_partially_failed=True))

    assert refused["status"] == "error"
    assert refused["message"] == "Velero backup b1: phase PartiallyFailed, errors 1, warnings 0"
    assert allowed["status"] == "success"


def test_fires_an_error_for_a_missing_restore(sandbox, hook):
    event = run_inline(trigger("nope", kind="restore"))

    assert event == {
        "status": "error",
        "kind": "failed",
        "message": "Velero restore nope does not exist",
        "name": "nope",
    }


def test_only_backup_and_restore_are_kinds():
    with pytest.raises(ValueError, match="'schedule' is not 'backup' or 'restore'"):
        VeleroPhaseTrigger(namespace=VELERO, name="x", kind="schedule")


@pytest.mark.parametrize(
    ("status", "allowed", "expected"),
    [
        ({}, False, (False, False)),
        ({"phase": "New"}, False, (False, False)),
        ({"phase": "InProgress"}, False, (False, False)),
        ({"phase": "Completed"}, False, (True, True)),
        ({"phase": "PartiallyFailed", "errors": 2}, False, (True, False)),
        ({"phase": "PartiallyFailed", "errors": 2}, True, (True, True)),
        ({"phase": "Failed"}, True, (True, False)),
        ({"phase": "FailedValidation", "validationErrors": ["bad ttl"]}, True, (True, False)),
    ],
)
def test_verdict(status, allowed, expected):
    obj = {"metadata": {"name": "b"}, "status": status}
    finished, ok, message = verdict("backup", "b", obj, allowed)
    assert (finished, ok) == expected
    assert message.startswith("Velero backup b: phase")


def test_the_outcome_names_counts_and_reasons():
    obj = {
        "metadata": {"name": "b"},
        "status": {
            "phase": "FailedValidation",
            "warnings": 3,
            "validationErrors": ["bad ttl", "bad namespace"],
        },
    }
    assert describe_outcome("backup", obj) == (
        "Velero backup b: phase FailedValidation, errors 0, warnings 3, "
        "validation errors: bad ttl; bad namespace"
    )


# --- retention's wait for Velero's deletions ------------------------------------------------


def deletion(names, deadline_in: float = 10.0) -> VeleroDeletionTrigger:
    return round_trip(
        VeleroDeletionTrigger(
            backups=[[VELERO, name] for name in names],
            deadline=time.time() + deadline_in,
            poll_interval=0.05,
        )
    )


def requested(sandbox, hook, name: str) -> None:
    start_backup(hook, name)
    hook.request_backup_deletion(VELERO, finished(sandbox, hook, "backup", name))


def test_the_deletion_trigger_fires_once_velero_deleted_every_backup(sandbox, hook):
    for name in ("b1", "b2"):
        requested(sandbox, hook, name)

    event = run_inline(deletion(["b1", "b2"]))

    assert event == {"status": "success", "refused": {}, "left": []}
    assert hook.get_backup(VELERO, "b1") is None
    assert hook.get_backup(VELERO, "b2") is None


def test_the_deletion_trigger_reports_what_velero_refused(sandbox, hook):
    sandbox.faults.add(
        Fault(
            "k8s",
            "velero-deletebackuprequest",
            kind="outcome",
            target=f"{VELERO}/deletebackuprequests/b1-delete",
            message="AccessDenied on the bucket",
        )
    )
    requested(sandbox, hook, "b1")

    event = run_inline(deletion(["b1"]))

    assert event["status"] == "success"  # the task judges: it deletes the rest first
    assert event["left"] == []
    assert "AccessDenied on the bucket" in "; ".join(event["refused"]["b1"])


def test_the_deletion_trigger_names_what_is_left_at_its_deadline(sandbox, hook):
    start_backup(hook, "b1")
    finished(sandbox, hook, "backup", "b1")  # no deletion requested: it never goes

    event = run_inline(deletion(["b1"], deadline_in=0.2))

    assert event == {"status": "success", "refused": {}, "left": ["b1"]}
