"""Parsing a DAG file loads no heavy library anew, and never the Kubernetes client.

The dag-processor re-parses every DAG file every ``min_file_process_interval``
in a process forked after it imported the ``airflow.*`` modules the file
names ([dag_processor] parsing_pre_import_modules). The DAG files name the
provider modules our operators build on, so the AWS client is loaded once,
not on every parse. This test fails when an import is added that brings one
in behind the dag-processor's back.

Every task start parses its DAG file again, in a new process with nothing
pre-imported: the Kubernetes clients (``kubernetes``, ``kubernetes_asyncio``:
about half a second) are loaded only by the tasks that call Kubernetes,
when they call it, never by a parse.
"""

from __future__ import annotations

import json

import pytest

from sandbox.airflow_harness.parsing import ROOT, run_python

pytestmark = pytest.mark.slow  # parses in fresh processes: not in make check

HEAVY = ("boto3", "botocore", "aiobotocore", "kubernetes", "kubernetes_asyncio")
KUBERNETES = ("kubernetes", "kubernetes_asyncio")
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
print("ALL", json.dumps(sorted(sys.modules)))
"""


DAG_FILES = sorted(p.name for p in (ROOT / "dags").glob("ue_*.py"))


@pytest.fixture(scope="module")
def modules() -> dict[str, dict[str, list[str]]]:
    """Per DAG file: the modules a forked parse loads anew, and every module loaded."""
    found = {}
    for dag_file in DAG_FILES:
        path = ROOT / "dags" / dag_file
        out = run_python(PROBE, str(path), str(path.parent)).stdout
        lines = dict(x.split(" ", 1) for x in out.splitlines() if x[:4] in ("NEW ", "ALL "))
        found[dag_file] = {key: json.loads(value) for key, value in lines.items()}
    return found


@pytest.mark.parametrize("dag_file", DAG_FILES)
def test_a_parse_loads_no_aws_or_kubernetes_client_anew(modules, dag_file):
    heavy = sorted({m for m in modules[dag_file]["NEW"] if m.split(".")[0] in HEAVY})
    assert heavy == [], f"{dag_file} loads these at every parse: {heavy[:10]}"


@pytest.mark.parametrize("dag_file", DAG_FILES)
def test_a_parse_never_loads_the_kubernetes_client(modules, dag_file):
    loaded = sorted({m for m in modules[dag_file]["ALL"] if m.split(".")[0] in KUBERNETES})
    assert loaded == [], f"{dag_file}: a task start would load {loaded[:5]}"
