"""Retention: which backup sets to keep, which to delete, and why. A pure function.

Backups cost money and never expire by themselves (RDS manual snapshots),
so ``ue_backup_retention`` deletes old sets. Deleting the wrong thing is the
one mistake a backup system must not make, so the decision is taken here,
apart from any AWS call, and tested for any inventory:

- Only artifacts of this installation are ever candidates: their tags (Velero:
  labels; manifests: their own body) name this installation and a set id
  that belongs to it. Untagged and foreign artifacts are listed as ignored.
- The newest set that ``ue_restore`` can restore, as the restore planner
  judges it (``planning.plan_restore``, rule 1 included), is never deleted,
  nor any set its plan draws on, nor the sets of the planner's ``latest``
  choice; with cross-region copies, the same holds in the copy region (the
  newest set restorable from its copies there). When no set is restorable
  at all, nothing is deleted.
- A set in use (by a restore, or named by the operator) and a set still
  being made (an artifact not yet finished) are kept.
- The newest ``keep_last`` sets, the newest ``keep_last`` restorable sets (so
  failed backups never push good ones out) and every set younger than
  ``keep_days`` days are kept, and so is every set a kept set's restore needs
  (e.g. the RDS snapshot a set without its own borrows).

Everything else is deleted: every artifact of the set, copies and manifest
included. A set is one unit: never half kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ue_backup.backup_set import BackupSet
from ue_backup.planning import RestorePlanError, iso, plan_restore, to_utc
from ue_backup.retention_artifacts import Artifact

KEEP, DELETE = "keep", "delete"
NOTHING_RESTORABLE = "no set is restorable: retention deletes nothing until one is"


def ownership_problem(artifact: Artifact, installation: str) -> str | None:
    """Why an artifact is not this installation's to delete, or None when it is."""
    if not artifact.installation:
        return "untagged: no ue-backup:installation tag"
    if artifact.installation != installation:
        return f"belongs to installation {artifact.installation!r}"
    if not artifact.backup_set:
        return "no ue-backup:backup-set tag"
    try:
        owner = BackupSet.parse(artifact.backup_set).installation
    except ValueError:
        return f"backup-set tag {artifact.backup_set!r} is not a backup set id"
    if owner != installation:
        return f"backup-set tag {artifact.backup_set!r} is a set of {owner!r}"
    return None


def referenced_sets(plan: Mapping[str, Any]) -> set[str]:
    """Every backup set whose artifacts a restore plan uses."""
    parts = [plan, plan.get("disk"), plan.get("database"), plan.get("memorydb"), plan.get("velero")]
    return {p["backup_set"] for p in parts if p and p.get("backup_set")}


@dataclass
class _Set:
    id: str
    created_at: datetime
    artifacts: list[Artifact] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    restorable: bool = False  # from the home region's artifacts
    restorable_there: bool = False  # from the copies in the copy region
    why_not: str | None = None
    needs: set[str] = field(default_factory=set)


def _judge(view: Mapping[str, Any], set_id: str) -> tuple[bool, set[str], str | None]:
    """(restorable, the other sets its plans use, why not): with and without PITR."""
    problems, needs, restorable = [], set(), False
    for pitr in (False, True):
        request = {"type": "backup_set", "backup_set": set_id}
        try:
            plan = plan_restore(view, {**request, "allow_point_in_time_restore": pitr})
        except RestorePlanError as error:
            problems.append(str(error))
            continue
        restorable = True
        needs |= referenced_sets(plan) - {set_id}
    return restorable, needs, None if restorable else problems[0]


def _latest_choice(view: Mapping[str, Any]) -> set[str]:
    """The sets ``ue_restore`` would restore for ``latest`` (with and without PITR)."""
    chosen: set[str] = set()
    for pitr in (True, False):
        try:
            chosen |= referenced_sets(
                plan_restore(view, {"type": "latest", "allow_point_in_time_restore": pitr})
            )
        except RestorePlanError:
            continue
    return chosen


def _age(now: datetime, created_at: datetime) -> str:
    return f"{(now - created_at).total_seconds() / 86400:.1f} days"


def _group(artifacts: Iterable[Artifact], installation: str) -> tuple[list[_Set], list[dict]]:
    """This installation's sets, newest first, and every other artifact with why it is not."""
    sets: dict[str, _Set] = {}
    ignored = []
    for artifact in artifacts:
        problem = ownership_problem(artifact, installation)
        if problem:
            ignored.append({"artifact": artifact.as_json(), "reason": problem})
            continue
        created = BackupSet.parse(artifact.backup_set).created_at
        sets.setdefault(artifact.backup_set, _Set(artifact.backup_set, created))
        sets[artifact.backup_set].artifacts.append(artifact)
    ordered = sorted(sets.values(), key=lambda s: (s.created_at, s.id), reverse=True)
    return ordered, ignored


