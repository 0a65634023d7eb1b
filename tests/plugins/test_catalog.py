"""The backup catalog, built from inventories in the shapes AWS returns, and its plan panel.

The inventories are made with retention's builders (``tests.plugins.test_retention``:
the same raw API shapes, artifacts made by the functions the DAGs use); the
planner itself is the judge of every verdict the catalog shows. The catalog of
a real sandbox installation is checked end to end in
``tests/dags/test_backup_catalog.py``.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.plugins.test_retention import (
    COPY_REGION,
    HOME,
    ME,
    OTHER,
    T0,
    World,
    rds_copy,
    rds_raw,
    rp_raw,
    tags,
)
from ue_backup.backup_set import VERIFIED_TAG, WINDOW_TAG, BackupSet
from ue_backup.catalog import (
    STALE_AFTER,
    ChoiceError,
    build_catalog,
    is_stale,
    plan_choice,
    plan_rows,
    read_choice,
    restore_conf,
)
from ue_backup.config import PricesConfig
from ue_backup.planning import RestorePlanError, plan_restore
from ue_backup.retention_artifacts import Artifact
from ue_backup.retention_cost import list_price

PRICES = PricesConfig()
WINDOW = {"EarliestTime": T0 - timedelta(days=1), "LatestTime": T0 + timedelta(days=3)}


def set_id(day: int) -> str:
    return BackupSet.for_run(ME, T0 + timedelta(days=day)).id


def add_set(world: World, day: int, verified: str | None = "passed", window: str = "intact"):
    """One set: a database snapshot, then its EFS point; marked as its verification left it."""
    sid = set_id(day)
    start = T0 + timedelta(days=day)
    world.rds(rds_raw(f"ueb-{sid}", start, "available", tags(ME, sid)))
    point = rp_raw(f"rp-{sid}", start + timedelta(minutes=1), "COMPLETED", tags(ME, sid), 5 << 30)
    point["Tags"] = {k: v for k, v in point["Tags"].items() if k != VERIFIED_TAG}
    if verified:
        point["Tags"].update({VERIFIED_TAG: verified, WINDOW_TAG: window})
    world.rp(point)
    return sid


def copy_set(world: World, sid: str, day: int) -> None:
    """The set's copies in the copy region, as the backup makes them."""
    start = T0 + timedelta(days=day)
    world.rds(rds_copy(rds_raw(f"ueb-{sid}", start, "available", tags(ME, sid))), COPY_REGION)
    point = rp_raw(f"rpc-{sid}", start + timedelta(minutes=1), "COMPLETED", tags(ME, sid), 5 << 30)
    point["Tags"].update({WINDOW_TAG: "intact"})
    world.rp(point, COPY_REGION)


def manifest_of(sid: str, seconds: float) -> dict:
    return {
        "installation": ME,
        "backup_set": sid,
        "cold_window": {"seconds": seconds, "state": "intact", "mode": "managed"},
        "verification": {"result": "passed"},
    }


def drill(sid: str, finished: str, outcome: str = "passed", total: float | None = 612.5) -> dict:
    return {
        "drill_id": f"{ME}-drill-{finished}",
        "installation": ME,
        "backup_set": sid,
        "outcome": outcome,
        "finished_at": finished,
        "rto_seconds": {"total": total},
        "failed_steps": [],
    }


@pytest.fixture
def world():
    """Three sets of ``ue-test``: verified (copied), verified, failed verification (newest);
    another installation's snapshot in the same region."""
    world = World(memorydb=False, velero=False, window=WINDOW, copies=True)
    first = add_set(world, 0)
    copy_set(world, first, 0)
    second = add_set(world, 1)
    third = add_set(world, 2, verified="failed", window="broken")
    other = BackupSet.for_run(OTHER, T0).id
    world.rds(rds_raw(f"ueb-{other}", T0, "available", tags(OTHER, other)))
    world.manifest(ME, first)
    world.manifest(ME, second)
    return world, [first, second, third]


def listed(view: dict | None) -> dict | None:
    """A view as the listing keeps it (``inventory.list_inventory``: JSON, times as ISO text)."""
    return json.loads(json.dumps(view, default=lambda t: t.isoformat()))


def catalog_of(world: World, now=None, drills=(), manifests=(), protected=None, targets=None):
    return build_catalog(
        installation=ME,
        home_region=HOME,
        copy_region=COPY_REGION,
        protected_region=None if protected is None else HOME,
        now=now or T0 + timedelta(days=2, hours=1),
        run_id="scheduled__x",
        rpo_minutes=targets if targets is not None else {HOME: 2880, COPY_REGION: 2880},
        views={
            "home": listed(world.view),
            "copy": listed(world.copy_view),
            "protected": listed(protected),
        },
        artifacts=world.artifacts,
        manifests=manifests,
        drills=drills,
        prices=PRICES,
    )


