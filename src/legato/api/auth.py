"""AWS Signature Version 4 checking for ``legato serve --credentials``.

The server knows a set of access keys (access key id → secret access key) read
from a credentials file, and accepts a request only when its ``Authorization``
header carries an ``AWS4-HMAC-SHA256`` signature made with one of them, for
service ``states`` in the server's region, dated within 15 minutes of the
server's clock. The failures are answered as AWS's JSON services answer them
(botocore shows the type as ``Error.Code``), all with HTTP 400:

| problem | error type |
| --- | --- |
| no ``Authorization`` header | ``MissingAuthenticationTokenException`` |
| a malformed header, no date | ``IncompleteSignatureException`` |
| an access key id the server does not know | ``UnrecognizedClientException`` |
| a wrong scope, a stale date, a wrong signature | ``InvalidSignatureException`` |

``X-Amz-Security-Token`` is not checked: the configured keys are long-term
keys with no session, so a token adds nothing; it is covered by the signature
when the client signed it, like any other header. Presigned URLs (the
signature in the query string) are not accepted.

A secret never appears in an error message or a log line: errors name the
access key id at most, and file errors give a line number, never a line.
"""

from __future__ import annotations

import configparser
import hashlib
import hmac
import json
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote, unquote

from legato.errors import ApiError

__all__ = [
    "ALGORITHM",
    "MAX_SKEW_SECONDS",
    "CredentialsError",
    "SigV4Verifier",
    "canonical_query",
    "canonical_uri",
    "load_credentials",
    "parse_credentials",
]

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW_SECONDS = 15 * 60
"""How far a request's date may be from the server's clock, either way."""

_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_KEY_ID = re.compile(r"[A-Za-z0-9_+=,.@\-]{1,128}")


class CredentialsError(ValueError):
    """A credentials file that cannot be used; the message never contains a secret."""


# -- the credentials file


