"""S3 Object Lock in the sandbox, as AWS enforces it in compliance mode.

What the manifests' locked copies rely on (``sandbox/aws/s3_object_lock.py``
says which rules are moto's and which the sandbox adds): a locked version
cannot be deleted, whoever asks; its retention cannot be shortened, removed or
made governance; a PutObject with a retention needs a checksum that matches
the body; ``GetObjectRetention`` answers. A bucket without Object Lock deletes
as before.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sandbox.aws.fixtures import aws  # noqa: F401
from sandbox.aws.server import AwsSandbox

PROTECTED = "222233334444"
ROLE = f"arn:aws:iam::{PROTECTED}:role/ue-backup-immutable"
LOCKED = "ue-locked-objects"
PLAIN = "ue-plain-objects"
BODY = b'{"backup_set": "ue-test-20260101t000000z"}'


def _sha256(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def _code(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = error.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def s3(aws: AwsSandbox):  # noqa: F811
    """The protected account's S3 client, with its Object Lock bucket (compliance, 35 days)."""
    client = aws.client_as(ROLE, "s3")
    client.create_bucket(
        Bucket=LOCKED,
        CreateBucketConfiguration={"LocationConstraint": aws.region},
        ObjectLockEnabledForBucket=True,
    )
    client.put_object_lock_configuration(
        Bucket=LOCKED,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 35}},
        },
    )
    return client


def _until(days: int = 35) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def _locked(s3, until: datetime, key: str = "manifest.json") -> str:
    """Put a version in compliance mode until ``until``; its VersionId."""
    return s3.put_object(
        Bucket=LOCKED,
        Key=key,
        Body=BODY,
        ChecksumAlgorithm="SHA256",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
    )["VersionId"]


def test_a_locked_version_cannot_be_deleted_by_its_own_account_nor_by_the_home_one(aws, s3):  # noqa: F811
    until = _until()
    version = _locked(s3, until)
    home = aws.client("s3")  # the Airflow role's account
    for client in (s3, home):
        with pytest.raises(ClientError) as refused:
            client.delete_object(Bucket=LOCKED, Key="manifest.json", VersionId=version)
        assert _code(refused) == ("AccessDenied", 403)
        with pytest.raises(ClientError) as bypassed:  # compliance: no bypass
            client.delete_object(
                Bucket=LOCKED,
                Key="manifest.json",
                VersionId=version,
                BypassGovernanceRetention=True,
            )
        assert _code(bypassed) == ("AccessDenied", 403)
    answer = home.delete_objects(
        Bucket=LOCKED, Delete={"Objects": [{"Key": "manifest.json", "VersionId": version}]}
    )
    assert [e["Code"] for e in answer.get("Errors", [])] == ["AccessDenied"]
    # A plain delete only hides it behind a delete marker: the version stays, readable.
    assert home.delete_object(Bucket=LOCKED, Key="manifest.json")["DeleteMarker"] is True
    kept = s3.get_object(Bucket=LOCKED, Key="manifest.json", VersionId=version)
    assert kept["Body"].read() == BODY


def test_get_object_retention_answers_the_versions_lock(s3):
    until = _until()
    version = _locked(s3, until)
    retention = s3.get_object_retention(Bucket=LOCKED, Key="manifest.json", VersionId=version)
    assert retention["Retention"]["Mode"] == "COMPLIANCE"
    assert retention["Retention"]["RetainUntilDate"] == until


def test_get_object_retention_of_an_unlocked_object_is_no_such_configuration(aws, s3):  # noqa: F811
    s3.create_bucket(Bucket=PLAIN, CreateBucketConfiguration={"LocationConstraint": aws.region})
    s3.put_object(Bucket=PLAIN, Key="x", Body=BODY)
    with pytest.raises(ClientError) as no_lock:
        s3.get_object_retention(Bucket=PLAIN, Key="x")
    assert _code(no_lock) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as missing:
        s3.get_object_retention(Bucket=LOCKED, Key="absent")
    assert _code(missing) == ("NoSuchKey", 404)
    s3.put_object_lock_configuration(
        Bucket=LOCKED, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
    )
    s3.put_object(Bucket=LOCKED, Key="unlocked", Body=BODY, ChecksumAlgorithm="SHA256")
    with pytest.raises(ClientError) as none:
        s3.get_object_retention(Bucket=LOCKED, Key="unlocked")
    assert _code(none) == ("NoSuchObjectLockConfiguration", 404)


@pytest.mark.parametrize(
    "retention",
    [
        pytest.param({"Mode": "COMPLIANCE", "RetainUntilDate": _until(1)}, id="shortened"),
        pytest.param({}, id="removed"),
        pytest.param({"Mode": "GOVERNANCE", "RetainUntilDate": _until(90)}, id="made-governance"),
    ],
)
def test_a_compliance_retention_cannot_be_weakened(s3, retention):
    until = _until()
    version = _locked(s3, until)
    with pytest.raises(ClientError) as refused:
        s3.put_object_retention(
            Bucket=LOCKED,
            Key="manifest.json",
            VersionId=version,
            Retention=retention,
            BypassGovernanceRetention=True,
        )
    assert _code(refused) == ("AccessDenied", 403)
    kept = s3.get_object_retention(Bucket=LOCKED, Key="manifest.json", VersionId=version)
    assert kept["Retention"] == {"Mode": "COMPLIANCE", "RetainUntilDate": until}


