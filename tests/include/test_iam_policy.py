"""include/iam: the policy grants exactly the AWS actions the end-to-end suites make, scoped.

The two checks over the recording (every request allowed, every action
used) run after every other test of the session; the rest show that the
checks and the evaluator can fail, and that the policy renders per
installation.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys

import pytest
import yaml

from include.render import COMPONENTS, iam_values, render_policy
from tests.include import iam
from tests.include.recorder import ROOT
from tests.include.support import ACCOUNT, iam_template, incomplete_note, policy_for
from tests.sandbox.installation import ROLE_ARN

CHECK_TIMEOUT = 3600  # the checks may have to run the end-to-end modules first

CONFIG = {
    "installation": "ue-test",
    "region": "eu-west-1",
    "database": {"engine": "rds", "rds_instance_identifier": "ue-test-db"},
    "efs": {
        "file_system_id": "fs-0123456789abcdef0",
        "backup_method": "aws_backup",
        "aws_backup": {"vault_name": "ue-test-vault", "iam_role_arn": ROLE_ARN},
    },
    "memorydb": {"cluster_name": "ue-test-agg", "snapshot_retention_days": 3},
    "kubernetes": {
        "namespace": "uepe",
        "ecd_selection": {"label_selector": "app.kubernetes.io/part-of=usage-engine"},
    },
    "velero": {"included_namespaces": ["uepe"]},
    "manifests": {"bucket": "ue-test-manifests"},
}
REGION = CONFIG["region"]


def arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def request(service: str, operation: str, test: str = "synthetic", **params) -> dict:
    """A recorded request as the sandbox's request log has it."""
    return {
        "api": "aws",
        "service": service,
        "operation": operation,
        "params": params,
        "result": params.pop("_result", {}),
        "region": REGION,
        "test": test,
        "config": 0,
    }


def rendered(template=None, config=CONFIG) -> dict:
    return render_policy(template or iam_template(), iam_values(config, ACCOUNT))


def check(requests, template=None) -> iam.Verdict:
    template = template or iam_template()
    policy = rendered(template)
    return iam.evaluate(requests, lambda _: policy, iam.allowed_actions(template), ACCOUNT)


def denied(requests, template=None) -> set[str]:
    return {d.action for d in check(requests, template).denied}


SET_TAGS = [
    {"Key": "ue-backup:installation", "Value": "ue-test"},
    {"Key": "ue-backup:backup-set", "Value": "ue-test-20260101t000000z"},
]
SNAPSHOT = "ueb-ue-test-20260101t000000z"


# --- the recording of the end-to-end suites ---------------------------------------------


@pytest.mark.timeout(CHECK_TIMEOUT)
def test_every_aws_request_of_the_end_to_end_suites_is_allowed(e2e_recording):
    requests = [r for r in e2e_recording.requests if r["api"] == "aws"]
    assert requests, "the end-to-end suites made no AWS request: is the recorder attached?"
    verdict = iam.evaluate(
        requests, policy_for(e2e_recording), iam.allowed_actions(iam_template()), ACCOUNT
    )
    lines = sorted({d.describe() for d in verdict.denied})
    assert not lines, (
        f"{len(lines)} request(s) the policy include/iam/ue-backup-policy.json denies "
        "(add the action, or widen its Resource/Condition):\n  " + "\n  ".join(lines[:50])
    )


@pytest.mark.timeout(CHECK_TIMEOUT)
def test_every_action_the_policy_allows_is_used_by_the_end_to_end_suites(e2e_recording):
    requests = [r for r in e2e_recording.requests if r["api"] == "aws"]
    verdict = iam.evaluate(
        requests, policy_for(e2e_recording), iam.allowed_actions(iam_template()), ACCOUNT
    )
    assert not verdict.unused, (
        f"the policy allows actions no end-to-end test uses: {verdict.unused} (remove them, "
        "or add the end-to-end test that reaches the code calling them)"
        + incomplete_note(e2e_recording)
    )


