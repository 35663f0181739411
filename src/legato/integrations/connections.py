"""Connections: Legato's stand-in for EventBridge connections, used by the HTTP Task.

A connection names an API's authorisation (``API_KEY``, ``BASIC`` or
``OAUTH_CLIENT_CREDENTIALS``), the extra header, query and body parameters the
API needs, and, beyond AWS, limits on concurrent requests and requests per
second. Connections come from the ``connections`` section of the integrations
file, or from ``legato connections create`` (kept as ``DIR/connections/NAME.json``
under the data directory). A Task addresses one by its ARN,
``arn:aws:events:REGION:ACCOUNT:connection/NAME/ID``, or by its name.

Secrets (an API key's value, a password, an OAuth client secret, a parameter
marked secret) are never written in a connection: it names the environment
variable (``..._env``) or file (``..._file``) that holds each one, and the value
is read when a request needs it. Secret values never appear in history, logs,
errors or API responses.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from legato import _json
from legato.errors import LegatoError, StatesError

AUTHORIZATION_TYPES = ("API_KEY", "BASIC", "OAUTH_CLIENT_CREDENTIALS")
"""The authorisation types of an EventBridge connection."""

_NAME = re.compile(r"^[.\-_A-Za-z0-9]{1,64}$")
_ID_NAMESPACE = uuid.UUID("6f1d0c52-8a43-4f7e-9b1c-3d2e5a7b9c10")

REDACTED = "******"
"""What a secret value is replaced with wherever it could otherwise show."""


class ConnectionConfigError(LegatoError):
    """A connection definition that is not valid (reported when it is loaded or created)."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A value that is either written out (not secret) or read from an environment variable or file."""

    value: str | None = None
    env: str | None = None
    file: str | None = None

    @property
    def is_reference(self) -> bool:
        """True when the value comes from an environment variable or a file."""
        return self.env is not None or self.file is not None

    def reveal(self, connection: str, what: str) -> str:
        """The value; a StatesError naming the variable or file (never a value) when it is missing."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise _invalid_state(
                    connection, f"the environment variable {self.env} holding its {what} is not set"
                )
            return value
        if self.file is not None:
            try:
                return Path(self.file).read_text(encoding="utf-8").rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or type(exc).__name__
                raise _invalid_state(
                    connection, f"the file {self.file} holding its {what} cannot be read ({reason})"
                ) from None
        return self.value or ""

    def describe(self) -> Any:
        """What a listing shows: the value when it is not secret, else where it comes from."""
        if self.env is not None:
            return {"env": self.env}
        if self.file is not None:
            return {"file": self.file}
        return self.value


@dataclass(frozen=True, slots=True)
class Parameter:
    """One extra header, query-string or body parameter a connection adds to every request."""

    key: str
    value: Secret
    secret: bool = False


@dataclass(frozen=True, slots=True)
class HttpParameters:
    """The header, query-string and body parameters of a connection (or of its OAuth request)."""

    headers: tuple[Parameter, ...] = ()
    query: tuple[Parameter, ...] = ()
    body: tuple[Parameter, ...] = ()

    @property
    def all(self) -> tuple[Parameter, ...]:
        """Every parameter."""
        return self.headers + self.query + self.body


@dataclass(frozen=True, slots=True)
class Connection:
    """One connection: how to authorise requests to an API, and how hard it may be called."""

    name: str
    authorization_type: str
    id: str = ""
    description: str = ""
    api_key_name: str = ""
    api_key_value: Secret = field(default_factory=Secret)
    username: Secret = field(default_factory=Secret)
    password: Secret = field(default_factory=Secret)
    authorization_endpoint: str = ""
    http_method: str = "POST"
    client_id: Secret = field(default_factory=Secret)
    client_secret: Secret = field(default_factory=Secret)
    oauth_parameters: HttpParameters = field(default_factory=HttpParameters)
    invocation_parameters: HttpParameters = field(default_factory=HttpParameters)
    max_concurrency: int | None = None
    """At most this many requests in flight at once (beyond AWS)."""
    max_requests_per_second: float | None = None
    """At most this many requests started per second (beyond AWS)."""
    source: str = "file"
    """``file`` (the integrations file) or ``cli`` (kept under the data directory)."""

    def arn(self, region: str, account: str) -> str:
        """The connection's ARN, as EventBridge writes it."""
        return f"arn:aws:events:{region}:{account}:connection/{self.name}/{self.id}"

    def secrets(self) -> list[str]:
        """The secret values this connection can reveal now (for redaction); missing ones are skipped."""
        found: list[str] = []
        candidates = [self.api_key_value, self.password, self.client_secret]
        candidates += [
            p.value for p in self.invocation_parameters.all + self.oauth_parameters.all if p.secret
        ]
        for secret in candidates:
            if not secret.is_reference:
                continue
            try:
                value = secret.reveal(self.name, "secret")
            except StatesError:
                continue
            if value:
                found.append(value)
        return found

    def to_dict(self) -> dict[str, Any]:
        """The connection as stored and listed: secrets appear only as their env/file references."""
        out: dict[str, Any] = {
            "name": self.name,
            "id": self.id,
            "authorization_type": self.authorization_type,
        }
        if self.description:
            out["description"] = self.description
        if self.authorization_type == "API_KEY":
            out["api_key_name"] = self.api_key_name
            _put_secret(out, "api_key_value", self.api_key_value)
        elif self.authorization_type == "BASIC":
            _put_secret(out, "username", self.username)
            _put_secret(out, "password", self.password)
        else:
            out["authorization_endpoint"] = self.authorization_endpoint
            out["http_method"] = self.http_method
            _put_secret(out, "client_id", self.client_id)
            _put_secret(out, "client_secret", self.client_secret)
            if self.oauth_parameters.all:
                out["oauth_http_parameters"] = _params_dict(self.oauth_parameters)
        if self.invocation_parameters.all:
            out["invocation_http_parameters"] = _params_dict(self.invocation_parameters)
        if self.max_concurrency is not None:
            out["max_concurrency"] = self.max_concurrency
        if self.max_requests_per_second is not None:
            out["max_requests_per_second"] = self.max_requests_per_second
        return out


