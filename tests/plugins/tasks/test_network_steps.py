"""A restore from the protected copies checks the recorded network before it changes anything.

Against the sandbox: the seeded installation sits in the platform's network
(``sandbox.aws.network.platform_network``); its network is read as a backup
reads it, and the check judges a restore whose live resources are gone.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from sandbox.installation import seed_installation
from tests.plugins.tasks.test_preflight_immutable import BACKUP_ROLE, BUCKET, PROTECTED, ROLE
from ue_backup.config import parse_config
from ue_backup.errors import PermanentFailure
from ue_backup.hooks.efs import EfsHook
from ue_backup.hooks.memorydb import MemoryDbHook
from ue_backup.hooks.rds import RdsHook
from ue_backup.recorded_network import network_record
from ue_backup.run_settings import RestoreRunSettings
from ue_backup.tasks.network_steps import check_recorded_network
from ue_backup.tasks.restore_steps import restore_names

PLAN = {"database": {"kind": "snapshot"}, "memorydb": {"snapshot_name": "s"}}


@pytest.fixture
def installation(sandbox):
    inst = seed_installation(sandbox, "ue-test", velero=False)
    inst.config["immutable"] = {
        "account_id": PROTECTED,
        "role_arn": ROLE,
        "backup_role_arn": BACKUP_ROLE,
        "backup_vault_name": "ue-test-locked",
        "bucket": BUCKET,
        "min_retention_days": 35,
        "memorydb_export_bucket": "ue-test-staging",
    }
    return inst


def _settings(inst, *, gone: bool) -> RestoreRunSettings:
    """A restore from the protected copies; ``gone``: the live resources are not found."""
    cfg = parse_config(inst.config)
    names = restore_names(cfg.installation, datetime(2026, 1, 2, tzinfo=UTC))
    params = {"mode": "plan", "source": "immutable"}
    run = RestoreRunSettings.build(cfg, names, {"type": "latest"}, params)
    if not gone:
        return run
    return run.model_copy(
        update={
            "efs_file_system_id": "fs-0000000000000dead",
            "rds_instance": "ue-test-gone-db",
            "rds_shape_source": "ue-test-gone-db",
            "memorydb_cluster": "ue-test-gone",
            "memorydb_shape_source": "ue-test-gone",
        }
    )


def _recorded(inst) -> dict:
    """The live network as a backup reads and records it (tasks.network_steps.live_network)."""
    return network_record(
        efs=EfsHook().network(inst.file_system_id),
        database=RdsHook().describe_instance(inst.rds_instance),
        memorydb=MemoryDbHook().describe_cluster(inst.memorydb_cluster),
    )


def test_a_backup_reads_the_live_network_it_records(sandbox, installation):
    recorded = _recorded(installation)
    network = installation.network

    targets = recorded["efs"]["mount_targets"]
    assert sorted(t["subnet_id"] for t in targets) == sorted(network["subnets"])
    assert all(t["security_group_ids"] == [network["security_group"]] for t in targets)
    assert recorded["database"].pop("shape")["option_group"]  # beside it: its shape
    assert recorded["database"] == {
        "db_subnet_group": "ue-test-db",
        "vpc_security_group_ids": [network["db_security_group"]],
        "multi_az": True,  # the seeded instance is: a restore gets it back
    }
    assert recorded["memorydb"].pop("shape")["parameter_group"]  # beside it: its shape
    assert recorded["memorydb"] == {
        "subnet_group": "ue-test-cache",
        "security_group_ids": [network["cache_security_group"]],
        "acl_name": "ue-test-platform",
        "tls_enabled": True,
    }


def test_with_the_live_resources_gone_a_recorded_network_that_exists_passes(sandbox, installation):
    recorded = _recorded(installation)
    sandbox.log.clear()

    taking = check_recorded_network(_settings(installation, gone=True), PLAN, recorded)

    assert taking == ["database", "efs", "memorydb"]
    assert sandbox.log.entries() == []  # only read


def test_with_the_live_resources_there_nothing_is_checked(sandbox, installation):
    assert check_recorded_network(_settings(installation, gone=False), PLAN, None) == []


def test_each_missing_piece_of_the_recorded_network_is_named_before_anything_changes(
    sandbox, installation
):
    recorded = _recorded(installation)
    recorded["efs"]["mount_targets"][0]["subnet_id"] = "subnet-0000000000000dead"
    recorded["database"]["vpc_security_group_ids"] = ["sg-0000000000000dead"]
    recorded["database"]["db_subnet_group"] = "deleted-db"
    recorded["memorydb"]["subnet_group"] = "deleted-cache"
    recorded["memorydb"]["acl_name"] = "deleted-acl"

    with pytest.raises(PermanentFailure) as refused:
        check_recorded_network(_settings(installation, gone=True), PLAN, recorded)

    said = str(refused.value)
    assert "nothing was changed" in said
    for name, what, remedy in [
        ("subnet-0000000000000dead", "subnet", "EC2 ids cannot be recreated"),
        ("sg-0000000000000dead", "security group", "EC2 ids cannot be recreated"),
        ("deleted-db", "DB subnet group", "recreate the RDS DB subnet group by that name"),
        ("deleted-cache", "MemoryDB subnet group", "recreate the MemoryDB subnet group"),
        ("deleted-acl", "MemoryDB ACL", "recreate the MemoryDB ACL by that name"),
    ]:
        assert f"the recorded {what} {name} no longer exists ({remedy}" in said
    # the way out when a piece is gone for good
    assert "params.network by_hand" in said


def test_a_recorded_parameter_or_option_group_deleted_since_is_named_before_anything_changes(
    sandbox, installation
):
    """RDS would refuse the restore call only after the workflows were suspended (and, in
    place, the live data set aside): the plan asks for the groups the shape names first."""
    rds = sandbox.client("rds")
    for name in ("ue-test-old-pg", "ue-test-kept-pg"):
        rds.create_db_parameter_group(
            DBParameterGroupName=name, DBParameterGroupFamily="postgres13", Description="p"
        )
    rds.create_option_group(
        OptionGroupName="ue-test-old-og",
        EngineName="postgres",
        MajorEngineVersion="13",
        OptionGroupDescription="o",
    )
    recorded = _recorded(installation)
    shape = recorded["database"]["shape"]
    shape.update(parameter_group="ue-test-old-pg", option_group="ue-test-old-og")
    # deleted after the backup (no instance used them any more)
    rds.delete_db_parameter_group(DBParameterGroupName="ue-test-old-pg")
    rds.delete_option_group(OptionGroupName="ue-test-old-og")
    sandbox.log.clear()
    gone = _settings(installation, gone=True)

    with pytest.raises(PermanentFailure) as refused:
        check_recorded_network(gone, {"database": {"kind": "snapshot"}}, recorded)

    said = str(refused.value)
    assert "nothing was changed" in said
    assert "the recorded DB parameter group ue-test-old-pg no longer exists (recreate" in said
    assert "the recorded DB option group ue-test-old-og no longer exists (recreate" in said
    assert "params.network by_hand" in said
    assert sandbox.log.entries() == []  # only read
    # the groups there: it passes
    shape.update(parameter_group="ue-test-kept-pg", option_group=None)
    taking = check_recorded_network(gone, {"database": {"kind": "snapshot"}}, recorded)
    assert taking == ["database", "efs"]
    assert sandbox.log.entries() == []  # only read


def test_a_recorded_cluster_parameter_group_deleted_since_is_named_before_anything_changes(
    sandbox, installation
):
    memorydb = sandbox.client("memorydb")
    memorydb.create_parameter_group(ParameterGroupName="ue-test-old", Family="memorydb_redis7")
    recorded = _recorded(installation)
    recorded["memorydb"]["shape"]["parameter_group"] = "ue-test-old"
    memorydb.delete_parameter_group(ParameterGroupName="ue-test-old")
    sandbox.log.clear()

    with pytest.raises(PermanentFailure) as refused:
        check_recorded_network(_settings(installation, gone=True), PLAN, recorded)

    said = str(refused.value)
    assert "the recorded MemoryDB parameter group ue-test-old no longer exists (recreate" in said
    assert "nothing was changed" in said
    assert sandbox.log.entries() == []  # only read


def test_an_older_set_without_a_network_record_warns_loudly_but_refuses_an_open_cache(
    sandbox, installation, caplog
):
    gone = _settings(installation, gone=True)
    caplog.set_level(logging.WARNING)
    without_memorydb = {"database": {"kind": "snapshot"}}

    assert check_recorded_network(gone, without_memorydb, None) == []

    assert "!!! The live database is gone" in caplog.text
    assert "!!! The live efs is gone" in caplog.text
    with pytest.raises(PermanentFailure, match="would get the open-access ACL"):
        check_recorded_network(gone, PLAN, None)


def test_by_hand_the_recorded_network_is_not_used_and_an_open_cache_still_refused(
    sandbox, installation, caplog
):
    """The recorded subnets or security groups are gone for good (EC2 ids cannot be
    recreated): params.network by_hand restores without them, as an older set would."""
    recorded = _recorded(installation)
    recorded["efs"]["mount_targets"][0]["subnet_id"] = "subnet-0000000000000dead"
    recorded["database"]["vpc_security_group_ids"] = ["sg-0000000000000dead"]
    by_hand = _settings(installation, gone=True).model_copy(update={"network_by_hand": True})
    caplog.set_level(logging.WARNING)

    assert check_recorded_network(by_hand, {"database": {"kind": "snapshot"}}, recorded) == []

    assert "!!! The live database is gone" in caplog.text
    assert "params.network by_hand" in caplog.text
    with pytest.raises(PermanentFailure, match="would get the open-access ACL"):
        check_recorded_network(by_hand, PLAN, recorded)


def test_the_network_param_is_recorded_or_by_hand(installation):
    from ue_backup.tasks.restore_steps import check_request

    _, problems = check_request({"network": "somewhere"}, {}, None)
    assert any(p.startswith("params.network: 'somewhere' is not one of") for p in problems)
    cfg = parse_config(installation.config)
    names = restore_names(cfg.installation, datetime(2026, 1, 2, tzinfo=UTC))
    params = {"mode": "plan", "source": "immutable", "network": "by_hand"}
    assert RestoreRunSettings.build(cfg, names, {"type": "latest"}, params).network_by_hand
    home = {**params, "source": "home"}  # only from the protected copies
    assert not RestoreRunSettings.build(cfg, names, {"type": "latest"}, home).network_by_hand


def _subnet_in_zone_c(sandbox, installation) -> str:
    """A subnet of the platform's VPC in a third zone, holding nothing (deletable)."""
    return sandbox.client("ec2").create_subnet(
        VpcId=installation.network["vpc"],
        CidrBlock="10.20.9.0/24",
        AvailabilityZone=f"{sandbox.region}c",
    )["Subnet"]["SubnetId"]


