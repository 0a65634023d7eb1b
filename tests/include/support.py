"""Shared by the permission checks: the sandbox's account, the rendered policy and RBAC,
and the end-to-end modules run in a subprocess when this session did not run them."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from include.render import (
    IAM_TEMPLATE,
    K8S_TEMPLATE,
    iam_values,
    k8s_values,
    render_policy,
    render_rbac,
)
from sandbox.aws.server import AwsSandbox
from tests.include import rbac
from tests.include.recorder import ROOT, Recording

ACCOUNT = AwsSandbox.account  # the account every sandbox ARN carries
SERVICE_ACCOUNT = rbac.Subject("airflow", "airflow-worker")
E2E_TIMEOUT = 3600  # seconds: every end-to-end module, when none ran in this session


def run_modules(modules: list[str], path: Path) -> Recording:
    """Run end-to-end modules in a subprocess that records their requests to ``path``."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        f"--ue-recording={path}",
        *modules,
    ]
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=E2E_TIMEOUT,
        check=False,
    )
    if done.returncode != 0 or not path.exists():
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
        raise AssertionError(
            f"the end-to-end modules {modules} did not pass, so the requests they make "
            f"cannot be checked ({' '.join(command)}):\n{tail}"
        )
    return Recording.read(path)


def incomplete_note(recording: Recording) -> str:
    failed = recording.failed_tests()
    return (
        f"\n(these end-to-end tests did not pass, so their requests may be missing: {failed})"
        if failed
        else ""
    )


@functools.cache
def iam_template() -> dict[str, Any]:
    return json.loads(IAM_TEMPLATE.read_text())


@functools.cache
def k8s_template() -> str:
    return K8S_TEMPLATE.read_text()


def policy_for(recording: Recording) -> Any:
    """The policy rendered for the installation in force when a request was made."""
    cache: dict[int, dict[str, Any]] = {}

    def render(req: Mapping[str, Any]) -> dict[str, Any]:
        index = req["config"]
        if index is None:
            raise AssertionError(f"no installation configuration was in force for {req}")
        if index not in cache:
            values = iam_values(recording.configs[index], ACCOUNT)
            cache[index] = render_policy(iam_template(), values)
        return cache[index]

    return render


def rbac_objects(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    who = f"{SERVICE_ACCOUNT.namespace}/{SERVICE_ACCOUNT.name}"
    return render_rbac(k8s_template(), k8s_values(config, who))


def grants_for(recording: Recording) -> Any:
    """The service account's grants from the RBAC rendered for a request's installation."""
    cache: dict[int, list[rbac.Grant]] = {}

    def grants(req: Mapping[str, Any]) -> list[rbac.Grant]:
        index = req["config"]
        if index is None:
            raise AssertionError(f"no installation configuration was in force for {req}")
        if index not in cache:
            cache[index] = rbac.grants(rbac_objects(recording.configs[index]), SERVICE_ACCOUNT)
        return cache[index]

    return grants
