"""The request recorder: which end-to-end modules a session runs whole, and what it keeps."""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import SimpleNamespace

from sandbox.request_log import ApiRequest
from tests.include.recorder import ROOT, Recording, RequestRecorder, e2e_modules

BACKUP = "tests/dags/test_ue_backup.py"
RESTORE = "tests/dags/test_ue_restore.py"


class Item:
    def __init__(self, nodeid: str, e2e: bool = True) -> None:
        self.nodeid = nodeid
        self.path = ROOT / nodeid.split("::", 1)[0]
        self.fixturenames = ("sandbox",)
        self._e2e = e2e
        self.markers: list[str] = []

    def get_closest_marker(self, name: str):
        return object() if name == "e2e" and self._e2e else None

    def add_marker(self, marker) -> None:
        self.markers.append(marker.name)


def recorder(
    *args: str, output: Path | None = None, workers: int | None = None, worker: str | None = None
) -> RequestRecorder:
    """A recorder alone (``workers``: as pytest-xdist's controller; ``worker``: as that worker)."""
    options = {"ue_recording": output}
    config = SimpleNamespace(
        getoption=options.get,
        args=list(args),
        invocation_params=SimpleNamespace(dir=ROOT),
        option=SimpleNamespace(numprocesses=workers),
    )
    if worker:
        config.workerinput = {"workerid": worker}
    return RequestRecorder(config)


def collected(rec: RequestRecorder, *items: Item) -> RequestRecorder:
    rec.pytest_collection_finish(SimpleNamespace(items=list(items)))
    return rec


def test_end_to_end_modules_are_found_by_their_marker(tmp_path):
    (tmp_path / "tests" / "dags").mkdir(parents=True)
    (tmp_path / "tests" / "dags" / "test_a.py").write_text("pytestmark = pytest.mark.e2e\n")
    (tmp_path / "tests" / "dags" / "test_b.py").write_text("def test_b(): pass\n")
    assert e2e_modules(tmp_path) == ["tests/dags/test_a.py"]
    assert {BACKUP, RESTORE} <= set(e2e_modules())


def test_modules_not_run_in_the_session_are_missing():
    rec = collected(recorder(BACKUP), Item(f"{BACKUP}::test_a"), Item(f"{BACKUP}::test_b"))
    missing = rec.missing_modules()
    assert BACKUP not in missing
    assert RESTORE in missing


def test_a_module_narrowed_by_node_id_or_deselection_is_missing():
    narrowed = collected(recorder(f"{BACKUP}::test_a"), Item(f"{BACKUP}::test_a"))
    assert BACKUP in narrowed.missing_modules()

    deselected = collected(recorder(BACKUP), Item(f"{BACKUP}::test_a"))
    deselected.pytest_deselected([Item(f"{BACKUP}::test_b")])
    assert BACKUP in deselected.missing_modules()

    other = collected(recorder(BACKUP), Item(f"{BACKUP}::test_a"))
    other.pytest_deselected([Item("tests/plugins/test_config.py::test_x", e2e=False)])
    assert BACKUP not in other.missing_modules()


def test_the_checks_run_after_every_other_test():
    check = Item("tests/include/test_iam_policy.py::test_every")
    check.fixturenames = ("e2e_recording",)
    items = [check, Item(f"{BACKUP}::test_a"), Item("tests/plugins/test_config.py::test_x")]
    recorder().pytest_collection_modifyitems(None, None, items)
    assert items[-1] is check
    assert check.markers == ["permissions"]  # make test runs them in a step of their own
    assert items[0].markers == []
    assert [i.nodeid for i in items[:2]] == [
        f"{BACKUP}::test_a",
        "tests/plugins/test_config.py::test_x",
    ]


