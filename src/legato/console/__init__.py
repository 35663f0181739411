"""The web console: pages under ``/console/`` of ``legato serve``, on the same engine.

Plain HTML, CSS and JavaScript shipped with the package (no CDN, no build step),
and a small JSON API under ``/console/api/`` over :class:`~legato.engine.Engine`.
Every page is sent with a Content-Security-Policy that allows only the console's
own scripts, styles and requests; the script shows data with ``textContent``.

When the server has credentials, the console asks for HTTP Basic authentication
with one of its access keys (see :mod:`legato.console._auth`).
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web
from aiohttp.typedefs import Middleware

from legato.console._auth import Handler, basic_auth_middleware, check_basic
from legato.console._views import ENGINE, add_routes
from legato.engine import Engine

__all__ = ["CONSOLE_PREFIX", "CSP", "check_basic", "console_app", "is_console_path", "redirect_to_console"]

CONSOLE_PREFIX = "/console"
"""Where the console lives; no S3 bucket route can collide (``console`` buckets aside, see docs)."""

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The Content-Security-Policy of every console response."""

_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def is_console_path(path: str) -> bool:
    """True for ``/console`` and everything under ``/console/``."""
    return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")


@web.middleware
async def _security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(_HEADERS)
        raise
    response.headers.update(_HEADERS)
    return response


async def redirect_to_console(request: web.Request) -> web.StreamResponse:
    """``GET /`` and ``GET /console``: a redirect to the console's first page."""
    raise web.HTTPFound(CONSOLE_PREFIX + "/")


def console_app(engine: Engine, *, credentials: Mapping[str, str] | None = None) -> web.Application:
    """The console as an aiohttp sub-application, to mount at :data:`CONSOLE_PREFIX`.

    With ``credentials`` (access key id → secret), every console request needs HTTP Basic
    authentication with one of those pairs.
    """
    middlewares: list[Middleware] = [_security_headers]
    if credentials is not None:
        middlewares.append(basic_auth_middleware(credentials))
    app = web.Application(middlewares=middlewares)
    app[ENGINE] = engine
    add_routes(app)
    return app
