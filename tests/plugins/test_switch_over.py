"""The switch-over's next move, from the three instances' states (RDS renames asynchronously)."""

from __future__ import annotations

import pytest

from ue_backup.switch_over import Instance, next_step

LIVE, ASIDE, RESTORED = "ue-db", "ue-db-replaced-r1", "r1-db"
UP = Instance("available")


def seen(live=None, aside=None, restored=None):
    return {LIVE: live, ASIDE: aside, RESTORED: restored}


@pytest.mark.parametrize(
    ("states", "kind", "old", "new"),
    [
        # the whole sequence, as RDS shows it
        (seen(UP, None, UP), "rename", LIVE, ASIDE),
        (seen(Instance("renaming", ASIDE), None, UP), "wait", None, None),
        (seen(None, UP, UP), "rename", RESTORED, LIVE),
        (seen(None, UP, Instance("renaming", LIVE)), "wait", None, None),
        (seen(UP, UP, None), "done", None, None),
        # renaming without PendingModifiedValues, or pending while still available: not yet
        (seen(Instance("renaming"), None, UP), "wait", None, None),
        (seen(None, UP, Instance("available", LIVE)), "wait", None, None),
        # nothing starts on an instance that is not available
        (seen(UP, None, Instance("backing-up")), "wait", None, None),
        (seen(Instance("modifying"), None, UP), "wait", None, None),
        (seen(None, UP, Instance("modifying")), "wait", None, None),
        (seen(Instance("rebooting"), UP, None), "wait", None, None),
        # states this restore cannot have made
        (seen(Instance("renaming", "elsewhere"), None, UP), "stuck", None, None),
        (seen(UP, None, None), "stuck", None, None),
        (seen(None, None, UP), "stuck", None, None),
        (seen(UP, UP, UP), "stuck", None, None),
        (seen(), "stuck", None, None),
    ],
)
def test_next_step(states, kind, old, new):
    step = next_step(LIVE, ASIDE, RESTORED, states)
    assert (step.kind, step.old, step.new) == (kind, old, new), step.why


def test_an_instance_is_read_from_describe_db_instances():
    described = {
        "DBInstanceStatus": "renaming",
        "PendingModifiedValues": {"DBInstanceIdentifier": LIVE},
    }
    assert Instance.of(described) == Instance("renaming", LIVE)
    assert Instance.of({"DBInstanceStatus": "available", "PendingModifiedValues": {}}) == UP
