"""The HTTP Task, ``arn:aws:states:::http:invoke``: calls an HTTP(S) API through a connection.

The parameters are AWS's: ``ApiEndpoint``, ``Method``, the connection as
``InvocationConfig.ConnectionArn`` or ``Authentication.ConnectionArn``,
``Headers``, ``QueryParameters``, ``RequestBody`` and ``Transform``
(``RequestBodyEncoding`` ``NONE`` or ``URL_ENCODED``, with
``RequestEncodingOptions.ArrayFormat`` ``INDICES``, ``REPEAT``, ``COMMAS`` or
``BRACKETS``). The connection's header, query and body parameters are merged
in (the connection wins a clash), and its authorisation is added. The result
is ``{Headers, ResponseBody, StatusCode, StatusText}``, with the body parsed
when the response is JSON. A status outside 2xx fails with
``States.Http.StatusCode.NNN`` and the response (in the same shape) as the
cause; a request that cannot be made or times out (60 seconds, as on AWS)
fails with ``States.Http.Socket``.

Beyond AWS, a connection may limit concurrent requests and requests per second,
and a ``Retry-After`` on a 429 or 503 makes a matching Retrier wait at least that
long (:class:`~legato.errors.RetryAfterError`).

One pooled aiohttp session serves every request of an engine; it is kept in the
engine's ``IntegrationSettings.state`` and closed with the engine.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from legato import _json
from legato.errors import RetryAfterError, StatesError
from legato.integrations.connections import REDACTED, Connection, connection_name, connection_store
from legato.integrations.registry import TaskCall, integration

if TYPE_CHECKING:
    from legato.integrations.settings import IntegrationSettings
    from legato.runtime.clock import Clock

HTTP_TIMEOUT = 60.0
"""Seconds after which AWS gives up on an HTTP Task's request (``States.Http.Socket``)."""

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")
ARRAY_FORMATS = ("INDICES", "REPEAT", "COMMAS", "BRACKETS")
BODY_ENCODINGS = ("NONE", "URL_ENCODED")

# Headers a definition may not set (AWS fails the Task with States.Runtime).
FORBIDDEN_HEADERS = frozenset(
    h.lower()
    for h in (
        "A-IM",
        "Accept-Charset",
        "Accept-Datetime",
        "Accept-Encoding",
        "Authorization",
        "Cache-Control",
        "Connection",
        "Content-Encoding",
        "Content-MD5",
        "Date",
        "Expect",
        "Forwarded",
        "From",
        "Host",
        "HTTP2-Settings",
        "If-Match",
        "If-Modified-Since",
        "If-None-Match",
        "If-Range",
        "If-Unmodified-Since",
        "Max-Forwards",
        "Origin",
        "Pragma",
        "Proxy-Authorization",
        "Referer",
        "Server",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Via",
        "Warning",
    )
)
FORBIDDEN_HEADER_PREFIXES = ("x-forwarded-", "x-amz-", "x-amzn-")

_UNSUPPORTED_TYPES = ("application/octet-stream", "image/", "video/", "audio/")


def _runtime(message: str) -> StatesError:
    return StatesError("States.Runtime", message)


# -- the request the definition asks for


@dataclass(slots=True)
class _Request:
    method: str
    endpoint: URL
    connection: str
    headers: dict[str, tuple[str, str]] = field(default_factory=dict)  # lower name -> (name, value)
    query: dict[str, Any] | str | None = None
    body: Any = None
    has_body: bool = False
    url_encoded: bool = False
    array_format: str = "INDICES"


def _scalar_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return _json.dumps(value)


def _header_value(name: str, value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_header_value(name, v) for v in value)
    if isinstance(value, dict):
        raise _runtime(f"The value of the header '{name}' must be a string, number, boolean or array.")
    return _scalar_text(value)


def _connection_reference(params: dict[str, Any]) -> str:
    for key in ("InvocationConfig", "Authentication"):
        block = params.get(key)
        if block is None:
            continue
        if not isinstance(block, dict) or not isinstance(block.get("ConnectionArn"), str):
            raise _runtime(f"The field '{key}' must be an object with a string 'ConnectionArn'.")
        value: str = block["ConnectionArn"]
        return value
    raise _runtime(
        "The HTTP Task needs a connection: set 'InvocationConfig' (or 'Authentication') to "
        '{"ConnectionArn": ARN or name of a connection}.'
    )


