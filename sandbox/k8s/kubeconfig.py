"""The kubeconfig and Airflow connection that point clients at the sandbox.

A single cluster over plain http on loopback, a static bearer-token user and a
context with a default namespace: what ``kubernetes.config.load_kube_config`` and
the provider's ``kube_config_path`` connection extra read.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

CONTEXT = "ue-backup-sandbox"


def write_kubeconfig(path: Path, server: str, token: str, namespace: str = "default") -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": server}}],
        "users": [{"name": CONTEXT, "user": {"token": token}}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def airflow_connection(kubeconfig: Path, namespace: str | None = None) -> str:
    """The value for ``AIRFLOW_CONN_KUBERNETES_DEFAULT`` (Airflow's JSON connection form)."""
    extra: dict[str, str] = {"kube_config_path": str(kubeconfig)}
    if namespace:
        extra["namespace"] = namespace
    return json.dumps({"conn_type": "kubernetes", "extra": extra})
