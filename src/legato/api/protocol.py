"""The AWS JSON 1.0 protocol as Step Functions speaks it.

A request is ``POST /`` with ``X-Amz-Target: AWSStepFunctions.<Operation>`` and a
JSON object as body; a response is ``application/x-amz-json-1.0``. An error is
an HTTP 400 (500 for an internal failure) whose body is
``{"__type": "<ErrorType>", "message": "..."}``: botocore reads ``__type`` into
``Error.Code`` and ``message`` into ``Error.Message`` (and, for modelled
exceptions, into the top-level ``message``).
"""

from __future__ import annotations

import re
from typing import Any

from legato import _json
from legato.errors import ApiError

CONTENT_TYPE = "application/x-amz-json-1.0"
TARGET_HEADER = "X-Amz-Target"
TARGET_PREFIX = "AWSStepFunctions."

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def operation_of(target: str | None) -> str:
    """The operation named by an ``X-Amz-Target`` header; raises ``UnknownOperationException``."""
    if not target or not target.startswith(TARGET_PREFIX) or len(target) == len(TARGET_PREFIX):
        raise ApiError(
            "UnknownOperationException", f"Unknown operation: {target or '(no X-Amz-Target header)'}"
        )
    return target[len(TARGET_PREFIX) :]


def decode_request(body: bytes) -> dict[str, Any]:
    """The request object of a body; an empty body is an empty request.

    Raises ``SerializationException`` for malformed JSON or a body that is not an object.
    """
    if not body.strip():
        return {}
    try:
        value = _json.loads(body)
    except (ValueError, RecursionError):
        raise ApiError("SerializationException", "The request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise ApiError("SerializationException", "The request body must be a JSON object")
    if _SURROGATE_ESCAPE.search(body) and _has_lone_surrogate(value):
        # A string that is not Unicode could be neither stored nor sent back as UTF-8.
        raise ApiError(
            "SerializationException",
            "The request body contains an unpaired UTF-16 surrogate escape (\\uD800-\\uDFFF)",
        )
    return value


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def encode_response(value: Any) -> bytes:
    """A response body."""
    return _json.dumps(value).encode()


def encode_error(error: ApiError) -> bytes:
    """An error body in the JSON 1.0 shape."""
    return encode_response({"__type": error.type, "message": error.message})
