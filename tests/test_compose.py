"""The docker-compose stack and its image, checked without a Docker engine.

``docker-compose.yaml`` is read with PyYAML (merge keys resolved, as Compose
does) and checked for what running it needs: every service of Airflow's
official Celery stack with a health check, one image built from this
repository's ``Dockerfile``, this project's folders mounted, dependencies that
exist and wait on a condition, and the sandbox kept to its own profile. The
``Dockerfile`` must build on the Airflow version ``requirements.txt`` pins.
Each check returns its problems, so the tests below also show that each one
catches what it is for.
"""

from __future__ import annotations

import copy
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.gateway import parse_args as gateway_args
from ue_backup.dag_support import POOL

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
}
REQUIRED_SERVICES = {"postgres", "redis", *AIRFLOW_SERVICES, "ue-sandbox"}
ONE_SHOT = {"airflow-init"}
MOUNTED = ("dags", "plugins", "include", "config", "logs")
IN_REPO = ("dags", "plugins", "include", "config")  # logs/ is created when the stack runs
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
PROJ_DIR = re.compile(r"^\$\{AIRFLOW_PROJ_DIR:-\.\}")
CONTAINER_HOME = "/opt/airflow"


def load_compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


def host_path(source: str) -> Path:
    """The repository path of a bind mount's source (``${AIRFLOW_PROJ_DIR:-.}`` is the root)."""
    return (ROOT / PROJ_DIR.sub(".", source)).resolve()


def mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> repository path, for the service's bind mounts of this repository."""
    result = {}
    for volume in service.get("volumes", []):
        # source:target[:mode]; the source may hold ${VAR:-default}, the target is absolute
        source, _, rest = volume.partition(":/")
        target = "/" + rest.split(":")[0]
        if source.startswith((".", "$")):
            result[target] = host_path(source)
        else:
            assert source in {"postgres-db-volume"}, f"unexpected named volume {source}"
    return result


def on_host(service: dict[str, Any], container_path: str) -> Path | None:
    """Where a file of the container lives in the repository, through the service's mounts."""
    for target, source in sorted(mounts(service).items(), key=lambda m: -len(m[0])):
        if container_path == target or container_path.startswith(target + "/"):
            return source / container_path[len(target) :].lstrip("/")
    return None


