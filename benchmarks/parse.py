"""DAG file parse time, as a ratio to parsing a trivial DAG in the same conditions.

Two conditions, each the median of several parses, the trivial DAG and ours
side by side:

- ``dag_processor``: what a running dag-processor pays per parse, every
  ``min_file_process_interval``. Airflow's dag-processor imports the
  ``airflow.*`` modules a DAG file names at top level once, in its own
  process, then forks a child per parse (``[dag_processor]
  parsing_pre_import_modules``, on by default). The benchmark does the same
  with Airflow's own ``iter_airflow_imports`` and times ``DagBag`` in a
  forked child.
- ``cold_process``: a fresh interpreter with only Airflow imported, as a
  ``airflow dags test`` or a first parse pays it: every import included.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from typing import Any

from sandbox.airflow_harness.parsing import ROOT, run_python

TRIVIAL = """
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("trivial", schedule=None, description="d", tags=["t"]):
    EmptyOperator(task_id="only")
"""
# The same, with as many empty tasks in a chain as a DAG file of ours has: what Airflow
# itself costs per task, the floor for a DAG of that size.
EMPTY_TASKS = """
from airflow.sdk import DAG, chain
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("empty_tasks", schedule=None, description="d", tags=["t"]):
    chain(*[EmptyOperator(task_id=f"t{{i}}") for i in range({count})])
"""
COUNT_TASKS = """
import sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1], bundle_path=sys.argv[2])
print("TASKS", sum(len(dag.tasks) for dag in bag.dags.values()))
"""
PARSE_COLD = """
import sys, time
from airflow.dag_processing.dagbag import DagBag
start = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1], bundle_path=sys.argv[2])
elapsed = time.perf_counter() - start
assert not bag.import_errors, bag.import_errors
print("SECONDS", elapsed)
"""
PARSE_FORKED = """
import importlib, os, sys, time
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.file import iter_airflow_imports

path, bundle, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
for module in iter_airflow_imports(path):
    importlib.import_module(module)
for _ in range(runs):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        start = time.perf_counter()
        bag = DagBag(dag_folder=path, bundle_path=bundle)
        elapsed = time.perf_counter() - start
        os.write(write, (repr(elapsed) if not bag.import_errors else "nan").encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    print("SECONDS", os.read(read, 100).decode())
"""


def _python(code: str, *args: str) -> list[float]:
    """The SECONDS lines ``code`` prints, run as a deployment parses (no example plugins)."""
    done = run_python(code, *args)
    times = [
        float(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("SECONDS ")
    ]
    if not times or any(t != t for t in times):  # nan: the file did not import
        raise RuntimeError(f"parsing {args[0]} failed: {done.stderr[-2000:]}")
    return times


def cold_seconds(path: Path, runs: int) -> float:
    return statistics.median(
        t for _ in range(runs) for t in _python(PARSE_COLD, str(path), str(path.parent))
    )


def forked_seconds(path: Path, runs: int) -> float:
    return statistics.median(_python(PARSE_FORKED, str(path), str(path.parent), str(runs)))


def same_size_empty_dag(path: Path, folder: Path) -> Path:
    """A DAG of as many empty tasks as ``path`` has, written into ``folder``."""
    out = run_python(COUNT_TASKS, str(path), str(path.parent)).stdout
    (count,) = [int(line.split()[1]) for line in out.splitlines() if line.startswith("TASKS ")]
    empty = folder / f"empty_{path.stem}.py"
    empty.write_text(EMPTY_TASKS.format(count=count))
    return empty


def run(runs: int = 5) -> list[dict[str, Any]]:
    folder = Path(tempfile.mkdtemp(prefix="ue-backup-parse-"))
    trivial = folder / "trivial.py"
    trivial.write_text(TRIVIAL)
    dags = sorted((ROOT / "dags").glob("ue_*.py"))
    empties = {path: same_size_empty_dag(path, folder) for path in dags}
    results = []
    for condition, measure in (("dag_processor", forked_seconds), ("cold_process", cold_seconds)):
        baseline = measure(trivial, runs)
        for path in dags:
            seconds = measure(path, runs)
            same_size = measure(empties[path], runs)
            results.append(
                {
                    "name": f"parse time of dags/{path.name} / a trivial DAG's ({condition})",
                    "target": "<= 1.5",
                    "dag_seconds": round(seconds, 4),
                    "trivial_seconds": round(baseline, 4),
                    "ratio": round(seconds / baseline, 2),
                    # the floor: Airflow's own cost for a DAG of this many tasks
                    "same_size_empty_dag_seconds": round(same_size, 4),
                    "ratio_to_same_size_empty_dag": round(seconds / same_size, 2),
                }
            )
    return results
