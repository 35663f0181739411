"""Reading API request fields the way AWS validates them, and paginating lists.

Field errors use AWS's request-validation wording (``1 validation error detected:
Value ... at 'field' failed to satisfy constraint: ...``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import orjson

from legato.errors import ApiError

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def _constraint(field: str, value: Any, constraint: str, *, sensitive: bool = False) -> ApiError:
    shown = "Value" if sensitive else f"Value {_show(value)}"
    return ApiError(
        "ValidationException",
        f"1 validation error detected: {shown} at '{field}' failed to satisfy constraint: {constraint}",
    )


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"'{str(value).lower()}'"
    return f"'{value}'"


def _type_error(field: str, expected: str) -> ApiError:
    return ApiError("SerializationException", f"Field '{field}' must be {expected}")


def get_str(
    request: Mapping[str, Any],
    field: str,
    *,
    required: bool = False,
    min_len: int = 0,
    max_len: int | None = None,
    sensitive: bool = False,
) -> str | None:
    """A string field; ``None`` when absent and not required."""
    value = request.get(field)
    if value is None:
        if required:
            raise _constraint(field, None, "Member must not be null")
        return None
    if not isinstance(value, str):
        raise _type_error(field, "a string")
    if len(value) < min_len:
        raise _constraint(
            field, value, f"Member must have length greater than or equal to {min_len}", sensitive=sensitive
        )
    if max_len is not None and len(value) > max_len:
        raise _constraint(
            field, value, f"Member must have length less than or equal to {max_len}", sensitive=sensitive
        )
    return value


def need_str(request: Mapping[str, Any], field: str, *, max_len: int | None = 256, min_len: int = 1) -> str:
    """A required string field."""
    value = get_str(request, field, required=True, min_len=min_len, max_len=max_len)
    assert value is not None
    return value


def get_bool(request: Mapping[str, Any], field: str, default: bool) -> bool:
    """A boolean field."""
    value = request.get(field)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _type_error(field, "a boolean")
    return value


def get_enum(
    request: Mapping[str, Any], field: str, allowed: Sequence[str], default: str | None
) -> str | None:
    """A field with a fixed set of values."""
    value = get_str(request, field)
    if value is None:
        return default
    if value not in allowed:
        raise _constraint(field, value, f"Member must satisfy enum value set: [{', '.join(allowed)}]")
    return value


def get_dict(request: Mapping[str, Any], field: str) -> dict[str, Any] | None:
    """An object field."""
    value = request.get(field)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _type_error(field, "an object")
    return value


def get_list(request: Mapping[str, Any], field: str) -> list[Any] | None:
    """A list field."""
    value = request.get(field)
    if value is None:
        return None
    if not isinstance(value, list):
        raise _type_error(field, "a list")
    return value


def get_max_results(request: Mapping[str, Any]) -> int:
    """``maxResults``: 0 or absent means the default page size."""
    value = request.get("maxResults")
    if value is None:
        return DEFAULT_PAGE_SIZE
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error("maxResults", "an integer")
    if value < 0:
        raise _constraint("maxResults", value, "Member must have value greater than or equal to 0")
    if value > MAX_PAGE_SIZE:
        raise _constraint(
            "maxResults", value, f"Member must have value less than or equal to {MAX_PAGE_SIZE}"
        )
    return value or DEFAULT_PAGE_SIZE


def paginate(request: Mapping[str, Any], items: Sequence[T], listing: str) -> tuple[list[T], str | None]:
    """One page of ``items`` after the request's ``nextToken``, and the next token.

    Tokens are opaque: an offset bound to ``listing`` (which list it pages through),
    so a token from another listing is refused with ``InvalidToken``.
    """
    size = get_max_results(request)
    token = get_str(request, "nextToken", max_len=1024)
    start = 0 if token is None else _read_token(token, listing)
    end = start + size
    page = list(items[start:end])
    return page, (_make_token(end, listing) if end < len(items) else None)


def _digest(listing: str) -> str:
    return hashlib.sha256(listing.encode()).hexdigest()[:16]


def _make_token(offset: int, listing: str) -> str:
    raw = json.dumps({"o": offset, "l": _digest(listing)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _read_token(token: str, listing: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = data["o"]
        ok = isinstance(offset, int) and offset >= 0 and data["l"] == _digest(listing)
    except (ValueError, TypeError, KeyError):
        ok = False
    if not ok:
        raise ApiError("InvalidToken", f"Invalid Token: '{token}'")
    return int(offset)


_WORD = re.compile(r"[A-Za-z0-9_$.+\-]+")


def invalid_json_reason(text: str) -> str | None:
    """Why ``text`` is not JSON, worded like Step Functions' (Jackson) parser; ``None`` if it is."""
    try:
        orjson.loads(text)  # the fast check; the standard parser below finds the words
        return None
    except orjson.JSONDecodeError:
        pass
    try:
        json.loads(text)
        return None
    except json.JSONDecodeError as exc:
        pos, msg = exc.pos, exc.msg
    except RecursionError:
        return "Maximum nesting depth exceeded"
    if pos >= len(text):
        return "Unexpected end-of-input"
    ch = text[pos]
    shown = f"'{ch}' (code {ord(ch)})"
    if msg.startswith("Expecting property name"):
        return f"Unexpected character ({shown}): was expecting double-quote to start field name"
    if msg == "Expecting value":
        word = _WORD.match(text, pos)
        if word and (ch.isalpha() or ch == "_"):
            return (
                f"Unrecognized token '{word.group()}': was expecting "
                "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
            )
        return (
            f"Unexpected character ({shown}): expected a valid value "
            "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
        )
    if msg == "Extra data":
        return f"Unexpected character ({shown}): expected end-of-input"
    if msg.startswith("Expecting ',' delimiter") or msg.startswith("Expecting ':' delimiter"):
        want = "comma to separate entries" if "','" in msg else "a colon to separate field name and value"
        return f"Unexpected character ({shown}): was expecting {want}"
    return f"{msg} (position {pos})"