def command_words(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else list(command)


# --- the checks ------------------------------------------------------------------------------


def service_problems(compose: dict[str, Any]) -> list[str]:
    services = compose["services"]
    problems = [f"missing service {name}" for name in sorted(REQUIRED_SERVICES - set(services))]
    for name, service in sorted(services.items()):
        if name in ONE_SHOT:
            if "healthcheck" in service or service.get("restart"):
                problems.append(f"{name}: a one-shot service needs no health check or restart")
            continue
        test = service.get("healthcheck", {}).get("test")
        missing = not test or test[0] not in {"CMD", "CMD-SHELL"} or len(test) < 2
        if missing and name != "airflow-cli":  # `docker compose run` only, as officially
            problems.append(f"{name}: no health check")
    return problems


def image_problems(compose: dict[str, Any]) -> list[str]:
    common = compose.get("x-airflow-common", {})
    build = common.get("build")
    context = build if isinstance(build, str) else (build or {}).get("context")
    problems = []
    if context != ".":
        problems.append(f"x-airflow-common builds from {context!r}, not this repository")
    elif not (ROOT / "Dockerfile").is_file():
        problems.append("x-airflow-common builds a Dockerfile the repository lacks")
    if isinstance(build, dict) and build.get("target") not in (None, "runtime"):
        problems.append(f"x-airflow-common builds target {build.get('target')!r}")
    for name in sorted(AIRFLOW_SERVICES & set(compose["services"])):
        service = compose["services"][name]
        if service.get("build") != build or service.get("image") != common.get("image"):
            problems.append(f"{name}: does not use the common image (<<: *airflow-common)")
    sandbox = compose["services"].get("ue-sandbox", {})
    target = (sandbox.get("build") or {}).get("target")
    if target not in dockerfile_stages():
        problems.append(f"ue-sandbox builds target {target!r}, not a stage of the Dockerfile")
    return problems


def environment_problems(compose: dict[str, Any]) -> list[str]:
    env = compose["x-airflow-common"]["environment"]
    expected = {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://airflow-apiserver:8080/execution/",
    }
    problems = [
        f"{key} is {env.get(key)!r}, expected {value!r}"
        for key, value in expected.items()
        if str(env.get(key)).lower() != value.lower()
    ]
    if not str(env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")).startswith(
        "postgresql+psycopg2://airflow:airflow@postgres/"
    ):
        problems.append("the metadata database is not the postgres service")
    if not str(env.get("AIRFLOW__CELERY__BROKER_URL", "")).startswith("redis://:@redis:6379/"):
        problems.append("the Celery broker is not the redis service")
    config_file = re.sub(r"^\$\{UE_BACKUP_CONFIG_FILE-(.*)\}$", r"\1", env["UE_BACKUP_CONFIG_FILE"])
    if not config_file.startswith(f"{CONTAINER_HOME}/config/"):
        problems.append(f"UE_BACKUP_CONFIG_FILE {config_file} is not in the mounted config/")
    return problems


def mount_problems(compose: dict[str, Any]) -> list[str]:
    problems = []
    for name in sorted(AIRFLOW_SERVICES & set(compose["services"])):
        found = mounts(compose["services"][name])
        for folder in MOUNTED:
            target = f"{CONTAINER_HOME}/{folder}"
            if found.get(target) != (ROOT / folder).resolve():
                problems.append(f"{name}: ./{folder} is not mounted at {target}")
    for folder in IN_REPO:
        if not (ROOT / folder).is_dir():
            problems.append(f"./{folder} is mounted but is not a directory of the repository")
    return problems


def dependency_problems(compose: dict[str, Any]) -> list[str]:
    services = compose["services"]
    problems = []
    graph: dict[str, set[str]] = {}
    for name, service in sorted(services.items()):
        depends = service.get("depends_on", {})
        if not isinstance(depends, dict):
            problems.append(f"{name}: depends_on without conditions")
            continue
        graph[name] = set(depends)
        for other, spec in sorted(depends.items()):
            condition = (spec or {}).get("condition")
            if other not in services:
                problems.append(f"{name}: depends on {other}, which does not exist")
            elif condition not in CONDITIONS:
                problems.append(f"{name}: depends on {other} without a condition")
            elif condition == "service_healthy" and "healthcheck" not in services[other]:
                problems.append(f"{name}: waits for {other} to be healthy; it has no health check")
            elif condition == "service_completed_successfully" and other not in ONE_SHOT:
                problems.append(f"{name}: waits for {other} to complete; it never does")
            optional = services.get(other, {}).get("profiles") and not service.get("profiles")
            if optional and (spec or {}).get("required", True) is not False:
                problems.append(
                    f"{name}: requires {other}, which runs only with a profile "
                    "(mark the dependency required: false)"
                )
    for name in services:
        if _reaches(graph, name, name, set()):
            problems.append(f"{name}: depends on itself through a cycle")
    for name in sorted((AIRFLOW_SERVICES - ONE_SHOT) & set(services)):
        depends = services[name].get("depends_on", {})
        conditions = {other: (spec or {}).get("condition") for other, spec in depends.items()}
        if conditions.get("airflow-init") != "service_completed_successfully":
            problems.append(f"{name}: does not wait for airflow-init to complete")
        for store in ("postgres", "redis"):
            if conditions.get(store) != "service_healthy":
                problems.append(f"{name}: does not wait for {store} to be healthy")
    return problems


def _reaches(graph: dict[str, set[str]], start: str, goal: str, seen: set[str]) -> bool:
    for nxt in graph.get(start, ()):
        if nxt == goal:
            return True
        if nxt not in seen:
            seen.add(nxt)
            if _reaches(graph, nxt, goal, seen):
                return True
    return False


def sandbox_problems(compose: dict[str, Any]) -> list[str]:
    services = compose["services"]
    sandbox = services.get("ue-sandbox")
    if sandbox is None:
        return ["no ue-sandbox service"]
    problems = []
    if sandbox.get("profiles") != ["sandbox"]:
        problems.append(f"ue-sandbox runs with profiles {sandbox.get('profiles')}, not [sandbox]")
    for name, service in sorted(services.items()):
        if name != "ue-sandbox" and "sandbox" in service.get("profiles", []):
            problems.append(f"{name}: only the sandbox belongs to the profile sandbox")
    if on_host(sandbox, f"{CONTAINER_HOME}/sandbox") != (ROOT / "sandbox").resolve():
        problems.append("ue-sandbox does not mount ./sandbox")
    words = command_words(sandbox)
    if words[:3] != ["python", "-m", "sandbox.gateway"]:
        return [*problems, f"ue-sandbox runs {words[:3]}, not the sandbox gateway"]
    try:
        args, sandbox_args = gateway_args(words[3:])
    except SystemExit:
        return [*problems, f"ue-sandbox: the gateway refuses its options {words[3:]}"]
    given = {arg.split("=", 1)[0] for arg in sandbox_args}
    for flag in ("--seed", "--config-out"):
        if flag not in given:
            problems.append(f"ue-sandbox: no {flag} for the sandbox")
    # What the sandbox writes must reach the Airflow services through the shared config/.
    worker = services["airflow-worker"]
    env_files = {host_path(entry["path"]) for entry in compose["x-airflow-common"]["env_file"]}
    if on_host(sandbox, str(args.env_out)) not in env_files:
        problems.append(f"the Airflow services do not read the sandbox's {args.env_out}")
    if on_host(sandbox, str(args.kubeconfig_out)) != on_host(worker, str(args.kubeconfig_out)):
        problems.append(f"the workers do not see the sandbox's {args.kubeconfig_out}")
    config_out = next(
        (a.split("=", 1)[1] for a in sandbox_args if a.startswith("--config-out=")), ""
    )
    configured = compose["x-airflow-common"]["environment"]["UE_BACKUP_CONFIG_FILE"]
    if not config_out or config_out not in configured:
        problems.append(f"the sandbox writes {config_out!r}; UE_BACKUP_CONFIG_FILE is elsewhere")
    if args.public_host != "ue-sandbox":
        problems.append(f"the gateway announces {args.public_host}, not its service name")
    return problems


def init_problems(compose: dict[str, Any]) -> list[str]:
    script = " ".join(command_words(compose["services"]["airflow-init"]))
    match = re.search(r"airflow pools set (\S+) (\d+)", script)
    if not match:
        return ["airflow-init does not create the pool"]
    if match.group(1) != POOL:
        return [f"airflow-init creates pool {match.group(1)}, the tasks use {POOL}"]
    return []


# --- the Dockerfile --------------------------------------------------------------------------


def dockerfile_instructions(text: str | None = None) -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text() if text is None else text
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), " ".join(rest.split())))
    return result


