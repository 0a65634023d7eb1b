"""The manifest's locked copy: kept where the Airflow role cannot delete it (issue 17).

The manifest (``backup_steps.write_manifest``) is what a restore reads to find
a backup set; its home copy is in the installation's bucket, in the Airflow
role's reach. ``lock_manifest`` writes the same JSON, under the same key, into
the protected account's Object Lock bucket (``immutable.bucket``) through the
protected connection, as a version in COMPLIANCE mode: until its retain-until
date nobody, that account's root included, can delete the version or shorten
its lock.

The retention is written explicitly on every version, although preflight has
checked the bucket's default (``immutable.bucket_lock_problems``): the default
is the bucket's to change (a later PutObjectLockConfiguration with a shorter
default, or none, would silently shorten every later copy), an explicit one is
this version's own and cannot be weakened; and the date written is the one
asked for, whatever the default says.

Then it reads the version back, through the same connection: its retention
(``GetObjectRetention``) and its content (its SHA-256 against the manifest's),
and fails loudly, naming bucket, key and version, when either is not what was
asked (``immutable.object_lock_problems``).

Idempotent under retry: when the key's current version already holds the same
content, locked well enough, it is that version's record that is returned, and
nothing is written. Each locked version is kept, and paid for, for the whole
retention, whatever happens to it: a retry (or a try whose answer was lost after
S3 had written) must not pile up undeletable duplicates. Different content (the
manifest rewritten by a rerun of ``write_manifest``) gets a new version: the
current version is then the home manifest's twin, and the older one stays
locked, as it must.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ue_backup import immutable
from ue_backup.aws import settings_hook
from ue_backup.backup_set import BackupSet
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.s3 import S3Hook
from ue_backup.manifest import stored_json
from ue_backup.run_settings import BackupRunSettings
from ue_backup.tasks.backup_steps import manifest_key

log = logging.getLogger(__name__)


def manifest_body(manifest: Mapping[str, Any]) -> bytes:
    """The manifest's JSON as the home bucket holds it (``write_manifest`` adds
    ``location`` to the returned manifest only after writing it)."""
    return stored_json(manifest).encode()


def lock_manifest(settings: Mapping[str, Any], manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Write the manifest into the protected account's Object Lock bucket, locked, and prove it.

    ``settings``: the run's settings (preflight); ``manifest``: what
    ``write_manifest`` returned. Returns ``{bucket, key, version_id, locked_until}``
    (``locked_until`` ISO 8601, UTC). Raises ``PermanentFailure`` when the run has no
    immutable bucket, the manifest is another set's, or the version read back is not
    locked as asked or not the manifest's content.
    """
    run = BackupRunSettings.model_validate(settings)
    bucket, days = run.immutable_bucket, (run.immutable_lifecycle or {}).get("DeleteAfterDays")
    if not bucket or not days:
        raise PermanentFailure(
            "immutable.bucket: the run's settings name no protected Object Lock bucket (or no "
            "min_retention_days): the manifest cannot be locked"
        )
    if manifest.get("backup_set") != run.backup_set:
        raise PermanentFailure(
            f"the manifest is of backup set {manifest.get('backup_set')!r}, not of this run's "
            f"{run.backup_set}: not locked"
        )
    backup_set = BackupSet.parse(run.backup_set)
    key = manifest_key(run)  # as write_manifest names it
    body = manifest_body(manifest)
    required = backup_set.created_at + timedelta(days=days)
    hook = settings_hook(
        S3Hook, settings, region=run.immutable_region, conn_id=run.immutable_conn_id
    )

    version_id = _same_content_locked(hook, bucket, key, body, required, days)
    if version_id is None:
        # Whole seconds, rounded up: what S3 keeps is never earlier than what was asked.
        until = (datetime.now(UTC) + timedelta(days=days, seconds=1)).replace(microsecond=0)
        version_id = hook.put_locked(bucket, key, body, until)
        log.info("Manifest written to s3://%s/%s, version %s, locked", bucket, key, version_id)
    else:
        log.info(
            "s3://%s/%s already holds this manifest, locked: version %s", bucket, key, version_id
        )

    where = f"s3://{bucket}/{key} (version {version_id})"
    retention = hook.object_retention(bucket, key, version_id)
    problems = immutable.object_lock_problems(where, retention, required, days)
    content = hook.read_version(bucket, key, version_id)
    if content is None or _sha256(content[0]) != _sha256(body):
        problems.append(
            f"{immutable.SECTION}.bucket: {where} does not hold the manifest "
            f"(SHA-256 {_sha256(content[0]) if content else 'none'}, expected {_sha256(body)})"
        )
    if problems:
        raise PermanentFailure("the manifest's locked copy is not safe: " + "; ".join(problems))
    locked_until = retention["RetainUntilDate"].astimezone(UTC).isoformat()
    log.info("%s is locked in COMPLIANCE mode until %s", where, locked_until)
    return {"bucket": bucket, "key": key, "version_id": version_id, "locked_until": locked_until}


def _same_content_locked(
    hook: S3Hook, bucket: str, key: str, body: bytes, required: datetime, days: int
) -> str | None:
    """The key's current version, when it holds ``body`` locked well enough; else None
    (absent, other content, or a lock too weak or too short: then a new version is written)."""
    current = hook.read_version(bucket, key)
    if current is None or _sha256(current[0]) != _sha256(body):
        return None
    version_id = current[1]
    retention = hook.object_retention(bucket, key, version_id)
    if immutable.object_lock_problems(key, retention, required, days):
        return None
    return version_id


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
