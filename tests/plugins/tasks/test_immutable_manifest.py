"""The manifest's locked copy in the protected account's Object Lock bucket (the sandbox).

The protected account and its bucket are test_preflight_immutable's: a second
account of the sandbox, reached through the ``aws_immutable`` connection
(AssumeRole into its role), its bucket in compliance mode for 35 days. The
sandbox enforces Object Lock as AWS does (tests/sandbox/test_s3_object_lock.py).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from tests.plugins.tasks.test_preflight_immutable import (  # noqa: F401
    BUCKET,
    CONFIG,
    ROLE,
    _bucket,
    protected,
)
from ue_backup.backup_set import BackupSet
from ue_backup.config import parse_config
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.s3 import S3Hook
from ue_backup.manifest import manifest_json
from ue_backup.run_settings import BackupRunSettings
from ue_backup.tasks.immutable_manifest import lock_manifest

SET = BackupSet.for_run("ue-test", datetime.now(UTC))
# The home manifest's key, as write_manifest names it.
KEY = f"{parse_config(copy.deepcopy(CONFIG)).manifests.prefix}{SET.manifest_key}"


def _settings(**changes) -> dict:
    settings = BackupRunSettings.build(parse_config(copy.deepcopy(CONFIG)), SET.id, {"efs"})
    return settings.model_copy(update=changes).dump()


def _manifest(**changes) -> dict:
    """A manifest as write_manifest returns it (``location`` added after writing)."""
    manifest = {
        "version": 1,
        "installation": SET.installation,
        "backup_set": SET.id,
        "created_at": SET.created_at.isoformat(),
        "artifacts": {"efs_recovery_point": {"id": "rp-1", "size_bytes": 1024}},
        "location": f"s3://ue-test-manifests/{KEY}",
    }
    return {**manifest, **changes}


def _s3(sandbox):
    return sandbox.aws.client_as(ROLE, "s3")


def _versions(sandbox) -> list[dict]:
    return _s3(sandbox).list_object_versions(Bucket=BUCKET, Prefix=KEY).get("Versions", [])


@pytest.fixture
def locked_bucket(protected):  # noqa: F811
    _bucket(protected)
    return protected


def test_the_manifest_is_written_locked_in_compliance_mode_under_its_home_key(locked_bucket):
    before = datetime.now(UTC)
    record = lock_manifest(_settings(), _manifest())
    s3 = _s3(locked_bucket)
    assert (record["bucket"], record["key"]) == (BUCKET, KEY)
    written = s3.get_object(Bucket=BUCKET, Key=KEY, VersionId=record["version_id"])
    home_json = manifest_json({k: v for k, v in _manifest().items() if k != "location"})
    assert written["Body"].read().decode() == home_json
    retention = s3.get_object_retention(Bucket=BUCKET, Key=KEY, VersionId=record["version_id"])[
        "Retention"
    ]
    assert retention["Mode"] == "COMPLIANCE"
    assert retention["RetainUntilDate"] >= before + timedelta(days=35)
    assert datetime.fromisoformat(record["locked_until"]) == retention["RetainUntilDate"]


def test_the_retention_is_the_one_asked_for_not_the_buckets_default(protected):  # noqa: F811
    """The bucket's default was shortened after preflight: the copy is locked 35 days anyway."""
    _bucket(protected, days=1)
    before = datetime.now(UTC)
    record = lock_manifest(_settings(), _manifest())
    assert datetime.fromisoformat(record["locked_until"]) >= before + timedelta(days=35)


def test_the_write_carries_its_own_checksum(locked_bucket):
    """A client that adds no checksum by default (botocore before 1.36, or configured
    ``when_required``): S3 refuses a locked PutObject without one, so the hook asks for it."""
    settings = _settings()
    config = {**settings["aws_botocore_config"], "request_checksum_calculation": "when_required"}
    record = lock_manifest({**settings, "aws_botocore_config": config}, _manifest())
    assert record["version_id"]