def dockerfile_stages(text: str | None = None) -> list[str]:
    return [
        rest.split(" AS ", 1)[1].strip() if " AS " in rest else ""
        for keyword, rest in dockerfile_instructions(text)
        if keyword == "FROM"
    ]


def pinned_airflow() -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if match := re.fullmatch(r"apache-airflow==(\S+)", line.strip()):
            return match.group(1)
    raise AssertionError("requirements.txt pins no apache-airflow version")


def dockerfile_problems(text: str | None = None) -> list[str]:
    instructions = dockerfile_instructions(text)
    problems = []
    bases = [rest.split()[0] for keyword, rest in instructions if keyword == "FROM"]
    official = [base for base in bases if base.startswith("apache/airflow")]
    expected = f"apache/airflow:{pinned_airflow()}-python3.11"
    if not official:
        problems.append("the image is not built on apache/airflow")
    for base in official:
        if base != expected:
            problems.append(f"FROM {base}: requirements.txt pins {expected}")
    copied = set()
    for keyword, rest in instructions:
        if keyword in {"COPY", "ADD"}:
            words = [w for w in rest.split() if not w.startswith("--")]
            copied.update(words[:-1])
    allowed = {"requirements.txt", "requirements-dev.txt", "constraints.txt"}
    problems += [f"the image copies {name}; compose mounts it" for name in sorted(copied - allowed)]
    runs = [rest for keyword, rest in instructions if keyword == "RUN"]
    if not any(
        "pip install --no-cache-dir" in run
        and "-r /opt/ue-backup/requirements.txt" in run
        and "-c /opt/ue-backup/constraints.txt" in run
        for run in runs
    ):
        problems.append("requirements.txt is not installed with constraints.txt")
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    if users[:1] != ["airflow"]:
        problems.append("pip does not run as the airflow user")
    for keyword, rest in instructions:
        if keyword in {"ENV", "ARG"} and re.search(r"SECRET|PASSWORD|TOKEN|KEY", rest, re.I):
            problems.append(f"{keyword} {rest}: no secrets in the image")
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    if any("requirements-dev.txt" in rest for _, rest in instructions[last_from:]):
        problems.append("the default (last) stage installs the development requirements")
    return problems


# --- the tests -------------------------------------------------------------------------------


def test_every_service_is_there_with_a_health_check(compose):
    assert service_problems(compose) == []


def test_the_airflow_services_share_one_image_built_here(compose):
    assert image_problems(compose) == []


def test_the_environment_is_the_celery_stack_with_this_projects_settings(compose):
    assert environment_problems(compose) == []


def test_the_projects_folders_are_mounted_and_exist(compose):
    assert mount_problems(compose) == []


