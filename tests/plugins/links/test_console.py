"""Console links: what an operator stores, turned into the AWS console URL (no network)."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from ue_backup.links.console import (
    AwsBackupJobLink,
    AwsBackupRecoveryPointLink,
    MemoryDbSnapshotLink,
    RdsSnapshotLink,
)
from ue_backup.operators.aws_backup import (
    AwsBackupStartCopyJobOperator,
    AwsBackupStartEfsBackupJobOperator,
    AwsBackupStartEfsRestoreJobOperator,
)
from ue_backup.operators.memorydb import MemoryDbCreateSnapshotOperator
from ue_backup.operators.rds import RdsStartSnapshotOperator

BASE = {"region_name": "eu-west-1", "aws_domain": "aws.amazon.com"}
POINT = "arn:aws:backup:eu-west-1:123456789012:recovery-point:0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0"


@pytest.mark.parametrize("job_type", ["backup", "restore", "copy"])
def test_aws_backup_job_link(job_type):
    url = AwsBackupJobLink().format_link(**BASE, job_type=job_type, job_id="JOB-123")
    assert url == (
        "https://console.aws.amazon.com/backup/home?region=eu-west-1"
        f"#/jobs/{job_type}/details/JOB-123"
    )


def test_recovery_point_link_encodes_the_arn():
    url = AwsBackupRecoveryPointLink().format_link(
        **BASE, vault_name="ue-vault", recovery_point_arn=POINT
    )
    prefix = "https://console.aws.amazon.com/backup/home?region=eu-west-1#/backupvaults/details/"
    assert url.startswith(prefix + "ue-vault/")
    encoded = url.removeprefix(prefix + "ue-vault/")
    assert ":" not in encoded
    assert unquote(encoded) == POINT


def test_rds_snapshot_link():
    url = RdsSnapshotLink().format_link(**BASE, snapshot_id="ueb-ue-test-20250101t000000z")
    assert url == (
        "https://console.aws.amazon.com/rds/home?region=eu-west-1"
        "#db-snapshot:id=ueb-ue-test-20250101t000000z"
    )


def test_memorydb_snapshot_link_in_another_partition():
    url = MemoryDbSnapshotLink().format_link(
        region_name="cn-north-1",
        aws_domain=MemoryDbSnapshotLink.get_aws_domain("aws-cn"),
        snapshot_name="snap-1",
    )
    assert url == "https://console.amazonaws.cn/memorydb/home?region=cn-north-1#/snapshots/snap-1"


def test_a_link_without_its_values_is_empty_rather_than_broken():
    assert RdsSnapshotLink().format_link(**BASE) == ""


@pytest.mark.parametrize(
    ("operator", "links"),
    [
        (AwsBackupStartEfsBackupJobOperator, {AwsBackupJobLink, AwsBackupRecoveryPointLink}),
        (AwsBackupStartEfsRestoreJobOperator, {AwsBackupJobLink}),
        (AwsBackupStartCopyJobOperator, {AwsBackupJobLink}),
        (RdsStartSnapshotOperator, {RdsSnapshotLink}),
        (MemoryDbCreateSnapshotOperator, {MemoryDbSnapshotLink}),
    ],
)
def test_operators_declare_their_links(operator, links):
    assert {type(link) for link in operator.operator_extra_links} == links
    keys = [link.key for link in operator.operator_extra_links]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("link", [AwsBackupJobLink(), RdsSnapshotLink(), MemoryDbSnapshotLink()])
def test_a_skipped_task_does_not_look_its_links_up(link, monkeypatch):
    """At a task's end Airflow asks each link for its value: a skipped step never stored
    one, and the lookup would log an error-level 'XCom not found' (issue 19)."""
    from types import SimpleNamespace

    from airflow.providers.amazon.aws.links import base_aws

    looked_up = []
    monkeypatch.setattr(
        base_aws.XCom, "get_value", lambda **kwargs: looked_up.append(kwargs) or None
    )
    skipped = SimpleNamespace(state=SimpleNamespace(value="skipped"))
    assert link.get_link(None, ti_key=skipped) == ""
    assert looked_up == []
    ran = SimpleNamespace(state=SimpleNamespace(value="success"))
    assert link.get_link(None, ti_key=ran) == ""
    assert len(looked_up) == 1  # a task that ran is looked up as before
