"""RDS in the sandbox: snapshot and restore timing, and point-in-time restore rules."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from sandbox.aws.fixtures import aws, create_db_instance, wait_until  # noqa: F401
from sandbox.aws.server import AwsSandbox

TAGS = [{"Key": "ue-backup:backup-set", "Value": "set-1"}]


def create_instance(aws: AwsSandbox, name: str = "ue-db", retention: int = 7) -> None:  # noqa: F811
    create_db_instance(aws.client("rds"), name, BackupRetentionPeriod=retention)


@pytest.fixture
def rds(aws):  # noqa: F811
    create_instance(aws)
    return aws.client("rds")


def test_a_snapshot_is_creating_for_its_duration_and_its_time_is_fixed_early(aws, rds):  # noqa: F811
    aws.durations.update(rds_snapshot=0.4, rds_snapshot_time_fixed=0.1)

    created = rds.create_db_snapshot(
        DBInstanceIdentifier="ue-db", DBSnapshotIdentifier="set-1", Tags=TAGS
    )["DBSnapshot"]
    seen = wait_until(
        lambda: rds.describe_db_snapshots(DBSnapshotIdentifier="set-1")["DBSnapshots"][0],
        lambda s: s["Status"] == "available",
    )

    assert created["Status"] == "creating"
    assert "SnapshotCreateTime" not in created
    creating = [s for s in seen if s["Status"] == "creating"]
    assert "SnapshotCreateTime" in creating[-1]  # fixed while still creating
    times = {s["SnapshotCreateTime"] for s in seen if "SnapshotCreateTime" in s}
    assert len(times) == 1  # fixed once, never moves
    assert seen[-1]["PercentProgress"] == 100
    assert rds.list_tags_for_resource(ResourceName=created["DBSnapshotArn"])["TagList"] == TAGS


def test_the_snapshot_available_waiter_waits_for_it(aws, rds):  # noqa: F811
    aws.durations.update(rds_snapshot=0.3)
    rds.create_db_snapshot(DBInstanceIdentifier="ue-db", DBSnapshotIdentifier="set-1")
    began = time.monotonic()

    rds.get_waiter("db_snapshot_available").wait(
        DBSnapshotIdentifier="set-1", WaiterConfig={"Delay": 0.05, "MaxAttempts": 40}
    )

    assert time.monotonic() - began >= 0.25


def test_restoring_from_a_snapshot_needs_it_available_and_takes_time(aws, rds):  # noqa: F811
    aws.durations.update(rds_snapshot=0.2, rds_instance=0.3)
    rds.create_db_snapshot(DBInstanceIdentifier="ue-db", DBSnapshotIdentifier="set-1")
    with pytest.raises(ClientError, match="InvalidDBSnapshotState"):
        rds.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier="ue-db-restored", DBSnapshotIdentifier="set-1"
        )
    rds.get_waiter("db_snapshot_available").wait(
        DBSnapshotIdentifier="set-1", WaiterConfig={"Delay": 0.05}
    )

    restored = rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="ue-db-restored", DBSnapshotIdentifier="set-1", Tags=TAGS
    )["DBInstance"]
    assert restored["DBInstanceStatus"] == "creating"
    rds.get_waiter("db_instance_available").wait(
        DBInstanceIdentifier="ue-db-restored", WaiterConfig={"Delay": 0.05}
    )
    arn = rds.describe_db_instances(DBInstanceIdentifier="ue-db-restored")["DBInstances"][0][
        "DBInstanceArn"
    ]
    assert rds.list_tags_for_resource(ResourceName=arn)["TagList"] == TAGS


def test_automated_backups_give_the_restore_window(aws, rds):  # noqa: F811
    create_instance(aws, "no-backups", retention=0)

    backups = rds.describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"]

    assert [b["DBInstanceIdentifier"] for b in backups] == ["ue-db"]
    window = backups[0]["RestoreWindow"]
    assert window["EarliestTime"] < window["LatestTime"]
    assert backups[0]["Status"] == "active"
    assert backups[0]["BackupRetentionPeriod"] == 7


def test_point_in_time_restore_uses_and_records_the_requested_time(aws, rds):  # noqa: F811
    window = rds.describe_db_instance_automated_backups(DBInstanceIdentifier="ue-db")[
        "DBInstanceAutomatedBackups"
    ][0]["RestoreWindow"]
    wanted = window["LatestTime"] - timedelta(milliseconds=1)

    restored = rds.restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier="ue-db",
        TargetDBInstanceIdentifier="ue-db-pitr",
        RestoreTime=wanted,
    )["DBInstance"]

    assert restored["DBInstanceStatus"] == "creating"
    assert aws.rds_restore_time("ue-db-pitr") == wanted
    rds.restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier="ue-db",
        TargetDBInstanceIdentifier="ue-db-latest",
        UseLatestRestorableTime=True,
    )
    assert aws.rds_restore_time("ue-db-latest") >= window["LatestTime"]


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"RestoreTime": "latest", "UseLatestRestorableTime": True}, "InvalidParameterCombination"),
        ({}, "InvalidParameterCombination"),
        ({"RestoreTime": "before"}, "InvalidRestoreFault"),
        ({"RestoreTime": "future"}, "InvalidRestoreFault"),
    ],
)
def test_point_in_time_restore_is_validated_like_aws(aws, rds, arguments, code):  # noqa: F811
    window = rds.describe_db_instance_automated_backups(DBInstanceIdentifier="ue-db")[
        "DBInstanceAutomatedBackups"
    ][0]["RestoreWindow"]
    times = {
        "latest": window["LatestTime"],
        "before": window["EarliestTime"] - timedelta(seconds=1),
        "future": window["LatestTime"] + timedelta(hours=1),
    }
    if "RestoreTime" in arguments:
        arguments = {**arguments, "RestoreTime": times[arguments["RestoreTime"]]}

    with pytest.raises(ClientError) as refused:
        rds.restore_db_instance_to_point_in_time(
            SourceDBInstanceIdentifier="ue-db", TargetDBInstanceIdentifier="x", **arguments
        )

    assert refused.value.response["Error"]["Code"] == code
    assert rds.describe_db_instances(DBInstanceIdentifier="ue-db")["DBInstances"]
    assert len(rds.describe_db_instances()["DBInstances"]) == 1


def test_point_in_time_restore_needs_backup_retention(aws, rds):  # noqa: F811
    create_instance(aws, "no-backups", retention=0)

    with pytest.raises(rds.exceptions.PointInTimeRestoreNotEnabledFault):
        rds.restore_db_instance_to_point_in_time(
            SourceDBInstanceIdentifier="no-backups",
            TargetDBInstanceIdentifier="x",
            UseLatestRestorableTime=True,
        )


def test_a_failed_snapshot_outcome(aws, rds):  # noqa: F811
    aws.durations.update(rds_snapshot=0.1)
    aws.faults.add(service="rds", operation="CreateDBSnapshot", kind="outcome", target="set-1")

    rds.create_db_snapshot(DBInstanceIdentifier="ue-db", DBSnapshotIdentifier="set-1")
    rds.create_db_snapshot(DBInstanceIdentifier="ue-db", DBSnapshotIdentifier="set-2")
    time.sleep(0.15)

    statuses = {
        s["DBSnapshotIdentifier"]: s["Status"]
        for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    }
    assert statuses == {"set-1": "failed", "set-2": "available"}


def test_a_snapshot_that_never_ends_stays_creating(aws, rds):  # noqa: F811
    aws.durations.update(rds_snapshot=0.05)
    aws.faults.add(service="rds", operation="CreateDBSnapshot", kind="never")

    rds.create_db_snapshot(DBInstanceIdentifier="ue-db", DBSnapshotIdentifier="set-1")
    time.sleep(0.15)

    snapshot = rds.describe_db_snapshots(DBSnapshotIdentifier="set-1")["DBSnapshots"][0]
    assert snapshot["Status"] == "creating"


# --- copies to another region ------------------------------------------------------------

FAR = "eu-central-1"


def available_snapshot(aws, rds, name: str = "set-1") -> dict:  # noqa: F811
    aws.durations.update(rds_snapshot=0.05, rds_snapshot_time_fixed=0.01)
    rds.create_db_snapshot(DBInstanceIdentifier="ue-db", DBSnapshotIdentifier=name, Tags=TAGS)
    rds.get_waiter("db_snapshot_available").wait(
        DBSnapshotIdentifier=name, WaiterConfig={"Delay": 0.05}
    )
    return rds.describe_db_snapshots(DBSnapshotIdentifier=name)["DBSnapshots"][0]


def test_a_cross_region_copy_is_pending_then_keeps_the_source_point_in_time(aws, rds):  # noqa: F811
    source = available_snapshot(aws, rds)
    aws.durations.update(rds_snapshot_copy=0.3)
    far = aws.client("rds", region=FAR)

    copied = far.copy_db_snapshot(
        SourceDBSnapshotIdentifier=source["DBSnapshotArn"],
        TargetDBSnapshotIdentifier="set-1",
        SourceRegion=aws.region,
        Tags=TAGS,
    )["DBSnapshot"]
    seen = wait_until(
        lambda: far.describe_db_snapshots(DBSnapshotIdentifier="set-1")["DBSnapshots"][0],
        lambda s: s["Status"] == "available",
    )

    assert copied["Status"] == "pending"
    assert copied["DBSnapshotArn"].startswith(f"arn:aws:rds:{FAR}:")
    done = seen[-1]
    assert done["OriginalSnapshotCreateTime"] == source["SnapshotCreateTime"]
    assert done["SnapshotCreateTime"] > source["SnapshotCreateTime"]  # the copy's own time
    assert done["SourceDBSnapshotIdentifier"] == source["DBSnapshotArn"]
    assert done["SourceRegion"] == aws.region
    assert done["PercentProgress"] == 100
    assert far.list_tags_for_resource(ResourceName=done["DBSnapshotArn"])["TagList"] == TAGS
    # the home region still has exactly its own snapshot
    home = rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    assert [s["DBSnapshotIdentifier"] for s in home] == ["set-1"]


def test_a_copy_needs_an_available_source(aws, rds):  # noqa: F811
    aws.durations.update(rds_snapshot=5)
    created = rds.create_db_snapshot(DBInstanceIdentifier="ue-db", DBSnapshotIdentifier="set-1")
    far = aws.client("rds", region=FAR)

    with pytest.raises(ClientError, match="InvalidDBSnapshotState"):
        far.copy_db_snapshot(
            SourceDBSnapshotIdentifier=created["DBSnapshot"]["DBSnapshotArn"],
            TargetDBSnapshotIdentifier="set-1",
            SourceRegion=aws.region,
        )
    assert far.describe_db_snapshots()["DBSnapshots"] == []


def test_an_encrypted_snapshot_leaves_its_region_only_with_a_key_there(aws):  # noqa: F811
    aws.durations.update(rds_snapshot=0.05, rds_snapshot_copy=0.05)
    home_key = aws.client("kms").create_key()["KeyMetadata"]["Arn"]
    rds = aws.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="ue-db",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="mz",
        MasterUserPassword="password1",
        AllocatedStorage=20,
        StorageEncrypted=True,
        KmsKeyId=home_key,
    )
    source = available_snapshot(aws, rds)
    far = aws.client("rds", region=FAR)
    copy = {
        "SourceDBSnapshotIdentifier": source["DBSnapshotArn"],
        "TargetDBSnapshotIdentifier": "set-1",
        "SourceRegion": aws.region,
    }

    with pytest.raises(ClientError, match="KmsKeyId is required"):
        far.copy_db_snapshot(**copy)
    with pytest.raises(ClientError, match="KMSKeyNotAccessibleFault"):
        far.copy_db_snapshot(**copy, KmsKeyId=home_key)  # a key of the source region
    far_key = aws.client("kms", region=FAR).create_key()["KeyMetadata"]["Arn"]
    copied = far.copy_db_snapshot(**copy, KmsKeyId=far_key)["DBSnapshot"]
    assert copied["KmsKeyId"] == far_key


def test_a_copy_outcome_fault_fails_the_copy(aws, rds):  # noqa: F811
    source = available_snapshot(aws, rds)
    aws.durations.update(rds_snapshot_copy=0.05)
    aws.faults.add(service="rds", operation="CopyDBSnapshot", kind="outcome", state="failed")
    far = aws.client("rds", region=FAR)

    far.copy_db_snapshot(
        SourceDBSnapshotIdentifier=source["DBSnapshotArn"],
        TargetDBSnapshotIdentifier="set-1",
        SourceRegion=aws.region,
    )
    wait_until(
        lambda: far.describe_db_snapshots(DBSnapshotIdentifier="set-1")["DBSnapshots"][0],
        lambda s: s["Status"] != "pending",
    )
    (copy,) = far.describe_db_snapshots(DBSnapshotIdentifier="set-1")["DBSnapshots"]
    assert copy["Status"] == "failed"


def test_a_restore_in_the_copy_region_from_the_copy(aws, rds):  # noqa: F811
    source = available_snapshot(aws, rds)
    aws.durations.update(rds_snapshot_copy=0.05, rds_instance=0.05)
    far = aws.client("rds", region=FAR)
    far.copy_db_snapshot(
        SourceDBSnapshotIdentifier=source["DBSnapshotArn"],
        TargetDBSnapshotIdentifier="set-1",
        SourceRegion=aws.region,
    )
    far.get_waiter("db_snapshot_available").wait(
        DBSnapshotIdentifier="set-1", WaiterConfig={"Delay": 0.05}
    )

    restored = far.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="ue-db-dr", DBSnapshotIdentifier="set-1"
    )["DBInstance"]

    assert restored["DBInstanceClass"] == "db.t3.micro"  # the original's, by default
    assert [i["DBInstanceIdentifier"] for i in far.describe_db_instances()["DBInstances"]] == [
        "ue-db-dr"
    ]


def describe(rds, name):
    try:
        return rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    except rds.exceptions.DBInstanceNotFoundFault:
        return None


def test_a_rename_is_asynchronous_as_in_aws(aws, rds):  # noqa: F811
    aws.durations.update(rds_rename=2)  # long enough for the checks below on a busy machine

    renamed = rds.modify_db_instance(
        DBInstanceIdentifier="ue-db", NewDBInstanceIdentifier="ue-db-new", ApplyImmediately=True
    )["DBInstance"]

    # at first: the old id renaming, the new one unknown (the waiter cannot wait for it)
    assert renamed["DBInstanceStatus"] == "renaming"
    assert renamed["PendingModifiedValues"] == {"DBInstanceIdentifier": "ue-db-new"}
    assert describe(rds, "ue-db-new") is None
    with pytest.raises(Exception, match="DBInstanceNotFound"):
        rds.get_waiter("db_instance_available").wait(
            DBInstanceIdentifier="ue-db-new", WaiterConfig={"Delay": 0.05, "MaxAttempts": 2}
        )
    with pytest.raises(ClientError, match="InvalidDBInstanceState"):
        rds.modify_db_instance(
            DBInstanceIdentifier="ue-db", NewDBInstanceIdentifier="other", ApplyImmediately=True
        )
    seen = wait_until(lambda: describe(rds, "ue-db-new"), lambda i: i is not None, timeout=10)
    # then: available under the new id only, nothing pending
    assert seen[-1]["DBInstanceStatus"] == "available"
    assert not seen[-1].get("PendingModifiedValues")
    assert describe(rds, "ue-db") is None


def test_a_rename_needs_a_free_name(aws, rds):  # noqa: F811
    create_instance(aws, "ue-db-2")
    with pytest.raises(ClientError, match="DBInstanceAlreadyExists"):
        rds.modify_db_instance(
            DBInstanceIdentifier="ue-db", NewDBInstanceIdentifier="ue-db-2", ApplyImmediately=True
        )
    assert describe(rds, "ue-db")["DBInstanceStatus"] == "available"


def test_parameter_and_option_groups_are_described_and_deleted_as_rds_does(aws):  # noqa: F811
    """A group named but not there is NotFound; a group an instance uses cannot be
    deleted (so a live instance's groups always exist); once the instance is gone, it can."""
    aws.durations.update(rds_delete=0.05)
    rds = aws.client("rds")
    with pytest.raises(ClientError, match="DBParameterGroupNotFound"):
        rds.describe_db_parameter_groups(DBParameterGroupName="platform-pg")
    with pytest.raises(ClientError, match="OptionGroupNotFoundFault"):
        rds.describe_option_groups(OptionGroupName="platform-og")
    assert rds.describe_option_groups()["OptionGroupsList"] == []  # none at all: an empty list
    rds.create_db_parameter_group(
        DBParameterGroupName="platform-pg", DBParameterGroupFamily="postgres13", Description="p"
    )
    rds.create_option_group(
        OptionGroupName="platform-og",
        EngineName="postgres",
        MajorEngineVersion="13",
        OptionGroupDescription="o",
    )
    [group] = rds.describe_db_parameter_groups(DBParameterGroupName="platform-pg")[
        "DBParameterGroups"
    ]
    assert group["DBParameterGroupName"] == "platform-pg"
    [option] = rds.describe_option_groups(OptionGroupName="platform-og")["OptionGroupsList"]
    assert option["OptionGroupName"] == "platform-og"
    create_db_instance(
        rds, "ue-db", DBParameterGroupName="platform-pg", OptionGroupName="platform-og"
    )

    with pytest.raises(ClientError, match="InvalidDBParameterGroupState"):
        rds.delete_db_parameter_group(DBParameterGroupName="platform-pg")
    with pytest.raises(ClientError, match="InvalidOptionGroupStateFault"):
        rds.delete_option_group(OptionGroupName="platform-og")

    rds.delete_db_instance(DBInstanceIdentifier="ue-db", SkipFinalSnapshot=True)
    wait_until(lambda: rds.describe_db_instances()["DBInstances"], lambda found: not found)
    rds.delete_db_parameter_group(DBParameterGroupName="platform-pg")
    rds.delete_option_group(OptionGroupName="platform-og")
    with pytest.raises(ClientError, match="DBParameterGroupNotFound"):
        rds.describe_db_parameter_groups(DBParameterGroupName="platform-pg")


# --- what a restore's storage and settings may be, judged as RDS judges them --------------------


def grown_snapshot(aws, rds, storage: str = "gp3", **grown) -> None:  # noqa: F811
    """Snapshot ``set-1`` of ``big-db`` at 300 GiB, then the live instance grown to 600 GiB
    (storage autoscaling) with ``grown`` set."""
    aws.durations.update(rds_snapshot=0.05)
    rds.create_db_instance(
        DBInstanceIdentifier="big-db",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="mz",
        MasterUserPassword="password1",
        StorageType=storage,
        AllocatedStorage=300,
        **({"Iops": 3000} if storage == "io1" else {}),
    )
    rds.create_db_snapshot(DBInstanceIdentifier="big-db", DBSnapshotIdentifier="set-1")
    rds.get_waiter("db_snapshot_available").wait(
        DBSnapshotIdentifier="set-1", WaiterConfig={"Delay": 0.05}
    )
    rds.modify_db_instance(
        DBInstanceIdentifier="big-db", AllocatedStorage=600, ApplyImmediately=True, **grown
    )


def test_gp3_iops_are_judged_at_the_snapshots_size_not_the_grown_live_instances(aws, rds):  # noqa: F811
    grown_snapshot(aws, rds, Iops=12000, StorageThroughput=500)
    provisioned = {"StorageType": "gp3", "Iops": 12000, "StorageThroughput": 500}

    with pytest.raises(ClientError, match="InvalidParameterCombination"):
        rds.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier="r-1", DBSnapshotIdentifier="set-1", **provisioned
        )
    with pytest.raises(ClientError, match="can't be less than the source snapshot"):
        rds.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier="r-1",
            DBSnapshotIdentifier="set-1",
            AllocatedStorage=200,
            StorageType="gp3",
        )
    restored = rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="r-1",
        DBSnapshotIdentifier="set-1",
        AllocatedStorage=600,
        **provisioned,
    )["DBInstance"]
    assert (restored["AllocatedStorage"], restored["Iops"]) == (600, 12000)


