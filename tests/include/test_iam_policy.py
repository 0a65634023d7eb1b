"""include/iam: the policy grants exactly the AWS actions the end-to-end suites make, scoped.

The two checks over the recording (every request allowed, every action
used) run after every other test of the session, on the requests the Airflow
role made (signed in the installation's account; the protected account's role
is test_iam_immutable_policy's); the rest show that the
checks and the evaluator can fail, and that the policy renders per
installation.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest
import yaml

from include.render import (
    COMPONENTS,
    INLINE_POLICY_LIMIT,
    MANAGED_POLICY_LIMIT,
    drill_namespace,
    iam_values,
    policy_size,
    render_policy,
    split_policy,
)
from sandbox.installation import ROLE_ARN
from tests.include import iam
from tests.include.recorder import ROOT
from tests.include.support import (
    ACCOUNT,
    home_requests,
    iam_template,
    incomplete_note,
    policy_for,
)
from tests.plugins.test_config import DERBY
from ue_backup.backup_set import BackupSet
from ue_backup.config import parse_config
from ue_backup.tasks import drill_steps
from ue_backup.tasks.restore_steps import restore_id

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
    "memorydb": {"cluster_name": "ue-test-agg"},
    "kubernetes": {
        "namespace": "uepe",
        "ecd_selection": {"label_selector": "app.kubernetes.io/part-of=usage-engine"},
    },
    "velero": {"included_namespaces": ["uepe"]},
    "manifests": {"bucket": "ue-test-manifests"},
}
REGION = CONFIG["region"]
COPY_REGION = "eu-central-1"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:ue-backup-alerts"
KEY = f"arn:aws:kms:{COPY_REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
# Every optional part: copies to another region (RDS with its own key), alerts.
FULL = {
    **CONFIG,
    "cross_region": {
        "region": COPY_REGION,
        "backup_vault_arn": f"arn:aws:backup:{COPY_REGION}:{ACCOUNT}:backup-vault:ue-test-dr",
        "rds_kms_key_id": KEY,
        "memorydb_export_bucket": "ue-test-memorydb-export",
        "memorydb_bucket": "ue-test-memorydb-dr",
    },
    "alerts": {"sns_topic_arn": TOPIC},
}
DATASYNC_EFS = {
    "file_system_id": "fs-0123456789abcdef0",
    "backup_method": "datasync",
    "datasync": {
        "target_file_system_id": "fs-0fedcba9876543210",
        "task_arn": f"arn:aws:datasync:{REGION}:{ACCOUNT}:task/task-0123456789abcdef0",
    },
}


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


def check(requests, template=None, config=CONFIG) -> iam.Verdict:
    template = template or iam_template()
    policy = rendered(template, config)
    return iam.evaluate(requests, lambda _: policy, iam.allowed_actions(template), ACCOUNT)


def denied(requests, template=None, config=CONFIG) -> set[str]:
    return {d.action for d in check(requests, template, config).denied}


def in_region(region: str, req: dict) -> dict:
    return {**req, "region": region}


SET_TAGS = [
    {"Key": "ue-backup:installation", "Value": "ue-test"},
    {"Key": "ue-backup:backup-set", "Value": "ue-test-20260101t000000z"},
]
SNAPSHOT = "ueb-ue-test-20260101t000000z"


# --- the recording of the end-to-end suites ---------------------------------------------


@pytest.mark.timeout(CHECK_TIMEOUT)
def test_every_aws_request_of_the_end_to_end_suites_is_allowed(e2e_recording):
    requests = home_requests(e2e_recording)
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
    requests = home_requests(e2e_recording)
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
    requests = home_requests(e2e_recording)
    template = iam_template()
    # Only the requests that need an action can be denied by its removal: judging those
    # alone gives the same verdict on it, without evaluating the whole recording ~80 times.
    needing: dict[str, list[dict]] = {}
    for req in requests:
        for action in {r.action for r in iam.requirements(req, ACCOUNT)}:
            needing.setdefault(action, []).append(req)
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

        verdict = iam.evaluate(
            needing.get(action, []), policy, iam.allowed_actions(weaker), ACCOUNT
        )
        if action not in {d.action for d in verdict.denied}:
            unnoticed.append(action)
    assert not unnoticed


# --- the checks fail when the code and the policy disagree -----------------------------------


def test_a_call_to_an_action_the_policy_lacks_is_denied():
    delete = request("rds", "DeleteDBInstance", DBInstanceIdentifier="ue-test-db")
    verdict = check([delete])
    assert [d.action for d in verdict.denied] == ["rds:DeleteDBInstance"]
    assert "rds.DeleteDBInstance in synthetic" in verdict.denied[0].describe()


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
    # (any file system may be described: a restore and a drill find the one they made by
    # its creation token, with either EFS method; deleting the live one stays denied)
    live_fs = request("efs", "DeleteFileSystem", FileSystemId=DATASYNC_EFS["file_system_id"])
    assert denied([live_fs], config={**CONFIG, "efs": DATASYNC_EFS}) == {
        "elasticfilesystem:DeleteFileSystem"
    }
    other_bucket = request("s3", "PutObject", Bucket="someone-else", Key="ue-backup/x.json")
    outside_prefix = request("s3", "PutObject", Bucket="ue-test-manifests", Key="secrets/x")
    assert denied([other_bucket]) == denied([outside_prefix]) == {"s3:PutObject"}


def test_the_checks_read_rds_managed_secrets_and_no_other():
    """The application checks read a restored instance's master login; nothing else."""
    rds_secret = arn("secretsmanager", "secret:rds!db-0b7e1f1e-2a3b-4c5d-8e9f-0123456789ab-AbCdEf")
    assert not denied([request("secretsmanager", "GetSecretValue", SecretId=rds_secret)])
    copy_secret = rds_secret.replace(REGION, COPY_REGION)
    read_copy = in_region(
        COPY_REGION, request("secretsmanager", "GetSecretValue", SecretId=copy_secret)
    )
    assert not denied([read_copy], config=FULL)
    assert denied([read_copy]) == {"secretsmanager:GetSecretValue"}  # no copy region configured
    for other in (
        arn("secretsmanager", "secret:airflow/connections/aws_default-AbCdEf"),
        "prod/db",
    ):
        read = request("secretsmanager", "GetSecretValue", SecretId=other)
        assert denied([read]) == {"secretsmanager:GetSecretValue"}


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
    # tagging an existing resource is authorized on that resource (verify's verdict)
    tagged = arn("rds", f"snapshot:{SNAPSHOT}")
    assert set(
        resources(
            "rds", "AddTagsToResource", ResourceName=tagged, Tags=[{"Key": "ue-backup:verified"}]
        )
    ) == {tagged}


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
    statements = iam.statements(template)  # refuses NotAction, NotResource, wildcard actions
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
        {"Effect": "Deny", "Action": ["rds:DeleteDBInstance"], "NotResource": ["*"]},
        {"Effect": "Allow", "NotAction": ["iam:CreateUser"], "Resource": ["*"]},
        {"Effect": "allow", "Action": ["rds:DescribeDBInstances"], "Resource": ["*"]},
    ],
    ids=["service-wildcard", "describe-wildcard", "not-resource", "not-action", "effect-case"],
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
    derby["database"] = copy.deepcopy(DERBY)
    derby["cold_window"] = {"disk_storage_used": ["derby"]}  # Derby is copied cold
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


