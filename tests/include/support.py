"""Shared by the permission checks: the sandbox's account, the rendered policies and RBAC,
and the end-to-end modules run in a subprocess when this session did not run them.

Two roles make AWS requests: the Airflow role (``aws_default``) in the sandbox's
own account, and the protected account's role (``immutable.aws_conn_id``). The
request log says whose credentials signed each request (``account``);
``policy_for`` renders the policy of that account's role for the installation in
force, and refuses a request of any third account.
"""

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
    IMMUTABLE_TEMPLATES,
    K8S_TEMPLATE,
    iam_values,
    immutable_values,
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
def immutable_template() -> dict[str, Any]:
    """The protected account's role's identity policy template."""
    return json.loads(IMMUTABLE_TEMPLATES["policy"].read_text())


def account_of(req: Mapping[str, Any]) -> str:
    """The account whose credentials signed a recorded request (older recordings: ours)."""
    return req.get("account") or ACCOUNT


def home_requests(recording: Recording) -> list[dict[str, Any]]:
    """The AWS requests of the Airflow role: those signed in the installation's account."""
    return [r for r in recording.requests if r["api"] == "aws" and account_of(r) == ACCOUNT]


def protected_requests(recording: Recording) -> list[dict[str, Any]]:
    """The AWS requests signed in any other account: the protected one's, or a mistake."""
    return [r for r in recording.requests if r["api"] == "aws" and account_of(r) != ACCOUNT]


def immutable_policy(config: Mapping[str, Any], template: Mapping[str, Any] | None = None) -> dict:
    """The protected role's policy rendered for an installation with an immutable section."""
    values = immutable_values(config, ACCOUNT)
    return render_policy(template or immutable_template(), values)


@functools.cache
def k8s_template() -> str:
    return K8S_TEMPLATE.read_text()


def policy_for(
    recording: Recording,
    template: Mapping[str, Any] | None = None,
    protected_template: Mapping[str, Any] | None = None,
) -> Any:
    """The policy of the role that made a request, rendered for the installation in force
    when it was made: the Airflow role's in the installation's account, the protected
    role's in ``immutable.account_id`` (the templates: ``include/iam``'s, unless given)."""
    cache: dict[tuple[int, str], dict[str, Any]] = {}

    def render(req: Mapping[str, Any]) -> dict[str, Any]:
        index, account = req["config"], account_of(req)
        if index is None:
            raise AssertionError(f"no installation configuration was in force for {req}")
        if (index, account) not in cache:
            config = recording.configs[index]
            if account == ACCOUNT:
                values = iam_values(config, ACCOUNT)
                cache[index, account] = render_policy(template or iam_template(), values)
            elif account == ((config or {}).get("immutable") or {}).get("account_id"):
                cache[index, account] = immutable_policy(config, protected_template)
            else:
                raise AssertionError(
                    f"a request signed in account {account}, neither the installation's "
                    f"({ACCOUNT}) nor its immutable.account_id: {req}"
                )
        return cache[index, account]

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
