"""Retention's inventory reads the protected copies through the protected connection
(the sandbox's second account), and a protected account it cannot read is a warning.

The locked vault's points are AWS Backup copy jobs from the installation's account (as
``copy_efs_immutable`` makes them, kept 35 days); the bucket's versions are written
with the protected role's credentials in COMPLIANCE mode, as ``lock_manifest`` and
``lock_memorydb_immutable`` write them. Only ``inventory.protected_listing`` is run:
the home side of retention is the retention e2e's.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from sandbox.faults import Fault
from sandbox.installation import ROLE_ARN
from tests.dags.test_ue_backup_retention import _wait
from tests.plugins.tasks.test_preflight_immutable import (
    BUCKET,
    CONFIG,
    PROTECTED,
    ROLE,
    VAULT,
    _bucket,
    _protected_client,
    _vault,
)
from ue_backup.backup_set import BackupSet
from ue_backup.config import parse_config
from ue_backup.inventory import protected_listing
from ue_backup.retention_locked import EFS_IMMUTABLE, MANIFEST_IMMUTABLE, MEMORYDB_IMMUTABLE

ME = "ue-test"
SET = BackupSet.for_run(ME, datetime(2026, 1, 1, tzinfo=UTC)).id
OTHER_SET = BackupSet.for_run("ue-other", datetime(2026, 1, 1, tzinfo=UTC)).id
HOME_VAULT = "ue-test-vault"


def _tags(installation: str, backup_set: str) -> dict[str, str]:
    return {"ue-backup:installation": installation, "ue-backup:backup-set": backup_set}


def _locked_point(sandbox, file_system_arn: str, installation: str, backup_set: str) -> str:
    """A recovery point of the home vault copied into the locked vault, kept 35 days."""
    backup = sandbox.client("backup")
    job = backup.start_backup_job(
        BackupVaultName=HOME_VAULT,
        ResourceArn=file_system_arn,
        IamRoleArn=ROLE_ARN,
        RecoveryPointTags=_tags(installation, backup_set),
    )
    _wait(
        lambda: backup.describe_backup_job(BackupJobId=job["BackupJobId"])["State"] == "COMPLETED",
        "the home backup",
    )
    copied = backup.start_copy_job(
        RecoveryPointArn=job["RecoveryPointArn"],
        SourceBackupVaultName=HOME_VAULT,
        DestinationBackupVaultArn=f"arn:aws:backup:{sandbox.region}:{PROTECTED}:backup-vault:{VAULT}",
        IamRoleArn=ROLE_ARN,
        Lifecycle={"DeleteAfterDays": 35},
    )
    done = _wait(
        lambda: (
            (c := backup.describe_copy_job(CopyJobId=copied["CopyJobId"])["CopyJob"])["State"]
            == "COMPLETED"
            and c
        ),
        "the copy into the locked vault",
    )
    return done["DestinationRecoveryPointArn"]


def _locked_object(sandbox, key: str, body: bytes, until: datetime) -> str:
    """A version locked in COMPLIANCE mode until ``until``, written as the protected role."""
    answer = _protected_client(sandbox, "s3").put_object(
        Bucket=BUCKET,
        Key=key,
        Body=body,
        ChecksumSHA256=base64.b64encode(hashlib.sha256(body).digest()).decode(),
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
    )
    return answer["VersionId"]


@pytest.fixture
def locked(sandbox, monkeypatch):
    """The locked vault and bucket holding one set's copies and another installation's,
    and the connection ``aws_immutable`` (the sandbox's, assuming the protected role)."""
    connection = json.loads(sandbox.aws.airflow_connection())
    connection["extra"]["role_arn"] = ROLE
    monkeypatch.setenv("AIRFLOW_CONN_AWS_IMMUTABLE", json.dumps(connection))
    _vault(sandbox)
    _bucket(sandbox)
    sandbox.client("backup").create_backup_vault(BackupVaultName=HOME_VAULT)
    fs = sandbox.aws.create_file_system("ue-test-efs")
    arn = sandbox.client("efs").describe_file_systems(FileSystemId=fs)["FileSystems"][0][
        "FileSystemArn"
    ]
    until = datetime.now(UTC) + timedelta(days=35)
    found = {
        "point": _locked_point(sandbox, arn, ME, SET),
        "other_point": _locked_point(sandbox, arn, "ue-other", OTHER_SET),
        "until": until,
    }
    manifest = f"ue-backup/{ME}/{SET}/manifest.json"
    found["manifest_versions"] = [
        _locked_object(sandbox, manifest, b'{"try": 1}', until),
        _locked_object(sandbox, manifest, b'{"try": 2}', until),  # a retry's: paid for too
    ]
    found["rdb"] = _locked_object(
        sandbox, f"ue-backup/{ME}/{SET}/memorydb/ueb-{SET}-0001.rdb", b"r" * 3000, until
    )
    _locked_object(sandbox, f"ue-backup/ue-other/{OTHER_SET}/manifest.json", b"{}", until)
    sandbox.log.clear()
    sandbox.requests.clear()
    return sandbox, found


def _cfg():
    return parse_config(copy.deepcopy(CONFIG))


def test_the_inventory_reads_the_locked_vault_and_bucket_through_the_protected_connection(
    locked,
):
    sandbox, found = locked

    listing = protected_listing(_cfg())

    assert listing["problem"] is None
    copies = {(c["kind"], c["id"], c["version_id"]): c for c in listing["copies"]}
    point = copies[(EFS_IMMUTABLE, found["point"], None)]
    assert (point["installation"], point["backup_set"], point["state"]) == (ME, SET, "COMPLETED")
    # the point's lock ends when AWS Backup deletes it: its lifecycle's DeleteAt
    described = _protected_client(sandbox, "backup").describe_recovery_point(
        BackupVaultName=VAULT, RecoveryPointArn=found["point"]
    )
    assert datetime.fromisoformat(point["locked_until"]) == described["CalculatedLifecycle"][
        "DeleteAt"
    ].astimezone(UTC)
    # the other installation's point is listed with its own claim (the policy leaves it out)
    assert copies[(EFS_IMMUTABLE, found["other_point"], None)]["installation"] == "ue-other"
    # every locked version of the manifest, each with its retention, and the .rdb file
    manifest = f"ue-backup/{ME}/{SET}/manifest.json"
    for version in found["manifest_versions"]:
        entry = copies[(MANIFEST_IMMUTABLE, manifest, version)]
        assert (entry["mode"], entry["backup_set"]) == ("COMPLIANCE", SET)
        until = datetime.fromisoformat(entry["locked_until"])
        assert abs(until - found["until"]) < timedelta(seconds=1)
    rdb = next(c for c in listing["copies"] if c["kind"] == MEMORYDB_IMMUTABLE)
    assert (rdb["version_id"], rdb["size_bytes"]) == (found["rdb"], 3000)
    # only under the installation's prefix: the other installation's manifest is not read
    assert not any(c["id"].startswith("ue-backup/ue-other/") for c in listing["copies"])
    # every call went through the protected role's credentials, and changed nothing
    requests = sandbox.requests.entries("aws", caller="system")
    assert {r.account for r in requests if r.service != "sts"} == {PROTECTED}
    assert {r.operation for r in requests if r.service == "sts"} == {"AssumeRole"}
    assert [m for m in sandbox.log.entries() if m.service != "sts"] == []
    assert {(r.service, r.operation) for r in requests if r.service != "sts"} == {
        ("backup", "ListRecoveryPointsByBackupVault"),
        ("backup", "ListTags"),
        ("s3", "ListObjectVersions"),
        ("s3", "GetObjectRetention"),
    }


def test_a_protected_account_that_refuses_is_a_loud_warning_not_a_failure(locked, caplog):
    sandbox, _ = locked
    sandbox.faults.add(
        Fault(
            "backup",
            "ListRecoveryPointsByBackupVault",
            code="AccessDeniedException",
            message="not authorized to perform backup:ListRecoveryPointsByBackupVault",
            status=403,
            times=None,
        )
    )

    with caplog.at_level(logging.WARNING):
        listing = protected_listing(_cfg())

    assert listing["copies"] == []
    assert "AccessDeniedException" in listing["problem"]
    assert "aws_immutable" in listing["problem"]
    assert "protected copies not listed" in caplog.text


def test_a_missing_protected_connection_is_named_and_nothing_is_asked(locked, monkeypatch):
    """Without the connection, AWS's hook would fall back to the default credentials
    (the installation's account): nothing is asked, the connection is named."""
    sandbox, _ = locked
    monkeypatch.delenv("AIRFLOW_CONN_AWS_IMMUTABLE")

    listing = protected_listing(_cfg())

    assert listing == {"copies": [], "problem": "connection aws_immutable is not defined"}
    assert sandbox.requests.entries("aws", caller="system") == []


def test_without_the_section_nothing_is_listed(locked):
    config = copy.deepcopy(CONFIG)
    del config["immutable"]
    assert protected_listing(parse_config(config)) is None
    assert locked[0].requests.entries("aws", caller="system") == []
