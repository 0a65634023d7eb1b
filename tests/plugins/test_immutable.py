"""ue_backup.immutable: the section's validation and the lock rules (pure)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from tests.plugins.tasks.test_preflight_immutable import CONFIG, PROTECTED, ROLE
from ue_backup.config import ConfigError, ImmutableConfig, parse_config
from ue_backup.immutable import (
    bucket_lock_problems,
    identity_problems,
    vault_lock_problems,
    vault_lock_warnings,
)

SECTION = CONFIG["immutable"]


def _refused(**changes) -> str:
    config = copy.deepcopy(CONFIG)
    config["immutable"].update(changes)
    with pytest.raises(ConfigError) as refused:
        parse_config(config)
    return str(refused.value)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"account_id": "2222"}, "immutable.account_id"),
        ({"role_arn": "ue-backup-immutable"}, "immutable.role_arn"),
        ({"role_arn": "arn:aws:iam::999988887777:role/x"}, "not in account_id 222233334444"),
        ({"backup_role_arn": "arn:aws:iam::999988887777:role/x"}, "backup_role_arn is in"),
        ({"backup_role_arn": None}, "immutable.backup_role_arn"),
        ({"backup_vault_name": "a"}, "immutable.backup_vault_name"),
        ({"bucket": "Not_A_Bucket"}, "immutable.bucket"),
        ({"min_retention_days": 0}, "immutable.min_retention_days"),
        ({"region": "europe"}, "immutable.region"),
        ({"vault": "x"}, "immutable.vault"),
    ],
    ids=[
        "account",
        "role",
        "role-account",
        "backup-role-account",
        "no-backup-role",
        "vault",
        "bucket",
        "days",
        "region",
        "unknown-key",
    ],
)
def test_bad_values_are_refused_naming_the_field(changes, named):
    assert named in _refused(**changes)


def test_the_section_needs_aws_backup_for_its_copy_jobs():
    config = copy.deepcopy(CONFIG)
    config["efs"].pop("aws_backup")
    config["efs"]["backup_method"] = "datasync"
    config["efs"]["datasync"] = {
        "task_arn": "arn:aws:datasync:eu-west-1:111122223333:task/task-0123456789abcdef0",
        "target_file_system_id": "fs-0fedcba9876543210",
    }
    with pytest.raises(ConfigError) as refused:
        parse_config(config)
    assert "immutable: needs efs.aws_backup" in str(refused.value)


def test_a_good_section_parses_with_safe_defaults():
    section = parse_config(copy.deepcopy(CONFIG)).immutable
    assert section.aws_conn_id == "aws_immutable"
    assert section.region_or("eu-west-1") == "eu-west-1"
    assert section.min_retention_days == 35


LOCKED = ImmutableConfig(**SECTION)
ASSUMED = {
    "Account": PROTECTED,
    "Arn": f"arn:aws:sts::{PROTECTED}:assumed-role/ue-backup-immutable/s",
}


def test_the_identity_must_be_the_role_in_the_protected_account_and_not_the_home_one():
    assert identity_problems(LOCKED, ASSUMED, "123456789012") == []
    assert identity_problems(LOCKED, ASSUMED, PROTECTED)[0].startswith("immutable.account_id:")
    other_role = {**ASSUMED, "Arn": f"arn:aws:sts::{PROTECTED}:assumed-role/admin/s"}
    assert identity_problems(LOCKED, other_role, None)[0].startswith("immutable.role_arn:")
    assert ROLE.endswith("/ue-backup-immutable")


def test_vault_locks():
    now = datetime(2026, 12, 7, tzinfo=UTC)
    compliance = {"Locked": True, "LockDate": now - timedelta(days=1)}
    assert vault_lock_problems(LOCKED, {**compliance, "MinRetentionDays": 35}) == []
    assert vault_lock_problems(LOCKED, {**compliance, "MinRetentionDays": 7}) == []
    assert "has no Vault Lock" in vault_lock_problems(LOCKED, {"Locked": False})[0]
    governance = vault_lock_problems(LOCKED, {"Locked": True, "MinRetentionDays": 35})
    assert governance == [
        "immutable.backup_vault_name: vault ue-test-locked's Vault Lock is in governance mode "
        "(set without ChangeableForDays): anyone allowed backup:DeleteBackupVaultLockConfiguration "
        "can remove it at any time, and then delete the copies; lock it in compliance mode"
    ]
    too_long = vault_lock_problems(LOCKED, {**compliance, "MinRetentionDays": 90})
    assert "would fail every copy (raise it to 90)" in too_long[0]
    too_short = {**compliance, "MinRetentionDays": 7, "MaxRetentionDays": 30}
    assert "at most 30 days" in vault_lock_problems(LOCKED, too_short)[0]
    assert "sets no MinRetentionDays" in vault_lock_problems(LOCKED, compliance)[0]
    assert vault_lock_warnings({"LockDate": now + timedelta(days=1)}, now)
    assert vault_lock_warnings({"LockDate": now - timedelta(days=1)}, now) == []


def _lock(mode="COMPLIANCE", **retention):
    rule = {"DefaultRetention": {"Mode": mode, **retention}} if mode else {}
    return {"ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled", "Rule": rule}}


def test_bucket_locks():
    assert bucket_lock_problems(LOCKED, _lock(Days=35)) == []
    assert bucket_lock_problems(LOCKED, _lock(Years=1)) == []
    assert "has no Object Lock" in bucket_lock_problems(LOCKED, {})[0]
    assert (
        "GOVERNANCE, not COMPLIANCE"
        in bucket_lock_problems(LOCKED, _lock("GOVERNANCE", Days=99))[0]
    )
    assert "no default retention" in bucket_lock_problems(LOCKED, _lock(None))[0]
    assert "7 days by default" in bucket_lock_problems(LOCKED, _lock(Days=7))[0]


def test_the_installations_vault_must_let_the_protected_account_copy_back_and_deny_nothing():
    """A restore from the protected copies reads it first; an explicit Deny wins over the
    grant (IAM's evaluation), as one left by whoever removed the grant would."""
    import json

    from ue_backup.immutable import home_grant_problems

    def policy(*statements: dict) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})

    allow = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{PROTECTED}:root"},
        "Action": "backup:CopyIntoBackupVault",
        "Resource": "*",
    }
    deny = {**allow, "Effect": "Deny", "Principal": "*"}
    assert home_grant_problems("v", policy(allow), PROTECTED) == []
    [denied] = home_grant_problems("v", policy(allow, deny), PROTECTED)
    assert "denies backup:CopyIntoBackupVault" in denied
    assert denied.startswith("efs.aws_backup.vault_name: ")
    # the account id as a substring of another number names nobody
    other = {**allow, "Principal": {"AWS": f"arn:aws:iam::9{PROTECTED}:root"}}
    assert home_grant_problems("v", policy(other), PROTECTED)
    assert home_grant_problems("v", None, PROTECTED)
    assert (
        home_grant_problems("v", policy({**allow, "Principal": {"AWS": PROTECTED}}), PROTECTED)
        == []
    )


