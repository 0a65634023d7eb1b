"""The Kubernetes API names and Velero facts the hooks, triggers and DAG steps share.

Kept apart from the hooks, whose modules load the Kubernetes client: a DAG
file that only needs a name (a label, a resource group) loads nothing heavy
when it is parsed, and neither does a task that never calls Kubernetes.
"""

from __future__ import annotations

# The EC Deployment custom resource of Usage Engine.
ECD_GROUP = "mz.digitalroute.com"
ECD_VERSION = "v1alpha1"
ECD_PLURAL = "ecdeployments"

# The label Velero puts on every object a Restore created: how restored objects are found.
RESTORE_NAME_LABEL = "velero.io/restore-name"

# Phases after which Velero changes a Backup or Restore no more.
FINISHED_PHASES = ("Completed", "PartiallyFailed", "Failed", "FailedValidation")
