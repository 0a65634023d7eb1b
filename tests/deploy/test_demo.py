"""``make demo`` as a newcomer runs it: it succeeds, and its output is for a person (issue 19).

No error-level line that is not an error (a skipped step's console links were
once looked up and logged "XCom not found"), no internal dump (``dag.test()``'s
"No tasks to run. unrunnable tasks: {...}"), no traceback; the summaries the run
pages show are printed instead. Runs with ``make itest`` (about two minutes).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.deploy

ROOT = Path(__file__).resolve().parents[2]
ERROR_LINE = re.compile(r"\[(error|critical)\s*\]|^ERROR|Traceback", re.MULTILINE)


def test_make_demo_prints_summaries_and_nothing_alarming_that_is_not():
    done = subprocess.run(
        ["make", "--no-print-directory", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert not ERROR_LINE.search(output), ERROR_LINE.search(output) and output[-4000:]
    assert "unrunnable tasks" not in output
    assert "## Backup set `ue-demo-" in output
    assert "## DRY RUN: a plan only, nothing was changed" in output
    assert "### What exists now" in output
    assert "application checks on the restored system: passed" in output
