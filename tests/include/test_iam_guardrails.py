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
EXPORT_BUCKET = FULL["cross_region"]["memorydb_export_bucket"]
COPY_BUCKET = FULL["cross_region"]["memorydb_bucket"]

# What the live file system (and the DataSync target) must never suffer from this role.
EFS_DESTROY = (
    "elasticfilesystem:CreateAccessPoint",  # a door into the live data
    "elasticfilesystem:CreateMountTarget",  # a door into the live data from any subnet
    "elasticfilesystem:CreateReplicationConfiguration",
    "elasticfilesystem:DeleteFileSystem",
    "elasticfilesystem:DeleteFileSystemPolicy",
    "elasticfilesystem:DeleteMountTarget",
    "elasticfilesystem:DeleteReplicationConfiguration",
    "elasticfilesystem:ModifyMountTargetSecurityGroups",
    "elasticfilesystem:PutBackupPolicy",
    "elasticfilesystem:PutFileSystemPolicy",
    "elasticfilesystem:PutLifecycleConfiguration",
    "elasticfilesystem:UpdateFileSystem",
    "elasticfilesystem:UpdateFileSystemProtection",
)
BUCKET_DESTROY = (
    "s3:DeleteBucket",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPolicy",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",  # ransomware's move: a key held elsewhere
    "s3:PutLifecycleConfiguration",
    "s3:PutReplicationConfiguration",
)
OBJECT_DESTROY = (
    "s3:BypassGovernanceRetention",
    "s3:DeleteObjectVersion",
    "s3:PutObjectLegalHold",
    "s3:PutObjectRetention",
)


def _efs(file_system: str) -> list[tuple[str, str]]:
    return [(a, arn("elasticfilesystem", f"file-system/{file_system}")) for a in EFS_DESTROY]


def _in(region: str, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


PROTECTED = {"ue-backup:protected": "true"}
# The live instance renamed to a drill's name and tagged as the drill's copy: what the
# drill's own delete statement would then allow (outside review of the first guardrails).
DISGUISED = arn("rds", "db:ue-test-drill-260101000000")
DISGUISED_TAGS = {
    **PROTECTED,
    "ue-backup:drill": "ue-test-drill-260101000000",
    "ue-backup:installation": "ue-test",
}

# (action, resource[, the resource's tags[, the request's tags]]) of every dangerous
# request, per rendered installation.
DANGEROUS = {
    "full": [
        ("rds:DeleteDBInstance", arn("rds", "db:ue-test-db")),
        ("rds:StopDBInstance", arn("rds", "db:ue-test-db")),
        ("rds:DeleteDBInstance", arn("rds", "db:ue-test-db-replaced-r260101000000")),
        ("rds:DeleteDBInstance", DISGUISED, DISGUISED_TAGS),
        ("rds:StopDBInstance", arn("rds", "db:any-name"), PROTECTED),
        ("rds:RemoveTagsFromResource", arn("rds", "db:ue-test-db"), PROTECTED, PROTECTED),
        ("rds:AddTagsToResource", arn("rds", "db:ue-test-r260101000000-db"), {}, PROTECTED),
        ("rds:ModifyDBSnapshotAttribute", arn("rds", "snapshot:ueb-ue-test-20260101t000000z")),
        ("rds:ModifyDBSnapshotAttribute", _in(COPY_REGION, "rds", "snapshot:ueb-x")),
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
            (action, f"arn:aws:s3:::{bucket}")
            for bucket in (BUCKET, EXPORT_BUCKET, COPY_BUCKET)
            for action in BUCKET_DESTROY
        ),
        *(
            (action, f"arn:aws:s3:::{key}")
            for key in (f"{BUCKET}/ue-test/ue-test-20260101t000000z.json", f"{COPY_BUCKET}/ueb-x")
            for action in OBJECT_DESTROY
        ),
    ],
    "datasync": [
        *_efs(LIVE_FS),
        *_efs(TARGET_FS),
        ("datasync:DeleteTask", TASK),
        ("datasync:UpdateTask", TASK),
    ],
}
# With the immutable section and MemoryDB: the staging bucket MemoryDB exports to at home.
STAGING_BUCKET = "ue-test-memorydb-staging"
LOCKED = {
    **FULL,
    "immutable": {
        "account_id": "222233334444",
        "role_arn": "arn:aws:iam::222233334444:role/ue-backup-immutable",
        "backup_role_arn": "arn:aws:iam::222233334444:role/ue-backup-immutable-aws-backup",
        "backup_vault_name": "ue-test-locked",
        "bucket": "ue-test-locked-artifacts",
        "memorydb_export_bucket": STAGING_BUCKET,
    },
}
DANGEROUS["immutable"] = [(a, f"arn:aws:s3:::{STAGING_BUCKET}") for a in BUCKET_DESTROY]
CONFIGS = {"full": FULL, "datasync": {**FULL, "efs": DATASYNC_EFS}, "immutable": LOCKED}


