"""``dag.test()``'s in-process Execution API with fewer thread hops and no per-request rebuilds.

``dag.test()`` runs each task in this process and sends every one of its Execution
API calls (start, heartbeat, XCom, connections, state...) through Airflow's
``InProcessExecutionAPI``: the whole FastAPI application, reached through
a2wsgi on an event loop in a thread of its own. Per call that path cost about
9 ms of CPU here, a third of an end-to-end test's CPU:

- a2wsgi crosses between the caller's thread and the loop's several times per
  request (start, body, each event), and Starlette runs every synchronous
  endpoint and dependency in a further worker thread (anyio);
- the in-process app overrides its authentication dependencies, and with any
  override FastAPI rebuilds each sub-dependency's ``Dependant`` (signature
  inspection, pydantic fields) on every request.

``install`` changes only how the calls travel: the same application, the same
routes, validation, version migrations and endpoints answer every call, on the
same loop (its lifespan already started), in one hop each way
(``httpx.ASGITransport`` run on that loop); a synchronous endpoint or
dependency runs on the loop thread itself while a call from this transport is
being served (calls go one at a time: ``dag.test`` runs one task at a time); a
sub-dependency's ``Dependant`` is built once per (path, callable, name, scopes)
and reused, as it is whenever no override is set. An application error is
raised to the caller, as a2wsgi raises it. Used by the tests (``tests/conftest.py``); nothing
in a deployment runs this.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import sys
from collections.abc import Callable
from typing import Any

import httpx

# True inside a call served by ``_OneHopTransport``: only there do synchronous
# endpoints and dependencies run on the loop's thread.
_SERVING = contextvars.ContextVar("ue_backup_inline_execution_api", default=False)

# How many sub-dependencies' Dependants are kept (the Execution API has a few dozen).
DEPENDANT_CACHE_SIZE = 256


class _OneHopTransport(httpx.BaseTransport):
    """A synchronous httpx transport that runs the ASGI app on ``loop``: one hop each way."""

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop, keep: Any) -> None:
        # An application error reaches the caller as itself, as through a2wsgi (Starlette
        # has sent its 500 first, and a2wsgi raises the error once a body was sent).
        self._asgi = httpx.ASGITransport(app=app, raise_app_exceptions=True)
        self._loop = loop
        # Airflow stops the loop when its own transport is collected: keep it alive.
        self._keep = keep

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()

        async def serve() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            _SERVING.set(True)
            answer = await self._asgi.handle_async_request(
                httpx.Request(request.method, request.url, headers=request.headers, content=body)
            )
            content = await answer.aread()
            return answer.status_code, answer.headers.raw, content

        status, headers, content = asyncio.run_coroutine_threadsafe(serve(), self._loop).result()
        return httpx.Response(status, headers=headers, content=content, request=request)

    def close(self) -> None:
        """The loop belongs to Airflow's in-process API (one per process), not to a client."""


def _inline_while_serving(original: Callable[..., Any]) -> Callable[..., Any]:
    """``anyio.to_thread.run_sync`` that calls ``func`` directly inside a call of this transport.

    Starlette and FastAPI hand every synchronous endpoint, dependency and context
    manager exit to it; anything else in the process keeps its worker thread.
    """

    @functools.wraps(original)
    async def run_sync(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if _SERVING.get():
            return func(*args)
        return await original(func, *args, **kwargs)

    return run_sync


def _dependant_once(original: Callable[..., Any], solver: Any) -> Callable[..., Any]:
    """``get_dependant`` remembering what ``solve_dependencies`` asks for on every request."""

    @functools.lru_cache(maxsize=DEPENDANT_CACHE_SIZE)
    def built(path: str, call: Any, name: Any, scopes: tuple[str, ...], scope: Any) -> Any:
        return original(
            path=path, call=call, name=name, parent_oauth_scopes=list(scopes), scope=scope
        )

    @functools.wraps(original)
    def get_dependant(*args: Any, **kwargs: Any) -> Any:
        if args or sys._getframe(1).f_code is not solver.__code__:
            return original(*args, **kwargs)  # building a route: always a fresh Dependant
        if getattr(kwargs.get("call"), "__name__", None) == "<lambda>":
            # Made anew, as dag.test() overrides the DAG bag for every task with a lambda
            # holding that task's DAG bag: kept, each would keep its DAGs alive. That one
            # takes no parameters: cheap to build again.
            return original(*args, **kwargs)
        try:
            return built(
                kwargs["path"],
                kwargs["call"],
                kwargs.get("name"),
                tuple(kwargs.get("parent_oauth_scopes") or ()),
                kwargs.get("scope"),
            )
        except TypeError:  # an unhashable callable
            return original(*args, **kwargs)

    return get_dependant


def install() -> Callable[[], None]:
    """Serve ``dag.test()``'s Execution API calls as described above; returns the undo."""
    import anyio.to_thread
    import fastapi.dependencies.utils as utils
    from airflow.sdk.execution_time import supervisor

    saved = [
        (anyio.to_thread, "run_sync", anyio.to_thread.run_sync),
        (utils, "get_dependant", utils.get_dependant),
        (supervisor, "in_process_api_server", supervisor.in_process_api_server),
    ]
    anyio.to_thread.run_sync = _inline_while_serving(anyio.to_thread.run_sync)
    utils.get_dependant = _dependant_once(utils.get_dependant, utils.solve_dependencies)

    original_server = supervisor.in_process_api_server

    @functools.cache
    def in_process_api_server() -> Any:
        api = original_server()
        airflows = api.transport  # starts the loop and the app's lifespan, as Airflow does
        if not isinstance(airflows, _OneHopTransport):
            # An attrs slot: the cached_property's value, set once.
            api.transport = _OneHopTransport(api.app, airflows.app.loop, airflows)
        return api

    supervisor.in_process_api_server = in_process_api_server

    def undo() -> None:
        for module, name, value in saved:
            setattr(module, name, value)
        if not original_server.cache_info().currsize:
            return  # no task ran: Airflow's API was never made
        api = original_server()
        if isinstance(api.transport, _OneHopTransport):
            api.transport = api.transport._keep

    return undo
