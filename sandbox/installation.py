"""A small Usage Engine installation in the sandbox, and its ue-backup configuration.

Used by the end-to-end tests and by ``make demo``: an RDS instance with
automated backups, an EFS file system holding a realistic tree (with
temporary files that must never be restored), a backup vault, a MemoryDB
cluster, a manifest bucket, running EC Deployments, and Velero; all in the
platform's network (``sandbox.aws.network.platform_network``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.aws.network import platform_network
from sandbox.core import Sandbox

NAMESPACE = "uepe"
ECD_LABELS = {"app.kubernetes.io/part-of": "usage-engine"}
ROLE_ARN = "arn:aws:iam::123456789012:role/ue-backup-aws-backup"
# A Derby installation's platform: the Deployment whose pod keeps Derby open on EFS.
PLATFORM = "platform"
PLATFORM_LABELS = {"app.kubernetes.io/name": "platform"}

# The EFS tree: what a restore must bring back, and what it must not.
LIVE_FILES = {
    "aggregation/session-1/state.bin": "aggregated usage of session 1",
    "aggregation/session-2/state.bin": "aggregated usage of session 2",
    "duplicate-udr/wf-rating/index.db": "duplicate UDR index",
    "interworkflow/out/batch-0006": "inter-workflow batch 6",
    "archive/done/file-0008": "archived file 8",
    "derby/seg0/c1.dat": "platform database page",
}
TEMPORARY_FILES = {
    "aggregation/session-1/TEMP.state.bin": "half-written aggregation state",
    "duplicate-udr/wf-rating/tmp/chunk-1": "duplicate UDR scratch",
    "interworkflow/DR_TMP_DIR/batch-0007": "inter-workflow batch in flight",
    "archive/pending/file-0009": "file being archived",
    "TEMP.lock": "a lock file",
}


@dataclass
class Installation:
    """What was created, and the configuration that describes it."""

    name: str
    file_system_id: str
    rds_instance: str | None
    memorydb_cluster: str | None
    vault: str | None
    bucket: str
    ecds: list[str]
    config: dict[str, Any] = field(default_factory=dict)
    datasync_target: str | None = None
    kms_key: str | None = None  # the customer managed key of the instance and the vault
    network: dict[str, Any] = field(default_factory=dict)  # platform_network's answer

    def efs_path(self, sandbox: Sandbox) -> Path:
        return sandbox.aws.efs_path(self.file_system_id)


def shared_key_policy(own: str, other: str) -> dict[str, Any]:
    """A key policy that lets ``other`` (another account) use a key of ``own`` for AWS
    Backup's cross-account copies (AWS Backup's guide: the key is shared with the account
    that copies it: describe, decrypt, re-encrypt, data keys, grants for AWS resources)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{own}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "Copies across accounts",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{other}:root"},
                "Action": [
                    "kms:DescribeKey",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:CreateGrant",
                ],
                "Resource": "*",
            },
        ],
    }


