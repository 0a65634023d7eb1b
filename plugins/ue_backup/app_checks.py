"""Application checks on a restored system: the Job's shell script, and its log read back.

A restore that honours rule 1 leaves a database that references only files
and keys that exist. Only a query on the restored database can show it, and
only from where that database can be reached: inside the installation's
cluster, in a Kubernetes Job. This module is the pure part of that Job: it
renders the POSIX ``sh`` script the Job runs from the configuration's
``verification`` section, and parses the Job's log into typed results. It
starts nothing and reads no credential.

Where things are comes from the Job's environment, never from the script's
text: the database from libpq's own variables (``PGHOST``, ``PGPORT``,
``PGDATABASE``, ``PGUSER``, and the password only ever in ``PGPASSWORD``),
Redis from ``UE_CHECK_REDIS_HOST``/``UE_CHECK_REDIS_PORT`` (``UE_CHECK_REDIS_TLS=1``
for TLS, ``UE_CHECK_REDIS_USER``; the password only in ``REDISCLI_AUTH``, which
redis-cli reads itself). The EFS mount path is the Job's own volume mount, so
it is a render argument.

Each check prints exactly one line, ``UE-CHECK `` followed by JSON (name,
kind, ok, count, missing, sample, value, error, seconds). What a line may
carry is data the configured queries return and the first line of a tool's
error; both secret variables are also masked in every field, in case a tool
ever echoed one. The script exits 1 when any check fails. SQL runs with
``psql -X -A -t -v ON_ERROR_STOP=1`` in read-only transactions; the query is
one ``-c`` argument, so psql interpolates nothing in it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ue_backup.config import (
    EFS_REFERENCES_CHECK,
    REDIS_REFERENCES_CHECK,
    Comparison,
    SqlExpectation,
    VerificationConfig,
)

RESULT_PREFIX = "UE-CHECK "
DB_PASSWORD_ENV = "PGPASSWORD"
REDIS_PASSWORD_ENV = "REDISCLI_AUTH"
# The check step's XCom keys: the secret the checks logged in with (its ARN, never its
# value), and the instance whose master password it asked RDS to manage (a copy's
# password then changed: the restore's report says so).
LOGIN_SECRET_KEY = "login_secret"
PASSWORD_MANAGED_KEY = "password_managed"


class CheckKind(StrEnum):
    SQL = "sql"
    EFS_PATHS = "efs_paths"
    REDIS_KEYS = "redis_keys"


class CheckResult(BaseModel):
    """One check's outcome as its result line reports it.

    ``count``: rows the SQL query returned, or items a reference check looked
    for; ``missing``: items not found (reference checks); ``sample``: the first
    missing items, or a ``no_rows`` check's first unexpected rows; ``value``:
    the value a comparison judged; ``error``: why the check could not run.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: CheckKind
    ok: bool
    count: int
    missing: int = 0
    sample: list[str] = []
    value: str | None = None
    error: str | None = None
    seconds: float


class ChecksLogError(ValueError):
    """The Job's log does not report every configured check once (or holds a bad result line)."""


def planned_checks(verification: VerificationConfig) -> list[tuple[str, CheckKind]]:
    """Every check the configuration asks for, in the order the script runs them."""
    planned = [(check.name, CheckKind.SQL) for check in verification.sql_checks]
    refs = verification.reference_checks
    if refs.efs_paths_query:
        planned.append((EFS_REFERENCES_CHECK, CheckKind.EFS_PATHS))
    if refs.redis_keys_query:
        planned.append((REDIS_REFERENCES_CHECK, CheckKind.REDIS_KEYS))
    return planned


def checks_for_restore(
    verification: VerificationConfig, *, database: bool, efs: bool, redis: bool
) -> VerificationConfig | None:
    """The checks a restore can run, given which components it restored; None: none.

    Every check queries the restored database, so nothing runs without it. A
    reference check looks in a restored file system or cluster only: against
    the live one (a partial restore) it would judge data the restore did not
    bring back, so it is left out, and the run's log says so.
    """
    if not database or not verification.has_checks:
        return None
    refs = verification.reference_checks
    kept = verification.model_copy(
        update={
            "reference_checks": refs.model_copy(
                update={
                    "efs_paths_query": refs.efs_paths_query if efs else None,
                    "redis_keys_query": refs.redis_keys_query if redis else None,
                }
            )
        }
    )
    return kept if kept.has_checks else None


