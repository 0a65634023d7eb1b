"""Every trigger survives the triggerer's round trip; run_inline runs one to its first event."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import pkgutil

import pytest
from airflow.triggers.base import BaseTrigger, TaskSuccessEvent, TriggerEvent

import ue_backup.triggers
from tests.plugins.support import round_trip
from ue_backup.errors import PermanentFailure
from ue_backup.triggers.base import (
    EndsTaskOnSuccess,
    PollingTrigger,
    ResourceWaiterTrigger,
    failure,
    first_event,
    run_inline,
    success,
    trigger_classpath,
)
from ue_backup.triggers.waits import event_or_fail

# Non-default values for every parameter, so a parameter the trigger forgets to
# serialize shows up as a difference after the round trip.
AWS = {
    "resource_id": "id-1",
    "waiter_delay": 7,
    "waiter_max_attempts": 11,
    "aws_conn_id": "aws_other",
    "region_name": "eu-central-1",
    "verify": False,
    "botocore_config": {"retries": {"mode": "standard", "max_attempts": 3}},
    "end_task": True,
}
KUBERNETES = {"poll_interval": 0.5, "kubernetes_conn_id": "kubernetes_other", "end_task": True}
SAMPLES = {
    "EcdDrainedTrigger": {
        "namespace": "uepe",
        "names": ["ecd-a", "ecd-b"],
        "deadline": "2025-01-01T00:15:00+00:00",
        **KUBERNETES,
    },
    "VeleroPhaseTrigger": {
        "namespace": "velero",
        "name": "ueb-x",
        "kind": "restore",
        "allow_partially_failed": True,
        **KUBERNETES,
    },
    "KubeJobCompleteTrigger": {"namespace": "uepe", "name": "purge", **KUBERNETES},
    "VeleroDeletionTrigger": {
        "backups": [["velero", "ueb-x"], ["velero", "ueb-y"]],
        "deadline": 1767225600.5,
        "poll_interval": 0.5,
        "kubernetes_conn_id": "kubernetes_other",
    },
    "RdsBackupPointFixedTrigger": {
        "job_id": "ABC-1",
        "deadline": 1767225600.5,
        "poll_interval": 0.5,
        "end_task": True,
        "aws_conn_id": "aws_other",
        "region_name": "eu-central-1",
        "verify": False,
        "botocore_config": {"retries": {"mode": "standard", "max_attempts": 3}},
    },
    "RdsSwitchOverTrigger": {
        "live": "ue-db",
        "aside": "ue-db-replaced-r1",
        "restored": "r1-db",
        "deadline": 1767225600.5,
        "poll_interval": 0.5,
        "doubt": "unexpected instances",
        "aws_conn_id": "aws_other",
        "region_name": "eu-central-1",
        "verify": False,
        "botocore_config": {"retries": {"mode": "standard", "max_attempts": 3}},
    },
    "DrillCleanupSettledTrigger": {
        "resources": {"rds_instance": "ue-test-drill-261125020000-db", "region": "eu-west-1"},
        "efs_restore_job": "job-1",
        "poll_interval": 0.5,
    },
}


def trigger_classes() -> list[type[BaseTrigger]]:
    """Every concrete trigger class defined in a module of ``ue_backup.triggers``."""
    found = {}
    for info in pkgutil.iter_modules(ue_backup.triggers.__path__):
        if info.name == "base":  # the shared bases, not triggers of their own
            continue
        module = importlib.import_module(f"ue_backup.triggers.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, BaseTrigger)
                and cls.__module__ == module.__name__
                and cls not in (ResourceWaiterTrigger, PollingTrigger)
            ):
                found[cls.__name__] = cls
    return [found[name] for name in sorted(found)]


def sample(cls: type[BaseTrigger]) -> dict:
    return dict(AWS) if issubclass(cls, ResourceWaiterTrigger) else dict(SAMPLES[cls.__name__])


def test_every_service_has_triggers_and_every_trigger_a_sample():
    names = {cls.__name__ for cls in trigger_classes()}
    assert {
        "AwsBackupJobCompleteTrigger",
        "AwsBackupRestoreJobCompleteTrigger",
        "AwsBackupCopyJobCompleteTrigger",
        "RdsSnapshotAvailableTrigger",
        "RdsInstanceAvailableTrigger",
        "MemoryDbSnapshotAvailableTrigger",
        "MemoryDbClusterAvailableTrigger",
        "DataSyncTaskExecutionCompleteTrigger",
        "EcdDrainedTrigger",
        "VeleroPhaseTrigger",
    } <= names
    for cls in trigger_classes():
        assert issubclass(cls, ResourceWaiterTrigger) or cls.__name__ in SAMPLES


@pytest.mark.parametrize("cls", trigger_classes(), ids=lambda cls: cls.__name__)
def test_every_trigger_round_trips_through_its_class_path(cls):
    trigger = cls(**sample(cls))

    rebuilt = round_trip(trigger)

    classpath, kwargs = trigger.serialize()
    assert classpath == trigger_classpath(trigger)
    assert classpath.startswith(f"ue_backup.triggers.{cls.__module__.rsplit('.', 1)[1]}.")
    expected = sample(cls)
    assert {k: kwargs[k] for k in expected} == expected
    assert vars(rebuilt).keys() == vars(trigger).keys()


@pytest.mark.parametrize(
    "cls",
    [c for c in trigger_classes() if issubclass(c, ResourceWaiterTrigger)],
    ids=lambda cls: cls.__name__,
)
def test_aws_triggers_wait_hours_by_default_and_name_their_resource(cls):
    trigger = cls(resource_id="r-1")
    # hours, not the provider's fixed 20 minutes (mount targets: 8 h at 10 s; jobs: a day)
    assert trigger.waiter_delay * trigger.attempts >= 8 * 3600
    assert trigger.waiter_args == {cls.ID_ARGUMENT: "r-1"}
    assert trigger.hook().get_waiter  # the hook class the waiter belongs to
    assert cls.WHAT in trigger.failure_message


class _Events(BaseTrigger):
    def __init__(self, payloads):
        super().__init__()
        self.payloads = payloads

    def serialize(self):
        return (trigger_classpath(self), {"payloads": self.payloads})

    async def run(self):
        for payload in self.payloads:
            await asyncio.sleep(0)
            yield TriggerEvent(payload)


def test_run_inline_returns_the_first_event_only():
    assert run_inline(_Events([{"n": 1}, {"n": 2}])) == {"n": 1}


def test_run_inline_refuses_a_trigger_that_ends_without_an_event():
    with pytest.raises(RuntimeError, match="_Events ended without an event"):
        run_inline(_Events([]))


def test_success_and_failure_events():
    assert success(name="x").payload == {"status": "success", "name": "x"}
    assert failure("broke", name="x").payload == {
        "status": "error",
        "kind": "failed",
        "message": "broke",
        "name": "x",
    }
    assert failure("denied", "error").payload["kind"] == "error"


class _Polls(PollingTrigger):
    """Gives its events in turn."""

    serialized = ("events", "end_task")
    poll_interval = 0

    def __init__(self, events, end_task=False):
        super().__init__()
        self.events = list(events)
        self.end_task = end_task

    def check(self):
        return self.events.pop(0)


def test_a_trigger_that_ends_its_task_logs_the_outcome_and_pushes_no_xcom(capsys):
    event = first_event(_Polls([None, success(n=3)], end_task=True))

    assert isinstance(event, TaskSuccessEvent)
    assert event.xcoms is None  # Airflow 3.3 would store it encoded once more than a worker
    assert (
        "Wait succeeded ({'n': 3}); the task ends here, in the triggerer" in capsys.readouterr().out
    )


def test_a_failure_still_goes_back_to_the_worker():
    """The worker raises it, with retries and the one alert, as for any failed step."""
    event = first_event(_Polls([failure("broke", n=1)], end_task=True))

    assert not isinstance(event, TaskSuccessEvent)
    assert event.payload == {"status": "error", "kind": "failed", "message": "broke", "n": 1}


def test_without_end_task_a_success_resumes_the_task():
    event = first_event(_Polls([success(n=3)]))

    assert not isinstance(event, TaskSuccessEvent)
    assert event.payload == {"status": "success", "n": 3}


@pytest.mark.parametrize(
    "cls",
    [c for c in trigger_classes() if issubclass(c, EndsTaskOnSuccess) and "end_task" in sample(c)],
    ids=lambda cls: cls.__name__,
)
def test_every_wait_that_can_end_its_task_ends_it_on_success_only(cls):
    trigger = round_trip(cls(**sample(cls)))

    assert isinstance(trigger.ending(success(name="x")), TaskSuccessEvent)
    assert trigger.ending(failure("broke")).payload["status"] == "error"
    assert cls(**{**sample(cls), "end_task": False}).ending(success()).payload == {
        "status": "success"
    }


# --- transient errors are "not yet" ----------------------------------------------------------
# One attempt per call (botocore gives up at once), so every throttle reaches the wait itself.

ONE_ATTEMPT = {"retries": {"mode": "standard", "total_max_attempts": 1}}


@pytest.fixture
def snapshot(sandbox):
    from ue_backup.hooks.memorydb import MemoryDbHook

    sandbox.durations.update(memorydb_snapshot=0.1)
    client = sandbox.client("memorydb")
    client.create_cluster(
        ClusterName="agg", NodeType="db.t4g.small", ACLName="open-access", NumShards=1
    )
    client.create_snapshot(ClusterName="agg", SnapshotName="snap")
    assert MemoryDbHook(config=ONE_ATTEMPT).conn.meta.config.retries["total_max_attempts"] == 1
    return "snap"


def snapshot_trigger(**kwargs):
    from ue_backup.triggers.memorydb import MemoryDbSnapshotAvailableTrigger

    return round_trip(
        MemoryDbSnapshotAvailableTrigger(
            resource_id="snap", waiter_delay=0.05, botocore_config=ONE_ATTEMPT, **kwargs
        )
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 400),
        ("ServiceUnavailableException", 503),  # not in the provider's list of retriable codes
        ("InternalServerError", 500),
    ],
)
def test_an_aws_wait_treats_throttling_and_5xx_as_not_yet(sandbox, snapshot, code, status):
    from sandbox.faults import Fault

    sandbox.faults.add(Fault("memorydb", "DescribeSnapshots", code=code, status=status, times=20))

    assert run_inline(snapshot_trigger()) == {"status": "success", "resource_id": "snap"}
    assert sandbox.faults.armed() == []


def test_an_aws_wait_that_only_meets_throttling_ends_at_its_own_time(sandbox, snapshot):
    from sandbox.faults import Fault

    sandbox.faults.add(
        Fault("memorydb", "DescribeSnapshots", code="ThrottlingException", status=400, times=None)
    )

    event = run_inline(snapshot_trigger(waiter_max_attempts=4))

    assert event["status"] == "error"
    assert "still not finished after 4 checks" in event["message"]


def test_an_aws_wait_survives_a_lost_connection(sandbox, snapshot, monkeypatch):
    connection = json.loads(sandbox.aws.airflow_connection())
    connection["extra"]["endpoint_url"] = "http://127.0.0.1:9"  # nothing listens: refused
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))

    event = run_inline(snapshot_trigger(waiter_max_attempts=3))

    assert event["status"] == "error"
    assert "still not finished after 3 checks" in event["message"]


def test_an_aws_wait_fails_on_an_error_that_is_not_transient(sandbox, snapshot):
    from sandbox.faults import Fault

    sandbox.faults.add(
        Fault("memorydb", "DescribeSnapshots", code="AccessDeniedException", status=403)
    )

    event = run_inline(snapshot_trigger())

    assert (event["status"], event["kind"]) == ("error", "error")
    assert "AccessDeniedException" in event["message"]
    # the task fails this try only: its retries ask again (new client, new credentials)
    with pytest.raises(RuntimeError, match="AccessDeniedException") as failed:
        event_or_fail(event)
    assert not isinstance(failed.value, PermanentFailure)


@pytest.mark.parametrize(
    "event",
    [
        {"status": "error", "kind": "failed", "message": "MemoryDB snapshot failed"},
        {"status": "error", "message": "MemoryDB snapshot failed"},  # a trigger of before
    ],
)
def test_a_failure_state_fails_the_task_for_good(event):
    with pytest.raises(PermanentFailure, match="MemoryDB snapshot failed"):
        event_or_fail(event)


class _Flaky(PollingTrigger):
    """Raises its errors in turn, then succeeds."""

    serialized = ()
    poll_interval = 0

    def __init__(self, errors):
        super().__init__()
        self.errors = list(errors)

    def check(self):
        if self.errors:
            raise self.errors.pop(0)
        return success(n=1)


def test_a_polling_wait_treats_kubernetes_throttling_and_5xx_as_not_yet():
    from kubernetes.client.exceptions import ApiException

    errors = [ApiException(status=429), ApiException(status=503), ConnectionResetError()]

    assert run_inline(_Flaky(errors)) == {"status": "success", "n": 1}


def test_a_polling_wait_fails_on_an_error_that_is_not_transient():
    from kubernetes.client.exceptions import ApiException

    with pytest.raises(ApiException):
        run_inline(_Flaky([ApiException(status=403)]))