# --- copies, retention, the drill, alerts --------------------------------------------------


def test_the_name_patterns_cover_the_names_the_code_makes_and_no_others():
    # The last: a '-' at the 24th and the 21st character, where the ids cut the name.
    for name in ("ue-test", "a" * 40, "abcdefghijklmnopqrst-uv-wxyz"):
        cfg = parse_config({**CONFIG, "installation": name})
        values = iam_values({**CONFIG, "installation": name}, ACCOUNT)
        when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        assert iam._like(drill_steps.drill_id(name, when), values["DrillId"])
        assert iam._like(restore_id(name, when), values["RestoreId"])
        assert iam._like(BackupSet.for_run(name, when).id, values["BackupSet"])
        assert drill_namespace(cfg) == drill_steps.drill_namespace(cfg)
    # a set of an installation whose name extends this one's is not this one's
    short = iam_values({**CONFIG, "installation": "ue"}, ACCOUNT)
    assert not iam._like("ue-test-20260101t000000z", short["BackupSet"])
    assert not iam._like("ue-test-drill-260101000000", short["DrillId"])


def test_copies_alerts_and_drills_come_with_their_configuration():
    copies = {
        "rds:CopyDBSnapshot",
        "backup:StartCopyJob",
        "backup:DescribeCopyJob",
        "memorydb:CopySnapshot",
        "s3:PutObjectTagging",
        "kms:CreateGrant",
    }
    drill = {
        "rds:DeleteDBInstance",
        "memorydb:DeleteCluster",
        "elasticfilesystem:DeleteFileSystem",
        "elasticfilesystem:CreateMountTarget",
        "ec2:CreateNetworkInterface",
    }
    plain = iam.allowed_actions(rendered())
    full = iam.allowed_actions(rendered(config=FULL))
    assert copies <= full
    assert "sns:Publish" in full
    assert drill <= full
    assert not (copies | {"sns:Publish"}) & plain
    assert drill <= plain  # a drill comes with every installation
    datasync = iam.allowed_actions(rendered(config={**FULL, "efs": DATASYNC_EFS}))
    assert drill <= datasync  # the drill restores a DataSync set's copy too
    assert "elasticfilesystem:CreateFileSystem" in datasync  # the file system it copies into
    assert "elasticfilesystem:CreateFileSystem" not in plain  # AWS Backup's restore job makes it
    assert "backup:StartCopyJob" not in datasync
    assert "rds:CopyDBSnapshot" in datasync
    no_key = copy.deepcopy(FULL)
    no_key["cross_region"].pop("rds_kms_key_id")
    assert "kms:CreateGrant" not in iam.allowed_actions(rendered(config=no_key))
    policy = json.dumps(rendered(config=FULL))
    assert "${" not in policy
    assert TOPIC in policy
    assert KEY in policy


