"""The pure rules of what a restore keeps of the live resource (``restored_shape``)."""

from __future__ import annotations

import pytest

from ue_backup.recorded_network import network_record
from ue_backup.restored_shape import (
    efs_create_arguments,
    efs_restore_metadata,
    efs_shape,
    efs_tags,
    gp3_provisioned,
    memorydb_create_arguments,
    memorydb_shape,
    rds_restore_arguments,
    rds_shape,
    recorded,
    restored_gib,
    throughput_update,
)

KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

LIVE_INSTANCE = {
    "Engine": "postgres",
    "DBParameterGroups": [{"DBParameterGroupName": "ue-pg", "ParameterApplyStatus": "in-sync"}],
    "OptionGroupMemberships": [{"OptionGroupName": "ue-og", "Status": "in-sync"}],
    "StorageType": "gp3",
    "AllocatedStorage": 400,
    "Iops": 12000,
    "StorageThroughput": 500,
    "DeletionProtection": True,
    "CopyTagsToSnapshot": True,
    "TagList": [
        {"Key": "cost-center", "Value": "billing"},
        {"Key": "aws:cloudformation:stack-name", "Value": "platform"},
        {"Key": "ue-backup:protected", "Value": "true"},
    ],
    "KmsKeyId": KEY,
    "DBSubnetGroup": {"DBSubnetGroupName": "ue-db"},
    "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-1"}],
    "MultiAZ": True,
}

LIVE_FILE_SYSTEM = {
    "PerformanceMode": "maxIO",
    "ThroughputMode": "provisioned",
    "ProvisionedThroughputInMibps": 256.0,
    "Encrypted": True,
    "KmsKeyId": KEY,
}


def test_a_restore_names_the_live_groups_storage_protection_and_tags():
    args = rds_restore_arguments(
        rds_shape(LIVE_INSTANCE), tags={"ue-backup:restore": "r-1"}, snapshot_gib=400
    )

    assert args == {
        "DBParameterGroupName": "ue-pg",
        "OptionGroupName": "ue-og",
        "StorageType": "gp3",
        "Iops": 12000,
        "StorageThroughput": 500,
        "CopyTagsToSnapshot": True,
        "DeletionProtection": True,
        # AWS's and ue-backup's own tags are never copied (the role may not set
        # ue-backup:protected); the restore's own are added
        "Tags": [
            {"Key": "cost-center", "Value": "billing"},
            {"Key": "ue-backup:restore", "Value": "r-1"},
        ],
    }


def test_a_temporary_instance_gets_no_deletion_protection_and_no_live_tags():
    args = rds_restore_arguments(
        rds_shape(LIVE_INSTANCE), tags={"ue-backup:drill": "d-1"}, temporary=True
    )

    assert args["DeletionProtection"] is False
    assert args["Tags"] == [{"Key": "ue-backup:drill", "Value": "d-1"}]
    assert args["DBParameterGroupName"] == "ue-pg"


def test_default_groups_are_not_named():
    """AWS gives the default of the snapshot's engine version, which the live one's default
    may not fit (an upgraded live instance)."""
    live = {
        **LIVE_INSTANCE,
        "DBParameterGroups": [{"DBParameterGroupName": "default.postgres16"}],
        "OptionGroupMemberships": [{"OptionGroupName": "default:postgres-16"}],
    }
    args = rds_restore_arguments(rds_shape(live), tags={})

    assert "DBParameterGroupName" not in args
    assert "OptionGroupName" not in args


@pytest.mark.parametrize(
    ("engine", "gib", "settable"),
    [
        ("postgres", 399, False),
        ("postgres", 400, True),
        ("mysql", 20, False),
        ("oracle-ee", 200, True),
        ("oracle-ee", 199, False),
        ("sqlserver-se", 20, True),
    ],
)
def test_gp3_iops_and_throughput_only_from_the_engines_size(engine, gib, settable):
    assert gp3_provisioned(engine, gib) is settable
    shape = rds_shape({**LIVE_INSTANCE, "Engine": engine, "AllocatedStorage": gib})
    args = rds_restore_arguments(shape, tags={}, snapshot_gib=gib)
    assert ("Iops" in args) is settable
    assert ("StorageThroughput" in args) is settable


def test_io1_keeps_its_iops_and_gp2_names_none():
    io1 = rds_restore_arguments(
        rds_shape({**LIVE_INSTANCE, "StorageType": "io1", "AllocatedStorage": 400}),
        tags={},
        snapshot_gib=400,
    )
    gp2 = rds_restore_arguments(
        rds_shape({**LIVE_INSTANCE, "StorageType": "gp2"}), tags={}, snapshot_gib=400
    )

    assert io1["Iops"] == 12000
    assert "StorageThroughput" not in io1
    assert "Iops" not in gp2
    assert "StorageThroughput" not in gp2