def parse_request(params: Any) -> _Request:
    """Checks an HTTP Task's parameters; raises StatesError ``States.Runtime`` saying what is wrong."""
    if not isinstance(params, dict):
        raise _runtime("The parameters of an HTTP Task must be an object.")
    endpoint = params.get("ApiEndpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise _runtime("The field 'ApiEndpoint' is required and must be a URL string.")
    try:
        url = URL(endpoint)
    except (ValueError, TypeError):
        raise _runtime(f"The ApiEndpoint '{endpoint}' is not a valid URL.") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise _runtime(f"The ApiEndpoint '{endpoint}' must be an http:// or https:// URL with a host.")
    method = params.get("Method")
    if method not in METHODS:
        raise _runtime(f"The field 'Method' must be one of {', '.join(METHODS)}, not {_json.dumps(method)}.")
    req = _Request(method=method, endpoint=url, connection=_connection_reference(params))
    headers = params.get("Headers")
    if headers is not None:
        if not isinstance(headers, dict):
            raise _runtime("The field 'Headers' must be an object of header names and values.")
        for name, value in headers.items():
            low = name.lower()
            if low in FORBIDDEN_HEADERS or low.startswith(FORBIDDEN_HEADER_PREFIXES):
                raise _runtime(f"The header '{name}' is not allowed in an HTTP Task.")
            req.headers[low] = (name, _header_value(name, value))
    query = params.get("QueryParameters")
    if query is not None:
        if isinstance(query, list):
            merged: dict[str, Any] = {}
            for item in query:
                if not isinstance(item, dict):
                    raise _runtime("Each item of 'QueryParameters' must be an object of names and values.")
                merged.update(item)
            query = merged
        if not isinstance(query, dict | str):
            raise _runtime("The field 'QueryParameters' must be an object, an array of objects or a string.")
        req.query = query
    if "RequestBody" in params:
        req.body = params["RequestBody"]
        req.has_body = True
    transform = params.get("Transform")
    if transform is not None:
        if not isinstance(transform, dict):
            raise _runtime("The field 'Transform' must be an object.")
        encoding = transform.get("RequestBodyEncoding", "NONE")
        if encoding not in BODY_ENCODINGS:
            raise _runtime(
                f"Transform.RequestBodyEncoding must be NONE or URL_ENCODED, not {_json.dumps(encoding)}."
            )
        req.url_encoded = encoding == "URL_ENCODED"
        options = transform.get("RequestEncodingOptions")
        if options is not None:
            fmt = options.get("ArrayFormat", "INDICES") if isinstance(options, dict) else None
            if fmt not in ARRAY_FORMATS:
                raise _runtime(
                    "Transform.RequestEncodingOptions.ArrayFormat must be one of "
                    f"{', '.join(ARRAY_FORMATS)}, not {_json.dumps(fmt)}."
                )
            req.array_format = fmt
    return req


# -- URL encoding


def _pairs(prefix: str, value: Any, fmt: str, out: list[tuple[str, str]]) -> None:
    """Flattens ``value`` into (encoded key, encoded value) pairs."""
    if isinstance(value, dict):
        for k, v in value.items():
            _pairs(f"{prefix}[{k}]" if prefix else str(k), v, fmt, out)
    elif isinstance(value, list):
        if fmt == "COMMAS" and not any(isinstance(v, dict | list) for v in value):
            out.append((quote(prefix, safe=""), ",".join(quote(_scalar_text(v), safe="") for v in value)))
            return
        for i, v in enumerate(value):
            key = {"INDICES": f"{prefix}[{i}]", "BRACKETS": f"{prefix}[]"}.get(fmt, prefix)
            _pairs(key, v, fmt, out)
    else:
        out.append((quote(prefix, safe=""), quote(_scalar_text(value), safe="")))


def url_encode(value: dict[str, Any], array_format: str = "INDICES") -> str:
    """``value`` as ``application/x-www-form-urlencoded`` text, arrays written as ``array_format`` says."""
    out: list[tuple[str, str]] = []
    for k, v in value.items():
        _pairs(str(k), v, array_format, out)
    return "&".join(f"{k}={v}" for k, v in out)


# -- connections, limits, sessions (kept per engine in IntegrationSettings.state)


class _Limiter:
    """A connection's limits: concurrent requests, and requests started per second."""

    def __init__(self, concurrency: int | None, rate: float | None) -> None:
        self.key = (concurrency, rate)
        self._slots = asyncio.Semaphore(concurrency) if concurrency else None
        self._interval = 1.0 / rate if rate else 0.0
        self._next = 0.0

    @asynccontextmanager
    async def slot(self, clock: Clock) -> AsyncIterator[None]:
        if self._slots is not None:
            await self._slots.acquire()
        try:
            if self._interval:
                now = clock.time()
                start = max(now, self._next)
                self._next = start + self._interval
                if start > now:
                    # The API counts real seconds: hold a virtual clock still while pacing.
                    with clock.busy():
                        await clock.sleep(start - now)
            yield
        finally:
            if self._slots is not None:
                self._slots.release()


@dataclass(slots=True)
class _Token:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    value: str | None = None
    expires: float = 0.0


class _HttpState:
    """What the HTTP Task keeps per engine and event loop: the session, limiters, OAuth tokens."""

    def __init__(self, loop: asyncio.AbstractEventLoop, max_connections: int) -> None:
        self.loop = loop
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self.limiters: dict[str, _Limiter] = {}
        self.tokens: dict[str, _Token] = {}

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0)
            self._session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    def limiter(self, conn: Connection) -> _Limiter:
        key = (conn.max_concurrency, conn.max_requests_per_second)
        limiter = self.limiters.get(conn.name)
        if limiter is None or limiter.key != key:
            limiter = self.limiters[conn.name] = _Limiter(*key)
        return limiter

    def token(self, conn: Connection) -> _Token:
        key = f"{conn.name}/{conn.id}"
        entry = self.tokens.get(key)
        if entry is None:
            entry = self.tokens[key] = _Token()
        return entry

    async def aclose(self) -> None:
        """Closes the pooled session (the engine calls this when it shuts down)."""
        if self._session is not None and not self._session.closed:
            await self._session.close()


