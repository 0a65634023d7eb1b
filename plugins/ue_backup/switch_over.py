"""The database switch-over of an in-place restore, decided from what RDS says now.

Two renames put the restored instance in the live one's place: the live
instance to ``<live>-replaced-<restore id>`` (the aside name), then the
restored one to the live name. RDS renames asynchronously: right after the
call the old id is ``renaming`` (``PendingModifiedValues.DBInstanceIdentifier``
the new one) and the new id answers ``DBInstanceNotFound``, for minutes. So no
step here trusts existence alone: ``next_step`` reads the three ids' states and
says what to do now (rename, wait, done, or stop because the states make no
sense), and a retry, or the check after a rename, simply asks again.
Pure: ``operators.rds_switch_over.RdsSwitchOverOperator`` does the calls and
``triggers.rds.RdsSwitchOverTrigger`` waits between them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ue_backup.names import RDS_INSTANCE_MAX, fit

# How long one attempt waits for its renames before it gives up (a retry reads the states again
# and goes on); the task's execution_timeout (``SWITCH_OVER_TIMEOUT``) is a little longer.
SWITCH_OVER_MINUTES = 30
SWITCH_OVER_TIMEOUT = timedelta(minutes=SWITCH_OVER_MINUTES + 5)
SWITCH_OVER_POLL_SECONDS = 10.0  # UE_BACKUP_POLL_SECONDS in tests (triggers.waits.poll_interval)

AVAILABLE = "available"
RENAMING = "renaming"


def replaced_name(live: str, rid: str) -> str:
    """The name the live RDS instance is kept under once an in-place restore replaced it."""
    return fit(f"{live}-replaced-{rid}", RDS_INSTANCE_MAX)


@dataclass(frozen=True)
class Instance:
    """What ``DescribeDBInstances`` says of one id that exists."""

    status: str
    renaming_to: str | None = None  # PendingModifiedValues.DBInstanceIdentifier

    @classmethod
    def of(cls, described: Mapping[str, Any]) -> Instance:
        pending = described.get("PendingModifiedValues") or {}
        return cls(described.get("DBInstanceStatus", ""), pending.get("DBInstanceIdentifier"))

    @property
    def in_rename(self) -> bool:
        return self.status == RENAMING or self.renaming_to is not None


@dataclass(frozen=True)
class Step:
    """What to do now: ``rename`` (``old`` to ``new``), ``wait``, ``done`` or ``stuck``."""

    kind: str
    why: str
    old: str | None = None
    new: str | None = None


Seen = Mapping[str, Instance | None]  # id: its state, None when RDS does not know it


def next_step(live: str, aside: str, restored: str, seen: Seen) -> Step:
    """The next move of the switch-over, from the three ids' states (None: not found)."""
    now, kept, new = seen.get(live), seen.get(aside), seen.get(restored)
    expected = {live: aside, restored: live}
    for name, instance in ((live, now), (restored, new), (aside, kept)):
        if instance is not None and instance.in_rename:
            target = instance.renaming_to
            if target is not None and target != expected.get(name):
                return Step("stuck", f"{name} is being renamed to {target}, not by this restore")
            return Step("wait", f"{name} is {instance.status}, renaming to {target or '?'}")
    if now is not None and kept is not None and new is None:
        if now.status == AVAILABLE:
            return Step("done", f"{live} is the restored instance; the live one is now {aside}")
        return Step("wait", f"{live} (renamed) is {now.status}")
    if now is not None and kept is None and new is not None:
        if now.status == AVAILABLE and new.status == AVAILABLE:
            return Step("rename", f"setting {live} aside", live, aside)
        return Step("wait", f"{live} is {now.status}, {restored} is {new.status}")
    if now is None and kept is not None and new is not None:
        if new.status == AVAILABLE:
            return Step("rename", f"the restored {restored} takes the live name", restored, live)
        return Step("wait", f"{restored} is {new.status}")
    return Step("stuck", f"unexpected instances: {describe(seen)}")


def describe(seen: Seen) -> str:
    """The ids and their states, for a message (``absent`` where RDS does not know one)."""

    def state(instance: Instance | None) -> str:
        if instance is None:
            return "absent"
        return instance.status + (f" to {instance.renaming_to}" if instance.renaming_to else "")

    return ", ".join(f"{name}: {state(instance)}" for name, instance in seen.items())
