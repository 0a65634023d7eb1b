"""Where each AWS resource ue-backup makes or restores from is in the AWS console.

One table of console paths, two users: the operator extra links of the tasks
(``links.console``, built on the amazon provider's ``BaseAwsLink``, which
fills ``{aws_domain}`` from the connection's partition) and the run summary
and catalog pages (``run_summary``), which build the same URLs from what a
run recorded. Pure: no provider import, so the web server's pages use it
without AWS access.
"""

from __future__ import annotations

from urllib.parse import quote

from ue_backup.config import partition_of

BASE = "https://console.{aws_domain}"

PATHS = {
    "backup_job": "/backup/home?region={region_name}#/jobs/{job_type}/details/{job_id}",
    "recovery_point": (
        "/backup/home?region={region_name}#/backupvaults/details/{vault_name}/{recovery_point}"
    ),
    "rds_snapshot": "/rds/home?region={region_name}#db-snapshot:id={snapshot_id}",
    "rds_instance": "/rds/home?region={region_name}#database:id={instance};is-cluster=false",
    "memorydb_snapshot": "/memorydb/home?region={region_name}#/snapshots/{snapshot_name}",
    "memorydb_cluster": "/memorydb/home?region={region_name}#/clusters/{cluster}",
    "efs_file_system": "/efs/home?region={region_name}#/file-systems/{file_system_id}",
    "s3_object": "/s3/object/{bucket}?region={region_name}&prefix={key}",
    "datasync_task": "/datasync/home?region={region_name}#/tasks/{task_id}",
}

# The partition's console domain (the amazon provider's BaseAwsLink.get_aws_domain).
DOMAINS = {
    "aws": "aws.amazon.com",
    "aws-cn": "amazonaws.cn",
    "aws-us-gov": "amazonaws-us-gov.com",
}


def console_url(kind: str, region: str, **ids: str) -> str:
    """The console page of one resource: ``kind`` is a key of ``PATHS``. A recovery point's
    ARN and an S3 key are URL-encoded, as the console's paths need."""
    values = dict(ids)
    if "recovery_point_arn" in values:
        values["recovery_point"] = quote(values.pop("recovery_point_arn"), safe="")
    if "key" in values:
        values["key"] = quote(values["key"], safe="")
    domain = DOMAINS[partition_of(region)]
    return (BASE + PATHS[kind]).format(aws_domain=domain, region_name=region, **values)


def efs_dns_name(file_system_id: str, region: str) -> str:
    """The DNS name a file system is mounted by (what the platform's EFS CSI driver uses)."""
    suffix = "amazonaws.com.cn" if partition_of(region) == "aws-cn" else "amazonaws.com"
    return f"{file_system_id}.efs.{region}.{suffix}"
