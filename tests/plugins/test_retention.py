"""The retention policy, for any inventory: what it must never delete and what it must keep.

Inventories are generated in the shapes AWS and Velero return (good sets,
failed ones, sets still being made, rule-1 violations, copies in another
region, untagged artifacts and other installations' artifacts in the same
places), turned into artifacts by the same functions the DAG uses, and
judged with the restore planner itself.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ue_backup.backup_set import VERIFIED_TAG, BackupSet
from ue_backup.config import PricesConfig
from ue_backup.manifest import GB
from ue_backup.planning import RestorePlanError, plan_restore
from ue_backup.retention import (
    DELETE,
    KEEP,
    NOTHING_RESTORABLE,
    decide,
    ownership_problem,
    referenced_sets,
    to_delete,
)
from ue_backup.retention_artifacts import (
    Artifact,
    manifest,
    memorydb_snapshot,
    rds_snapshot,
    recovery_point,
    velero_backup,
)
from ue_backup.retention_cost import component_costs, plan_table

ME, OTHER = "ue-test", "ue-other"
HOME, COPY_REGION = "eu-west-1", "eu-central-1"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
VAULT, COPY_VAULT, BUCKET = "ue-test-vault", "ue-test-dr", "ue-test-manifests"


def tags(installation: str | None, backup_set: str | None) -> dict[str, str]:
    out = {}
    if installation:
        out["ue-backup:installation"] = installation
    if backup_set:
        out["ue-backup:backup-set"] = backup_set
    return out


def rds_raw(name, when, status, tagged, size_gb=20):
    return {
        "DBSnapshotIdentifier": name,
        "DBInstanceIdentifier": "ue-test-db",
        "SnapshotCreateTime": when if status != "creating" else None,
        "Status": status,
        "SnapshotType": "manual",
        "AllocatedStorage": size_gb,
        "TagList": [{"Key": k, "Value": v} for k, v in tagged.items()],
    }


def rp_raw(name, when, status, tagged, size, vault=VAULT):
    return {
        "RecoveryPointArn": f"arn:aws:backup:{HOME}:123456789012:recovery-point:{name}",
        "BackupVaultName": vault,
        "CreationDate": when,
        "Status": status,
        "BackupSizeInBytes": size,
        "Tags": {VERIFIED_TAG: "passed", **tagged},  # its backup verified it
    }


def mdb_raw(name, when, status, tagged, size_mb=11, cluster="ue-test-agg"):
    return {
        "Name": name,
        "Status": status,
        "ClusterConfiguration": {
            "Name": cluster,
            "Shards": [{"Name": "0001", "Size": f"{size_mb} MB", "SnapshotCreationTime": when}],
        },
        "Tags": tagged,
    }


def velero_raw(name, when, phase, installation, backup_set):
    labels = {}
    if installation:
        labels["ue-backup/installation"] = installation
    if backup_set:
        labels["ue-backup/backup-set"] = backup_set
    return {
        "metadata": {"name": name, "namespace": "velero", "labels": labels},
        "status": {"phase": phase, "startTimestamp": when.isoformat()},
    }


def empty_view(memorydb: bool, velero: list | None, window) -> dict:
    return {
        "database": "rds",
        "rds_snapshots": [],
        "rds_restore_window": window,
        "efs_recovery_points": [],
        "memorydb_snapshots": [] if memorydb else None,
        "velero_backups": velero,
    }


class World:
    """An inventory being built: raw API shapes, the restore views and the artifacts.

    With ``copies``, a cross-region copy region exists: its view is what the
    planner lists there (no restore window; Velero is the same cluster's).
    """

    def __init__(self, memorydb: bool, velero: bool, window, copies: bool = False) -> None:
        backups = [] if velero else None
        self.view = empty_view(memorydb, backups, window)
        self.copy_view = empty_view(memorydb, backups, None) if copies else None
        self.artifacts: list[Artifact] = []

    def _view(self, region: str) -> dict | None:
        return self.view if region == HOME else self.copy_view

    def rds(self, raw, region=HOME):
        self.artifacts.append(rds_snapshot(raw, region, HOME))
        if self._view(region) is not None:
            self._view(region)["rds_snapshots"].append(raw)

    def rp(self, raw, region=HOME):
        self.artifacts.append(recovery_point(raw, region, HOME))
        if self._view(region) is not None:
            self._view(region)["efs_recovery_points"].append(raw)

    def mdb(self, raw, region=HOME):
        self.artifacts.append(memorydb_snapshot(raw, region, HOME))
        view = self._view(region)
        if view is not None and view["memorydb_snapshots"] is not None:
            view["memorydb_snapshots"].append(raw)

    def velero(self, raw):
        self.artifacts.append(velero_backup(raw))
        if self.view["velero_backups"] is not None:
            self.view["velero_backups"].append(raw)

    def manifest(self, installation, backup_set, key=None):
        key = key or f"ue-backup/{installation}/{backup_set}/manifest.json"
        body = {"installation": installation, "backup_set": backup_set}
        self.artifacts.append(manifest(key, BUCKET, HOME, body, 2048))


def rds_copy(raw: dict) -> dict:
    """A cross-region copy: its own SnapshotCreateTime, the source's kept as Original."""
    return {
        **raw,
        "Status": "available",
        "SnapshotCreateTime": raw["SnapshotCreateTime"] + timedelta(minutes=3),
        "OriginalSnapshotCreateTime": raw["SnapshotCreateTime"],
        "SourceDBSnapshotIdentifier": f"arn:aws:rds:{HOME}:123456789012:snapshot:x",
    }


seconds = st.integers(-30, 30)
often = st.sampled_from([True, True, True, False])


@st.composite
def one_set(draw, world: World, installation: str, start: datetime, memorydb: bool, velero: bool):
    """A backup set as a run leaves it: any part missing, failed, unfinished or out of order."""
    set_id = BackupSet.for_run(installation, start).id
    mine = tags(installation, set_id)
    disk = start + timedelta(minutes=5)
    name = f"ueb-{set_id}"
    rds_state = draw(st.sampled_from(["available", "available", "creating", None]))
    copies = world.copy_view is not None
    if rds_state:
        source = rds_raw(name, disk + timedelta(seconds=draw(seconds)), rds_state, mine)
        world.rds(source)
        if copies and rds_state == "available" and draw(often):
            world.rds(rds_copy(source), region=COPY_REGION)
    rp_state = draw(st.sampled_from(["COMPLETED", "COMPLETED", "CREATING", "PARTIAL", None]))
    if rp_state:
        size = draw(st.integers(0, 50 * GB))
        world.rp(rp_raw(f"{set_id}-rp", disk, rp_state, mine, size))
        if copies and rp_state == "COMPLETED" and draw(often):
            world.rp(
                rp_raw(f"{set_id}-rp-copy", disk, "COMPLETED", mine, size, COPY_VAULT),
                region=COPY_REGION,
            )
    if memorydb:
        state = draw(st.sampled_from(["available", "available", "creating", None]))
        if state:
            when = disk + timedelta(seconds=draw(seconds))
            world.mdb(mdb_raw(name, when, state, mine, draw(st.integers(1, 500))))
            if copies and state == "available" and draw(often):
                world.mdb(mdb_raw(name, when, "available", mine), region=COPY_REGION)
    if velero:
        phase = draw(st.sampled_from(["Completed", "Completed", "InProgress", "Failed", None]))
        if phase:
            world.velero(velero_raw(name, disk, phase, installation, set_id))
    if draw(st.booleans()):
        world.manifest(installation, set_id)
    return set_id


@st.composite
def noise(draw, world: World, memorydb: bool):
    """What shares the account with us: untagged and foreign artifacts, lying tags."""
    when = T0 + timedelta(hours=draw(st.integers(0, 24 * 60)))
    foreign = BackupSet.for_run(OTHER, when).id
    kinds = ["untagged", "other", "lying-set", "foreign-set", "bad-set", "stray-key"]
    kind = draw(st.sampled_from(kinds))
    owner, backup_set = {
        "untagged": (None, None),
        "other": (OTHER, foreign),
        "lying-set": (OTHER, BackupSet.for_run(ME, when).id),  # another's, with our set's id
        "foreign-set": (ME, foreign),  # our installation tag, another installation's set
        "bad-set": (ME, "not-a-set"),
        "stray-key": (ME, BackupSet.for_run(ME, when).id),
    }[kind]
    label = f"noise-{kind}-{when:%j%H}"
    if kind == "stray-key":  # a manifest copied somewhere else claims nothing
        world.manifest(owner, backup_set, key=f"elsewhere/{label}.json")
        return
    world.rds(rds_raw(label, when, "available", tags(owner, backup_set)))
    world.rp(rp_raw(label, when, "COMPLETED", tags(owner, backup_set), 1 * GB))
    if memorydb:
        world.mdb(mdb_raw(label, when, "available", tags(owner, backup_set)))
    world.velero(velero_raw(label, when, "Completed", owner, backup_set))
    if owner and backup_set:
        world.manifest(owner, backup_set)


@st.composite
def inventories(draw):
    memorydb, velero = draw(st.booleans()), draw(st.booleans())
    window = draw(
        st.one_of(
            st.none(),
            st.builds(
                lambda a, b: {
                    "EarliestTime": T0 + timedelta(hours=a),
                    "LatestTime": T0 + timedelta(hours=a + b),
                },
                st.integers(0, 24 * 60),
                st.integers(0, 24 * 10),
            ),
        )
    )
    world = World(memorydb, velero, window, copies=draw(st.booleans()))
    hours = draw(st.lists(st.integers(0, 24 * 60), max_size=7, unique=True))
    sets = [draw(one_set(world, ME, T0 + timedelta(hours=h), memorydb, velero)) for h in hours]
    for _ in range(draw(st.integers(0, 3))):
        draw(noise(world, memorydb))
    order = draw(st.permutations(range(len(world.artifacts))))
    world.artifacts = [world.artifacts[i] for i in order]
    policy = {
        "keep_last": draw(st.integers(1, 4)),
        "keep_days": draw(st.integers(0, 30)),
        "now": T0 + timedelta(days=draw(st.integers(0, 90))),
        "in_use": {s: "a restore reads it" for s in draw(st.lists(st.sampled_from(sets or [""])))}
        if sets
        else {},
    }
    return world, sets, policy


def ours(artifact: Artifact) -> bool:
    """The test's own reading of the tags: this installation's, and a set of it."""
    if artifact.installation != ME or not artifact.backup_set:
        return False
    try:
        return BackupSet.parse(artifact.backup_set).installation == ME
    except ValueError:
        return False


def run(world: World, policy) -> dict:
    return decide(
        world.artifacts,
        world.view,
        installation=ME,
        copy_view=world.copy_view,
        copy_region=COPY_REGION,
        **policy,
    )


def restorable(view, set_id) -> list[dict]:
    """The plans the restore planner makes for the set (empty: not restorable)."""
    plans = []
    for pitr in (False, True):
        request = {"type": "backup_set", "backup_set": set_id, "allow_point_in_time_restore": pitr}
        with contextlib.suppress(RestorePlanError):
            plans.append(plan_restore(view, request))
    return plans


def latest(view, pitr: bool) -> dict | None:
    try:
        plan = plan_restore(view, {"type": "latest", "allow_point_in_time_restore": pitr})
    except RestorePlanError:
        return None
    return {k: v for k, v in plan.items() if k != "rejected"}


def after(view, decision, copies: bool = False) -> dict | None:
    """A restore view (home, or with ``copies`` the copy region's) once the deletions are done.

    Velero is the same cluster seen from either region.
    """
    if view is None:
        return None
    doomed = [(a["kind"], a["id"]) for s in to_delete(decision) for a in s["artifacts"]]
    gone = {
        (kind.removesuffix("_copy"), id)
        for kind, id in doomed
        if kind.endswith("_copy") == copies or kind == "velero_backup"
    }
    keys = {
        "rds_snapshots": ("rds_snapshot", lambda r: r["DBSnapshotIdentifier"]),
        "efs_recovery_points": ("efs_recovery_point", lambda r: r["RecoveryPointArn"]),
        "memorydb_snapshots": ("memorydb_snapshot", lambda r: r["Name"]),
        "velero_backups": ("velero_backup", lambda r: r["metadata"]["name"]),
    }
    out = dict(view)
    for field, (kind, key) in keys.items():
        if view[field] is not None:
            out[field] = [r for r in view[field] if (kind, key(r)) not in gone]
    return out


PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(inventories())
def test_only_this_installations_tagged_artifacts_are_ever_deleted(case):
    world, _, policy = case
    decision = run(world, policy)
    doomed = [Artifact.from_json(a) for s in to_delete(decision) for a in s["artifacts"]]
    assert all(ours(artifact) for artifact in doomed)
    foreign = [a for a in world.artifacts if not ours(a)]
    ignored = [Artifact.from_json(i["artifact"]) for i in decision["ignored"]]
    assert sorted(ignored, key=repr) == sorted(foreign, key=repr)
    # every artifact of ours is in exactly one set, the one its tag names
    placed = [(s["backup_set"], a) for s in decision["sets"] for a in s["artifacts"]]
    assert len(placed) + len(ignored) == len(world.artifacts)
    assert all(set_id == a["backup_set"] for set_id, a in placed)


@PROPERTY
@given(inventories())
def test_the_newest_restorable_set_survives_and_the_planner_still_finds_it(case):
    world, sets, policy = case
    decision = run(world, policy)
    action = {s["backup_set"]: s["action"] for s in decision["sets"]}
    # Retention judges the sets it may act on: those holding an artifact of ours. A set
    # named only by another installation's artifacts (a "lying" tag on our own instance
    # or vault) is not one of them: the planner could restore it, but it is never deleted.
    held = {a.backup_set for a in world.artifacts if ours(a)}
    mine = sorted(held & set(sets), key=lambda s: BackupSet.parse(s).created_at, reverse=True)
    good = [s for s in mine if restorable(world.view, s)]
    assert decision["newest_restorable"] == (good[0] if good else None)
    if not good:
        assert DELETE not in action.values()
        return
    assert action[good[0]] == KEEP
    remaining = after(world.view, decision)
    assert restorable(remaining, good[0])
    for pitr in (True, False):
        before = latest(world.view, pitr)
        assert latest(remaining, pitr) == before  # the same plan, from the same artifacts
        for set_id in referenced_sets(before or {}):
            assert action.get(set_id, KEEP) == KEEP
    # every kept set that could be restored still can
    for s in decision["sets"]:
        if s["action"] == KEEP and s["restorable"]:
            assert restorable(remaining, s["backup_set"]), s
    # and the same from the copies in the copy region, the region a lost home leaves
    if world.copy_view is None:
        return
    there = [s for s in mine if restorable(world.copy_view, s)]
    assert decision["newest_restorable_from_copies"] == (there[0] if there else None)
    remaining_there = after(world.copy_view, decision, copies=True)
    if there:
        assert action[there[0]] == KEEP
        assert restorable(remaining_there, there[0])
    assert latest(remaining_there, False) == latest(world.copy_view, False)


@PROPERTY
@given(inventories())
def test_keeps_what_the_policy_says_and_deletes_only_with_a_reason(case):
    world, sets, policy = case
    decision = run(world, policy)
    n, days, now = policy["keep_last"], policy["keep_days"], policy["now"]
    ordered = [s["backup_set"] for s in decision["sets"]]
    assert ordered == sorted(ordered, key=lambda s: BackupSet.parse(s).created_at, reverse=True)
    assert set(ordered) <= set(sets)
    action = {s["backup_set"]: s["action"] for s in decision["sets"]}
    good = [s for s in ordered if restorable(world.view, s)]
    must_keep = set(ordered[:n]) | set(good[:n]) | set(policy["in_use"]) & set(ordered)
    must_keep |= {s for s in ordered if now - BackupSet.parse(s).created_at < timedelta(days)}
    must_keep |= {
        s["backup_set"]
        for s in decision["sets"]
        if any(Artifact.from_json(a).being_made for a in s["artifacts"])
    }
    for set_id in must_keep:
        assert action[set_id] == KEEP, (set_id, decision)
    there = [s for s in ordered if world.copy_view and restorable(world.copy_view, s)]
    must_keep |= set(there[:1])
    # a kept set's restore never loses what it draws on, at home or from the copies
    views = [world.view] + ([world.copy_view] if world.copy_view else [])
    for s in decision["sets"]:
        if s["action"] == KEEP:
            for plan in (p for v in views for p in restorable(v, s["backup_set"])):
                for needed in referenced_sets(plan) & set(action):
                    assert action[needed] == KEEP
    # and nothing else is kept: every kept set says why, every deleted one too
    for s in decision["sets"]:
        assert s["reasons"]
        if s["action"] == DELETE:
            assert s["backup_set"] not in must_keep
            assert "old" in s["reasons"][0]


def test_nothing_is_deleted_when_no_set_can_be_restored():
    """Every EFS job ended PARTIAL: no set can be restored, so none is deleted."""
    world = World(memorydb=False, velero=False, window=None)
    for day in range(5):
        set_id = BackupSet.for_run(ME, T0 + timedelta(days=day)).id
        disk = T0 + timedelta(days=day, hours=1)
        world.rds(rds_raw(f"ueb-{set_id}", disk, "available", tags(ME, set_id)))
        world.rp(rp_raw(set_id, disk, "PARTIAL", tags(ME, set_id), GB))
    decision = run(world, {"keep_last": 1, "keep_days": 0, "now": T0 + timedelta(days=100)})
    assert decision["newest_restorable"] is None
    assert {s["action"] for s in decision["sets"]} == {KEEP}
    assert all(NOTHING_RESTORABLE in s["reasons"] for s in decision["sets"])


def test_a_set_named_only_by_another_installations_artifacts_is_not_retentions():
    """Found by the property above: our instance and vault hold artifacts tagged for
    another installation but naming one of our set ids. The planner could restore
    them; retention never touches them, so it judges ours without them."""
    world = World(memorydb=False, velero=False, window=None)
    mine = BackupSet.for_run(ME, T0).id
    claimed = BackupSet.for_run(ME, T0 + timedelta(hours=1)).id
    world.rds(rds_raw(f"ueb-{mine}", T0, "available", tags(ME, mine)))
    world.rp(rp_raw(mine, T0 + timedelta(minutes=5), "COMPLETED", tags(ME, mine), GB))
    world.rds(rds_raw("lying", T0 + timedelta(hours=1), "available", tags(OTHER, claimed)))
    world.rp(
        rp_raw("lying", T0 + timedelta(hours=1, minutes=5), "COMPLETED", tags(OTHER, claimed), GB)
    )
    assert restorable(world.view, claimed)  # the planner takes them

    decision = run(world, {"keep_last": 1, "keep_days": 0, "now": T0 + timedelta(days=30)})

    assert decision["newest_restorable"] == mine
    assert [s["backup_set"] for s in decision["sets"]] == [mine]
    assert {i["artifact"]["id"] for i in decision["ignored"]} >= {"lying"}


def test_a_set_borrowing_an_older_sets_snapshot_keeps_it():
    """Set 3 has no RDS snapshot of its own: its restore uses set 2's, which must stay."""
    world = World(memorydb=False, velero=False, window=None)
    ids = [BackupSet.for_run(ME, T0 + timedelta(days=d)).id for d in range(3)]
    for day, set_id in enumerate(ids):
        disk = T0 + timedelta(days=day, minutes=5)
        if day < 2:
            world.rds(
                rds_raw(f"ueb-{set_id}", disk - timedelta(seconds=1), "available", tags(ME, set_id))
            )
        world.rp(rp_raw(set_id, disk, "COMPLETED", tags(ME, set_id), GB))
    decision = run(world, {"keep_last": 1, "keep_days": 0, "now": T0 + timedelta(days=30)})
    verdict = {s["backup_set"]: s for s in decision["sets"]}
    assert verdict[ids[2]]["action"] == KEEP
    assert verdict[ids[1]]["action"] == KEEP
    assert f"needed to restore {ids[2]}" in verdict[ids[1]]["reasons"]
    assert verdict[ids[0]]["action"] == DELETE


def test_failed_sets_do_not_push_good_ones_out():
    world = World(memorydb=False, velero=False, window=None)
    ids = [BackupSet.for_run(ME, T0 + timedelta(days=d)).id for d in range(4)]
    for day, set_id in enumerate(ids):
        disk = T0 + timedelta(days=day, minutes=5)
        world.rds(
            rds_raw(f"ueb-{set_id}", disk - timedelta(seconds=1), "available", tags(ME, set_id))
        )
        state = "COMPLETED" if day < 2 else "PARTIAL"  # the two newest EFS jobs failed
        world.rp(rp_raw(set_id, disk, state, tags(ME, set_id), GB))
    decision = run(world, {"keep_last": 2, "keep_days": 0, "now": T0 + timedelta(days=30)})
    action = {s["backup_set"]: s["action"] for s in decision["sets"]}
    assert action == dict.fromkeys(ids, KEEP)  # 2 newest + the 2 newest restorable
    reasons = {s["backup_set"]: s["reasons"] for s in decision["sets"]}
    assert "one of the newest 2 restorable sets" in reasons[ids[0]]
    assert "the newest restorable set" in reasons[ids[1]]


@pytest.mark.parametrize(
    ("key", "body", "claims"),
    [
        (
            "ue-backup/ue-test/ue-test-20260101t000000z/manifest.json",
            (ME, "ue-test-20260101t000000z"),
            True,
        ),
        ("ue-test/ue-test-20260101t000000z/manifest.json", (ME, "ue-test-20260101t000000z"), True),
        (
            "ue-backup/ue-test/ue-test-20260102t000000z/manifest.json",
            (ME, "ue-test-20260101t000000z"),
            False,
        ),
        ("ue-backup/ue-test/copy.json", (ME, "ue-test-20260101t000000z"), False),
        ("ue-backup/ue-test/ue-test-20260101t000000z/manifest.json", None, False),
    ],
    ids=["under-prefix", "no-prefix", "other-set-key", "stray-key", "unreadable"],
)
def test_a_manifest_claims_only_the_set_it_is_written_for(key, body, claims):
    data = {"installation": body[0], "backup_set": body[1]} if body else None
    artifact = manifest(key, BUCKET, HOME, data, 10)
    assert (ownership_problem(artifact, ME) is None) == claims


def test_costs_per_component_follow_the_reported_sizes_and_prices():
    prices = PricesConfig()
    world = World(memorydb=True, velero=False, window=None)
    ids = [BackupSet.for_run(ME, T0 + timedelta(days=d)).id for d in range(3)]
    for day, set_id in enumerate(ids):
        disk = T0 + timedelta(days=day, minutes=5)
        world.rds(
            rds_raw(
                f"ueb-{set_id}",
                disk - timedelta(seconds=1),
                "available",
                tags(ME, set_id),
                size_gb=20,
            )
        )
        world.rds(
            rds_raw(f"ueb-{set_id}", disk, "available", tags(ME, set_id), size_gb=20),
            region=COPY_REGION,
        )
        world.rp(rp_raw(set_id, disk, "COMPLETED", tags(ME, set_id), (day + 1) * GB))
        world.mdb(mdb_raw(f"ueb-{set_id}", disk, "available", tags(ME, set_id), size_mb=1024))
    decision = run(world, {"keep_last": 1, "keep_days": 0, "now": T0 + timedelta(days=30)})
    assert [s["action"] for s in decision["sets"]] == [KEEP, DELETE, DELETE]
    costs = component_costs(decision, prices)["components"]
    assert costs["rds_snapshot"]["kept"]["monthly_usd"] == pytest.approx(20 * 0.05)
    assert costs["rds_snapshot"]["removed"]["monthly_usd"] == pytest.approx(2 * 20 * 0.05)
    assert costs["rds_snapshot_copy"]["removed"]["count"] == 2
    assert costs["efs_recovery_point"]["kept"]["monthly_usd"] == pytest.approx(3 * 0.095)
    assert costs["efs_recovery_point"]["removed"]["monthly_usd"] == pytest.approx(3 * 0.095)
    # MemoryDB: one snapshot per cluster is free. Before: 3 GB, one free -> 2 GB paid;
    # after: the one kept is free -> removing two saves 2 GB.
    assert costs["memorydb_snapshot"]["kept"]["monthly_usd"] == 0.0
    assert costs["memorydb_snapshot"]["removed"]["monthly_usd"] == pytest.approx(2 * 0.085)
    table = plan_table(decision, prices)
    assert ids[0] in table
    assert "one of the newest 1 sets" in table


def test_the_newest_set_restorable_from_its_copies_is_kept_and_what_it_borrows():
    """Home: three complete sets. Copy region: the newest set's copy job failed, and the
    middle set has no RDS copy of its own: restoring it there borrows the oldest's."""
    world = World(memorydb=False, velero=False, window=None, copies=True)
    ids = [BackupSet.for_run(ME, T0 + timedelta(days=d)).id for d in range(3)]
    for day, set_id in enumerate(ids):
        disk = T0 + timedelta(days=day, minutes=5)
        source = rds_raw(
            f"ueb-{set_id}", disk - timedelta(seconds=1), "available", tags(ME, set_id)
        )
        world.rds(source)
        world.rp(rp_raw(set_id, disk, "COMPLETED", tags(ME, set_id), GB))
        if day == 0:
            world.rds(rds_copy(source), region=COPY_REGION)
        if day < 2:
            world.rp(
                rp_raw(f"{set_id}-copy", disk, "COMPLETED", tags(ME, set_id), GB, COPY_VAULT),
                region=COPY_REGION,
            )
    decision = run(world, {"keep_last": 1, "keep_days": 0, "now": T0 + timedelta(days=30)})
    verdict = {s["backup_set"]: s for s in decision["sets"]}
    assert decision["newest_restorable"] == ids[2]
    assert decision["newest_restorable_from_copies"] == ids[1]
    assert "the newest set restorable from its copies in eu-central-1" in verdict[ids[1]]["reasons"]
    assert f"needed to restore {ids[1]}" in verdict[ids[0]]["reasons"]
    assert {s["action"] for s in decision["sets"]} == {KEEP}


def test_the_databases_aws_backup_point_is_its_own_kind_and_goes_with_its_set():
    """With the immutable section the home vault also holds the database's recovery point
    (the source of its locked copy): retention names it as such, never as a disk point,
    and deletes it with its set."""
    world = World(memorydb=False, velero=False, window=None)
    sets = []
    for day in range(3):
        set_id = BackupSet.for_run(ME, T0 + timedelta(days=day)).id
        sets.append(set_id)
        disk = T0 + timedelta(days=day, hours=1)
        world.rds(
            rds_raw(f"ueb-{set_id}", disk - timedelta(seconds=5), "available", tags(ME, set_id))
        )
        world.rp(rp_raw(set_id, disk, "COMPLETED", tags(ME, set_id), GB))
        database = rp_raw(
            f"{set_id}-db", disk - timedelta(seconds=4), "COMPLETED", tags(ME, set_id), GB
        )
        database["ResourceType"] = "RDS"
        world.artifacts.append(recovery_point(database, HOME, HOME))  # not a disk point
    decision = run(world, {"keep_last": 1, "keep_days": 0, "now": T0 + timedelta(days=100)})
    action = {s["backup_set"]: s for s in decision["sets"]}
    oldest = action[sets[0]]
    assert oldest["action"] == DELETE
    kinds = sorted(Artifact.from_json(a).kind for a in oldest["artifacts"])
    assert kinds == ["efs_recovery_point", "rds_recovery_point", "rds_snapshot"]
    assert action[sets[-1]]["action"] == KEEP
