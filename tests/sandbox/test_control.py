"""The control API: a sandbox in its own process, driven over HTTP.

The end-to-end test starts ``python -m sandbox`` as ``make sandbox`` does and
uses nothing but the file it writes (``--env-out``): boto3 for AWS, the
control API for faults, durations, the logs and the reset. The unit tests
drive the WSGI application in process, on a stand-in sandbox, for what it
refuses.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from botocore.exceptions import ClientError
from werkzeug.test import Client

from sandbox.control import ENV_NAME, ControlApi, ControlClient, ControlError
from sandbox.faults import FaultBook
from sandbox.gateway import AWS_CONN, parse_env_lines
from sandbox.mutation_log import MutationLog
from sandbox.request_log import RequestLog
from sandbox.settings import Durations

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def standalone(tmp_path_factory):
    """``python -m sandbox --env-out FILE`` in a subprocess; yields the settings it wrote."""
    tmp = tmp_path_factory.mktemp("control")
    env_out = tmp / "sandbox.env"
    log = (tmp / "sandbox.log").open("w")
    command = [sys.executable, "-m", "sandbox", f"--env-out={env_out}", f"--root={tmp / 'root'}"]
    sandbox = subprocess.Popen(
        [*command, "--alarm-seconds=0"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while not env_out.exists():
            assert sandbox.poll() is None, (tmp / "sandbox.log").read_text()
            assert time.monotonic() < deadline, "the sandbox wrote no settings in 60 s"
            time.sleep(0.1)
        yield parse_env_lines(env_out.read_text())
    finally:
        sandbox.send_signal(signal.SIGTERM)
        sandbox.wait(timeout=30)
        log.close()
    assert sandbox.returncode == 0, (tmp / "sandbox.log").read_text()


def _backup_client(env: dict[str, str]):
    extra = json.loads(env[AWS_CONN])["extra"]
    return boto3.client(
        "backup",
        endpoint_url=extra["endpoint_url"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.mark.slow  # a sandbox in a subprocess: not in make check
def test_a_standalone_sandbox_is_driven_over_http(standalone):
    control = ControlClient(standalone[ENV_NAME])
    assert control.url.startswith("http://127.0.0.1:")
    backup = _backup_client(standalone)
    started = time.time()

    # a fault armed over HTTP fails the next matching AWS call, once
    armed = control.add_fault(
        service="backup", operation="ListBackupVaults", code="AccessDenied", status=403
    )
    assert control.faults() == [armed]
    with pytest.raises(ClientError) as refused:
        backup.list_backup_vaults()
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert control.faults() == []
    assert backup.list_backup_vaults()["BackupVaultList"] == []

    # durations
    assert control.set_durations(backup_job=12.5)["backup_job"] == 12.5
    assert control.durations()["backup_job"] == 12.5

    # the logs show what boto3 did
    backup.create_backup_vault(BackupVaultName="ue-control")
    calls = [
        (r.service, r.operation, r.caller)
        for r in control.requests(api="aws", since=started)
        if r.service == "backup"
    ]
    assert calls == [
        ("backup", "ListBackupVaults", "system"),
        ("backup", "ListBackupVaults", "system"),
        ("backup", "CreateBackupVault", "system"),
    ]
    assert [m.operation for m in control.mutations(service="backup")] == ["CreateBackupVault"]

    # reset: no resources, no faults, default durations, an empty mutation log
    control.add_fault(service="backup", operation="StartBackupJob", times=None)
    control.reset()
    assert backup.list_backup_vaults()["BackupVaultList"] == []
    assert control.faults() == []
    assert control.durations() == Durations().as_dict()
    assert control.mutations() == []
    assert len(control.requests(api="aws", since=started)) >= 4  # the request log is kept


def test_refusals_come_back_as_errors_naming_the_field(standalone):
    control = ControlClient(standalone[ENV_NAME])
    with pytest.raises(ControlError, match="backup_jobb") as refused:
        control.set_durations(backup_jobb=1)
    assert refused.value.status == 400
    assert control.durations() == Durations().as_dict()


# --- the application, in process -----------------------------------------------------------


@pytest.fixture
def api():
    stand_in = SimpleNamespace(
        faults=FaultBook(),
        durations=Durations(),
        log=MutationLog(),
        requests=RequestLog(),
        resets=[],
    )
    stand_in.reset = lambda: stand_in.resets.append(True)
    return stand_in, Client(ControlApi(stand_in, {"aws": "http://127.0.0.1:1"}))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"backup_jobb": 1}, "backup_jobb"),
        ({"backup_job": -1}, "backup_job"),
        ({"rds_snapshot": "soon"}, "rds_snapshot"),
        ({"velero": True}, "velero"),
        ({"backup_job": 2, "restore_job": -0.5}, "restore_job"),
    ],
)
def test_bad_durations_are_refused_and_nothing_changes(api, body, field):
    sandbox, client = api
    answer = client.patch("/durations", json=body)
    assert answer.status_code == 400
    assert field in answer.json["error"]
    assert sandbox.durations == Durations()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"operation": "ListTasks"}, "service"),
        ({"service": "datasync"}, "operation"),
        ({"service": "efs", "operation": "X", "kind": "explode"}, "kind"),
        ({"service": "efs", "operation": "X", "statuss": 403}, "statuss"),
        ({"service": "efs", "operation": "X", "status": "403"}, "status"),
        ({"service": "efs", "operation": "X", "times": 0}, "times"),
        ({"service": "efs", "operation": "X", "seconds": -1}, "seconds"),
        ({"service": "efs", "operation": "X", "target": 7}, "target"),
    ],
)
def test_bad_faults_are_refused_and_none_is_armed(api, body, field):
    sandbox, client = api
    answer = client.post("/faults", json=body)
    assert answer.status_code == 400
    assert field in answer.json["error"]
    assert sandbox.faults.armed() == []


def test_what_is_not_json_or_not_an_endpoint_is_refused(api):
    sandbox, client = api
    assert client.post("/faults", data="{service").status_code == 400
    assert client.patch("/durations", json=[1]).status_code == 400
    assert client.get("/nothing").status_code == 404
    assert client.get("/reset").status_code == 405
    assert sandbox.resets == []
    assert client.post("/reset").status_code == 200
    assert sandbox.resets == [True]


def test_the_logs_are_served_filtered(api):
    sandbox, client = api
    sandbox.log.record("rds", "CreateDBSnapshot", "db-1", note="x")
    sandbox.log.record("k8s", "patch", "uepe/ecdeployments/ec1")
    sandbox.requests.record("aws", "rds", "CreateDBSnapshot", params={"DBInstanceIdentifier": "1"})
    sandbox.requests.record("k8s", "", "get", caller="system", resource="pods")

    mutations = client.get("/mutations?service=rds").json
    assert [(m["operation"], m["target"], m["detail"]) for m in mutations] == [
        ("CreateDBSnapshot", "db-1", {"note": "x"})
    ]
    requests = client.get("/requests?api=k8s").json
    assert [(r["operation"], r["resource"]) for r in requests] == [("get", "pods")]
    assert client.get(f"/requests?since={time.time() + 60}").json == []
    assert client.get("/requests?since=yesterday").status_code == 400
    assert client.get("/").json["aws"] == "http://127.0.0.1:1"
