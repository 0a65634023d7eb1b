"""The backup catalog as one server-rendered HTML page, and the "restore..." page.

No JavaScript build and nothing fetched from elsewhere: plain HTML with a
little CSS, a GET form for the "plan a restore" panel (the page reloads with
the plan), every value escaped. Links into the Airflow UI are relative to the
plugin's mount point and open in the top window (the page itself is shown in
an iframe by the UI's navigation entry). Elements carry ``data-testid``s so
browser tests select them without depending on the layout.

Rendering only: what to show comes from ``catalog`` (pure) and the caller
(``catalog_api``: who may restore, the plan).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urlencode

from ue_backup.catalog import (
    COPIES,
    HOME,
    PROTECTED,
    REQUEST_TYPES,
    RESTORE_DAG,
    age,
    is_stale,
)
from ue_backup.manifest import human_size
from ue_backup.ui.frame_links import out_of_frame_script

# The Airflow UI's pages, relative to the plugin's mount point (one level below the root).
UI_ROOT = "../"

STYLE = """
body{font-family:system-ui,sans-serif;margin:1rem;color:#1a202c;font-size:14px}
h1{font-size:1.4rem;margin:0 0 .3rem} h2{font-size:1.1rem;margin:1.2rem 0 .4rem}
table{border-collapse:collapse;margin:.3rem 0} td,th{border:1px solid #cbd5e0;padding:.25rem .5rem;
vertical-align:top;text-align:left} th{background:#edf2f7}
.ok{color:#22543d;font-weight:600} .bad{color:#9b2c2c;font-weight:600} .muted{color:#718096}
.stale,.problems{background:#fff5f5;border:1px solid #feb2b2;padding:.4rem .6rem;margin:.4rem 0}
.panel{border:1px solid #cbd5e0;padding:.6rem;margin:.4rem 0;background:#f7fafc}
form label{margin-right:.8rem} pre{background:#edf2f7;padding:.5rem;overflow:auto}
a.action{font-weight:600}
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value))


def _yes_no(value: bool | None, yes: str = "yes", no: str = "no") -> str:
    if value is None:
        return '<span class="muted">unknown</span>'
    return f'<span class="ok">{yes}</span>' if value else f'<span class="bad">{no}</span>'


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:g} min"


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>{body}"
        f"{out_of_frame_script()}</body></html>"
    )


def restore_href(conf: Mapping[str, Any]) -> str:
    """The "restore..." action's link: this plugin's restore page for the choice."""
    return "restore?" + urlencode({k: _query_value(v) for k, v in conf.items() if v is not None})


def _query_value(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def empty_page(now: datetime) -> str:
    """No catalog yet: the first refresh has not run (or never succeeded)."""
    body = (
        "<h1>Backup catalog</h1>"
        '<p data-testid="catalog-missing" class="stale">No catalog yet: it is written by '
        f'<a target="_top" href="{UI_ROOT}dags/ue_backup_rpo">ue_backup_rpo</a>\'s '
        "<code>refresh_catalog</code> task every 5 minutes. Check that the DAG is unpaused "
        f"and its runs succeed. (Now: {_e(now.isoformat())}.)</p>"
    )
    return _page("Backup catalog", body)


def catalog_page(
    catalog: Mapping[str, Any],
    now: datetime,
    *,
    may_restore: bool,
    planned: Mapping[str, Any] | None,
    choice_error: str | None,
    query: Mapping[str, Any],
) -> str:
    """The whole page: status, RPO, the plan panel, every set."""
    parts = [
        f"<h1>Backup catalog: {_e(catalog['installation'])}</h1>",
        _as_of(catalog, now),
        _problems(catalog),
        _rpo(catalog),
        _last_drill(catalog.get("last_drill")),
        _plan_panel(catalog, planned, choice_error, query, may_restore),
        _sets(catalog, may_restore),
    ]
    return _page(f"Backup catalog: {catalog['installation']}", "".join(parts))


def _as_of(catalog: Mapping[str, Any], now: datetime) -> str:
    minutes = age(catalog, now).total_seconds() / 60
    line = (
        f'<p>As of <time data-testid="catalog-as-of" datetime="{_e(catalog["as_of"])}">'
        f"{_e(catalog['as_of'])}</time> ({minutes:.0f} minutes ago), listed by "
        f'<a target="_top" href="{UI_ROOT}dags/ue_backup_rpo">ue_backup_rpo</a> '
        f"run {_e(catalog.get('run_id'))}. Home region {_e(catalog['home_region'])}"
        + (f", copy region {_e(catalog['copy_region'])}" if catalog.get("copy_region") else "")
        + (
            f", protected copies in {_e(catalog['protected_region'])}"
            if catalog.get("protected_region")
            else ""
        )
        + ".</p>"
    )
    if is_stale(catalog, now):
        line += (
            '<p class="stale" data-testid="catalog-stale">STALE: this catalog has not been '
            f"refreshed for {minutes:.0f} minutes. Check ue_backup_rpo's refresh_catalog task "
            "(paused DAG, failing runs, or a stopped scheduler).</p>"
        )
    return line


def _problems(catalog: Mapping[str, Any]) -> str:
    if not catalog.get("problems"):
        return ""
    items = "".join(f"<li>{_e(p)}</li>" for p in catalog["problems"])
    return (
        '<div class="problems" data-testid="catalog-problems"><strong>Incomplete:</strong> '
        "parts of this catalog could not be listed (the refresh task failed):"
        f"<ul>{items}</ul></div>"
    )


def _rpo(catalog: Mapping[str, Any]) -> str:
    rows = []
    for r in catalog["rpo"]:
        if r["in_breach"] is None:
            status = '<span class="muted">no RPO target (guard off)</span>'
        elif r["in_breach"]:
            status = '<span class="bad">BREACHED</span>'
        else:
            status = '<span class="ok">met</span>'
        newest = _e(r["newest_set"]) if r["newest_set"] else _e(r.get("reason") or "none")
        rows.append(
            f'<tr data-testid="rpo-region" data-region="{_e(r["region"])}" '
            f'data-in-breach="{_e(str(r["in_breach"]).lower())}">'
            f"<td>{_e(r['region'])} ({_e(r['role'])})</td>"
            f"<td>{newest}</td><td>{_e(r['newest'] or '-')}</td>"
            f'<td data-testid="rpo-age">{_minutes(r["age_minutes"])}</td>'
            f"<td>{_minutes(r['rpo_minutes'])}</td><td>{status}</td></tr>"
        )
    return (
        '<h2>RPO</h2><table id="rpo-status" data-testid="rpo-status"><tr><th>region</th>'
        "<th>newest restorable set</th><th>its point in time</th><th>age</th><th>RPO</th>"
        f"<th>status</th></tr>{''.join(rows)}</table>"
    )


def _drill_text(drill: Mapping[str, Any] | None) -> str:
    if not drill:
        return '<span class="muted">none</span>'
    outcome = drill.get("outcome")
    shown = (
        _yes_no(outcome == "passed", "passed", _e(outcome)) if outcome != "dry run" else "dry run"
    )
    rto = drill.get("rto_seconds")
    return (
        f"{shown} {_e(drill.get('finished_at'))}"
        + (f", RTO {rto:g} s" if rto is not None else "")
        + f' <span class="muted">({_e(drill.get("drill_id"))})</span>'
    )


def _last_drill(drill: Mapping[str, Any] | None) -> str:
    of_set = f" of {_e(drill['backup_set'])}" if drill and drill.get("backup_set") else ""
    return f'<p data-testid="last-drill">Last restore drill{of_set}: {_drill_text(drill)}</p>'


# The panel's choices in words (as ue_restore's form shows them).
REQUEST_LABELS = {
    "latest": "the newest restorable set",
    "backup_set": "a named backup set",
    "point_in_time": "the newest consistent point before a time",
}


def _options(values: list[tuple[str, str]], selected: str) -> str:
    return "".join(
        f'<option value="{_e(v)}"{" selected" if v == selected else ""}>{_e(label)}</option>'
        for v, label in values
    )


def _plan_panel(
    catalog: Mapping[str, Any],
    planned: Mapping[str, Any] | None,
    choice_error: str | None,
    query: Mapping[str, Any],
    may_restore: bool,
) -> str:
    kind = query.get("request_type") or "latest"
    sources = [(HOME, f"the home region {catalog['home_region']}")]
    if catalog.get("copy_region"):
        sources.append((COPIES, f"the copies in {catalog['copy_region']}"))
    if catalog.get("protected_region"):
        sources.append((PROTECTED, "the protected copies"))
    sets = [("", "(choose a set)")] + [(s["id"], s["id"]) for s in catalog["sets"]]
    yes_no = [("true", "yes"), ("false", "no")]
    form = (
        '<form method="get" action="#plan-panel" data-testid="plan-form">'
        f'<label>What <select name="request_type" data-testid="plan-request-type">'
        f"{_options([(t, REQUEST_LABELS[t]) for t in REQUEST_TYPES], kind)}</select></label>"
        f'<label>Set <select name="backup_set" data-testid="plan-backup-set">'
        f"{_options(sets, query.get('backup_set') or '')}</select></label>"
        '<label>Target time (ISO 8601, UTC) <input name="target_time" size="26" '
        'placeholder="2026-01-31T12:00:00Z" '
        f'data-testid="plan-target-time" value="{_e(query.get("target_time") or "")}"></label>'
        f'<label>From <select name="source" data-testid="plan-source">'
        f"{_options(sources, query.get('source') or 'home')}</select></label>"
        f'<label>Point-in-time restore <select name="allow_point_in_time_restore">'
        f"{_options(yes_no, query.get('allow_point_in_time_restore') or 'true')}</select></label>"
        f'<label>Unverified sets <select name="allow_unverified">'
        f"{_options(yes_no, query.get('allow_unverified') or 'false')}</select></label>"
        '<button type="submit" data-testid="plan-submit">Plan</button></form>'
    )
    result = ""
    if choice_error:
        result = f'<p class="bad" data-testid="plan-refusal">Refused: {_e(choice_error)}</p>'
    elif planned is not None:
        result = plan_result(planned, may_restore)
    return (
        '<h2>Plan a restore</h2><div class="panel" id="plan-panel" data-testid="plan-panel">'
        "<p class=muted>The restore planner, read-only, on the listing of this catalog: what "
        f"<code>{RESTORE_DAG}</code> would restore for this choice now. Nothing is changed."
        f"</p>{form}{result}</div>"
    )


def plan_result(planned: Mapping[str, Any], may_restore: bool) -> str:
    """The planner's table (or its refusal), and the "restore..." action when allowed."""
    if "refusal" in planned:
        return (
            '<p class="bad" data-testid="plan-refusal">No consistent restore: '
            f"{_e(planned['refusal'])}</p>"
        )
    plan = planned["plan"]
    rows = "".join(
        f'<tr data-testid="plan-row" data-component="{_e(r["component"])}">'
        f"<td>{_e(r['component'])}</td><td>{_e(r['source'])}</td><td>{_e(r['time'])}</td></tr>"
        for r in planned["rows"]
    )
    lines = [
        f'<p>Backup set: <strong data-testid="plan-backup-set-chosen">'
        f"{_e(plan.get('backup_set') or '(none: mixed points)')}</strong>; verified by its "
        f"backup: {_yes_no(plan.get('verified', True))}</p>"
    ]
    if plan.get("warning"):
        lines.append(f'<p class="bad">{_e(plan["warning"])}</p>')
    passed = "".join(
        f"<li>{_e(r['time'])}"
        + (f" (set {_e(r['backup_set'])})" if r.get("backup_set") else "")
        + f": {_e(r['reason'])}</li>"
        for r in plan.get("rejected") or ()
    )
    if passed:
        lines.append(f'<p>Passed over:</p><ul data-testid="plan-passed-over">{passed}</ul>')
    action = ""
    if may_restore:
        action = (
            f'<p><a class="action" data-testid="restore-action" '
            f'href="{_e(restore_href(planned["conf"]))}">restore&hellip;</a></p>'
        )
    return (
        '<table data-testid="plan-table"><tr><th>component</th><th>restored from</th>'
        f"<th>point in time</th></tr>{rows}</table>{''.join(lines)}{action}"
    )


def _points(points: Mapping[str, Any]) -> str:
    if not points:
        return '<span class="muted">none</span>'
    return "<br>".join(
        f'<span data-component="{_e(c)}">{_e(c)}: {_e(p.get("time"))}'
        + (f" ({_e(p['state'])})" if p.get("state") else "")
        + "</span>"
        for c, p in points.items()
    )


def _restorable(verdict: Mapping[str, Any] | None) -> str:
    if verdict is None:
        return '<span class="muted">-</span>'
    if verdict["restorable"]:
        return _yes_no(True)
    return f"{_yes_no(False)}: {_e(verdict['reason'])}"


def _copies(copies: list[Mapping[str, Any]]) -> str:
    if not copies:
        return '<span class="muted">none</span>'
    return "<br>".join(
        f"{_e(c['region'])}{' (protected)' if c['protected'] else ''}: "
        f"{_e(', '.join(c['kinds']))}; restorable {_restorable(c)}"
        for c in copies
    )


def _window(window: Mapping[str, Any]) -> str:
    seconds = window.get("seconds")
    length = f"{seconds:g} s" if seconds is not None else "length unknown"
    if window.get("state") is None:
        return f'<span class="muted">{length}, verdict unknown</span>'
    return f"{length}, {_yes_no(window['intact'], _e(window['state']), _e(window['state']))}"


def _sets(catalog: Mapping[str, Any], may_restore: bool) -> str:
    rows = []
    for index, s in enumerate(catalog["sets"]):
        newest = ' id="newest-set" data-newest="true"' if index == 0 else ""
        verified = _yes_no(s["verified"]) + (f": {_e(s['reason'])}" if s.get("reason") else "")
        plan_link = "?" + urlencode({"request_type": "backup_set", "backup_set": s["id"]})
        actions = f'<a data-testid="set-plan" href="{_e(plan_link)}#plan-panel">plan</a>'
        home = s["restore"].get("home")
        if may_restore and home and home["restorable"]:
            conf = {
                "request_type": "backup_set",
                "backup_set": s["id"],
                "allow_point_in_time_restore": True,
                "allow_unverified": False,
                "mode": "restore",
                "source": "home",
            }
            actions += (
                f' <a class="action" data-testid="restore-action" '
                f'href="{_e(restore_href(conf))}">restore&hellip;</a>'
            )
        cost = s["monthly_usd"]
        rows.append(
            f'<tr data-testid="set-row" data-set-id="{_e(s["id"])}"{newest}>'
            f'<td data-testid="set-id">{_e(s["id"])}</td>'
            f'<td data-testid="set-points">{_points(s["points"])}</td>'
            f'<td data-testid="set-verified">{verified}</td>'
            f'<td data-testid="set-window">{_window(s["window"])}</td>'
            f'<td data-testid="set-restorable">{_restorable(home)}</td>'
            f"<td>{human_size(s['size_bytes'] or None)}"
            + (f" (+{s['unknown_sizes']} unknown)" if s["unknown_sizes"] else "")
            + f"</td><td>{'-' if cost is None else f'{cost:.2f}'}</td>"
            f'<td data-testid="set-copies">{_copies(s["copies"])}</td>'
            f'<td data-testid="set-drill">{_drill_text(s.get("last_drill"))}</td>'
            f"<td>{actions}</td></tr>"
        )
    if not rows:
        return '<h2>Backup sets</h2><p data-testid="no-sets">No backup set listed.</p>'
    return (
        '<h2>Backup sets (newest first)</h2><table data-testid="sets-table"><tr><th>set</th>'
        "<th>points in time</th><th>verified</th><th>cold window</th><th>restorable</th>"
        "<th>size</th><th>USD/month</th><th>copies</th><th>last drill</th><th></th></tr>"
        f"{''.join(rows)}</table>"
    )


def restore_page(planned: Mapping[str, Any] | None, conf: Mapping[str, Any]) -> str:
    """What the "restore..." action opens: the choice, its plan now, and the way to the form.

    Airflow 3.3's trigger form cannot be filled in from a link (the URL
    parameters Airflow 2 accepted are not back: apache/airflow#54800), so the
    form is opened and given this JSON in its "Advanced options", whose
    configuration editor fills every field from it. The restore plans again
    when it runs: this plan is what it would do now.
    """
    conf_json = json.dumps(dict(conf), indent=2, sort_keys=True)
    plan = plan_result(planned, may_restore=False) if planned is not None else ""
    body = (
        "<h1>Restore</h1>"
        f"<p>The choice, as <code>{RESTORE_DAG}</code>'s parameters "
        "(target and, for in place, confirm are yours to set in the form):</p>"
        f'<pre id="restore-conf" data-testid="restore-conf">{_e(conf_json)}</pre>'
        '<p><button type="button" data-testid="copy-conf" onclick="navigator.clipboard.'
        "writeText(document.getElementById('restore-conf').textContent)\">Copy</button> "
        f'then <a class="action" target="_top" data-testid="open-trigger-form" '
        f'href="{UI_ROOT}dags/{RESTORE_DAG}">open {RESTORE_DAG}</a>, press '
        "<strong>Trigger</strong>, open <strong>Advanced options</strong> and paste it into "
        "the configuration JSON: the form's fields take these values, and it checks them "
        "before the run starts.</p>"
        f"<h2>What it would restore now</h2>{plan}"
        '<p><a href="./">back to the catalog</a></p>'
    )
    return _page("Restore", body)
