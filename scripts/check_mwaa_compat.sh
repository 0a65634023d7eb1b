#!/usr/bin/env bash
# Can Amazon MWAA's Airflow (3.0.6) import this project? Installs Airflow 3.0.6 with the amazon
# and cncf.kubernetes providers into virtualenvs OUTSIDE the repository, then imports every
# module under plugins/ue_backup, validates the example configuration, and parses dags/ with a
# DagBag (PYTHONPATH=plugins, as MWAA puts plugins.zip on the path) and serializes each DAG as
# the DAG processor would. Not part of `make test`: it needs the package registry.
#
# Two provider sets are checked, because an MWAA requirements file may keep the providers of
# the 3.0.6 release (its constraints file) or raise them:
#   release  providers as published when 3.0.6 came out (uv --exclude-newer $MWAA_RELEASE_DATE)
#   latest   the newest providers that support Airflow 3.0.6
#
# Environment: PYTHON (default python3.12, MWAA's Python for 3.0.6, else python3.11),
# VENV_BASE (default /tmp/ue-backup-mwaa), MWAA_AIRFLOW_VERSION (default 3.0.6),
# MWAA_RELEASE_DATE (default 2025-09-05T00:00:00Z), MWAA_PROVIDER_SETS (default "release latest").
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

if [ -z "${PYTHON:-}" ]; then
  for candidate in python3.12 python3.11; do
    if "$candidate" -c pass 2>/dev/null; then PYTHON=$candidate; break; fi
  done
fi
VENV_BASE=${VENV_BASE:-/tmp/ue-backup-mwaa}
AIRFLOW_VERSION=${MWAA_AIRFLOW_VERSION:-3.0.6}
RELEASE_DATE=${MWAA_RELEASE_DATE:-2025-09-05T00:00:00Z}
PROVIDER_SETS=${MWAA_PROVIDER_SETS:-release latest}

case "$VENV_BASE" in
  "$REPO"|"$REPO"/*) echo "VENV_BASE must be outside the repository" >&2; exit 2 ;;
esac

check() {
  local venv=$1 home
  home=$(mktemp -d)
  AIRFLOW_HOME=$home AIRFLOW__CORE__LOAD_EXAMPLES=False PYTHONPATH="$REPO/plugins" \
    UE_BACKUP_CONFIG_FILE="$REPO/include/config/installation.example.yaml" \
    "$venv/bin/python" - "$REPO" <<'PY'
import importlib
import logging
import pkgutil
import sys
from pathlib import Path

from airflow import __version__ as airflow_version

repo = Path(sys.argv[1])
logging.disable(logging.ERROR)  # the DagBag logs each import error; they are listed below
problems: list[str] = []

import ue_backup  # noqa: E402

modules = ["ue_backup"] + [m.name for m in pkgutil.walk_packages(ue_backup.__path__, "ue_backup.")]
for name in modules:
    try:
        importlib.import_module(name)
    except Exception as error:
        problems.append(f"import {name}: {type(error).__name__}: {error}")

try:
    from ue_backup.config import load_config_file

    load_config_file(repo / "include/config/installation.example.yaml")
except Exception as error:
    problems.append(f"example configuration: {type(error).__name__}: {error}")

from airflow.models.dagbag import DagBag  # noqa: E402
from airflow.serialization.serialized_objects import SerializedDAG  # noqa: E402

bag = DagBag(str(repo / "dags"), include_examples=False)
for path, error in sorted(bag.import_errors.items()):
    last = str(error).strip().splitlines()[-1]
    problems.append(f"parse {Path(path).relative_to(repo)}: {last}")
for dag_id, dag in sorted(bag.dags.items()):
    try:
        dag.validate()
        SerializedDAG.to_dict(dag)
    except Exception as error:
        problems.append(f"serialize DAG {dag_id}: {type(error).__name__}: {error}")

print(f"Airflow {airflow_version}: {len(modules)} modules, DAGs {sorted(bag.dag_ids)}")
for problem in problems:
    print(f"  FAIL {problem}")
sys.exit(1 if problems else 0)
PY
  local rc=$?
  rm -rf "$home"
  return $rc
}

status=0
for set in $PROVIDER_SETS; do
  venv="$VENV_BASE-$set"
  limit=()
  case "$set" in
    release) limit=(--exclude-newer "$RELEASE_DATE") ;;
    latest) ;;
    *) echo "unknown provider set: $set" >&2; exit 2 ;;
  esac
  echo "== Airflow $AIRFLOW_VERSION, $set providers ($venv, $("$PYTHON" --version))"
  test -x "$venv/bin/uv" || { "$PYTHON" -m venv "$venv" && "$venv/bin/pip" install --quiet uv; }
  (cd /tmp && "$venv/bin/uv" pip install --quiet --python "$venv/bin/python" "${limit[@]}" \
    "apache-airflow==$AIRFLOW_VERSION" "apache-airflow-providers-amazon[aiobotocore]" \
    "apache-airflow-providers-cncf-kubernetes" pyyaml pydantic)
  "$venv/bin/python" -m pip list 2>/dev/null \
    | grep -E '^(apache-airflow-providers-(amazon|cncf-kubernetes|common-compat)|pydantic) ' \
    | sed 's/^/   /'
  check "$venv" || status=1
done
exit $status
