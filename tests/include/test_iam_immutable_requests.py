"""What the immutable copies' newer requests may reach, on both sides, and no further.

The backup DAG exports MemoryDB's snapshot to a staging bucket at home
(``immutable.memorydb_export_bucket``) and locks its files in the protected
bucket; ``ue_restore`` with ``source: immutable`` reads the locked vault and
manifests, copies the chosen points back into the installation's vault (a copy
job started in the protected account as its AWS Backup role) and restores them
at home. The recording checks (test_iam_policy, test_iam_immutable_policy) say
these requests are allowed and every action used; these say what the statements
refuse: another installation's files, another role, a copy elsewhere.
"""

from __future__ import annotations

import json

from include.render import immutable_values, render_immutable
from tests.include import iam
from tests.include.recorder import Recording
from tests.include.support import ACCOUNT, policy_for
from tests.include.test_iam_immutable_policy import (
    BACKUP_ROLE,
    BUCKET,
    LOCKED,
    PROTECTED,
    VAULT,
    point,
    protected,
)
from tests.include.test_iam_policy import CONFIG, REGION

SET = "ue-test-20260101t000000z"
STAGING = "ue-test-memorydb-staging"
# An installation with MemoryDB whose snapshot is locked too: its staging bucket at home.
WITH_MEMORYDB = {**LOCKED, "memorydb": CONFIG["memorydb"]}
WITH_MEMORYDB["immutable"] = {**LOCKED["immutable"], "memorydb_export_bucket": STAGING}
HOME_VAULT_NAME = CONFIG["efs"]["aws_backup"]["vault_name"]
HOME_VAULT = f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:{HOME_VAULT_NAME}"


def home(operation: str, service: str, **params) -> dict:
    """A request of the Airflow role (the installation's account)."""
    return {**protected(operation, service, **params), "account": ACCOUNT}


def denied(requests: list[dict], config: dict = WITH_MEMORYDB) -> set[str]:
    recording = Recording(requests, [config], {})
    verdict = iam.evaluate(requests, policy_for(recording), set(), ACCOUNT)
    return {d.action for d in verdict.denied}


# --- at home: MemoryDB's staging bucket ------------------------------------------------------


def test_the_airflow_role_exports_the_sets_snapshot_to_the_staging_bucket():
    export = home(
        "CopySnapshot",
        "memorydb",
        SourceSnapshotName=f"ueb-{SET}",
        TargetSnapshotName=f"ueb-{SET}",
        TargetBucket=STAGING,
    )
    # MemoryDB's own dependencies of an export: the bucket's location, the bucket list
    assert {r.action for r in iam.requirements(export, ACCOUNT)} == {
        "memorydb:CopySnapshot",
        "s3:GetBucketLocation",
        "s3:ListAllMyBuckets",
    }
    assert not denied([export])
    other = {**export, "params": {**export["params"], "SourceSnapshotName": "manual-1"}}
    assert denied([other]) == {"memorydb:CopySnapshot"}
    # without a staging bucket (no MemoryDB locked) no statement of it is rendered
    assert denied([export], config=LOCKED) == {
        "memorydb:CopySnapshot",
        "s3:GetBucketLocation",
        "s3:ListAllMyBuckets",
    }


def test_the_airflow_role_reads_lists_and_deletes_only_the_sets_staged_files():
    rdb = f"ueb-{SET}-0001.rdb"
    mine = [
        home("ListObjectsV2", "s3", Bucket=STAGING, Prefix=f"ueb-{SET}-"),
        home("GetObject", "s3", Bucket=STAGING, Key=rdb, IfMatch='"etag"'),
        home("DeleteObject", "s3", Bucket=STAGING, Key=rdb),
    ]
    assert not denied(mine)
    theirs = [
        home("ListObjectsV2", "s3", Bucket=STAGING),  # the whole bucket: no prefix
        home("ListObjectsV2", "s3", Bucket=STAGING, Prefix="ueb-ue-other-"),
        home("GetObject", "s3", Bucket=STAGING, Key="ueb-ue-other-20260101t000000z-0001.rdb"),
        home("DeleteObject", "s3", Bucket=STAGING, Key="someone-elses.rdb"),
    ]
    for request in theirs:
        assert denied([request]), request["params"]