def test_io1_iops_past_50_per_gib_of_the_restored_size_are_refused(aws, rds):  # noqa: F811
    grown_snapshot(aws, rds, storage="io1", Iops=20000)

    with pytest.raises(ClientError, match="InvalidParameterCombination"):
        rds.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier="r-1", DBSnapshotIdentifier="set-1", StorageType="io1", Iops=20000
        )
    rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="r-1", DBSnapshotIdentifier="set-1", StorageType="io1", Iops=15000
    )


SETTINGS = {
    "PreferredBackupWindow": "03:00-03:30",
    "EnableIAMDatabaseAuthentication": True,
    "EnableCloudwatchLogsExports": ["postgresql"],
    "AutoMinorVersionUpgrade": False,
    "CACertificateIdentifier": "rds-ca-rsa4096-g1",
}


def settings(instance: dict) -> dict:
    return {
        "PreferredBackupWindow": instance["PreferredBackupWindow"],
        "EnableIAMDatabaseAuthentication": instance["IAMDatabaseAuthenticationEnabled"],
        "EnableCloudwatchLogsExports": instance.get("EnabledCloudwatchLogsExports", []),
        "AutoMinorVersionUpgrade": instance["AutoMinorVersionUpgrade"],
        "CACertificateIdentifier": instance["CACertificateIdentifier"],
    }


