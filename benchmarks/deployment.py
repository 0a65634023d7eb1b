"""Benchmarks on a real deployment: the cold window, worker slots, restore time.

Starts what ``make itest`` starts (PostgreSQL, the sandbox, api-server,
scheduler, dag-processor, triggerer) with the sandbox's jobs taking
realistic times, runs one backup and one side-by-side restore through the
REST API, and derives each figure as a ratio of two durations measured in
that same run.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from sandbox.airflow_harness.stack import BACKUP_FORM, RESTORE_FORM, AirflowStack, deployment
from sandbox.core import Sandbox

DURATIONS = {
    "backup_job": 30,
    "rds_snapshot": 20,
    "rds_snapshot_time_fixed": 0.5,
    "memorydb_snapshot": 15,
    "velero": 10,
    "restore_job": 30,
    "rds_instance": 20,
    "memorydb_cluster": 15,
    "ecd_drain": 1,
}


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def worker_seconds(log: Path) -> float:
    """Seconds a task held a worker slot: its log's span minus the time between its processes.

    Each time a task runs in a worker its log opens with "Pre Execute"; a
    deferred task's process ends after "Pausing task as DEFERRED" and a new
    one starts when the triggerer's event resumes it. The gaps before each
    later "Pre Execute" are the deferred time, when no slot was held.
    """
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    times = [_time(e["timestamp"]) for e in entries]
    held = (times[-1] - times[0]).total_seconds()
    for i in range(1, len(entries)):
        if "Pre Execute" in str(entries[i].get("event", "")):
            held -= (times[i] - times[i - 1]).total_seconds()
    return held


def timeline(stack: AirflowStack, dag_id: str, run: dict[str, Any]) -> list[list[Any]]:
    """Each task that ran: [task, queued, started, ended], seconds after the run started.

    Where a run's wall time goes: the gap between one task's end and the next
    one's start is the scheduler's and the executor's, not the work's.
    """
    origin = _time(run["start_date"])

    def offset(value: str | None) -> float | None:
        return round((_time(value) - origin).total_seconds(), 1) if value else None

    rows = [
        [
            ti["task_id"],
            offset(ti.get("queued_when")),
            offset(ti["start_date"]),
            offset(ti["end_date"]),
        ]
        for ti in stack.task_instances(dag_id, run["dag_run_id"])
        if ti.get("start_date")
    ]
    return sorted(rows, key=lambda row: row[2])


def run_wall_seconds(run: dict[str, Any]) -> float:
    return (_time(run["end_date"]) - _time(run["start_date"])).total_seconds()


# The two deployments measured, one after the other in the same run. The sandbox's jobs
# take 30 s where real ones take minutes, so the waits' check interval is scaled down
# with them (UE_BACKUP_POLL_SECONDS; production checks the critical path every 5 s).
CONDITIONS = {
    # Airflow's defaults: the scheduler sleeps up to 1 s whenever a loop found nothing to do.
    "airflow defaults": {"UE_BACKUP_POLL_SECONDS": "2"},
    # What the README recommends for a deployment that runs ue-backup: a scheduler that
    # looks again after 0.25 s, so each task follows the one before within a fraction of
    # a second; waits checking at the 30 s job's equivalent of 5 s on a 5-minute job.
    "low latency": {
        "UE_BACKUP_POLL_SECONDS": "0.5",
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.25",
    },
}


def run() -> list[dict[str, Any]]:
    results = []
    for condition, env in CONDITIONS.items():
        root = Path(tempfile.mkdtemp(prefix="ue-backup-bench-"))
        with deployment(root, "ue-bench", DURATIONS, env) as parts:
            stack, sandbox, _ = parts
            figures = [*measure_backup(stack, sandbox), measure_restore(stack, sandbox)]
        results += [{**f, "name": f"{f['name']} ({condition})", "settings": env} for f in figures]
    return results


def measure_backup(stack: AirflowStack, sandbox: Sandbox) -> list[dict[str, Any]]:
    run_id = stack.trigger("ue_backup", {**BACKUP_FORM, "reason": "benchmark"})
    run = stack.wait_run("ue_backup", run_id, timeout=600)
    if run["state"] != "success":
        raise RuntimeError(f"benchmark backup failed: {stack.task_states('ue_backup', run_id)}")
    manifest = stack.xcom("ue_backup", run_id, "manifest")
    job_id = manifest["artifacts"]["efs_recovery_point"]["backup_job_id"]
    job = sandbox.client("backup").describe_backup_job(BackupJobId=job_id)
    efs_job = (job["CompletionDate"] - job["CreationDate"]).total_seconds()
    window = manifest["cold_window"]["seconds"]
    logs = stack.home / "logs" / "dag_id=ue_backup" / f"run_id={run_id}"
    waits = {
        folder.name.removeprefix("task_id="): worker_seconds(folder / "attempt=1.log")
        for folder in logs.glob("task_id=wait_*")
        if (folder / "attempt=1.log").exists()
    }
    wall = run_wall_seconds(run)
    return [
        {
            "name": "cold window / EFS job duration",
            "target": "<= 1.15 (sequential order: about 2.5)",
            "cold_window_seconds": round(window, 1),
            "efs_job_seconds": round(efs_job, 1),
            "ratio": round(window / efs_job, 2),
        },
        {
            "name": "worker-slot seconds in waits / run wall time",
            "target": "<= 0.10",
            "wait_worker_seconds": round(sum(waits.values()), 1),
            "per_wait": {k: round(v, 1) for k, v in sorted(waits.items())},
            "run_wall_seconds": round(wall, 1),
            "ratio": round(sum(waits.values()) / wall, 3),
            "timeline": timeline(stack, "ue_backup", run),
        },
    ]


def measure_restore(stack: AirflowStack, sandbox: Sandbox) -> dict[str, Any]:
    run_id = stack.trigger("ue_restore", {**RESTORE_FORM, "mode": "restore"})
    run = stack.wait_run("ue_restore", run_id, timeout=600)
    if run["state"] != "success":
        raise RuntimeError(f"benchmark restore failed: {stack.task_states('ue_restore', run_id)}")
    job_id = stack.xcom("ue_restore", run_id, "restore_efs")["job_id"]
    job = sandbox.client("backup").describe_restore_job(RestoreJobId=job_id)
    singles = {
        "efs_restore_job": (job["CompletionDate"] - job["CreationDate"]).total_seconds(),
        "rds_instance": DURATIONS["rds_instance"],
        "memorydb_cluster": DURATIONS["memorydb_cluster"],
    }
    slowest = max(singles.values())
    wall = run_wall_seconds(run)
    return {
        "name": "restore wall time / slowest single restore",
        "target": "<= 1.2",
        "restore_wall_seconds": round(wall, 1),
        "single_restores_seconds": {k: round(v, 1) for k, v in singles.items()},
        "ratio": round(wall / slowest, 2),
        "timeline": timeline(stack, "ue_restore", run),
    }
