"""DAG file parse time, as a ratio to parsing a trivial DAG in the same conditions.

Each parse runs in a fresh process that has Airflow imported already (as the
dag-processor's parsing processes do), so the figure counts what the DAG
file itself costs: its imports of this project's plugins and building the
DAG. The median of several parses is taken for each file.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TRIVIAL = """
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("trivial", schedule=None, description="d", tags=["t"]):
    EmptyOperator(task_id="only")
"""
PARSE = """
import sys, time
from airflow.dag_processing.dagbag import DagBag
start = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1], bundle_path=sys.argv[2])
elapsed = time.perf_counter() - start
assert not bag.import_errors, bag.import_errors
print(elapsed)
"""


def parse_seconds(path: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", PARSE, str(path), str(path.parent)],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}", "PATH": "/usr/bin:/bin"},
        )
        times.append(float(done.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def run(runs: int = 5) -> list[dict[str, Any]]:
    trivial = Path(tempfile.mkdtemp(prefix="ue-backup-parse-")) / "trivial.py"
    trivial.write_text(TRIVIAL)
    baseline = parse_seconds(trivial, runs)
    results = []
    for name in ("ue_backup.py", "ue_restore.py"):
        seconds = parse_seconds(ROOT / "dags" / name, runs)
        results.append(
            {
                "name": f"parse time of dags/{name} / a trivial DAG's",
                "target": "<= 1.5",
                "dag_seconds": round(seconds, 3),
                "trivial_seconds": round(baseline, 3),
                "ratio": round(seconds / baseline, 2),
            }
        )
    return results