@pytest.mark.timeout(CHECK_TIMEOUT)
def test_each_action_removed_from_the_policy_is_reported(e2e_recording):
    """For every action: a policy without it denies some request of the recording."""
    requests = [r for r in e2e_recording.requests if r["api"] == "aws"]
    template = iam_template()
    unnoticed = []
    for action in sorted(iam.allowed_actions(template)):
        weaker = copy.deepcopy(template)
        for statement in weaker["Statement"]:
            statement["Action"] = [a for a in statement["Action"] if a != action]
        weaker["Statement"] = [s for s in weaker["Statement"] if s["Action"]]
        render = {}

        def policy(req, weaker=weaker, render=render):
            if req["config"] not in render:
                values = iam_values(e2e_recording.configs[req["config"]], ACCOUNT)
                render[req["config"]] = render_policy(weaker, values)
            return render[req["config"]]

        verdict = iam.evaluate(requests, policy, iam.allowed_actions(weaker), ACCOUNT)
        if action not in {d.action for d in verdict.denied}:
            unnoticed.append(action)
    assert not unnoticed


# --- the checks fail when the code and the policy disagree -----------------------------------


def test_a_call_to_an_action_the_policy_lacks_is_denied():
    delete = request("rds", "DeleteDBSnapshot", DBSnapshotIdentifier=SNAPSHOT)
    verdict = check([delete])
    assert [d.action for d in verdict.denied] == ["rds:DeleteDBSnapshot"]
    assert "rds.DeleteDBSnapshot in synthetic" in verdict.denied[0].describe()


def test_an_action_nothing_uses_is_reported_as_unused():
    template = copy.deepcopy(iam_template())
    template["Statement"][0]["Action"].append("rds:DeleteDBInstance")
    used = request("rds", "DescribeDBInstances", DBInstanceIdentifier="ue-test-db")
    verdict = check([used], template)
    assert "rds:DeleteDBInstance" in verdict.unused
    assert "rds:DescribeDBInstances" not in verdict.unused


def test_resources_outside_the_installation_are_denied():
    assert not denied([request("rds", "DescribeDBInstances", DBInstanceIdentifier="ue-test-db")])
    assert denied([request("rds", "DescribeDBInstances", DBInstanceIdentifier="billing-db")]) == {
        "rds:DescribeDBInstances"
    }
    other_fs = request("efs", "DescribeFileSystems", FileSystemId="fs-0ffffffffffffffff")
    assert denied([other_fs]) == {"elasticfilesystem:DescribeFileSystems"}
    other_bucket = request("s3", "PutObject", Bucket="someone-else", Key="ue-backup/x.json")
    outside_prefix = request("s3", "PutObject", Bucket="ue-test-manifests", Key="secrets/x")
    assert denied([other_bucket]) == denied([outside_prefix]) == {"s3:PutObject"}


def test_a_snapshot_without_the_installation_tag_is_denied():
    create = {"DBSnapshotIdentifier": SNAPSHOT, "DBInstanceIdentifier": "ue-test-db"}
    assert not denied([request("rds", "CreateDBSnapshot", Tags=SET_TAGS, **create)])
    untagged = request("rds", "CreateDBSnapshot", **create)
    assert denied([untagged]) == {"rds:CreateDBSnapshot"}
    foreign = [{"Key": "ue-backup:installation", "Value": "ue-other"}]
    assert denied([request("rds", "CreateDBSnapshot", Tags=foreign, **create)]) == {
        "rds:CreateDBSnapshot"
    }


def test_tagging_is_required_with_tags_and_limited_to_ue_backup_keys():
    create = request("memorydb", "CreateSnapshot", ClusterName="ue-test-agg", SnapshotName=SNAPSHOT)
    create["params"]["Tags"] = [*SET_TAGS, {"Key": "cost-center", "Value": "42"}]
    (requirement,) = [
        r for r in iam.requirements(create, ACCOUNT) if r.action == "memorydb:TagResource"
    ]
    assert requirement.resource == arn("memorydb", f"snapshot/{SNAPSHOT}")
    assert denied([create]) == {"memorydb:TagResource"}


def test_restoring_a_recovery_point_of_another_installation_is_denied():
    ours = arn("backup", "recovery-point:11111111-1111-1111-1111-111111111111")
    theirs = arn("backup", "recovery-point:22222222-2222-2222-2222-222222222222")
    backup = request(
        "backup",
        "StartBackupJob",
        BackupVaultName="ue-test-vault",
        ResourceArn=arn("elasticfilesystem", "file-system/fs-0123456789abcdef0"),
        IamRoleArn=ROLE_ARN,
        RecoveryPointTags={t["Key"]: t["Value"] for t in SET_TAGS},
        _result={"RecoveryPointArn": ours},
    )

    def restore(point):
        return request("backup", "StartRestoreJob", RecoveryPointArn=point, IamRoleArn=ROLE_ARN)

    assert not denied([backup, restore(ours)])
    assert denied([backup, restore(theirs)]) == {"backup:StartRestoreJob"}


