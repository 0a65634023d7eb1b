"""A Job's environment from a Secret, as the kubelet builds it; Secrets collected with their Job.

The application checks of a restore (issue 16) give their Job the database password
through ``env.valueFrom.secretKeyRef`` and own the Secret by the Job, so both go
together: the sandbox must resolve the reference, keep a pod waiting while the Secret
is missing, and collect the Secret with its owner.
"""

from __future__ import annotations

import base64

from tests.sandbox.test_k8s_job import NS, finished, job, job_pods, pod_log

pytest_plugins = ["sandbox.k8s.fixtures"]


def secret(name: str, **plain: str) -> dict:
    return {"metadata": {"name": name}, "stringData": plain}


def env_job(name: str, secret_name: str, key: str = "password", optional: bool = False) -> dict:
    body = job(name, ["sh", "-c", 'echo "password is [$PGPASSWORD]"'])
    ref = {"name": secret_name, "key": key, **({"optional": True} if optional else {})}
    container = body["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [{"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": ref}}]
    return body


def test_string_data_is_stored_as_base64_data(k8s, core_api):
    core_api.create_namespaced_secret(NS, secret("db", password="s3cret pass"))
    stored = core_api.read_namespaced_secret("db", NS)
    assert stored.string_data is None
    assert base64.b64decode(stored.data["password"]).decode() == "s3cret pass"
    assert stored.type == "Opaque"


def test_a_secret_key_ref_becomes_the_containers_environment(k8s, core_api, batch_api):
    core_api.create_namespaced_secret(NS, secret("db", password="s3cret pass"))
    batch_api.create_namespaced_job(NS, env_job("check", "db"))

    assert finished(k8s, batch_api, "check").succeeded == 1
    (pod,) = job_pods(core_api, "check")
    assert pod_log(core_api, pod) == "password is [s3cret pass]\n"


def test_a_missing_secret_keeps_the_pod_waiting_until_it_exists(k8s, core_api, batch_api):
    batch_api.create_namespaced_job(NS, env_job("check", "later"))

    def waiting():
        pods = job_pods(core_api, "check")
        statuses = pods[0].status.container_statuses if pods else None
        return statuses[0].state.waiting if statuses and statuses[0].state.waiting else None

    state = k8s.wait_until(waiting)
    assert state.reason == "CreateContainerConfigError"
    assert state.message == 'secret "later" not found'

    core_api.create_namespaced_secret(NS, secret("later", password="now"))
    assert finished(k8s, batch_api, "check").succeeded == 1
    (pod,) = job_pods(core_api, "check")
    assert pod_log(core_api, pod) == "password is [now]\n"


def test_an_optional_reference_to_a_missing_key_leaves_the_variable_unset(k8s, core_api, batch_api):
    core_api.create_namespaced_secret(NS, secret("db", user="platform"))
    batch_api.create_namespaced_job(NS, env_job("check", "db", optional=True))

    assert finished(k8s, batch_api, "check").succeeded == 1
    (pod,) = job_pods(core_api, "check")
    assert pod_log(core_api, pod) == "password is []\n"


def test_a_secret_owned_by_a_job_goes_with_it(k8s, core_api, batch_api):
    created = batch_api.create_namespaced_job(NS, env_job("check", "db"))
    owned = secret("db", password="x")
    owned["metadata"]["ownerReferences"] = [
        {"apiVersion": "batch/v1", "kind": "Job", "name": "check", "uid": created.metadata.uid}
    ]
    core_api.create_namespaced_secret(NS, owned)
    finished(k8s, batch_api, "check")

    batch_api.delete_namespaced_job("check", NS, propagation_policy="Background")

    def gone():
        names = [s.metadata.name for s in core_api.list_namespaced_secret(NS).items]
        return "db" not in names or None

    assert k8s.wait_until(gone)
