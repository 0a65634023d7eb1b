"""S3: the provider's hook, with this project's retries (``ue_backup.aws``).

Manifests, drill reports and the MemoryDB export copies go through the
provider's ``S3Hook``; this subclass makes its clients retry throttling
(``SlowDown``) and 5xx answers as configured, and adds the few calls the task
steps make that the provider's hook has not as they need them (preflight's
bucket checks, retention's one-key deletes, the manifests' and MemoryDB's
locked copies).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook as ProviderS3Hook
from botocore.exceptions import ClientError

from ue_backup.aws import RetryingHookMixin
from ue_backup.backup_set import tag_dict

# A locked copy is streamed in parts of at least this size (held in memory one at a time);
# larger for a file that would need more than MAX_PARTS of them (S3 allows 10,000).
PART_SIZE = 64 * 1024**2
MAX_PARTS = 9_000


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _read_exactly(stream: Any, size: int) -> bytes:
    """``size`` bytes of ``stream`` (fewer only at its end): a socket read may return less."""
    chunks, left = [], size
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def part_size_for(size: int, least: int = PART_SIZE) -> int:
    """The part size a file of ``size`` bytes is streamed in: ``least``, or whole MiB enough
    to stay within ``MAX_PARTS`` parts."""
    needed = -(-size // MAX_PARTS)
    return max(least, -(-needed // 1024**2) * 1024**2)


class S3Hook(RetryingHookMixin, ProviderS3Hook):
    """The provider's S3 hook with this project's retries."""

    def head_bucket(self, bucket: str) -> dict[str, Any]:
        """HEAD the bucket; raises S3's error (404, 403, 5xx) instead of answering False.

        The provider's ``check_for_bucket`` answers False for any error, a
        throttled or failing S3 included. Preflight must tell those apart: an
        absent or forbidden bucket refuses the run naming S3's code, a
        transient error fails the try for Airflow to retry.
        """
        return self.get_conn().head_bucket(Bucket=bucket)

    def bucket_region(self, bucket: str) -> str:
        """The region the bucket is in (``GetBucketLocation``; S3 says None for us-east-1).

        Preflight checks that each MemoryDB copy bucket is in the region its
        step works in: a MemoryDB export only writes to a bucket of its own
        region. Raises S3's error when the bucket cannot be read.
        """
        found = self.get_conn().get_bucket_location(Bucket=bucket)
        return found.get("LocationConstraint") or "us-east-1"

    def object_lock(self, bucket: str) -> dict[str, Any]:
        """The bucket's Object Lock configuration; ``{}`` when it has none.

        S3 answers a bucket without Object Lock with the error
        ``ObjectLockConfigurationNotFoundError``: that is an answer (no lock), not a
        failure; any other error is raised.
        """
        try:
            return self.get_conn().get_object_lock_configuration(Bucket=bucket)
        except ClientError as error:
            if (
                error.response.get("Error", {}).get("Code")
                == "ObjectLockConfigurationNotFoundError"
            ):
                return {}
            raise

    def delete_key(self, bucket: str, key: str) -> None:
        """Delete one object with ``DeleteObject``; raises S3's error when it is refused.

        Not the provider's ``delete_objects``: ``DeleteObjects`` names only the
        bucket in its request and reports a refused key inside a successful
        answer. The IAM policy allows deleting under the installation's own
        prefix only (``include/iam``), and the permission check judges each
        recorded request by the resource it names, so retention deletes its
        manifests one key at a time, each request naming its object.
        """
        self.get_conn().delete_object(Bucket=bucket, Key=key)

    def list_objects(self, bucket: str, prefix: str = "") -> list[dict[str, Any]]:
        """Every object under ``prefix``, as ``ListObjectsV2`` lists it (Key, Size, ...).

        The inventory needs sizes and times, which ``list_keys`` drops; the
        provider's ``get_file_metadata`` is deprecated, and its successor
        ``iter_file_metadata`` is newer than the provider MWAA's 3.0.6 pins.
        """
        paginator = self.get_conn().get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=bucket, Prefix=prefix)
        return [item for page in pages for item in page.get("Contents") or ()]

    def list_object_versions(self, bucket: str, prefix: str = "") -> list[dict[str, Any]]:
        """Every object version under ``prefix`` (``ListObjectVersions``'s ``Versions``: Key,
        VersionId, Size, ...); delete markers left out (they hold no data and no lock).

        Retention lists the protected bucket's locked versions: each one is kept, and paid
        for, until its own retain-until date, whichever version is current.
        """
        paginator = self.get_conn().get_paginator("list_object_versions")
        pages = paginator.paginate(Bucket=bucket, Prefix=prefix)
        return [item for page in pages for item in page.get("Versions") or ()]

    def object_tags(self, key: str, bucket: str) -> dict[str, str]:
        """One object's tags as a dict (the provider's hook reads only a bucket's tags)."""
        return tag_dict(self.get_conn().get_object_tagging(Bucket=bucket, Key=key).get("TagSet"))

    def put_locked(self, bucket: str, key: str, body: bytes, retain_until: datetime) -> str:
        """Write ``body`` as a new version locked in COMPLIANCE mode until ``retain_until``;
        its VersionId.

        S3 refuses a PutObject with a retention unless it carries ``Content-MD5`` or an
        ``x-amz-checksum-*`` header; botocore adds a CRC32 by default only since 1.36, and
        not at all under ``request_checksum_calculation=when_required``, so the SHA-256 is
        asked for here (botocore computes it and sends it with its algorithm's header).
        """
        answer = self.get_conn().put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType="application/json",
            ChecksumAlgorithm="SHA256",
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=retain_until,
        )
        return answer["VersionId"]

    def object_retention(self, bucket: str, key: str, version_id: str) -> dict[str, Any]:
        """One version's retention (``Mode``, ``RetainUntilDate``); ``{}`` when it has none.

        S3 answers a version without a retention with ``NoSuchObjectLockConfiguration``:
        an answer (no lock), not a failure; any other error is raised.
        """
        try:
            answer = self.get_conn().get_object_retention(
                Bucket=bucket, Key=key, VersionId=version_id
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NoSuchObjectLockConfiguration":
                return {}
            raise
        return answer.get("Retention") or {}

    def read_version(
        self, bucket: str, key: str, version_id: str | None = None
    ) -> tuple[bytes, str] | None:
        """(content, VersionId) of one version, the current one unless ``version_id``;
        None when the key has no current version (absent, or behind a delete marker).

        A version asked for by id that is missing raises S3's error: it was just written.
        """
        extra = {"VersionId": version_id} if version_id else {}
        try:
            answer = self.get_conn().get_object(Bucket=bucket, Key=key, **extra)
        except ClientError as error:
            if not version_id and error.response.get("Error", {}).get("Code") == "NoSuchKey":
                return None
            raise
        return answer["Body"].read(), answer["VersionId"]

    def head_version(
        self, bucket: str, key: str, version_id: str | None = None
    ) -> dict[str, Any] | None:
        """HeadObject of one version (the current one unless ``version_id``), with its
        checksum (``ChecksumMode``: S3 returns ``ChecksumSHA256`` only when asked); None when
        it is not there (S3's 404: no such key, version, or a delete marker)."""
        extra = {"VersionId": version_id} if version_id else {}
        try:
            return self.get_conn().head_object(
                Bucket=bucket, Key=key, ChecksumMode="ENABLED", **extra
            )
        except ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = error.response.get("Error", {}).get("Code")
            if status == 404 or code in ("404", "NoSuchKey", "NoSuchVersion"):
                return None
            raise

    def open_current(self, bucket: str, key: str) -> tuple[Any, int]:
        """The current version of an object as a stream, and its size."""
        answer = self.get_conn().get_object(Bucket=bucket, Key=key)
        return answer["Body"], answer["ContentLength"]

    def open_object(self, bucket: str, key: str, etag: str) -> Any:
        """The content of an object as a stream, refused (``PreconditionFailed``) unless it
        is still the object whose ETag is ``etag``: what is hashed is what was listed."""
        return self.get_conn().get_object(Bucket=bucket, Key=key, IfMatch=etag)["Body"]

    def put_locked_stream(
        self,
        bucket: str,
        key: str,
        stream: Any,
        size: int,
        retain_until: datetime,
        metadata: Mapping[str, str],
        part_size: int = PART_SIZE,
    ) -> dict[str, Any]:
        """Write ``size`` bytes read from ``stream`` as a new version of ``key`` locked in
        COMPLIANCE mode until ``retain_until``, carrying ``metadata``.

        One PutObject up to ``part_size`` bytes, else a multipart upload of parts of that
        size (``part_size_for``), one part in memory at a time. Every request carries the
        SHA-256 of its bytes, computed here as they are read (S3 refuses a locked upload
        without a checksum, and answers ``BadDigest`` when the bytes it received differ),
        with its algorithm named (the sandbox, moto, keeps a checksum only then).
        Fails, aborting the upload, when the stream holds more or fewer than ``size`` bytes.

        Returns ``{"VersionId", "ChecksumSHA256", "Size"}``: the checksum as S3 reports the
        version's (HeadObject with ``ChecksumMode``): a single request's SHA-256, or for a
        multipart upload the SHA-256 of its parts' SHA-256 digests followed by ``-<parts>``.
        """
        conn = self.get_conn()
        part_size = part_size_for(size, part_size)
        lock = {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": retain_until}
        if size <= part_size:
            body = _read_exactly(stream, size)
            _refuse_other_size(stream, len(body), size, key)
            checksum = _b64(hashlib.sha256(body).digest())
            answer = conn.put_object(
                Bucket=bucket,
                Key=key,
                Body=body,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,
                Metadata=dict(metadata),
                **lock,
            )
            return {"VersionId": answer["VersionId"], "ChecksumSHA256": checksum, "Size": size}
        upload = conn.create_multipart_upload(
            Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256", Metadata=dict(metadata), **lock
        )["UploadId"]
        try:
            parts, digests, read = [], b"", 0
            while read < size:
                chunk = _read_exactly(stream, min(part_size, size - read))
                if not chunk:
                    break
                read += len(chunk)
                digest = hashlib.sha256(chunk).digest()
                digests += digest
                number = len(parts) + 1
                answer = conn.upload_part(
                    Bucket=bucket,
                    Key=key,
                    UploadId=upload,
                    PartNumber=number,
                    Body=chunk,
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=_b64(digest),
                )
                parts.append(
                    {"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": _b64(digest)}
                )
            _refuse_other_size(stream, read, size, key)
            done = conn.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            conn.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload)
            raise
        checksum = f"{_b64(hashlib.sha256(digests).digest())}-{len(parts)}"
        return {"VersionId": done["VersionId"], "ChecksumSHA256": checksum, "Size": size}


def _refuse_other_size(stream: Any, read: int, size: int, key: str) -> None:
    """Fail when the stream ended early (``read`` short of ``size``) or holds more."""
    if read != size or stream.read(1):
        raise RuntimeError(f"the source of {key} did not hold the {size} bytes listed: not locked")