# --- the size the restored instance really has ---------------------------------------------

# Storage autoscaling took the live instance past 400 GiB after the snapshot was taken at 300.
GROWN = {**LIVE_INSTANCE, "AllocatedStorage": 600, "MaxAllocatedStorage": 1000}


def storage(args: dict) -> dict:
    keys = ("StorageType", "AllocatedStorage", "Iops", "StorageThroughput")
    return {k: args[k] for k in keys if k in args}


def test_a_snapshot_older_than_the_live_growth_is_restored_at_the_live_size():
    """gp3 IOPS are judged at the size the restored instance gets: the live one's, named,
    so the IOPS and throughput it runs with now stay valid (RDS refused them at 300 GiB)."""
    args = rds_restore_arguments(rds_shape(GROWN), tags={}, snapshot_gib=300)

    assert storage(args) == {
        "StorageType": "gp3",
        "AllocatedStorage": 600,
        "Iops": 12000,
        "StorageThroughput": 500,
    }
    assert "MaxAllocatedStorage" not in args  # the snapshot restore does not take it


def test_a_drill_keeps_the_snapshots_size_and_names_no_iops_it_cannot_have():
    args = rds_restore_arguments(rds_shape(GROWN), tags={}, snapshot_gib=300, temporary=True)

    assert storage(args) == {"StorageType": "gp3"}


def test_a_snapshot_of_the_live_size_needs_no_size_named():
    args = rds_restore_arguments(rds_shape(LIVE_INSTANCE), tags={}, snapshot_gib=400)

    assert "AllocatedStorage" not in args
    assert args["Iops"] == 12000


def test_a_point_in_time_restore_names_the_sources_current_size_and_its_autoscaling():
    args = rds_restore_arguments(rds_shape(GROWN), tags={}, point_in_time=True)

    assert storage(args)["AllocatedStorage"] == 600
    assert args["Iops"] == 12000
    assert args["MaxAllocatedStorage"] == 1000
    drill = rds_restore_arguments(rds_shape(GROWN), tags={}, point_in_time=True, temporary=True)
    assert drill["AllocatedStorage"] == 600  # named, so the size is certain
    assert "MaxAllocatedStorage" not in drill


def test_an_unknown_snapshot_size_names_no_iops_or_throughput():
    args = rds_restore_arguments(rds_shape(LIVE_INSTANCE), tags={}, snapshot_gib=None)

    assert storage(args) == {"StorageType": "gp3"}


def test_sql_server_takes_no_size_so_the_snapshots_decides():
    """RDS for SQL Server takes no AllocatedStorage (botocore's model)."""
    grown = rds_shape({**GROWN, "Engine": "sqlserver-se"})
    assert restored_gib(grown, snapshot_gib=300, point_in_time=False, temporary=False) == (
        300,
        None,
    )
    assert restored_gib(grown, snapshot_gib=None, point_in_time=True, temporary=False) == (
        600,
        None,
    )


def test_io1_iops_are_capped_at_their_ratio_to_the_restored_size():
    """io1 takes at most 50 IOPS per GiB: a drill's snapshot-sized instance gets the most
    it may have; one restored at the live size keeps the live IOPS."""
    io1 = rds_shape(
        {**LIVE_INSTANCE, "StorageType": "io1", "AllocatedStorage": 1000, "Iops": 40000}
    )

    drill = rds_restore_arguments(io1, tags={}, snapshot_gib=500, temporary=True)
    restored = rds_restore_arguments(io1, tags={}, snapshot_gib=500)

    assert drill["Iops"] == 25000
    assert (restored["AllocatedStorage"], restored["Iops"]) == (1000, 40000)


# --- the instance settings both restores take -----------------------------------------------

CONFIGURED = {
    **GROWN,
    "BackupRetentionPeriod": 14,
    "PreferredBackupWindow": "03:00-03:30",
    "IAMDatabaseAuthenticationEnabled": True,
    "EnabledCloudwatchLogsExports": ["postgresql", "upgrade"],
    "AutoMinorVersionUpgrade": False,
    "CACertificateIdentifier": "rds-ca-rsa4096-g1",
    "NetworkType": "DUAL",
}
SETTINGS = {
    "BackupRetentionPeriod": 14,
    "PreferredBackupWindow": "03:00-03:30",
    "EnableIAMDatabaseAuthentication": True,
    "EnableCloudwatchLogsExports": ["postgresql", "upgrade"],
    "AutoMinorVersionUpgrade": False,
    "CACertificateIdentifier": "rds-ca-rsa4096-g1",
    "NetworkType": "DUAL",
}