def test_every_set_of_the_installation_newest_first_with_its_points(world):
    world, (first, second, third) = world
    catalog = catalog_of(world)
    assert [s["id"] for s in catalog["sets"]] == [third, second, first]
    newest = catalog["sets"][0]
    assert list(newest["points"]) == ["database", "efs"]
    assert newest["points"]["database"]["time"] == (T0 + timedelta(days=2)).isoformat()
    assert newest["points"]["efs"]["time"] == (T0 + timedelta(days=2, minutes=1)).isoformat()
    # JSON all the way: what the Variable holds
    assert json.loads(json.dumps(catalog)) == catalog


def test_verified_or_not_and_why_and_the_planners_verdict(world):
    world, (first, second, third) = world
    catalog = catalog_of(world)
    by_id = {s["id"]: s for s in catalog["sets"]}
    assert by_id[second]["verified"] is True
    assert by_id[second]["reason"] is None
    failed = by_id[third]
    assert failed["verified"] is False
    assert failed["reason"] == f"backup set {third} failed its verification (cold window broken)"
    assert failed["window"]["state"] == "broken"
    assert failed["window"]["intact"] is False
    # restorable or not: exactly the planner's verdict and reason
    with pytest.raises(RestorePlanError) as refused:
        plan_restore(world.view, {"type": "backup_set", "backup_set": third})
    assert failed["restore"]["home"] == {"restorable": False, "reason": str(refused.value)}
    assert by_id[second]["restore"]["home"]["restorable"] is True
    # the copies: in the copy region, the planner's verdict there
    copies = by_id[first]["copies"]
    assert copies == [
        {
            "region": COPY_REGION,
            "protected": False,
            "kinds": ["efs_recovery_point", "rds_snapshot"],
            "restorable": True,
            "reason": None,
            "point": catalog["sets"][2]["restore"]["copy"]["point"],
        }
    ]
    assert by_id[second]["copies"] == []
    assert by_id[second]["restore"]["copy"]["restorable"] is False


def test_size_and_cost_are_retentions_list_price_of_the_sets_artifacts(world):
    world, (first, _, _) = world
    catalog = catalog_of(world)
    entry = next(s for s in catalog["sets"] if s["id"] == first)
    mine = [a for a in world.artifacts if a.backup_set == first]
    assert entry["monthly_usd"] == list_price(mine, PRICES) > 0
    assert entry["size_bytes"] == sum(a.size_bytes or 0 for a in mine)
    assert entry["artifact_count"] == len(mine) == 5  # snapshot, point, both copies, manifest


def test_the_window_length_comes_from_the_manifest(world):
    world, (first, second, _) = world
    catalog = catalog_of(world, manifests=[manifest_of(second, 42.5), {"not": "a manifest"}])
    by_id = {s["id"]: s for s in catalog["sets"]}
    assert by_id[second]["window"]["seconds"] == 42.5
    assert by_id[second]["window"]["intact"] is True
    assert by_id[first]["window"] == {
        "state": "intact",
        "intact": True,
        "seconds": None,
        "mode": None,
        "start": None,
        "end": None,
    }


def test_rpo_status_per_region_as_the_guard_judges_it(world):
    world, (first, second, _) = world
    now = T0 + timedelta(days=2, hours=1)
    catalog = catalog_of(world, now=now, targets={HOME: 1440, COPY_REGION: 1440})
    home, copy = catalog["rpo"]
    # home: the failed newest set is passed over; the second set's database point (a
    # point-in-time restore one second before its EFS point) is what the age counts from
    assert (home["region"], home["role"], home["newest_set"]) == (HOME, "home", second)
    assert home["newest"] == (T0 + timedelta(days=1, seconds=59)).isoformat()
    assert home["age_minutes"] == 1499.0
    assert home["in_breach"] is True
    assert (copy["region"], copy["newest_set"], copy["in_breach"]) == (COPY_REGION, first, True)
    met = catalog_of(world, now=now, targets={HOME: 2880})["rpo"]
    assert met[0]["in_breach"] is False
    assert met[1]["rpo_minutes"] is None
    assert met[1]["in_breach"] is None


def test_the_last_drill_overall_and_of_each_set(world):
    world, (first, second, _) = world
    reports = [
        drill(first, "2026-01-02T10:00:00+00:00"),
        drill(second, "2026-01-03T10:00:00+00:00", outcome="failed", total=None),
        {**drill(second, "2026-01-03T11:00:00+00:00"), "installation": OTHER},
    ]
    catalog = catalog_of(world, drills=reports)
    assert catalog["last_drill"]["backup_set"] == second
    assert catalog["last_drill"]["outcome"] == "failed"
    by_id = {s["id"]: s for s in catalog["sets"]}
    assert by_id[first]["last_drill"]["rto_seconds"] == 612.5
    assert by_id[first]["last_drill"]["outcome"] == "passed"


def test_a_catalog_older_than_the_limit_is_stale(world):
    world, _ = world
    catalog = catalog_of(world)
    as_of = T0 + timedelta(days=2, hours=1)
    assert not is_stale(catalog, as_of + STALE_AFTER)
    assert is_stale(catalog, as_of + STALE_AFTER + timedelta(seconds=1))