def copy_in_policy(account: str) -> str:
    """A vault access policy (JSON) letting ``account`` copy recovery points into the vault:
    the grant AWS Backup needs on a destination vault of another account (the locked
    vault, for the copies out; the installation's, for the copies back)."""
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "backup:CopyIntoBackupVault",
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def create_key(kms: Any, own: str, shared_with: str | None = None) -> str:
    """A customer managed key made with the ``kms`` client of account ``own``, shared with
    ``shared_with`` when given; its ARN."""
    policy = shared_key_policy(own, shared_with) if shared_with else None
    made = kms.create_key(**({"Policy": json.dumps(policy)} if policy else {}))
    return made["KeyMetadata"]["Arn"]


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def seed_installation(
    sandbox: Sandbox,
    name: str = "ue-test",
    *,
    database: str = "rds",
    method: str = "aws_backup",
    memorydb: bool = True,
    memorydb_tls: bool = True,
    velero: bool = True,
    cold_window: bool = True,
    ecds: tuple[str, ...] = ("ecd-rating", "ecd-aggregation"),
    key_shared_with: str | None = None,
    shaped: bool = False,
) -> Installation:
    """Create the installation in the sandbox, then clear the mutation log.

    Returns the installation with ``config``: a valid ue-backup configuration
    mapping for it. With ``key_shared_with`` (an account), the RDS instance and the
    backup vault are encrypted with a customer managed key shared with that account,
    as the protected copies need (``immutable``); else the instance is not encrypted and
    the vault is under AWS Backup's AWS managed key, as AWS makes them by default.
    With ``shaped``, the live resources are unlike AWS's defaults in what a restore
    must keep (``live_shape``): the instance has its own parameter and option groups,
    gp3 storage with IOPS, throughput and autoscaling, deletion protection and tags, its
    own backup window, IAM authentication, log exports, CA and dual stack; the file
    system is maxIO, provisioned, under a customer managed key; the cluster has data
    tiering on r6gd nodes, its own parameter group and dual-stack IP settings.
    """
    region = sandbox.region
    rds = sandbox.client("rds")
    rds_instance = f"{name}-db" if database == "rds" else None
    key = (
        create_key(sandbox.client("kms"), sandbox.aws.account, key_shared_with)
        if key_shared_with
        else None
    )
    encryption = {"StorageEncrypted": True, "KmsKeyId": key} if key else {}
    shape = live_shape(sandbox, name) if shaped else {"rds": {}, "efs": {}, "memorydb": {}}
    fs_id = sandbox.aws.create_file_system(f"{name}-efs", **shape["efs"])
    # The platform's network: the live file system's mount targets (the platform mounts
    # it), the instance's and the cluster's subnet groups and security groups, its ACL.
    network = platform_network(sandbox.aws, name, fs_id, acl=memorydb and memorydb_tls)
    if rds_instance:
        rds.create_db_instance(
            **encryption,
            DBInstanceIdentifier=rds_instance,
            DBInstanceClass="db.t3.medium",
            Engine="postgres",
            MasterUsername="platform",
            ManageMasterUserPassword=True,  # RDS keeps it in Secrets Manager
            BackupRetentionPeriod=7,
            MultiAZ=True,
            DBSubnetGroupName=network["db_subnet_group"],
            VpcSecurityGroupIds=[network["db_security_group"]],
            **{"AllocatedStorage": 20, **shape["rds"]},
        )
    tree = sandbox.aws.efs_path(fs_id)
    write_tree(tree, LIVE_FILES)
    write_tree(tree, TEMPORARY_FILES)
    vault = f"{name}-vault" if method == "aws_backup" else None
    if vault:
        sandbox.client("backup").create_backup_vault(
            BackupVaultName=vault, **({"EncryptionKeyArn": key} if key else {})
        )
    cluster = f"{name}-agg" if memorydb else None
    if cluster:
        sandbox.client("memorydb").create_cluster(
            ClusterName=cluster,
            # without TLS MemoryDB takes open-access only
            ACLName=network["acl"] or "open-access",
            SubnetGroupName=network["cache_subnet_group"],
            SecurityGroupIds=[network["cache_security_group"]],
            NumShards=1,
            SnapshotRetentionLimit=3,
            # MemoryDB's default; a real-data cluster's redis-server speaks plain RESP, so
            # whatever reads it (the application checks) needs TLS off to match
            TLSEnabled=memorydb_tls,
            **{"NodeType": "db.t4g.small", **shape["memorydb"]},
        )
    bucket = f"{name}-manifests"
    sandbox.client("s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
    )
    for ecd in ecds:
        sandbox.k8s.create_ecd(NAMESPACE, ecd, labels=dict(ECD_LABELS), enabled=True)
    sandbox.k8s.create_efs_pvc(NAMESPACE, "ue-efs", fs_id)
    if database == "derby":
        create_platform(sandbox)
    installation = Installation(
        network=network,
        name=name,
        file_system_id=fs_id,
        rds_instance=rds_instance,
        memorydb_cluster=cluster,
        vault=vault,
        bucket=bucket,
        ecds=list(ecds),
        kms_key=key,
    )
    efs_section: dict[str, Any] = {"file_system_id": fs_id, "backup_method": method}
    if method == "aws_backup":
        efs_section["aws_backup"] = {"vault_name": vault, "iam_role_arn": ROLE_ARN}
    else:
        installation.datasync_target = sandbox.aws.create_file_system(f"{name}-efs-copy")
        # In the platform's subnets, as DataSync needs (a mount target in its subnet's zone);
        # retention's Job mounts it from the cluster through them to remove a set's folder.
        for subnet in network["subnets"]:
            sandbox.client("efs").create_mount_target(
                FileSystemId=installation.datasync_target,
                SubnetId=subnet,
                SecurityGroups=[network["security_group"]],
            )
        efs_section["datasync"] = {
            "target_file_system_id": installation.datasync_target,
            "task_arn": _datasync_task(sandbox, fs_id, installation.datasync_target),
        }
    installation.config = {
        "installation": name,
        "region": region,
        "database": {"engine": database, "rds_instance_identifier": rds_instance}
        if rds_instance
        else {"engine": "derby", "derby": {"platform": {"kind": "Deployment", "name": PLATFORM}}},
        "efs": efs_section,
        "kubernetes": {
            "namespace": NAMESPACE,
            "ecd_selection": {"label_selector": "app.kubernetes.io/part-of=usage-engine"},
        },
        "cold_window": {
            "disk_storage_used": ["aggregation", "duplicate_udr", "inter_workflow"]
            if cold_window
            else [],
            "drain_timeout_minutes": 1,
            "max_window_minutes": 30,
        },
        "manifests": {"bucket": bucket},
    }
    if cluster:
        installation.config["memorydb"] = {"cluster_name": cluster}
    if velero:
        installation.config["velero"] = {"included_namespaces": [NAMESPACE]}
    sandbox.k8s.wait_ecds_settled()
    sandbox.log.clear()
    return installation