def test_retention_deletes_the_installations_sets_in_both_regions_only():
    def delete_snapshot(name, region=REGION):
        return in_region(region, request("rds", "DeleteDBSnapshot", DBSnapshotIdentifier=name))

    ours = [delete_snapshot(SNAPSHOT), delete_snapshot(SNAPSHOT + "-2", COPY_REGION)]
    assert not denied(ours, config=FULL)
    assert denied([delete_snapshot(SNAPSHOT, COPY_REGION)]) == {"rds:DeleteDBSnapshot"}  # no copies
    for name in ("by-hand", "ueb-ue-other-20260101t000000z", "ueb-ue-test-db"):
        assert denied([delete_snapshot(name)], config=FULL) == {"rds:DeleteDBSnapshot"}
    other = {**FULL, "installation": "ue"}  # "ue-test-..." sets are not "ue"'s
    assert denied([delete_snapshot(SNAPSHOT)], config=other) == {"rds:DeleteDBSnapshot"}
    foreign = request("memorydb", "DeleteSnapshot", SnapshotName="ueb-ue-other-20260101t000000z")
    assert denied([foreign]) == {"memorydb:DeleteSnapshot"}
    manifest = "ue-backup/ue-test/ue-test-20260101t000000z/manifest.json"
    assert not denied([request("s3", "DeleteObject", Bucket="ue-test-manifests", Key=manifest)])
    theirs = request("s3", "DeleteObject", Bucket="ue-test-manifests", Key="ue-backup/ue-x/m.json")
    assert denied([theirs]) == {"s3:DeleteObject"}