def _put_secret(out: dict[str, Any], key: str, secret: Secret) -> None:
    if secret.env is not None:
        out[f"{key}_env"] = secret.env
    elif secret.file is not None:
        out[f"{key}_file"] = secret.file
    elif secret.value is not None:
        out[key] = secret.value


def _params_dict(params: HttpParameters) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, items in (
        ("header_parameters", params.headers),
        ("query_string_parameters", params.query),
        ("body_parameters", params.body),
    ):
        if items:
            rows = []
            for p in items:
                row: dict[str, Any] = {"key": p.key}
                _put_secret(row, "value", p.value)
                if p.secret:
                    row["is_value_secret"] = True
                rows.append(row)
            out[key] = rows
    return out


def _invalid_state(connection: str, reason: str) -> StatesError:
    return StatesError(
        "Events.ConnectionResource.InvalidConnectionState",
        f"The connection '{connection}' cannot authorize requests: {reason}.",
    )


# -- parsing


def parse_connection(name: str, spec: Any, *, source: str = "file") -> Connection:
    """A connection from its mapping (integrations file or stored JSON); ConnectionConfigError says what is wrong."""
    where = f"connection {name!r}"
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConnectionConfigError(f"{where}: a connection name is 1 to 64 letters, digits, '.', '-' or '_'")
    if not isinstance(spec, dict):
        raise ConnectionConfigError(f"{where} must be a mapping")
    known = {
        "name",
        "id",
        "description",
        "authorization_type",
        "api_key_name",
        "api_key_value_env",
        "api_key_value_file",
        "api_key_value",
        "username",
        "username_env",
        "username_file",
        "password",
        "password_env",
        "password_file",
        "authorization_endpoint",
        "http_method",
        "client_id",
        "client_id_env",
        "client_id_file",
        "client_secret",
        "client_secret_env",
        "client_secret_file",
        "oauth_http_parameters",
        "invocation_http_parameters",
        "max_concurrency",
        "max_requests_per_second",
    }
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ConnectionConfigError(f"{where}: unknown field(s) {', '.join(unknown)}")
    kind = spec.get("authorization_type")
    if kind not in AUTHORIZATION_TYPES:
        raise ConnectionConfigError(
            f"{where}: authorization_type must be one of {', '.join(AUTHORIZATION_TYPES)}"
        )
    fields: dict[str, Any] = {"name": name, "authorization_type": kind, "source": source}
    fields["id"] = str(spec.get("id") or uuid.uuid5(_ID_NAMESPACE, name))
    if "description" in spec:
        fields["description"] = str(spec["description"])
    if kind == "API_KEY":
        key_name = spec.get("api_key_name")
        if not isinstance(key_name, str) or not key_name:
            raise ConnectionConfigError(
                f"{where}: API_KEY needs api_key_name (the header that carries the key)"
            )
        fields["api_key_name"] = key_name
        fields["api_key_value"] = _secret(spec, "api_key_value", where, required=True, literal=False)
    elif kind == "BASIC":
        fields["username"] = _secret(spec, "username", where, required=True, literal=True)
        fields["password"] = _secret(spec, "password", where, required=True, literal=False)
    else:
        endpoint = spec.get("authorization_endpoint")
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            raise ConnectionConfigError(
                f"{where}: OAUTH_CLIENT_CREDENTIALS needs an http(s) authorization_endpoint"
            )
        fields["authorization_endpoint"] = endpoint
        method = spec.get("http_method", "POST")
        if method not in ("GET", "POST", "PUT"):
            raise ConnectionConfigError(f"{where}: http_method must be GET, POST or PUT")
        fields["http_method"] = method
        fields["client_id"] = _secret(spec, "client_id", where, required=True, literal=True)
        fields["client_secret"] = _secret(spec, "client_secret", where, required=True, literal=False)
        fields["oauth_parameters"] = _parameters(
            spec.get("oauth_http_parameters"), f"{where}: oauth_http_parameters"
        )
    fields["invocation_parameters"] = _parameters(
        spec.get("invocation_http_parameters"), f"{where}: invocation_http_parameters"
    )
    concurrency = spec.get("max_concurrency")
    if concurrency is not None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConnectionConfigError(f"{where}: max_concurrency must be a positive integer")
        fields["max_concurrency"] = concurrency
    rate = spec.get("max_requests_per_second")
    if rate is not None:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0:
            raise ConnectionConfigError(f"{where}: max_requests_per_second must be a positive number")
        fields["max_requests_per_second"] = float(rate)
    return Connection(**fields)


