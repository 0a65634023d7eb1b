"""Render the least-privilege IAM policy and Kubernetes RBAC for one installation.

The templates ``include/iam/ue-backup-policy.json`` and ``include/k8s/rbac.yaml``
hold ``${Name}`` placeholders; this fills them from the installation's
configuration file (the same YAML the DAGs read) and the few facts it does not
hold (AWS account id, Airflow's service account)::

    python include/render.py iam --config installation.yaml --account-id 111122223333 \\
        > ue-backup-policy.json
    python include/render.py k8s --config installation.yaml \\
        --service-account airflow/airflow-worker > ue-backup-rbac.yaml
    # Amazon MWAA: the Kubernetes user an EKS access entry maps the execution role to
    python include/render.py k8s --config installation.yaml --user ue-backup-mwaa
    # the protected account's documents (an installation with an ``immutable`` section):
    # its role's policy, that role's trust policy, the locked vault's access policy
    python include/render.py iam-immutable --config installation.yaml \\
        --home-account-id 111122223333 --airflow-role-arn arn:aws:iam::111122223333:role/airflow \\
        --out-dir policies/

What an installation leaves out is left out of the result: without MemoryDB
no MemoryDB statement, without Velero no Velero Role, and so on. A statement
belongs to the component its ``Sid`` starts with (``COMPONENTS``); a
statement, ``Resource`` entry or Kubernetes object naming a placeholder that
has no value is dropped too. Run from the repository root, or anywhere:
the script finds ``plugins/`` next to it.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
IAM_TEMPLATE = HERE / "iam" / "ue-backup-policy.json"
# The protected account's documents (the ``immutable`` section): the identity policy of
# the role ``immutable.aws_conn_id`` assumes, its trust policy, the locked vault's policy.
IMMUTABLE_TEMPLATES = {
    "policy": HERE / "iam" / "ue-backup-immutable-policy.json",
    "trust-policy": HERE / "iam" / "ue-backup-immutable-trust-policy.json",
    "vault-access-policy": HERE / "iam" / "ue-backup-immutable-vault-access-policy.json",
    # The installation's own vault's access policy: a restore from the protected copies
    # copies them back into it from the protected account (applied in the home account).
    "home-vault-access-policy": HERE / "iam" / "ue-backup-immutable-home-vault-access-policy.json",
}
K8S_TEMPLATE = HERE / "k8s" / "rbac.yaml"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z]+)\}")
# IAM's size quotas, in characters without white space: all inline policies of a role
# together, and one customer managed policy.
INLINE_POLICY_LIMIT = 10_240
MANAGED_POLICY_LIMIT = 6_144

# A restore's id is "<installation, cut to 24 by names.fit>-r<yymmddHHMMSS>"
# (restore_steps.restore_id); the resources a side-by-side restore creates are named after it.
RESTORE_STAMP = "-r" + "?" * 12
# A drill's id is "<installation, cut to 21 by names.fit>-drill-<yymmddHHMMSS>"
# (drill_steps.drill_id); every temporary resource of a drill is named after it.
DRILL_STAMP = "-drill-" + "?" * 12

# A backup set's id is "<installation>-<yyyymmdd>t<hhmmss>z" (backup_set.BackupSet); its
# artifacts are named "ueb-<set id>" (an RDS copy made again: "ueb-<set id>-2", ...).
SET_STAMP = "-" + "?" * 8 + "t" + "?" * 6 + "z"

# A statement whose Sid starts with a key is kept only when the placeholder it maps to
# has a value: the component is part of the installation (every matching key counts:
# "RdsCopy..." needs the RDS database and a copy region).
COMPONENTS = {
    "Rds": "DbInstanceIdentifier",
    "RdsCopy": "CopyRegion",
    "RdsDrill": "DrillId",
    "Efs": "EfsFileSystemId",
    # mount targets and shape for a file system restored side by side: either EFS method
    "EfsRestore": "EfsFileSystemId",
    "EfsDrill": "DrillId",
    "Backup": "BackupVaultName",
    "BackupCopy": "CopyBackupVaultArn",
    "DataSync": "DataSyncTargetFileSystemId",
    # the configured task, a template whose source and network each set's task reuses
    "DataSyncTemplate": "DataSyncTaskArn",
    "DataSyncDrill": "DrillId",
    "MemoryDb": "MemoryDbClusterName",
    "MemoryDbCopy": "MemoryDbCopyBucket",
    "MemoryDbDrill": "DrillId",
    "S3": "ManifestBucket",
    "S3Copy": "MemoryDbCopyBucket",
    "S3Drill": "DrillId",
    "Sns": "SnsTopicArn",
    "CloudWatch": "MetricsRegion",
    "Immutable": "ImmutableRoleArn",
    # The immutable copies' work at home: the locked points' copy jobs, the restore from
    # them, MemoryDB's export to the staging bucket (immutable.memorydb_export_bucket).
    "BackupLocked": "ImmutableRoleArn",
    "RdsLocked": "ImmutableRoleArn",
    "MemoryDbLocked": "ImmutableMemoryDbExportBucket",
    "S3Locked": "ImmutableMemoryDbExportBucket",
}


def _plugins() -> None:
    """Put ``plugins/`` on the path: the rules and names come from the DAGs' own code."""
    plugins = str(HERE.parent / "plugins")
    if plugins not in sys.path:
        sys.path.insert(0, plugins)


