"""Reading a state machine definition from JSON or YAML text.

A parse failure raises :class:`~legato.errors.DefinitionError` with one
``INVALID_JSON_DESCRIPTION`` diagnostic worded as ValidateStateMachineDefinition
words it (AWS parses with Jackson)::

    Unrecognized token 'not': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')
     at [Source: (String)"not a definition"; line: 1, column: 4]

whose location is the ``[Source: ...]`` part.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import yaml

from legato.errors import DefinitionError, Diagnostic

__all__ = ["load_document"]

_TOKEN = re.compile(r"[A-Za-z0-9_$.+-]+")
_EXPECTING = "was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"


def load_document(source: str | bytes | Mapping[str, Any], *, filename: str | None = None) -> Any:
    """Parses a definition: JSON text, YAML text, or an already-parsed mapping (returned as is).

    YAML is used for a ``filename`` ending in ``.yaml``/``.yml``, and for text that
    is not JSON but is a YAML mapping. Whitespace-only text and unparsable text
    raise :class:`~legato.errors.DefinitionError`.
    """
    if isinstance(source, Mapping):
        return source
    text = source.decode("utf-8") if isinstance(source, bytes) else source
    if not text.strip():
        raise DefinitionError(
            [Diagnostic("SCHEMA_VALIDATION_FAILED", "Definition must be a valid JSON object", "")]
        )
    if filename is not None and filename.lower().endswith((".yaml", ".yml")):
        return _load_yaml(text)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        json_error = exc
    except RecursionError:
        raise DefinitionError([_too_deep()]) from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        doc = None
    except RecursionError:
        raise DefinitionError([_too_deep()]) from None
    if isinstance(doc, dict):
        return doc
    raise DefinitionError([_json_diagnostic(text, json_error)])


def _too_deep() -> Diagnostic:
    # Jackson's StreamReadConstraints wording; Python's parser stops near depth 1,000 too.
    location = "[Source: (String); line: 1, column: 1]"
    return Diagnostic(
        "INVALID_JSON_DESCRIPTION",
        f"Document nesting depth exceeds the maximum allowed (1000)\n at {location}",
        location,
    )


def _load_yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except RecursionError:
        raise DefinitionError([_too_deep()]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = (
            f"line: {mark.line + 1}, column: {mark.column + 1}" if mark is not None else "unknown position"
        )
        location = f"[Source: (String); {where}]"
        problem = getattr(exc, "problem", None) or str(exc)
        raise DefinitionError(
            [Diagnostic("INVALID_JSON_DESCRIPTION", f"Invalid YAML: {problem}\n at {location}", location)]
        ) from None


def _json_diagnostic(text: str, exc: json.JSONDecodeError) -> Diagnostic:
    """Jackson's wording for the first JSON syntax error in ``text``."""
    pos = exc.pos
    char = text[pos] if pos < len(text) else ""
    token = _TOKEN.match(text, pos)
    if exc.msg.startswith("Expecting value") and token is not None and not char.isdigit() and char != "-":
        message = f"Unrecognized token '{token.group(0)}': {_EXPECTING}"
        column = exc.colno + len(token.group(0))
    elif exc.msg.startswith("Expecting property name") and char:
        message = f"Unexpected character ('{char}' (code {ord(char)})): was expecting double-quote to start field name"
        column = exc.colno + 1
    elif not char:
        message = "Unexpected end-of-input: the document is incomplete (check for a missing '}' or ']')"
        column = exc.colno
    else:
        message = f"Unexpected character ('{char}' (code {ord(char)})): {exc.msg[0].lower()}{exc.msg[1:]}"
        column = exc.colno + 1
    location = (
        f"[Source: (String){json.dumps(text, ensure_ascii=False)}; line: {exc.lineno}, column: {column}]"
    )
    return Diagnostic("INVALID_JSON_DESCRIPTION", f"{message}\n at {location}", location)
