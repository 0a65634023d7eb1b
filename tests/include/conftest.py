"""The end-to-end suites' requests, for the checks of ``include/iam`` and ``include/k8s``.

``e2e_recording`` is what the request recorder (``recorder.py``) kept in this
session. Any end-to-end module this session did not run whole (the checks
run alone, ``-k``, a ``file::test`` argument) is run first in a subprocess
with its own recorder (``support.run_modules``), so a check never judges a
partial recording: it only takes longer. The checks that need it run after
every other test of the session (the recorder moves them to the end).
``--ue-check-recording PATH`` checks an earlier recording instead: the one
``make test``'s parallel step merged from its workers, or one kept to iterate
on the policy without running the suites again; modules it does not hold
whole are run first, as above.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.include.recorder import NAME, Recording
from tests.include.support import run_modules


@pytest.fixture(scope="session")
def e2e_recording(request: pytest.FixtureRequest, tmp_path_factory) -> Recording:
    earlier = request.config.getoption("ue_check_recording")
    if earlier:
        recording = Recording.read(Path(earlier))
        missing = recording.missing_modules()
    else:
        recorder = request.config.pluginmanager.get_plugin(NAME)
        recording = recorder.recording()
        missing = recorder.missing_modules()
    if missing:
        path = tmp_path_factory.mktemp("recording") / "recording.json"
        recording = recording.merged(run_modules(missing, path))
    return recording
