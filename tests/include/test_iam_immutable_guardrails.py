"""The protected role's guardrails: whatever someone later allows it, the requests that
would weaken the immutable copies' protection are refused by explicit Deny statements.

The role only reads today, so every dangerous request is already not allowed; what these
tests require is that each is *explicitly* denied (``iam.explicitly_denied``), so that
an Allow added tomorrow (a wide one included) cannot let it through: IAM's explicit
deny wins over every allow (``iam.allows``).
"""

from __future__ import annotations

import copy

import pytest

from tests.include import iam
from tests.include.support import immutable_policy, immutable_template
from tests.include.test_iam_immutable_policy import BUCKET, LOCKED, PROTECTED, ROLE, VAULT
from tests.include.test_iam_policy import REGION

OTHER_REGION = "us-east-1"


def _arn(service: str, resource: str, region: str = REGION) -> str:
    return f"arn:aws:{service}:{region}:{PROTECTED}:{resource}"


VAULTS = (_arn("backup", f"backup-vault:{VAULT}"), _arn("backup", "backup-vault:old", OTHER_REGION))
VAULT_DESTROY = (
    "backup:DeleteBackupVault",
    "backup:DeleteBackupVaultAccessPolicy",  # and with it the home account's grant
    "backup:DeleteBackupVaultLockConfiguration",  # possible in governance mode or grace time
    "backup:PutBackupVaultAccessPolicy",  # e.g. a grant to delete for another account
    "backup:PutBackupVaultLockConfiguration",  # e.g. a shorter MaxRetentionDays
)
# An EFS copy, and a database copy as AWS Backup keeps RDS recovery points.
POINTS = (
    _arn("backup", "recovery-point:24F1502F-0EF1-430D-8847"),
    _arn("rds", "snapshot:awsbackup:job-0123", OTHER_REGION),
)
POINT_DESTROY = (
    "backup:DeleteRecoveryPoint",
    "backup:DisassociateRecoveryPoint",
    "backup:DisassociateRecoveryPointFromParent",
    "backup:UpdateRecoveryPointLifecycle",  # a shorter retention
)
BUCKET_DESTROY = (
    "s3:DeleteBucket",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutBucketObjectLockConfiguration",  # a shorter or governance-mode default
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",  # a key held elsewhere
    "s3:PutLifecycleConfiguration",
    "s3:PutReplicationConfiguration",
)
OBJECT_DESTROY = (
    "s3:BypassGovernanceRetention",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutObjectLegalHold",
)
KEY_DESTROY = (  # a copy whose key is gone is gone, however locked
    "kms:DeleteImportedKeyMaterial",
    "kms:DisableKey",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
)
ROLE_WIDEN = (
    "iam:AttachRolePolicy",
    "iam:DeleteRolePermissionsBoundary",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:UpdateAssumeRolePolicy",
)

DANGEROUS = [
    *((action, vault) for vault in VAULTS for action in VAULT_DESTROY),
    *((action, point) for point in POINTS for action in POINT_DESTROY),
    *((action, f"arn:aws:s3:::{BUCKET}") for action in BUCKET_DESTROY),
    *(
        (action, f"arn:aws:s3:::{BUCKET}/ue-backup/ue-test/manifest.json")
        for action in OBJECT_DESTROY
    ),
    *((action, _arn("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab")) for action in KEY_DESTROY),
    *((action, ROLE) for action in ROLE_WIDEN),
    # the role AWS Backup runs as to copy points back home, which this role passes to it
    *((action, LOCKED["immutable"]["backup_role_arn"]) for action in ROLE_WIDEN),
]


def _dangerous() -> list[iam.Requirement]:
    return [iam.Requirement(action, resource, source="attack") for action, resource in DANGEROUS]


def _deny_sids() -> list[str]:
    return [s["Sid"] for s in immutable_template()["Statement"] if s["Effect"] == "Deny"]


def test_every_dangerous_request_in_the_protected_account_is_denied_explicitly():
    policy = immutable_policy(LOCKED)
    assert [r.describe() for r in _dangerous() if iam.allows(policy, r)] == []
    not_guarded = [r.describe() for r in _dangerous() if not iam.explicitly_denied(policy, r)]
    assert not_guarded == [], "denied today only because nothing allows them yet"


def test_an_allow_added_later_does_not_undo_the_guardrails():
    """Even an Allow of every dangerous action on every resource changes nothing."""
    policy = immutable_policy(LOCKED)
    everything = {
        "Sid": "ProtectedSomeoneAddsTooMuch",
        "Effect": "Allow",
        "Action": sorted({action for action, _ in DANGEROUS}),
        "Resource": ["*"],
    }
    widened = {**policy, "Statement": [*policy["Statement"], everything]}
    alone = {**policy, "Statement": [everything]}
    assert all(iam.allows(alone, r) for r in _dangerous())  # what the Allow would let through
    assert [r.describe() for r in _dangerous() if iam.allows(widened, r)] == []


def test_each_deny_statement_guards_some_dangerous_request():
    policy = immutable_policy(LOCKED)
    unexercised = []
    for sid in _deny_sids():
        guard = {**policy, "Statement": [s for s in policy["Statement"] if s["Sid"] == sid]}
        if not any(iam.explicitly_denied(guard, r) for r in _dangerous()):
            unexercised.append(sid)
    assert unexercised == []


@pytest.mark.parametrize("sid", _deny_sids())
def test_removing_a_deny_statement_is_caught(sid):
    template = copy.deepcopy(immutable_template())
    template["Statement"] = [s for s in template["Statement"] if s["Sid"] != sid]
    policy = immutable_policy(LOCKED, template)
    assert [r for r in _dangerous() if not iam.explicitly_denied(policy, r)]


def test_the_deny_statements_have_no_way_around_them():
    """No condition (a key the caller controls, or one absent from the request, would let
    a request slip past) and no "*" resource."""
    for statement in immutable_template()["Statement"]:
        if statement["Effect"] == "Deny":
            assert "Condition" not in statement, statement["Sid"]
            assert "*" not in statement["Resource"], statement["Sid"]