def live_shape(sandbox: Sandbox, name: str) -> dict[str, dict[str, Any]]:
    """Live resources unlike AWS's defaults (``seed_installation(shaped=True)``): the
    instance's ``create_db_instance``, the cluster's ``create_cluster`` and the file
    system's ``create_file_system`` arguments, with the groups and the key they name
    made first."""
    rds = sandbox.client("rds")
    rds.create_db_parameter_group(
        DBParameterGroupName=f"{name}-pg",
        DBParameterGroupFamily="postgres13",
        Description="the platform's parameters",
    )
    rds.create_option_group(
        OptionGroupName=f"{name}-og",
        EngineName="postgres",
        MajorEngineVersion="13",
        OptionGroupDescription="the platform's options",
    )
    sandbox.client("memorydb").create_parameter_group(
        ParameterGroupName=f"{name}-cache-pg",
        Family="memorydb_redis7",
        Description="the platform's cache parameters",
    )
    key = create_key(sandbox.client("kms"), sandbox.aws.account)
    return {
        "rds": {
            "DBParameterGroupName": f"{name}-pg",
            "OptionGroupName": f"{name}-og",
            "StorageType": "gp3",
            "AllocatedStorage": 400,
            "Iops": 12000,
            "StorageThroughput": 500,
            "DeletionProtection": True,
            "CopyTagsToSnapshot": True,
            "Tags": [{"Key": "cost-center", "Value": "billing"}],
            # what both restores take of its settings, none of them AWS's defaults
            "MaxAllocatedStorage": 1000,
            "PreferredBackupWindow": "03:00-03:30",
            "EnableIAMDatabaseAuthentication": True,
            "EnableCloudwatchLogsExports": ["postgresql", "upgrade"],
            "AutoMinorVersionUpgrade": False,
            "CACertificateIdentifier": "rds-ca-rsa4096-g1",
            "NetworkType": "DUAL",
        },
        "memorydb": {
            "NodeType": "db.r6gd.xlarge",
            "DataTiering": True,
            "ParameterGroupName": f"{name}-cache-pg",
            "NetworkType": "dual_stack",
            "IpDiscovery": "ipv6",
        },
        "efs": {
            "performance_mode": "maxIO",
            "throughput_mode": "provisioned",
            "provisioned_throughput_in_mibps": 256.0,
            "encrypted": True,
            "kms_key_id": key,
        },
    }