def test_protected_copies_are_listed_with_the_planners_verdict_there(world):
    world, (first, second, _) = world
    point = rp_raw("locked-1", T0 + timedelta(minutes=1), "COMPLETED", tags(ME, first), 1)
    protected = {
        "database": "rds",
        "rds_snapshots": [
            {
                **rds_raw("arn:locked-db", T0, "available", tags(ME, first)),
                "TagList": [{"Key": k, "Value": v} for k, v in tags(ME, first).items()],
            }
        ],
        "rds_restore_window": None,
        "efs_recovery_points": [point],
        "memorydb_snapshots": None,
        "velero_backups": None,
    }
    catalog = catalog_of(world, protected=protected)
    by_id = {s["id"]: s for s in catalog["sets"]}
    locked = [c for c in by_id[first]["copies"] if c["protected"]]
    assert locked == [
        {
            "region": HOME,
            "protected": True,
            "kinds": ["rds_recovery_point", "efs_recovery_point"],
            "restorable": True,
            "reason": None,
            "point": T0.isoformat(),
        }
    ]
    assert by_id[second]["restore"]["protected"]["restorable"] is False


# --- the plan panel --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "request_"),
    [
        ({}, {"type": "latest"}),
        ({"request_type": "backup_set", "backup_set": "SET0"}, None),
        (
            {"request_type": "point_in_time", "target_time": "2026-01-02T00:30:00Z"},
            {"type": "point_in_time", "target_time": "2026-01-02T00:30:00+00:00"},
        ),
        (
            {"request_type": "latest", "allow_point_in_time_restore": "false"},
            {"type": "latest", "allow_point_in_time_restore": False},
        ),
        (
            {"request_type": "latest", "allow_unverified": "true"},
            {"type": "latest", "allow_unverified": True},
        ),
        ({"request_type": "latest", "source": "copy"}, "copy"),
    ],
)
def test_the_panel_plans_exactly_as_the_planner_does(world, query, request_):
    world, sets = world
    catalog = catalog_of(world)
    view = world.view
    if request_ is None:
        query = {**query, "backup_set": sets[0]}
        request_ = {"type": "backup_set", "backup_set": sets[0]}
    if request_ == "copy":
        view, request_ = world.copy_view, {"type": "latest"}
    planned = plan_choice(catalog, read_choice(query, catalog), T0 + timedelta(days=3))
    assert planned["plan"] == plan_restore(view, request_)
    assert planned["rows"] == plan_rows(planned["plan"])


def test_the_panel_says_what_the_planner_refuses_and_refuses_a_future_time(world):
    world, (_, _, third) = world
    catalog = catalog_of(world)
    now = T0 + timedelta(days=3)
    refused = plan_choice(
        catalog, read_choice({"request_type": "backup_set", "backup_set": third}, catalog), now
    )
    assert refused["refusal"].startswith(f"backup set {third} failed its verification")
    future = {"request_type": "point_in_time", "target_time": "2026-02-01T00:00:00Z"}
    planned = plan_choice(catalog, read_choice(future, catalog), now)
    assert planned["refusal"].startswith("target_time: 2026-02-01T00:00:00+00:00 is after now")
    assert "plan" not in planned


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"request_type": "everything"}, "request_type"),
        ({"request_type": "backup_set", "backup_set": "nope"}, "backup_set"),
        ({"request_type": "point_in_time", "target_time": "yesterday"}, "target_time"),
        ({"source": "moon"}, "source"),
        ({"source": "protected"}, "source"),  # no immutable section
    ],
)
def test_a_bad_choice_is_refused_naming_its_field(world, query, field):
    world, _ = world
    with pytest.raises(ChoiceError, match=f"^{field}: "):
        read_choice(query, catalog_of(world))


def test_the_restore_action_fills_in_ue_restores_own_params(world):
    from ue_backup.catalog import RESTORE_PARAMS
    from ue_backup.tasks.restore_steps import RESTORE_PARAMS as UE_RESTORE_PARAMS

    world, sets = world
    catalog = catalog_of(world)
    choice = read_choice(
        {"request_type": "backup_set", "backup_set": sets[1], "source": "copy"}, catalog
    )
    conf = restore_conf(choice, catalog)
    assert conf == {
        "request_type": "backup_set",
        "backup_set": sets[1],
        "allow_point_in_time_restore": True,
        "allow_unverified": False,
        "mode": "restore",
        "source": "home",
        "source_region": COPY_REGION,
    }
    assert set(conf) <= set(RESTORE_PARAMS) <= set(UE_RESTORE_PARAMS)


def test_artifacts_of_others_never_make_a_set(world):
    world, sets = world
    catalog = catalog_of(world)
    assert {s["id"] for s in catalog["sets"]} == set(sets)
    stray = Artifact("rds_snapshot", "rds", "x", HOME, None, ME, f"{OTHER}-20260101t000000z")
    catalog = build_catalog(
        **{
            **dict(
                installation=ME,
                home_region=HOME,
                copy_region=None,
                protected_region=None,
                now=T0,
                run_id=None,
                rpo_minutes={},
                views={"home": listed(world.view)},
                manifests=[],
                drills=[],
                prices=PRICES,
            ),
            "artifacts": [stray],
        }
    )
    assert catalog["sets"] == []