def _config(data: Mapping[str, Any]) -> Any:
    """The validated configuration (``ue_backup.config``), so defaults match the DAGs'."""
    _plugins()
    from ue_backup.config import parse_config

    return parse_config(dict(data))


def drill_id_pattern(installation: str) -> str:
    """Every drill id of the installation (``drill_steps.drill_id``), with ``?`` wildcards."""
    _plugins()
    from ue_backup.names import DRILL_ID_KEEP, fit

    return fit(installation, DRILL_ID_KEEP) + DRILL_STAMP


def restore_id_pattern(installation: str) -> str:
    """Every restore id of the installation (``restore_steps.restore_id``), with wildcards."""
    _plugins()
    from ue_backup.names import RESTORE_ID_KEEP, fit

    return fit(installation, RESTORE_ID_KEEP) + RESTORE_STAMP


def drill_namespace(cfg: Any) -> str:
    """The namespace a drill restores into (``drill_steps.drill_namespace``)."""
    return cfg.drill.namespace or f"{cfg.kubernetes.namespace[:57]}-drill"


def kms_key_arn(key: str, partition: str, region: str, account_id: str) -> str | None:
    """The ARN IAM authorizes a KMS key's use against; None for an alias (see the README)."""
    if key.startswith("arn:"):
        return None if ":alias/" in key else key
    if key.startswith("alias/"):
        return None
    return f"arn:{partition}:kms:{region}:{account_id}:key/{key}"


def iam_values(
    config: Mapping[str, Any], account_id: str, partition: str = "aws"
) -> dict[str, str | None]:
    """The IAM template's placeholders for one installation; None for what it leaves out."""
    cfg = _config(config)
    aws_backup, datasync, cross = cfg.efs.aws_backup, cfg.efs.datasync, cfg.cross_region
    return {
        "Partition": partition,
        "Region": cfg.region,
        "AccountId": str(account_id),
        "Installation": cfg.installation,
        "BackupSet": cfg.installation + SET_STAMP,
        "RestoreId": restore_id_pattern(cfg.installation),
        "DrillId": drill_id_pattern(cfg.installation),  # a drill restores either EFS method
        "DbInstanceIdentifier": cfg.database.rds_instance_identifier if cfg.uses_rds else None,
        "EfsFileSystemId": cfg.efs.file_system_id,
        "BackupVaultName": aws_backup.vault_name if aws_backup else None,
        "BackupRoleArn": aws_backup.iam_role_arn if aws_backup else None,
        "DataSyncTaskArn": datasync.task_arn if datasync else None,
        "DataSyncTargetFileSystemId": datasync.target_file_system_id if datasync else None,
        "MemoryDbClusterName": cfg.memorydb.cluster_name if cfg.memorydb else None,
        "ManifestBucket": cfg.manifests.bucket,
        "ManifestPrefix": cfg.manifests.prefix,
        "CopyRegion": cross.region if cross else None,
        "CopyBackupVaultArn": cross.backup_vault_arn if cross and aws_backup else None,
        "RdsCopyKmsKeyArn": kms_key_arn(cross.rds_kms_key_id, partition, cross.region, account_id)
        if cross and cross.rds_kms_key_id and cfg.uses_rds
        else None,
        "MemoryDbExportBucket": cross.memorydb_export_bucket if cross and cfg.memorydb else None,
        "MemoryDbCopyBucket": cross.memorydb_bucket if cross and cfg.memorydb else None,
        "SnsTopicArn": cfg.alerts.sns_topic_arn if cfg.alerts else None,
        # The RPO guard's metric and alarms (ue_backup.tasks.rpo), when the guard is on.
        "MetricsRegion": _metrics_region(cfg),
        # The role in the protected account the immutable copies' connection assumes.
        "ImmutableRoleArn": cfg.immutable.role_arn if cfg.immutable else None,
        # Where the locked vault's key is (preflight reads it: the copy back needs it shared).
        "ImmutableAccountId": cfg.immutable.account_id if cfg.immutable else None,
        "ImmutableRegion": cfg.immutable.region_or(cfg.region) if cfg.immutable else None,
        # The home bucket MemoryDB exports the set's snapshot to before it is locked.
        "ImmutableMemoryDbExportBucket": cfg.immutable.memorydb_export_bucket
        if cfg.immutable and cfg.memorydb
        else None,
    }


