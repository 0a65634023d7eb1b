"""A person answering a human-in-the-loop task, for runs made with ``dag.test()``.

``dag.test()`` leaves a task that waits for a person in AWAITING_INPUT and
keeps the run alive until a response arrives "from outside". This runs the
DAG in a thread and answers from here through Airflow's own Core API route
(``PATCH .../taskInstances/{task}/-1/hitlDetails``, what the UI's Required
Actions send), served in-process by FastAPI's test client on the same
metadata database: the response is recorded, checked and resumed exactly as
a deployment's api-server does it. The simple auth manager's all-admins
mode stands in for the logged-in person.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from sandbox.airflow_harness.dag_runner import RunResult, run_dag

WAIT_SECONDS = 120
ALL_ADMINS = "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"
MARK_RUN_FAILED = "mark the run failed"


def waiting_task(dag_id: str, task_id: str) -> Any | None:
    """The task instance of the newest run of ``dag_id`` while it awaits input, else None."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    with create_session() as session:
        found = (
            session.query(TaskInstance)
            .filter_by(dag_id=dag_id, task_id=task_id, state=TaskInstanceState.AWAITING_INPUT)
            .order_by(TaskInstance.start_date.desc())
            .first()
        )
        if found is not None:
            session.expunge(found)
        return found


def hitl_detail(ti_id: Any) -> dict[str, Any]:
    """What the person is shown: subject, body, options (the HITL detail row)."""
    from airflow.models.hitl import HITLDetail
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.get(HITLDetail, ti_id)
        return {"subject": row.subject, "body": row.body, "options": list(row.options)}


def answer(dag_id: str, run_id: str, task_id: str, option: str) -> Any:
    """Respond as the UI does, through the Core API; returns the HTTP response.

    ``option`` MARK_RUN_FAILED instead marks the whole run failed, as the run
    page's "Mark run as failed" does (``PATCH .../dagRuns/{run}``).
    """
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    saved = os.environ.get(ALL_ADMINS)
    os.environ[ALL_ADMINS] = "True"
    try:
        client = TestClient(create_app(apps="core"))
        if option == MARK_RUN_FAILED:
            return client.patch(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}", json={"state": "failed"})
        return client.patch(
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails",
            json={"chosen_options": [option]},
        )
    finally:
        if saved is None:
            os.environ.pop(ALL_ADMINS, None)
        else:
            os.environ[ALL_ADMINS] = saved


def run_dag_answered(
    dag_id: str,
    conf: dict[str, Any],
    task_id: str,
    option: str | None,
    seen: Callable[[dict[str, Any]], None] | None = None,
) -> RunResult:
    """Run ``dag_id``; when ``task_id`` waits for a person, call ``seen`` with what it
    shows and answer ``option``. ``option`` None: the task must never wait.

    ``dag.test()`` keeps the main thread (its task timeouts use signals); the person
    answers from a second thread, and whatever went wrong there is raised here after.
    """
    person: dict[str, Any] = {}
    stop = threading.Event()

    def answer_when_asked() -> None:
        try:
            until = time.monotonic() + WAIT_SECONDS
            ti = None
            while ti is None and not stop.is_set() and time.monotonic() < until:
                time.sleep(0.2)
                ti = waiting_task(dag_id, task_id)
            if ti is None:
                return
            person["asked"] = True
            if option is None:
                return  # never answered: the run would wait; the caller's check fails
            if seen is not None:
                seen({**hitl_detail(ti.id), "run_id": ti.run_id})
            response = answer(dag_id, ti.run_id, task_id, option)
            person["status"] = (response.status_code, response.text)
        except BaseException as error:  # raised in the caller's thread
            person["error"] = error

    thread = threading.Thread(target=answer_when_asked, daemon=True)
    thread.start()
    try:
        result = run_dag(dag_id, conf)
    finally:
        stop.set()
        thread.join(WAIT_SECONDS)
    if "error" in person:
        raise person["error"]
    if option is None:
        assert not person.get("asked"), f"{task_id} waited for a person"
    else:
        assert person.get("asked"), f"{task_id} never waited for a person: {result.tasks}"
        assert person["status"][0] == 200, person["status"]
    return result
