"""Every kind of Job ue-backup starts, as the code builds it: for the hardening tests.

The bodies come from the real hook methods (``KubeJobHook.run_job``,
``create_job_with_secret_env``) with the real scripts, sent to a fake batch
client that keeps them: what would reach the API server, nothing rebuilt by hand.
"""

from __future__ import annotations

from typing import Any

from ue_backup.app_checks import render_script
from ue_backup.config import JobsConfig, VerificationConfig
from ue_backup.datasync_retention import remove_folders_script
from ue_backup.hooks.kube_job import MOUNT_PATH, KubeJobHook
from ue_backup.restore_scripts import (
    check_staged_tree,
    discard_staged_tree,
    place_restored_tree,
    place_staged_tree,
    stage_restored_tree,
)
from ue_backup.tasks.drill_steps import tree_check_script

NS = "uepe"
DRILL_NS = "uepe-drill"
RID = "r20260301t020000z"
VERIFICATION = VerificationConfig.model_validate(
    {
        "sql_checks": [
            {"name": "accounts", "query": "select count(*) from accounts", "expect": "rows"}
        ],
        "reference_checks": {
            "efs_paths_query": "select path from files",
            "redis_keys_query": "select key from sessions",
        },
    }
)


class _Created:
    """Stands for the created Job the API server answers with."""

    class metadata:  # the client's attribute name
        uid = "00000000-0000-0000-0000-000000000000"


class _Batch:
    """A BatchV1Api that keeps each Job body it is asked to create."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def create_namespaced_job(self, namespace: str, body: dict[str, Any]) -> _Created:
        assert body["metadata"]["namespace"] == namespace
        self.bodies.append(body)
        return _Created()


def _hook() -> tuple[KubeJobHook, _Batch]:
    hook = KubeJobHook.__new__(KubeJobHook)  # no connection: only the batch client is used
    batch = _Batch()
    hook.__dict__["batch_v1_client"] = batch
    return hook, batch


def built_jobs(settings: JobsConfig | None = None) -> dict[str, dict[str, Any]]:
    """Each kind of Job by a name saying what it is, built with ``settings``."""
    settings = settings or JobsConfig()
    hook, batch = _hook()
    kinds: list[str] = []
    efs_jobs = {
        # ue_restore: preparation, commit and clean-up on the (live or restored) file system
        "restore-stage": (NS, stage_restored_tree(MOUNT_PATH, RID, "2026-03-01T02-00-00")),
        "restore-check": (NS, check_staged_tree(MOUNT_PATH, RID)),
        "restore-place": (NS, place_staged_tree(MOUNT_PATH, RID)),
        "restore-discard": (NS, discard_staged_tree(MOUNT_PATH, RID, "2026-03-01T02-00-00")),
        # ue_restore_drill: the restored copy put in place and checked, in the drill namespace
        "drill-place": (DRILL_NS, place_restored_tree(MOUNT_PATH, RID)),
        "drill-check": (DRILL_NS, tree_check_script(MOUNT_PATH)),
        # ue_backup_retention: a DataSync set's folder removed from the target file system
        "retention-remove": (
            NS,
            remove_folders_script(
                MOUNT_PATH, ["/ue-backup/ue-test-20260301t020000z"], "/ue-backup", "ue-test"
            ),
        ),
    }
    for name, (namespace, script) in efs_jobs.items():
        hook.run_job(namespace, name, script=script, claim=f"{name}-efs", settings=settings)
        kinds.append(name)
    # the application checks: with the restored EFS mounted, and with no EFS check (no volume)
    no_efs = VERIFICATION.model_copy(
        update={
            "reference_checks": VERIFICATION.reference_checks.model_copy(
                update={"efs_paths_query": None}
            )
        }
    )
    for name, claim, checks in (
        ("app-checks", "app-checks-efs", VERIFICATION),
        ("app-checks-no-efs", None, no_efs),
    ):
        hook.create_job_with_secret_env(
            NS,
            name,
            image=checks.image,
            script=render_script(checks, efs_mount=MOUNT_PATH if claim else None),
            claim=claim,
            env={"PGHOST": "restored.example", "PGDATABASE": "ue"},
            secret_keys=["PGPASSWORD"],
            settings=settings,
            ttl_seconds=600,
        )
        kinds.append(name)
    return dict(zip(kinds, batch.bodies, strict=True))