def test_the_backup_role_may_be_passed_to_aws_backup_only():
    start = request(
        "backup",
        "StartRestoreJob",
        RecoveryPointArn=arn("backup", "recovery-point:1"),
        IamRoleArn=ROLE_ARN,
    )
    (passing,) = [r for r in iam.requirements(start, ACCOUNT) if r.action == "iam:PassRole"]
    assert passing.passed_to == "backup.amazonaws.com"
    policy = rendered()
    assert iam.allows(policy, passing)
    elsewhere = iam.Requirement("iam:PassRole", ROLE_ARN, passed_to="ec2.amazonaws.com")
    assert not iam.allows(policy, elsewhere)
    other_role = iam.Requirement(
        "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin", passed_to="backup.amazonaws.com"
    )
    assert not iam.allows(policy, other_role)


def test_an_unidentified_aws_request_fails_the_check():
    odd = request("rds", "?")
    with pytest.raises(ValueError, match="could not identify"):
        iam.requirements(odd, ACCOUNT)


# --- operations, actions and resources --------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "operation", "action"),
    [
        ("s3", "HeadBucket", "s3:ListBucket"),
        ("s3", "ListObjectsV2", "s3:ListBucket"),
        ("s3", "PutObject", "s3:PutObject"),
        ("efs", "DescribeFileSystems", "elasticfilesystem:DescribeFileSystems"),
        ("backup", "StartBackupJob", "backup:StartBackupJob"),
        ("datasync", "StartTaskExecution", "datasync:StartTaskExecution"),
        ("memorydb", "CreateSnapshot", "memorydb:CreateSnapshot"),
        ("rds", "CreateDBSnapshot", "rds:CreateDBSnapshot"),
    ],
)
def test_operations_map_to_iam_actions(service, operation, action):
    assert iam.action_of(service, operation) == action


def test_resources_follow_the_service_authorization_reference():
    def resources(service, operation, **params):
        needed = iam.requirements(request(service, operation, **params), ACCOUNT)
        return [r.resource for r in needed]

    # a list by filter needs every resource of its kind; a named one only that one
    assert resources("rds", "DescribeDBSnapshots", DBInstanceIdentifier="ue-test-db") == [
        arn("rds", "snapshot:*")
    ]
    assert resources("rds", "DescribeDBSnapshots", DBSnapshotIdentifier=SNAPSHOT) == [
        arn("rds", f"snapshot:{SNAPSHOT}")
    ]
    # a backup job is started on the vault, not on the file system it backs up
    assert resources(
        "backup",
        "StartBackupJob",
        BackupVaultName="v",
        ResourceArn=arn("elasticfilesystem", "file-system/fs-1"),
        IamRoleArn=ROLE_ARN,
    ) == [arn("backup", "backup-vault:v"), ROLE_ARN]
    # AWS Backup jobs and DataSync's execution list have no resource-level permissions
    assert resources("backup", "DescribeBackupJob", BackupJobId="1") == ["*"]
    assert resources("datasync", "ListTaskExecutions", TaskArn="arn:aws:datasync:x") == ["*"]
    # a restore joins groups it does not name: the defaults
    assert arn("rds", "subgrp:(default)") in resources(
        "rds",
        "RestoreDBInstanceFromDBSnapshot",
        DBInstanceIdentifier="ue-test-r260101000000-db",
        DBSnapshotIdentifier=SNAPSHOT,
    )
    assert resources("s3", "PutObject", Bucket="b", Key="k/x") == ["arn:aws:s3:::b/k/x"]
    assert resources("efs", "DescribeFileSystems") == [arn("elasticfilesystem", "file-system/*")]


def test_a_pattern_covers_a_list_only_with_a_wildcard_in_its_place():
    listing = arn("rds", "snapshot:*")
    assert iam.covers(arn("rds", "snapshot:*"), listing)
    assert not iam.covers(arn("rds", "snapshot:ueb-ue-test-*"), listing)
    assert iam.covers(arn("rds", "snapshot:ueb-ue-test-*"), arn("rds", f"snapshot:{SNAPSHOT}"))
    assert iam.covers("*", "*")
    assert not iam.covers(arn("rds", "db:ue-test-db"), "*")