_STATE_KEY = "http.state"


def _settings_http(settings: IntegrationSettings) -> dict[str, Any]:
    section = settings.sections.get("http") or {}
    return section if isinstance(section, dict) else {}


@asynccontextmanager
async def _http_state(call: TaskCall) -> AsyncIterator[_HttpState]:
    settings = call.services.integrations
    loop = asyncio.get_running_loop()
    max_connections = int(_settings_http(settings).get("max_connections", 512))
    if call.services.engine is None:
        # Under legato.run nothing closes the engine's objects: keep the session for this call only,
        # but the limiters and tokens for as long as the settings live.
        shared = settings.state.get(_STATE_KEY)
        if not isinstance(shared, _HttpState) or shared.loop is not loop:
            shared = _HttpState(loop, max_connections)
            settings.state[_STATE_KEY] = shared
        own = _HttpState(loop, max_connections)
        own.limiters, own.tokens = shared.limiters, shared.tokens
        try:
            yield own
        finally:
            await own.aclose()
        return
    state = settings.state.get(_STATE_KEY)
    if not isinstance(state, _HttpState) or state.loop is not loop:
        state = _HttpState(loop, max_connections)
        settings.state[_STATE_KEY] = state
    yield state


# -- secrets never leave


def _redact(text: str, secrets: list[str]) -> str:
    """``text`` with every secret (as written, URL-encoded or JSON-escaped) replaced by ``******``."""
    forms: set[str] = set()
    for secret in secrets:
        if len(secret) >= 3:
            forms.update((secret, quote(secret, safe=""), _json.dumps(secret)[1:-1]))
    for form in sorted(forms, key=len, reverse=True):
        if form in text:
            text = text.replace(form, REDACTED)
    return text


def _where(url: URL) -> str:
    """The URL without its query (a connection's query parameters may be secret)."""
    return str(url.with_query(None).with_fragment(None))


# -- the exchange


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    reason: str
    headers: dict[str, list[str]]
    body: bytes
    content_type: str
    charset: str | None


