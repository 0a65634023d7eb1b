"""S3: the provider's hook, with this project's retries (``ue_backup.aws``).

Manifests, drill reports and the MemoryDB export copies go through the
provider's ``S3Hook``; this subclass only makes its clients retry throttling
(``SlowDown``) and 5xx answers as configured.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.hooks.s3 import S3Hook as ProviderS3Hook

from ue_backup.aws import RetryingHookMixin


class S3Hook(RetryingHookMixin, ProviderS3Hook):
    """The provider's S3 hook with this project's retries."""