def render_script(verification: VerificationConfig, *, efs_mount: str | None = None) -> str:
    """The POSIX sh script that runs every configured check; ``efs_mount``: the EFS volume's path.

    Every configured value enters the script through ``shlex.quote``, so a
    query with quotes, ``$`` or newlines reaches psql exactly as written.
    """
    refs = verification.reference_checks
    if refs.efs_paths_query and not efs_mount:
        raise ValueError("an EFS reference check needs efs_mount, the path the Job mounts EFS at")
    q = shlex.quote
    lines = [
        _PRELUDE,
        f"ue_sample={refs.sample}",
        f"ue_mount={q(efs_mount or '')}",
        f"ue_emit_awk={q(_EMIT_AWK)}",
        f"ue_hex_awk={q(_HEX_AWK)}",
        f"ue_match_awk={q(_MATCH_AWK)}",
        f"ue_compare_awk={q(_COMPARE_AWK)}",
        _FUNCTIONS,
    ]
    for check in verification.sql_checks:
        expect = check.expect
        if isinstance(expect, Comparison):
            args = ["compare", expect.op.value, repr(expect.value)]
        else:
            args = [SqlExpectation(expect).value, "", ""]
        lines.append(" ".join(["ue_sql", q(check.name), q(check.query), *map(q, args)]))
    if refs.efs_paths_query:
        lines.append(f"ue_efs {q(EFS_REFERENCES_CHECK)} {q(refs.efs_paths_query)}")
    if refs.redis_keys_query:
        lines.append(f"ue_redis {q(REDIS_REFERENCES_CHECK)} {q(refs.redis_keys_query)}")
    lines.append('exit "$ue_failed"')
    return "\n".join(lines) + "\n"


def parse_log(log: str, verification: VerificationConfig) -> list[CheckResult]:
    """The results in the Job's log, one per configured check, in the configured order.

    Lines without the prefix (anything else the pod wrote) are ignored. A
    configured check with no result line, or with two, a result for a check
    that was not configured, and a line that is not a valid result are each
    refused: a log that does not account for every check proves nothing.
    """
    planned = dict(planned_checks(verification))
    found: dict[str, CheckResult] = {}
    problems: list[str] = []
    for number, line in enumerate(log.splitlines(), start=1):
        if not line.startswith(RESULT_PREFIX):
            continue
        try:
            result = CheckResult.model_validate(json.loads(line[len(RESULT_PREFIX) :]))
        except (ValueError, ValidationError) as error:
            problems.append(f"line {number} is not a check result: {error}")
            continue
        if planned.get(result.name) != result.kind:
            problems.append(
                f"line {number} reports {result.kind} check {result.name!r}, not one configured"
            )
        elif result.name in found:
            problems.append(f"check {result.name!r} is reported twice (again on line {number})")
        else:
            found[result.name] = result
    absent = [name for name in planned if name not in found]
    if absent:
        problems.append(
            f"no result for check(s) {absent} (the Job stopped early, or is another script)"
        )
    if problems:
        raise ChecksLogError("the checks' log is incomplete or invalid: " + "; ".join(problems))
    return [found[name] for name in planned]


# --- the script's fixed parts ---------------------------------------------------
# Kept free of single quotes where they are quoted into the script (shlex.quote copes
# anyway); every awk runs with LC_ALL=C so it works on bytes, as psql and redis-cli do.


def summarize(job: str, results: list[CheckResult]) -> dict[str, Any]:
    """What the task reports: every result, how many passed and failed, the seconds spent."""
    passed = sum(1 for r in results if r.ok)
    return {
        "job": job,
        "results": [r.model_dump(mode="json") for r in results],
        "passed": passed,
        "failed": len(results) - passed,
        "seconds": round(sum(r.seconds for r in results), 3),
    }


def describe_failure(result: CheckResult) -> str:
    """One failed check in a sentence: its name, and what is missing or wrong."""
    if result.error:
        return f"{result.name}: {result.error}"
    if result.missing:
        return f"{result.name}: {result.missing} of {result.count} missing, e.g. {result.sample}"
    if result.value is not None:
        return f"{result.name}: the value was {result.value}"
    if result.sample:
        return f"{result.name}: {result.count} unexpected row(s), e.g. {result.sample}"
    return f"{result.name}: {result.count} row(s), not what it expects"


