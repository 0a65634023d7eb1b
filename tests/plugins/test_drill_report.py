"""The drill report: outcome and RTO arithmetic from what the drill's tasks recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ue_backup.drill_report import (
    COMPONENTS,
    build_report,
    report_key,
    report_table,
    seconds_between,
)

T0 = datetime(2026, 3, 1, 4, 0, 0, tzinfo=UTC)


def iso(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def drill(**overrides) -> dict:
    settings = {
        "drill_id": "ue-test-drill-260301040000",
        "installation": "ue-test",
        "started_at": iso(0),
        "dry_run": False,
        "plan": {"backup_set": "ue-test-20260301t020000z", "database": {"kind": "snapshot"}},
        "resources": {"rds_instance": "ue-test-drill-260301040000"},
        **{spec["flag"]: True for spec in COMPONENTS.values()},
    }
    return {**settings, **overrides}


# (restore asked, verified usable), in seconds after the drill started
TIMES = {"database": (2, 40), "efs": (3, 95.5), "memorydb": (2.5, 30), "kubernetes": (4, 12.25)}


def records(times=TIMES) -> dict:
    return {
        name: {"started_at": iso(start), "verified": {"usable_at": iso(end), "resource": name}}
        for name, (start, end) in times.items()
    }


def test_a_drill_that_verified_everything_passes_with_its_rto():
    report = build_report(drill(), records(), failed_steps=[], finished_at=T0)

    assert report["outcome"] == "passed"
    assert report["backup_set"] == "ue-test-20260301t020000z"
    assert report["rto_seconds"] == {
        "total": 95.5,  # drill start to the last verification (EFS)
        "database": 38.0,
        "efs": 92.5,
        "memorydb": 27.5,
        "kubernetes": 8.25,
    }
    assert report["verified_at"] == iso(95.5)
    assert report["components"]["efs"]["checks"] == {"resource": "efs"}
    assert report["temporary_resources"] == {"rds_instance": "ue-test-drill-260301040000"}


def test_a_failed_step_fails_its_component_and_gives_no_total():
    partial = records()
    partial["memorydb"]["verified"] = None
    report = build_report(drill(), partial, failed_steps=["wait_memorydb", "run_outcome"])

    assert report["outcome"] == "failed"
    assert report["components"]["memorydb"]["status"] == "failed"
    assert report["components"]["memorydb"]["failed_steps"] == ["wait_memorydb"]
    assert report["components"]["database"]["status"] == "verified"
    assert report["rto_seconds"]["total"] is None
    assert "memorydb" not in report["rto_seconds"]
    assert report["rto_seconds"]["database"] == 38.0
    assert report["failed_steps"] == ["run_outcome", "wait_memorydb"]


def test_a_verified_component_whose_step_failed_later_is_not_passed():
    """A verification result does not outweigh a failed step of the same component."""
    report = build_report(drill(), records(), failed_steps=["check_efs_clean"])

    assert report["components"]["efs"]["status"] == "failed"
    assert report["outcome"] == "failed"


def test_components_outside_the_set_are_not_restored_and_do_not_fail_the_drill():
    without = records({k: v for k, v in TIMES.items() if k not in ("memorydb", "kubernetes")})
    report = build_report(
        drill(restore_memorydb=False, restore_velero=False), without, failed_steps=[]
    )

    assert report["outcome"] == "passed"
    assert report["components"]["memorydb"]["status"] == "not restored"
    assert report["components"]["kubernetes"]["started_at"] is None
    assert report["rto_seconds"] == {"total": 95.5, "database": 38.0, "efs": 92.5}


def test_a_dry_run_reports_no_time():
    report = build_report(
        drill(dry_run=True, **{s["flag"]: False for s in COMPONENTS.values()}), {}, []
    )

    assert report["outcome"] == "dry run"
    assert report["rto_seconds"] == {"total": None}


def test_nothing_restored_outside_a_dry_run_is_a_failure():
    report = build_report(drill(**{s["flag"]: False for s in COMPONENTS.values()}), {}, [])

    assert report["outcome"] == "failed"


def test_inconsistent_timestamps_are_refused_not_reported():
    assert seconds_between(iso(10), iso(10.004)) == 0.0
    assert seconds_between(None, iso(1)) is None
    with pytest.raises(ValueError, match="inconsistent"):
        seconds_between(iso(10), iso(9))


def test_the_table_shows_each_component_and_the_total():
    report = build_report(drill(), records(), failed_steps=[])

    table = report_table(report)

    lines = table.splitlines()
    assert (
        lines[0]
        == "Restore drill ue-test-drill-260301040000 of backup set ue-test-20260301t020000z"
    )
    assert lines[1].split() == [
        "component",
        "status",
        "restore",
        "asked",
        "usable",
        "at",
        "RTO",
        "(s)",
        "failed",
        "steps",
    ]
    rows = {line.split()[0]: line.split() for line in lines[3:] if not line.startswith("-")}
    assert rows["efs"][-1] == "92.50"
    assert rows["total"][1] == "passed"
    assert rows["total"][-1] == "95.50"
    assert list(rows) == [*COMPONENTS, "total"]


def test_the_report_is_kept_beside_the_manifests():
    assert report_key("ue-backup/", "ue-test", "d1") == "ue-backup/drills/ue-test/d1.json"
    assert report_key("", "ue-test", "d1") == "drills/ue-test/d1.json"


# --- from the protected copies: the bring-back is recovery time ---------------------------


def brought_back(start=1, end=11) -> dict:
    return {
        "started_at": iso(start),
        "finished_at": iso(end),
        "result": {
            "database": {"copy_job_id": "j-db", "source": "locked-db", "recovery_point_arn": "db"},
            "efs": {"copy_job_id": "j-efs", "source": "locked-efs", "recovery_point_arn": "efs"},
            "memorydb": {"source": ["locked.rdb"], "snapshot_arns": ["staged.rdb"]},
        },
    }


def test_from_the_protected_copies_each_brought_back_component_is_timed_from_the_bring_back():
    times = {"database": (12, 40), "efs": (12, 95.5), "memorydb": (12, 30), "kubernetes": (0, 0)}
    settings = drill(source="immutable", from_immutable=True, restore_velero=False)

    report = build_report(settings, records(times), [], finished_at=T0, bring_back=brought_back())

    assert (report["outcome"], report["source"]) == ("passed", "immutable")
    assert report["bring_back"]["status"] == "brought back"
    assert report["bring_back"]["staged_files"] == ["staged.rdb"]
    assert set(report["bring_back"]["points"]) == {"database", "efs"}
    # each from the bring-back's start (1 s), not from its own restore call (12 s)
    assert report["rto_seconds"] == {
        "total": 95.5,
        "database": 39.0,
        "efs": 94.5,
        "memorydb": 29.0,
        "bring_back": 10.0,
    }
    assert report["components"]["efs"]["rto_from"] == "bring_back"
    assert report["components"]["efs"]["started_at"] == iso(12)
    assert "rto_from" not in report["components"]["kubernetes"]
    table = report_table(report)
    assert "from the protected copies" in table
    assert "bring back" in table


def test_a_failed_bring_back_fails_the_drill_and_has_no_time():
    settings = drill(source="immutable", from_immutable=True, restore_velero=False)

    report = build_report(
        settings,
        {},
        ["bring_back_locked_copies"],
        finished_at=T0,
        bring_back={"started_at": iso(1)},
    )

    assert report["outcome"] == "failed"
    assert report["bring_back"]["status"] == "failed"
    assert report["bring_back"]["seconds"] is None
    assert "bring_back" not in report["rto_seconds"]


def test_a_drill_from_home_has_no_bring_back_line():
    report = build_report(drill(), records(), [], finished_at=T0)

    assert (report["source"], report["bring_back"]) == ("home", None)
    assert all("rto_from" not in c for c in report["components"].values())
