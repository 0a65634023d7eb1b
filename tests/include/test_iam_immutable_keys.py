"""The KMS permissions the protected copies' key checks and an encrypted restore need.

Preflight (and a restore or drill from the protected copies) describes the keys: the
installation's own (the instance's, its vault's) and the locked vault's, in the
protected account, through the Airflow role; the installation's instance key through
the protected role. Restoring an encrypted snapshot makes RDS read its key and make a
grant on it, as the caller (``iam.KEY_USES``; the sandbox's request log names the key).
The recording checks (test_iam_policy, test_iam_immutable_policy) say these requests are
allowed and every action used; these say how far the statements reach, and no further.
"""

from __future__ import annotations

from tests.include import iam
from tests.include.support import ACCOUNT
from tests.include.test_iam_immutable_policy import LOCKED, PROTECTED, protected
from tests.include.test_iam_immutable_policy import denied as denied_for
from tests.include.test_iam_policy import CONFIG, REGION, rendered

KEY_ID = "11111111-2222-3333-4444-555555555555"
OWN_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
LOCKED_KEY = f"arn:aws:kms:{REGION}:{PROTECTED}:key/{KEY_ID}"
THIRD_KEY = f"arn:aws:kms:{REGION}:999988887777:key/{KEY_ID}"
OTHER_REGION_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}"


def home(operation: str, service: str, **params) -> dict:
    """A request of the Airflow role (the installation's account)."""
    return {**protected(operation, service, **params), "account": ACCOUNT}


def denied(requests: list[dict], config: dict = LOCKED) -> set[str]:
    return denied_for(requests, config)


def test_the_airflow_role_describes_its_own_keys_and_the_locked_vaults():
    reads = [home("DescribeKey", "kms", KeyId=key) for key in (OWN_KEY, LOCKED_KEY)]
    assert not denied(reads)
    for key in (THIRD_KEY, OTHER_REGION_KEY):
        assert denied([home("DescribeKey", "kms", KeyId=key)]) == {"kms:DescribeKey"}, key
    # without the immutable section nothing reads the keys directly
    assert denied(reads, config=CONFIG) == {"kms:DescribeKey"}


def test_the_protected_role_describes_only_the_installations_keys():
    read = protected("DescribeKey", "kms", KeyId=OWN_KEY)
    assert not denied([read])
    for key in (LOCKED_KEY, THIRD_KEY, OTHER_REGION_KEY):
        assert denied([protected("DescribeKey", "kms", KeyId=key)]) == {"kms:DescribeKey"}, key


def _restore(key: str) -> dict:
    request = home(
        "RestoreDBInstanceFromDBSnapshot",
        "rds",
        DBInstanceIdentifier="ue-test-r260101000000",
        DBSnapshotIdentifier=f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:awsbackup:copyjob-1",
        Tags=[
            {"Key": "ue-backup:installation", "Value": "ue-test"},
            {"Key": "ue-backup:restore", "Value": "ue-test-r260101000000"},
        ],
    )
    return {**request, "kms_key": key}


def test_a_restore_from_an_encrypted_snapshot_needs_a_grant_through_rds_on_its_key():
    grants = [
        r for r in iam.requirements(_restore(OWN_KEY), ACCOUNT) if r.action.startswith("kms:")
    ]
    assert {(r.action, r.resource, dict(r.keys).get("kms:ViaService")) for r in grants} == {
        ("kms:CreateGrant", OWN_KEY, f"rds.{REGION}.amazonaws.com"),
        ("kms:DescribeKey", OWN_KEY, f"rds.{REGION}.amazonaws.com"),
    }
    [grant] = [r for r in grants if r.action == "kms:CreateGrant"]
    assert dict(grant.keys)["kms:GrantIsForAWSResource"] is True
    assert not {a for a in denied([_restore(OWN_KEY)]) if a.startswith("kms:")}
    # rendered with the immutable section only, whose restores come from an encrypted copy
    # (a home restore of a customer-key instance has the same need: see include/iam/README)
    assert {a for a in denied([_restore(OWN_KEY)], config=CONFIG) if a.startswith("kms:")} == {
        "kms:CreateGrant",
        "kms:DescribeKey",
    }
    # no grant on another account's key (the locked copy is restored only once it is home;
    # describing the locked vault's key is preflight's read, allowed however it comes)
    assert {a for a in denied([_restore(LOCKED_KEY)]) if a.startswith("kms:")} == {
        "kms:CreateGrant"
    }
    assert {a for a in denied([_restore(THIRD_KEY)]) if a.startswith("kms:")} == {
        "kms:CreateGrant",
        "kms:DescribeKey",
    }
    # an unencrypted snapshot: no key, no KMS permission needed
    assert not [r for r in iam.requirements(_restore(""), ACCOUNT) if r.action.startswith("kms:")]


def test_the_grant_is_allowed_only_through_rds_for_an_aws_resource():
    rds = f"rds.{REGION}.amazonaws.com"
    policy = rendered(config=LOCKED)
    allowed = iam.Requirement(
        "kms:CreateGrant",
        OWN_KEY,
        keys=(("kms:ViaService", rds), ("kms:GrantIsForAWSResource", True)),
    )
    assert iam.allows(policy, allowed)
    for keys in (
        (),  # called directly, not through a service
        (("kms:ViaService", rds), ("kms:GrantIsForAWSResource", False)),
        (("kms:ViaService", f"ec2.{REGION}.amazonaws.com"), ("kms:GrantIsForAWSResource", True)),
    ):
        assert not iam.allows(policy, iam.Requirement("kms:CreateGrant", OWN_KEY, keys=keys)), keys