def table(results: list[CheckResult]) -> str:
    """The verification table: check, result, count, seconds."""
    rows = [("check", "result", "count", "seconds")] + [
        (r.name, "ok" if r.ok else "FAILED", str(r.count), f"{r.seconds:.3f}") for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


def failures_of(summary: dict[str, Any] | None) -> list[str]:
    """Each failed check of a ``summarize`` result, in a sentence (empty: none failed)."""
    results = [CheckResult.model_validate(r) for r in (summary or {}).get("results", ())]
    return [describe_failure(r) for r in results if not r.ok]


def report_entry(planned: bool, summary: Mapping[str, Any] | None) -> dict[str, Any]:
    """The application checks in a restore's or drill's report: status, counts, results.

    ``not configured`` when the plan runs none; ``not run`` when it does and
    no result came back (the Job could not start, or the step was skipped):
    a drill that did not check did not prove the restore usable.
    """
    if not planned:
        return {"status": "not configured", "seconds": None, "results": []}
    if not summary:
        return {"status": "not run", "seconds": None, "results": []}
    return {
        "status": "failed" if summary.get("failed") else "passed",
        "passed": summary.get("passed", 0),
        "failed": summary.get("failed", 0),
        "seconds": summary.get("seconds"),
        "results": list(summary.get("results") or ()),
    }


def results_table(results: list[dict[str, Any]]) -> str:
    """``table`` of the results as a report holds them (JSON)."""
    return table([CheckResult.model_validate(r) for r in results])


_PRELUDE = """\
#!/bin/sh
# ue-backup application checks, rendered by ue_backup.app_checks. Credentials come only
# from the environment (PGPASSWORD, REDISCLI_AUTH); this script never prints them.
set -u
ue_failed=0
ue_work=$(mktemp -d) || exit 2
trap 'rm -rf "$ue_work"' EXIT
# Checks read; a read-only transaction makes sure a check never writes.
PGOPTIONS="-c default_transaction_read_only=on ${PGOPTIONS:-}"
export PGOPTIONS"""

_FUNCTIONS = r"""
ue_now() {
  ue_t=$(date +%s.%N 2>/dev/null)
  case $ue_t in *N*|"") ue_t=$(date +%s) ;; esac
  printf '%s' "$ue_t"
}

ue_begin() {
  ue_t0=$(ue_now); ue_ok=0; ue_count=0; ue_missing=0; ue_value=""; ue_error=""
  : >"$ue_work/sample"
}

# ue_emit NAME KIND: one result line from the ue_* variables and the sample file.
ue_emit() {
  [ "$ue_ok" = 1 ] || ue_failed=1
  C_NAME=$1 C_KIND=$2 C_OK=$ue_ok C_COUNT=$ue_count C_MISSING=$ue_missing \
  C_VALUE=$ue_value C_ERROR=$ue_error C_T0=$ue_t0 C_T1=$(ue_now) C_MAX=$ue_sample \
    LC_ALL=C awk "$ue_emit_awk" "$ue_work/sample"
}

# ue_why FILE: the first line of a tool's error output, short.
ue_why() {
  ue_error=$(sed -n '/[^[:space:]]/{p;q;}' "$1" | cut -c1-300)
  [ -n "$ue_error" ] || ue_error="failed without a message"
}

# ue_psql QUERY: run it; its rows NUL-terminated in $ue_work/out, their number in ue_count.
ue_psql() {
  if psql -X -A -t -q -0 -v ON_ERROR_STOP=1 -c "$1" >"$ue_work/out" 2>"$ue_work/err"; then
    ue_count=$(tr -cd '\000' <"$ue_work/out" | wc -c | tr -d ' ')
    return 0
  fi
  ue_why "$ue_work/err"
  return 1
}

# ue_list QUERY: the query's values one per line in $ue_work/items (empty ones dropped).
ue_list() {
  ue_psql "$1" || return 1
  tr '\000' '\n' <"$ue_work/out" >"$ue_work/lines"
  if [ "$(wc -l <"$ue_work/lines" | tr -d ' ')" != "$ue_count" ]; then
    ue_error="a value holds a newline; paths and keys must be one line each"
    return 1
  fi
  grep -v '^$' "$ue_work/lines" >"$ue_work/items"
  ue_count=$(wc -l <"$ue_work/items" | tr -d ' ')
}

# ue_sql NAME QUERY EXPECT OP VALUE
ue_sql() {
  ue_begin
  if ue_psql "$2"; then
    case $3 in
      rows) [ "$ue_count" -gt 0 ] && ue_ok=1 ;;
      no_rows)
        [ "$ue_count" -eq 0 ] && ue_ok=1
        # One sample line per row: a newline inside a row becomes a space.
        tr '\n\000' ' \n' <"$ue_work/out" | head -n "$ue_sample" >"$ue_work/sample" ;;
      compare)
        if [ "$ue_count" -ne 1 ]; then
          ue_error="returned $ue_count rows; a comparison needs exactly one value"
        else
          ue_value=$(tr -d '\000' <"$ue_work/out" | cut -c1-300)
          ue_verdict=$(C_VALUE=$ue_value C_OP=$4 C_REF=$5 LC_ALL=C awk "$ue_compare_awk")
          case $ue_verdict in
            1) ue_ok=1 ;;
            0) ;;
            *) ue_error="the value is not a number" ;;
          esac
        fi ;;
    esac
  fi
  ue_emit "$1" sql
}

# ue_efs NAME QUERY: every listed path must exist under the EFS mount.
ue_efs() {
  ue_begin
  if [ ! -d "$ue_mount" ]; then
    ue_error="the EFS mount is not a directory"
  elif ue_list "$2"; then
    while IFS= read -r ue_path; do
      if [ ! -e "$ue_mount/$ue_path" ]; then
        ue_missing=$((ue_missing + 1))
        [ "$ue_missing" -le "$ue_sample" ] && printf '%s\n' "$ue_path" >>"$ue_work/sample"
      fi
    done <"$ue_work/items"
    [ "$ue_missing" -eq 0 ] && ue_ok=1
  fi
  ue_emit "$1" efs_paths
}

# ue_redis NAME QUERY: every listed key must exist; one redis-cli session asks for all of
# them (EXISTS one key per command: MemoryDB is a cluster, and -c follows its redirects).
ue_redis() {
  ue_begin
  if [ -z "${UE_CHECK_REDIS_HOST:-}" ]; then
    ue_error="UE_CHECK_REDIS_HOST is not set"
  elif ue_list "$2"; then
    set -- "$1" -c -h "$UE_CHECK_REDIS_HOST" -p "${UE_CHECK_REDIS_PORT:-6379}" --no-auth-warning
    case ${UE_CHECK_REDIS_TLS:-} in 1|true|yes) set -- "$@" --tls ;; esac
    [ -n "${UE_CHECK_REDIS_USER:-}" ] && set -- "$@" --user "$UE_CHECK_REDIS_USER"
    ue_name=$1; shift
    LC_ALL=C awk "$ue_hex_awk" "$ue_work/items" >"$ue_work/commands"
    ue_wait=${UE_CHECK_REDIS_WAIT:-10}
    if [ "$ue_count" -eq 0 ]; then
      : >"$ue_work/replies"
    elif ! timeout "$ue_wait" redis-cli "$@" PING >"$ue_work/replies" 2>"$ue_work/err"; then
      # a TLS client and a plain server (or the reverse) wait for each other for ever
      ue_why "$ue_work/err"
      [ -s "$ue_work/err" ] || ue_error="no answer within ${ue_wait} s: is TLS on \
(UE_CHECK_REDIS_TLS) as the cluster has it?"
    elif ! redis-cli "$@" <"$ue_work/commands" >"$ue_work/replies" 2>"$ue_work/err"; then
      ue_why "$ue_work/err"
    fi
    if [ -z "$ue_error" ]; then
      C_MAX=$ue_sample LC_ALL=C awk "$ue_match_awk" "$ue_work/replies" "$ue_work/items" \
        >"$ue_work/matched"
      read -r ue_verdict ue_missing <"$ue_work/matched"
      if [ "$ue_verdict" = ok ]; then
        sed 1d "$ue_work/matched" >"$ue_work/sample"
        [ "$ue_missing" -eq 0 ] && ue_ok=1
      else
        ue_missing=0
        ue_error=$(sed 1d "$ue_work/matched" | head -n 1 | cut -c1-300)
        [ -s "$ue_work/err" ] && ue_why "$ue_work/err"
      fi
    fi
    set -- "$ue_name"
  fi
  ue_emit "$1" redis_keys
}
"""

# Reads the sample file; prints the result line. Every string is JSON-escaped and has
# the two secret variables masked.
_EMIT_AWK = r"""
function mask(s, secret,   i, out) {
  if (secret == "") return s
  out = ""
  while ((i = index(s, secret)) > 0) {
    out = out substr(s, 1, i - 1) "***"
    s = substr(s, i + length(secret))
  }
  return out s
}
function str(s,   out, i, c) {
  s = mask(mask(s, ENVIRON["PGPASSWORD"]), ENVIRON["REDISCLI_AUTH"])
  out = ""
  for (i = 1; i <= length(s); i++) {
    c = substr(s, i, 1)
    if (c == "\\") out = out "\\\\"
    else if (c == "\"") out = out "\\\""
    else if (c in ctl) out = out ctl[c]
    else out = out c
  }
  return "\"" out "\""
}
function opt(s) { return s == "" ? "null" : str(s) }
BEGIN {
  for (i = 1; i < 32; i++) ctl[sprintf("%c", i)] = sprintf("\\u%04x", i)
  ctl[sprintf("%c", 127)] = "\\u007f"
  n = 0
}
n < ENVIRON["C_MAX"] + 0 { items[++n] = substr($0, 1, 500) }
END {
  sample = ""
  for (i = 1; i <= n; i++) sample = sample (i > 1 ? ", " : "") str(items[i])
  printf "UE-CHECK {\"name\": %s, \"kind\": %s, \"ok\": %s, \"count\": %d, \"missing\": %d, ",
    str(ENVIRON["C_NAME"]), str(ENVIRON["C_KIND"]), (ENVIRON["C_OK"] == 1 ? "true" : "false"),
    ENVIRON["C_COUNT"], ENVIRON["C_MISSING"]
  printf "\"sample\": [%s], \"value\": %s, \"error\": %s, \"seconds\": %.3f}\n",
    sample, opt(ENVIRON["C_VALUE"]), opt(ENVIRON["C_ERROR"]),
    ENVIRON["C_T1"] - ENVIRON["C_T0"]
}
"""

# One EXISTS command per key, the key written byte by byte as "\xHH" so that no quote,
# space or backslash in it can change the command (redis-cli unescapes it).
_HEX_AWK = r"""
BEGIN { for (i = 1; i < 256; i++) hex[sprintf("%c", i)] = sprintf("\\x%02x", i) }
{
  out = ""
  for (i = 1; i <= length($0); i++) out = out hex[substr($0, i, 1)]
  print "EXISTS \"" out "\""
}
"""

# Pairs redis-cli's replies (first file, maybe empty) with the keys (second file).
# Prints "ok MISSING" and the first C_MAX missing keys, or "error" and the reply that was
# not 0 or 1.
_MATCH_AWK = r"""
FILENAME == ARGV[1] {
  if (index($0, "-> Redirected") == 1) next
  replies[++r] = $0
  next
}
{ keys[++k] = $0 }
END {
  for (i = 1; i <= r; i++) {
    if (replies[i] != "0" && replies[i] != "1") { print "error"; print replies[i]; exit }
  }
  if (r != k) { print "error"; print r " replies for " k " keys"; exit }
  missing = 0
  for (i = 1; i <= k; i++) if (replies[i] == "0") missing++
  print "ok " missing
  shown = 0
  for (i = 1; i <= k && shown < ENVIRON["C_MAX"] + 0; i++)
    if (replies[i] == "0") { print keys[i]; shown++ }
}
"""

# 1 when C_VALUE (a number) compares to C_REF by C_OP, 0 when not, "nan" when not a number.
_COMPARE_AWK = r"""
BEGIN {
  v = ENVIRON["C_VALUE"]; ref = ENVIRON["C_REF"] + 0; op = ENVIRON["C_OP"]
  if (v !~ /^[ ]*[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?[ ]*$/) { print "nan"; exit }
  v = v + 0
  if (op == "==") r = (v == ref)
  else if (op == "!=") r = (v != ref)
  else if (op == "<") r = (v < ref)
  else if (op == "<=") r = (v <= ref)
  else if (op == ">") r = (v > ref)
  else if (op == ">=") r = (v >= ref)
  else { print "nan"; exit }
  print r ? 1 : 0
}
"""
