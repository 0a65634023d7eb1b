"""Run Python the way a deployment's Airflow parses DAG files, for tests and benchmarks.

A new interpreter with only this project's plugins and root on the path and
Airflow's example DAGs and plugins off, as ``docker-compose.yaml`` sets it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with ``args``; fails on a non-zero exit, with its error output."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={
            "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}",
            "PATH": "/usr/bin:/bin",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        },
    )
    if done.returncode != 0:
        raise RuntimeError(f"python -c failed ({done.returncode}): {done.stderr[-3000:]}")
    return done