async def _exchange(
    session: aiohttp.ClientSession,
    clock: Clock,
    method: str,
    url: URL,
    headers: dict[str, str],
    body: bytes | None,
    timeout: float,
    secrets: list[str],
) -> _Response:
    # Time stands still under a virtual clock while the request is on the wire.
    with clock.busy():
        try:
            async with session.request(
                method,
                url,
                headers=headers,
                data=body,
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
                skip_auto_headers=("Accept", "Accept-Encoding", "Content-Type"),
            ) as resp:
                raw = await resp.read()
                grouped: dict[str, list[str]] = {}
                for name, value in resp.raw_headers:
                    grouped.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
                return _Response(
                    resp.status, resp.reason or "", grouped, raw, resp.content_type or "", resp.charset
                )
        except TimeoutError:
            raise StatesError(
                "States.Http.Socket",
                f"The HTTP request to {_where(url)} timed out after {timeout:g} seconds.",
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            reason = _redact(str(exc) or type(exc).__name__, secrets)
            raise StatesError(
                "States.Http.Socket", f"The HTTP request to {_where(url)} failed: {reason}"
            ) from None


def _result(resp: _Response, strict: bool) -> dict[str, Any]:
    """The Task's result; ``strict``: an unreadable body fails the Task (else it is left out)."""
    media = resp.content_type.lower()
    text = ""
    if media.startswith(_UNSUPPORTED_TYPES):
        if strict:
            raise _runtime(
                f"The HTTP response has the content type '{media}', which the HTTP Task does not support."
            )
    else:
        try:
            text = resp.body.decode(resp.charset or "utf-8")
        except (UnicodeDecodeError, LookupError):
            if strict:
                raise _runtime("The HTTP response body cannot be read as text.") from None
    body: Any = text
    if text and (media == "application/json" or media.endswith("+json")):
        try:
            body = _json.loads(text)
        except ValueError:
            body = text
    return {
        "Headers": resp.headers,
        "ResponseBody": body,
        "StatusCode": resp.status,
        "StatusText": resp.reason,
    }


def _retry_after(resp: _Response) -> float | None:
    values = resp.headers.get("retry-after")
    if not values:
        return None
    value = values[0].strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    # An HTTP date is the server's wall-clock time.
    return max(0.0, when.timestamp() - time.time())


# -- authorisation


async def _oauth_token(
    state: _HttpState, conn: Connection, clock: Clock, timeout: float, secrets: list[str], *, renew: bool
) -> str:
    entry = state.token(conn)
    async with entry.lock:
        if not renew and entry.value is not None and entry.expires > clock.time():
            return entry.value
        client_id = conn.client_id.reveal(conn.name, "client id")
        client_secret = conn.client_secret.reveal(conn.name, "client secret")
        params = conn.oauth_parameters
        headers = {
            "Authorization": "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode(),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        for p in params.headers:
            headers[p.key] = p.value.reveal(conn.name, f"OAuth header '{p.key}'")
        form = {p.key: p.value.reveal(conn.name, f"OAuth body parameter '{p.key}'") for p in params.body}
        form.setdefault("grant_type", "client_credentials")
        query = {p.key: p.value.reveal(conn.name, f"OAuth query parameter '{p.key}'") for p in params.query}
        url = URL(conn.authorization_endpoint)
        if query:
            url = url.update_query(query)
        try:
            resp = await _exchange(
                state.session(),
                clock,
                conn.http_method,
                url,
                headers,
                url_encode(form).encode(),
                timeout,
                [*secrets, client_secret],
            )
        except StatesError as exc:
            raise StatesError(
                "Events.ConnectionResource.InvalidConnectionState",
                f"The connection '{conn.name}' cannot authorize requests: {exc.cause}",
            ) from None
        token: Any = None
        expires_in: Any = None
        if 200 <= resp.status < 300:
            try:
                answer = _json.loads(resp.body)
            except ValueError:
                answer = None
            if isinstance(answer, dict):
                token, expires_in = answer.get("access_token"), answer.get("expires_in")
        if not isinstance(token, str) or not token:
            reason = (
                f"the authorization endpoint answered {resp.status} {resp.reason}"
                if not 200 <= resp.status < 300
                else "the authorization endpoint's answer has no access_token"
            )
            raise StatesError(
                "Events.ConnectionResource.InvalidConnectionState",
                f"The connection '{conn.name}' cannot authorize requests: {reason}.",
            )
        lifetime = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 3600.0
        entry.value = token
        # Renew a little early, so that a token never expires on the wire.
        entry.expires = clock.time() + max(lifetime - min(30.0, lifetime / 10), 0.0)
        return token


# -- the Task


def _merge_query(req: _Request, conn: Connection) -> str:
    extra = {
        p.key: p.value.reveal(conn.name, f"query parameter '{p.key}'")
        for p in conn.invocation_parameters.query
    }
    if isinstance(req.query, str):
        text = req.query.lstrip("?&")
        tail = url_encode(extra) if extra else ""
        return "&".join(x for x in (text, tail) if x)
    merged = dict(req.query or {})
    merged.update(extra)  # the connection wins a clash
    return url_encode(merged, "REPEAT") if merged else ""


def _body(req: _Request, conn: Connection) -> tuple[bytes | None, str | None]:
    extra = {
        p.key: p.value.reveal(conn.name, f"body parameter '{p.key}'") for p in conn.invocation_parameters.body
    }
    body = req.body
    has_body = req.has_body
    if extra:
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise _runtime(
                "The RequestBody cannot be merged with the connection's body parameters: "
                "it must be a JSON object when the connection has body parameters."
            )
        body = {**body, **extra}
        has_body = True
    if not has_body:
        return None, None
    if req.url_encoded:
        if isinstance(body, str):
            return body.encode(), "application/x-www-form-urlencoded"
        if not isinstance(body, dict):
            raise _runtime("A URL_ENCODED RequestBody must be a JSON object or a string.")
        return url_encode(body, req.array_format).encode(), "application/x-www-form-urlencoded"
    if isinstance(body, str):
        return body.encode(), "application/json; charset=UTF-8"
    return _json.dumps(body).encode(), "application/json; charset=UTF-8"


@integration("http", "invoke")
async def http_invoke(call: TaskCall) -> Any:
    """``http:invoke``: one request through a connection; the response, or a States.Http.* error."""
    if call.pattern:
        raise _runtime(f"The HTTP Task does not support the '.{call.pattern}' integration pattern.")
    req = parse_request(call.parameters)
    settings = call.services.integrations
    clock = call.services.clock
    name = connection_name(req.connection)
    conn = connection_store(settings).get(name) if name else None
    if conn is None:
        raise StatesError(
            "Events.ConnectionResource.ResourceNotFound",
            f"Failed to describe the connection(s). Connection '{name or req.connection}' does not exist.",
        )
    timeout = float(_settings_http(settings).get("timeout_seconds", HTTP_TIMEOUT))
    secrets = conn.secrets()

    headers: dict[str, tuple[str, str]] = dict(req.headers)
    for p in conn.invocation_parameters.headers:
        headers[p.key.lower()] = (p.key, p.value.reveal(conn.name, f"header '{p.key}'"))
    query = _merge_query(req, conn)
    data, content_type = _body(req, conn)
    if data is not None and "content-type" not in headers and content_type is not None:
        headers["content-type"] = ("Content-Type", content_type)
    headers["user-agent"] = ("User-Agent", f"Amazon|StepFunctions|HttpInvoke|{call.services.region}")
    headers["range"] = ("Range", "bytes=0-262144")
    if conn.authorization_type == "API_KEY":
        headers[conn.api_key_name.lower()] = (
            conn.api_key_name,
            conn.api_key_value.reveal(conn.name, "API key"),
        )
    elif conn.authorization_type == "BASIC":
        user = conn.username.reveal(conn.name, "username")
        password = conn.password.reveal(conn.name, "password")
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["authorization"] = ("Authorization", "Basic " + basic)
        secrets.append(basic)
    url = req.endpoint
    if query:
        url = URL(str(url) + ("&" if url.raw_query_string else "?") + query, encoded=True)

    async with _http_state(call) as state, state.limiter(conn).slot(clock):
        renewed = False
        while True:
            if conn.authorization_type == "OAUTH_CLIENT_CREDENTIALS":
                token = await _oauth_token(state, conn, clock, timeout, secrets, renew=renewed)
                headers["authorization"] = ("Authorization", f"Bearer {token}")
                secrets = [*secrets, token]
            plain = {name: value for name, value in headers.values()}
            resp = await _exchange(state.session(), clock, req.method, url, plain, data, timeout, secrets)
            if resp.status == 401 and conn.authorization_type == "OAUTH_CLIENT_CREDENTIALS" and not renewed:
                # The token may have been revoked or expired early: fetch a new one, once.
                renewed = True
                continue
            break
    ok = 200 <= resp.status < 300
    # An API may echo a secret back (an echo endpoint, an error quoting the request): it never
    # reaches the result, the history or a cause.
    result = _result(resp, strict=ok)
    as_text = _json.dumps(result)
    text = _redact(as_text, secrets)
    if ok:
        # Read back only when a secret was taken out.
        return result if text is as_text else _json.loads(text)
    error = f"States.Http.StatusCode.{resp.status}"
    cause = text
    if resp.status in (429, 503):
        wait = _retry_after(resp)
        if wait is not None:
            raise RetryAfterError(error, cause, wait)
    raise StatesError(error, cause)