def test_dependencies_exist_and_wait_on_a_condition(compose):
    assert dependency_problems(compose) == []


def test_the_sandbox_runs_only_in_its_profile_and_reaches_airflow(compose):
    assert sandbox_problems(compose) == []


def test_init_creates_the_pool_the_tasks_run_in(compose):
    assert init_problems(compose) == []


def test_the_dockerfile_builds_on_the_pinned_airflow():
    assert dockerfile_problems() == []


def test_the_build_context_holds_only_what_the_image_copies():
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    kept = {line[1:] for line in lines[1:] if line.startswith("!")}
    copied = {
        word
        for keyword, rest in dockerfile_instructions()
        if keyword == "COPY"
        for word in rest.split()[:-1]
        if not word.startswith("--")
    }
    assert copied <= kept, f"copied but excluded from the context: {copied - kept}"
    assert all((ROOT / name).is_file() for name in copied)


def test_no_real_endpoint_account_or_key_in_the_stack():
    text = (ROOT / "docker-compose.yaml").read_text() + (ROOT / "Dockerfile").read_text()
    assert not re.search(r"amazonaws\.com|\b\d{12}\b|AKIA[0-9A-Z]{16}", text)


# --- each check catches what it is for -------------------------------------------------------


def broken(compose: dict[str, Any], change) -> dict[str, Any]:
    result = copy.deepcopy(compose)
    change(result)
    return result


@pytest.mark.parametrize(
    ("check", "change", "problem"),
    [
        (service_problems, lambda c: c["services"].pop("airflow-triggerer"), "missing service"),
        (
            service_problems,
            lambda c: c["services"]["airflow-worker"].pop("healthcheck"),
            "airflow-worker: no health check",
        ),
        (
            image_problems,
            lambda c: c["services"]["airflow-scheduler"].update(image="apache/airflow:3.3.2"),
            "airflow-scheduler: does not use the common image",
        ),
        (image_problems, lambda c: c["x-airflow-common"].update(build="./elsewhere"), "builds"),
        (
            environment_problems,
            lambda c: c["x-airflow-common"]["environment"].update(
                AIRFLOW__CORE__LOAD_EXAMPLES="true"
            ),
            "AIRFLOW__CORE__LOAD_EXAMPLES",
        ),
        (
            mount_problems,
            lambda c: c["services"]["airflow-triggerer"]["volumes"].pop(1),
            "airflow-triggerer: ./plugins is not mounted",
        ),
        (
            dependency_problems,
            lambda c: c["services"]["airflow-worker"]["depends_on"].update(
                flower={"condition": "service_healthy"}
            ),
            "depends on flower, which does not exist",
        ),
        (
            dependency_problems,
            lambda c: c["services"]["airflow-triggerer"]["depends_on"]["ue-sandbox"].pop(
                "required"
            ),
            "requires ue-sandbox, which runs only with a profile",
        ),
        (
            dependency_problems,
            lambda c: c["services"]["airflow-init"]["depends_on"].update(
                {"airflow-scheduler": {"condition": "service_healthy"}}
            ),
            "cycle",
        ),
        (
            sandbox_problems,
            lambda c: c["services"]["ue-sandbox"].pop("profiles"),
            "not [sandbox]",
        ),
        (
            sandbox_problems,
            lambda c: c["x-airflow-common"].update(env_file=[{"path": ".env"}]),
            "do not read the sandbox's",
        ),
        (
            init_problems,
            lambda c: c["services"]["airflow-init"].update(command=["-c", "airflow version"]),
            "does not create the pool",
        ),
    ],
)
def test_a_broken_stack_is_caught(compose, check, change, problem):
    assert check(compose) == []
    problems = check(broken(compose, change))
    assert any(problem in p for p in problems), problems


def test_a_drifting_or_leaky_dockerfile_is_caught():
    text = (ROOT / "Dockerfile").read_text()
    drifted = text.replace("apache/airflow:3.3.2-", "apache/airflow:3.2.0-", 1)
    assert any("requirements.txt pins" in p for p in dockerfile_problems(drifted))
    leaky = text + "\nCOPY dags/ /opt/airflow/dags/\nENV AWS_SECRET_ACCESS_KEY=x\n"
    problems = dockerfile_problems(leaky)
    assert any("copies dags/" in p for p in problems), problems
    assert any("no secrets" in p for p in problems), problems
    dev_by_default = text + "\nFROM airflow AS dev\nRUN pip install -r requirements-dev.txt\n"
    assert any("development requirements" in p for p in dockerfile_problems(dev_by_default))
