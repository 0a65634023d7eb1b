"""Start the sandbox standalone: ``python -m sandbox [--seed NAME] [--durations ...]``.

Prints the endpoints and the Airflow connection settings (``--env-out``: also
to a file), optionally seeds a small installation and writes its configuration
file, then serves until interrupted, with the control API
(``sandbox/control.py``: faults, durations, logs, reset) at
``UE_SANDBOX_CONTROL_URL``. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import threading
from pathlib import Path

import yaml

from sandbox.aws.cloudwatch import AlarmClock
from sandbox.control import ENV_NAME, ControlServer
from sandbox.core import Sandbox
from sandbox.installation import seed_installation


def _write_whole(path: Path, text: str) -> None:
    """Readers that poll for the file (the gateway, tests) never see half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.replace(partial, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="where the sandbox keeps its files")
    parser.add_argument("--seed", metavar="NAME", help="create a small installation NAME")
    parser.add_argument("--config-out", type=Path, help="write the seeded configuration here")
    parser.add_argument("--env-out", type=Path, help="write the connection settings here")
    parser.add_argument(
        "--durations",
        default="{}",
        help='JSON of durations in seconds, e.g. \'{"backup_job": 30, "rds_snapshot": 20}\'',
    )
    parser.add_argument(
        "--alarm-seconds",
        type=float,
        default=60.0,
        help="evaluate CloudWatch alarms this often, with the real time (0: never)",
    )
    args = parser.parse_args(argv)

    sandbox = Sandbox(args.root).start()
    alarms = AlarmClock(args.alarm_seconds).start() if args.alarm_seconds > 0 else None
    sandbox.durations.update(**json.loads(args.durations))
    control = ControlServer(
        sandbox, {"aws": sandbox.aws.endpoint_url, "kubernetes": sandbox.k8s.url}
    ).start()
    env = sandbox.connection_env()
    if args.seed:
        installation = seed_installation(sandbox, args.seed)
        if args.config_out:
            args.config_out.write_text(yaml.safe_dump(installation.config, sort_keys=False))
            env["UE_BACKUP_CONFIG_FILE"] = str(args.config_out.resolve())
        print(f"seeded installation {args.seed}: EFS {installation.file_system_id}")
    env[ENV_NAME] = control.url
    lines = [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
    if args.env_out:
        _write_whole(args.env_out, "\n".join(lines) + "\n")
        print(f"connection settings in {args.env_out}")
    print(f"AWS endpoint:        {sandbox.aws.endpoint_url}")
    print(f"Kubernetes endpoint: {sandbox.k8s.url} (kubeconfig {sandbox.k8s.kubeconfig_path})")
    print(f"Control API:         {control.url} (faults, durations, logs, reset)")
    print("Airflow connection settings:")
    print("\n".join(lines), flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    control.stop()
    if alarms is not None:
        alarms.stop()
    sandbox.stop()


if __name__ == "__main__":
    main()
