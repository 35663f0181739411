"""Settings the service integrations share: where embedded providers keep their data,
and which services go to a real (or compatible) endpoint instead.

``legato serve --data-dir DIR`` puts the embedded providers' data under ``DIR``
(``DIR/s3/BUCKET/KEY`` for objects, as DESIGN.md's contract says). An
integrations file (``legato serve --integrations FILE``, JSON or YAML) may add
sections; each integration reads its own, for example::

    services:
      s3: {endpoint_url: "http://127.0.0.1:9000", region: us-east-1}
      dynamodb: embedded
    connections:
      weather: {authorization_type: API_KEY, api_key_name: x-api-key, api_key_value_env: WEATHER_KEY}

A service that is not named, or is ``embedded``, uses Legato's embedded provider. A
named service's ``aws-sdk`` Tasks (:mod:`legato.integrations.aws_sdk`) and its optimised
integrations (``sqs:sendMessage``, ``sns:publish``, ``events:putEvents``,
``glue:startJobRun``, ``dynamodb:*``; :mod:`legato.integrations._remote`) all go to it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from legato.errors import LegatoError


@dataclass(slots=True)
class IntegrationSettings:
    """What the integrations are configured with."""

    data_dir: Path | None = None
    """Where embedded providers keep their data; None: a temporary directory, made on first use."""
    sections: dict[str, Any] = field(default_factory=dict)
    """The integrations file, by top-level section (``services``, ``connections`` ...)."""
    state: dict[str, Any] = field(default_factory=dict)
    """Live objects the integrations keep per engine (open providers, HTTP sessions), by name."""

    def directory(self, *parts: str) -> Path:
        """A folder under the data directory (created), for one provider's data."""
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="legato-data-"))
        path = self.data_dir.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def service(self, name: str) -> dict[str, Any] | None:
        """The passthrough settings of ``name`` (``endpoint_url``, ``region`` ...), or None
        when the embedded provider serves it."""
        value = (self.sections.get("services") or {}).get(name)
        if value is None or value == "embedded":
            return None
        if not isinstance(value, dict):
            raise LegatoError(f"integrations file: services.{name} must be 'embedded' or a mapping")
        return value


def load_settings(path: str | Path | None, data_dir: str | Path | None = None) -> IntegrationSettings:
    """Reads an integrations file (JSON or YAML); raises LegatoError with what is wrong."""
    sections: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise LegatoError(f"cannot read integrations file {p}: {exc.strerror}") from None
        import yaml

        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise LegatoError(f"integrations file {p} is not valid JSON or YAML: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise LegatoError(f"integrations file {p} must hold a mapping of sections")
        sections = loaded
    return IntegrationSettings(data_dir=Path(data_dir) if data_dir is not None else None, sections=sections)
