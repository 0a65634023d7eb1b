"""EC2: whether the subnets and security groups a backup recorded still exist.

A restore from the protected copies after an attack gives the restored
resources the live ones' recorded network (``recorded_network``); the VPC,
its subnets and groups are not backed up, so the plan checks they are there
before anything is changed. Only reads: the describe calls have no
resource-level permissions (``Resource: "*"`` in the policy).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from ue_backup.aws import RetryingHookMixin


class Ec2Hook(RetryingHookMixin, AwsBaseHook):
    """Interact with Amazon EC2 through the ``ec2`` boto3 client (network reads only)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "ec2"
        super().__init__(*args, **kwargs)

    def existing_subnets(self, ids: Iterable[str]) -> dict[str, str | None]:
        """Those of the subnets ``ids`` that exist, each with its VPC (a filter: a missing
        one is no error)."""
        ids = sorted(set(ids))
        if not ids:
            return {}
        found = self.conn.describe_subnets(Filters=[{"Name": "subnet-id", "Values": ids}])
        return {s["SubnetId"]: s.get("VpcId") for s in found.get("Subnets", [])}

    def existing_security_groups(self, ids: Iterable[str]) -> dict[str, str | None]:
        """Those of the security groups ``ids`` that exist, each with its VPC."""
        ids = sorted(set(ids))
        if not ids:
            return {}
        found = self.conn.describe_security_groups(Filters=[{"Name": "group-id", "Values": ids}])
        return {g["GroupId"]: g.get("VpcId") for g in found.get("SecurityGroups", [])}
