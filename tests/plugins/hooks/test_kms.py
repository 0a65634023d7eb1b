"""KmsHook against the sandbox: preflight's check of the copy region's key."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from ue_backup.hooks.kms import KmsHook


def test_describe_key_answers_the_keys_metadata_and_raises_kmss_error(sandbox):
    region = "eu-central-1"
    key = sandbox.client("kms", region=region).create_key()["KeyMetadata"]

    hook = KmsHook(region_name=region)

    assert hook.describe_key(key["Arn"])["KeyId"] == key["KeyId"]
    with pytest.raises(ClientError) as missing:
        KmsHook().describe_key(key["Arn"])  # the key of another region is not found here
    assert missing.value.response["Error"]["Code"] == "NotFoundException"
