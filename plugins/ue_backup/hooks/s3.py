"""S3: the provider's hook, with this project's retries (``ue_backup.aws``).

Manifests, drill reports and the MemoryDB export copies go through the
provider's ``S3Hook``; this subclass makes its clients retry throttling
(``SlowDown``) and 5xx answers as configured, and adds the few calls the task
steps make that the provider's hook has not as they need them (preflight's
bucket checks, retention's one-key deletes, the manifests' locked copies).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook as ProviderS3Hook
from botocore.exceptions import ClientError

from ue_backup.aws import RetryingHookMixin
from ue_backup.backup_set import tag_dict


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
