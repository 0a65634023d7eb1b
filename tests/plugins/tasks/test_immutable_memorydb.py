"""MemoryDB's locked copy: the set's .rdb files in the protected Object Lock bucket (the sandbox).

The protected account and its bucket are test_preflight_immutable's (a second
account of the sandbox, reached through ``aws_immutable``, its bucket in
compliance mode for 35 days); the staging bucket MemoryDB exports to is the
installation's own, in the home region. The sandbox enforces Object Lock as AWS
does (tests/sandbox/test_s3_object_lock.py); it does not refuse a request to
another account's bucket (moto finds a bucket by name in any account), which
this design never makes: each role reads or writes only its own account's bucket.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from sandbox.installation import seed_installation
from tests.plugins.support import defer, eventually, make_context
from tests.plugins.tasks.test_preflight_immutable import (  # noqa: F401
    BUCKET,
    CONFIG,
    ROLE,
    _bucket,
    _vault,
    protected,
)
from ue_backup.backup_set import BackupSet
from ue_backup.config import parse_config
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.memorydb import MemoryDbHook
from ue_backup.hooks.s3 import S3Hook
from ue_backup.operators.memorydb import (
    MemoryDbCreateSnapshotOperator,
    MemoryDbExportSnapshotOperator,
)
from ue_backup.planning import iso, memorydb_snapshot_time
from ue_backup.records import META_SHARDS, META_SNAPSHOT, META_SOURCE_ETAG, META_TIME
from ue_backup.run_settings import BackupRunSettings
from ue_backup.sensors.memorydb import MemoryDbSnapshotAvailableSensor
from ue_backup.tasks.immutable_memorydb import lock_memorydb, locked_prefix, same_checksum
from ue_backup.tasks.preflight import check_immutable_locks

STAGING = "ue-test-memorydb-locked-export"
SET = BackupSet.for_run("ue-test", datetime.now(UTC))
SNAPSHOT = SET.memorydb_snapshot_name


def _config(cluster: str) -> dict:
    config = copy.deepcopy(CONFIG)
    config["memorydb"] = {"cluster_name": cluster}
    config["immutable"]["memorydb_export_bucket"] = STAGING
    return config


@pytest.fixture
def installation(protected, fast):  # noqa: F811
    """The seeded cluster, the staging bucket at home, the locked bucket in the protected
    account; returns the run's settings."""
    sandbox = protected
    sandbox.durations.update(memorydb_snapshot=0.1, memorydb_export=0.1)
    cluster = seed_installation(sandbox, velero=False, ecds=()).memorydb_cluster
    sandbox.client("s3").create_bucket(
        Bucket=STAGING, CreateBucketConfiguration={"LocationConstraint": sandbox.region}
    )
    _bucket(sandbox)
    cfg = parse_config(_config(cluster))
    return BackupRunSettings.build(cfg, SET.id, {"efs", "memorydb"}).dump()


def _exported(sandbox, settings) -> dict:
    """The set's snapshot, exported to the staging bucket and waited for, as the DAG does."""
    hook = MemoryDbHook()
    cluster = settings["memorydb_cluster"]
    MemoryDbCreateSnapshotOperator(
        task_id="memorydb_snapshot", backup_set_id=SET.id, cluster_name=cluster
    ).execute(make_context())
    eventually(sandbox, lambda: hook.get_snapshot(SNAPSHOT)["Status"] == "available")
    context = make_context()
    export = MemoryDbExportSnapshotOperator(
        task_id="export_memorydb_immutable", backup_set_id=SET.id, bucket=STAGING
    ).execute(context)
    sensor = MemoryDbSnapshotAvailableSensor(task_id="wait", resource_id=export["snapshot"])
    assert defer(sensor, context).resume() == SNAPSHOT
    return export


@pytest.fixture
def settings(installation):
    return installation


def _s3(sandbox):
    return sandbox.aws.client_as(ROLE, "s3")


def _prefix(settings) -> str:
    return locked_prefix(settings["manifest_prefix"], SET)


def _versions(sandbox, settings) -> list[dict]:
    answer = _s3(sandbox).list_object_versions(Bucket=BUCKET, Prefix=_prefix(settings))
    return answer.get("Versions", [])


def _staged(sandbox) -> list[str]:
    return [
        o["Key"] for o in sandbox.client("s3").list_objects_v2(Bucket=STAGING).get("Contents", [])
    ]


