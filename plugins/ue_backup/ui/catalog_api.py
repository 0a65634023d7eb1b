"""The backup catalog's FastAPI app: the page, the JSON API and the "restore..." page.

Mounted by the plugin (``catalog_plugin``) inside Airflow's api-server. It
serves what the DAG runs recorded (the Variable ``catalog.CATALOG_VARIABLE``,
read from the metadata database) and runs the pure planner on it: the web
server needs no AWS or Kubernetes access.

Airflow does not authenticate a plugin's FastAPI app (a mounted app inherits
none of the core API's dependencies), so every route here depends on
Airflow's own ``get_user`` (the session cookie the UI sets, or a bearer
token: an anonymous request gets 401) and asks the configured auth manager:

- reading the catalog (every route) needs read access to the runs of
  ``ue_backup_rpo``, the DAG whose runs record it (``GET`` on its ``RUN``
  entity, as the REST API asks to list its runs);
- the "restore..." action is shown, and its page served, only to a user who
  may trigger ``ue_restore`` (``POST`` on its ``RUN`` entity, as triggering
  through the REST API or the UI asks).

Importing this module is cheap (Airflow's plugin loader imports every file
under ``plugins/`` in every process that loads plugins): Airflow's API
modules are imported only when the app is built (``create_app``).
"""

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from ue_backup.catalog import (
    CATALOG_DAG,
    CATALOG_VARIABLE,
    RESTORE_DAG,
    ChoiceError,
    plan_choice,
    read_choice,
    without_views,
)

log = logging.getLogger(__name__)

CHOICE_FIELDS = (
    "request_type",
    "backup_set",
    "target_time",
    "source",
    "allow_point_in_time_restore",
    "allow_unverified",
)


def stored_catalog() -> dict[str, Any] | None:
    """The catalog the newest refresh wrote, from the metadata database (None: none yet).

    Read as a row, not through ``Variable.get``: a secrets backend configured
    for Variables is not asked (it may need AWS access the web server lacks).
    """
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalar(select(Variable).where(Variable.key == CATALOG_VARIABLE))
        text = row.val if row is not None else None
    return json.loads(text) if text else None


def may(user: Any, method: str, dag_id: str) -> bool:
    """Whether the auth manager lets ``user`` do ``method`` on the runs of ``dag_id``."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import (
        DagAccessEntity,
        DagDetails,
    )

    return get_auth_manager().is_authorized_dag(
        method=method, access_entity=DagAccessEntity.RUN, details=DagDetails(id=dag_id), user=user
    )


def _choice_query(params: Mapping[str, Any]) -> dict[str, str]:
    return {k: params[k] for k in CHOICE_FIELDS if params.get(k) not in (None, "")}


def create_app(
    load: Any = stored_catalog, clock: Any = lambda: datetime.now(UTC)
) -> Any:  # FastAPI, imported lazily
    """The app: ``/`` (the page), ``/api/catalog``, ``/api/plan``, ``/restore``, and
    ``/runs/{dag_id}/{run_id}`` (a run's summary, ``run_page``).

    ``load`` and ``clock`` are where the catalog and "now" come from (tests give
    their own; the plugin the database and the wall clock).
    """
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import Depends, FastAPI, HTTPException, Request
    from fastapi.responses import HTMLResponse, JSONResponse

    from ue_backup.ui.catalog_page import catalog_page, empty_page, restore_page

    app = FastAPI(
        title="ue-backup catalog",
        description="The backup catalog of the ue-backup installation (read-only).",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    def reader(user: Annotated[Any, Depends(get_user)]) -> Any:
        if not may(user, "GET", CATALOG_DAG):  # Airflow's get_user: 401 before this
            raise HTTPException(
                403, f"Forbidden: reading the catalog needs read access to {CATALOG_DAG}'s runs"
            )
        return user

    Reader = Annotated[Any, Depends(reader)]

    def catalog_or_404() -> dict[str, Any]:
        catalog = load()
        if catalog is None:
            raise HTTPException(404, f"no catalog yet: {CATALOG_DAG} has not refreshed it")
        return catalog

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request, user: Reader) -> HTMLResponse:
        now, catalog = clock(), load()
        if catalog is None:
            return HTMLResponse(empty_page(now))
        query = _choice_query(request.query_params)
        planned, error = None, None
        if query:
            try:
                planned = plan_choice(catalog, read_choice(query, catalog), now)
            except ChoiceError as problem:
                error = str(problem)
        allowed = may(user, "POST", RESTORE_DAG)
        return HTMLResponse(
            catalog_page(
                catalog,
                now,
                may_restore=allowed,
                planned=planned,
                choice_error=error,
                query=query,
            )
        )

    @app.get("/api/catalog")
    def catalog_json(user: Reader) -> JSONResponse:
        catalog = catalog_or_404()
        return JSONResponse(
            {**without_views(catalog), "may_restore": may(user, "POST", RESTORE_DAG)}
        )

    @app.get("/api/plan")
    def plan_json(request: Request, user: Reader) -> JSONResponse:
        catalog = catalog_or_404()
        try:
            choice = read_choice(_choice_query(request.query_params), catalog)
        except ChoiceError as problem:
            raise HTTPException(400, f"invalid choice: {problem}") from None
        planned = plan_choice(catalog, choice, clock())
        if not may(user, "POST", RESTORE_DAG):
            planned.pop("conf")  # the restore action's input: only for who may restore
        return JSONResponse({**planned, "as_of": catalog["as_of"]})

    @app.get("/restore", response_class=HTMLResponse)
    def restore(request: Request, user: Reader) -> HTMLResponse:
        if not may(user, "POST", RESTORE_DAG):
            raise HTTPException(
                403, f"Forbidden: restoring needs permission to trigger {RESTORE_DAG}"
            )
        catalog = catalog_or_404()
        try:
            choice = read_choice(_choice_query(request.query_params), catalog)
        except ChoiceError as problem:
            raise HTTPException(400, f"invalid choice: {problem}") from None
        planned = plan_choice(catalog, choice, clock())
        return HTMLResponse(restore_page(planned, planned["conf"]))

    @app.get("/runs/{dag_id}/{run_id}", response_class=HTMLResponse)
    def run_summary(dag_id: str, run_id: str, user: Annotated[Any, Depends(get_user)]) -> Any:
        """A ue_backup or ue_restore run's summary: its page's "ue-backup summary" tab."""
        from ue_backup.ui.run_page import page, render, summary_markdown

        if not may(user, "GET", dag_id):
            raise HTTPException(403, f"Forbidden: reading needs read access to {dag_id}'s runs")
        return HTMLResponse(page(dag_id, run_id, render(summary_markdown(dag_id, run_id))))

    return app


class LazyApp:
    """An ASGI app that builds ``create_app()`` on its first request.

    The plugin's class is defined in every process that loads plugins; only the
    api-server serves requests, so only it pays for building the app.
    """

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            self._app = create_app()
        await self._app(scope, receive, send)