# --- at home: the restore from the protected copies ------------------------------------------


def test_a_restore_stages_the_locked_rdb_files_under_its_own_id_only():
    """bring_back_locked_copies writes each locked .rdb file to the staging bucket under
    ue-backup-restores/<restore id>/ (a retry reads it back first), and MemoryDB seeds the
    cluster from there, which the caller must be able to read."""
    key = f"ue-backup-restores/ue-test-r260101000000/ueb-{SET}-0001.rdb"
    staged = [
        home("HeadObject", "s3", Bucket=STAGING, Key=key),
        home("PutObject", "s3", Bucket=STAGING, Key=key),
    ]
    assert not denied(staged)
    seeded = home(
        "CreateCluster",
        "memorydb",
        ClusterName="ue-test-r260101000000-agg",
        SnapshotArns=[f"arn:aws:s3:::{STAGING}/{key}"],
        Tags=[
            {"Key": "ue-backup:installation", "Value": "ue-test"},
            {"Key": "ue-backup:restore", "Value": "ue-test-r260101000000"},
        ],
    )
    assert ("s3:GetObject", f"arn:aws:s3:::{STAGING}/{key}") in {
        (r.action, r.resource) for r in iam.requirements(seeded, ACCOUNT)
    }
    assert not denied([seeded])
    for other in ("ue-backup-restores/ue-other-r260101000000/x.rdb", "elsewhere/x.rdb"):
        assert denied([home("PutObject", "s3", Bucket=STAGING, Key=other)]) == {"s3:PutObject"}


def test_the_airflow_role_copies_its_installations_points_into_the_locked_vault_only():
    tagged = f"arn:aws:backup:{REGION}:{ACCOUNT}:recovery-point:0001"
    copy = home(
        "StartCopyJob",
        "backup",
        RecoveryPointArn=tagged,
        SourceBackupVaultName="ue-test-vault",
        DestinationBackupVaultArn=f"arn:aws:backup:{REGION}:{PROTECTED}:backup-vault:{VAULT}",
        IamRoleArn=CONFIG["efs"]["aws_backup"]["iam_role_arn"],
    )
    # the point's tags, as a tag listing's answer reports them (the check's source for them)
    seen = {
        **home("ListTags", "backup", ResourceArn=tagged),
        "tags": {"ue-backup:installation": "ue-test"},
    }
    assert not denied([seen, copy])
    assert "backup:StartCopyJob" in denied([copy])  # a point without the installation's tag


def test_a_brought_back_database_snapshot_restores_side_by_side_only_with_the_restore_tag():
    def restore(snapshot: str, tags: list[dict] | None) -> dict:
        params = {"DBInstanceIdentifier": "ue-test-r260101000000-db"}
        params["DBSnapshotIdentifier"] = snapshot
        return home("RestoreDBInstanceFromDBSnapshot", "rds", **params, Tags=tags or [])

    back = f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:awsbackup:copyjob-0123"
    tags = [{"Key": "ue-backup:restore", "Value": "ue-test-r260101000000"}]
    assert not denied([restore(back, tags)])
    assert "rds:RestoreDBInstanceFromDBSnapshot" in denied([restore(back, None)])
    live = f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:someone-elses"
    assert "rds:RestoreDBInstanceFromDBSnapshot" in denied([restore(live, tags)])


# --- in the protected account: reading the locked copies, copying them back ---------------


def test_the_protected_role_lists_the_locked_vault_and_its_points_tags():
    listing = protected("ListRecoveryPointsByBackupVault", BackupVaultName=VAULT)
    tags = protected("ListTags", ResourceArn=point())
    rds_tags = protected(
        "ListTags", ResourceArn=f"arn:aws:rds:{REGION}:{PROTECTED}:snapshot:awsbackup:copyjob-1"
    )
    assert not denied([listing, tags, rds_tags])
    assert denied([protected("ListRecoveryPointsByBackupVault", BackupVaultName="other")])


