"""MemoryDB's locked copy: the set's ``.rdb`` files where the Airflow role cannot delete them.

MemoryDB exports a snapshot only to a bucket of its own region and account
(``CopySnapshot`` with ``TargetBucket``): the backup DAG exports the set's
snapshot to ``immutable.memorydb_export_bucket`` (a staging bucket of the
installation's account), and ``lock_memorydb`` copies each shard's file into
the protected account's Object Lock bucket (``immutable.bucket``), under

    <manifests.prefix><installation>/<set id>/memorydb/<export file name>

beside the manifest's locked copy (``immutable_manifest``), as a version locked
in COMPLIANCE mode until now + ``min_retention_days`` (an explicit retention on
the version, as the manifest's: the bucket's default is the bucket's to change),
carrying the cross-region copy's metadata (the snapshot's point in time, node
type, shard count, engine version) and the staged file's ETag.

How the bytes travel: streamed through the worker, the installation's role
reading the staged file and the protected role writing the locked one
(``S3Hook.put_locked_stream``: one request, or a multipart upload for a large
file), not a server-side CopyObject by the protected role. A CopyObject would
need the staging bucket's policy to let the protected account read the
installation's bucket, and the protected role a permission outside its own
account; streamed, each role touches only its own account's bucket, and no
grant crosses between them. The price is the transfer through the worker,
once per set. The worker hashes every part as it reads it and sends the
SHA-256 with it (S3 refuses a locked upload without a checksum and answers
``BadDigest`` when the bytes it received differ); reading the staged file is
conditional on the ETag listed, so what is hashed is what was listed.

Then each version is read back through the protected connection and refused
loudly (``PermanentFailure``, naming bucket, key and version) unless it is
locked in COMPLIANCE mode until at least the set's time + ``min_retention_days``
(``immutable.object_lock_problems``), holds exactly the staged file's size
and the checksum of the bytes read, and carries the snapshot's point in time
and shard count.

Idempotent under retry: a key whose current version already holds the staged
file (its ETag and size in the metadata, S3's checksum present) locked well
enough is reused, not written again (each locked version is kept, and paid
for, for the whole retention). Once every file is proven, the staged export is
deleted (the installation's role deletes its own staging objects); a retry
after that finds the locked files and proves them again without a source.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ue_backup import immutable
from ue_backup.aws import settings_hook
from ue_backup.backup_set import BackupSet
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.memorydb import MemoryDbHook
from ue_backup.hooks.s3 import S3Hook
from ue_backup.records import (
    META_NODE_TYPE,
    META_SHARDS,
    META_SNAPSHOT,
    META_SOURCE_ETAG,
    META_TIME,
    memorydb_copy_metadata,
    s3_object_arn,
)
from ue_backup.run_settings import BackupRunSettings

log = logging.getLogger(__name__)


def locked_prefix(manifest_prefix: str, backup_set: BackupSet) -> str:
    """Where a set's locked ``.rdb`` files live in ``immutable.bucket``: beside its manifest."""
    return f"{manifest_prefix}{backup_set.installation}/{backup_set.id}/memorydb/"


