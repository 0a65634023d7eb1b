"""include/iam's protected-account documents: the role the immutable copies' connection
assumes may do exactly what the code does through it, and no more.

The requests the code makes through ``immutable.aws_conn_id`` are signed with that
role's credentials, in the protected account (the request log's ``account``). Over the
end-to-end suites' recording: each of them is allowed by the protected role's policy
(``include/iam/ue-backup-immutable-policy.json``) rendered for its installation, every
action that policy allows is used, and removing any one is noticed: the same rules as
the Airflow role's policy (test_iam_policy). The rest: what the policy scopes, the
rendering, AWS's definitions, the trust and vault access policies. Its Deny statements
are test_iam_immutable_guardrails'.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import yaml

from include.render import immutable_values, render_immutable
from tests.include import aws_definitions as aws
from tests.include import iam
from tests.include.recorder import ROOT, Recording
from tests.include.support import (
    ACCOUNT,
    immutable_policy,
    immutable_template,
    incomplete_note,
    policy_for,
    protected_requests,
)
from tests.include.test_iam_policy import CONFIG, FULL, REGION, rendered
from ue_backup import immutable
from ue_backup.config import parse_config

CHECK_TIMEOUT = 3600  # the checks may have to run the end-to-end modules first

PROTECTED = "222233334444"
ROLE = f"arn:aws:iam::{PROTECTED}:role/ue-backup-immutable"
VAULT = "ue-test-locked"
BUCKET = "ue-test-locked-artifacts"
# Without MemoryDB: the protected role's reads do not depend on it.
BASE = {k: v for k, v in CONFIG.items() if k != "memorydb"}
LOCKED = {**BASE, "immutable": {"account_id": PROTECTED, "role_arn": ROLE}}
BACKUP_ROLE = f"arn:aws:iam::{PROTECTED}:role/ue-backup-restore"  # copies points back home
LOCKED["immutable"].update(backup_vault_name=VAULT, bucket=BUCKET, backup_role_arn=BACKUP_ROLE)
ELSEWHERE = {**{k: v for k, v in FULL.items() if k != "memorydb"}}
ELSEWHERE["immutable"] = {**LOCKED["immutable"], "region": "eu-north-1"}
AIRFLOW_ROLE = f"arn:aws:iam::{ACCOUNT}:role/airflow-execution"


def protected(operation: str, service: str = "backup", region: str = REGION, **params) -> dict:
    """A request the protected connection makes, as the request log has it."""
    return {
        "api": "aws",
        "service": service,
        "operation": operation,
        "params": params,
        "result": {},
        "region": region,
        "account": PROTECTED,
        "test": "synthetic",
        "config": 0,
    }


def denied(requests: list[dict], config: dict = LOCKED) -> set[str]:
    recording = Recording(requests, [config], {})
    verdict = iam.evaluate(requests, policy_for(recording), set(), ACCOUNT)
    return {d.action for d in verdict.denied}


def point(region: str = REGION, account: str = PROTECTED) -> str:
    return f"arn:aws:backup:{region}:{account}:recovery-point:24F1502F-0EF1-430D-8847"


# --- the recording of the end-to-end suites ---------------------------------------------


def _verdict(recording: Recording, template: dict | None = None) -> iam.Verdict:
    requests = protected_requests(recording)
    assert requests, "no request in the protected account: is an immutable e2e module marked?"
    template = template or immutable_template()
    policies = policy_for(recording, protected_template=template)
    return iam.evaluate(requests, policies, iam.allowed_actions(template), ACCOUNT)


@pytest.mark.timeout(CHECK_TIMEOUT)
def test_every_request_in_the_protected_account_is_allowed_by_its_roles_policy(e2e_recording):
    lines = sorted({d.describe() for d in _verdict(e2e_recording).denied})
    assert not lines, (
        f"{len(lines)} request(s) include/iam/ue-backup-immutable-policy.json denies (add the "
        "action to the statement of its resource):\n  " + "\n  ".join(lines[:50])
    )


@pytest.mark.timeout(CHECK_TIMEOUT)
def test_every_action_the_protected_policy_allows_is_used(e2e_recording):
    unused = _verdict(e2e_recording).unused
    assert not unused, (
        f"the protected role's policy allows actions no end-to-end test uses: {unused}"
        + incomplete_note(e2e_recording)
    )


@pytest.mark.timeout(CHECK_TIMEOUT)
def test_each_action_removed_from_the_protected_policy_is_reported(e2e_recording):
    unnoticed = []
    for action in sorted(iam.allowed_actions(immutable_template())):
        weaker = copy.deepcopy(immutable_template())
        for statement in weaker["Statement"]:
            statement["Action"] = [a for a in statement["Action"] if a != action]
        weaker["Statement"] = [s for s in weaker["Statement"] if s["Action"]]
        if action not in {d.action for d in _verdict(e2e_recording, weaker).denied}:
            unnoticed.append(action)
    assert not unnoticed


@pytest.mark.timeout(CHECK_TIMEOUT)
def test_the_protected_policy_of_every_installation_the_suites_ran_is_what_aws_defines(
    e2e_recording,
):
    locked = [c for c in e2e_recording.configs if (c or {}).get("immutable")]
    assert locked, "no end-to-end installation had an immutable section"
    for config in locked:
        policy = immutable_policy(config)
        assert aws.problems(policy) == [], config["installation"]
        assert aws.parliament_findings(policy) == [], config["installation"]


# --- what the policy allows, and where ------------------------------------------------------


def test_the_role_reads_the_locked_vault_its_copies_and_the_buckets_lock_only():
    vault = protected("DescribeBackupVault", BackupVaultName=VAULT)
    grant = protected("GetBackupVaultAccessPolicy", BackupVaultName=VAULT)
    copy_ = protected("DescribeRecoveryPoint", BackupVaultName=VAULT, RecoveryPointArn=point())
    lock = protected("GetObjectLockConfiguration", "s3", Bucket=BUCKET)
    assert not denied([vault, grant, copy_, lock])
    other_vault = protected("DescribeBackupVault", BackupVaultName="someone-elses")
    other_bucket = protected("GetObjectLockConfiguration", "s3", Bucket="someone-elses")
    far = protected(
        "DescribeRecoveryPoint",
        region="us-east-1",
        BackupVaultName=VAULT,
        RecoveryPointArn=point("us-east-1"),
    )
    assert denied([other_vault, other_bucket, far]) == {
        "backup:DescribeBackupVault",
        "s3:GetBucketObjectLockConfiguration",
        "backup:DescribeRecoveryPoint",
    }
    # the locked vault in another region than the installation's: there, not here
    elsewhere = protected("DescribeBackupVault", region="eu-north-1", BackupVaultName=VAULT)
    assert not denied([elsewhere], config=ELSEWHERE)
    assert denied([vault], config=ELSEWHERE) == {"backup:DescribeBackupVault"}


def test_the_airflow_roles_requests_are_not_judged_by_the_protected_policy():
    """The same read signed in the installation's account meets the Airflow role's policy,
    which has no statement for the protected vault."""
    home = {**protected("DescribeBackupVault", BackupVaultName=VAULT), "account": ACCOUNT}
    assert denied([home]) == {"backup:DescribeBackupVault"}


def test_a_request_signed_in_a_third_account_fails_the_check():
    stranger = {**protected("DescribeBackupVault", BackupVaultName=VAULT), "account": "9" * 12}
    with pytest.raises(AssertionError, match="neither the installation's"):
        denied([stranger])


def test_who_a_connection_is_needs_no_permission():
    """STS answers GetCallerIdentity to everyone (preflight asks it of both connections)."""
    assert iam.requirements(protected("GetCallerIdentity", "sts"), ACCOUNT) == []
    assert not denied([protected("GetCallerIdentity", "sts")])


def test_the_airflow_role_assumes_the_protected_role_and_no_other():
    def assume(role: str) -> dict:
        request = protected("AssumeRole", "sts", RoleArn=role, RoleSessionName="s")
        return {**request, "account": ACCOUNT}

    (needed,) = iam.requirements(assume(ROLE), ACCOUNT)  # no iam:PassRole: it passes none
    assert (needed.action, needed.resource) == ("sts:AssumeRole", ROLE)
    assert not denied([assume(ROLE)])
    assert denied([assume(f"arn:aws:iam::{PROTECTED}:role/admin")]) == {"sts:AssumeRole"}
    assert denied([assume(ROLE)], config=CONFIG) == {"sts:AssumeRole"}  # no immutable section
    assert "sts:AssumeRole" not in iam.allowed_actions(rendered(config=FULL))


def test_the_template_has_only_explicit_actions_in_protected_statements():
    template = immutable_template()
    statements = iam.statements(template)  # refuses wildcard actions, NotAction, NotResource
    assert all(s["Sid"].startswith("Protected") for s in statements)
    roles = ("${ImmutableRoleArn}", "${ImmutableBackupRoleArn}")
    for statement in statements:
        for resource in statement["Resource"]:
            if resource == "*":  # only where AWS has no resource level
                assert statement["Sid"].endswith("NoResourceLevel"), statement["Sid"]
                continue
            assert resource.startswith(("arn:${Partition}:", *roles)), resource
    assert "${" not in json.dumps(immutable_policy(LOCKED))


# --- AWS's definitions -----------------------------------------------------------------------


@pytest.mark.parametrize("config", [LOCKED, ELSEWHERE], ids=["home-region", "other-region"])
def test_the_protected_policy_is_what_aws_defines(config):
    policy = immutable_policy(config)
    assert aws.problems(policy) == []
    assert aws.parliament_findings(policy) == []


def test_the_airflow_roles_assume_statement_is_what_aws_defines():
    policy = rendered(config=ELSEWHERE)
    assert aws.problems(policy) == []
    assert aws.parliament_findings(policy) == []


def test_the_resource_policies_name_actions_aws_defines():
    values = immutable_values(LOCKED, ACCOUNT)
    for name in ("trust-policy", "vault-access-policy", "home-vault-access-policy"):
        for statement in render_immutable(name, values)["Statement"]:
            assert aws.defined(statement["Action"]), (name, statement["Action"])


def test_the_definitions_check_refuses_a_copy_read_scoped_to_the_vault():
    """A recovery point's ARN does not name its vault: a DescribeRecoveryPoint 'scoped'
    to the vault scopes nothing, and the check says so."""
    policy = immutable_policy(LOCKED)
    vault = f"arn:aws:backup:{REGION}:{PROTECTED}:backup-vault:{VAULT}"
    wrong = {"Sid": "Wrong", "Effect": "Allow", "Action": ["backup:DescribeRecoveryPoint"]}
    policy["Statement"].append({**wrong, "Resource": [vault]})
    [problem] = aws.problems(policy)
    assert "Wrong: backup:DescribeRecoveryPoint is never authorized against" in problem


# --- the trust policy and the vault's access policy ------------------------------------------


def test_the_locked_vaults_access_policy_lets_the_installation_copy_in_as_preflight_checks():
    values = immutable_values(LOCKED, ACCOUNT)
    grant = json.dumps(render_immutable("vault-access-policy", values))
    locked = parse_config(LOCKED).immutable
    assert immutable.access_policy_problems(locked, grant, ACCOUNT) == []
    other = json.dumps(render_immutable("vault-access-policy", {**values, "HomeAccountId": "1"}))
    assert immutable.access_policy_problems(locked, other, ACCOUNT) != []


def test_the_trust_policy_trusts_the_airflow_role_or_else_the_installations_account():
    def principal(values: dict) -> list[str]:
        trust = render_immutable("trust-policy", values)
        assert {s["Action"] for s in trust["Statement"]} == {"sts:AssumeRole"}
        return [s["Principal"]["AWS"] for s in trust["Statement"]]

    assert principal(immutable_values(LOCKED, ACCOUNT, airflow_role_arn=AIRFLOW_ROLE)) == [
        AIRFLOW_ROLE
    ]
    assert principal(immutable_values(LOCKED, ACCOUNT)) == [f"arn:aws:iam::{ACCOUNT}:root"]


def test_there_is_no_protected_account_without_the_section_or_in_the_home_account():
    with pytest.raises(ValueError, match="no immutable section"):
        immutable_values(CONFIG, ACCOUNT)
    with pytest.raises(ValueError, match="installation's own account"):
        immutable_values(LOCKED, PROTECTED)


def test_the_render_script_writes_the_four_documents(tmp_path):
    config = tmp_path / "installation.yaml"
    config.write_text(yaml.safe_dump(LOCKED))
    command = [sys.executable, "include/render.py", "iam-immutable", "--config", str(config)]
    command += ["--home-account-id", "111122223333"]
    done = subprocess.run(
        [*command, "--out-dir", str(tmp_path / "out"), "--airflow-role-arn", AIRFLOW_ROLE],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    values = immutable_values(LOCKED, "111122223333", airflow_role_arn=AIRFLOW_ROLE)
    written = {p.rsplit("/", 1)[-1]: p for p in done.stdout.split()}
    assert sorted(written) == [
        "ue-backup-immutable-home-vault-access-policy.json",
        "ue-backup-immutable-policy.json",
        "ue-backup-immutable-trust-policy.json",
        "ue-backup-immutable-vault-access-policy.json",
    ]
    for name, path in written.items():
        text = (tmp_path / "out" / name).read_text()
        assert path.endswith(name)
        assert "${" not in text
        document = name.removeprefix("ue-backup-immutable-").removesuffix(".json")
        assert json.loads(text) == render_immutable(document, values)
    alone = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    assert json.loads(alone.stdout) == render_immutable(
        "policy", immutable_values(LOCKED, "111122223333")
    )


def test_the_role_locks_and_reads_back_the_installations_manifests_only():
    key = "ue-backup/ue-test/ue-test-20260101t000000z/manifest.json"
    lock = {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": "2027-01-01T00:00:00"}
    put = protected("PutObject", "s3", Bucket=BUCKET, Key=key, **lock)
    needed = {r.action for r in iam.requirements(put, ACCOUNT)}
    assert needed == {"s3:PutObject", "s3:PutObjectRetention"}  # the lock is set with it
    version = protected("GetObject", "s3", Bucket=BUCKET, Key=key, VersionId="v1")
    assert {r.action for r in iam.requirements(version, ACCOUNT)} == {"s3:GetObjectVersion"}
    retention = protected("GetObjectRetention", "s3", Bucket=BUCKET, Key=key, VersionId="v1")
    assert not denied([put, version, retention])
    theirs = protected("PutObject", "s3", Bucket=BUCKET, Key="ue-backup/ue-other/m.json", **lock)
    assert denied([theirs]) == {"s3:PutObject", "s3:PutObjectRetention"}