def _secret(spec: dict[str, Any], key: str, where: str, *, required: bool, literal: bool) -> Secret:
    env, path, value = spec.get(f"{key}_env"), spec.get(f"{key}_file"), spec.get(key)
    given = [x for x in (env, path, value) if x is not None]
    if len(given) > 1:
        raise ConnectionConfigError(f"{where}: give only one of {key}, {key}_env and {key}_file")
    if value is not None and not literal:
        raise ConnectionConfigError(
            f"{where}: {key} is a secret and cannot be written in the connection; "
            f"name the environment variable ({key}_env) or file ({key}_file) that holds it"
        )
    if not given:
        if required:
            choices = f"{key}_env or {key}_file" if not literal else f"{key}, {key}_env or {key}_file"
            raise ConnectionConfigError(f"{where}: {choices} is required")
        return Secret()
    if env is not None:
        if not isinstance(env, str) or not env:
            raise ConnectionConfigError(f"{where}: {key}_env must name an environment variable")
        return Secret(env=env)
    if path is not None:
        if not isinstance(path, str) or not path:
            raise ConnectionConfigError(f"{where}: {key}_file must be a file path")
        return Secret(file=path)
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ConnectionConfigError(f"{where}: {key} must be a string")
    return Secret(value=str(value))


def _parameters(spec: Any, where: str) -> HttpParameters:
    if spec is None:
        return HttpParameters()
    if not isinstance(spec, dict):
        raise ConnectionConfigError(f"{where} must be a mapping")
    unknown = sorted(set(spec) - {"header_parameters", "query_string_parameters", "body_parameters"})
    if unknown:
        raise ConnectionConfigError(f"{where}: unknown field(s) {', '.join(unknown)}")
    return HttpParameters(
        headers=_parameter_list(spec.get("header_parameters"), f"{where}.header_parameters"),
        query=_parameter_list(spec.get("query_string_parameters"), f"{where}.query_string_parameters"),
        body=_parameter_list(spec.get("body_parameters"), f"{where}.body_parameters"),
    )


