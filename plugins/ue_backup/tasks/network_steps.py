"""The live network: read by every backup for its manifest, checked by a restore that needs it.

A backup records where the live file system, instance and cluster are
(``recorded_network``), so that a restore from the protected copies after an
attack that deleted them can put what it restores back into the platform's
network (``restore_chain``: the recorded mount targets, subnet groups,
security groups, ACL and TLS). Before such a restore changes anything, its
plan checks that the recorded network still exists (the VPC, subnets and
groups are not backed up) and refuses naming what to recreate.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ue_backup.aws import settings_hook
from ue_backup.errors import PermanentFailure
from ue_backup.recorded_network import (
    listed_subnets,
    missing,
    network_record,
    other_vpcs,
    subnet_group,
    thin_subnet_groups,
    unrecorded,
    wanted,
)
from ue_backup.run_settings import BackupRunSettings, RestoreRunSettings

log = logging.getLogger(__name__)


def live_network(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The live resources' network and shape, as the manifest records them
    (``recorded_network``, ``restored_shape``).

    The file system's mount targets only with AWS Backup (a DataSync installation
    never restores into a new file system). A component whose network cannot be
    read (AccessDenied: a policy not updated yet) is recorded as None with a
    warning, never a failed backup: its restore then warns as for an older
    manifest.
    """
    from ue_backup.hooks.efs import EfsHook
    from ue_backup.hooks.memorydb import MemoryDbHook
    from ue_backup.hooks.rds import RdsHook

    run = BackupRunSettings.model_validate(settings)
    reads = {
        "efs": (lambda: settings_hook(EfsHook, settings).network(run.efs_file_system_id))
        if run.efs_method == "aws_backup"
        else None,
        # the file system's shape (restored_shape): its modes and key
        "efs_file_system": (
            lambda: settings_hook(EfsHook, settings).describe_file_system(run.efs_file_system_id)
        )
        if run.efs_method == "aws_backup"
        else None,
        "database": (lambda: settings_hook(RdsHook, settings).describe_instance(run.rds_instance))
        if run.rds_instance
        else None,
        "memorydb": (
            lambda: settings_hook(MemoryDbHook, settings).describe_cluster(run.memorydb_cluster)
        )
        if run.memorydb_cluster
        else None,
    }
    read: dict[str, Any] = {}
    for component, describe in reads.items():
        if describe is None:
            read[component] = None
            continue
        try:
            read[component] = describe()
        except (ClientError, BotoCoreError) as error:
            log.warning(
                "The live %s's network could not be read (%s): this set records none, and a "
                "restore of it from the protected copies after the live one is deleted cannot "
                "put it back into the platform's network",
                component,
                error,
            )
            read[component] = None
    record = network_record(
        efs=read["efs"],
        database=read["database"],
        memorydb=read["memorydb"],
        efs_file_system=read["efs_file_system"],
    )
    log.info("The live network, recorded in the manifest: %s", record)
    return record


def gone_live_resources(run: RestoreRunSettings, components: list[str]) -> list[str]:
    """Which of ``components`` (efs, database, memorydb) have no live resource any more."""
    from ue_backup.hooks.efs import EfsHook
    from ue_backup.hooks.memorydb import MemoryDbHook
    from ue_backup.hooks.rds import RdsHook

    gone = []
    if "efs" in components:
        try:
            settings_hook(EfsHook, run).describe_file_system(run.efs_file_system_id)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "FileSystemNotFound":
                raise
            gone.append("efs")
    source = run.rds_shape_source or run.rds_instance
    if (
        "database" in components
        and source
        and settings_hook(RdsHook, run).get_instance(source) is None
    ):
        gone.append("database")
    cluster = run.memorydb_shape_source or run.memorydb_cluster
    if (
        "memorydb" in components
        and cluster
        and not settings_hook(MemoryDbHook, run).get_cluster(cluster)
    ):
        gone.append("memorydb")
    return gone