def lock_memorydb(settings: Mapping[str, Any], export: Mapping[str, Any]) -> dict[str, Any]:
    """Copy the set's staged ``.rdb`` files into the protected Object Lock bucket, locked, and
    prove them; then delete the staged export.

    ``settings``: the run's settings (preflight); ``export``: what the export task returned
    (``{"snapshot", "bucket", "prefix", "region"}``). Raises ``RuntimeError`` (retried)
    while the export holds fewer files than the snapshot has shards, ``PermanentFailure``
    when the run has no locked copy configured, the export is not this set's, or a locked
    version read back is not what was written.
    """
    run = BackupRunSettings.model_validate(settings)
    bucket, staging = run.immutable_bucket, run.immutable_memorydb_export_bucket
    days = (run.immutable_lifecycle or {}).get("DeleteAfterDays")
    if not (bucket and staging and days and run.memorydb_cluster):
        raise PermanentFailure(
            "immutable.memorydb_export_bucket: the run's settings name no MemoryDB staging "
            "bucket, protected Object Lock bucket or min_retention_days: MemoryDB's data "
            "cannot be locked"
        )
    backup_set = BackupSet.parse(run.backup_set)
    name = backup_set.memorydb_snapshot_name
    if export.get("snapshot") != name or export.get("bucket") != staging:
        raise PermanentFailure(
            f"the export {export.get('snapshot')!r} in s3://{export.get('bucket')}/ is not this "
            f"set's snapshot {name} in s3://{staging}/: not locked"
        )
    snapshot = settings_hook(MemoryDbHook, settings).get_snapshot(name)
    if snapshot is None:
        raise PermanentFailure(f"MemoryDB snapshot {name} not found")
    metadata = memorydb_copy_metadata(snapshot)
    home = settings_hook(S3Hook, settings)
    protected = settings_hook(
        S3Hook, settings, region=run.immutable_region, conn_id=run.immutable_conn_id
    )
    copier = _Copier(home, protected, staging, bucket, metadata, backup_set, days)
    prefix = locked_prefix(run.manifest_prefix, backup_set)

    staged = {o["Key"]: o for o in home.list_objects(staging, export["prefix"]) if _rdb(o)}
    locked = {o["Key"][len(prefix) :]: o for o in protected.list_objects(bucket, prefix) if _rdb(o)}
    files = sorted(set(staged) | set(locked))
    shards = int(metadata[META_SHARDS])
    if len(files) < shards:
        raise RuntimeError(  # not a PermanentFailure: retried, MemoryDB may still be writing
            f"the export of {name} to s3://{staging}/ holds {len(files)} of {shards} shard files"
        )
    proven = [copier.lock(f"{prefix}{file}", staged.get(file)) for file in files]
    for file in staged:  # the staging area's copies are no longer needed: the locked ones are
        home.delete_key(staging, file)
        log.info("Deleted the staged export s3://%s/%s", staging, file)
    return locked_record(name, bucket, run, metadata, proven)


def _rdb(obj: Mapping[str, Any]) -> bool:
    return str(obj.get("Key", "")).endswith(".rdb")


