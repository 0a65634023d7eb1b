"""S3Hook.put_locked_stream: a file streamed into an Object Lock bucket, locked, hashed per part.

Against the sandbox's protected account (test_preflight_immutable's bucket, compliance
mode). A multipart upload needs parts of at least 5 MiB but the last (moto enforces it
as S3 does), so the multipart cases use 5 MiB parts and a little over 10 MiB.

The sandbox's Object Lock rules (sandbox/aws/s3_object_lock.py) cover PutObject; for a
multipart upload moto applies no retention at all to the completed object (neither the
one CreateMultipartUpload asked for nor the bucket's default), so the multipart cases
check the bytes and the checksum here, and the lock is what lock_memorydb reads back
(its tests use single-part files, as the sandbox's exports are small).
"""

from __future__ import annotations

import base64
import hashlib
import io
from datetime import UTC, datetime, timedelta

import pytest

from tests.plugins.tasks.test_preflight_immutable import (  # noqa: F401
    BUCKET,
    ROLE,
    _bucket,
    protected,
)
from ue_backup.hooks.s3 import MAX_PARTS, S3Hook, part_size_for
from ue_backup.tasks.immutable_memorydb import same_checksum

MIB = 1024**2


@pytest.fixture
def hook(protected):  # noqa: F811
    _bucket(protected)
    return S3Hook(aws_conn_id="aws_immutable")


def _until() -> datetime:
    return (datetime.now(UTC) + timedelta(days=36)).replace(microsecond=0)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def test_a_small_file_is_one_locked_put_with_its_sha256(hook, protected):  # noqa: F811
    body = b"REDIS0011" + b"x" * 1000
    written = hook.put_locked_stream(
        BUCKET, "a.rdb", io.BytesIO(body), len(body), _until(), {"k": "v"}
    )
    assert written["ChecksumSHA256"] == _b64(hashlib.sha256(body).digest())
    head = hook.head_version(BUCKET, "a.rdb", written["VersionId"])
    assert head["ChecksumSHA256"] == written["ChecksumSHA256"]
    assert (head["ContentLength"], head["Metadata"]) == (len(body), {"k": "v"})
    assert hook.object_retention(BUCKET, "a.rdb", written["VersionId"])["Mode"] == "COMPLIANCE"


def test_a_large_file_is_uploaded_in_parts_each_hashed(hook, protected):  # noqa: F811
    body = bytes(range(256)) * (42 * 1024)  # 10.5 MiB: three parts of 5 MiB
    written = hook.put_locked_stream(
        BUCKET, "big.rdb", io.BytesIO(body), len(body), _until(), {}, part_size=5 * MIB
    )
    parts = [body[i : i + 5 * MIB] for i in range(0, len(body), 5 * MIB)]
    composite = hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest()
    assert written["ChecksumSHA256"] == f"{_b64(composite)}-3"
    head = hook.head_version(BUCKET, "big.rdb", written["VersionId"])
    assert same_checksum(head["ChecksumSHA256"], written["ChecksumSHA256"])
    assert head["ContentLength"] == len(body)
    s3 = protected.aws.client_as(ROLE, "s3")
    got = s3.get_object(Bucket=BUCKET, Key="big.rdb", VersionId=written["VersionId"])
    assert got["Body"].read() == body


def test_a_stream_shorter_than_listed_is_refused_and_its_upload_aborted(hook, protected):  # noqa: F811
    body = b"y" * (6 * MIB)
    with pytest.raises(RuntimeError, match="did not hold the"):
        hook.put_locked_stream(
            BUCKET, "short.rdb", io.BytesIO(body), 11 * MIB, _until(), {}, part_size=5 * MIB
        )
    s3 = protected.aws.client_as(ROLE, "s3")
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert s3.list_object_versions(Bucket=BUCKET, Prefix="short.rdb").get("Versions", []) == []


def test_a_stream_longer_than_listed_is_refused(hook, protected):  # noqa: F811
    with pytest.raises(RuntimeError, match="did not hold the"):
        hook.put_locked_stream(BUCKET, "long.rdb", io.BytesIO(b"z" * 11), 10, _until(), {})


def test_parts_grow_to_stay_within_s3s_part_limit():
    assert part_size_for(10 * MIB) == 64 * MIB
    assert part_size_for(64 * MIB * MAX_PARTS) == 64 * MIB
    big = 2 * 64 * MIB * MAX_PARTS
    assert part_size_for(big) == 128 * MIB
    assert -(-big // part_size_for(big)) <= MAX_PARTS