def settings(args: dict) -> dict:
    return {k: args[k] for k in (*SETTINGS, "MaxAllocatedStorage") if k in args}


def test_a_restore_keeps_backups_iam_auth_log_exports_ca_and_network_type():
    assert settings(rds_restore_arguments(rds_shape(CONFIGURED), tags={}, snapshot_gib=600)) == (
        SETTINGS
    )
    pitr = rds_restore_arguments(rds_shape(CONFIGURED), tags={}, point_in_time=True)
    assert settings(pitr) == {**SETTINGS, "MaxAllocatedStorage": 1000}


def test_a_drill_keeps_what_its_checks_may_need_and_nothing_that_costs_or_outlives_it():
    args = rds_restore_arguments(rds_shape(CONFIGURED), tags={}, point_in_time=True, temporary=True)

    assert settings(args) == {
        "BackupRetentionPeriod": 0,  # no automated backups, no window
        "EnableIAMDatabaseAuthentication": True,
        "AutoMinorVersionUpgrade": False,
        "CACertificateIdentifier": "rds-ca-rsa4096-g1",
        "NetworkType": "DUAL",
    }
    assert rds_restore_arguments(None, tags={}, temporary=True)["BackupRetentionPeriod"] == 0


def test_a_live_instance_without_backups_gets_none_and_no_window():
    args = rds_restore_arguments(
        rds_shape({**CONFIGURED, "BackupRetentionPeriod": 0}), tags={}, snapshot_gib=600
    )
    assert args["BackupRetentionPeriod"] == 0
    assert "PreferredBackupWindow" not in args


def test_a_shape_recorded_before_the_settings_names_none_of_them():
    """A manifest written before they were recorded: AWS's defaults, as before."""
    old = {k: v for k, v in rds_shape(LIVE_INSTANCE).items() if k in OLD_SHAPE_KEYS}

    args = rds_restore_arguments(old, tags={}, snapshot_gib=400)

    assert settings(args) == {}


OLD_SHAPE_KEYS = (
    "engine",
    "parameter_group",
    "option_group",
    "storage_type",
    "allocated_storage",
    "iops",
    "storage_throughput",
    "deletion_protection",
    "copy_tags_to_snapshot",
    "tags",
    "kms_key_id",
)


def test_without_a_shape_only_the_restores_tags_and_no_protection():
    assert rds_restore_arguments(None, tags={"ue-backup:restore": "r-1"}) == {
        "DeletionProtection": False,
        "Tags": [{"Key": "ue-backup:restore", "Value": "r-1"}],
    }


def test_a_new_file_system_takes_the_live_performance_mode_and_key():
    assert efs_restore_metadata(efs_shape(LIVE_FILE_SYSTEM), "eu-west-1") == {
        "PerformanceMode": "maxIO",
        "Encrypted": "true",
        "KmsKeyId": KEY,
    }


def test_a_file_system_for_a_datasync_copy_is_created_shaped_like_the_live_one():
    """CreateFileSystem takes everything at once, the throughput mode too; the live tags
    (not AWS's, not ue-backup's, not its Name) beside the restore's, which win."""
    live = {
        **LIVE_FILE_SYSTEM,
        "Tags": [
            {"Key": "Name", "Value": "platform-data"},
            {"Key": "cost-center", "Value": "billing"},
            {"Key": "aws:backup:source-resource", "Value": "x"},
            {"Key": "ue-backup:installation", "Value": "ue-test"},
        ],
    }
    tags = {"ue-backup:installation": "ue-test", "ue-backup:restore": "r-1"}
    args = efs_create_arguments(
        efs_shape(live), "eu-west-1", creation_token="r-1-efs", tags=tags, live_tags=efs_tags(live)
    )
    assert args == {
        "CreationToken": "r-1-efs",
        "PerformanceMode": "maxIO",
        "Encrypted": True,
        "KmsKeyId": KEY,
        "ThroughputMode": "provisioned",
        "ProvisionedThroughputInMibps": 256.0,
        "Tags": [
            {"Key": "cost-center", "Value": "billing"},
            {"Key": "Name", "Value": "r-1-efs"},
            {"Key": "ue-backup:installation", "Value": "ue-test"},
            {"Key": "ue-backup:restore", "Value": "r-1"},
        ],
    }
    # nothing known of the live one (the copy region, a drill's temporary one): AWS's
    # defaults, still encrypted, and only the restore's tags
    bare = efs_create_arguments(None, "eu-west-1", creation_token="d-efs", tags={"t": "1"})
    assert bare == {
        "CreationToken": "d-efs",
        "PerformanceMode": "generalPurpose",
        "Encrypted": True,
        "Tags": [{"Key": "Name", "Value": "d-efs"}, {"Key": "t", "Value": "1"}],
    }