def create_platform(sandbox: Sandbox, replicas: int = 1) -> None:
    """The platform Deployment of a Derby installation (its pod writes Derby on EFS)."""
    sandbox.k8s.create(
        "deployments",
        {
            "metadata": {"name": PLATFORM, "labels": dict(PLATFORM_LABELS)},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": dict(PLATFORM_LABELS)},
                "template": {
                    "metadata": {"labels": dict(PLATFORM_LABELS)},
                    "spec": {
                        "containers": [{"name": "platform", "image": "digitalroute/uepe:sandbox"}]
                    },
                },
            },
        },
        NAMESPACE,
    )
    sandbox.k8s.wait_until(
        lambda: (
            (sandbox.k8s.get("deployments", NAMESPACE, PLATFORM).get("status") or {}).get(
                "readyReplicas"
            )
            == replicas
        ),
        timeout=10,
    )


def _datasync_task(sandbox: Sandbox, source_fs: str, target_fs: str) -> str:
    """An EFS-to-EFS DataSync task between the two file systems."""
    datasync = sandbox.client("datasync")
    efs = sandbox.client("efs")
    account = "123456789012"
    subnet = f"arn:aws:ec2:{sandbox.region}:{account}:subnet/subnet-0123456789abcdef0"
    group = f"arn:aws:ec2:{sandbox.region}:{account}:security-group/sg-0123456789abcdef0"

    def location(fs_id: str) -> str:
        arn = efs.describe_file_systems(FileSystemId=fs_id)["FileSystems"][0]["FileSystemArn"]
        return datasync.create_location_efs(
            EfsFilesystemArn=arn,
            Ec2Config={"SubnetArn": subnet, "SecurityGroupArns": [group]},
            Subdirectory="/",
        )["LocationArn"]

    return datasync.create_task(
        SourceLocationArn=location(source_fs),
        DestinationLocationArn=location(target_fs),
        Name="ue-backup-efs-copy",
    )["TaskArn"]


COPY_REGION = "eu-central-1"


def add_cross_region(
    sandbox: Sandbox, installation: Installation, region: str = COPY_REGION
) -> None:
    """Configure copies of every set into ``region``: its vault, and MemoryDB's two buckets.

    The vault and the bucket there are created in ``region``, the MemoryDB
    export bucket in the home region (MemoryDB exports only there). Updates
    ``installation.config``; the mutation log is cleared again.
    """
    account = "123456789012"
    cross: dict[str, Any] = {"region": region}
    if installation.vault:
        vault = f"{installation.name}-dr-vault"
        sandbox.client("backup", region=region).create_backup_vault(BackupVaultName=vault)
        cross["backup_vault_arn"] = f"arn:aws:backup:{region}:{account}:backup-vault:{vault}"
    if installation.memorydb_cluster:
        for key, name, where in (
            ("memorydb_export_bucket", f"{installation.name}-memorydb-export", sandbox.region),
            ("memorydb_bucket", f"{installation.name}-memorydb-dr", region),
        ):
            sandbox.client("s3", region=where).create_bucket(
                Bucket=name, CreateBucketConfiguration={"LocationConstraint": where}
            )
            cross[key] = name
    if installation.rds_instance and installation.kms_key:  # an encrypted copy needs a key there
        cross["rds_kms_key_id"] = create_key(
            sandbox.client("kms", region=region), sandbox.aws.account
        )
    installation.config["cross_region"] = cross
    sandbox.log.clear()
