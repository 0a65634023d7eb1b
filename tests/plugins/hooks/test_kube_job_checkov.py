"""checkov over every kind of Job ue-backup starts: no failed check without a written reason.

The Jobs are rendered as the code builds them (``job_manifests.built_jobs``:
the real hook methods and scripts) to YAML, one file per kind, and scanned
with checkov's Kubernetes checks. checkov lives in its own virtualenv
(``.venv-checkov``, ``make checkov``; ``make test`` builds it first): its
dependencies clash with Airflow's pins. A missing checkov fails this test,
never skips it, so the scan cannot silently stop running.

Every failed check must be in ``SUPPRESSED`` for that kind of Job, with the
reason it is accepted; a suppression that no longer matches any failure fails
too, so the table only lists what is true today.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.plugins.hooks.job_manifests import built_jobs

ROOT = Path(__file__).resolve().parents[3]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"

EVERY = "every Job"
CHECKS_JOBS = ("app-checks", "app-checks-no-efs")

EFS_JOBS = (
    "restore-stage",
    "restore-check",
    "restore-place",
    "restore-discard",
    "drill-place",
    "drill-check",
    "retention-remove",
)
# The EFS Jobs stay root: the files they move, rename and delete belong to the platform's
# user, whose uid the installation chooses and ue-backup does not know; the capabilities that
# work needs are all that is added back (hooks/kube_job.py says why each).
ROOT_FOR_EFS = (
    "the EFS Jobs run as root to move and delete files owned by the platform's user "
    "(any uid); every capability but DAC_OVERRIDE and FOWNER is dropped"
)
# check id -> (the kinds of Job it is accepted for, why).
SUPPRESSED: dict[str, tuple[str | tuple[str, ...], str]] = {
    "CKV_K8S_23": (EFS_JOBS, ROOT_FOR_EFS),  # root containers
    "CKV_K8S_40": (EFS_JOBS, ROOT_FOR_EFS),  # a high UID
    "CKV_K8S_25": (  # an added capability
        EFS_JOBS,
        "DAC_OVERRIDE and FOWNER, after dropping ALL: root without them cannot write into "
        "the platform user's directories (mv, rm, the marker files) nor rename in sticky ones",
    ),
    "CKV_K8S_35": (  # secrets as environment variables
        CHECKS_JOBS,
        "the database password reaches psql as PGPASSWORD, the one way libpq takes a bare "
        "password (a passfile needs the host and port read when the task runs); it comes "
        "from a Secret owned by the Job, made for one run, never in the spec or a log",
    ),
    "CKV_K8S_43": (  # image by digest
        CHECKS_JOBS,
        "the checks' image is the installer's own build (verification.image, default "
        "ue-backup-checks:1.0, include/images/ue-backup-checks): no digest exists until it is "
        "pushed; the README says to set it to the pushed reference",
    ),
    "CKV_K8S_15": (  # imagePullPolicy Always
        CHECKS_JOBS,
        "follows from the image by tag (CKV_K8S_43): a digest-pinned reference passes",
    ),
}

pytestmark = pytest.mark.slow  # a checkov process: seconds


def run_checkov(directory: Path) -> list[dict]:
    """checkov's failed checks over the manifests in ``directory`` (its JSON report)."""
    if not CHECKOV.exists():
        pytest.fail(
            f"checkov is not installed at {CHECKOV.relative_to(ROOT)}: run `make checkov` "
            "(make test does it first); the Job hardening is checked with it"
        )
    done = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(directory),
            "--framework",
            "kubernetes",
            "--quiet",
            "--compact",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    if done.returncode not in (0, 1):  # 1: some check failed, as the report says
        pytest.fail(f"checkov failed ({done.returncode}):\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout)
    reports = report if isinstance(report, list) else [report]
    scanned = [r for r in reports if r.get("check_type") == "kubernetes"]
    assert scanned, f"checkov scanned no Kubernetes manifest: {done.stdout[:500]}"
    return [check for r in scanned for check in r["results"]["failed_checks"]]


def test_every_job_passes_checkov_or_says_why_not(tmp_path):
    jobs = built_jobs()
    for kind, body in jobs.items():
        (tmp_path / f"{kind}.yaml").write_text(yaml.safe_dump(body, sort_keys=False))

    failed = run_checkov(tmp_path)

    unexplained, used = [], set()
    for check in failed:
        kind = Path(check["file_path"]).stem
        assert kind in jobs, check["file_path"]
        scope, _reason = SUPPRESSED.get(check["check_id"], ((), ""))
        if scope == EVERY or kind in scope:
            used.add(check["check_id"])
        else:
            unexplained.append(f"{kind}: {check['check_id']} {check['check_name']}")
    assert not unexplained, "checkov failed checks nobody explained:\n" + "\n".join(
        sorted(unexplained)
    )
    stale = sorted(set(SUPPRESSED) - used)
    assert not stale, f"suppressions that no longer match a failed check (remove them): {stale}"
