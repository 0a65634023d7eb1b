"""The Amazon MWAA bundle: plugins.zip (scripts/mwaa_package.py), startup script, requirements."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scripts.mwaa_package import build

pytestmark = pytest.mark.slow  # builds and unpacks the archive: not in make check

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "plugins" / "ue_backup"


@pytest.fixture(scope="module")
def plugins_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mwaa") / "plugins.zip"
    build(out)
    return out


def test_the_package_is_at_the_root_with_every_module_and_waiter(plugins_zip):
    names = set(zipfile.ZipFile(plugins_zip).namelist())
    sources = {
        path.relative_to(ROOT / "plugins").as_posix()
        for pattern in ("*.py", "*.json")
        for path in PACKAGE.rglob(pattern)
        if "__pycache__" not in path.parts
    }
    waiters = {name for name in sources if name.startswith("ue_backup/waiters/")}
    assert {"ue_backup/waiters/backup.json", "ue_backup/waiters/memorydb.json"} <= waiters
    assert sources <= names, f"missing from plugins.zip: {sorted(sources - names)}"
    assert all(name.startswith("ue_backup/") for name in names)
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_the_same_sources_give_the_same_bytes(plugins_zip, tmp_path):
    (ROOT / "plugins" / "ue_backup" / "__pycache__").mkdir(exist_ok=True)  # never packed
    again = tmp_path / "again.zip"
    build(again)
    digest = hashlib.sha256
    assert digest(again.read_bytes()).digest() == digest(plugins_zip.read_bytes()).digest()
    for info in zipfile.ZipFile(again).infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert (info.external_attr >> 16) & 0o777 == 0o644


def test_unpacked_as_mwaa_does_the_triggers_and_waiters_load(plugins_zip, tmp_path):
    """MWAA unpacks plugins.zip into a folder on the Python path of every component."""
    zipfile.ZipFile(plugins_zip).extractall(tmp_path / "plugins")
    code = """
import importlib, json, pkgutil, sys
import ue_backup
assert ue_backup.__file__.startswith(sys.argv[1]), ue_backup.__file__
modules = [m.name for m in pkgutil.walk_packages(ue_backup.__path__, "ue_backup.")]
for name in modules:
    importlib.import_module(name)
from ue_backup.triggers.base import trigger_classpath  # the triggerer imports by class path
from ue_backup.waiters import WAITERS_DIR
for name in ("backup", "datasync", "memorydb"):
    assert json.loads((WAITERS_DIR / f"{name}.json").read_text())["waiters"]
print(len(modules))
"""
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "plugins")}
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "plugins")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[-1]) >= 40


def test_the_startup_script_exports_the_configuration_file():
    script = ROOT / "include" / "mwaa" / "startup.sh"

    def exported(source: str) -> str:
        return subprocess.run(
            ["sh", "-c", f'. "{script}" >/dev/null; echo "${{UE_BACKUP_CONFIG_FILE-unset}}"'],
            env={"PATH": os.environ["PATH"], "AIRFLOW_HOME": "/usr/local/airflow"}
            | ({"UE_BACKUP_CONFIG_SOURCE": source} if source else {}),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    assert exported("") == "/usr/local/airflow/dags/ue_backup_config/installation.yaml"
    assert exported("variable") == "unset"


def test_the_mwaa_requirements_leave_the_pins_to_mwaas_constraints():
    lines = [
        line.strip()
        for line in (ROOT / "include" / "mwaa" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert "apache-airflow-providers-amazon[aiobotocore]" in lines
    assert "apache-airflow-providers-cncf-kubernetes" in lines
    assert not [line for line in lines if "==" in line or line.startswith("apache-airflow==")]