def test_every_shard_file_is_locked_in_compliance_mode_beside_the_manifest(protected, settings):  # noqa: F811
    export = _exported(protected, settings)
    staged = _staged(protected)
    before = datetime.now(UTC)

    record = lock_memorydb(settings, export)

    snapshot = MemoryDbHook().get_snapshot(SNAPSHOT)
    shards = len(snapshot["ClusterConfiguration"]["Shards"])
    assert len(record["files"]) == shards == len(staged) >= 1
    assert record["id"] == f"s3://{BUCKET}/ue-backup/ue-test/{SET.id}/memorydb/"
    assert (record["bucket"], record["account"], record["num_shards"]) == (
        BUCKET,
        CONFIG["immutable"]["account_id"],
        shards,
    )
    assert record["time"] == iso(memorydb_snapshot_time(snapshot))
    s3 = _s3(protected)
    for file, staged_key in zip(record["files"], sorted(staged), strict=True):
        assert file["key"] == f"{_prefix(settings)}{staged_key}"
        retention = s3.get_object_retention(
            Bucket=BUCKET, Key=file["key"], VersionId=file["version_id"]
        )["Retention"]
        assert retention["Mode"] == "COMPLIANCE"
        assert retention["RetainUntilDate"] >= before + timedelta(days=35)
        head = s3.head_object(Bucket=BUCKET, Key=file["key"], VersionId=file["version_id"])
        assert head["Metadata"][META_SNAPSHOT] == SNAPSHOT
        assert head["Metadata"][META_TIME] == record["time"]
        assert head["Metadata"][META_SHARDS] == str(shards)
        assert head["Metadata"][META_SOURCE_ETAG]
    # the bytes are the export's: the cluster's data as MemoryDB wrote it
    body = s3.get_object(Bucket=BUCKET, Key=record["files"][0]["key"])["Body"].read()
    assert body.startswith(b"REDIS")
    # the staging area is emptied once the locked copies are proven
    assert _staged(protected) == []
    # and the installation's own credentials cannot delete them
    home = protected.client("s3")
    for file in record["files"]:
        with pytest.raises(ClientError) as refused:
            home.delete_object(Bucket=BUCKET, Key=file["key"], VersionId=file["version_id"])
        assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_a_retry_after_success_writes_nothing_and_proves_the_locked_files_again(
    protected,  # noqa: F811
    settings,
):
    export = _exported(protected, settings)
    first = lock_memorydb(settings, export)
    again = lock_memorydb(settings, export)  # the staged export is gone by now
    assert [f["version_id"] for f in again["files"]] == [f["version_id"] for f in first["files"]]
    assert len(_versions(protected, settings)) == len(first["files"])


def test_a_retry_before_the_staging_area_was_emptied_reuses_the_locked_versions(
    protected,  # noqa: F811
    settings,
    monkeypatch,
):
    export = _exported(protected, settings)
    delete = S3Hook.delete_key
    monkeypatch.setattr(S3Hook, "delete_key", _fail_delete)
    with pytest.raises(RuntimeError, match="lost"):
        lock_memorydb(settings, export)
    monkeypatch.setattr(S3Hook, "delete_key", delete)
    assert _staged(protected)  # the crash left the staged export
    written = len(_versions(protected, settings))
    record = lock_memorydb(settings, export)
    assert len(_versions(protected, settings)) == written == len(record["files"])
    assert _staged(protected) == []


def _fail_delete(self, bucket, key):
    raise RuntimeError("the worker was lost")


def test_an_incomplete_export_fails_for_a_retry_and_locks_nothing(protected, settings):  # noqa: F811
    export = _exported(protected, settings)
    for key in _staged(protected):
        protected.client("s3").delete_object(Bucket=STAGING, Key=key)
    with pytest.raises(RuntimeError, match="holds 0 of"):
        lock_memorydb(settings, export)
    assert _versions(protected, settings) == []


def test_another_sets_export_is_refused(protected, settings):  # noqa: F811
    export = _exported(protected, settings)
    with pytest.raises(PermanentFailure, match="not this set's"):
        lock_memorydb(settings, {**export, "snapshot": "ueb-ue-test-20200101t000000z"})
    with pytest.raises(PermanentFailure, match="not this set's"):
        lock_memorydb(settings, {**export, "bucket": "another-bucket"})


def test_settings_without_a_staging_bucket_are_refused_naming_the_field(protected, settings):  # noqa: F811
    with pytest.raises(PermanentFailure, match=r"immutable\.memorydb_export_bucket"):
        lock_memorydb({**settings, "immutable_memorydb_export_bucket": None}, {})


def test_a_version_not_in_compliance_mode_is_refused_loudly(protected, settings, monkeypatch):  # noqa: F811
    export = _exported(protected, settings)
    real = S3Hook.object_retention

    def governance(self, bucket, key, version_id):
        return {**real(self, bucket, key, version_id), "Mode": "GOVERNANCE"}

    monkeypatch.setattr(S3Hook, "object_retention", governance)
    with pytest.raises(PermanentFailure, match="GOVERNANCE mode, not COMPLIANCE"):
        lock_memorydb(settings, export)
    assert len(_staged(protected)) >= 1  # nothing proven: the staged export is kept


