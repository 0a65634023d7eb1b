"""Identifiers AWS and Kubernetes accept: the limits, and one way to cut a name to fit.

RDS and MemoryDB names allow letters, digits and hyphens, must start with a
letter, and refuse two hyphens in a row and a trailing hyphen. Cutting a
name to a length can leave a hyphen at the cut (``installation[:24]`` of a
name whose 24th character is ``-``), and gluing a suffix on then makes
``--``: AWS refuses the name at the first call. ``fit`` is the one place a
generated name is cut, so every generator stays valid for every
installation name the configuration accepts (``config.INSTALLATION_RE``).

Kubernetes names need no cutting here: every name the project makes for
Kubernetes is a DNS-1123 label of at most 63 characters by construction.
"""

from __future__ import annotations

import re

# RDS: DBInstanceIdentifier ("1 to 63 letters, numbers, or hyphens").
RDS_INSTANCE_MAX = 63
# MemoryDB: ClusterName, 1 to 40 (MemoryDB developer guide, creating a cluster).
MEMORYDB_CLUSTER_MAX = 40
# EFS: CreationToken (botocore's efs model: min 1, max 64). AWS Backup's EFS restore
# passes the restore's idempotency token as the new file system's CreationToken.
EFS_CREATION_TOKEN_MAX = 64
# Kubernetes: a DNS-1123 label (a Job's name, a label value, a namespace).
K8S_LABEL_MAX = 63

# How much of the installation name a restore id and a drill id keep: room for
# "-r<12 digits>-agg" and "-drill-<12 digits>" within MemoryDB's 40. Used by the ids
# (tasks/restore_steps.restore_id, tasks/drill_steps.drill_id) and by the IAM policy's
# patterns of them (include/render.py), which must match what the ids are.
RESTORE_ID_KEEP = 24
DRILL_ID_KEEP = 21

_HYPHENS = re.compile("-{2,}")


def fit(name: str, limit: int) -> str:
    """``name`` cut to ``limit`` characters, still a valid RDS/MemoryDB identifier.

    Cuts, then folds runs of hyphens into one and drops a trailing hyphen.
    A name that was valid and short enough comes back unchanged, so names
    made before this helper existed are made again identically (a retry
    finds what its first try created). ``name`` must start with a letter
    and hold only letters, digits and hyphens; the result is never longer
    than ``limit`` and never empty.
    """
    if not name[:1].isalpha():
        raise ValueError(f"{name!r} does not start with a letter")
    return _HYPHENS.sub("-", name[:limit]).rstrip("-")