def load_credentials(path: str | Path) -> dict[str, str]:
    """The access keys in a credentials file: access key id → secret access key.

    Two formats, told apart by the first non-blank character (``{`` for JSON):

    - JSON: an object ``{"AKIDEXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ...}``;
    - INI, as in ``~/.aws/credentials``: any number of sections, each with
      ``aws_access_key_id`` and ``aws_secret_access_key`` (other keys are ignored).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CredentialsError(f"credentials file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise CredentialsError(f"cannot read credentials file {p}: {reason}") from None
    return parse_credentials(text, str(p))


def parse_credentials(text: str, source: str = "credentials") -> dict[str, str]:
    """The access keys in the text of a credentials file (see :func:`load_credentials`)."""
    keys = _parse_json(text, source) if text.lstrip().startswith("{") else _parse_ini(text, source)
    if not keys:
        raise CredentialsError(f"{source}: no access keys")
    for key_id, secret in keys.items():
        if not _KEY_ID.fullmatch(key_id):
            raise CredentialsError(f"{source}: access key id {key_id[:32]!r} is not a valid key id")
        if not secret:
            raise CredentialsError(f"{source}: the secret of access key id {key_id!r} is empty")
    return keys


def _parse_json(text: str, source: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:  # its message holds a position, not the text
        raise CredentialsError(f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise CredentialsError(
            f"{source}: expected a JSON object of access key id to secret access key (strings)"
        )
    return dict(value)


def _parse_ini(text: str, source: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source)
    except configparser.Error as exc:  # its message would quote the offending line
        line = getattr(exc, "lineno", None) or getattr(exc, "errors", [(None,)])[0][0]
        where = f" (line {line})" if isinstance(line, int) else ""
        raise CredentialsError(
            f"{source}: neither a JSON object nor an INI file like ~/.aws/credentials{where}"
        ) from None
    keys: dict[str, str] = {}
    for name in parser.sections():
        section = parser[name]
        key_id = section.get("aws_access_key_id", "").strip()
        secret = section.get("aws_secret_access_key", "").strip()
        if not key_id or not secret:
            raise CredentialsError(
                f"{source}: section [{name}] needs aws_access_key_id and aws_secret_access_key"
            )
        keys[key_id] = secret
    return keys


# -- the signature


def _error(type_: str, message: str) -> ApiError:
    return ApiError(type_, message, status=400)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _uri_encode(text: str, *, slash: bool) -> str:
    # RFC 3986: everything but the unreserved characters is percent-encoded.
    return quote(text, safe="-_.~/" if slash else "-_.~")


def canonical_uri(raw_path: str) -> str:
    """The path as SigV4 signs it for services other than S3: normalised, then encoded again."""
    path = posixpath.normpath(raw_path or "/")
    if path.startswith("//"):  # normpath keeps a leading double slash
        path = "/" + path.lstrip("/")
    if raw_path.endswith("/") and not path.endswith("/"):
        path += "/"
    return _uri_encode(path, slash=True)


def canonical_query(raw_query: str) -> str:
    """The query string with each name and value encoded, sorted by name, then value."""
    pairs = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((_uri_encode(unquote(name), slash=False), _uri_encode(unquote(value), slash=False)))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def _header_value(values: list[str]) -> str:
    return ",".join(" ".join(v.split()) for v in values)


@dataclass(frozen=True)
class _Authorization:
    key_id: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminator}"


def _parse_authorization(header: str) -> _Authorization:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        if "=" in algorithm or not rest:
            raise _error(
                "IncompleteSignatureException",
                f"Authorization header requires the '{ALGORITHM}' algorithm, then "
                "'Credential', 'SignedHeaders' and 'Signature' parameters",
            )
        raise _error("IncompleteSignatureException", f"Unsupported AWS 'algorithm': '{algorithm[:64]}'")
    params: dict[str, str] = {}
    for item in rest.split(","):
        name, eq, value = item.strip().partition("=")
        if eq:
            params[name] = value.strip()
    missing = [p for p in ("Credential", "SignedHeaders", "Signature") if not params.get(p)]
    if missing:
        raise _error(
            "IncompleteSignatureException",
            " ".join(f"Authorization header requires '{p}' parameter." for p in missing),
        )
    parts = params["Credential"].split("/")
    if len(parts) != 5 or not all(parts):
        raise _error(
            "IncompleteSignatureException",
            "Authorization header's Credential is malformed; expected "
            "'<access key id>/<YYYYMMDD>/<region>/<service>/aws4_request'",
        )
    signed = tuple(params["SignedHeaders"].split(";"))
    key_id, date, region, service, terminator = parts
    return _Authorization(key_id, date, region, service, terminator, signed, params["Signature"])


def _request_time(headers: Mapping[str, list[str]]) -> tuple[datetime, str]:
    """The request's date, and the ``X-Amz-Date`` text it is signed with."""
    if "x-amz-date" in headers:
        text = headers["x-amz-date"][0].strip()
        try:
            when = datetime.strptime(text, _AMZ_DATE).replace(tzinfo=UTC)
        except ValueError:
            raise _error(
                "IncompleteSignatureException",
                f"X-Amz-Date must be in ISO-8601 basic format (YYYYMMDD'T'HHMMSS'Z'), not '{text[:40]}'",
            ) from None
        return when, text
    if "date" in headers:
        try:
            when = parsedate_to_datetime(headers["date"][0]).astimezone(UTC)
        except (TypeError, ValueError):
            raise _error("IncompleteSignatureException", "The Date header is not an HTTP date") from None
        return when, when.strftime(_AMZ_DATE)
    raise _error(
        "IncompleteSignatureException",
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
    )