def existing_network(
    run: RestoreRunSettings, need: Mapping[str, set[str]]
) -> tuple[dict[str, Mapping[str, str | None]], dict[str, dict[str, dict[str, Any]]]]:
    """Those of the needed network resources that exist, by kind (``recorded_network.wanted``),
    each with its VPC (None for an ACL or a DB parameter or option group); and the subnet
    groups among them as ``recorded_network.subnet_group`` reshapes them, with which of
    the subnets they list EC2 still has (one DescribeSubnets for those and the needed)."""
    from ue_backup.hooks.ec2 import Ec2Hook
    from ue_backup.hooks.memorydb import MemoryDbHook
    from ue_backup.hooks.rds import RdsHook

    found: dict[str, Mapping[str, str | None]] = {kind: {} for kind in need}
    described: dict[str, dict[str, Any]] = {"db_subnet_groups": {}, "memorydb_subnet_groups": {}}
    if need["db_subnet_groups"]:
        described["db_subnet_groups"] = settings_hook(RdsHook, run).existing_subnet_groups(
            need["db_subnet_groups"]
        )
    if need["db_parameter_groups"] or need["db_option_groups"]:
        rds = settings_hook(RdsHook, run)
        found["db_parameter_groups"] = dict.fromkeys(
            rds.existing_parameter_groups(need["db_parameter_groups"])
        )
        found["db_option_groups"] = dict.fromkeys(
            rds.existing_option_groups(need["db_option_groups"])
        )
    if need["memorydb_subnet_groups"] or need["acls"]:
        memorydb = settings_hook(MemoryDbHook, run)
        described["memorydb_subnet_groups"] = memorydb.existing_subnet_groups(
            need["memorydb_subnet_groups"]
        )
        found["acls"] = dict.fromkeys(memorydb.existing_acls(need["acls"]))
    if need["memorydb_parameter_groups"]:
        found["memorydb_parameter_groups"] = dict.fromkeys(
            settings_hook(MemoryDbHook, run).existing_parameter_groups(
                need["memorydb_parameter_groups"]
            )
        )
    listed = {
        subnet
        for kind, groups in described.items()
        for group in groups.values()
        for subnet in listed_subnets(kind, group)
    }
    subnets: Mapping[str, str | None] = {}
    if need["subnets"] or need["security_groups"] or listed:
        ec2 = settings_hook(Ec2Hook, run)
        subnets = ec2.existing_subnets(set(need["subnets"]) | listed)
        found["subnets"] = {s: vpc for s, vpc in subnets.items() if s in need["subnets"]}
        found["security_groups"] = ec2.existing_security_groups(need["security_groups"])
    groups = {
        kind: {name: subnet_group(kind, group, subnets) for name, group in named.items()}
        for kind, named in described.items()
    }
    for kind, named in groups.items():
        found[kind] = {name: group["vpc_id"] for name, group in named.items()}
    return found, groups


def planned_components(run: RestoreRunSettings, plan: Mapping[str, Any]) -> list[str]:
    """The components the plan restores (in mode plan too: what a restore would)."""
    chosen = []
    if "efs" in run.components:
        chosen.append("efs")
    if "database" in run.components and (plan.get("database") or {}).get("kind") != "derby":
        chosen.append("database")
    if "memorydb" in run.components and plan.get("memorydb"):
        chosen.append("memorydb")
    return chosen


def check_recorded_network(
    run: RestoreRunSettings, plan: Mapping[str, Any], recorded: Mapping[str, Any] | None
) -> list[str]:
    """Before a restore from the protected copies changes anything: the network it will use.

    Only components whose live resource is gone take the recorded network (the
    others copy the live one's, as before); for those, every recorded subnet,
    security group, subnet group and ACL must exist, and so must the parameter
    and option groups the recorded shapes name (RDS and MemoryDB would refuse the
    restore call only once the workflows are suspended), a subnet group must be in
    its security groups' VPC and still have the subnets its service needs (RDS: two
    availability zones; a group lists subnets deleted since), else refused naming
    each and what to recreate or fix. A live resource's groups need no check: RDS and MemoryDB
    refuse to delete a group in use. A set recorded before the network was (an older
    manifest) restores as before, with a loud warning, except MemoryDB: its
    cluster would get the ``open-access`` ACL in the default network, an open
    cache of the platform's state, so that is refused (restore without it,
    ``components``, and create the cluster by hand from the staged files).
    With ``params.network: by_hand`` (the recorded network is gone for good: EC2 ids
    cannot be recreated) the record is not used, as for an older manifest.
    Returns the components that take the recorded network.
    """
    if run.network_by_hand:
        recorded = None
    gone = gone_live_resources(run, planned_components(run, plan))
    if not gone:
        return []
    for component in unrecorded(recorded, gone):
        if component == "memorydb":
            raise PermanentFailure(
                "the live MemoryDB cluster is gone and the restore takes no recorded network "
                "for it (params.network by_hand, or a manifest older than the network record): "
                "a restored cluster "
                "would get the open-access ACL in the region's default network. Nothing was "
                "changed. Restore without it (params.components: database, efs) and create "
                "the cluster by hand, with the platform's ACL, subnet group and security "
                "groups, from the locked .rdb files"
            )
        log.warning(
            "!!! The live %s is gone and the restore takes no recorded network for it "
            "(params.network by_hand, or a manifest older than the network record): the "
            "restored %s gets %s. Move it into the platform's network before use !!!",
            component,
            component,
            "no mount targets: restored_file_system then fails until it has some in the "
            "cluster's subnets, given by hand"
            if component == "efs"
            else "the region's default network",
        )
    need = wanted(recorded, gone)
    found, groups = existing_network(run, need)
    problems = missing(need, found) + other_vpcs(recorded, gone, found) + thin_subnet_groups(groups)
    if problems:
        raise PermanentFailure(
            "the network (and groups) the backup set recorded for the restored resources is "
            "incomplete; "
            "nothing was changed:\n" + "\n".join(f"  - {p}" for p in problems)
        )
    taking = sorted(set(gone) - set(unrecorded(recorded, gone)))
    if taking:
        log.info("The live %s gone: restored into the recorded network", ", ".join(taking))
    return taking