def test_a_subnet_group_there_by_name_but_short_of_subnets_is_named_before_anything_changes(
    sandbox, installation
):
    """Outside review: a group whose subnets were deleted still exists by name (and lists
    them), passed the check, and AWS refused the restore call midway (RDS needs subnets in
    two availability zones, MemoryDB one). The set recorded groups of their own here (the
    live ones are in use by the seeded instance and cluster)."""
    recorded = _recorded(installation)
    network, ec2 = installation.network, sandbox.client("ec2")
    rds, memorydb = sandbox.client("rds"), sandbox.client("memorydb")
    # a DB subnet group left with one zone: its zone-c subnet deleted since
    thinned = _subnet_in_zone_c(sandbox, installation)
    rds.create_db_subnet_group(
        DBSubnetGroupName="thinned-db",
        DBSubnetGroupDescription="the platform's database subnets",
        SubnetIds=[network["subnets"][0], thinned],
    )
    recorded["database"]["db_subnet_group"] = "thinned-db"
    # a cache subnet group whose only subnet was deleted since
    memorydb.create_subnet_group(SubnetGroupName="emptied-cache", SubnetIds=[thinned])
    recorded["memorydb"]["subnet_group"] = "emptied-cache"
    ec2.delete_subnet(SubnetId=thinned)
    sandbox.log.clear()

    with pytest.raises(PermanentFailure) as refused:
        check_recorded_network(_settings(installation, gone=True), PLAN, recorded)

    said = str(refused.value)
    assert "nothing was changed" in said
    assert (
        f"the recorded DB subnet group thinned-db exists, but of its subnets {thinned} "
        f"({sandbox.region}c) no longer exists: its usable subnets cover 1 availability zone(s) "
        f"({sandbox.region}a) and RDS needs 2: add subnets of {network['vpc']} to it until "
        "they do (aws rds modify-db-subnet-group)"
    ) in said
    assert (
        f"the recorded MemoryDB subnet group emptied-cache exists, but of its subnets "
        f"{thinned} ({sandbox.region}c) no longer exists: its usable subnets cover 0 availability "
        "zone(s) and MemoryDB needs 1"
    ) in said
    assert "params.network by_hand" in said
    assert sandbox.log.entries() == []  # only read
    # given a subnet in another zone again (and the cache's group recreated), it passes
    rds.modify_db_subnet_group(DBSubnetGroupName="thinned-db", SubnetIds=network["subnets"])
    memorydb.delete_subnet_group(SubnetGroupName="emptied-cache")
    memorydb.create_subnet_group(SubnetGroupName="emptied-cache", SubnetIds=network["subnets"])
    taking = check_recorded_network(_settings(installation, gone=True), PLAN, recorded)
    assert taking == ["database", "efs", "memorydb"]
