"""What a run did, in a few lines of Markdown, for its page in the Airflow UI.

During an incident the answers must not be one task log deep: the backup
set a run made (its id, verdict, artifacts and their console links, the
cold window), or the restore a run planned or made (DRY RUN when it only
planned, the plan table, who approved it, what exists now with its
endpoints and console links, what is left to do). Built from what the run's
tasks returned (their XComs), so the web server that shows it
(``ue_backup_ui``, a tab on the run's page) needs no AWS access.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ue_backup.console_paths import console_url
from ue_backup.manifest import human_size
from ue_backup.plan_view import HEADER, markdown_table, plan_notes, plan_rows

FAILED = ("failed", "upstream_failed")


def link(text: str, url: str | None) -> str:
    """A Markdown link, or the text alone when there is no page for it."""
    return f"[{text}]({url})" if url else text


def artifact_url(kind: str, artifact: Mapping[str, Any], region: str) -> str | None:
    """The console page of one manifest artifact (a copy in its own region)."""
    where = str(artifact.get("region") or region)
    if kind.startswith("rds_snapshot") and artifact.get("id"):
        return console_url("rds_snapshot", where, snapshot_id=str(artifact["id"]))
    if kind.startswith("efs_recovery_point") and artifact.get("arn") and artifact.get("vault"):
        return console_url(
            "recovery_point",
            where,
            vault_name=str(artifact["vault"]),
            recovery_point_arn=str(artifact["arn"]),
        )
    if kind.startswith("memorydb_snapshot") and artifact.get("id"):
        return console_url("memorydb_snapshot", where, snapshot_name=str(artifact["id"]))
    return None


def failed_steps(states: Mapping[str, str]) -> list[str]:
    return sorted(task for task, state in states.items() if state in FAILED)


def backup_summary(
    manifest: Mapping[str, Any] | None, region: str, states: Mapping[str, str]
) -> str:
    """A backup run: its set, verdict, artifacts (linked), cold window, failed steps."""
    failed = failed_steps(states)
    if not manifest:
        lines = ["## No backup set was written by this run"]
        if failed:
            lines += ["", f"Failed steps: {', '.join(failed)} (their logs say why)."]
        return "\n".join(lines)
    verification = manifest.get("verification") or {}
    verdict = str(verification.get("result") or "unknown").upper()
    lines = [
        f"## Backup set `{manifest['backup_set']}`: {verdict}",
        "",
        f"Restore it with `ue_restore`: request type *A named backup set*, backup set "
        f"`{manifest['backup_set']}`.",
        "",
    ]
    rows = []
    for kind, artifact in (manifest.get("artifacts") or {}).items():
        if not artifact:
            continue
        cost = artifact.get("monthly_cost_usd")
        rows.append(
            (
                kind,
                link(str(artifact.get("id") or ""), artifact_url(kind, artifact, region)),
                str(artifact.get("time") or ""),
                str(artifact.get("state") or ""),
                human_size(artifact.get("size_bytes")),
                "-" if cost is None else f"{cost:.2f}",
            )
        )
    lines.append(markdown_table(("artifact", "id", "time", "state", "size", "USD/month"), rows))
    window = manifest.get("cold_window")
    if window:
        lines += [
            "",
            f"Cold window: {window.get('state')}, {window.get('seconds')} s "
            f"({window.get('start')} to {window.get('end')}).",
        ]
    failed_checks = [c for c in verification.get("checks", []) if not c.get("ok")]
    if failed_checks:
        lines += ["", "Failed checks:", *(f"- {c['check']}: {c['detail']}" for c in failed_checks)]
    location = manifest.get("location")
    if location:
        bucket, _, key = str(location).removeprefix("s3://").partition("/")
        url = console_url("s3_object", region, bucket=bucket, key=key)
        lines += ["", f"Manifest: {link(str(location), url)}"]
    if failed:
        lines += ["", f"Failed steps: {', '.join(failed)} (their logs say why)."]
    return "\n".join(lines)


def restored_rows(report: Mapping[str, Any], region: str) -> list[tuple[str, str, str]]:
    """What exists now: component, resource (linked), endpoint."""
    restored = report.get("restored") or {}
    endpoints = report.get("endpoints") or {}
    rows = []
    if restored.get("database"):
        name = str(restored["database"])
        url = console_url("rds_instance", region, instance=name)
        rows.append(("database", link(name, url), endpoints.get("database", "")))
    if restored.get("efs_file_system_id"):
        fs = str(restored["efs_file_system_id"])
        url = console_url("efs_file_system", region, file_system_id=fs)
        rows.append(("efs", link(fs, url), endpoints.get("efs", "")))
    if restored.get("memorydb_cluster"):
        name = str(restored["memorydb_cluster"])
        url = console_url("memorydb_cluster", region, cluster=name)
        rows.append(("memorydb", link(name, url), endpoints.get("memorydb", "")))
    if restored.get("velero_restore"):
        name = str(restored["velero_restore"])
        rows.append(("kubernetes", f"Velero restore `{name}`", f"`velero restore describe {name}`"))
    return rows


def source_url(component: str, plan: Mapping[str, Any], region: str) -> str | None:
    """The console page of what a plan row restores from (None: a point-in-time restore,
    Derby, Velero: no single resource to show)."""
    database, disk, memorydb = (
        plan.get("database") or {},
        plan.get("disk") or {},
        plan.get("memorydb") or {},
    )
    if component == "database" and database.get("kind") == "snapshot":
        return console_url("rds_snapshot", region, snapshot_id=str(database.get("snapshot_id")))
    if component == "efs" and disk.get("kind") == "aws_backup" and disk.get("backup_vault_name"):
        return console_url(
            "recovery_point",
            region,
            vault_name=str(disk["backup_vault_name"]),
            recovery_point_arn=str(disk["recovery_point_arn"]),
        )
    if component == "efs" and disk.get("kind") == "datasync" and disk.get("task_arn"):
        task_id = str(disk["task_arn"]).rsplit("/", 1)[-1]
        return console_url("datasync_task", region, task_id=task_id)
    if component == "memorydb" and memorydb.get("snapshot_name"):
        return console_url(
            "memorydb_snapshot", region, snapshot_name=str(memorydb["snapshot_name"])
        )
    return None


def linked_plan(plan: Mapping[str, Any], region: str) -> str:
    """The plan table with each source linked to its console page, and its notes."""
    rows = [
        (component, link(source, source_url(component, plan, region)), time)
        for component, source, time in plan_rows(plan)
    ]
    notes = [f"- {note}" for note in plan_notes(plan)]
    return "\n".join([markdown_table(HEADER, rows), "", *notes])


def approval_line(approval: Mapping[str, Any] | None) -> str | None:
    if not approval:
        return None
    how = approval.get("approval")
    if how == "approved":
        return f"Approved by {approval.get('by')} at {approval.get('at')}."
    if how == "confirmed":
        return "Approved ahead: `confirm` named the installation."
    return None


def restore_summary(
    settings: Mapping[str, Any] | None,
    planned: Mapping[str, Any] | None,
    approval: Mapping[str, Any] | None,
    report: Mapping[str, Any] | None,
    states: Mapping[str, str],
) -> str:
    """A restore run: DRY RUN or the outcome, the plan, the approval, what exists now."""
    failed = failed_steps(states)
    if not settings:
        return "## Refused before anything was planned\n\n" + (
            f"Failed steps: {', '.join(failed)} (`validate`'s log names each bad field)."
        )
    region = str(settings.get("region") or "")
    restoring = bool(settings.get("restoring"))
    waiting = states.get("approve_in_place") == "awaiting_input"
    if not restoring:
        title = "## DRY RUN: a plan only, nothing was changed"
    elif waiting:
        title = (
            f"## Restore {settings.get('restore_id')}: WAITING FOR APPROVAL (Required Actions); "
            "nothing has changed yet"
        )
    elif "approve_in_place" in failed:
        title = f"## Restore {settings.get('restore_id')}: NOT APPROVED, nothing was changed"
    elif failed:
        title = f"## Restore {settings.get('restore_id')}: FAILED at {', '.join(failed)}"
    elif report:
        title = f"## Restore {settings.get('restore_id')}: done ({settings.get('target')})"
    else:
        title = f"## Restore {settings.get('restore_id')}: in progress ({settings.get('target')})"
    lines = [title, ""]
    if planned:
        lines += ["### The plan", "", linked_plan(planned["plan"], region), ""]
    else:
        lines += ["No plan: `plan` refused (its log says why).", ""]
    approved = approval_line(approval)
    if approved:
        lines += [approved, ""]
    if report and restoring:
        lines += [
            "### What exists now",
            "",
            markdown_table(("component", "resource", "endpoint"), restored_rows(report, region)),
            "",
        ]
        steps: Sequence[str] = report.get("next_steps") or []
        if steps:
            lines += ["### Next steps", "", *(f"- {step}" for step in steps), ""]
        if report.get("location"):
            lines += [f"Report kept at `{report['location']}`.", ""]
    return "\n".join(lines).rstrip() + "\n"
