"""The plan as people read it (plan_view): the log's table, the approval's Markdown, and
what an in-place restore replaces, in the names the restore really uses."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.plugins.test_config import VALID
from tests.plugins.test_run_settings import a_plan
from ue_backup.config import parse_config
from ue_backup.plan_view import approval_body, in_place_changes, plan_markdown, plan_table
from ue_backup.run_settings import RestorePlanResult, RestoreRunSettings
from ue_backup.tasks.restore_steps import restore_names

CFG = parse_config(VALID)
PLAN = {
    **a_plan(CFG),
    "database": {"kind": "snapshot", "snapshot_id": "s|1", "time": "2026-03-01T02:00:00+00:00"},
    "disk": {"recovery_point_arn": "arn:rp:1", "time": "2026-03-01T02:00:05+00:00"},
    "memorydb": {"snapshot_name": "m1", "time": "2026-03-01T02:00:06+00:00"},
    "rejected": [{"time": "2026-03-02T02:00:00", "backup_set": "x", "reason": "not verified"}],
}


def in_place(components=None):
    names = restore_names(CFG.installation, datetime(2026, 3, 1, tzinfo=UTC))
    params = {"mode": "restore", "target": "in_place", "components": components}
    settings = RestoreRunSettings.build(CFG, names, {"type": "latest"}, params)
    planned = RestorePlanResult.build(settings, PLAN, {})
    return settings.dump(), planned.dump()


def test_the_text_and_the_markdown_tables_carry_the_same_rows_and_notes():
    text, markdown = plan_table(PLAN), plan_markdown(PLAN)
    for expected in ("snapshot s|1", "arn:rp:1", "passed over 2026-03-02T02:00:00 (set x)"):
        assert expected in text
    # a pipe inside a value is escaped, so the Markdown row keeps its three cells
    assert "| database | snapshot s\\|1 | 2026-03-01T02:00:00+00:00 |" in markdown
    assert "- passed over 2026-03-02T02:00:00 (set x): not verified" in markdown


def test_in_place_changes_name_what_is_replaced_and_where_the_live_data_is_kept():
    settings, planned = in_place(["database", "efs"])
    changes = "\n".join(in_place_changes(settings, planned))
    rid = settings["restore_id"]
    live = CFG.database.rds_instance_identifier
    assert f"the live instance {live} is renamed {live}-replaced-{rid}" in changes
    assert f"ue-backup-replaced_{rid}/" in changes
    assert "MemoryDB" not in changes  # not restored: not named


def test_the_approval_body_shows_the_plan_then_the_changes():
    settings, planned = in_place()
    body = approval_body(settings, planned)
    assert body.index("### The plan") < body.index("| efs |") < body.index("### What will")
    assert "Reject** ends the run with nothing changed" in body