def test_a_restore_gets_awss_defaults_for_the_settings_it_does_not_name(aws):  # noqa: F811
    """moto copies the source's IAM authentication, log exports, CA...: AWS does not."""
    aws.durations.update(rds_snapshot=0.05)
    rds = aws.client("rds")
    create_db_instance(rds, "ue-db", BackupRetentionPeriod=7, **SETTINGS)
    rds.create_db_snapshot(DBInstanceIdentifier="ue-db", DBSnapshotIdentifier="set-1")
    rds.get_waiter("db_snapshot_available").wait(
        DBSnapshotIdentifier="set-1", WaiterConfig={"Delay": 0.05}
    )

    bare = rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="bare", DBSnapshotIdentifier="set-1"
    )["DBInstance"]
    named = rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="named", DBSnapshotIdentifier="set-1", **SETTINGS
    )["DBInstance"]
    no_backups = rds.restore_db_instance_to_point_in_time(
        SourceDBInstanceIdentifier="ue-db",
        TargetDBInstanceIdentifier="no-backups",
        UseLatestRestorableTime=True,
        BackupRetentionPeriod=0,
        MaxAllocatedStorage=100,
    )["DBInstance"]

    assert settings(bare) == {
        "PreferredBackupWindow": "13:14-13:44",
        "EnableIAMDatabaseAuthentication": False,
        "EnableCloudwatchLogsExports": [],
        "AutoMinorVersionUpgrade": True,
        "CACertificateIdentifier": "rds-ca-default",
    }
    assert bare["NetworkType"] == "IPV4"
    assert settings(named) == SETTINGS
    assert no_backups["BackupRetentionPeriod"] == 0  # a named 0 (moto keeps the source's 7)
    assert no_backups["MaxAllocatedStorage"] == 100


def test_a_dual_stack_restore_needs_a_subnet_group(aws, rds):  # noqa: F811
    aws.durations.update(rds_snapshot=0.05)
    rds.create_db_snapshot(DBInstanceIdentifier="ue-db", DBSnapshotIdentifier="set-1")
    rds.get_waiter("db_snapshot_available").wait(
        DBSnapshotIdentifier="set-1", WaiterConfig={"Delay": 0.05}
    )
    with pytest.raises(ClientError, match="InvalidParameterCombination"):
        rds.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier="r-1", DBSnapshotIdentifier="set-1", NetworkType="DUAL"
        )
    with pytest.raises(ClientError, match="InvalidParameterValue"):
        rds.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier="r-1", DBSnapshotIdentifier="set-1", NetworkType="IPV6"
        )
