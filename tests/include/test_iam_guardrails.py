"""include/iam's guardrails: the requests that would destroy or re-point what ue-backup
protects are refused by explicit Deny statements, whatever an Allow says.

IAM's evaluation logic (an explicit deny wins over any allow) is ``iam.allows``.
Each dangerous request must be denied *explicitly* (``iam.explicitly_denied``): a
request that is merely not allowed today becomes allowed by the next edit that
adds an action for another reason; a Deny statement stops it.
"""

from __future__ import annotations

import copy

import pytest

from tests.include import iam
from tests.include.support import iam_template
from tests.include.test_iam_policy import (
    ACCOUNT,
    CONFIG,
    COPY_REGION,
    DATASYNC_EFS,
    FULL,
    REGION,
    arn,
    rendered,
)

LIVE_FS = CONFIG["efs"]["file_system_id"]
TARGET_FS = DATASYNC_EFS["datasync"]["target_file_system_id"]
TASK = DATASYNC_EFS["datasync"]["task_arn"]
COPY_VAULT = FULL["cross_region"]["backup_vault_arn"]
BUCKET = CONFIG["manifests"]["bucket"]

# What the live file system (and the DataSync target) must never suffer from this role.
EFS_DESTROY = (
    "elasticfilesystem:CreateMountTarget",  # a door into the live data from any subnet
    "elasticfilesystem:CreateReplicationConfiguration",
    "elasticfilesystem:DeleteFileSystem",
    "elasticfilesystem:DeleteFileSystemPolicy",
    "elasticfilesystem:DeleteMountTarget",
    "elasticfilesystem:ModifyMountTargetSecurityGroups",
    "elasticfilesystem:PutBackupPolicy",
    "elasticfilesystem:PutFileSystemPolicy",
    "elasticfilesystem:PutLifecycleConfiguration",
    "elasticfilesystem:UpdateFileSystem",
    "elasticfilesystem:UpdateFileSystemProtection",
)


def _efs(file_system: str) -> list[tuple[str, str]]:
    return [(a, arn("elasticfilesystem", f"file-system/{file_system}")) for a in EFS_DESTROY]


