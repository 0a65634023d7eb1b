"""What the application-level verification tests share: the checks, an oracle, a forced plan.

``VERIFICATION`` (``sandbox.workload``'s) is the configuration's ``verification``
section for the sandbox's workload schema: a few SQL checks, and reference checks
listing every EFS path and Redis key the rows name.

``oracle_at_check`` records, whenever an ``AppChecksOperator`` starts, what the
workload's own oracle (``dangling``) finds on the very system the check is pointed
at: the drill deletes its restore right after, so the oracle must look then.

``database_after_disk`` makes ``ue_restore``'s planner break rule 1 on purpose (a
test-only path): the plan it returns restores the database to the newest restorable
moment, after the disk's point, so the restored rows name files and keys the
restored disk and cache never held. The DAG harness runs every task in this
process, so the planner is replaced where ``ue_restore``'s ``plan`` task calls it.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from sandbox.workload import VERIFICATION, dangling

SAMPLE = VERIFICATION["reference_checks"]["sample"]
CHECK_NAMES = [c["name"] for c in VERIFICATION["sql_checks"]] + [
    "efs_references",
    "redis_references",
]


def claim_file_system(sandbox, namespace: str, claim: str) -> str:
    """The EFS file system behind a claim (its volume's CSI handle, ``fs_id[:path[:ap]]``)."""
    bound = sandbox.k8s.get("persistentvolumeclaims", namespace, claim)
    volume = sandbox.k8s.get("persistentvolumes", None, bound["spec"]["volumeName"])
    return volume["spec"]["csi"]["volumeHandle"].split(":", 1)[0]


def oracle_at_check(sandbox, monkeypatch) -> dict[str, dict[str, Any]]:
    """Each check task, by id, as it last entered ``execute`` (the entry that starts its Job):
    when, its target, and what ``dangling`` found there.

    ``execute`` may run more than once for one try (it defers while RDS gives a
    restored instance its managed password, and resumes in ``execute``); the
    restored system is the same each time, so the last entry stands for all.
    """
    from ue_backup.operators.app_checks import AppChecksOperator

    seen: dict[str, dict[str, Any]] = {}
    original = AppChecksOperator.execute

    def execute(self, context, *args, **kwargs):
        fs = self.file_system_id or claim_file_system(sandbox, self.namespace, self.claim)
        target = (self.db_instance_identifier, fs, self.memorydb_cluster_name)
        seen[self.task_id] = {
            "started": time.time(),
            "target": target,
            "found": dangling(sandbox, *target, region=self.region_name),
        }
        return original(self, context, *args, **kwargs)

    monkeypatch.setattr(AppChecksOperator, "execute", execute)
    return seen


def database_after_disk(monkeypatch) -> dict[str, Any]:
    """From now on ``ue_restore`` plans the database at its newest restorable moment.

    Returns the forced plan once the planner ran (empty before). The newest
    restorable moment must be well after the disk's point, or the plan would not
    break rule 1 and the test would prove nothing: that is asserted here.
    """
    from ue_backup.planning import iso, to_utc
    from ue_backup.tasks import restore_steps

    real = restore_steps.plan_restore
    forced: dict[str, Any] = {}

    def plan_restore(inventory, request):
        plan = real(inventory, request)
        latest = to_utc(inventory["rds_restore_window"]["LatestTime"])
        disk = datetime.fromisoformat(plan["disk"]["time"])
        assert latest > disk + timedelta(seconds=1), (latest, disk)
        database = {"kind": "point_in_time", "restore_time": iso(latest), "time": iso(latest)}
        forced.update(plan, database=database)
        return dict(forced)

    monkeypatch.setattr(restore_steps, "plan_restore", plan_restore)
    return forced


def check_results(summary: dict[str, Any]) -> dict[str, tuple[bool, int, int]]:
    """A check summary's results by name: (ok, count, missing)."""
    return {r["name"]: (r["ok"], r["count"], r["missing"]) for r in summary["results"]}