def test_the_protected_role_lists_only_the_installations_locked_files():
    """A restore lists the locked manifests; retention every locked version (its lock)."""
    for operation, action in (
        ("ListObjectsV2", "s3:ListBucket"),
        ("ListObjectVersions", "s3:ListBucketVersions"),
    ):
        mine = protected(operation, "s3", Bucket=BUCKET, Prefix="ue-backup/ue-test/")
        assert not denied([mine])
        for prefix in ("ue-backup/ue-other/", "", None):
            params = {"Bucket": BUCKET, **({"Prefix": prefix} if prefix is not None else {})}
            assert denied([protected(operation, "s3", **params)]) == {action}, prefix


def test_the_protected_role_copies_locked_points_as_its_aws_backup_role_only():
    def copy_back(role: str) -> dict:
        return protected(
            "StartCopyJob",
            RecoveryPointArn=point(),
            SourceBackupVaultName=VAULT,
            DestinationBackupVaultArn=HOME_VAULT,
            IamRoleArn=role,
        )

    needed = {(r.action, r.passed_to) for r in iam.requirements(copy_back(BACKUP_ROLE), ACCOUNT)}
    assert needed == {("backup:StartCopyJob", None), ("iam:PassRole", "backup.amazonaws.com")}
    described = protected("DescribeCopyJob", CopyJobId="0123")
    assert not denied([copy_back(BACKUP_ROLE), described])
    assert denied([copy_back(LOCKED["immutable"]["role_arn"])]) == {"iam:PassRole"}
    far = {**copy_back(BACKUP_ROLE), "region": "us-east-1"}
    far["params"] = {**far["params"], "RecoveryPointArn": point("us-east-1")}
    assert denied([far]) == {"backup:StartCopyJob"}


# --- the vaults' access policies -------------------------------------------------------------


def _as_identity_policy(document: dict) -> dict:
    """A resource policy's statements without their Principal, for ``iam``'s evaluator
    (each applies to every principal here: ``"*"``, or the one account it names)."""
    statements = [{k: v for k, v in s.items() if k != "Principal"} for s in document["Statement"]]
    return {**document, "Statement": statements}


def _copy_from_locked_vault(target: str) -> iam.Requirement:
    """What the locked vault's policy is asked when a copy job takes a point out of it."""
    keys = (("backup:CopyTargets", [target]),)
    return iam.Requirement("backup:CopyFromBackupVault", point(), keys=keys, source="copy")


def test_the_locked_vault_lets_copies_leave_for_the_installations_vault_only():
    """Even a principal the protected role's policy does not bind (the account's others)
    cannot copy a locked point to a vault of its own: the vault's policy denies it."""
    document = render_immutable("vault-access-policy", immutable_values(LOCKED, ACCOUNT))
    policy = _as_identity_policy(document)
    assert not iam.explicitly_denied(policy, _copy_from_locked_vault(HOME_VAULT))
    elsewhere = f"arn:aws:backup:{REGION}:999988887777:backup-vault:theirs"
    assert iam.explicitly_denied(policy, _copy_from_locked_vault(elsewhere))
    nearby = HOME_VAULT.replace(":backup-vault:", ":backup-vault:x-")
    assert iam.explicitly_denied(policy, _copy_from_locked_vault(nearby))
    (deny,) = [s for s in document["Statement"] if s["Effect"] == "Deny"]
    assert deny["Principal"] == "*"
    # a request without a target is not refused by it: the restore never depends on AWS
    # sending the key (ForAnyValue), the protected role's own policy limits who copies
    untargeted = iam.Requirement("backup:CopyFromBackupVault", point(), source="copy")
    assert not iam.explicitly_denied(policy, untargeted)


def test_the_installations_vault_lets_the_protected_account_copy_back_in():
    values = immutable_values(LOCKED, ACCOUNT)
    (grant,) = render_immutable("home-vault-access-policy", values)["Statement"]
    assert grant["Effect"] == "Allow"
    assert grant["Action"] == "backup:CopyIntoBackupVault"
    assert grant["Principal"] == {"AWS": f"arn:aws:iam::{PROTECTED}:root"}
    assert "${" not in json.dumps(render_immutable("home-vault-access-policy", values))