def test_only_the_systems_requests_during_end_to_end_tests_are_kept(tmp_path, monkeypatch):
    config = tmp_path / "installation.yaml"
    config.write_text("installation: ue-test\n")
    monkeypatch.setenv("UE_BACKUP_CONFIG_FILE", str(config))
    rec = recorder()
    system = ApiRequest(0.0, "aws", "rds", "DescribeDBInstances")
    setup = ApiRequest(0.0, "aws", "rds", "CreateDBInstance", caller="setup")

    def during(item):
        """Send the requests while ``item`` runs, as pytest_runtest_protocol wraps it."""
        protocol = rec.pytest_runtest_protocol(item, None)
        next(protocol)
        rec._on_request(system)
        rec._on_request(setup)
        with contextlib.suppress(StopIteration):
            protocol.send(None)

    rec._on_request(system)  # between tests
    during(Item(f"{BACKUP}::test_a"))
    during(Item("tests/plugins/test_config.py::test_x", e2e=False))
    rec._on_request(system)

    recording = rec.recording()
    assert [(r["test"], r["operation"]) for r in recording.requests] == [
        (f"{BACKUP}::test_a", "DescribeDBInstances")
    ]
    assert recording.configs == [{"installation": "ue-test"}]
    assert recording.requests[0]["config"] == 0


def test_recordings_merge_and_survive_a_round_trip(tmp_path):
    first = Recording([{"test": "a", "config": 0}], [{"installation": "a"}], {"a": "passed"})
    second = Recording(
        [{"test": "b", "config": 0}, {"test": "c", "config": None}],
        [{"installation": "b"}],
        {"b": "failed"},
    )
    both = first.merged(second)
    assert [r["config"] for r in both.requests] == [0, 1, None]
    assert both.configs[1] == {"installation": "b"}
    assert both.failed_tests() == ["b"]
    path = tmp_path / "r" / "recording.json"
    both.write(path)
    assert Recording.read(path).as_dict() == both.as_dict()


def test_the_recording_is_written_when_end_to_end_tests_ran(tmp_path):
    path = tmp_path / "recording.json"
    idle = recorder(output=path)
    idle.pytest_sessionfinish(None)
    assert not path.exists()

    busy = collected(recorder(output=path), Item(f"{BACKUP}::test_a"))
    report = SimpleNamespace(nodeid=f"{BACKUP}::test_a", failed=False, skipped=False)
    busy.pytest_runtest_logreport(report)
    busy.pytest_sessionfinish(None)
    assert Recording.read(path).outcomes == {f"{BACKUP}::test_a": "passed"}


def test_under_xdist_each_worker_writes_its_part_and_the_controller_merges_them(tmp_path):
    path = tmp_path / "recording.json"
    controller = recorder(output=path, workers=2)
    (tmp_path / "recording.part-gw9.json").write_text("stale")  # from an interrupted run
    controller.pytest_sessionstart(None)
    assert not (tmp_path / "recording.part-gw9.json").exists()

    for worker, test in (("gw0", "test_a"), ("gw1", "test_b")):
        rec = collected(
            recorder(BACKUP, output=path, worker=worker),
            Item(f"{BACKUP}::test_a"),
            Item(f"{BACKUP}::test_b"),
        )
        report = SimpleNamespace(nodeid=f"{BACKUP}::{test}", failed=False, skipped=False)
        rec.pytest_runtest_logreport(report)
        rec.pytest_sessionfinish(None)
    assert not path.exists()  # a worker alone never writes the whole

    controller.pytest_sessionfinish(None)
    merged = Recording.read(path)
    assert merged.outcomes == {f"{BACKUP}::test_a": "passed", f"{BACKUP}::test_b": "passed"}
    assert BACKUP in merged.whole
    assert BACKUP not in merged.missing_modules()
    assert RESTORE in merged.missing_modules()  # not collected by these workers
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recording.json"]


def test_a_recording_of_unknown_extent_is_taken_as_whole():
    assert Recording([], [], {}).missing_modules() == []
    assert RESTORE in Recording([], [], {}, whole=[BACKUP]).missing_modules()


def test_each_aws_request_is_logged_in_the_account_whose_credentials_signed_it(sandbox):
    """The permission checks judge a request by the policy of the role that made it: the
    protected account's (an assumed role's keys, which moto maps to its account) or ours."""
    role = "arn:aws:iam::222233334444:role/ue-backup-immutable"
    sandbox.aws.client_as(role, "backup").list_backup_vaults()
    sandbox.aws.client("backup").list_backup_vaults()
    accounts = [
        e.account for e in sandbox.aws.requests.entries("aws") if e.operation == "ListBackupVaults"
    ][-2:]
    assert accounts == ["222233334444", sandbox.aws.account]
