"""The intrinsic functions themselves, their argument checks and AWS's text formats.

Private to :mod:`legato.expr.intrinsics`, which parses and compiles calls. Each
function takes its already checked arguments as a list and returns the result,
raising :class:`Failure` with the detail text of the cause.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from legato import _json
from legato.expr._intrinsic_parse import UNMATCHED_BRACE, template_from_value
from legato.expr.paths import Path
from legato.expr.scope import Scope

MAX_RANGE_ITEMS = 1000
MAX_ENCODE_CHARS = 10_000
MAX_HASH_CHARS = 10_000

HASHES: dict[str, Callable[[bytes], Any]] = {
    "MD5": hashlib.md5,
    "SHA-1": hashlib.sha1,
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512,
}


# --- failures -----------------------------------------------------------------


class Failure(Exception):
    """An argument or a function failed; ``detail`` is the message for it alone."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def describe(self, scope: Scope) -> str:
        """The detail text for the cause; ``scope`` is the scope of the failed call."""
        return self.detail


class ArgumentNotFound(Failure):
    """A path argument selected nothing. AWS names the state input in the cause."""

    def __init__(self, path: Path) -> None:
        super().__init__(path.text)
        self.path = path

    def describe(self, scope: Scope) -> str:
        text = self.path.text
        # AWS reports a context path rewritten against '$' (Step Functions
        # Local words it the same way), and always shows the state input.
        if text.startswith("$$"):
            text = text[1:]
        try:
            shown = _json.dumps(scope.input)
        except (TypeError, ValueError):
            shown = repr(scope.input)
        return f"The JsonPath argument for the field '{text}' could not be found in the input '{shown}'"


class WrongType(Exception):
    """An argument had the wrong type; the caller adds which function and argument."""

    def __init__(self, expected: str, value: Any) -> None:
        super().__init__(expected)
        self.expected = expected
        self.value = value


def json_type(value: Any) -> str:
    """The JSON type of ``value`` with its article, for messages (``a string``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# --- argument checkers: validate one value, return it normalised ------------------

Checker = Callable[[Any], Any]


def any_value(value: Any) -> Any:
    """Accepts any JSON value."""
    return value


def string(value: Any) -> str:
    """Accepts a string."""
    if not isinstance(value, str):
        raise WrongType("a string", value)
    return value


def array(value: Any) -> list[Any]:
    """Accepts an array."""
    if not isinstance(value, list):
        raise WrongType("an array", value)
    return value


def json_object(value: Any) -> dict[str, Any]:
    """Accepts an object."""
    if not isinstance(value, dict):
        raise WrongType("a JSON object", value)
    return value


def boolean(value: Any) -> bool:
    """Accepts true or false."""
    if not isinstance(value, bool):
        raise WrongType("a boolean", value)
    return value


def integer(value: Any) -> int:
    """An integer argument. Fractions round half up, as Java's Math.round does.

    The recorded MathAdd cases show it: 0.5 -> 1, -0.5 -> 0, -1.5 -> -1.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WrongType("an integer", value)
    if isinstance(value, int):
        return value
    if not math.isfinite(value):
        raise WrongType("an integer", value)
    floor = math.floor(value)
    return floor + 1 if value - floor >= 0.5 else floor


# --- Java-style text of values for States.Format -------------------------------------


