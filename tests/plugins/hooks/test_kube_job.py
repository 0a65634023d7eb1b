"""The Jobs ue-backup starts are hardened, and take their settings from kubernetes.jobs."""

from __future__ import annotations

import pytest

from tests.plugins.hooks.job_manifests import built_jobs
from ue_backup.config import DEFAULT_JOB_IMAGE, JobsConfig
from ue_backup.hooks.kube_job import EFS_WORK_CAPABILITIES

JOBS = built_jobs()


def container_of(job: dict) -> dict:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return container


@pytest.mark.parametrize("kind", sorted(JOBS))
def test_every_job_is_hardened(kind):
    job = JOBS[kind]
    pod = job["spec"]["template"]["spec"]
    container = container_of(job)
    security = container["securityContext"]

    assert security["allowPrivilegeEscalation"] is False
    assert security["privileged"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["restartPolicy"] == "Never"
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "64Mi"},
        "limits": {"cpu": "1", "memory": "256Mi"},
    }
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] == 4 * 3600
    # scratch space on a read-only root: the checks' mktemp -d writes to /tmp
    assert {"name": "scratch", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"name": "scratch", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]


@pytest.mark.parametrize("kind", [k for k in sorted(JOBS) if not k.startswith("app-checks")])
def test_efs_jobs_add_back_only_what_moving_the_platforms_files_needs(kind):
    job = JOBS[kind]
    capabilities = container_of(job)["securityContext"]["capabilities"]
    assert capabilities["add"] == list(EFS_WORK_CAPABILITIES) == ["DAC_OVERRIDE", "FOWNER"]
    assert "runAsUser" not in container_of(job)["securityContext"]  # root: see kube_job
    assert container_of(job)["image"] == DEFAULT_JOB_IMAGE
    assert job["spec"]["ttlSecondsAfterFinished"] == 3600


def test_the_checks_job_runs_as_nobody_with_no_capability_and_a_shorter_ttl():
    with_efs, without = JOBS["app-checks"], JOBS["app-checks-no-efs"]
    for job in (with_efs, without):
        security = container_of(job)["securityContext"]
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert (security["runAsNonRoot"], security["runAsUser"], security["runAsGroup"]) == (
            True,
            65534,
            65534,
        )
    assert {"name": "efs", "mountPath": "/efs"} in container_of(with_efs)["volumeMounts"]
    assert len(container_of(without)["volumeMounts"]) == 1  # /tmp only
    # the Secret it owns holds a password: gone with the Job after 10 minutes at most
    assert with_efs["spec"]["ttlSecondsAfterFinished"] == 600
    assert container_of(with_efs)["image"] == "ue-backup-checks:1.0"


def test_the_default_image_is_pinned_by_digest():
    name, _, digest = DEFAULT_JOB_IMAGE.partition("@")
    assert name == "busybox:1.36.1"
    assert digest.startswith("sha256:")
    assert len(digest.removeprefix("sha256:")) == 64


def test_configured_settings_reach_every_job():
    settings = JobsConfig.model_validate(
        {
            "image": "registry.example/busybox@sha256:" + "a" * 64,
            "requests": {"cpu": "50m", "memory": "32Mi"},
            "limits": {"cpu": "500m", "memory": "128Mi"},
            "ttl_seconds_after_finished": 300,
            "active_deadline_seconds": 900,
        }
    )
    for kind, job in built_jobs(settings).items():
        container = container_of(job)
        assert container["resources"] == {
            "requests": {"cpu": "50m", "memory": "32Mi"},
            "limits": {"cpu": "500m", "memory": "128Mi"},
        }, kind
        assert job["spec"]["activeDeadlineSeconds"] == 900, kind
        assert job["spec"]["ttlSecondsAfterFinished"] == 300, kind  # below the checks' 600
        if not kind.startswith("app-checks"):
            assert container["image"] == settings.image, kind


@pytest.mark.parametrize("kind", sorted(JOBS))
def test_every_job_has_only_fields_kubernetes_knows(kind):
    """Through the client's typed models (built from Kubernetes' OpenAPI schema) and back:
    a misspelt or misplaced field is dropped on the way, and the body would differ."""
    from kubernetes.client import ApiClient

    client = ApiClient()
    typed = client._ApiClient__deserialize(JOBS[kind], "V1Job")
    assert client.sanitize_for_serialization(typed) == JOBS[kind]
