"""Records every AWS and Kubernetes request the system makes during the end-to-end tests.

A pytest plugin (registered by ``tests/conftest.py``). It listens to the
sandbox's request log (``sandbox/request_log.py``), which sees each
request on the server side, whatever made it: the provider's hooks in a
task, the async hooks in a trigger, or real Airflow processes. While a test
marked ``e2e`` runs (its fixtures included), every request of the system
under test is kept with the test's id and the installation configuration in
force when it arrived (``UE_BACKUP_CONFIG_FILE``), so the permission checks
can render the IAM policy and the RBAC rules for exactly that installation.
Requests of the tests' own set-up clients (``caller="setup"``) are left out.
Each AWS request keeps the account whose credentials signed it (``account``, from
the sandbox's request log): the checks judge it against the policy of the role
that made it, the Airflow role's or the immutable copies' protected role's.

At the end of the session the recording is written to
``build/permissions/recording.json`` (or ``--ue-recording PATH``) when an
end-to-end test ran. Under pytest-xdist (``make test``) each worker writes
its part beside it, the controller merges the parts into that file, and the
permission checks (marked ``permissions``) are left to a second, serial
``pytest -m permissions --ue-check-recording PATH`` (a worker sees only its
share of the requests, so no worker can judge the whole).
``tests/include/`` checks it against ``include/iam`` and ``include/k8s``; when
this session did not run every end-to-end module whole, those checks run the
missing modules in a subprocess first (see
``missing_modules`` and ``tests/include/conftest.py``).
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
NAME = "ue-request-recorder"
DEFAULT_OUTPUT = ROOT / "build" / "permissions" / "recording.json"
# A module-level ``pytestmark = pytest.mark.e2e`` or a ``@pytest.mark.e2e`` decorator, at
# the start of a line (not the words inside a string, as in the recorder's own tests).
E2E_MARK = re.compile(r"^(pytestmark\s*=.*pytest\.mark\.e2e\b|\s*@pytest\.mark\.e2e\b)", re.M)


def e2e_modules(root: Path = ROOT) -> list[str]:
    """Every test module that holds end-to-end tests, as paths relative to ``root``."""
    found = []
    for path in sorted((root / "tests").rglob("test_*.py")):
        if E2E_MARK.search(path.read_text(encoding="utf-8")):
            found.append(path.relative_to(root).as_posix())
    return found


class Recording:
    """What the system asked for: ``requests`` (dicts of ``ApiRequest`` plus ``test`` and
    ``config``: an index into ``configs``, the raw configuration mappings), which
    end-to-end tests ran with which outcome, and ``whole``: the end-to-end modules the
    recording session selected whole (``None`` when not known, as in older recordings)."""

    def __init__(
        self,
        requests: list[dict[str, Any]] | None = None,
        configs: list[Any] | None = None,
        outcomes: dict[str, str] | None = None,
        whole: list[str] | None = None,
    ) -> None:
        self.requests = requests or []
        self.configs = configs or []
        self.outcomes = outcomes or {}
        self.whole = whole

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "configs": self.configs,
            "outcomes": self.outcomes,
            "whole": self.whole,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recording:
        return cls(data["requests"], data["configs"], data["outcomes"], data.get("whole"))

    def missing_modules(self) -> list[str]:
        """The end-to-end modules this recording does not hold whole (none if unknown)."""
        if self.whole is None:
            return []
        return [m for m in e2e_modules() if m not in self.whole]

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(self.as_dict(), indent=1, default=str))
        partial.replace(path)

    @classmethod
    def read(cls, path: Path) -> Recording:
        return cls.from_dict(json.loads(path.read_text()))

    def merged(self, other: Recording) -> Recording:
        """This recording and ``other`` together (``other``'s config indices shifted)."""
        shift = len(self.configs)
        moved = [
            {**r, "config": None if r["config"] is None else r["config"] + shift}
            for r in other.requests
        ]
        if self.whole is None or other.whole is None:
            whole = self.whole if other.whole is None else other.whole
        else:
            whole = sorted(set(self.whole) | set(other.whole))
        return Recording(
            self.requests + moved,
            self.configs + other.configs,
            {**self.outcomes, **other.outcomes},
            whole,
        )

    def failed_tests(self) -> list[str]:
        return sorted(test for test, outcome in self.outcomes.items() if outcome != "passed")


class RequestRecorder:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.output = Path(config.getoption("ue_recording") or DEFAULT_OUTPUT)
        self._lock = threading.Lock()
        self._item: pytest.Item | None = None
        self._requests: list[dict[str, Any]] = []
        self._configs: list[Any] = []
        self._config_index: dict[tuple, int] = {}
        self._outcomes: dict[str, str] = {}
        self._collected: dict[str, int] = {}  # e2e module -> items selected to run
        self._partial: set[Path] = set()  # e2e modules not selected whole

    # --- which end-to-end modules this session runs whole ---------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """The permission checks are marked ``permissions`` (before ``-m`` selects) and run
        last, after every end-to-end test of the session."""
        checks = [i for i in items if "e2e_recording" in getattr(i, "fixturenames", ())]
        for check in checks:
            check.add_marker(pytest.mark.permissions)
        if checks:
            rest = [i for i in items if i not in checks]
            items[:] = rest + checks

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            if item.get_closest_marker("e2e"):
                module = item.nodeid.split("::", 1)[0]
                self._collected[module] = self._collected.get(module, 0) + 1
        invoked = self.config.invocation_params.dir
        for arg in self.config.args:
            if "::" in arg:  # a module narrowed to some of its tests
                self._partial.add((invoked / arg.split("::", 1)[0]).resolve())

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        for item in items:
            if item.get_closest_marker("e2e"):
                self._partial.add(Path(item.path).resolve())

    def whole_modules(self) -> list[str]:
        """The end-to-end modules whose requests this session records whole."""
        return [
            m
            for m in e2e_modules()
            if m in self._collected and (ROOT / m).resolve() not in self._partial
        ]

    def missing_modules(self) -> list[str]:
        """The end-to-end modules whose requests this session does not record whole."""
        whole = set(self.whole_modules())
        return [m for m in e2e_modules() if m not in whole]

    # --- recording ---------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: Any, request: pytest.FixtureRequest) -> Any:
        result = yield
        if fixturedef.argname == "sandbox_session":
            result.requests.add_listener(self._on_request)
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        self._item = item if item.get_closest_marker("e2e") else None
        try:
            return (yield)
        finally:
            self._item = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Each end-to-end test's outcome: failed or skipped in any phase, else passed."""
        if report.nodeid.split("::", 1)[0] not in self._collected:
            return
        if report.failed or report.skipped:
            self._outcomes[report.nodeid] = report.outcome
        else:
            self._outcomes.setdefault(report.nodeid, "passed")

    def _on_request(self, entry: Any) -> None:
        item = self._item
        if item is None or entry.caller != "system":
            return
        with self._lock:
            self._requests.append(
                {"test": item.nodeid, "config": self._config_in_force(), **entry.as_dict()}
            )

    def _config_in_force(self) -> int | None:
        """The index of the configuration file's contents when the request arrived."""
        name = os.environ.get("UE_BACKUP_CONFIG_FILE")
        if not name:
            return None
        try:
            stat = Path(name).stat()
        except OSError:
            return None
        key = (name, stat.st_mtime_ns, stat.st_size)
        if key not in self._config_index:
            try:
                data = yaml.safe_load(Path(name).read_text())
            except (OSError, yaml.YAMLError):
                data = None
            if data in self._configs:
                self._config_index[key] = self._configs.index(data)
            else:
                self._configs.append(data)
                self._config_index[key] = len(self._configs) - 1
        return self._config_index[key]

    def recording(self) -> Recording:
        with self._lock:
            return Recording(
                list(self._requests),
                list(self._configs),
                dict(self._outcomes),
                self.whole_modules(),
            )

    # --- pytest-xdist: a part per worker, merged by the controller --------------------------

    def _role(self) -> str | None:
        if hasattr(self.config, "workerinput"):
            return "worker"
        if getattr(getattr(self.config, "option", None), "numprocesses", None):
            return "controller"
        return None

    def _parts(self) -> list[Path]:
        return sorted(self.output.parent.glob(f"{self.output.stem}.part-*.json"))

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self._role() == "controller":
            for stale in self._parts():
                stale.unlink()

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        role = self._role()
        if role == "controller":
            parts = self._parts()
            if parts:
                merged = Recording(whole=None)
                for part in parts:
                    merged = merged.merged(Recording.read(part))
                merged.write(self.output)
                for part in parts:
                    part.unlink()
        elif role == "worker":
            worker = self.config.workerinput["workerid"]
            self.recording().write(self.output.with_name(f"{self.output.stem}.part-{worker}.json"))
        elif self._outcomes:
            self.recording().write(self.output)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--ue-recording",
        dest="ue_recording",
        default=None,
        help="where to write the requests the end-to-end tests made "
        "(default: build/permissions/recording.json)",
    )
    parser.addoption(
        "--ue-check-recording",
        dest="ue_check_recording",
        default=None,
        metavar="PATH",
        help="check the permissions against this earlier recording instead of running the "
        "end-to-end modules (to iterate on include/iam and include/k8s)",
    )