def _in(region: str, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


# (action, resource) of every dangerous request, per rendered installation.
DANGEROUS = {
    "full": [
        ("rds:DeleteDBInstance", arn("rds", "db:ue-test-db")),
        ("rds:StopDBInstance", arn("rds", "db:ue-test-db")),
        ("rds:DeleteDBInstanceAutomatedBackup", arn("rds", "auto-backup:ab-0123")),
        *_efs(LIVE_FS),
        ("memorydb:DeleteCluster", arn("memorydb", "cluster/ue-test-agg")),
        ("memorydb:UpdateCluster", arn("memorydb", "cluster/ue-test-agg")),
        *(
            (action, vault)
            for vault in (arn("backup", "backup-vault:ue-test-vault"), COPY_VAULT)
            for action in (
                "backup:DeleteBackupVault",
                "backup:DeleteBackupVaultAccessPolicy",
                "backup:DeleteBackupVaultLockConfiguration",
                "backup:PutBackupVaultAccessPolicy",
                "backup:PutBackupVaultLockConfiguration",
            )
        ),
        *(
            (action, _in(region, "backup", "recovery-point:0123"))
            for region in (REGION, COPY_REGION)
            for action in (
                "backup:UpdateRecoveryPointLifecycle",
                "backup:DisassociateRecoveryPoint",
            )
        ),
        *(
            (action, f"arn:aws:s3:::{BUCKET}")
            for action in (
                "s3:DeleteBucket",
                "s3:DeleteBucketPolicy",
                "s3:PutBucketAcl",
                "s3:PutBucketObjectLockConfiguration",
                "s3:PutBucketPolicy",
                "s3:PutBucketVersioning",
                "s3:PutLifecycleConfiguration",
            )
        ),
        ("s3:DeleteObjectVersion", f"arn:aws:s3:::{BUCKET}/ue-test/ue-test-20260101t000000z.json"),
        ("s3:BypassGovernanceRetention", f"arn:aws:s3:::{BUCKET}/ue-test/x.json"),
    ],
    "datasync": [
        *_efs(LIVE_FS),
        *_efs(TARGET_FS),
        ("datasync:DeleteTask", TASK),
        ("datasync:UpdateTask", TASK),
    ],
}
CONFIGS = {"full": FULL, "datasync": {**FULL, "efs": DATASYNC_EFS}}


def _dangerous(name: str) -> list[iam.Requirement]:
    return [
        iam.Requirement(action, resource, source="attack") for action, resource in DANGEROUS[name]
    ]


@pytest.mark.parametrize("name", sorted(DANGEROUS))
def test_every_dangerous_request_is_denied_explicitly(name):
    policy = rendered(config=CONFIGS[name])
    allowed = [r.describe() for r in _dangerous(name) if iam.allows(policy, r)]
    assert allowed == []
    not_guarded = [r.describe() for r in _dangerous(name) if not iam.explicitly_denied(policy, r)]
    assert not_guarded == [], "denied today only because nothing allows them yet"


def test_an_explicit_deny_wins_over_the_allows_the_restore_and_drill_need():
    """The drill deletes the file systems it restored (any id: AWS Backup names them), so an
    Allow covers the live one too; only the Deny keeps the live file system."""
    policy = rendered(config=FULL)
    delete_live = iam.Requirement(
        "elasticfilesystem:DeleteFileSystem", arn("elasticfilesystem", f"file-system/{LIVE_FS}")
    )
    delete_restored = iam.Requirement(
        "elasticfilesystem:DeleteFileSystem", arn("elasticfilesystem", "file-system/fs-0aaaa")
    )
    allows_only = {
        **policy,
        "Statement": [s for s in policy["Statement"] if s["Effect"] == "Allow"],
    }
    assert iam.allows(allows_only, delete_live)  # what an Allow alone would let through
    assert not iam.allows(policy, delete_live)
    assert iam.allows(policy, delete_restored)


def test_each_deny_statement_guards_some_dangerous_request():
    """No Deny statement is decoration: each one is what refuses a request of DANGEROUS."""
    policies = {name: rendered(config=config) for name, config in CONFIGS.items()}
    unexercised = []
    for statement in iam_template()["Statement"]:
        if statement["Effect"] != "Deny":
            continue
        hits = 0
        for name, policy in policies.items():
            only = [s for s in policy["Statement"] if s.get("Sid") == statement["Sid"]]
            if not only:
                continue
            guard = {**policy, "Statement": only}
            hits += sum(iam.explicitly_denied(guard, r) for r in _dangerous(name))
        if not hits:
            unexercised.append(statement["Sid"])
    assert unexercised == []


@pytest.mark.parametrize(
    "sid",
    [
        "EfsGuardTheLiveFileSystem",
        "RdsGuardTheLiveInstance",
        "MemoryDbGuardTheLiveCluster",
        "S3GuardTheManifestBucket",
    ],
)
def test_removing_a_deny_statement_is_caught(sid):
    template = copy.deepcopy(iam_template())
    template["Statement"] = [s for s in template["Statement"] if s["Sid"] != sid]
    policy = rendered(template=template, config=FULL)
    assert [r for r in _dangerous("full") if not iam.explicitly_denied(policy, r)]


def test_the_deny_statements_are_unconditional_and_name_their_resources():
    """A condition on a Deny is a way around it (a tag the attacker sets, a key absent
    from the request); a Deny on '*' would stop the role's own work."""
    for statement in iam_template()["Statement"]:
        if statement["Effect"] == "Deny":
            assert "Condition" not in statement, statement["Sid"]
            assert "*" not in statement["Resource"], statement["Sid"]
