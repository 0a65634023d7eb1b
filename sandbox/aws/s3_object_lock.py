"""S3 Object Lock as AWS enforces it, where moto does not: added to moto's S3 service.

What moto (5.2) already does, and this module leaves to it: a bucket created
with Object Lock is versioned; a version whose retention is in force (or under
legal hold) cannot be deleted by ``DeleteObject`` with its ``VersionId``
(``DeleteObjects`` lists it as refused), in compliance mode whatever
``x-amz-bypass-governance-retention`` says; a plain ``DeleteObject`` only adds a
delete marker, so the version stays.

What moto lacks, and AWS does, modelled here by hand (the checks are the
documented ones, see each method; botocore's model names the operations):

- ``GetObjectRetention`` (moto answers it as a ``GetObject``, or with a 500);
- ``PutObjectRetention`` may not weaken a retention in force: in compliance
  mode nobody can shorten it, remove it or turn it into governance mode; in
  governance mode only a request with ``x-amz-bypass-governance-retention``
  can (the IAM permission ``s3:BypassGovernanceRetention`` is not modelled);
  a retain-until date must lie in the future. moto overwrites the retention
  with whatever is sent;
- ``PutObject`` with a retention (its own headers, or the bucket's default)
  needs an integrity checksum: ``Content-MD5`` or an ``x-amz-checksum-*``
  header (or trailer), AWS's ``InvalidRequest`` otherwise; a checksum that does
  not match the body is ``BadDigest``. moto asks for ``Content-MD5`` or
  ``x-amz-sdk-checksum-algorithm`` instead (refusing a lone
  ``x-amz-checksum-sha256`` that AWS accepts, accepting an algorithm with no
  checksum that AWS refuses) and never compares a checksum with the body. The
  checksum rules are applied to Object Lock buckets only (AWS compares checksums
  everywhere; the sandbox models it where the lock depends on it).
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

import xmltodict
from moto.core.responses import ActionResult
from moto.s3 import responses, urls
from moto.s3.exceptions import LockNotEnabled
from moto.s3.responses import S3Response

from sandbox.aws.extensions import Extension

LOCK_HEADERS = ("x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date")
# The checksums the sandbox can compute, each as S3 names it in its header and error.
DIGESTS = {
    "crc32": lambda body: zlib.crc32(body).to_bytes(4, "big"),
    "sha1": lambda body: hashlib.sha1(body).digest(),
    "sha256": lambda body: hashlib.sha256(body).digest(),
}
# Every x-amz-checksum-<algorithm> S3 accepts (botocore's ChecksumAlgorithm values).
CHECKSUM_ALGORITHMS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")
KEY_SUBRESOURCES = ("retention", "legal-hold", "acl", "tagging", "uploadId", "partNumber")


def _error(code: str, message: str, status: int) -> tuple[int, dict[str, str], str]:
    """An S3 error answer (its XML body), for codes moto's model gives no status."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
    )
    return status, {"Content-Type": "application/xml"}, body