def test_a_recovery_point_is_judged_by_the_tags_its_listing_reports():
    """A copy's tags come from AWS Backup (its source's), seen in a ListTags answer."""
    point = f"arn:aws:backup:{COPY_REGION}:{ACCOUNT}:recovery-point:C0FFEE"
    listing = in_region(COPY_REGION, request("backup", "ListTags", ResourceArn=point))
    delete = in_region(
        COPY_REGION,
        request(
            "backup", "DeleteRecoveryPoint", BackupVaultName="ue-test-dr", RecoveryPointArn=point
        ),
    )
    assert denied([listing, delete], config=FULL) == {"backup:DeleteRecoveryPoint"}  # no tags
    listing["tags"] = {"ue-backup:installation": "ue-test"}
    assert not denied([listing, delete], config=FULL)
    listing["tags"] = {"ue-backup:installation": "ue-other"}
    assert denied([listing, delete], config=FULL) == {"backup:DeleteRecoveryPoint"}


def test_the_drill_deletes_only_what_it_created():
    drill = "ue-test-drill-260101000000"
    tags = [
        {"Key": "ue-backup:drill", "Value": drill},
        {"Key": "ue-backup:installation", "Value": "ue-test"},
    ]
    restore = request(
        "rds",
        "RestoreDBInstanceToPointInTime",
        SourceDBInstanceIdentifier="ue-test-db",
        TargetDBInstanceIdentifier=drill,
        Tags=tags,
    )
    cluster = request(
        "memorydb", "CreateCluster", ClusterName=drill, SnapshotName=SNAPSHOT, Tags=tags
    )
    deletes = [
        request("rds", "DeleteDBInstance", DBInstanceIdentifier=drill),
        request("memorydb", "DeleteCluster", ClusterName=drill),
    ]
    assert not denied([restore, cluster, *deletes])
    assert denied(deletes) == {"rds:DeleteDBInstance", "memorydb:DeleteCluster"}  # untagged
    live = [
        request("rds", "DeleteDBInstance", DBInstanceIdentifier="ue-test-db"),
        request("memorydb", "DeleteCluster", ClusterName="ue-test-agg"),
    ]
    assert denied([restore, cluster, *live]) == {"rds:DeleteDBInstance", "memorydb:DeleteCluster"}
    untagged = {**restore, "params": {**restore["params"], "Tags": tags[1:]}}
    assert denied([untagged]) == {"rds:RestoreDBInstanceToPointInTime"}


def test_dependent_actions_are_required_with_the_request():
    def needed(req):
        return {(r.action, r.resource) for r in iam.requirements(req, ACCOUNT)}

    rdb = f"arn:aws:s3:::ue-test-memorydb-dr/{SNAPSHOT}-0001.rdb"
    seeded = request("memorydb", "CreateCluster", ClusterName="c", SnapshotArns=[rdb])
    assert ("s3:GetObject", rdb) in needed(seeded)
    export = request(
        "memorydb",
        "CopySnapshot",
        SourceSnapshotName=SNAPSHOT,
        TargetSnapshotName=SNAPSHOT,
        TargetBucket="ue-test-memorydb-export",
    )
    assert {
        ("s3:GetBucketLocation", "arn:aws:s3:::ue-test-memorydb-export"),
        ("s3:ListAllMyBuckets", "*"),
    } <= needed(export)
    assert not denied([export], config=FULL)
    elsewhere = {**export, "params": {**export["params"], "TargetBucket": "someone-else"}}
    assert denied([elsewhere], config=FULL) == {"s3:GetBucketLocation"}
    mount = request(
        "efs",
        "CreateMountTarget",
        FileSystemId="fs-1",
        SubnetId="subnet-1",
        SecurityGroups=["sg-1"],
    )
    assert {
        ("ec2:DescribeSubnets", "*"),
        ("ec2:CreateNetworkInterface", arn("ec2", "subnet/subnet-1")),
        ("ec2:CreateNetworkInterface", arn("ec2", "security-group/sg-1")),
    } <= needed(mount)
    assert not denied([mount])