class _Copier:
    """Copies one staged file into the Object Lock bucket (or reuses its locked version),
    then proves the version it answers for."""

    def __init__(
        self,
        home: S3Hook,
        protected: S3Hook,
        staging: str,
        bucket: str,
        metadata: Mapping[str, str],
        backup_set: BackupSet,
        days: int,
    ) -> None:
        self.home, self.protected = home, protected
        self.staging, self.bucket = staging, bucket
        self.metadata = dict(metadata)
        self.days = days
        self.required = backup_set.created_at + timedelta(days=days)

    def lock(self, key: str, source: Mapping[str, Any] | None) -> dict[str, Any]:
        """The proven locked version of ``key`` (its record); ``source``: the staged file's
        ListObjectsV2 entry, None when an earlier try has deleted it already."""
        current = self.protected.head_version(self.bucket, key)
        reusable = current is not None and self._reusable(key, current, source)
        if reusable:
            version_id, checksum = current["VersionId"], None
            log.info(
                "s3://%s/%s already holds this file, locked: version %s",
                self.bucket,
                key,
                version_id,
            )
        elif source is None:
            raise PermanentFailure(
                f"{immutable.SECTION}.bucket: s3://{self.bucket}/{key} is not a locked copy of "
                "this set's file, and its staged export is gone: export the snapshot again"
            )
        else:
            written = self._write(key, source)
            version_id, checksum = written["VersionId"], written["ChecksumSHA256"]
        return self._prove(key, version_id, source, checksum)

    def _reusable(
        self, key: str, current: Mapping[str, Any], source: Mapping[str, Any] | None
    ) -> bool:
        """Whether the key's current version is this file, locked well enough (then a retry
        writes nothing: each locked version is paid for its whole retention)."""
        meta = current.get("Metadata") or {}
        if meta.get(META_SNAPSHOT) != self.metadata[META_SNAPSHOT] or not current.get(
            "ChecksumSHA256"
        ):
            return False
        if source is not None and (
            meta.get(META_SOURCE_ETAG) != source["ETag"]
            or current.get("ContentLength") != source["Size"]
        ):
            return False
        retention = self.protected.object_retention(self.bucket, key, current["VersionId"])
        return not immutable.object_lock_problems(key, retention, self.required, self.days)

    def _write(self, key: str, source: Mapping[str, Any]) -> dict[str, Any]:
        # Whole seconds, rounded up: what S3 keeps is never earlier than what was asked.
        until = (datetime.now(UTC) + timedelta(days=self.days, seconds=1)).replace(microsecond=0)
        stream = self.home.open_object(self.staging, source["Key"], source["ETag"])
        try:
            written = self.protected.put_locked_stream(
                self.bucket,
                key,
                stream,
                int(source["Size"]),
                until,
                {**self.metadata, META_SOURCE_ETAG: source["ETag"]},
            )
        finally:
            stream.close()
        log.info(
            "Copied s3://%s/%s to s3://%s/%s, version %s, locked",
            self.staging,
            source["Key"],
            self.bucket,
            key,
            written["VersionId"],
        )
        return written

    def _prove(
        self,
        key: str,
        version_id: str,
        source: Mapping[str, Any] | None,
        checksum: str | None,
    ) -> dict[str, Any]:
        """Read the version back: locked as required, the staged file's size, the checksum of
        the bytes read (when this try wrote it), the snapshot's time and shard count."""
        where = f"s3://{self.bucket}/{key} (version {version_id})"
        retention = self.protected.object_retention(self.bucket, key, version_id)
        problems = immutable.object_lock_problems(where, retention, self.required, self.days)
        head = self.protected.head_version(self.bucket, key, version_id) or {}
        field = f"{immutable.SECTION}.bucket"
        size = head.get("ContentLength")
        if source is not None and size != source["Size"]:
            problems.append(
                f"{field}: {where} holds {size} bytes, the staged file {source['Size']}"
            )
        found = head.get("ChecksumSHA256")
        if not found or (checksum is not None and not same_checksum(found, checksum)):
            problems.append(
                f"{field}: {where} has SHA-256 checksum {found or 'none'}, "
                f"expected {checksum or 'one'} (the bytes read from the staged file)"
            )
        meta = head.get("Metadata") or {}
        for name in (META_TIME, META_SHARDS):
            if meta.get(name) != self.metadata[name]:
                problems.append(
                    f"{field}: {where} carries {name} {meta.get(name)!r}, "
                    f"not the snapshot's {self.metadata[name]!r}"
                )
        if problems:
            raise PermanentFailure("MemoryDB's locked copy is not safe: " + "; ".join(problems))
        locked_until = retention["RetainUntilDate"].astimezone(UTC).isoformat()
        log.info("%s is locked in COMPLIANCE mode until %s", where, locked_until)
        return {
            "key": key,
            "version_id": version_id,
            "size_bytes": size,
            "checksum_sha256": found,
            "locked_until": locked_until,
        }


def same_checksum(found: str, expected: str) -> bool:
    """S3's checksum of a version against the one computed while writing it.

    AWS reports a multipart upload's composite checksum as ``<base64>-<parts>``; the sandbox
    (moto) leaves the ``-<parts>`` out: the digests are compared, and the part count too
    when both name one.
    """
    digest, _, parts = found.partition("-")
    want_digest, _, want_parts = expected.partition("-")
    return digest == want_digest and (not parts or parts == want_parts)


def locked_record(
    name: str,
    bucket: str,
    run: BackupRunSettings,
    metadata: Mapping[str, str],
    files: list[dict[str, Any]],
) -> dict[str, Any]:
    """The manifest's view of the locked copy: its files (key, version, lock), the snapshot's
    point in time and shape, what the protected account keeps and until when."""
    arns = [s3_object_arn(bucket, f["key"]) for f in files]
    prefix = files[0]["key"].rsplit("/", 1)[0] + "/" if files else ""
    return {
        "id": f"s3://{bucket}/{prefix}",
        "arn": arns[0] if len(arns) == 1 else None,
        "snapshot_arns": arns,
        "snapshot": name,
        "time": metadata[META_TIME],
        "state": "locked",
        "size_bytes": sum(int(f["size_bytes"] or 0) for f in files),
        "bucket": bucket,
        "account": run.immutable_account,
        "region": run.immutable_region,
        "node_type": metadata[META_NODE_TYPE],
        "num_shards": int(metadata[META_SHARDS]),
        "retention_days": (run.immutable_lifecycle or {}).get("DeleteAfterDays"),
        "locked_until": min(f["locked_until"] for f in files) if files else None,
        "files": files,
    }