def _parameter_list(spec: Any, where: str) -> tuple[Parameter, ...]:
    if spec is None:
        return ()
    if isinstance(spec, dict):
        # The short form: {KEY: VALUE}, values written out.
        spec = [{"key": k, "value": v} for k, v in spec.items()]
    if not isinstance(spec, list):
        raise ConnectionConfigError(f"{where} must be a list of {{key, value | value_env | value_file}}")
    out = []
    for i, row in enumerate(spec):
        if not isinstance(row, dict) or not isinstance(row.get("key"), str) or not row["key"]:
            raise ConnectionConfigError(f"{where}[{i}] must be a mapping with a non-empty key")
        unknown = sorted(set(row) - {"key", "value", "value_env", "value_file", "is_value_secret"})
        if unknown:
            raise ConnectionConfigError(f"{where}[{i}]: unknown field(s) {', '.join(unknown)}")
        secret_flag = bool(row.get("is_value_secret", False))
        value = _secret(row, "value", f"{where}[{i}]", required=True, literal=not secret_flag)
        out.append(Parameter(row["key"], value, secret_flag or value.is_reference))
    return tuple(out)


# -- where connections live


def connection_name(reference: str) -> str:
    """The name in a connection ARN (``arn:aws:events:R:A:connection/NAME/ID``), or the name itself."""
    if reference.startswith("arn:"):
        parts = reference.split(":", 5)
        if len(parts) == 6 and parts[2] == "events":
            resource = parts[5]
            for prefix in ("connection/", "connection:"):
                if resource.startswith(prefix):
                    return resource[len(prefix) :].split("/", 1)[0]
        return ""
    return reference


class ConnectionStore:
    """The connections of one engine: the integrations file's, then those kept under the data directory."""

    def __init__(self, file_section: Any, directory: Path | None) -> None:
        self._file: dict[str, Connection] = {}
        if file_section is not None:
            if not isinstance(file_section, dict):
                raise ConnectionConfigError(
                    "integrations file: connections must be a mapping of name to connection"
                )
            for name, spec in file_section.items():
                self._file[str(name)] = parse_connection(str(name), spec, source="file")
        self._directory = directory
        self._cache: dict[str, tuple[int, Connection]] = {}

    def _path(self, name: str) -> Path | None:
        if self._directory is None or not _NAME.match(name):
            return None
        return self._directory / f"{name}.json"

    def get(self, name: str) -> Connection | None:
        """The connection named ``name``, or None."""
        found = self._file.get(name)
        if found is not None:
            return found
        path = self._path(name)
        if path is None:
            return None
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            self._cache.pop(name, None)
            return None
        cached = self._cache.get(name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            spec = _json.loads(path.read_bytes())
            conn = parse_connection(name, spec, source="cli")
        except (OSError, ValueError, ConnectionConfigError):
            return None
        self._cache[name] = (stamp, conn)
        return conn

    def list(self) -> list[Connection]:
        """Every connection, by name."""
        found = dict(self._file)
        if self._directory is not None and self._directory.is_dir():
            for path in sorted(self._directory.glob("*.json")):
                name = path.stem
                if name not in found:
                    conn = self.get(name)
                    if conn is not None:
                        found[name] = conn
        return [found[n] for n in sorted(found)]

    def create(self, conn: Connection) -> Connection:
        """Keeps ``conn`` under the data directory; ConnectionConfigError if the name is taken."""
        path = self._path(conn.name)
        if path is None:
            raise ConnectionConfigError("connections need a data directory (--data-dir)")
        if conn.name in self._file or path.exists():
            raise ConnectionConfigError(f"connection {conn.name!r} already exists")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(_json.dumps(conn.to_dict()), encoding="utf-8")
        os.replace(tmp, path)
        return conn

    def delete(self, name: str) -> None:
        """Removes a connection kept under the data directory; ConnectionConfigError if there is none."""
        if name in self._file:
            raise ConnectionConfigError(
                f"connection {name!r} is defined in the integrations file; remove it there"
            )
        path = self._path(name)
        if path is None or not path.exists():
            raise ConnectionConfigError(f"connection {name!r} does not exist")
        path.unlink()
        self._cache.pop(name, None)


def connection_store(settings: Any) -> ConnectionStore:
    """The engine's connection store (made once per IntegrationSettings and kept in its ``state``)."""
    store = settings.state.get("connections.store")
    if store is None:
        store = ConnectionStore(settings.sections.get("connections"), settings.directory("connections"))
        settings.state["connections.store"] = store
    assert isinstance(store, ConnectionStore)
    return store