def test_the_airflow_role_cannot_delete_the_locked_manifest(locked_bucket):
    record = lock_manifest(_settings(), _manifest())
    home = locked_bucket.aws.client("s3")  # the home account's credentials: the Airflow role's
    with pytest.raises(ClientError) as refused:
        home.delete_object(Bucket=BUCKET, Key=KEY, VersionId=record["version_id"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    answer = home.delete_objects(
        Bucket=BUCKET, Delete={"Objects": [{"Key": KEY, "VersionId": record["version_id"]}]}
    )
    assert [e["Code"] for e in answer.get("Errors", [])] == ["AccessDenied"]
    with pytest.raises(ClientError):
        home.put_object_retention(
            Bucket=BUCKET,
            Key=KEY,
            VersionId=record["version_id"],
            Retention={},
            BypassGovernanceRetention=True,
        )
    home.delete_object(Bucket=BUCKET, Key=KEY)  # at most a delete marker in front of it
    kept = _s3(locked_bucket).get_object(Bucket=BUCKET, Key=KEY, VersionId=record["version_id"])
    assert kept["Body"].read()
    # A retry after that writes it again: the current version is the marker, not the manifest.
    again = lock_manifest(_settings(), _manifest())
    assert again["version_id"] != record["version_id"]


def test_a_retry_finds_the_same_content_and_writes_nothing(locked_bucket):
    first = lock_manifest(_settings(), _manifest())
    second = lock_manifest(_settings(), _manifest())
    assert second == first
    assert len(_versions(locked_bucket)) == 1


def test_a_rewritten_manifest_gets_a_new_locked_version_and_the_old_one_stays(locked_bucket):
    first = lock_manifest(_settings(), _manifest())
    second = lock_manifest(_settings(), _manifest(created_at="a rerun's time"))
    assert second["version_id"] != first["version_id"]
    s3 = _s3(locked_bucket)
    assert {v["VersionId"] for v in _versions(locked_bucket)} == {
        first["version_id"],
        second["version_id"],
    }
    for record in (first, second):
        retention = s3.get_object_retention(Bucket=BUCKET, Key=KEY, VersionId=record["version_id"])
        assert retention["Retention"]["Mode"] == "COMPLIANCE"


def test_the_same_content_under_a_weaker_lock_is_written_again(locked_bucket):
    weak = _s3(locked_bucket).put_object(
        Bucket=BUCKET,
        Key=KEY,
        Body=manifest_json({k: v for k, v in _manifest().items() if k != "location"}).encode(),
        ChecksumAlgorithm="SHA256",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=90),
    )
    record = lock_manifest(_settings(), _manifest())
    assert record["version_id"] != weak["VersionId"]
    assert len(_versions(locked_bucket)) == 2


# --- what was read back is not what was asked: each fails loudly ------------------------


def _kept_as(monkeypatch, sandbox, **put) -> None:
    """S3 keeps the next manifest otherwise than asked: ``put`` overrides the PutObject
    (a retention dropped, weakened or shortened on the way; other content)."""

    def put_locked(self, bucket, key, body, retain_until):
        request = {
            "Bucket": bucket,
            "Key": key,
            "Body": body,
            "ChecksumAlgorithm": "SHA256",
            "ObjectLockMode": "COMPLIANCE",
            "ObjectLockRetainUntilDate": retain_until,
        }
        request.update(put)
        return _s3(sandbox).put_object(**{k: v for k, v in request.items() if v is not None})[
            "VersionId"
        ]

    monkeypatch.setattr(S3Hook, "put_locked", put_locked)


def _soon(days: int) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


@pytest.mark.parametrize(
    ("put", "expected"),
    [
        pytest.param(
            {"ObjectLockMode": None, "ObjectLockRetainUntilDate": None},
            "has no retention: it can be deleted",
            id="no-retention",
        ),
        pytest.param(
            {"ObjectLockMode": "GOVERNANCE"},
            "is locked in GOVERNANCE mode, not COMPLIANCE",
            id="governance",
        ),
        pytest.param(
            {"ObjectLockRetainUntilDate": _soon(10)},
            "(the backup set's time + min_retention_days 35)",
            id="too-short",
        ),
        pytest.param(
            {"Body": b"{}"},
            "does not hold the manifest (SHA-256",
            id="other-content",
        ),
    ],
)
def test_a_copy_not_locked_as_asked_fails_naming_bucket_key_and_version(
    locked_bucket, monkeypatch, put, expected
):
    if put.get("ObjectLockMode", "") is None:  # a bucket without a default retention
        _s3(locked_bucket).put_object_lock_configuration(
            Bucket=BUCKET, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
        )
    _kept_as(monkeypatch, locked_bucket, **put)
    with pytest.raises(PermanentFailure) as failed:
        lock_manifest(_settings(), _manifest())
    version = _versions(locked_bucket)[0]["VersionId"]
    assert f"s3://{BUCKET}/{KEY} (version {version})" in str(failed.value)
    assert expected in str(failed.value)


def test_a_bucket_without_object_lock_refuses_the_locked_write(protected):  # noqa: F811
    _bucket(protected, mode=None)
    with pytest.raises(ClientError) as refused:
        lock_manifest(_settings(), _manifest())
    assert refused.value.response["Error"]["Code"] == "InvalidRequest"


def test_a_run_without_the_immutable_bucket_or_with_another_sets_manifest_is_refused():
    with pytest.raises(PermanentFailure, match="name no protected Object Lock bucket"):
        lock_manifest(_settings(immutable_bucket=None), _manifest())
    with pytest.raises(PermanentFailure, match="not of this run's"):
        lock_manifest(_settings(), _manifest(backup_set="ue-test-20200101t000000z"))