def test_a_compliance_retention_can_be_extended(s3):
    until, longer = _until(), _until(90)
    version = _locked(s3, until)
    s3.put_object_retention(
        Bucket=LOCKED,
        Key="manifest.json",
        VersionId=version,
        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": longer},
    )
    kept = s3.get_object_retention(Bucket=LOCKED, Key="manifest.json", VersionId=version)
    assert kept["Retention"]["RetainUntilDate"] == longer


def test_a_governance_retention_is_shortened_only_with_the_bypass(s3):
    version = s3.put_object(
        Bucket=LOCKED,
        Key="g",
        Body=BODY,
        ChecksumAlgorithm="SHA256",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=_until(),
    )["VersionId"]
    one_day = _until(1)
    shorter = {"Mode": "GOVERNANCE", "RetainUntilDate": one_day}
    with pytest.raises(ClientError) as refused:
        s3.put_object_retention(Bucket=LOCKED, Key="g", VersionId=version, Retention=shorter)
    assert _code(refused) == ("AccessDenied", 403)
    s3.put_object_retention(
        Bucket=LOCKED,
        Key="g",
        VersionId=version,
        Retention=shorter,
        BypassGovernanceRetention=True,
    )
    kept = s3.get_object_retention(Bucket=LOCKED, Key="g", VersionId=version)
    assert kept["Retention"]["RetainUntilDate"] == one_day


def test_a_retain_until_date_in_the_past_is_refused(s3):
    with pytest.raises(ClientError) as refused:
        s3.put_object(
            Bucket=LOCKED,
            Key="old",
            Body=BODY,
            ChecksumAlgorithm="SHA256",
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=_until(-1),
        )
    assert _code(refused) == ("InvalidArgument", 400)


def _bare(aws: AwsSandbox):  # noqa: F811
    """A protected-account client that sends a checksum only when an operation requires one
    (botocore's ``when_required``; botocore before 1.36 sent none either), tried once (botocore
    retries a BadDigest)."""
    credentials = aws.client("sts").assume_role(RoleArn=ROLE, RoleSessionName="bare")
    return boto3.client(
        "s3",
        endpoint_url=aws.endpoint_url,
        region_name=aws.region,
        aws_access_key_id=credentials["Credentials"]["AccessKeyId"],
        aws_secret_access_key=credentials["Credentials"]["SecretAccessKey"],
        aws_session_token=credentials["Credentials"]["SessionToken"],
        config=Config(
            request_checksum_calculation="when_required", retries={"total_max_attempts": 1}
        ),
    )


def test_a_put_with_a_retention_needs_a_checksum(aws, s3):  # noqa: F811
    bare = _bare(aws)
    for retention in (
        {},  # the bucket's default retention applies
        {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": _until()},
    ):
        with pytest.raises(ClientError) as refused:
            bare.put_object(Bucket=LOCKED, Key="m", Body=BODY, **retention)
        assert _code(refused) == ("InvalidRequest", 400)
        assert "Content-MD5 OR x-amz-checksum-" in str(refused.value)
    # Either integrity header will do: Content-MD5, or a checksum without the SDK's header.
    md5 = base64.b64encode(hashlib.md5(BODY).digest()).decode()
    bare.put_object(Bucket=LOCKED, Key="m", Body=BODY, ContentMD5=md5)
    bare.put_object(Bucket=LOCKED, Key="m", Body=BODY, ChecksumSHA256=_sha256(BODY))


@pytest.mark.parametrize(
    ("checksum", "message"),
    [
        ({"ChecksumSHA256": _sha256(b"another body")}, "The SHA256 you specified did not match"),
        (
            {"ContentMD5": base64.b64encode(hashlib.md5(b"x").digest()).decode()},
            "The Content-MD5 you specified did not match",
        ),
    ],
)
def test_a_checksum_that_does_not_match_the_body_is_a_bad_digest(aws, s3, checksum, message):  # noqa: F811
    bare = _bare(aws)
    with pytest.raises(ClientError) as refused:
        bare.put_object(Bucket=LOCKED, Key="m", Body=BODY, **checksum)
    assert _code(refused) == ("BadDigest", 400)
    assert message in str(refused.value)
    assert "Versions" not in s3.list_object_versions(Bucket=LOCKED)


def test_an_unlocked_bucket_still_deletes(aws, s3):  # noqa: F811
    bare = _bare(aws)
    s3.create_bucket(Bucket=PLAIN, CreateBucketConfiguration={"LocationConstraint": aws.region})
    s3.put_bucket_versioning(Bucket=PLAIN, VersioningConfiguration={"Status": "Enabled"})
    version = bare.put_object(Bucket=PLAIN, Key="x", Body=BODY)["VersionId"]  # no checksum
    s3.delete_object(Bucket=PLAIN, Key="x", VersionId=version)
    assert "Versions" not in s3.list_object_versions(Bucket=PLAIN)
    with pytest.raises(ClientError) as refused:  # a retention needs a locked bucket
        s3.put_object(
            Bucket=PLAIN,
            Key="y",
            Body=BODY,
            ChecksumAlgorithm="SHA256",
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=_until(),
        )
    assert _code(refused) == ("InvalidRequest", 400)
