"""The sandbox gateway of the docker-compose stack: settings rewritten, traffic relayed.

The end-to-end test runs the gateway as the ``ue-sandbox`` service does, on
loopback with a host *name* (as ``ue-sandbox`` is one), and reaches AWS and
Kubernetes through the provider hooks with nothing but the files it wrote.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from sandbox.control import ControlClient
from sandbox.gateway import (
    AWS_CONN,
    CONTROL_URL,
    K8S_CONN,
    env_file_text,
    parse_args,
    parse_env_lines,
    public_env,
    public_kubeconfig,
)

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_ENV = {
    AWS_CONN: json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": "http://127.0.0.1:38403", "region_name": "eu-west-1"},
        }
    ),
    K8S_CONN: json.dumps(
        {"conn_type": "kubernetes", "extra": {"kube_config_path": "/tmp/x/kubeconfig.yaml"}}
    ),
    "AWS_DEFAULT_REGION": "eu-west-1",
}


def test_the_sandboxs_export_lines_are_read():
    text = "\n".join(f"export {name}={shlex.quote(value)}" for name, value in SANDBOX_ENV.items())
    assert parse_env_lines(text + "\n") == SANDBOX_ENV


def test_settings_point_at_the_gateway_by_name_with_path_style_s3():
    env = public_env(SANDBOX_ENV, "ue-sandbox", 4566, Path("/opt/airflow/config/kube.yaml"))
    aws = json.loads(env[AWS_CONN])
    assert aws["extra"]["endpoint_url"] == "http://ue-sandbox:4566"
    assert aws["extra"]["config_kwargs"] == {"s3": {"addressing_style": "path"}}
    assert aws["login"] == "testing"
    assert aws["extra"]["region_name"] == "eu-west-1"
    k8s = json.loads(env[K8S_CONN])
    assert k8s["extra"]["kube_config_path"] == "/opt/airflow/config/kube.yaml"
    assert env["AWS_DEFAULT_REGION"] == "eu-west-1"


def test_the_control_api_is_named_by_the_gateway():
    env = {**SANDBOX_ENV, CONTROL_URL: "http://127.0.0.1:39001"}
    public = public_env(env, "ue-sandbox", 4566, Path("/k.yaml"), control_port=4599)
    assert public[CONTROL_URL] == "http://ue-sandbox:4599"
    assert CONTROL_URL not in public_env(SANDBOX_ENV, "ue-sandbox", 4566, Path("/k.yaml"), 4599)


def test_an_address_keeps_botocores_default_addressing():
    env = public_env(SANDBOX_ENV, "10.0.0.7", 4566, Path("/k.yaml"))
    assert "config_kwargs" not in json.loads(env[AWS_CONN])["extra"]


def test_the_kubeconfig_names_the_gateway():
    text = yaml.safe_dump(
        {
            "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:38173"}}],
            "users": [{"name": "c", "user": {"token": "t"}}],
        }
    )
    config = yaml.safe_load(public_kubeconfig(text, "ue-sandbox", 6443))
    assert config["clusters"][0]["cluster"]["server"] == "http://ue-sandbox:6443"
    assert config["users"][0]["user"]["token"] == "t"


def test_the_env_file_is_compose_and_shell_syntax():
    text = env_file_text(SANDBOX_ENV)
    for line in text.splitlines():
        name, _, quoted = line.partition("=")
        assert quoted[0] == quoted[-1] == "'"
        assert shlex.split(quoted) == [SANDBOX_ENV[name]]
    with pytest.raises(ValueError, match="cannot be written"):
        env_file_text({"X": "it's"})


def test_options_split_at_the_double_dash():
    args, sandbox = parse_args(
        ["--public-host=h", "--env-out=/e", "--kubeconfig-out=/k", "--", "--seed=x"]
    )
    assert (args.public_host, args.env_out, args.aws_port, args.k8s_port) == (
        "h",
        Path("/e"),
        4566,
        6443,
    )
    assert sandbox == ["--seed=x"]
    with pytest.raises(SystemExit):
        parse_args(["--public-host=h", "--env-out=/e", "--kubeconfig-out=/k", "--", "--env-out=/x"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow  # a sandbox in a subprocess: not in make check
def test_airflow_reaches_the_sandbox_through_the_gateway(tmp_path, monkeypatch):
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
    from kubernetes import client

    env_out, kubeconfig_out = tmp_path / "config" / "sandbox.env", tmp_path / "config" / "kube.yaml"
    command = [
        sys.executable,
        "-m",
        "sandbox.gateway",
        "--public-host=localhost",
        "--listen=127.0.0.1",
        f"--aws-port={_free_port()}",
        f"--k8s-port={_free_port()}",
        f"--control-port={_free_port()}",
        f"--env-out={env_out}",
        f"--kubeconfig-out={kubeconfig_out}",
        "--",
        "--seed=ue-demo",
        f"--config-out={tmp_path / 'config' / 'installation.yaml'}",
        f"--root={tmp_path / 'root'}",
    ]
    (tmp_path / "config").mkdir()  # a mount in the stack
    log = (tmp_path / "gateway.log").open("w")
    gateway = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not env_out.exists():
            assert gateway.poll() is None, (tmp_path / "gateway.log").read_text()
            assert time.monotonic() < deadline, "the gateway wrote no settings in 60 s"
            time.sleep(0.1)
        for line in env_out.read_text().splitlines():
            name, _, value = line.partition("=")
            monkeypatch.setenv(name, shlex.split(value)[0])
        assert os.environ["UE_BACKUP_CONFIG_FILE"].endswith("installation.yaml")
        assert "127.0.0.1" not in os.environ[AWS_CONN]

        efs = AwsBaseHook(client_type="efs").conn
        assert len(efs.describe_file_systems()["FileSystems"]) >= 1
        s3 = S3Hook()
        bucket = s3.conn.list_buckets()["Buckets"][0]["Name"]
        s3.load_string("through the gateway", key="gw.txt", bucket_name=bucket, replace=True)
        assert s3.read_key("gw.txt", bucket) == "through the gateway"

        api = client.CustomObjectsApi(KubernetesHook().get_conn())
        ecds = api.list_namespaced_custom_object(
            "mz.digitalroute.com", "v1alpha1", "uepe", "ecdeployments"
        )
        assert ecds["items"], "the seeded ECDs are not visible through the gateway"

        control = ControlClient(os.environ[CONTROL_URL])
        assert control.url.startswith("http://localhost:")
        assert ("s3", "PutObject") in {(m.service, m.operation) for m in control.mutations()}
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(timeout=30)
        log.close()
    assert gateway.returncode == 0, (tmp_path / "gateway.log").read_text()
