"""The trigger forms of ue_backup and ue_restore: what each field means, and what it refuses.

The Airflow UI builds a DAG's trigger form from its params' JSON schema:
``section`` groups fields, ``values_display`` gives a value a readable label,
``description`` is the help under a field, an ``array`` with ``examples``
becomes a multi-select. The API server checks every submitted value against
the schema before a run is created, so what the schema refuses (an unknown
component, a ``confirm`` that is not the installation's name) is refused in
the form, with nothing started. ``validate``/``preflight`` check the same
again at run time, for runs triggered with a configuration the parser did
not see (kept in the Variable) and for every other way in (REST, CLI).

Built when the DAG file is parsed; ``installation`` is the configuration
file's installation name when there is one (None with the Variable: the
form then cannot know the name, and the run's ``validate`` checks it).
"""

from __future__ import annotations

import re
from typing import Any

from airflow.sdk import Param

from ue_backup.backup_set import COMPONENTS
from ue_backup.locked_inventory import SOURCES
from ue_backup.recorded_network import NETWORKS

WHAT = "What to restore"
HOW = "Where and how"
DANGER = "Danger zone: in place"

COMPONENT_LABELS = {
    "database": "Database (RDS, or Derby with the EFS tree)",
    "efs": "EFS disk data",
    "memorydb": "MemoryDB aggregation data",
    "velero": "Kubernetes resources (Velero)",
}
SOURCE_LABELS = {
    "home": "The installation's own backups",
    "immutable": "The protected copies (after an attack)",
}
SET_ID_FORMAT = "<installation>-<YYYYMMDD>t<HHMMSS>z, for example ue-prod-20261207t020000z"


def _components(description: str, section: str | None = None, **schema: Any) -> Param:
    """The components, as a multi-select of the valid ones (empty: all)."""
    extra = {"section": section, **schema} if section else schema
    return Param(
        None,
        type=["null", "array"],
        items={"type": "string", "enum": list(COMPONENTS)},
        examples=list(COMPONENTS),
        values_display=COMPONENT_LABELS,
        uniqueItems=True,
        title="Components",
        description=description,
        **extra,
    )


def backup_params() -> dict[str, Param]:
    """``ue_backup``'s form: both fields optional, so Trigger is never greyed out."""
    return {
        "components": _components(
            "What to back up; EFS is always part of a set. Empty: everything the configuration "
            "names.",
            contains={"const": "efs"},  # a chosen list without EFS is refused by the form
        ),
        "reason": Param(
            None,
            type=["null", "string"],
            maxLength=500,
            title="Reason (optional)",
            description="Why this backup is taken, for the log and the manifest (at most 500 "
            "characters).",
        ),
    }


def confirm_param(installation: str | None) -> Param:
    """``confirm``: empty, or exactly the installation's name (checked by the form when the
    configuration file gives the name at parse time)."""
    name = f" ({installation})" if installation else ""
    schema: dict[str, Any] = {}
    if installation:
        # empty too: a script may send "" for "no approval ahead" (the UI sends null)
        schema["pattern"] = f"^(?:{re.escape(installation)})?$"
    return Param(
        None,
        type=["null", "string"],
        title=f"Approve ahead: the installation's name{name}",
        description=(
            "Only for target in_place. Empty: the run stops after the plan and waits for a person "
            "to approve it in the run's Required Actions (Airflow 3.1+). Typed: "
            f"exactly{name or ' the installation name'} approves it ahead, for scripts (and "
            "on Airflow 3.0, where it is the only way). Any other text is refused."
        ),
        section=DANGER,
        **schema,
    )


def restore_params(installation: str | None) -> dict[str, Param]:
    """``ue_restore``'s form, in three sections: what, where and how, the danger zone."""
    return {
        "request_type": Param(
            "latest",
            enum=["latest", "backup_set", "point_in_time"],
            values_display={
                "latest": "The newest restorable set",
                "backup_set": "A named backup set",
                "point_in_time": "The newest consistent point before a time",
            },
            title="What to restore",
            description=(
                "Every choice obeys the rule that the database is older than the disk data, "
                "so the database never refers to data that did not exist yet."
            ),
            section=WHAT,
        ),
        "backup_set": Param(
            None,
            type=["null", "string"],
            title="Backup set id (for 'A named backup set')",
            description=(
                f"Format {SET_ID_FORMAT}. Find one in the Backup catalog (Browse menu), or in "
                "a ue_backup run's manifest task."
            ),
            section=WHAT,
        ),
        "target_time": Param(
            None,
            type=["null", "string"],
            format="date-time",
            title="Target time (for 'before a time')",
            description=(
                "The restore takes the newest consistent point at or before this time. Empty: "
                "the run's logical date (a backfill run restores to its own date)."
            ),
            section=WHAT,
        ),
        "allow_point_in_time_restore": Param(
            True,
            type="boolean",
            title="Allow RDS point-in-time restore",
            description=(
                "On: for 'before a time', the database may be restored from RDS's continuous "
                "backups to just before the disk point, closer to the target than a snapshot. "
                "Off: snapshots only."
            ),
            section=WHAT,
        ),
        "allow_unverified": Param(
            False,
            type="boolean",
            title="Allow an unverified backup set",
            description=(
                "Off: only sets their backup verified (artifacts complete, rule 1, cold window "
                "intact). On: the newest set may be one whose run failed; the plan says so."
            ),
            section=WHAT,
        ),
        "components": _components(
            "What to restore. Empty: everything the set holds.", section=WHAT
        ),
        "mode": Param(
            "plan",
            enum=["plan", "restore"],
            values_display={
                "plan": "Plan only (a dry run: nothing changes)",
                "restore": "Restore",
            },
            title="Mode",
            description="Plan shows what a restore would take and changes nothing.",
            section=HOW,
        ),
        "target": Param(
            "side_by_side",
            enum=["side_by_side", "in_place"],
            values_display={
                "side_by_side": "Side by side: new resources, the live system untouched",
                "in_place": "In place: replace the live resources (needs approval)",
            },
            title="Target",
            description=(
                "Side by side creates new resources named after the restore. In place replaces "
                "the live ones after an approval, keeping what was live aside."
            ),
            section=HOW,
        ),
        "source": Param(
            "home",
            enum=list(SOURCES),
            values_display=SOURCE_LABELS,
            title="Restore from",
            description=(
                "The protected copies (config: immutable) restore the database, EFS and "
                "MemoryDB side by side in the home region, after an attack on the "
                "installation's account."
            ),
            section=HOW,
        ),
        "network": Param(
            "recorded",
            enum=list(NETWORKS),
            values_display={
                "recorded": "The network the backup set recorded",
                "by_hand": "Default network / mount targets by hand",
            },
            title="Network of what replaces a deleted resource",
            description=(
                "Only with the protected copies, for a live instance, file system or cluster "
                "that is gone. The recorded network is refused by the plan when a piece of it "
                "is gone; 'by hand' is for when it is gone for good (EC2 ids cannot be "
                "recreated)."
            ),
            section=HOW,
        ),
        "source_region": Param(
            None,
            type=["null", "string"],
            title="Restore from region",
            description=(
                "Empty: the home region. The cross_region copy region plans from the copies "
                "there and restores there, side by side (disaster recovery)."
            ),
            section=HOW,
        ),
        "confirm": confirm_param(installation),
    }