def java_double(x: float) -> str:
    """``Double.toString``: decimal in [1e-3, 1e7), else ``d.dddE±n``."""
    if x == 0.0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    magnitude = abs(x)
    if 1e-3 <= magnitude < 1e7:
        return repr(x)  # Python's repr is decimal in this range, shortest digits like Java's
    sign, digits, exponent = Decimal(repr(x)).as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits)).rstrip("0") or "0"
    exp10 = exponent + len(digits) - 1
    mantissa = text[0] + "." + (text[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{exp10}"


def format_value(value: Any) -> str:
    """How States.Format prints an argument: Java's ``toString`` of the JSON value."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={format_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


# --- JSON equality (ArrayContains, ArrayUnique) --------------------------------------


def json_key(value: Any) -> Any:
    """A hashable key equal for equal JSON values.

    Type-strict like Jackson's node equality: ``true`` is not ``1`` and ``1``
    is not ``1.0``; object key order does not matter.
    """
    if isinstance(value, dict | list):
        return ("json", canonical(value))
    return (type(value), value)


def canonical(value: Any) -> str:
    """JSON text with sorted keys: equal for equal arrays and objects."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def utf16_length(text: str) -> int:
    """Length as Java counts characters (UTF-16 code units)."""
    n = len(text)
    if n <= MAX_ENCODE_CHARS // 2:
        return n  # cannot exceed the limits even if every character were astral
    return len(text.encode("utf-16-le")) // 2


# --- the functions -------------------------------------------------------------------
# Each takes its already checked arguments and returns the result, raising
# Failure with AWS-style detail text.


def _fn_format(args: list[Any]) -> str:
    template = template_from_value(args[0])
    if template is None:
        raise Failure(f"Invalid template in States.Format: {UNMATCHED_BRACE}.")
    return _fill(template, args, 1)


def _fill(template: tuple[str, ...], args: Sequence[Any], first: int) -> str:
    if len(template) - 1 != len(args) - first:
        raise Failure(
            "Invalid arguments in States.Format: number of arguments do not match the occurrences of {}."
        )
    parts = [template[0]]
    for i, piece in enumerate(template[1:]):
        parts.append(format_value(args[first + i]))
        parts.append(piece)
    return "".join(parts)


def _fn_string_to_json(args: list[Any]) -> Any:
    text = args[0]
    # Recorded on AWS: an empty or blank string parses to null.
    if not text.strip():
        return None
    try:
        return _json.loads(text)
    except ValueError:
        raise Failure("Invalid arguments in States.StringToJson: the string is not valid JSON.")


def _fn_json_to_string(args: list[Any]) -> str:
    return _json.dumps(args[0])


def _fn_array(args: list[Any]) -> list[Any]:
    return args


def _fn_array_partition(args: list[Any]) -> list[list[Any]]:
    array, size = args
    if size <= 0:
        raise Failure(
            f"Invalid arguments in States.ArrayPartition: the chunk size must be a positive integer, got {size}."
        )
    return [array[i : i + size] for i in range(0, len(array), size)]


def _fn_array_contains(args: list[Any]) -> bool:
    array, wanted = args
    key = json_key(wanted)
    return any(json_key(item) == key for item in array)


def _fn_array_range(args: list[Any]) -> list[int]:
    start, end, step = args
    if step == 0:
        raise Failure("Invalid arguments in States.ArrayRange: the step (third argument) must not be 0.")
    count = (end - start) // step + 1 if (end - start) * step >= 0 else 0
    if count > MAX_RANGE_ITEMS:
        raise Failure(
            f"Invalid arguments in States.ArrayRange: the range has {count} items, more than the "
            f"{MAX_RANGE_ITEMS} allowed."
        )
    return list(range(start, start + count * step, step))


def _fn_array_get_item(args: list[Any]) -> Any:
    array, index = args
    if index < 0 or index >= len(array):
        raise Failure(
            f"Invalid arguments in States.ArrayGetItem: the index {index} is out of bounds for an array "
            f"of length {len(array)}."
        )
    return array[index]


def _fn_array_length(args: list[Any]) -> int:
    return len(args[0])


def _fn_array_unique(args: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    unique = []
    for item in args[0]:
        key = json_key(item)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _check_encode_limit(function: str, text: str) -> None:
    if utf16_length(text) > MAX_ENCODE_CHARS:
        raise Failure(
            f"Invalid arguments in {function}: the input string has more than {MAX_ENCODE_CHARS} characters."
        )


def _fn_base64_encode(args: list[Any]) -> str:
    text = args[0]
    _check_encode_limit("States.Base64Encode", text)
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _fn_base64_decode(args: list[Any]) -> str:
    text = args[0]
    _check_encode_limit("States.Base64Decode", text)
    try:
        # MIME decoding ignores characters outside the Base64 alphabet (line breaks).
        data = base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError):
        raise Failure("Invalid arguments in States.Base64Decode: the string is not valid Base64.")
    return data.decode("utf-8", errors="replace")


def _fn_hash(args: list[Any]) -> str:
    data, algorithm = args
    hasher = HASHES.get(algorithm)
    if hasher is None:
        raise Failure(
            f"Invalid arguments in States.Hash: unsupported algorithm {algorithm!r}; use one of "
            f"{', '.join(HASHES)}."
        )
    if utf16_length(data) > MAX_HASH_CHARS:
        raise Failure(
            f"Invalid arguments in States.Hash: the input data has more than {MAX_HASH_CHARS} characters."
        )
    return str(hasher(data.encode("utf-8")).hexdigest())


def _fn_json_merge(args: list[Any]) -> dict[str, Any]:
    first, second, deep = args
    if deep:
        raise Failure(
            "Invalid arguments in States.JsonMerge: deep merging is not supported; the third argument "
            "must be false."
        )
    # Shallow: the second object's keys win; nested objects are not merged.
    return {**first, **second}


def _fn_math_random(args: list[Any]) -> int:
    start, end = args[0], args[1]
    if start >= end:
        raise Failure(
            f"Invalid arguments in States.MathRandom: the start ({start}) must be less than the end ({end})."
        )
    # The end is exclusive. A seed makes the result repeatable, as the guide promises.
    if len(args) > 2:
        return random.Random(args[2]).randrange(start, end)
    return random.randrange(start, end)


def _fn_math_add(args: list[Any]) -> int:
    return int(args[0] + args[1])


def _fn_string_split(args: list[Any]) -> list[str]:
    text, delimiters = args
    if len(delimiters) == 1:
        return [piece for piece in text.split(delimiters) if piece]
    if not delimiters:
        return [text] if text else []
    # Any delimiter character splits, and empty pieces are dropped (the recorded
    # cases: "This.is+a,test=string" split on ".+,=" gives five words).
    first = delimiters[0]
    for other in delimiters[1:]:
        text = text.replace(other, first)
    return [piece for piece in text.split(first) if piece]


def _fn_uuid(args: list[Any]) -> str:
    return str(uuid.uuid4())


# --- signatures ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signature:
    """What a function takes: argument checkers by position, and its implementation.

    ``rest`` checks any arguments after ``params`` (only States.Array and
    States.Format take a variable number).
    """

    impl: Callable[[list[Any]], Any]
    params: tuple[Checker, ...]
    required: int
    rest: Checker | None = None


FUNCTIONS: dict[str, Signature] = {
    "States.Format": Signature(_fn_format, (string,), 1, any_value),
    "States.StringToJson": Signature(_fn_string_to_json, (string,), 1),
    "States.JsonToString": Signature(_fn_json_to_string, (any_value,), 1),
    "States.Array": Signature(_fn_array, (), 0, any_value),
    "States.ArrayPartition": Signature(_fn_array_partition, (array, integer), 2),
    "States.ArrayContains": Signature(_fn_array_contains, (array, any_value), 2),
    "States.ArrayRange": Signature(_fn_array_range, (integer, integer, integer), 3),
    "States.ArrayGetItem": Signature(_fn_array_get_item, (array, integer), 2),
    "States.ArrayLength": Signature(_fn_array_length, (array,), 1),
    "States.ArrayUnique": Signature(_fn_array_unique, (array,), 1),
    "States.Base64Encode": Signature(_fn_base64_encode, (string,), 1),
    "States.Base64Decode": Signature(_fn_base64_decode, (string,), 1),
    "States.Hash": Signature(_fn_hash, (string, string), 2),
    "States.JsonMerge": Signature(_fn_json_merge, (json_object, json_object, boolean), 3),
    "States.MathRandom": Signature(_fn_math_random, (integer, integer, integer), 2),
    "States.MathAdd": Signature(_fn_math_add, (integer, integer), 2),
    "States.StringSplit": Signature(_fn_string_split, (string, string), 2),
    "States.UUID": Signature(_fn_uuid, (), 0),
}
