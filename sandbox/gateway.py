"""The sandbox for other containers: ``python -m sandbox.gateway [options] -- [sandbox]``.

The sandbox (``python -m sandbox``) listens on 127.0.0.1 only, on free
ports, so in the docker-compose stack the Airflow containers could not reach
it. This gateway runs it with the sandbox options given after ``--``, relays
three fixed ports on every interface of its container to the sandbox's AWS,
Kubernetes and control API (``sandbox/control.py``) ports, and writes the
connection settings that point there:

- ``--env-out``: ``AIRFLOW_CONN_AWS_DEFAULT``, ``AIRFLOW_CONN_KUBERNETES_DEFAULT``
  ``UE_SANDBOX_CONTROL_URL`` and the rest of what the sandbox prints, in
  docker compose's env-file format
  (the Airflow services list this file in ``env_file``);
- ``--kubeconfig-out``: the sandbox's kubeconfig with the public address, the
  file the Kubernetes connection names.

Both files depend only on the options, never on the sandbox's random ports,
so they stay valid across restarts. It is a relay and nothing more: the
sandbox itself is unchanged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

AWS_CONN = "AIRFLOW_CONN_AWS_DEFAULT"
K8S_CONN = "AIRFLOW_CONN_KUBERNETES_DEFAULT"
CONTROL_URL = "UE_SANDBOX_CONTROL_URL"  # sandbox.control.ENV_NAME, without importing the sandbox
SANDBOX_START_TIMEOUT = 120.0


# --- the connection settings ----------------------------------------------------------------


def parse_env_lines(text: str) -> dict[str, str]:
    """The ``export NAME=value`` lines the sandbox writes with ``--env-out``."""
    env: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if words[:1] == ["export"]:
            words = words[1:]
        if len(words) == 1 and "=" in words[0]:
            name, value = words[0].split("=", 1)
            env[name] = value
    return env


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def public_env(
    env: dict[str, str],
    host: str,
    aws_port: int,
    kubeconfig: Path,
    control_port: int | None = None,
) -> dict[str, str]:
    """The sandbox's settings, pointed at ``host`` (the gateway) instead of 127.0.0.1."""
    aws = json.loads(env[AWS_CONN])
    aws["extra"]["endpoint_url"] = f"http://{host}:{aws_port}"
    # The provider's AssumeRole goes to STS's own endpoint: through the gateway as well.
    for service in aws["extra"].get("service_config", {}).values():
        if "endpoint_url" in service:
            service["endpoint_url"] = aws["extra"]["endpoint_url"]
    if not _is_ip(host):
        # botocore addresses S3 buckets as <bucket>.<host> for a named endpoint,
        # a name no container can resolve: keep the path style used for 127.0.0.1.
        config = aws["extra"].setdefault("config_kwargs", {})
        config.setdefault("s3", {})["addressing_style"] = "path"
    k8s = json.loads(env[K8S_CONN])
    k8s["extra"]["kube_config_path"] = str(kubeconfig)
    public = {**env, AWS_CONN: json.dumps(aws), K8S_CONN: json.dumps(k8s)}
    if CONTROL_URL in env and control_port is not None:
        public[CONTROL_URL] = f"http://{host}:{control_port}"
    return public


def public_kubeconfig(text: str, host: str, port: int) -> str:
    """The sandbox's kubeconfig with every cluster's server at ``http://host:port``."""
    config = yaml.safe_load(text)
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"http://{host}:{port}"
    return yaml.safe_dump(config, sort_keys=False)


def env_file_text(env: dict[str, str]) -> str:
    """Docker compose's env-file format (also valid shell): ``NAME='value'`` per line."""
    lines = []
    for name, value in env.items():
        if "'" in value or "\n" in value:
            raise ValueError(f"{name}: cannot be written to an env file: {value!r}")
        lines.append(f"{name}='{value}'")
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as file:
        file.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _port(url: str) -> int:
    port = urlsplit(url).port
    if port is None:
        raise ValueError(f"no port in {url!r}")
    return port


# --- the relay ------------------------------------------------------------------------------


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


async def _relay_connection(
    client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter, target_port: int
) -> None:
    try:
        target_reader, target_writer = await asyncio.open_connection("127.0.0.1", target_port)
    except OSError:
        client_writer.close()
        return
    try:
        await asyncio.gather(
            _pipe(client_reader, target_writer), _pipe(target_reader, client_writer)
        )
    finally:
        for writer in (target_writer, client_writer):
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


