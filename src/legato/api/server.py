"""``legato serve``: the Step Functions JSON 1.0 API over HTTP, on aiohttp.

The server is a thin adapter: it decodes the request, calls
:meth:`legato.engine.Engine.call` and encodes the result or the
:class:`~legato.errors.ApiError`. Anything else that goes wrong is logged and
answered with an ``InternalFailure`` (HTTP 500), never with a traceback.

With a :class:`~legato.api.auth.SigV4Verifier`, every request must carry a valid
AWS Signature Version 4 made with one of its keys (see :mod:`legato.api.auth`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from legato.api import protocol
from legato.api import s3 as s3_api
from legato.api.auth import SigV4Verifier
from legato.console import CONSOLE_PREFIX, console_app, is_console_path, redirect_to_console
from legato.engine import Engine
from legato.errors import ApiError

__all__ = ["ENGINE_KEY", "make_app", "serve"]

log = logging.getLogger("legato.api")

ENGINE_KEY: web.AppKey[Engine] = web.AppKey("engine", Engine)
"""Where the app keeps its engine."""

MAX_BODY = 8 * 1024 * 1024


def _reply(status: int, body: bytes) -> web.Response:
    return web.Response(
        status=status,
        body=body,
        content_type=protocol.CONTENT_TYPE,
        headers={"x-amzn-RequestId": str(uuid.uuid4())},
    )


def _error(error: ApiError) -> web.Response:
    return _reply(error.status, protocol.encode_error(error))


async def _body(request: web.Request) -> bytes:
    """The request body; one over ``MAX_BODY`` is a ``RequestEntityTooLargeException`` (HTTP 413)."""
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(
            "RequestEntityTooLargeException",
            f"The request body is larger than the limit of {MAX_BODY} bytes",
            status=413,
        ) from None


async def _api(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    operation = ""
    try:
        operation = protocol.operation_of(request.headers.get(protocol.TARGET_HEADER))
        body = await _body(request)
        payload = protocol.decode_request(body)
        result = await engine.call(operation, payload)
        return _reply(200, protocol.encode_response(result))
    except ApiError as exc:
        return _error(exc)
    except asyncio.CancelledError:
        raise
    except web.HTTPException:
        raise
    except Exception:
        log.exception("internal failure in %s", operation or "a request")
        return _error(
            ApiError("InternalFailure", "An internal error occurred; see the server log", status=500)
        )


def _signature_middleware(verifier: SigV4Verifier) -> Middleware:
    @web.middleware
    async def check_signature(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if s3_api.is_s3_request(request):
            return await handler(request)  # the S3 API checks its own (service s3) signatures
        if is_console_path(request.path) or (
            request.path == "/" and request.method == "GET" and "Authorization" not in request.headers
        ):
            # A browser cannot sign: the console checks HTTP Basic credentials itself
            # (legato.console._auth), and an unsigned GET / only redirects to it.
            return await handler(request)
        try:
            body = await _body(request)  # cached: the handler reads it again for free
            verifier.verify(
                request.method,
                request.rel_url.raw_path,
                request.rel_url.raw_query_string,
                request.headers.items(),
                body,
            )
        except ApiError as exc:
            log.info("refused %s %s: %s", request.method, request.rel_url.raw_path, exc.type)
            return _error(exc)
        return await handler(request)

    return check_signature


def make_app(engine: Engine, *, verifier: SigV4Verifier | None = None) -> web.Application:
    """The aiohttp application serving ``engine``; with ``verifier``, only to signed requests."""
    middlewares: list[Middleware] = [] if verifier is None else [_signature_middleware(verifier)]
    app = web.Application(client_max_size=MAX_BODY, middlewares=middlewares)
    app[ENGINE_KEY] = engine
    app.router.add_post("/", _api)
    app.router.add_get("/", s3_api.root_handler(redirect_to_console))
    app.router.add_get(CONSOLE_PREFIX, redirect_to_console)
    credentials = None if verifier is None else verifier.credentials
    app.add_subapp(CONSOLE_PREFIX, console_app(engine, credentials=credentials))
    # Last: /{bucket}/{key} matches any path the routes above leave.
    s3_api.add_s3_routes(app, engine, verifier)

    async def close_engine(app: web.Application) -> None:
        await app[ENGINE_KEY].aclose()

    app.on_cleanup.append(close_engine)
    return app


async def serve(
    engine: Engine,
    host: str = "127.0.0.1",
    port: int = 8083,
    *,
    ready: Callable[[str], Awaitable[None] | None] | None = None,
    verifier: SigV4Verifier | None = None,
) -> None:
    """Serves ``engine`` until SIGINT or SIGTERM; ``ready(url)`` is called once listening.

    With ``verifier``, every request must be signed with one of its keys.
    """
    app = make_app(engine, verifier=verifier)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread, or not POSIX
            pass
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        if ready is not None:
            result = ready(f"http://{host}:{port}")
            if result is not None:
                await result
        await stop.wait()
    finally:
        await runner.cleanup()