def _when(value: str | None) -> datetime | None:
    """A retain-until date as S3 receives it (ISO 8601, ``Z``, with or without fractions)."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


LOCKED = _error("AccessDenied", "Access Denied because object protected by object lock.", 403)
PAST = _error("InvalidArgument", "The retain until date must be in the future!", 400)


class SandboxS3Response(S3Response):
    """moto's S3 with Object Lock's missing rules (module docstring)."""

    def _key_response_get(self, query: dict[str, Any], key_name: str) -> Any:
        if "retention" in query:
            self._set_action("KEY", "GET", query)
            self._authenticate_and_authorize_s3_action(
                bucket_name=self.bucket_name, key_name=key_name
            )
            return self.get_object_retention()
        return super()._key_response_get(query, key_name)

    def _key_response_put(self, query: dict[str, Any], key_name: str) -> Any:
        if "retention" in query:
            self._set_action("KEY", "PUT", query)
            self._authenticate_and_authorize_s3_action(
                bucket_name=self.bucket_name, key_name=key_name
            )
            return self.put_object_retention()
        plain = not any(name in query for name in KEY_SUBRESOURCES)
        if plain and "x-amz-copy-source" not in self.headers:
            self._set_action("KEY", "PUT", query)
            self._authenticate_and_authorize_s3_action(
                bucket_name=self.bucket_name, key_name=key_name
            )
            refused = self._refuse_locked_put()
            return refused or self.put_object()
        return super()._key_response_put(query, key_name)

    # --- GetObjectRetention / PutObjectRetention ---------------------------------------

    def _locked_key(self) -> Any:
        """The version asked for (``versionId``, else the current one), in a locked bucket."""
        bucket = self.backend.get_bucket(self.bucket_name)
        if not bucket.object_lock_enabled:
            raise LockNotEnabled
        version_id = self._get_param("versionId")
        key = self.backend.get_object(self.bucket_name, self.parse_key_name(), version_id)
        if key is None:
            if version_id:
                return _error("NoSuchVersion", "The specified version does not exist.", 404)
            return _error("NoSuchKey", "The specified key does not exist.", 404)
        return key

    def get_object_retention(self) -> Any:
        """The version's retention; ``NoSuchObjectLockConfiguration`` (404) when it has none."""
        key = self._locked_key()
        if isinstance(key, tuple):
            return key
        if not key.lock_mode or not key.lock_until:
            return _error(
                "NoSuchObjectLockConfiguration",
                "The specified object does not have a ObjectLock configuration",
                404,
            )
        self.data["Action"] = "GetObjectRetention"
        retention = {"Mode": key.lock_mode, "RetainUntilDate": _when(key.lock_until)}
        return self.serialized(ActionResult({"Retention": retention}))

    def put_object_retention(self) -> Any:
        """Set a version's retention, unless that weakens one in force (module docstring).

        Weakening: no retention at all, an earlier retain-until date, or (from
        compliance) another mode. AWS answers ``AccessDenied`` (403).
        """
        key = self._locked_key()
        if isinstance(key, tuple):
            return key
        asked = (xmltodict.parse(self.body or b"<Retention/>") or {}).get("Retention") or {}
        mode, until_text = asked.get("Mode"), asked.get("RetainUntilDate")
        until = _when(until_text)
        now = datetime.now(UTC)
        if until is not None and until <= now:
            return PAST
        current = _when(key.lock_until)
        if key.lock_mode in ("COMPLIANCE", "GOVERNANCE") and current and current > now:
            weaker = (
                mode is None
                or until is None
                or until < current
                or (key.lock_mode == "COMPLIANCE" and mode != "COMPLIANCE")
            )
            bypass = self.headers.get("x-amz-bypass-governance-retention", "").lower() == "true"
            if weaker and (key.lock_mode == "COMPLIANCE" or not bypass):
                return LOCKED
        key.lock_mode, key.lock_until = mode, until_text
        return 200, {}, ""

    # --- PutObject --------------------------------------------------------------------

    def _refuse_locked_put(self) -> Any:
        """AWS's refusal of a PutObject that a retention applies to, or None to go on."""
        bucket = self.backend.get_bucket(self.bucket_name)
        mode, until = (self.headers.get(name) for name in LOCK_HEADERS)
        held = (self.headers.get("x-amz-object-lock-legal-hold") or "").upper() == "ON"
        if not (mode or until or held or bucket.has_default_lock):
            return None
        if (mode or until or held) and not bucket.object_lock_enabled:
            raise LockNotEnabled
        if bool(mode) != bool(until):
            return _error(
                "InvalidArgument",
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both "
                "be supplied",
                400,
            )
        when = _when(until)
        if when is not None and when <= datetime.now(UTC):
            return PAST
        return self._integrity_problem()

    def _integrity_problem(self) -> Any:
        """None when the body comes with a checksum that matches it, else AWS's error."""
        trailer = (self.headers.get("x-amz-trailer") or "").lower()
        sent = {
            algorithm: self.headers.get(f"x-amz-checksum-{algorithm}")
            for algorithm in CHECKSUM_ALGORITHMS
            if self.headers.get(f"x-amz-checksum-{algorithm}")
        }
        declared = (self.headers.get("x-amz-sdk-checksum-algorithm") or "").lower()
        if declared and declared not in sent and trailer != f"x-amz-checksum-{declared}":
            return _error(
                "InvalidRequest",
                "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* "
                "or x-amz-trailer headers were found.",
                400,
            )
        md5 = self.headers.get("Content-MD5")
        if not (md5 or sent or trailer.startswith("x-amz-checksum-")):
            return _error(
                "InvalidRequest",
                "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests "
                "with Object Lock parameters",
                400,
            )
        body = self.body or b""
        if md5 and md5 != base64.b64encode(hashlib.md5(body).digest()).decode():
            return _error(
                "BadDigest", "The Content-MD5 you specified did not match what we received.", 400
            )
        for algorithm, value in sent.items():
            digest = DIGESTS.get(algorithm)
            if digest is not None and value != base64.b64encode(digest(body)).decode():
                return _error(
                    "BadDigest",
                    f"The {algorithm.upper()} you specified did not match the calculated checksum.",
                    400,
                )
        return None


EXTENSION = Extension(urls, SandboxS3Response, replaces=(responses, "S3Response"))
