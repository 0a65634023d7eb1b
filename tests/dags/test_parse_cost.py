"""Parsing a DAG file in the dag-processor loads no heavy library anew.

The dag-processor re-parses every DAG file every ``min_file_process_interval``
in a process forked after it imported the ``airflow.*`` modules the file
names ([dag_processor] parsing_pre_import_modules). The DAG files name the
provider modules our operators build on, so the AWS and Kubernetes clients
are loaded once, not on every parse. This test fails when an import is added
that brings one of them in behind the dag-processor's back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("boto3", "botocore", "aiobotocore", "kubernetes", "kubernetes_asyncio")
PROBE = """
import importlib, json, sys
from airflow.utils.file import iter_airflow_imports
path = sys.argv[1]
for module in iter_airflow_imports(path):
    importlib.import_module(module)
before = set(sys.modules)
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=path, bundle_path=sys.argv[2])
assert not bag.import_errors, bag.import_errors
print("NEW", json.dumps(sorted(set(sys.modules) - before)))
"""


@pytest.mark.parametrize("dag_file", sorted(p.name for p in (ROOT / "dags").glob("ue_*.py")))
def test_a_parse_loads_no_aws_or_kubernetes_client_anew(dag_file):
    path = ROOT / "dags" / dag_file
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(path), str(path.parent)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}", "PATH": "/usr/bin:/bin"},
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("NEW "))
    new = json.loads(line.removeprefix("NEW "))
    heavy = sorted({m for m in new if m.split(".")[0] in HEAVY})
    assert heavy == [], f"{dag_file} loads these at every parse: {heavy[:10]}"