def test_a_grant_to_a_role_only_is_a_warning_a_deny_counts_for_the_role_the_copy_runs_as():
    """AWS documents the cross-account grant to the account (its root): an Allow naming
    only one of its roles may not cover the copy, which is said loudly, but is no
    refusal (nothing proves it fails, and refusing would stop every nightly backup). A
    Deny counts when it names the account or the role the copy runs as, not another role."""
    import json

    from ue_backup.immutable import home_grant_problems, home_grant_warnings

    def policy(*statements: dict) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})

    runs_as = f"arn:aws:iam::{PROTECTED}:role/ue-backup-immutable-aws-backup"
    other_role = f"arn:aws:iam::{PROTECTED}:role/someone-else"
    allow = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{PROTECTED}:root"},
        "Action": "backup:CopyIntoBackupVault",
        "Resource": "*",
    }
    to_role = policy({**allow, "Principal": {"AWS": runs_as}})
    assert home_grant_problems("v", to_role, PROTECTED, runs_as) == []
    [warning] = home_grant_warnings("v", to_role, PROTECTED)
    assert f"grant to arn:aws:iam::{PROTECTED}:root" in warning
    assert home_grant_warnings("v", policy(allow), PROTECTED) == []
    deny = {**allow, "Effect": "Deny"}
    [denied] = home_grant_problems(
        "v", policy(allow, {**deny, "Principal": {"AWS": [runs_as]}}), PROTECTED, runs_as
    )
    assert "denies backup:CopyIntoBackupVault" in denied
    unrelated = policy(allow, {**deny, "Principal": {"AWS": other_role}})
    assert home_grant_problems("v", unrelated, PROTECTED, runs_as) == []
