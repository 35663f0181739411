"""HTTP Basic authentication for the console, with the server's SigV4 access keys.

A browser cannot sign requests with SigV4, so when ``legato serve`` has
credentials, the console asks for HTTP Basic credentials instead: the user name is
an access key id and the password its secret access key, both from the same
credentials file the :class:`~legato.api.auth.SigV4Verifier` checks signatures with.
Use HTTPS (a TLS-terminating proxy) when the console is reached over a network:
Basic credentials travel in clear text otherwise.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from aiohttp.typedefs import Middleware

__all__ = ["REALM", "basic_auth_middleware", "check_basic"]

REALM = "Legato console"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def check_basic(credentials: Mapping[str, str], header: str | None) -> str | None:
    """The access key id of a valid ``Authorization: Basic ...`` header, or None.

    The secret is compared in constant time; an unknown key id costs the same
    comparison, so timing tells nothing about which ids exist.
    """
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    key_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    expected = credentials.get(key_id)
    ok = hmac.compare_digest((expected if expected is not None else "\0" + secret).encode(), secret.encode())
    return key_id if ok and expected is not None else None


def basic_auth_middleware(credentials: Mapping[str, str]) -> Middleware:
    """A middleware answering 401 with a Basic challenge to requests without valid credentials."""

    @web.middleware
    async def require_basic(request: web.Request, handler: Handler) -> web.StreamResponse:
        if check_basic(credentials, request.headers.get("Authorization")) is None:
            return web.Response(
                status=401,
                text="The Legato console needs an access key id as user name and its secret as password.\n",
                headers={"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'},
            )
        return await handler(request)

    return require_basic
