"""Test-wide setup: an Airflow home of the tests' own, with this project's folders.

``make test`` sets the same variables and migrates the database first; the
defaults here let a single ``pytest`` call work the same way.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests import scheduling
from tests.include.recorder import NAME as RECORDER
from tests.include.recorder import RequestRecorder
from tests.include.recorder import pytest_addoption as pytest_addoption

ROOT = Path(__file__).resolve().parents[1]
_home = ROOT / ".airflow-test"
for name, value in {
    "AIRFLOW_HOME": str(_home),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_home}/airflow.db",
}.items():
    os.environ.setdefault(name, value)


def _home_of_this_worker() -> None:
    """Under pytest-xdist (``make test``), each worker gets a copy of the migrated home.

    SQLite takes one writer at a time: workers sharing one database would wait
    on each other's locks (and time out). The copy is made before anything
    imports Airflow, which reads its configuration once, at import.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    shared = Path(os.environ["AIRFLOW_HOME"])
    home = shared / "workers" / worker
    home.mkdir(parents=True, exist_ok=True)
    # An earlier session's write-ahead log beside the fresh copy would be replayed into it
    # ("database disk image is malformed"): the copy starts without one.
    for journal in ("airflow.db-wal", "airflow.db-shm", "airflow.db-journal"):
        (home / journal).unlink(missing_ok=True)
    shutil.copyfile(shared / "airflow.db", home / "airflow.db")
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home}/airflow.db"


_home_of_this_worker()


# --- the sandbox ---------------------------------------------------------------------------
# One emulated AWS and Kubernetes per test session (moto's state is process-wide),
# emptied before each test that asks for it.


@pytest.fixture(scope="session")
def sandbox_session(tmp_path_factory):
    from sandbox.core import Sandbox

    sandbox = Sandbox(tmp_path_factory.mktemp("sandbox")).start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def sandbox(sandbox_session, monkeypatch):
    """A fresh, empty sandbox with Airflow's connections pointing at it."""
    sandbox_session.reset()
    for name, value in sandbox_session.connection_env().items():
        monkeypatch.setenv(name, value)
    return sandbox_session


@pytest.fixture(autouse=True, scope="session")
def _no_run_left_running_by_an_earlier_session():
    """A DAG run an earlier, killed test session left ``running`` is ended before any test.

    The test home's database outlives a session; a session stopped mid-run
    (a timeout, Ctrl-C) leaves its run ``running`` there, and the run guard
    (``tasks/run_guard``) then refuses every later backup or restore as
    colliding with it. A fresh clone starts empty; this makes a reused home
    start the same way. Only runs of this project's DAGs are touched.
    """
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from sqlalchemy.exc import OperationalError

    try:
        with create_session() as session:
            left = (
                session.query(DagRun)
                .filter(DagRun.dag_id.like("ue_%"))
                .filter(DagRun.state.in_([DagRunState.RUNNING, DagRunState.QUEUED]))
                .all()
            )
            for run in left:
                run.state = DagRunState.FAILED
    except OperationalError:  # a home not migrated yet: no run can be left in it
        pass


@pytest.fixture(autouse=True, scope="session")
def _fast_aws_retries():
    """botocore's retries back off a hundred times faster here than against AWS.

    Standard mode waits up to 20 s before retrying a throttled call; the
    sandbox answers in milliseconds and its throttling is a fault a test
    armed, so a test of 20 throttles in a row would wait minutes for nothing.
    What is retried and how often is botocore's own decision, unchanged.
    """
    from botocore.retries import standard

    original = standard.ExponentialBackoff.delay_amount

    def faster(self, context):
        return original(self, context) / 100

    standard.ExponentialBackoff.delay_amount = faster
    yield
    standard.ExponentialBackoff.delay_amount = original


@pytest.fixture(autouse=True, scope="session")
def _botocore_data_read_once():
    """Every botocore session in this process shares one data loader.

    Each Airflow AWS hook makes a new boto3 session, and each session reads and
    parses botocore's service models again (several MB of JSON per service):
    about a third of an end-to-end test's time. Within one session botocore
    already shares its loader between clients; sharing it between sessions
    returns the same models, read once. The models are not changed: only how
    often the same files are parsed.
    """
    import botocore.loaders
    import botocore.session

    original = botocore.session.create_loader
    loaders: dict[object, botocore.loaders.Loader] = {}

    def shared_loader(search_path_string=None):
        if search_path_string not in loaders:
            loaders[search_path_string] = original(search_path_string)
        return loaders[search_path_string]

    botocore.session.create_loader = shared_loader
    yield
    botocore.session.create_loader = original


@pytest.fixture(autouse=True, scope="session")
def _aws_hook_caller_without_source():
    """The amazon provider's hooks find their calling operator without reading source files.

    ``AwsGenericHook`` names the calling operator in its user agent by walking
    ``inspect.stack()``, which looks up the source file of every frame of the
    stack (a fifth of a second per hook in this deep, module-heavy process).
    The provider reads only each frame, its function name and its locals: the
    frames are handed over as they are, without the file lookups.
    """
    import inspect
    import sys
    import types

    from airflow.providers.amazon.aws.hooks import base_aws

    def stack(context: int = 1) -> list[inspect.FrameInfo]:
        frames, frame = [], sys._getframe(1)
        while frame is not None:
            code = frame.f_code
            frames.append(
                inspect.FrameInfo(frame, code.co_filename, frame.f_lineno, code.co_name, None, None)
            )
            frame = frame.f_back
        return frames

    base_aws.inspect = types.SimpleNamespace(
        **{name: getattr(inspect, name) for name in dir(inspect) if not name.startswith("__")},
    )
    base_aws.inspect.stack = stack
    yield
    base_aws.inspect = inspect


