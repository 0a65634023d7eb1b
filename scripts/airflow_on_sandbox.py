"""``make airflow``: a real Airflow on the sandbox, for trying the DAGs in the UI by hand.

The deployment the deployment and browser tests use (``sandbox.airflow_harness.stack``:
PostgreSQL, the sandbox with a seeded installation, api-server, scheduler,
dag-processor and triggerer with ``ue_backup`` and ``ue_restore`` unpaused), with
real logins, the sandbox's control API, and every setting a second shell needs
written to one file. Prints the URL and the admin's password (and the file
Airflow generated it into), then stays up until Ctrl-C. Everything listens on
127.0.0.1 only; the state lives as long as the command (the database and the
sandbox are new each time; the passwords are kept in the Airflow home).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import threading
from pathlib import Path

from sandbox.airflow_harness.stack import ROOT, deployment
from sandbox.control import ENV_NAME, ControlServer

# The simple auth manager's users: an admin who may do everything, a viewer who may look.
USERS = {"admin": "admin", "viewer": "viewer"}
# Sensors and retries at the demo's pace (see "Tuning for tests and demos" in the README).
PACE = {"UE_BACKUP_POLL_SECONDS": "2", "UE_BACKUP_RETRY_DELAY_SECONDS": "5"}


def shell_settings(env: dict[str, str]) -> str:
    """What the components run with, beyond this shell's own environment, as exports.

    ``source`` it to use the ``airflow`` CLI, boto3 or the control API against the stack.
    """
    changed = {name: value for name, value in env.items() if os.environ.get(name) != value}
    changed["PATH"] = f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}"
    return "".join(
        f"export {name}={shlex.quote(value)}\n" for name, value in sorted(changed.items())
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT / ".airflow-local")
    parser.add_argument("--installation", default="ue-demo", help="the seeded installation's name")
    args = parser.parse_args(argv)

    root = args.root.resolve()
    shutil.rmtree(root / "sandbox", ignore_errors=True)  # the last run's emulated resources
    root.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    print(f"starting PostgreSQL, the sandbox and Airflow in {root} ...", flush=True)
    with deployment(root, args.installation, {}, PACE, users=USERS) as (stack, sandbox, _):
        endpoints = {"aws": sandbox.aws.endpoint_url, "kubernetes": sandbox.k8s.url}
        control = ControlServer(sandbox, endpoints).start()
        try:
            env_file = root / "airflow.env"
            env_file.write_text(shell_settings({**stack.env, ENV_NAME: control.url}))
            print(
                f"\nAirflow UI:   {stack.url}\n"
                f"  log in as admin, password {stack.password('admin')}\n"
                f"  (every user's password is in {stack.passwords_file};"
                " 'viewer' may only look)\n"
                f"Installation: {args.installation}, its configuration in"
                f" {root / 'installation.yaml'}\n"
                f"Sandbox:      AWS {endpoints['aws']}, Kubernetes {endpoints['kubernetes']},"
                f" control API {control.url}\n"
                f"Shell:        source {env_file}   # the airflow CLI, boto3, curl against this\n"
                f"Logs:         {stack.home}/<component>.log, task logs in {stack.home}/logs\n"
                "Stop with Ctrl-C.",
                flush=True,
            )
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            signal.signal(signal.SIGINT, lambda *_: stop.set())
            stop.wait()
            print("stopping ...", flush=True)
        finally:
            control.stop()


if __name__ == "__main__":
    main()
