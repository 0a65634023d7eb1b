"""RdsHook against the sandbox: every RDS call the plugins make, through one hook."""

from __future__ import annotations

import asyncio

import pytest
from botocore.exceptions import ClientError

from sandbox.aws.fixtures import create_db_instance
from sandbox.installation import seed_installation
from tests.plugins.support import eventually, mutations
from ue_backup.hooks.rds import RdsHook
from ue_backup.switch_over import Instance

TAGS = [{"Key": "ue-backup:backup-set", "Value": "ue-test-20250101t000000z"}]


@pytest.fixture
def hook(sandbox) -> RdsHook:
    sandbox.durations.update(rds_snapshot=0, rds_instance=0, rds_rename=0.5)
    return RdsHook()


@pytest.fixture
def live(sandbox) -> str:
    return seed_installation(sandbox, memorydb=False, velero=False, ecds=()).rds_instance


def test_it_is_the_providers_hook_with_this_projects_retries(hook):
    from airflow.providers.amazon.aws.hooks.rds import RdsHook as ProviderRdsHook

    assert isinstance(hook, ProviderRdsHook)
    assert hook.config.retries["mode"] == "standard"


def test_get_is_none_where_describe_raises_not_found(sandbox, hook, live):
    assert hook.get_instance("nope") is None
    assert hook.get_snapshot("nope") is None
    with pytest.raises(hook.conn.exceptions.DBInstanceNotFoundFault):
        hook.describe_instance("nope")
    with pytest.raises(hook.conn.exceptions.DBSnapshotNotFoundFault):
        hook.describe_snapshot("nope")
    assert hook.describe_instance(live)["DBInstanceIdentifier"] == live


def test_snapshots_are_made_listed_tagged_and_deleted(sandbox, hook, live):
    created = hook.create_snapshot(snapshot_id="snap", instance=live, tags=TAGS)
    with pytest.raises(hook.conn.exceptions.DBSnapshotAlreadyExistsFault):
        hook.create_snapshot(snapshot_id="snap", instance=live, tags=TAGS)

    assert created["DBSnapshotIdentifier"] == "snap"
    assert [s["DBSnapshotIdentifier"] for s in hook.list_manual_snapshots(live)] == ["snap"]
    assert hook.list_manual_snapshots("other-instance") == []
    hook.add_tags(created["DBSnapshotArn"], [{"Key": "ue-backup:verified", "Value": "yes"}])
    assert {"Key": "ue-backup:verified", "Value": "yes"} in hook.get_snapshot("snap")["TagList"]

    hook.delete_snapshot("snap")
    assert hook.get_snapshot("snap") is None
    with pytest.raises(ClientError) as gone:
        hook.delete_snapshot("snap")
    assert gone.value.response["Error"]["Code"] in ("DBSnapshotNotFound", "DBSnapshotNotFoundFault")


def test_restores_from_a_snapshot_and_to_a_point_in_time(sandbox, hook, live):
    hook.create_snapshot(snapshot_id="snap", instance=live, tags=TAGS)
    window = hook.restore_window(live)
    assert window["LatestTime"]

    hook.restore_from_snapshot(target="from-snap", snapshot_id="snap", PubliclyAccessible=False)
    hook.restore_to_point_in_time(
        source=live, target="from-time", restore_time=window["LatestTime"]
    )

    assert hook.get_instance("from-snap") is not None
    assert hook.get_instance("from-time") is not None
    assert len(mutations(sandbox, "rds", "RestoreDBInstanceFromDBSnapshot")) == 1
    assert len(mutations(sandbox, "rds", "RestoreDBInstanceToPointInTime")) == 1


def test_a_rename_is_seen_alike_by_the_sync_and_the_async_reads(sandbox, hook):
    create_db_instance(hook.conn, "old")
    eventually(sandbox, lambda: hook.describe_instance("old")["DBInstanceStatus"] == "available")
    sandbox.durations.update(rds_rename=3)  # the first async client takes a while to make

    hook.rename_instance("old", "new")
    during = hook.instance_states(("old", "new"))
    during_async = asyncio.run(hook.instance_states_async(("old", "new")))

    assert during == during_async == {"old": Instance("renaming", "new"), "new": None}
    eventually(sandbox, lambda: hook.instance_states(("old",))["old"] is None)
    assert asyncio.run(hook.instance_states_async(("old", "new"))) == {
        "old": None,
        "new": Instance("available"),
    }


def test_a_temporary_instance_is_deleted_without_a_final_snapshot(sandbox, hook):
    create_db_instance(hook.conn, "temp")
    eventually(sandbox, lambda: hook.describe_instance("temp")["DBInstanceStatus"] == "available")

    hook.delete_instance("temp")

    assert len(mutations(sandbox, "rds", "DeleteDBInstance", "temp")) == 1
    eventually(sandbox, lambda: hook.get_instance("temp") is None)


def test_the_snapshot_a_restore_names_is_found_whatever_its_type(sandbox, hook):
    """A manual snapshot by id or ARN, and AWS Backup's (listed only when asked for by
    type) by its recovery point's ARN: the restore judges its storage at their size."""
    from sandbox.installation import ROLE_ARN

    installation = seed_installation(sandbox, memorydb=False, velero=False, ecds=())
    manual = hook.create_snapshot(snapshot_id="snap", instance=installation.rds_instance, tags=[])
    instance = hook.describe_instance(installation.rds_instance)
    backup = sandbox.client("backup")
    job = backup.start_backup_job(
        BackupVaultName=installation.vault,
        ResourceArn=instance["DBInstanceArn"],
        IamRoleArn=ROLE_ARN,
    )["BackupJobId"]
    point = eventually(
        sandbox, lambda: backup.describe_backup_job(BackupJobId=job).get("RecoveryPointArn")
    )

    assert hook.find_snapshot_of_any_type("snap")["AllocatedStorage"] == 20
    assert hook.find_snapshot_of_any_type(manual["DBSnapshotArn"])["DBSnapshotIdentifier"] == "snap"
    found = hook.find_snapshot_of_any_type(point)
    assert found["DBSnapshotIdentifier"].startswith("awsbackup:job-")
    assert found["AllocatedStorage"] == 20
    assert hook.find_snapshot_of_any_type("nope") is None
    assert hook.find_snapshot_of_any_type("awsbackup:job-nope") is None
