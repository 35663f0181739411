"""The console's pages and its small JSON API under ``/console/api/``.

Every endpoint is a thin call to :class:`~legato.engine.Engine`; errors come back as
``{"error": type, "message": text}`` with the ApiError's HTTP status. Requests that
change something (start, stop, redrive) are POSTs that must carry the
``X-Legato-Console`` header: a page on another site cannot add that header without a
CORS preflight, which this server never grants, so it cannot drive the console.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from legato import _json
from legato.console import _graph, _history
from legato.engine import Engine
from legato.errors import ApiError

__all__ = ["ENGINE", "STATIC", "add_routes"]

log = logging.getLogger("legato.console")

ENGINE: web.AppKey[Engine] = web.AppKey("console_engine", Engine)
"""Where the console app keeps its engine."""

STATIC = Path(__file__).resolve().parent / "static"
CSRF_HEADER = "X-Legato-Console"
MAX_LISTED = 1000
"""The most executions one listing returns, newest first."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=_json.dumps(value).encode(),
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _endpoint(fn: Callable[[web.Request, Engine], Awaitable[Any]]) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return _json_response(await fn(request, request.config_dict[ENGINE]))
        except ApiError as exc:
            return _json_response({"error": exc.type, "message": exc.message}, exc.status)
        except asyncio.CancelledError:
            raise
        except web.HTTPException:
            raise
        except Exception:
            log.exception("console endpoint %s failed", request.path)
            return _json_response({"error": "InternalFailure", "message": "see the server log"}, 500)

    return handle


def _arg(request: web.Request, name: str) -> str:
    value = request.query.get(name, "")
    if not value:
        raise ApiError("ValidationException", f"the query parameter {name!r} is required")
    return value