def immutable_values(
    config: Mapping[str, Any],
    home_account_id: str,
    partition: str = "aws",
    airflow_role_arn: str | None = None,
) -> dict[str, str | None]:
    """The protected account's templates' placeholders, from the ``immutable`` section.

    ``home_account_id`` is the installation's account (the Airflow role's), which the
    locked vault lets copy into it; the role's trust policy trusts ``airflow_role_arn``,
    or, without one, the home account (whose own policies then decide who may assume it).
    """
    cfg = _config(config)
    locked = cfg.immutable
    if locked is None:
        raise ValueError("the configuration has no immutable section: no protected account")
    if str(home_account_id) == locked.account_id:
        raise ValueError("immutable.account_id is the installation's own account")
    return {
        "Partition": partition,
        "Installation": cfg.installation,
        "HomeAccountId": str(home_account_id),
        "ProtectedAccountId": locked.account_id,
        "ImmutableRegion": locked.region_or(cfg.region),
        "ImmutableRoleArn": locked.role_arn,
        # The role AWS Backup runs as in the protected account to copy points back home.
        "ImmutableBackupRoleArn": locked.backup_role_arn,
        "ImmutableVaultName": locked.backup_vault_name,
        "ImmutableBucket": locked.bucket,
        # The locked manifests keep their home keys: <prefix><installation>/<set>/...
        "ManifestPrefix": cfg.manifests.prefix,
        "AirflowPrincipal": airflow_role_arn or f"arn:{partition}:iam::{home_account_id}:root",
        # Where a restore copies the locked points back to: the installation's own vault.
        "HomeRegion": cfg.region,
        "HomeBackupVaultName": cfg.efs.aws_backup.vault_name if cfg.efs.aws_backup else None,
    }


def render_immutable(name: str, values: Mapping[str, str | None]) -> dict:
    """One of the protected account's documents (``IMMUTABLE_TEMPLATES``) for ``values``:
    a statement naming a placeholder without a value is left out, as in ``render_policy``."""
    template = json.loads(IMMUTABLE_TEMPLATES[name].read_text())
    if all("Resource" in s for s in template["Statement"]):
        return render_policy(template, values)
    _check_known(placeholders(template), values)
    return substitute(template, values)


def _metrics_region(cfg: Any) -> str | None:
    """Where the RPO guard's metric and alarms live; None when the guard is off."""
    from ue_backup.rpo import targets

    if not targets(cfg):
        return None
    return cfg.alerts.region if cfg.alerts else cfg.region


def k8s_values(config: Mapping[str, Any], service_account: str) -> dict[str, str | None]:
    """The RBAC template's placeholders: namespaces from the configuration, the subject given.

    ``service_account`` is ``<namespace>/<name>`` of the account Airflow's
    workers and triggerer run as (or the one the ``kubernetes_default``
    connection's credentials map to).
    """
    cfg = _config(config)
    derby = cfg.database.derby
    namespace, _, name = service_account.partition("/")
    if not namespace or not name:
        raise ValueError(f"service account {service_account!r} is not <namespace>/<name>")
    return {
        "UeNamespace": cfg.kubernetes.namespace,
        "VeleroNamespace": cfg.velero.namespace if cfg.velero else None,
        # The drill restores into its namespace with Velero, and runs its EFS Jobs there.
        "DrillNamespace": drill_namespace(cfg),  # with either EFS method
        "ServiceAccountNamespace": namespace,
        "ServiceAccountName": name,
        # A Derby installation's platform, scaled by the cold window: a Role for its kind.
        "PlatformName": derby.platform.name if derby else None,
        "PlatformResource": PLATFORM_RESOURCES[derby.platform.kind.value] if derby else None,
        # A StatefulSet's reads (a Deployment's are the first Role's: every ECD's Deployment).
        "PlatformStatefulSet": derby.platform.name
        if derby and derby.platform.kind.value == "StatefulSet"
        else None,
    }


