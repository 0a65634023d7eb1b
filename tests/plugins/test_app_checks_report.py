"""What AppChecksOperator says about results: the failure message, the summary, the table.

Pure functions of parsed results (``app_checks.CheckResult``), so no sandbox: the
end-to-end behaviour is in ``test_app_checks.py``.
"""

from __future__ import annotations

from ue_backup.app_checks import (
    CheckKind,
    CheckResult,
    checks_for_restore,
    describe_failure,
    failures_of,
    summarize,
    table,
)
from ue_backup.config import VerificationConfig


def result(name: str = "c", kind: CheckKind = CheckKind.SQL, **fields) -> CheckResult:
    return CheckResult(
        **{"name": name, "kind": kind, "ok": False, "count": 0, "seconds": 0.25, **fields}
    )


def test_each_kind_of_failure_names_its_check_and_what_is_wrong():
    assert (
        describe_failure(
            result("efs_references", CheckKind.EFS_PATHS, count=7, missing=3, sample=["a", "b"])
        )
        == "efs_references: 3 of 7 missing, e.g. ['a', 'b']"
    )
    assert describe_failure(result("q", error="relation x does not exist")) == (
        "q: relation x does not exist"
    )
    assert describe_failure(result("n", count=1, value="2")) == "n: the value was 2"
    assert describe_failure(result("stuck", count=2, sample=["1|x", "2|y"])) == (
        "stuck: 2 unexpected row(s), e.g. ['1|x', '2|y']"
    )
    assert describe_failure(result("present")) == "present: 0 row(s), not what it expects"


def test_the_summary_counts_and_adds_up_the_seconds():
    results = [result("a", ok=True), result("b"), result("c", ok=True, seconds=1.5)]
    summary = summarize("job-1", results)
    assert (summary["job"], summary["passed"], summary["failed"]) == ("job-1", 2, 1)
    assert summary["seconds"] == 2.0
    assert [r["name"] for r in summary["results"]] == ["a", "b", "c"]
    assert summary["results"][0]["kind"] == "sql"  # plain JSON, as XCom stores it


def test_the_table_has_one_row_per_check():
    lines = table([result("a-long-name", ok=True, count=3), result("b")]).splitlines()
    assert lines[0].split() == ["check", "result", "count", "seconds"]
    assert lines[1].split() == ["a-long-name", "ok", "3", "0.250"]
    assert lines[2].split() == ["b", "FAILED", "0", "0.250"]


def test_failures_of_a_summary_names_only_the_failed_checks():
    summary = summarize(
        "job-1",
        [
            result("ok", ok=True, count=3),
            result("efs_references", kind=CheckKind.EFS_PATHS, count=4, missing=1, sample=["a"]),
        ],
    )
    assert failures_of(summary) == ["efs_references: 1 of 4 missing, e.g. ['a']"]
    assert failures_of(None) == []


def test_a_restore_runs_only_the_checks_it_can_judge():
    verification = VerificationConfig.model_validate(
        {
            "sql_checks": [{"name": "sessions", "query": "select 1", "expect": "rows"}],
            "reference_checks": {"efs_paths_query": "select 'a'", "redis_keys_query": "select 'k'"},
        }
    )
    whole = checks_for_restore(verification, database=True, efs=True, redis=True)
    assert whole == verification
    # without the database nothing can be queried
    assert checks_for_restore(verification, database=False, efs=True, redis=True) is None
    # a partial restore leaves out what it did not bring back (the live data is not judged)
    part = checks_for_restore(verification, database=True, efs=False, redis=True)
    assert part is not None
    assert part.reference_checks.efs_paths_query is None
    assert part.reference_checks.redis_keys_query == "select 'k'"
    assert part.sql_checks == verification.sql_checks
    # only reference checks, neither restored: nothing left to run
    refs_only = VerificationConfig.model_validate(
        {"reference_checks": {"efs_paths_query": "select 'a'"}}
    )
    assert checks_for_restore(refs_only, database=True, efs=False, redis=False) is None
    assert checks_for_restore(VerificationConfig(), database=True, efs=True, redis=True) is None