# --- the policy document --------------------------------------------------------------------


def test_the_policy_is_valid_with_explicit_actions_only():
    template = iam_template()
    statements = iam.statements(template)  # refuses Deny, NotAction, wildcard actions
    sids = [s["Sid"] for s in statements]
    assert len(sids) == len(set(sids))
    # the renderer leaves a statement out with the component its Sid names
    assert all(sid.startswith(tuple(COMPONENTS)) for sid in sids), sids
    for action in iam.allowed_actions(template):
        assert re.fullmatch(r"[a-z0-9-]+:[A-Z][A-Za-z0-9]+", action), action
    for statement in statements:
        for resource in statement["Resource"]:
            assert resource == "*" or resource.startswith(("arn:${Partition}:", "${")), resource


@pytest.mark.parametrize(
    "bad",
    [
        {"Effect": "Allow", "Action": ["rds:*"], "Resource": ["*"]},
        {"Effect": "Allow", "Action": ["rds:Describe*"], "Resource": ["*"]},
        {"Effect": "Deny", "Action": ["rds:DeleteDBInstance"], "Resource": ["*"]},
        {"Effect": "Allow", "NotAction": ["iam:CreateUser"], "Resource": ["*"]},
    ],
    ids=["service-wildcard", "describe-wildcard", "deny", "not-action"],
)
def test_wildcards_and_other_grammar_are_refused(bad):
    with pytest.raises(iam.PolicyError):
        iam.statements({"Version": "2012-10-17", "Statement": [bad]})


def test_conditions_the_evaluator_does_not_model_fail_loudly():
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["rds:DescribeDBInstances"],
                "Resource": ["*"],
                "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            }
        ],
    }
    with pytest.raises(iam.PolicyError):
        iam.allows(policy, iam.Requirement("rds:DescribeDBInstances", "*"))


def test_each_component_left_out_of_the_installation_is_left_out_of_the_policy():
    full = rendered()
    derby = copy.deepcopy(CONFIG)
    derby["database"] = {"engine": "derby"}
    derby.pop("memorydb")
    slim = rendered(config=derby)
    assert {a for a in iam.allowed_actions(full) if a.startswith("rds:")}
    assert not {a for a in iam.allowed_actions(slim) if a.startswith(("rds:", "memorydb:"))}
    assert "${" not in json.dumps(full) + json.dumps(slim)

    datasync = copy.deepcopy(CONFIG)
    task = f"arn:aws:datasync:{REGION}:{ACCOUNT}:task/task-0123456789abcdef0"
    datasync["efs"] = {
        "file_system_id": "fs-0123456789abcdef0",
        "backup_method": "datasync",
        "datasync": {"target_file_system_id": "fs-0fedcba9876543210", "task_arn": task},
    }
    copied = rendered(config=datasync)
    assert "datasync:StartTaskExecution" in iam.allowed_actions(copied)
    assert not {a for a in iam.allowed_actions(copied) if a.startswith(("backup:", "iam:"))}
    assert not {a for a in iam.allowed_actions(full) if a.startswith("datasync:")}


def test_the_render_script_writes_the_policy(tmp_path):
    config = tmp_path / "installation.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    done = subprocess.run(
        [
            sys.executable,
            "include/render.py",
            "iam",
            "--config",
            str(config),
            "--account-id",
            "111122223333",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    policy = json.loads(done.stdout)
    assert policy == render_policy(iam_template(), iam_values(CONFIG, "111122223333"))
    assert "${" not in done.stdout
    assert ":111122223333:" in done.stdout


def test_an_s3_copy_reads_its_source_and_tags_need_their_own_action():
    copy_request = request(
        "s3",
        "CopyObject",
        Bucket="dr-bucket",
        Key="x.rdb",
        CopySource="export-bucket/x.rdb",
        Tagging="ue-backup%3Ainstallation=ue-test",
    )
    needed = {(r.action, r.resource) for r in iam.requirements(copy_request, ACCOUNT)}
    assert needed == {
        ("s3:PutObject", "arn:aws:s3:::dr-bucket/x.rdb"),
        ("s3:GetObject", "arn:aws:s3:::export-bucket/x.rdb"),
        ("s3:PutObjectTagging", "arn:aws:s3:::dr-bucket/x.rdb"),
    }