def decide(
    artifacts: Iterable[Artifact],
    restore_view: Mapping[str, Any],
    *,
    installation: str,
    keep_last: int,
    keep_days: int,
    now: datetime | str,
    in_use: Mapping[str, str] | None = None,
    copy_view: Mapping[str, Any] | None = None,
    copy_region: str | None = None,
) -> dict[str, Any]:
    """Keep or delete each backup set of ``installation``, with every reason.

    ``artifacts`` are all the artifacts listed (any owner); ``restore_view``
    is what the restore planner lists (``inventory.list_inventory``), and
    ``copy_view`` what it lists in the cross-region copy region, where the
    newest set restorable from its copies is kept too (the one a lost home
    region leaves); ``in_use`` maps set ids to why they are in use. Returns
    a JSON-serialisable decision: the sets newest first, each with its
    action, reasons and artifacts, and the ignored artifacts with why.
    """
    now, in_use = to_utc(now), in_use or {}
    ordered, ignored = _group(artifacts, installation)
    for backup_set in ordered:
        backup_set.restorable, needs, backup_set.why_not = _judge(restore_view, backup_set.id)
        backup_set.needs |= needs
        if copy_view is not None:
            backup_set.restorable_there, needs, _ = _judge(copy_view, backup_set.id)
            backup_set.needs |= needs
    restorable = [s for s in ordered if s.restorable]
    there = [s for s in ordered if s.restorable_there]
    chosen: set[str] = set()
    if restorable:
        chosen = _latest_choice(restore_view)
        chosen |= _latest_choice(copy_view) if copy_view is not None else set()
    for rank, backup_set in enumerate(ordered):
        rules = (
            (backup_set.id in in_use, f"in use: {in_use.get(backup_set.id)}"),
            (backup_set in restorable[:1], "the newest restorable set"),
            (
                backup_set in there[:1],
                f"the newest set restorable from its copies in {copy_region}",
            ),
            (backup_set.id in chosen, "ue_restore's 'latest' plan uses it"),
            (rank < keep_last, f"one of the newest {keep_last} sets"),
            (
                backup_set in restorable[:keep_last],
                f"one of the newest {keep_last} restorable sets",
            ),
            (
                now - backup_set.created_at < timedelta(days=keep_days),
                f"younger than {keep_days} days ({_age(now, backup_set.created_at)})",
            ),
            (not restorable, NOTHING_RESTORABLE),
        )
        backup_set.reasons += [reason for holds, reason in rules if holds]
        unfinished = [a for a in backup_set.artifacts if a.being_made]
        if unfinished:
            backup_set.reasons.append(
                f"still being made: {unfinished[0].label} is {unfinished[0].state}"
            )
    _keep_what_kept_sets_need(ordered, {s.id: s for s in ordered})
    return {
        "installation": installation,
        "now": iso(now),
        "keep_last": keep_last,
        "keep_days": keep_days,
        "newest_restorable": restorable[0].id if restorable else None,
        "newest_restorable_from_copies": there[0].id if there else None,
        "sets": [_verdict(s, now, keep_last, keep_days) for s in ordered],
        "ignored": ignored,
    }


def _keep_what_kept_sets_need(ordered: list[_Set], sets: Mapping[str, _Set]) -> None:
    """A kept set's restore may draw on another set (a borrowed snapshot): keep that too."""
    pending = [s for s in ordered if s.reasons]
    while pending:
        backup_set = pending.pop()
        for needed in sorted(backup_set.needs):
            other = sets.get(needed)
            if other is None:
                continue
            if not other.reasons:
                pending.append(other)
            other.reasons.append(f"needed to restore {backup_set.id}")


def _verdict(backup_set: _Set, now: datetime, keep_last: int, keep_days: int) -> dict[str, Any]:
    reasons = list(dict.fromkeys(backup_set.reasons))
    if not reasons:
        reasons = [
            f"{_age(now, backup_set.created_at)} old (keep_days {keep_days}) and not among "
            f"the newest {keep_last} sets nor the newest {keep_last} restorable ones"
        ]
        if not backup_set.restorable:
            reasons.append(f"not restorable: {backup_set.why_not.splitlines()[0]}")
    return {
        "backup_set": backup_set.id,
        "created_at": iso(backup_set.created_at),
        "action": KEEP if backup_set.reasons else DELETE,
        "reasons": reasons,
        "restorable": backup_set.restorable,
        "restorable_from_copies": backup_set.restorable_there,
        "needs": sorted(backup_set.needs),
        "artifacts": [a.as_json() for a in backup_set.artifacts],
    }


def to_delete(decision: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The sets the decision deletes, oldest first."""
    return [s for s in reversed(decision["sets"]) if s["action"] == DELETE]