@dataclass(frozen=True)
class SigV4Verifier:
    """Checks the SigV4 signatures of requests against a set of access keys."""

    credentials: Mapping[str, str] = field(repr=False)
    """Access key id → secret access key."""
    region: str = "us-east-1"
    """The region a signature must be scoped to."""
    service: str = "states"
    """The service a signature must be scoped to."""
    now: Callable[[], float] = field(default=lambda: datetime.now(UTC).timestamp(), repr=False)
    """The server's clock, in seconds since the epoch (the wall clock, never a virtual one)."""
    max_skew: float = MAX_SKEW_SECONDS
    """How many seconds a request's date may be from ``now()``."""

    def verify(
        self,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        *,
        payload_hash: str | None = None,
    ) -> str:
        """The access key id that signed the request; raises :class:`ApiError` if none did.

        ``headers`` are the request's (name, value) pairs, repeated names included;
        ``raw_path`` and ``raw_query`` are as sent, still percent-encoded. ``payload_hash``
        replaces the body's SHA-256 in the canonical request (S3 signs the value of its
        ``x-amz-content-sha256`` header; the caller checks the body against it). With
        ``service="s3"`` the path is signed as sent, without S3-foreign normalisation.
        """
        by_name: dict[str, list[str]] = {}
        for name, value in headers:
            by_name.setdefault(name.lower(), []).append(value)
        header = by_name.get("authorization")
        if not header:
            raise _error("MissingAuthenticationTokenException", "Request is missing Authentication Token")
        auth = _parse_authorization(header[0])
        when, amz_date = _request_time(by_name)
        secret = self.credentials.get(auth.key_id)
        if secret is None:
            raise _error(
                "UnrecognizedClientException", "The security token included in the request is invalid."
            )
        self._check_scope(auth, amz_date)
        self._check_fresh(when, amz_date)
        if "host" not in auth.signed_headers:
            raise _error(
                "InvalidSignatureException", "'Host' must be a 'SignedHeader' in the AWS Authorization."
            )
        canonical = "\n".join(
            [
                method.upper(),
                (raw_path or "/") if self.service == "s3" else canonical_uri(raw_path),
                canonical_query(raw_query),
                *(f"{h}:{_header_value(by_name.get(h, []))}" for h in auth.signed_headers),
                "",
                ";".join(auth.signed_headers),
                payload_hash if payload_hash is not None else hashlib.sha256(body).hexdigest(),
            ]
        )
        to_sign = "\n".join([ALGORITHM, amz_date, auth.scope, hashlib.sha256(canonical.encode()).hexdigest()])
        key = _hmac(("AWS4" + secret).encode(), auth.date)
        for part in (auth.region, auth.service, auth.terminator):
            key = _hmac(key, part)
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, auth.signature.lower()):
            raise _error(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method. "
                "Consult the service documentation for details.",
            )
        return auth.key_id

    def _check_scope(self, auth: _Authorization, amz_date: str) -> None:
        if auth.terminator != "aws4_request":
            raise _error(
                "InvalidSignatureException",
                f"Credential should be scoped with a valid terminator: 'aws4_request', not '{auth.terminator[:40]}'.",
            )
        if auth.service != self.service:
            raise _error(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{self.service}'. ",
            )
        if auth.region != self.region:
            raise _error(
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region: '{self.region}', not '{auth.region[:40]}'.",
            )
        if auth.date != amz_date[:8]:
            raise _error(
                "InvalidSignatureException",
                f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                f"from HTTP: '{auth.date[:16]}' != '{amz_date[:8]}', from '{amz_date}'.",
            )

    def _check_fresh(self, when: datetime, amz_date: str) -> None:
        now = self.now()
        stamp = when.timestamp()

        def fmt(t: float) -> str:
            return datetime.fromtimestamp(t, UTC).strftime(_AMZ_DATE)

        minutes = f"{self.max_skew / 60:g} min."
        if stamp < now - self.max_skew:
            raise _error(
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is now earlier than {fmt(now - self.max_skew)} "
                f"({fmt(now)} - {minutes})",
            )
        if stamp > now + self.max_skew:
            raise _error(
                "InvalidSignatureException",
                f"Signature not yet current: {amz_date} is still later than {fmt(now + self.max_skew)} "
                f"({fmt(now)} + {minutes})",
            )
