"""The request log: every request the sandbox serves, reads included, as IAM and RBAC see it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import boto3
import pytest

from sandbox.aws.fixtures import aws  # noqa: F401
from sandbox.request_log import RequestLog

pytest_plugins = ["sandbox.k8s.fixtures"]

NS = "uepe"


def system_client(aws, service):  # noqa: F811
    """A client like the provider's: not the sandbox's own set-up client."""
    return boto3.client(
        service,
        endpoint_url=aws.endpoint_url,
        region_name=aws.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_every_aws_call_is_logged_with_its_parameters_and_caller(aws):  # noqa: F811
    aws.requests.clear()
    aws.client("backup").create_backup_vault(BackupVaultName="v1", CreatorRequestId="r1")
    system_client(aws, "backup").describe_backup_vault(BackupVaultName="v1")
    system_client(aws, "s3").list_buckets()

    entries = [(e.caller, e.service, e.operation, e.params) for e in aws.requests.entries()]
    assert entries == [
        (
            "setup",
            "backup",
            "CreateBackupVault",
            {"BackupVaultName": "v1", "CreatorRequestId": "r1"},
        ),
        ("system", "backup", "DescribeBackupVault", {"BackupVaultName": "v1"}),
        ("system", "s3", "ListBuckets", {}),
    ]
    assert {e.region for e in aws.requests.entries()} == {aws.region}
    assert {e.api for e in aws.requests.entries()} == {"aws"}


def test_what_a_call_created_is_logged_from_its_answer(aws):  # noqa: F811
    aws.requests.clear()
    aws.client("backup").create_backup_vault(BackupVaultName="v1")
    fs_id = aws.create_file_system("fs-token")
    arn = f"arn:aws:elasticfilesystem:{aws.region}:{aws.account}:file-system/{fs_id}"
    job = system_client(aws, "backup").start_backup_job(
        BackupVaultName="v1",
        ResourceArn=arn,
        IamRoleArn=f"arn:aws:iam::{aws.account}:role/r",
        RecoveryPointTags={"ue-backup:installation": "ue-test"},
    )

    (started,) = [e for e in aws.requests.entries() if e.operation == "StartBackupJob"]
    assert started.result == {"RecoveryPointArn": job["RecoveryPointArn"]}
    assert started.params["RecoveryPointTags"] == {"ue-backup:installation": "ue-test"}


def test_the_tags_a_tag_listing_reports_are_logged_from_its_answer(aws):  # noqa: F811
    aws.requests.clear()
    aws.client("backup").create_backup_vault(BackupVaultName="v1")
    fs_id = aws.create_file_system("fs-tags")
    point = aws.client("backup").start_backup_job(
        BackupVaultName="v1",
        ResourceArn=f"arn:aws:elasticfilesystem:{aws.region}:{aws.account}:file-system/{fs_id}",
        IamRoleArn=f"arn:aws:iam::{aws.account}:role/r",
        RecoveryPointTags={"ue-backup:installation": "ue-test"},
    )["RecoveryPointArn"]
    system_client(aws, "backup").list_tags(ResourceArn=point)
    system_client(aws, "backup").describe_backup_vault(BackupVaultName="v1")

    (listed,) = [e for e in aws.requests.entries() if e.operation == "ListTags"]
    assert listed.tags == {"ue-backup:installation": "ue-test"}
    assert listed.params == {"ResourceArn": point}
    assert all(not e.tags for e in aws.requests.entries() if e.operation != "ListTags")


def test_a_signed_request_for_no_known_operation_is_logged_as_unknown(aws):  # noqa: F811
    aws.requests.clear()
    credential = f"testing/20260101/{aws.region}/backup/aws4_request"
    odd = urllib.request.Request(
        f"{aws.endpoint_url}/no-such-operation",
        headers={"Authorization": f"AWS4-HMAC-SHA256 Credential={credential}, Signature=x"},
    )
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(odd, timeout=5)

    (entry,) = aws.requests.entries()
    assert (entry.service, entry.operation, entry.path) == ("backup", "?", "/no-such-operation")


def test_the_sandbox_reset_keeps_the_request_log(sandbox_session):
    sandbox_session.reset()
    sandbox_session.client("s3").list_buckets()
    before = len(sandbox_session.requests)
    sandbox_session.reset()
    assert len(sandbox_session.requests) == before > 0


def test_listeners_see_each_request_as_it_is_logged():
    log = RequestLog()
    seen = []
    log.add_listener(seen.append)
    entry = log.record("aws", "rds", "DescribeDBInstances")
    log.remove_listener(seen.append)
    log.record("aws", "rds", "DescribeDBSnapshots")
    assert seen == [entry]


def test_the_log_keeps_the_newest_requests_and_listeners_see_all():
    log = RequestLog(limit=2)
    seen = []
    log.add_listener(seen.append)
    for operation in ("A", "B", "C"):
        log.record("aws", "rds", operation)
    assert [e.operation for e in log.entries()] == ["B", "C"]
    assert [e.operation for e in seen] == ["A", "B", "C"]


def api(k8s, method, path, body=None, content_type="application/json"):
    request = urllib.request.Request(
        f"{k8s.url}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {k8s.token}", "Content-Type": content_type},
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        return answer.read()


def test_every_kubernetes_request_is_logged_in_rbac_terms(k8s):
    k8s.create_ecd(NS, "ecd-a")
    ecd = f"/apis/mz.digitalroute.com/v1alpha1/namespaces/{NS}/ecdeployments"
    k8s.requests.clear()

    api(k8s, "GET", "/apis")
    api(k8s, "GET", ecd)
    api(k8s, "GET", f"{ecd}?watch=true&timeoutSeconds=0")
    current = json.loads(api(k8s, "GET", f"{ecd}/ecd-a"))
    api(k8s, "PUT", f"{ecd}/ecd-a", current)
    patch = {"spec": {"enabled": False}}
    api(k8s, "PATCH", f"{ecd}/ecd-a", patch, "application/merge-patch+json")
    api(k8s, "DELETE", f"/api/v1/namespaces/{NS}/configmaps")
    api(k8s, "GET", "/api/v1/persistentvolumes")

    logged = [
        (e.service, e.operation, e.resource, e.namespace, e.name) for e in k8s.requests.entries()
    ]
    assert logged == [
        ("", "get", "", "", ""),
        ("mz.digitalroute.com", "list", "ecdeployments", NS, ""),
        ("mz.digitalroute.com", "watch", "ecdeployments", NS, ""),
        ("mz.digitalroute.com", "get", "ecdeployments", NS, "ecd-a"),
        ("mz.digitalroute.com", "update", "ecdeployments", NS, "ecd-a"),
        ("mz.digitalroute.com", "patch", "ecdeployments", NS, "ecd-a"),
        ("", "deletecollection", "configmaps", NS, ""),
        ("", "list", "persistentvolumes", "", ""),
    ]
    assert k8s.requests.entries()[0].path == "/apis"


def test_subresources_are_logged_with_their_resource(k8s):
    k8s.create(
        "pods",
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}},
        NS,
    )
    k8s.requests.clear()
    with pytest.raises(urllib.error.HTTPError):  # no log yet: the pod has not run
        api(k8s, "GET", f"/api/v1/namespaces/{NS}/pods/p/log")
    (entry,) = k8s.requests.entries()
    assert (entry.operation, entry.resource, entry.name) == ("get", "pods/log", "p")