def _dangerous(name: str) -> list[tuple[iam.Requirement, dict]]:
    """Each dangerous request as a requirement, with the tags its resource carries."""
    found = []
    for action, resource, *tags in DANGEROUS[name]:
        resource_tags, request_tags = (*tags, None, None)[:2]
        requirement = iam.Requirement(action, resource, request_tags, source="attack")
        found.append((requirement, {resource: resource_tags} if resource_tags else {}))
    return found


def _allows_only(policy: dict) -> dict:
    return {**policy, "Statement": [s for s in policy["Statement"] if s["Effect"] == "Allow"]}


@pytest.mark.parametrize("name", sorted(DANGEROUS))
def test_every_dangerous_request_is_denied_explicitly(name):
    policy = rendered(config=CONFIGS[name])
    allowed = [r.describe() for r, tags in _dangerous(name) if iam.allows(policy, r, tags)]
    assert allowed == []
    not_guarded = [
        r.describe() for r, tags in _dangerous(name) if not iam.explicitly_denied(policy, r, tags)
    ]
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
    assert iam.allows(_allows_only(policy), delete_live)  # what an Allow alone lets through
    assert not iam.allows(policy, delete_live)
    assert iam.allows(policy, delete_restored)


def test_the_live_instance_renamed_and_tagged_as_a_drill_copy_cannot_be_deleted():
    """The rename is allowed (the in-place switch-over renames the live instance) and the
    drill's statement allows deleting a drill-named, drill-tagged instance: only the
    protection tag, which follows the instance through the rename, stops the delete."""
    policy = rendered(config=FULL)
    rename = iam.Requirement("rds:ModifyDBInstance", arn("rds", "db:ue-test-db"))
    delete = iam.Requirement("rds:DeleteDBInstance", DISGUISED)
    assert iam.allows(policy, rename)
    assert iam.allows(_allows_only(policy), delete, {DISGUISED: DISGUISED_TAGS})
    assert not iam.allows(policy, delete, {DISGUISED: DISGUISED_TAGS})
    drill_copy = {k: v for k, v in DISGUISED_TAGS.items() if k != "ue-backup:protected"}
    assert iam.allows(policy, delete, {DISGUISED: drill_copy})  # a real drill copy: deleted


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
            hits += sum(iam.explicitly_denied(guard, r, tags) for r, tags in _dangerous(name))
        if not hits:
            unexercised.append(statement["Sid"])
    assert unexercised == []


@pytest.mark.parametrize(
    "sid",
    [
        "EfsGuardTheLiveFileSystem",
        "RdsGuardTheLiveInstance",
        "RdsGuardProtectedInstances",
        "RdsGuardTheProtectionTag",
        "MemoryDbGuardTheLiveCluster",
        "S3GuardTheManifestBucket",
        "S3LockedGuardTheStagingBucket",
    ],
)
def test_removing_a_deny_statement_is_caught(sid):
    template = copy.deepcopy(iam_template())
    template["Statement"] = [s for s in template["Statement"] if s["Sid"] != sid]
    name = "immutable" if sid.startswith("S3Locked") else "full"
    policy = rendered(template=template, config=CONFIGS[name])
    assert [r for r, tags in _dangerous(name) if not iam.explicitly_denied(policy, r, tags)]


# The only keys a Deny may be conditioned on: a tag the role can neither set nor remove
# (RdsGuardTheProtectionTag denies both), and the tag keys of a tagging request.
GUARDED_KEYS = {"aws:ResourceTag/ue-backup:protected", "aws:TagKeys"}


def test_the_deny_statements_are_conditioned_only_on_what_the_role_cannot_change():
    """A condition on a Deny is a way around it when the attacker controls its key (a tag
    the role may set, a key absent from the request); a Deny on '*' would stop the role's
    own work."""
    template = iam_template()
    for statement in template["Statement"]:
        if statement["Effect"] == "Deny":
            keys = {k for tests in (statement.get("Condition") or {}).values() for k in tests}
            assert keys <= GUARDED_KEYS, statement["Sid"]
            assert "*" not in statement["Resource"], statement["Sid"]
    tag_guard = next(s for s in template["Statement"] if s["Sid"] == "RdsGuardTheProtectionTag")
    assert set(tag_guard["Action"]) == {"rds:AddTagsToResource", "rds:RemoveTagsFromResource"}