def test_a_version_locked_too_briefly_is_refused(protected, settings, monkeypatch):  # noqa: F811
    export = _exported(protected, settings)
    real = S3Hook.object_retention

    def short(self, bucket, key, version_id):
        found = real(self, bucket, key, version_id)
        return {**found, "RetainUntilDate": found["RetainUntilDate"] - timedelta(days=2)}

    monkeypatch.setattr(S3Hook, "object_retention", short)
    with pytest.raises(PermanentFailure, match="min_retention_days 35"):
        lock_memorydb(settings, export)


def test_a_checksum_other_than_the_bytes_read_is_refused(protected, settings, monkeypatch):  # noqa: F811
    export = _exported(protected, settings)
    real = S3Hook.put_locked_stream

    def other(self, *args, **kwargs):
        return {**real(self, *args, **kwargs), "ChecksumSHA256": "AAAA"}

    monkeypatch.setattr(S3Hook, "put_locked_stream", other)
    with pytest.raises(PermanentFailure, match="expected AAAA"):
        lock_memorydb(settings, export)


def test_a_size_other_than_the_staged_files_is_refused(protected, settings, monkeypatch):  # noqa: F811
    export = _exported(protected, settings)
    real = S3Hook.head_version

    def shorter(self, bucket, key, version_id=None):
        found = real(self, bucket, key, version_id)
        return found and {**found, "ContentLength": found["ContentLength"] - 1}

    monkeypatch.setattr(S3Hook, "head_version", shorter)
    with pytest.raises(PermanentFailure, match="bytes, the staged file"):
        lock_memorydb(settings, export)


def test_a_locked_file_with_another_point_in_time_is_refused(protected, settings):  # noqa: F811
    """An earlier try's version (the staged export gone) whose metadata is not the snapshot's:
    it is what the key holds, and it is not this set's data."""
    export = _exported(protected, settings)
    record = lock_memorydb(settings, export)
    key = record["files"][0]["key"]
    s3 = _s3(protected)
    head = s3.head_object(Bucket=BUCKET, Key=key)
    s3.put_object(
        Bucket=BUCKET,
        Key=key,
        Body=b"REDIS0011",
        ChecksumAlgorithm="SHA256",
        Metadata={**head["Metadata"], META_TIME: "2020-01-01T00:00:00+00:00"},
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=36),
    )
    with pytest.raises(PermanentFailure, match="carries ue-backup-snapshot-time"):
        lock_memorydb(settings, export)


def test_a_locked_key_that_is_not_this_sets_file_without_its_export_is_refused(
    protected,  # noqa: F811
    settings,
):
    export = _exported(protected, settings)
    record = lock_memorydb(settings, export)
    key = record["files"][0]["key"]
    _s3(protected).put_object(
        Bucket=BUCKET,
        Key=key,
        Body=b"other",
        ChecksumAlgorithm="SHA256",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=36),
    )
    with pytest.raises(PermanentFailure, match="staged export is gone"):
        lock_memorydb(settings, export)


def test_checksums_compare_digests_and_the_part_count_where_given():
    assert same_checksum("abc=", "abc=")
    assert same_checksum("abc=-3", "abc=-3")
    assert same_checksum("abc=", "abc=-3")  # the sandbox leaves the part count out
    assert not same_checksum("abd=", "abc=")
    assert not same_checksum("abc=-2", "abc=-3")


# --- preflight: the staging bucket, before anything is changed ---------------------------------


def _preflight(config: dict) -> list[str]:
    problems: list[str] = []
    check_immutable_locks(parse_config(config), problems, [])
    return problems


def test_preflight_passes_a_staging_bucket_of_the_home_region(protected, settings):  # noqa: F811
    _vault(protected)
    assert _preflight(_config(settings["memorydb_cluster"])) == []


def test_preflight_refuses_a_missing_staging_bucket_naming_the_field(protected, settings):  # noqa: F811
    _vault(protected)
    config = _config(settings["memorydb_cluster"])
    config["immutable"]["memorydb_export_bucket"] = "ue-test-no-such-bucket"
    [problem] = _preflight(config)
    assert problem.startswith("immutable.memorydb_export_bucket: S3 bucket ue-test-no-such-bucket")


def test_preflight_refuses_a_staging_bucket_of_another_region(protected, settings):  # noqa: F811
    _vault(protected)
    far = "eu-central-1"
    protected.client("s3", region=far).create_bucket(
        Bucket="ue-test-far-staging", CreateBucketConfiguration={"LocationConstraint": far}
    )
    config = _config(settings["memorydb_cluster"])
    config["immutable"]["memorydb_export_bucket"] = "ue-test-far-staging"
    assert _preflight(config) == [
        "immutable.memorydb_export_bucket: S3 bucket ue-test-far-staging is in eu-central-1, "
        f"not in {protected.region}: MemoryDB exports a snapshot only to a bucket of its own "
        "region"
    ]
