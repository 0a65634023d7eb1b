"""KMS: the one read the plugins make, whether a key can be used in a region.

The provider has no KMS hook. Preflight asks for the copy region's key
(``cross_region.rds_kms_key_id``) before a backup copies an encrypted RDS
snapshot there; AWS itself uses the key (RDS does, on the role's behalf),
the plugins never encrypt or decrypt with it.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from ue_backup.aws import RetryingHookMixin


class KmsHook(RetryingHookMixin, AwsBaseHook):
    """Interact with AWS KMS through the ``kms`` boto3 client, with this project's retries."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "kms"
        super().__init__(*args, **kwargs)

    def describe_key(self, key_id: str) -> dict[str, Any]:
        """The key's metadata; raises KMS's own error (``NotFoundException``, denied) otherwise.

        Raised, not answered as None: preflight reports the code naming the
        configured key, and retries a transient error instead of refusing.
        """
        return self.conn.describe_key(KeyId=key_id)["KeyMetadata"]
