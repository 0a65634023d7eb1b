"""A ue-backup run's summary, as a tab on the run's page in the Airflow UI.

What a backup or restore run did, without opening a task log: the set and
its linked artifacts, or DRY RUN and the plan, the approval, what exists now
with its endpoints (``run_summary``). Read from the run's own records in the
metadata database (its task instances and their return values), so the web
server needs no AWS access; rendered from Markdown with raw HTML off (a
value from AWS is text, never markup).

Served by the catalog's app (``catalog_api``) at ``/runs/{dag_id}/{run_id}``;
on Airflow 3.1+ the plugin shows it as the "ue-backup summary" tab of every
run (``destination: dag_run``), and it says so when the run is not one of
ue-backup's.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

from ue_backup.run_summary import backup_summary, restore_summary
from ue_backup.ui.frame_links import out_of_frame_script

SUMMARISED = ("ue_backup", "ue_restore")


def run_states(dag_id: str, run_id: str) -> dict[str, str]:
    """Each task's state in the run (its try now), as plain strings."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.task_id, TaskInstance.state).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
            )
        ).all()
    return {task: str(getattr(state, "value", state) or "none") for task, state in rows}


def run_returns(dag_id: str, run_id: str, task_ids: Iterable[str]) -> dict[str, Any]:
    """What each of ``task_ids`` returned in the run (None where it returned nothing)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    wanted = list(task_ids)
    with create_session() as session:
        rows = session.execute(
            select(XComModel.task_id, XComModel.value).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == run_id,
                XComModel.key == "return_value",
                XComModel.task_id.in_(wanted),
            )
        ).all()
    found = {task: XComModel.deserialize_value(_Row(value)) for task, value in rows}
    return {task: found.get(task) for task in wanted}


class _Row:
    """What ``XComModel.deserialize_value`` reads: an object with ``value``."""

    def __init__(self, value: Any) -> None:
        self.value = value


def summary_markdown(dag_id: str, run_id: str) -> str:
    """The run's summary, or why there is none."""
    if dag_id not in SUMMARISED:
        return f"{dag_id} is not one of ue-backup's summarised DAGs ({', '.join(SUMMARISED)})."
    states = run_states(dag_id, run_id)
    if not states:
        return f"No run {run_id} of {dag_id}."
    if dag_id == "ue_backup":
        got = run_returns(dag_id, run_id, ("preflight", "manifest"))
        region = str((got["preflight"] or {}).get("region") or "")
        return backup_summary(got["manifest"], region, states)
    got = run_returns(dag_id, run_id, ("validate", "plan", "approve_in_place", "report"))
    return restore_summary(
        got["validate"], got["plan"], got["approve_in_place"], got["report"], states
    )


def render(markdown: str) -> str:
    """Markdown to HTML, raw HTML off, tables on (markdown-it-py, which Airflow's own
    dependencies bring: rich)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)


def page(dag_id: str, run_id: str, body_html: str, extra: Mapping[str, str] | None = None) -> str:
    """The tab's whole page: small, self-contained, no asset fetched from anywhere."""
    title = html.escape(f"{dag_id} / {run_id}")
    links = "".join(
        f' <a href="{html.escape(href)}">{html.escape(text)}</a>'
        for text, href in (extra or {}).items()
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>ue-backup summary: {title}</title><style>"
        "body{font-family:system-ui,sans-serif;margin:1rem;font-size:14px}"
        "table{border-collapse:collapse;margin:.5rem 0}"
        "td,th{border:1px solid #bbb;padding:.2rem .5rem;text-align:left;vertical-align:top}"
        "code{background:#f3f3f3;padding:0 .2rem}"
        f"</style></head><body><div data-testid='run-summary'>{body_html}</div>{links}"
        f"{out_of_frame_script()}</body></html>"
    )
