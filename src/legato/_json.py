"""JSON helpers on orjson, with the number and text conventions of Step Functions."""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    """Compact JSON text, as Step Functions prints payloads (no spaces)."""
    try:
        return orjson.dumps(value, option=_OPTS).decode()
    except TypeError:
        # Integers beyond 64 bits and other values orjson refuses.
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def loads(text: str | bytes) -> Any:
    """Parses JSON text; raises ``ValueError`` on malformed input."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # orjson refuses some valid documents (very large integers); fall back.
        return json.loads(text)


def size(value: Any) -> int:
    """UTF-8 byte size of the value's JSON text (for the payload limit)."""
    try:
        return len(orjson.dumps(value, option=_OPTS))
    except TypeError:
        return len(dumps(value).encode())