def test_a_key_of_another_region_is_not_given_and_unknown_means_awss_defaults():
    assert "KmsKeyId" not in efs_restore_metadata(efs_shape(LIVE_FILE_SYSTEM), "eu-central-1")
    assert efs_restore_metadata(None, "eu-west-1") == {
        "PerformanceMode": "generalPurpose",
        "Encrypted": "true",
    }


def test_the_throughput_mode_is_set_only_when_it_differs():
    shape = efs_shape(LIVE_FILE_SYSTEM)
    fresh = {"ThroughputMode": "bursting"}
    other = {"ThroughputMode": "provisioned", "ProvisionedThroughputInMibps": 128.0}

    assert throughput_update(shape, fresh) == {
        "ThroughputMode": "provisioned",
        "ProvisionedThroughputInMibps": 256.0,
    }
    assert throughput_update(shape, other) == {
        "ThroughputMode": "provisioned",
        "ProvisionedThroughputInMibps": 256.0,
    }
    assert throughput_update(shape, LIVE_FILE_SYSTEM) is None  # a retry changes nothing
    assert throughput_update(efs_shape({"ThroughputMode": "elastic"}), fresh) == {
        "ThroughputMode": "elastic"
    }
    assert throughput_update(None, fresh) is None


def test_the_manifest_records_each_shape_beside_its_network():
    record = network_record(
        efs=[], database=LIVE_INSTANCE, memorydb=None, efs_file_system=LIVE_FILE_SYSTEM
    )

    assert record["database"]["db_subnet_group"] == "ue-db"
    assert recorded(record, "database") == rds_shape(LIVE_INSTANCE)
    assert recorded(record, "efs") == efs_shape(LIVE_FILE_SYSTEM)
    assert recorded(record, "memorydb") is None  # no cluster
    assert recorded(None, "database") is None
    # an older manifest: a network without shapes
    assert recorded({"database": {"db_subnet_group": "ue-db"}}, "database") is None


# --- MemoryDB -----------------------------------------------------------------------------

LIVE_CLUSTER = {
    "NodeType": "db.r6gd.xlarge",
    "Engine": "valkey",
    "EngineVersion": "7.2",
    "ParameterGroupName": "ue-cache-pg",
    "DataTiering": "true",  # described as a string, created with a boolean
    "NetworkType": "dual_stack",
    "IpDiscovery": "ipv6",
    "SubnetGroupName": "ue-cache",
    "ACLName": "ue-acl",
}


def test_a_restored_cluster_takes_the_live_engine_group_tiering_and_ip_settings():
    assert memorydb_create_arguments(memorydb_shape(LIVE_CLUSTER), "db.r6gd.xlarge") == {
        "Engine": "valkey",
        "EngineVersion": "7.2",
        "ParameterGroupName": "ue-cache-pg",
        "DataTiering": True,
        "NetworkType": "dual_stack",
        "IpDiscovery": "ipv6",
    }


def test_a_default_cluster_group_is_not_named_and_tiering_is_only_where_it_was_or_must_be():
    plain = {"NodeType": "db.t4g.small", "ParameterGroupName": "default.memorydb-redis7"}
    assert memorydb_create_arguments(memorydb_shape(plain), "db.t4g.small") == {}
    plain_off = {**plain, "DataTiering": "false"}
    assert "DataTiering" not in memorydb_create_arguments(memorydb_shape(plain_off), "db.t4g.small")
    # nothing recorded (a copy region's restore, an older manifest): what the node needs
    assert memorydb_create_arguments(None, "db.r6gd.2xlarge") == {"DataTiering": True}
    assert memorydb_create_arguments(None, "db.r7g.large") == {}
    assert memorydb_create_arguments(None, None) == {}


def test_the_manifest_records_the_clusters_shape_beside_its_network():
    record = network_record(efs=None, database=None, memorydb=LIVE_CLUSTER)
    assert record["memorydb"]["subnet_group"] == "ue-cache"
    assert recorded(record, "memorydb") == memorydb_shape(LIVE_CLUSTER)
