"""KMS: moto's keys, with the two things AWS does that the protected copies depend on.

Modelled by hand here (moto 5 does neither), from the AWS KMS Developer Guide:

- **AWS managed keys** (``aws/rds``, ``aws/backup``, ...; "Key policies", "AWS managed
  keys") are ``KeyManager: AWS``; their key policy lets only principals of their own
  account use them, through the service: they can never be shared with another
  account. moto answers ``CUSTOMER`` for them and keeps a default policy.
- **Cross-account use** ("Allowing users in other accounts to use a KMS key"): a key
  ARN of another account is looked up in *that* account, and AWS allows the request
  only when the key's policy names the caller as a principal: the account as a whole
  (``arn:aws:iam::<account>:root`` or the account id), the very role the caller is, or
  ``*``. A role ARN is that role only, not its account. moto looks every key up in the
  caller's own account, so any other account's key is ``NotFoundException``. The denial
  is ``AccessDeniedException``, worded as AWS words it. IAM on the caller's side is not
  evaluated here: the permission checks (``tests/include``) judge each recorded
  request against the caller's policy.
- **KMS is regional**: a key ARN sent to another region's endpoint is not looked up
  there; AWS answers ``NotFoundException`` "Invalid arn <the ARN's region>" (the
  wording reported by users of the KMS API; moto would find nothing and say the key
  does not exist, and ``find_key`` below, used by the other services' models, follows
  the ARN to its region as a service does for its own key).

Also here, for the other services' models: the ARN of an account's AWS managed key
for a service (RDS's default for an encrypted instance, AWS Backup's for a vault
created without ``EncryptionKeyArn``), and a key's metadata by ARN, in any account,
with whether a given account may use it (AWS Backup's cross-account copies).
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.kms import urls
from moto.kms.models import Key, KmsBackend, kms_backends
from moto.kms.responses import KmsResponse

from sandbox.aws.context import OneCallAtATime
from sandbox.aws.errors import AwsError
from sandbox.aws.extensions import Extension

AWS_MANAGED_PREFIX = "alias/aws/"


def _backend(account: str, region: str) -> KmsBackend:
    return kms_backends[account][region]


def aws_managed_key_arn(account: str, region: str, service: str) -> str:
    """The ARN of ``aws/<service>`` in ``account`` and ``region`` (made on first use, as
    AWS makes an AWS managed key the first time a service needs it)."""
    backend = _backend(account, region)
    alias = f"{AWS_MANAGED_PREFIX}{service}"
    key_id = backend.get_key_id_from_alias(alias)  # moto makes some of them (aws/rds)
    if key_id is None:  # and not others (aws/backup)
        key = backend.create_key(None, "ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", "Default key", None)
        backend.create_alias(key.id, alias)
        key_id = key.id
    return backend.keys[key_id].arn


def is_aws_managed(key: Key) -> bool:
    return any(alias.startswith(AWS_MANAGED_PREFIX) for alias in key.aliases)


def arn_region(key_arn: str) -> str | None:
    """The region a KMS ARN names (``arn:<partition>:kms:<region>:...``), else None."""
    parts = key_arn.split(":", 5)
    return parts[3] if len(parts) == 6 and parts[0] == "arn" and parts[2] == "kms" else None


def find_key(key_arn: str) -> Key | None:
    """The key an ARN names, in the account and region the ARN says; None if there is none."""
    parts = key_arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "kms" or not parts[5].startswith("key/"):
        return None
    return _backend(parts[4], parts[3]).keys.get(parts[5].split("/", 1)[1])


def resolve_arn(account: str, region: str, key_id: str) -> str | None:
    """A key id, alias or ARN as the key's ARN (AWS reports an encrypted resource's key so);
    None when it names no key of ``account`` (another account's ARN is kept as given)."""
    if key_id.startswith("arn:") and f":{account}:" not in key_id:
        return key_id
    backend = _backend(account, region)
    try:
        found = backend.keys.get(backend.any_id_to_key_id(key_id))
    except (KeyError, TypeError, AttributeError):
        return None
    return found.arn if found is not None else None


def metadata(key: Key) -> dict[str, Any]:
    """DescribeKey's ``KeyMetadata``, ``KeyManager`` as AWS says it."""
    answer = key.to_dict()["KeyMetadata"]
    if is_aws_managed(key):
        answer["KeyManager"] = "AWS"
    return answer


def allows(key: Key, account: str, action: str, caller: str | None = None) -> bool:
    """Whether ``key`` lets ``caller`` (a principal ARN of ``account``; None: the account
    as a whole, e.g. a service acting for it) perform ``action`` (``kms:...``).

    The key's own account: its default policy delegates to IAM (AWS managed keys too,
    through their service). Another account: an AWS managed key never; a customer managed
    key when an Allow statement names the caller (``*``, the account's root or id, or the
    caller's own ARN, exactly) and the action (or ``kms:*``, or a ``kms:Describe*``-style
    prefix) and no Deny statement does. Conditions are not evaluated (the sandbox has no
    org or tag context, nor ``kms:ViaService``): a statement with a condition is taken as
    met, kinder than AWS (no test relies on one).
    """
    if account == key.account_id:
        return True
    if is_aws_managed(key):
        return False
    try:
        statements = json.loads(key.policy).get("Statement") or []
    except (ValueError, AttributeError):
        return False
    statements = statements if isinstance(statements, list) else [statements]
    verdicts = [s.get("Effect") for s in statements if _applies(s, account, action, caller)]
    return "Allow" in verdicts and "Deny" not in verdicts


def names_principal(who: Any, account: str, caller: str | None) -> bool:
    """Whether a key policy's ``Principal.AWS`` entry is the caller: ``*``, the account
    (its id or ``arn:<partition>:iam::<account>:root``), or exactly the caller's ARN."""
    who = str(who)
    if who in ("*", account) or (caller is not None and who == caller):
        return True
    parts = who.split(":")
    return len(parts) == 6 and parts[2] == "iam" and parts[4] == account and parts[5] == "root"


def _applies(statement: dict[str, Any], account: str, action: str, caller: str | None) -> bool:
    actions = statement.get("Action") or []
    actions = actions if isinstance(actions, list) else [actions]
    named = any(
        a in ("*", "kms:*", action) or (a.endswith("*") and action.startswith(a[:-1]))
        for a in actions
    )
    principal = statement.get("Principal")
    who = principal.get("AWS") if isinstance(principal, dict) else principal
    who = who if isinstance(who, list) else [who]
    return named and any(names_principal(w, account, caller) for w in who)


def caller_role(access_key: str) -> str | None:
    """The role ARN behind an assumed role's access key (moto's STS), else None: the
    sandbox's own credentials are the account's root user."""
    from moto.sts.models import sts_backends

    for backends in list(sts_backends.values()):
        for backend in list(backends.values()):
            assumed = backend.get_assumed_role_from_access_key(access_key)
            if assumed is not None:
                return assumed.role_arn
    return None


class SandboxKmsResponse(OneCallAtATime, KmsResponse):
    def describe_key(self) -> str:
        """Another account's key by ARN: found there, allowed by its key policy or denied."""
        key_id = self._get_param("KeyId") or ""
        arn = key_id if key_id.startswith("arn:") else None
        region = arn_region(arn) if arn is not None else None
        if region is not None and region != self.region:
            raise AwsError("NotFoundException", f"Invalid arn {region}")
        if arn is not None and f":{self.current_account}:" not in arn and ":key/" in arn:
            key = find_key(arn)
            if key is None:
                raise AwsError("NotFoundException", f"Key '{arn}' does not exist")
            caller = caller_role(self.get_access_key())
            if not allows(key, self.current_account, "kms:DescribeKey", caller):
                # moto's JSON error (the KMS model has no AccessDeniedException shape)
                raise JsonRESTError(
                    "AccessDeniedException",
                    f"User: arn:aws:iam::{self.current_account}:root is not authorized to "
                    f"perform: kms:DescribeKey on resource: {arn} because no resource-based "
                    "policy allows the kms:DescribeKey action",
                )
            return json.dumps({"KeyMetadata": metadata(key)}, default=str)
        answer = json.loads(super().describe_key())
        key = self.kms_backend.describe_key(self.kms_backend.any_id_to_key_id(key_id))
        answer["KeyMetadata"] = metadata(key)
        return json.dumps(answer, default=str)


EXTENSION = Extension(urls, SandboxKmsResponse)