@pytest.fixture(autouse=True, scope="session")
def _execution_api_in_one_hop():
    """``dag.test()``'s Execution API calls reach the same app in one thread hop each way.

    A third of an end-to-end test's CPU went into carrying each task's API calls
    between threads and rebuilding FastAPI dependencies per call
    (``sandbox/airflow_harness/execution_api.py``); the app, its routes and
    endpoints answer every call as before.
    """
    from sandbox.airflow_harness import execution_api

    undo = execution_api.install()
    yield
    undo()


@pytest.fixture(autouse=True, scope="session")
def _dag_folder_parsed_and_written_once_per_change():
    """``dag.test()`` parses and writes the DAG folder again only when what a parse reads changed.

    Every run re-parsed the whole folder and wrote every DAG to the database,
    unchanged (``sandbox/airflow_harness/bundle_sync.py``).
    """
    from sandbox.airflow_harness import bundle_sync

    undo = bundle_sync.install()
    yield
    undo()


@pytest.fixture(autouse=True, scope="session")
def _param_schemas_checked_once():
    """Each DAG param's JSON schema is checked against its meta-schema once, not per use.

    Airflow validates a run's params with ``jsonschema.validate`` for every task
    it runs, and that call first checks the schema itself against the draft's
    meta-schema: thousands of identical checks per session, a tenth of an
    end-to-end test's time. The check of a schema is a pure function of the
    schema, so it is remembered once passed (a failing one still fails every
    time); every value is still validated on every call.
    """
    import json

    import jsonschema

    validators = [
        cls
        for cls in vars(jsonschema.validators).values()
        if isinstance(cls, type) and "check_schema" in cls.__dict__
    ]
    originals = {cls: cls.__dict__["check_schema"] for cls in validators}
    passed: set[tuple[type, str]] = set()

    def remembering(original):
        def check_schema(cls, schema, *args, **kwargs):
            key = (cls, json.dumps(schema, sort_keys=True, default=repr))
            if key not in passed:
                original.__func__(cls, schema, *args, **kwargs)
                passed.add(key)

        return classmethod(check_schema)

    for cls, original in originals.items():
        cls.check_schema = remembering(original)
    yield
    for cls, original in originals.items():
        cls.check_schema = original


# --- the permission recorder ------------------------------------------------------------
# Every request the system makes to the sandbox during the end-to-end tests, for the
# IAM policy and RBAC checks in tests/include/ (see tests/include/recorder.py).


def pytest_configure(config):
    config.pluginmanager.register(RequestRecorder(config), RECORDER)


# --- the fast tier ------------------------------------------------------------------------
# ``make check`` runs what needs neither the sandbox nor a real Airflow: the pure rules,
# property tests and DAG structure, for the edit-run loop. A test that asks for the
# sandbox is marked ``sandbox`` here, so no one has to remember to mark it.

SANDBOX_FIXTURES = {"sandbox", "sandbox_session"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if SANDBOX_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.sandbox)
    # The longest units of work go out first, so they start at once and the short ones
    # fill in around them at the end: a module's world (the end-to-end ones first), then
    # the single end-to-end and slow tests, then the rest. Each module's world keeps its
    # tests in file order. A serial run takes as long either way.
    items.sort(key=_rank_of(items))


def _rank_of(items):
    """The sort key of ``pytest_collection_modifyitems``: one rank for a whole world."""
    marks = {item.nodeid: {m.name for m in item.iter_markers()} for item in items}
    world_rank: dict[str, int] = {}
    for item in items:
        if scheduling.in_world(item.nodeid):
            module = item.nodeid.split("::", 1)[0]
            rank = scheduling.WORLD_E2E if "e2e" in marks[item.nodeid] else scheduling.WORLD
            world_rank[module] = min(rank, world_rank.get(module, rank))

    def rank(item) -> int:
        if scheduling.in_world(item.nodeid):
            return world_rank[item.nodeid.split("::", 1)[0]]
        long = scheduling.LONG_MARKS & marks[item.nodeid]
        return scheduling.LONG_SINGLE if long else scheduling.SINGLE

    return rank


# --- pytest-xdist: which tests must share a worker -------------------------------------------
# A test that uses its module's module-scoped world (a sandbox installation built once and
# shared, as in retention's module, whose tests build on each other in order) runs with the
# rest of that world, in order, on one worker; every other test is scheduled on its own, so
# the largest end-to-end module (tests/dags/test_ue_backup.py) spreads over every worker
# (tests/scheduling.py reads which tests use a world). pytest-xdist's own loadgroup would
# say this with markers, but under pytest 9 it cannot rename the node ids it relies on.


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadscope``, with a scope per world, and the units in the collected order.

    xdist would reorder the units by their number of tests (a world of 23 quick
    compose checks before the restore module's 17 restores); the order
    ``pytest_collection_modifyitems`` gives (longest first) is kept instead.
    """
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleWorldScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scheduling.scope(nodeid)

    config.option.loadscopereorder = False
    return ModuleWorldScheduling(config, log)