# The apps/v1 resource of each kind database.derby.platform may name.
PLATFORM_RESOURCES = {"Deployment": "deployments", "StatefulSet": "statefulsets"}


def placeholders(value: Any) -> set[str]:
    """Every ``${Name}`` used anywhere in ``value`` (strings, lists, mappings, keys too)."""
    if isinstance(value, str):
        return set(PLACEHOLDER.findall(value))
    if isinstance(value, Mapping):
        return set().union(*(placeholders(k) | placeholders(v) for k, v in value.items()))
    if isinstance(value, list):
        return set().union(*(placeholders(v) for v in value))
    return set()


def substitute(value: Any, values: Mapping[str, str | None]) -> Any:
    """``value`` with every placeholder replaced; KeyError for a name ``values`` lacks."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), value)
    if isinstance(value, Mapping):
        return {substitute(k, values): substitute(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, values) for v in value]
    return value


def _check_known(names: set[str], values: Mapping[str, str | None]) -> None:
    unknown = sorted(names - set(values))
    if unknown:
        raise KeyError(f"the template uses placeholders nothing fills: {unknown}")


def render_policy(template: Mapping[str, Any], values: Mapping[str, str | None]) -> dict:
    """The policy for ``values``: statements and resources of absent components dropped."""
    _check_known(placeholders(template), values)
    absent = {name for name, value in values.items() if value is None}
    statements = []
    for statement in copy.deepcopy(template["Statement"]):
        sid = statement.get("Sid", "")
        if any(sid.startswith(prefix) and name in absent for prefix, name in COMPONENTS.items()):
            continue
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        resources = [r for r in resources if not placeholders(r) & absent]
        rest = {k: v for k, v in statement.items() if k != "Resource"}
        if not resources or placeholders(rest) & absent:
            continue
        statement["Resource"] = resources
        statements.append(substitute(statement, values))
    return {**{k: v for k, v in template.items() if k != "Statement"}, "Statement": statements}


def policy_size(policy: Mapping[str, Any]) -> int:
    """A policy's size as IAM counts it against its quotas: white space left out."""
    return len(json.dumps(policy, separators=(",", ":")))


def split_policy(policy: Mapping[str, Any], limit: int = MANAGED_POLICY_LIMIT) -> list[dict]:
    """The policy's statements in as few documents as fit ``limit`` each, in order.

    A role's inline policies share one 10,240-character quota that an
    installation with copies, a drill and alerts exceeds; customer managed
    policies (6,144 characters each, ten per role by default) hold it.
    """
    parts: list[dict] = []
    for statement in policy["Statement"]:
        if (
            parts
            and policy_size({**parts[-1], "Statement": [*parts[-1]["Statement"], statement]})
            <= limit
        ):
            parts[-1]["Statement"].append(statement)
            continue
        part = {**{k: v for k, v in policy.items() if k != "Statement"}, "Statement": [statement]}
        if policy_size(part) > limit:
            raise ValueError(f"statement {statement.get('Sid')} alone exceeds {limit} characters")
        parts.append(part)
    return parts


