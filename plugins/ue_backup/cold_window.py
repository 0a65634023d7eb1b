"""The cold window proven, not assumed: did every selected ECD stay stopped while the copies ran?

A backup set is consistent only if no workflow wrote to EFS or MemoryDB while
they were copied. The DAG switches the ECDs off (or checks that the platform
did), but someone may switch one back on in the middle of an EFS job, add an
ECD to the selection, or the platform's own window may end too early. The
window is therefore recorded when it opens (``mark``) and judged when the
copies have completed, before anything resumes (``judge``).

Why ``metadata.generation``: Kubernetes increments it on every change to an
object's spec and never on metadata or status, so an ECD that was switched on
and off again between two reads, too quickly for any poll to see, still shows
a new generation. The ``uid`` tells a deleted and re-created ECD from the one
recorded. Pods still running at the end are named too.

Pure: the hook reads the ECDs, this module decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ue_backup.kube_names import is_enabled

# How a set's window ended, as its artifacts' ``ue-backup:window`` tag says (backup_set).
INTACT, BROKEN, NO_WINDOW = "intact", "broken", "none"
UNPROVEN = "unproven"  # the window's close was not (or no longer) judged


def mark(ecds: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """What the window's start knows of each selected ECD: uid, generation, switch."""
    return {
        ecd["metadata"]["name"]: {
            "uid": ecd["metadata"].get("uid"),
            "generation": ecd["metadata"].get("generation"),
            "enabled": is_enabled(ecd),
        }
        for ecd in ecds
    }


def last_change(ecd: Mapping[str, Any]) -> str | None:
    """The newest ``managedFields`` time of an ECD: when its last write happened, if known."""
    times = [f.get("time") for f in ecd["metadata"].get("managedFields") or () if f.get("time")]
    return max(times) if times else None


def judge(
    opened: Mapping[str, Any],
    ecds_now: Iterable[Mapping[str, Any]],
    running: Mapping[str, list[str]],
    closed_at: datetime,
    until: datetime | None = None,
) -> dict[str, Any]:
    """The window's verdict: ``{"state": intact|broken, "problems": [...], ...}``.

    ``opened`` is the record made when the window opened (``{"start", "ecds":
    mark(...)}``); ``ecds_now`` the selection read again once every copy has
    completed, ``running`` its ECDs that still have pods, ``until`` the end of
    the platform's window in external mode.
    """
    start = opened.get("start") or opened.get("window_start")
    between = f"between {start} and {closed_at.isoformat()}"
    before = opened.get("ecds") or {}
    now = {ecd["metadata"]["name"]: ecd for ecd in ecds_now}
    problems = []
    for name in sorted(set(before) - set(now)):
        problems.append(f"ECD {name} vanished from the selection {between}")
    for name in sorted(set(now) - set(before)):
        problems.append(f"ECD {name} joined the selection {between} and was never stopped")
    for name in sorted(set(before) & set(now)):
        was, ecd = before[name], now[name]
        if was.get("enabled") and opened.get("mode") != "external":
            # ours are switched off before the record is made; the platform's own
            # suspension (external mode) may stop pods without touching the switch
            problems.append(f"ECD {name} was enabled when the window opened ({start})")
        if was.get("uid") and ecd["metadata"].get("uid") != was["uid"]:
            problems.append(f"ECD {name} was deleted and created again {between}")
            continue
        if ecd["metadata"].get("generation") != was.get("generation"):
            on = is_enabled(ecd)
            moment = last_change(ecd) or between
            what = "is enabled now" if on else "is disabled again now"
            problems.append(
                f"ECD {name} was changed by someone else during the window (generation "
                f"{was.get('generation')} -> {ecd['metadata'].get('generation')}, last write "
                f"{moment}) and {what}: its workflows may have written during the copies"
            )
    for name, pods in sorted(running.items()):
        problems.append(
            f"ECD {name} had pods running at {closed_at.isoformat()}, when the copies completed: "
            f"{sorted(pods)}"
        )
    if until is not None and closed_at > until:
        problems.append(
            f"the platform's suspend.until ({until.isoformat()}) passed before the copies "
            f"completed ({closed_at.isoformat()}): the workflows resumed during the copy"
        )
    return {
        "state": BROKEN if problems else INTACT,
        "problems": problems,
        "start": start,
        "closed_at": closed_at.isoformat(),
        "ecds": sorted(before),
    }