async def start_relay(listen: str, port: int, target_port: int) -> asyncio.Server:
    """Relay every TCP connection to ``listen:port`` to ``127.0.0.1:target_port``."""
    return await asyncio.start_server(
        lambda r, w: _relay_connection(r, w, target_port), listen, port, reuse_address=True
    )


# --- the process ----------------------------------------------------------------------------


def _wait_for_settings(path: Path, sandbox: subprocess.Popen[bytes]) -> dict[str, str]:
    deadline = time.monotonic() + SANDBOX_START_TIMEOUT
    while time.monotonic() < deadline:
        if sandbox.poll() is not None:
            raise SystemExit(f"the sandbox exited with {sandbox.returncode} before it was ready")
        if path.exists():
            env = parse_env_lines(path.read_text())
            if AWS_CONN in env and K8S_CONN in env:
                return env
        time.sleep(0.1)
    raise SystemExit(f"the sandbox wrote no connection settings in {SANDBOX_START_TIMEOUT:.0f} s")


async def _serve(
    args: argparse.Namespace, sandbox: subprocess.Popen[bytes], public: dict[str, str], ports: dict
) -> None:
    servers = [
        await start_relay(args.listen, args.aws_port, ports["aws"]),
        await start_relay(args.listen, args.k8s_port, ports["k8s"]),
    ]
    if "control" in ports:
        servers.append(await start_relay(args.listen, args.control_port, ports["control"]))
    write_atomically(args.env_out, env_file_text(public))
    print(f"gateway: AWS on {args.public_host}:{args.aws_port} -> 127.0.0.1:{ports['aws']}")
    print(f"gateway: Kubernetes on {args.public_host}:{args.k8s_port} -> 127.0.0.1:{ports['k8s']}")
    if "control" in ports:
        target = f"127.0.0.1:{ports['control']}"
        print(f"gateway: control API on {args.public_host}:{args.control_port} -> {target}")
    print(f"gateway: connection settings in {args.env_out}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    while not stop.is_set() and sandbox.poll() is None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)
    for server in servers:
        server.close()


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The gateway's options, and the sandbox's (everything after ``--``)."""
    own, sandbox_args = argv, []
    if "--" in argv:
        split = argv.index("--")
        own, sandbox_args = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--public-host", required=True, help="the name other containers use")
    parser.add_argument(
        "--listen", default="127.0.0.1", help="address to relay on (0.0.0.0 in a container)"
    )
    parser.add_argument("--aws-port", type=int, default=4566)
    parser.add_argument("--k8s-port", type=int, default=6443)
    parser.add_argument("--control-port", type=int, default=4599, help="the control API")
    parser.add_argument("--env-out", type=Path, required=True)
    parser.add_argument("--kubeconfig-out", type=Path, required=True)
    args = parser.parse_args(own)
    if any(arg.split("=")[0] == "--env-out" for arg in sandbox_args):
        parser.error("give --env-out to the gateway, not to the sandbox")
    return args, sandbox_args


def main(argv: list[str] | None = None) -> int:
    args, sandbox_args = parse_args(list(sys.argv[1:] if argv is None else argv))
    with tempfile.TemporaryDirectory(prefix="ue-sandbox-gateway-") as private:
        raw_env = Path(private) / "sandbox.env"
        command = [sys.executable, "-m", "sandbox", *sandbox_args, "--env-out", str(raw_env)]
        sandbox = subprocess.Popen(command)
        try:
            env = _wait_for_settings(raw_env, sandbox)
            aws: dict[str, Any] = json.loads(env[AWS_CONN])
            k8s: dict[str, Any] = json.loads(env[K8S_CONN])
            kubeconfig_text = Path(k8s["extra"]["kube_config_path"]).read_text()
            kubeconfig = yaml.safe_load(kubeconfig_text)
            ports = {
                "aws": _port(aws["extra"]["endpoint_url"]),
                "k8s": _port(kubeconfig["clusters"][0]["cluster"]["server"]),
            }
            if CONTROL_URL in env:
                ports["control"] = _port(env[CONTROL_URL])
            write_atomically(
                args.kubeconfig_out,
                public_kubeconfig(kubeconfig_text, args.public_host, args.k8s_port),
            )
            public = public_env(
                env, args.public_host, args.aws_port, args.kubeconfig_out, args.control_port
            )
            asyncio.run(_serve(args, sandbox, public, ports))
        finally:
            if sandbox.poll() is None:
                sandbox.terminate()
                try:
                    sandbox.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    sandbox.kill()
                    sandbox.wait()
    return sandbox.returncode if sandbox.returncode and sandbox.returncode > 0 else 0


if __name__ == "__main__":
    sys.exit(main())
