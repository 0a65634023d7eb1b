"""A restore plan as people read it: in a task's log, in the approval, on the run's page.

One set of rows (``plan_rows``), two renderings: plain text for logs and the
demo (``plan_table``), Markdown for what the Airflow UI shows (the in-place
approval's body, the run's summary: ``plan_markdown``). ``in_place_changes``
says exactly what an in-place restore will replace and where it keeps what
was live, in the names the restore will use, so the person approving it
reads the same names the run's report will later give.

Pure: it reads the plan (``planning.plan_restore``) and the run's settings
as the ``validate`` and ``plan`` tasks return them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ue_backup.restore_scripts import ASIDE_PREFIX
from ue_backup.switch_over import replaced_name

HEADER = ("component", "restored from", "point in time")


def _disk_source(disk: Mapping[str, Any]) -> str:
    """The EFS row's source: a recovery point, or a DataSync set's folder."""
    if disk.get("kind") == "datasync":
        return f"DataSync copy {disk.get('file_system_id')}:{disk.get('folder')}"
    return str(disk.get("recovery_point_arn"))


def plan_rows(plan: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """One row per restored component: what it is restored from, and its point in time."""
    database = plan["database"]
    source = {
        "snapshot": f"snapshot {database.get('snapshot_id')}",
        "point_in_time": f"point-in-time restore at {database.get('restore_time')}",
        "derby": "Derby, inside the EFS backup",
    }[database["kind"]]
    rows = [
        ("database", source, str(database["time"])),
        ("efs", _disk_source(plan["disk"]), str(plan["disk"]["time"])),
    ]
    if plan.get("memorydb"):
        rows.append(("memorydb", plan["memorydb"]["snapshot_name"], str(plan["memorydb"]["time"])))
    if plan.get("velero"):
        rows.append(("kubernetes", f"velero {plan['velero']['backup_name']}", ""))
    return rows


def plan_notes(plan: Mapping[str, Any]) -> list[str]:
    """What goes under the table: the set, its verdict, the warning, every set passed over."""
    notes = [
        f"backup set: {plan.get('backup_set') or '(none: mixed points)'}",
        f"verified by its backup: {'yes' if plan.get('verified', True) else 'NO'}",
    ]
    if plan.get("warning"):
        notes.append(str(plan["warning"]))
    # every newer set passed over, and why (not verified, no older database point, ...)
    for rejected in plan.get("rejected", []):
        of_set = f" (set {rejected['backup_set']})" if rejected.get("backup_set") else ""
        notes.append(f"passed over {rejected['time']}{of_set}: {rejected['reason']}")
    return notes


def plan_table(plan: Mapping[str, Any]) -> str:
    """The plan as a short text table: component, source, point in time."""
    rows = [HEADER, *plan_rows(plan)]
    widths = [max(len(str(r[i])) for r in rows) for i in range(3)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join([*lines, *plan_notes(plan)])


def _cell(text: str) -> str:
    """A Markdown table cell: a pipe in a value would split the row."""
    return text.replace("|", "\\|") or " "


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table; a pipe inside a value is escaped (it would split the row)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(str(c)) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def plan_markdown(plan: Mapping[str, Any]) -> str:
    """The plan as a Markdown table, with its notes as a list below it."""
    notes = [f"- {note}" for note in plan_notes(plan)]
    return "\n".join([markdown_table(HEADER, plan_rows(plan)), "", *notes])


def in_place_changes(settings: Mapping[str, Any], planned: Mapping[str, Any]) -> list[str]:
    """What an in-place restore replaces, and where it keeps what was live.

    ``settings``: the ``validate`` task's return value (``RestoreRunSettings``);
    ``planned``: the ``plan`` task's (``RestorePlanResult``).
    """
    rid = settings["restore_id"]
    changes = [
        f"the workflows of namespace {settings['namespace']} are suspended first, and resumed "
        "only once the restored data is in place and checked"
    ]
    if planned.get("switch_over_database") and settings.get("rds_instance"):
        live = settings["rds_instance"]
        changes.append(
            f"database: the live instance {live} is renamed {replaced_name(live, rid)} (kept, "
            f"not deleted), and the restored instance {settings['rds_target']} takes the name "
            f"{live}"
        )
    elif planned.get("restore_database"):
        changes.append(
            "database: Derby's files come back with the EFS tree (its platform is stopped "
            "until the tree is placed)"
        )
    if planned.get("restore_efs"):
        changes.append(
            f"EFS: everything at the root of {settings['efs_file_system_id']} moves into "
            f"{ASIDE_PREFIX}{rid}/ (kept for you to delete), and the restored tree takes its "
            "place, without temporary files"
        )
    if planned.get("restore_memorydb"):
        changes.append(
            f"MemoryDB: a new cluster {settings['memorydb_target']} is created (a cluster cannot "
            f"be renamed): the live {settings.get('memorydb_cluster')} is left as it is, and the "
            "workflows stay off until the platform points at the new one"
        )
    if planned.get("restore_velero"):
        changes.append(
            "Kubernetes: the backup's resources are restored; resources that exist are kept "
            "as they are (existing resource policy: none)"
        )
    return changes


def approval_body(settings: Mapping[str, Any], planned: Mapping[str, Any]) -> str:
    """The in-place approval's Markdown: the plan, then exactly what will change."""
    changes = in_place_changes(settings, planned)
    return "\n".join(
        [
            f"**In-place restore of {settings['installation']}** "
            f"(restore {settings['restore_id']}). Nothing has changed yet: the live system "
            "keeps running until you approve.",
            "",
            "### The plan",
            "",
            plan_markdown(planned["plan"]),
            "",
            "### What will be replaced, and where what is live now is kept",
            "",
            *(f"- {change}" for change in changes),
            "",
            "**Approve** to restore. **Reject** ends the run with nothing changed.",
        ]
    )