async def _body(request: web.Request) -> dict[str, Any]:
    if request.headers.get(CSRF_HEADER) != "1":
        raise ApiError("AccessDeniedException", f"console requests need the {CSRF_HEADER} header", status=403)
    try:
        value = _json.loads(await request.read())
    except ValueError:
        raise ApiError("SerializationException", "the request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise ApiError("SerializationException", "the request body must be a JSON object")
    return value


async def _all(engine: Engine, operation: str, key: str, request: dict[str, Any], limit: int) -> list[Any]:
    """Every page of a paginated listing, up to ``limit`` items."""
    items: list[Any] = []
    token = None
    while len(items) < limit:
        page = await engine.call(operation, {**request, **({"nextToken": token} if token else {})})
        items.extend(page.get(key, []))
        token = page.get("nextToken")
        if not token:
            break
    return items[:limit]


# -- state machines


async def _state_machines(request: web.Request, engine: Engine) -> Any:
    machines = await _all(engine, "ListStateMachines", "stateMachines", {"maxResults": 1000}, 10_000)
    return {"stateMachines": machines}


async def _state_machine(request: web.Request, engine: Engine) -> Any:
    arn = _arg(request, "arn")
    described = await engine.call("DescribeStateMachine", {"stateMachineArn": arn})
    versions: list[Any] = []
    aliases: list[Any] = []
    if ":" not in arn.split(":stateMachine:", 1)[-1]:  # a version or alias ARN has none of its own
        versions = await _all(
            engine, "ListStateMachineVersions", "stateMachineVersions", {"stateMachineArn": arn}, 1000
        )
        aliases = await _all(
            engine, "ListStateMachineAliases", "stateMachineAliases", {"stateMachineArn": arn}, 1000
        )
    definition = str(described.get("definition", "{}"))
    return {
        "stateMachine": described,
        "versions": versions,
        "aliases": aliases,
        "svg": _graph.render(definition),
    }


async def _start(request: web.Request, engine: Engine) -> Any:
    body = await _body(request)
    text = body.get("input", "{}")
    if not isinstance(text, str):
        raise ApiError("InvalidExecutionInput", "input must be JSON text")
    try:
        _json.loads(text)
    except ValueError:
        raise ApiError("InvalidExecutionInput", "the input is not valid JSON") from None
    fields: dict[str, Any] = {"stateMachineArn": body.get("stateMachineArn"), "input": text}
    if body.get("name"):
        fields["name"] = body["name"]
    return await engine.call("StartExecution", fields)


# -- executions


def _epoch(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None


def _time_arg(request: web.Request, name: str) -> float | None:
    text = request.query.get(name, "")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ApiError("ValidationException", f"{name} must be seconds since the epoch") from None


async def _executions(request: web.Request, engine: Engine) -> Any:
    """Executions of one state machine (``arn``) or of all, filtered by ``status``,
    a ``name`` substring, and a start time between ``since`` and ``until``."""
    status = request.query.get("status") or None
    name = request.query.get("name", "").lower()
    since, until = _time_arg(request, "since"), _time_arg(request, "until")
    arn = request.query.get("arn")
    if arn:
        arns = [arn]
    else:
        machines = await _all(engine, "ListStateMachines", "stateMachines", {"maxResults": 1000}, 10_000)
        arns = [m["stateMachineArn"] for m in machines if m.get("type") != "EXPRESS"]
    found: list[Any] = []
    for machine_arn in arns:
        req: dict[str, Any] = {"stateMachineArn": machine_arn, "maxResults": 1000}
        if status:
            req["statusFilter"] = status
        found.extend(await _all(engine, "ListExecutions", "executions", req, MAX_LISTED))

    def chosen(ex: dict[str, Any]) -> bool:
        started = _epoch(ex.get("startDate"))
        if name and name not in str(ex.get("name", "")).lower():
            return False
        if since is not None and (started is None or started < since):
            return False
        return not (until is not None and (started is None or started > until))

    picked = [ex for ex in found if chosen(ex)]
    picked.sort(key=lambda ex: _epoch(ex.get("startDate")) or 0.0, reverse=True)
    return {"executions": picked[:MAX_LISTED]}


async def _execution(request: web.Request, engine: Engine) -> Any:
    """One execution: its description, history, state visits, statuses, Map progress,
    Map Runs when the engine has them, and the graph when ``svg=1``."""
    arn = _arg(request, "arn")
    described = await engine.call("DescribeExecution", {"executionArn": arn})
    machine = await engine.call("DescribeStateMachineForExecution", {"executionArn": arn})
    events = await _all(
        engine, "GetExecutionHistory", "events", {"executionArn": arn, "maxResults": 1000}, 100_000
    )
    definition = str(machine.get("definition", "{}"))
    out: dict[str, Any] = {
        "execution": described,
        "stateMachine": {k: machine.get(k) for k in ("stateMachineArn", "name", "definition")},
        "events": events,
        "visits": _history.state_visits(events),
        "statuses": _graph.statuses(definition, events),
        "mapProgress": _history.map_progress(events),
        "mapRuns": await _map_runs(engine, arn),
    }
    if request.query.get("svg") == "1":
        out["svg"] = _graph.render(definition, events)
    return out


async def _map_runs(engine: Engine, execution_arn: str) -> list[Any]:
    """Distributed Map Runs with their progress and child executions, where the engine has them."""
    from legato.engine import OPERATIONS

    if "ListMapRuns" not in OPERATIONS:
        return []
    runs = await _all(engine, "ListMapRuns", "mapRuns", {"executionArn": execution_arn}, 1000)
    out = []
    for run in runs:
        detail = dict(run)
        if "DescribeMapRun" in OPERATIONS:
            detail.update(await engine.call("DescribeMapRun", {"mapRunArn": run["mapRunArn"]}))
        try:
            detail["childExecutions"] = await _all(
                engine, "ListExecutions", "executions", {"mapRunArn": run["mapRunArn"]}, 200
            )
        except ApiError:
            detail["childExecutions"] = []
        out.append(detail)
    return out


async def _stop(request: web.Request, engine: Engine) -> Any:
    body = await _body(request)
    fields = {
        "executionArn": body.get("executionArn"),
        "error": "Console.Stopped",
        "cause": "stopped from the console",
    }
    return await engine.call("StopExecution", fields)


async def _redrive(request: web.Request, engine: Engine) -> Any:
    body = await _body(request)
    return await engine.call("RedriveExecution", {"executionArn": body.get("executionArn")})


# -- pages


async def _page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


PAGES = ("/", "/state-machine", "/executions", "/execution")
"""The console's page paths (under ``/console``); one HTML shell, the script draws the view."""


def add_routes(app: web.Application) -> None:
    """Adds the pages, the static files and the JSON API to the console app."""
    for path in PAGES:
        app.router.add_get(path, _page)
    app.router.add_static("/static", STATIC, append_version=False)
    app.router.add_get("/api/state-machines", _endpoint(_state_machines))
    app.router.add_get("/api/state-machine", _endpoint(_state_machine))
    app.router.add_get("/api/executions", _endpoint(_executions))
    app.router.add_post("/api/executions", _endpoint(_start))
    app.router.add_get("/api/execution", _endpoint(_execution))
    app.router.add_post("/api/stop", _endpoint(_stop))
    app.router.add_post("/api/redrive", _endpoint(_redrive))