def render_rbac(
    template: str, values: Mapping[str, str | None], subject: Mapping[str, str] | None = None
) -> list[dict]:
    """The RBAC objects for ``values``: objects naming an absent placeholder dropped.

    ``subject`` replaces the bindings' service account, e.g. ``{"kind": "User", "name":
    ...}`` for the Kubernetes user an EKS access entry maps an IAM role to (Amazon MWAA).
    """
    documents = [d for d in yaml.safe_load_all(template) if d]
    _check_known(placeholders(documents), values)
    absent = {name for name, value in values.items() if value is None}
    rendered = [substitute(d, values) for d in documents if not placeholders(d) & absent]
    if subject is not None:
        for document in rendered:
            if "subjects" in document:
                document["subjects"] = [
                    {"apiGroup": "rbac.authorization.k8s.io", **subject}
                    if subject["kind"] != "ServiceAccount"
                    else dict(subject)
                ]
    return rendered


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    kinds = parser.add_subparsers(dest="kind", required=True)
    iam = kinds.add_parser("iam", help="the IAM policy document (JSON)")
    iam.add_argument("--config", type=Path, required=True, help="the installation's YAML file")
    iam.add_argument("--account-id", required=True, help="the AWS account of the installation")
    iam.add_argument("--partition", default="aws", help="aws, aws-cn or aws-us-gov")
    iam.add_argument(
        "--out-dir",
        type=Path,
        help="write the policy as customer managed policy documents that fit IAM's size "
        "quota, ue-backup-1.json, ue-backup-2.json, ... (instead of one document on stdout)",
    )
    locked = kinds.add_parser(
        "iam-immutable",
        help="the protected account's documents (JSON): its role's policy, trust policy, "
        "the locked vault's access policy, the installation's vault's access policy",
    )
    locked.add_argument("--config", type=Path, required=True, help="the installation's YAML file")
    locked.add_argument(
        "--home-account-id", required=True, help="the installation's AWS account (Airflow's)"
    )
    locked.add_argument(
        "--airflow-role-arn",
        help="the role behind aws_default, the only principal the trust policy lets assume "
        "the protected role (default: any the home account's own policies allow)",
    )
    locked.add_argument("--partition", default="aws", help="aws, aws-cn or aws-us-gov")
    locked.add_argument(
        "--document",
        choices=sorted(IMMUTABLE_TEMPLATES),
        default="policy",
        help="which document to print (default: the role's identity policy)",
    )
    locked.add_argument(
        "--out-dir",
        type=Path,
        help="write all four as ue-backup-immutable-<document>.json (instead of stdout)",
    )
    k8s = kinds.add_parser("k8s", help="the Roles, ClusterRole and bindings (YAML)")
    k8s.add_argument("--config", type=Path, required=True, help="the installation's YAML file")
    who = k8s.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--service-account",
        metavar="NAMESPACE/NAME",
        help="the service account Airflow's workers and triggerer use",
    )
    who.add_argument(
        "--user", help="the Kubernetes user Airflow's credentials map to (EKS access entry)"
    )
    who.add_argument("--group", help="a Kubernetes group those credentials belong to")
    args = parser.parse_args(argv)
    config = yaml.safe_load(args.config.read_text())
    if args.kind == "iam-immutable":
        _print_immutable(args, config)
        return
    if args.kind == "iam":
        values = iam_values(config, args.account_id, args.partition)
        cross = _config(config).cross_region
        if cross and cross.rds_kms_key_id and values["RdsCopyKmsKeyArn"] is None:
            print(
                f"warning: cross_region.rds_kms_key_id {cross.rds_kms_key_id!r} is an alias: "
                "the policy has no KMS statement for it (see include/iam/README.md)",
                file=sys.stderr,
            )
        policy = render_policy(json.loads(IAM_TEMPLATE.read_text()), values)
        if args.out_dir:
            args.out_dir.mkdir(parents=True, exist_ok=True)
            for number, part in enumerate(split_policy(policy), start=1):
                path = args.out_dir / f"ue-backup-{number}.json"
                path.write_text(json.dumps(part, indent=2) + "\n")
                print(path)
            return
        if policy_size(policy) > INLINE_POLICY_LIMIT:
            print(
                f"warning: the policy has {policy_size(policy)} characters, more than IAM "
                f"allows a role's inline policies ({INLINE_POLICY_LIMIT}): use --out-dir",
                file=sys.stderr,
            )
        print(json.dumps(policy, indent=2))
    else:
        subject = None
        if args.user or args.group:
            kind = "User" if args.user else "Group"
            subject = {"kind": kind, "name": args.user or args.group}
        values = k8s_values(config, args.service_account or "unused/unused")
        documents = render_rbac(K8S_TEMPLATE.read_text(), values, subject)
        print(yaml.safe_dump_all(documents, sort_keys=False), end="")


def _print_immutable(args: argparse.Namespace, config: Mapping[str, Any]) -> None:
    values = immutable_values(config, args.home_account_id, args.partition, args.airflow_role_arn)
    if args.out_dir:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        for name in IMMUTABLE_TEMPLATES:
            path = args.out_dir / f"ue-backup-immutable-{name}.json"
            path.write_text(json.dumps(render_immutable(name, values), indent=2) + "\n")
            print(path)
        return
    print(json.dumps(render_immutable(args.document, values), indent=2))


if __name__ == "__main__":
    main()