def test_the_copy_key_is_granted_to_rds_only():
    copy_request = in_region(
        COPY_REGION,
        request(
            "rds",
            "CopyDBSnapshot",
            SourceDBSnapshotIdentifier=arn("rds", f"snapshot:{SNAPSHOT}"),
            TargetDBSnapshotIdentifier=SNAPSHOT,
            KmsKeyId=KEY,
            Tags=SET_TAGS,
        ),
    )
    (grant,) = [r for r in iam.requirements(copy_request, ACCOUNT) if r.action == "kms:CreateGrant"]
    assert dict(grant.keys)["kms:ViaService"] == f"rds.{COPY_REGION}.amazonaws.com"
    assert not denied([copy_request], config=FULL)
    policy = rendered(config=FULL)
    assert iam.allows(policy, grant)
    assert not iam.allows(policy, iam.Requirement("kms:CreateGrant", KEY))  # not through RDS
    other_key = iam.Requirement("kms:CreateGrant", KEY[:-1] + "6", keys=grant.keys)
    assert not iam.allows(policy, other_key)


def test_alerts_go_to_the_configured_topic_only():
    publish = request("sns", "Publish", TargetArn=TOPIC, Message="m")
    assert not denied([publish], config=FULL)
    assert denied([publish]) == {"sns:Publish"}  # no alerts section: no statement
    elsewhere = request("sns", "Publish", TargetArn=TOPIC + "-2", Message="m")
    assert denied([elsewhere], config=FULL) == {"sns:Publish"}


def test_a_policy_too_large_for_a_role_is_split_into_managed_policies(tmp_path):
    full = rendered(config=FULL)
    assert policy_size(full) > INLINE_POLICY_LIMIT  # copies, a drill and alerts: too large
    parts = split_policy(full)
    assert len(parts) > 1
    assert all(policy_size(part) <= MANAGED_POLICY_LIMIT for part in parts)
    assert [s for part in parts for s in part["Statement"]] == full["Statement"]
    assert {part["Version"] for part in parts} == {"2012-10-17"}
    with pytest.raises(ValueError, match="alone exceeds"):
        split_policy(full, limit=100)

    config = tmp_path / "installation.yaml"
    config.write_text(yaml.safe_dump(FULL))
    out = tmp_path / "policies"
    command = ["include/render.py", "iam", "--config", str(config), "--account-id", ACCOUNT]
    done = subprocess.run(
        [sys.executable, *command, "--out-dir", str(out)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    written = sorted(out.glob("ue-backup-*.json"))
    assert [str(p) for p in written] == done.stdout.split()
    assert [json.loads(p.read_text()) for p in written] == parts


def test_the_rpo_guard_publishes_to_its_namespace_and_keeps_its_own_alarms_only():
    guarded = {**FULL, "schedule": "0 2 * * *"}
    metric = request("cloudwatch", "PutMetricData", Namespace="UeBackup", MetricData=[])
    alarm = request("cloudwatch", "PutMetricAlarm", AlarmName="ue-backup-rpo-ue-test-eu-west-1")
    copy_alarm = request(
        "cloudwatch", "DescribeAlarms", AlarmNames=[f"ue-backup-rpo-ue-test-{COPY_REGION}"]
    )
    assert not denied([metric, alarm, copy_alarm], config=guarded)
    other_namespace = request("cloudwatch", "PutMetricData", Namespace="Other", MetricData=[])
    assert denied([other_namespace], config=guarded) == {"cloudwatch:PutMetricData"}
    other = request("cloudwatch", "PutMetricAlarm", AlarmName="ue-backup-rpo-ue-test-2-eu-west-1")
    assert denied([other], config=guarded) == {"cloudwatch:PutMetricAlarm"}
    every = request("cloudwatch", "DescribeAlarms")
    assert denied([every], config=guarded) == {"cloudwatch:DescribeAlarms"}
    # No schedule and no rpo section: the guard is off, and so are its permissions.
    assert not {a for a in iam.allowed_actions(rendered(config=FULL)) if "cloudwatch" in a}
