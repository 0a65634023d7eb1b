"""``make demo``: back up, then restore, a small Usage Engine installation in the sandbox.

Starts the emulated AWS and Kubernetes on 127.0.0.1, with real data stores
(PostgreSQL behind RDS, redis-server behind MemoryDB), creates an
installation (running ECDs, an EFS tree with real and temporary files, RDS,
MemoryDB, Velero) whose ECDs keep writing linked state (``sandbox.workload``:
files and keys first, then the database rows naming them) while
``ue_backup`` runs, then restores the set side by side with ``ue_restore``,
whose application checks (``verification``) query the restored database and
look for every file and key it names. ``dag.test()`` runs every task in this
process, deferred waits through their triggers. It prints what happened and
where to look. Nothing leaves this machine.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

# Realistic but short: the whole demo takes about a minute.
DURATIONS = {
    "backup_job": 4,
    "restore_job": 3,
    "rds_snapshot": 3,
    "rds_snapshot_time_fixed": 0.5,
    "rds_instance": 3,
    "memorydb_snapshot": 2,
    "memorydb_cluster": 2,
    "velero": 2,
    "ecd_drain": 1,
    "ecd_start": 0.5,
}


def banner(text: str) -> None:
    print(f"\n{'=' * 78}\n{text}\n{'=' * 78}", flush=True)


def tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def steps(tasks: dict[str, str]) -> str:
    """How many steps ran, and how many the run's settings left out."""
    skipped = sum(state == "skipped" for state in tasks.values())
    return f"{len(tasks) - skipped} steps run, {skipped} skipped"


def summary_of(run, restore_summary) -> str:
    """A ue_restore run's page summary, from what its tasks returned."""
    return restore_summary(
        run.xcom("validate"),
        run.xcom("plan"),
        run.xcom("approve_in_place"),
        run.xcom("report"),
        run.tasks,
    )


def main() -> int:
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")  # the summary is ours
    # dag.test()'s own "No tasks to run. unrunnable tasks: {...}" while a wait is pending is
    # its internal state (hundreds of characters each time), not a warning for the reader
    logging.getLogger("airflow.sdk.definitions.dag").addFilter(
        lambda record: not str(record.msg).startswith("No tasks to run")
    )
    # the in-process Execution API's test client warns of its own httpx use: not ours to fix
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    os.environ.setdefault("UE_BACKUP_RETRY_DELAY_SECONDS", "2")
    os.environ.setdefault("UE_BACKUP_POLL_SECONDS", "1")
    from sandbox.airflow_harness.dag_runner import run_dag
    from sandbox.core import Sandbox
    from sandbox.installation import NAMESPACE, seed_installation
    from sandbox.workload import VERIFICATION, Workload

    work = ROOT / ".airflow-demo"
    work.mkdir(exist_ok=True)
    sandbox = Sandbox(work / "sandbox", real_data=True).start()
    try:
        installation = seed_installation(sandbox, "ue-demo", memorydb_tls=False)
        installation.config["verification"] = VERIFICATION
        sandbox.durations.update(**DURATIONS)
        config = work / "installation.yaml"
        import yaml

        config.write_text(yaml.safe_dump(installation.config, sort_keys=False))
        os.environ.update(sandbox.connection_env())
        os.environ["UE_BACKUP_CONFIG_FILE"] = str(config)

        banner("The installation (all emulated on 127.0.0.1)")
        print(f"configuration:     {config}")
        print(f"AWS endpoint:      {sandbox.aws.endpoint_url}")
        print(f"Kubernetes:        {sandbox.k8s.url}")
        print(f"EFS {installation.file_system_id} tree:")
        efs = sandbox.aws.efs_path(installation.file_system_id)
        for path in tree(efs):
            print(f"    {path}")

        banner("ue_backup, while the ECDs write (files and keys, then the rows naming them)")
        from sandbox.airflow_harness.dag_runner import load_shaped_dags
        from ue_backup.run_summary import backup_summary, restore_summary

        # the DAGs as a deployment with this configuration file parses them: only its steps
        dags = load_shaped_dags(config)
        workload = Workload(sandbox, installation).start()
        started = time.monotonic()
        try:
            backup = run_dag("ue_backup", {"reason": "make demo"}, dags=dags)
        finally:
            workload.stop()
        print(
            f"ue_backup finished {backup.state} in {time.monotonic() - started:.1f} s, "
            f"{steps(backup.tasks)}"
        )
        print(f"the ECDs wrote {workload.rows_written} linked rows, files and keys meanwhile\n")
        region = installation.config["region"]
        print(backup_summary(backup.xcom("manifest"), region, backup.tasks))
        if backup.state != "success":
            return 1
        enabled = {
            e["metadata"]["name"]: e["spec"]["enabled"]
            for e in sandbox.k8s.list("ecdeployments", NAMESPACE)
        }
        print(f"\nECDs after the backup (all running again): {enabled}")
        print("(the same summary is on the run's page in the Airflow UI: README, Backup catalog)")

        banner("ue_restore (plan, then a side-by-side restore of the latest set)")
        plan = run_dag("ue_restore", {"mode": "plan"}, dags=dags)
        print(summary_of(plan, restore_summary))
        restore = run_dag("ue_restore", {"mode": "restore"}, dags=dags)
        print(
            f"ue_restore (mode restore, side by side) finished {restore.state}, "
            f"{steps(restore.tasks)}\n"
        )
        print(summary_of(restore, restore_summary))
        if restore.state != "success":
            return 1
        report = restore.xcom("report")
        restored = sandbox.aws.efs_path(report["restored"]["efs_file_system_id"])
        files = tree(restored)
        print(f"restored EFS tree (no temporary file): {len(files)} files, e.g. {files[:5]}")
        from ue_backup.app_checks import results_table

        checks = report["verification"]
        print(f"\napplication checks on the restored system: {checks['status']}")
        print(results_table(checks["results"]))
        banner(f"Done. Configuration, sandbox files and Airflow's database: {work}")
        return 0
    finally:
        sandbox.stop()


if __name__ == "__main__":
    sys.exit(main())
