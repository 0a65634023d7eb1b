"""S3Hook against the sandbox: the bucket checks preflight makes and retention's one-key delete."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from sandbox.installation import seed_installation
from tests.plugins.support import mutations
from ue_backup.hooks.s3 import S3Hook
from ue_backup.transient import is_transient


@pytest.fixture
def bucket(sandbox) -> str:
    return seed_installation(sandbox, memorydb=False, velero=False, ecds=()).bucket


def test_head_bucket_raises_s3s_error_where_check_for_bucket_says_false(sandbox, bucket):
    hook = S3Hook()
    hook.head_bucket(bucket)
    with pytest.raises(ClientError) as missing:
        hook.head_bucket("no-such-bucket")
    assert missing.value.response["Error"]["Code"] == "404"
    assert not is_transient(missing.value)  # preflight refuses, naming the code
    assert hook.check_for_bucket("no-such-bucket") is False  # what the provider would say


def test_bucket_region_is_where_the_bucket_was_made(sandbox):
    far = sandbox.client("s3", region="eu-central-1")
    far.create_bucket(
        Bucket="far-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
    )

    assert S3Hook(region_name="eu-central-1").bucket_region("far-bucket") == "eu-central-1"
    with pytest.raises(ClientError):
        S3Hook().bucket_region("no-such-bucket")


def test_delete_key_deletes_one_object_with_delete_object(sandbox, bucket):
    s3 = sandbox.client("s3")
    s3.put_object(Bucket=bucket, Key="ue-backup/ue-test/a.json", Body=b"{}")
    s3.put_object(Bucket=bucket, Key="ue-backup/ue-test/b.json", Body=b"{}")
    sandbox.log.clear()
    hook = S3Hook()

    hook.delete_key(bucket, "ue-backup/ue-test/a.json")

    assert not hook.check_for_key("ue-backup/ue-test/a.json", bucket)
    assert hook.check_for_key("ue-backup/ue-test/b.json", bucket)
    # One request naming its object: what the IAM policy's per-prefix grant is judged on.
    assert len(mutations(sandbox, "s3", "DeleteObject")) == 1
    assert mutations(sandbox, "s3", "DeleteObjects") == []
