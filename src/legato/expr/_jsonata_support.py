"""Private helpers of :mod:`legato.expr.jsonata`: a light JSONata lexer for the static
analysis and rewrites the adapter does, and the functions Step Functions adds to JSONata.

Nothing here is public API.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jsonatapy

from legato import _json

# --------------------------------------------------------------------------- lexer


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical token: ``kind`` is ``var`` (``value`` is the name without ``$``,
    ``$`` alone gives ``""`` and ``$$`` gives ``"$"``), ``name``, ``str``, ``num``,
    ``regex`` or ``op``."""

    kind: str
    value: str
    start: int
    end: int


_OPERATORS = (":=", "~>", "!=", "<=", ">=", "**", "..", "?:", "??")
_NAME_END = set(" \t\r\n.[]{}()=<>!~+-*/%&|,;:?^@#\"'`")
# Tokens after which a "/" is division rather than the start of a regular expression.
_VALUE_KINDS = frozenset({"var", "name", "str", "num", "regex"})


def tokenize(text: str) -> list[Token]:
    """Splits ``text`` into tokens, skipping comments and whitespace.

    Lenient on purpose: jsonatapy is the parser of record; this only needs to find
    variable references and names reliably in expressions that do parse.
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        start = i
        if c in "\"'":
            i += 1
            while i < n and text[i] != c:
                i += 2 if text[i] == "\\" else 1
            i = min(i + 1, n)
            tokens.append(Token("str", text[start + 1 : i - 1], start, i))
            continue
        if c == "`":
            end = text.find("`", i + 1)
            i = n if end < 0 else end + 1
            tokens.append(Token("name", text[start + 1 : i - 1], start, i))
            continue
        if c == "/" and not (tokens and (tokens[-1].kind in _VALUE_KINDS or tokens[-1].value in ")]}")):
            i += 1
            while i < n and text[i] != "/":
                i += 2 if text[i] == "\\" else 1
            i += 1
            while i < n and text[i] in "gimsuy":
                i += 1
            tokens.append(Token("regex", text[start:i], start, i))
            continue
        if c == "$":
            if text.startswith("$$", i):
                tokens.append(Token("var", "$", i, i + 2))
                i += 2
                continue
            i += 1
            while i < n and text[i] not in _NAME_END:
                i += 1
            tokens.append(Token("var", text[start + 1 : i], start, i))
            continue
        if c.isdigit():
            match = re.compile(r"\d+(\.\d+)?([eE][+-]?\d+)?").match(text, i)
            i = match.end() if match else i + 1
            tokens.append(Token("num", text[start:i], start, i))
            continue
        op = next((o for o in _OPERATORS if text.startswith(o, i)), None)
        if op is not None:
            tokens.append(Token("op", op, i, i + len(op)))
            i += len(op)
            continue
        if c in _NAME_END:
            tokens.append(Token("op", c, i, i + 1))
            i += 1
            continue
        while i < n and text[i] not in _NAME_END:
            i += 1
        tokens.append(Token("name", text[start:i], start, i))
    return tokens


# JSONata 2.0.6 built-in functions plus the ones Step Functions adds: a `$name` that
# is one of these is a function call, not a workflow variable.
BUILTIN_FUNCTIONS = frozenset(
    """sum count max min average string substring substringBefore substringAfter lowercase
    uppercase length trim pad formatNumber formatBase formatInteger parseInteger number
    floor ceil round abs sqrt power random boolean not map zip filter single reduce sift
    keys lookup append exists spread merge reverse each error assert sort shuffle distinct
    base64encode base64decode encodeUrlComponent encodeUrl decodeUrlComponent decodeUrl
    eval toMillis fromMillis clone now millis match contains replace split join type
    partition range hash uuid parse""".split()
)

STATES_PARTS = ("input", "context", "result", "errorOutput")
# The key under which `$states` is passed as the input document (read as `$$.__lgstates`).
STATES_KEY = "__lgstates"


@dataclass(frozen=True, slots=True)
class Analysis:
    """What an expression references, and its text rewritten for evaluation."""

    names: frozenset[str]
    """Every ``$name`` read, assigned or declared (``states`` and built-ins included)."""
    variables: frozenset[str]
    """Names that must come from outside: no built-ins, ``states`` or local names."""
    states_parts: frozenset[str] | None
    """The ``$states`` fields used; ``None`` when ``$states`` is used as a whole."""
    uses_states: bool
    data_text: str | None
    """The text to evaluate with ``{STATES_KEY: $states}`` as the input document
    (``$states`` read as ``$$.__lgstates``), or ``None`` when that would change its
    meaning."""
    binding_text: str
    """The text to evaluate with ``$states`` bound as a variable."""
    uses_string: bool


def analyse(text: str) -> Analysis:
    """Finds the variables of ``text`` and prepares the rewrites the adapter evaluates."""
    tokens = tokenize(text)
    names: set[str] = set()
    local: set[str] = set()
    parts: set[str] | None = set()
    states_spans: list[tuple[int, int]] = []
    string_spans: list[tuple[int, int]] = []
    has_root = False
    for k, tok in enumerate(tokens):
        if tok.kind == "name" and tok.value in ("function", "λ") and _is(tokens, k + 1, "("):
            j = k + 2
            while j < len(tokens) and tokens[j].value != ")":
                if tokens[j].kind == "var":
                    local.add(tokens[j].value)
                j += 1
        if tok.kind != "var":
            continue
        if tok.value in ("", "$"):
            has_root = has_root or tok.value == "$"
            continue
        names.add(tok.value)
        if _is(tokens, k + 1, ":="):
            local.add(tok.value)
        if tok.value == "string" and _is(tokens, k + 1, "(") and not _is(tokens, k + 2, ")"):
            string_spans.append((tok.start, tok.end))
        if tok.value == "states":
            states_spans.append((tok.start, tok.end))
            if parts is not None:
                nxt = tokens[k + 2] if _is(tokens, k + 1, ".") and k + 2 < len(tokens) else None
                if nxt is not None and nxt.kind == "name" and nxt.value in STATES_PARTS:
                    parts.add(nxt.value)
                else:
                    parts = None
    if "string" in local:
        string_spans = []
    edits = [(span, "$__lgstring") for span in string_spans]
    data_text = None
    if not has_root and "states" not in local:
        data_text = _apply(text, sorted(edits + [(span, "$$." + STATES_KEY) for span in states_spans]))
    return Analysis(
        names=frozenset(names),
        variables=frozenset(names - local - BUILTIN_FUNCTIONS - {"states"}),
        states_parts=None if parts is None else frozenset(parts),
        uses_states=bool(states_spans),
        data_text=data_text,
        binding_text=_apply(text, edits),
        uses_string=bool(string_spans),
    )


def _apply(text: str, edits: list[tuple[tuple[int, int], str]]) -> str:
    out, last = [], 0
    for (start, end), replacement in edits:
        out.append(text[last:start])
        out.append(replacement)
        last = end
    out.append(text[last:])
    return "".join(out)


def _is(tokens: list[Token], k: int, value: str) -> bool:
    return k < len(tokens) and tokens[k].kind == "op" and tokens[k].value == value


# --------------------------------------------------------------- per-evaluation clock


class _Clock(threading.local):
    now: float | None = None
    millis: int | None = None


_clock = _Clock()


def set_clock(now: float | None) -> None:
    """Sets the time ``$now()``/``$millis()`` report for the evaluations that follow
    on this thread (``None``: the real time, read once per evaluation)."""
    _clock.now = now
    _clock.millis = None


def current_millis() -> int:
    """The evaluation's timestamp in epoch milliseconds, the same for every call."""
    if _clock.millis is None:
        now = time.time() if _clock.now is None else _clock.now
        _clock.millis = math.floor(now * 1000)
    return _clock.millis


# ------------------------------------------------------------ Step Functions functions


class HostError(ValueError):
    """Raised by a host function; jsonatapy wraps it and the adapter unwraps the code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")


def _signature_error(index: int, name: str) -> HostError:
    # The text node's JSONata gives for an argument that fails a function's signature.
    return HostError("T0410", f'Argument {index} of function "{name}" does not match function signature')


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_integer(v: Any) -> bool:
    return _is_number(v) and float(v).is_integer()


def fn_partition(array: Any = None, size: Any = None, *extra: Any) -> Any:
    """``$partition(array, size)``: the array cut into chunks of ``size`` items."""
    if extra:
        raise HostError("T0410", 'Argument 3 of function "partition" does not match function signature')
    if not isinstance(array, list):
        raise _signature_error(1, "partition")
    if not _is_integer(size) or size <= 0:
        raise HostError("D3137", "The chunk size argument of $partition must be a positive integer")
    step = int(size)
    return [array[i : i + step] for i in range(0, len(array), step)]


_RANGE_LIMIT = 1000


def fn_range(start: Any = None, end: Any = None, step: Any = 1, *extra: Any) -> Any:
    """``$range(start, end, step)``: integers from start to end inclusive, by step.

    Like a JSONata sequence, a one-item result is that item (AWS returns ``1`` for
    ``$range(1, 9, 9)``).
    """
    if extra:
        raise HostError("T0410", 'Argument 4 of function "range" does not match function signature')
    for index, value in enumerate((start, end, step), 1):
        if not _is_integer(value):
            raise _signature_error(index, "range")
    if step == 0:
        raise HostError("D3137", "The step argument of $range must not be zero")
    first, last, by = int(start), int(end), int(step)
    count = max(0, (last - first) // by + 1)
    if count > _RANGE_LIMIT:
        raise HostError("D3137", f"The $range function cannot produce more than {_RANGE_LIMIT} items")
    items = list(range(first, last + (1 if by > 0 else -1), by))
    return items[0] if len(items) == 1 else items


_HASHES: dict[str, Callable[[bytes], Any]] = {
    "MD5": hashlib.md5,
    "SHA-1": hashlib.sha1,
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512,
}


def fn_hash(value: Any = None, algorithm: Any = None, *extra: Any) -> Any:
    """``$hash(value, algorithm)``: the hex digest of a string (MD5, SHA-1, SHA-256,
    SHA-384 or SHA-512)."""
    if extra:
        raise HostError("T0410", 'Argument 3 of function "hash" does not match function signature')
    if not isinstance(value, str):
        raise _signature_error(1, "hash")
    if not isinstance(algorithm, str):
        raise _signature_error(2, "hash")
    make = _HASHES.get(algorithm)
    if make is None:
        supported = ", ".join(_HASHES)
        raise HostError(
            "D3137", f"The hash algorithm '{algorithm}' is not supported; use one of: {supported}"
        )
    return make(value.encode()).hexdigest()


def fn_random(seed: Any = None, *extra: Any) -> Any:
    """``$random([seed])``: a number in [0, 1); the same seed gives the same number."""
    if extra:
        raise HostError("T0410", 'Argument 2 of function "random" does not match function signature')
    if seed is None:
        return random.random()
    if not _is_integer(seed):
        raise _signature_error(1, "random")
    return random.Random(int(seed)).random()


def fn_uuid(*extra: Any) -> Any:
    """``$uuid()``: a random version 4 UUID."""
    if extra:
        raise HostError("T0410", 'Argument 1 of function "uuid" does not match function signature')
    return str(uuid.uuid4())


def fn_parse(text: Any = None, *extra: Any) -> Any:
    """``$parse(json)``: the value of a JSON text (Step Functions' stand-in for ``$eval``)."""
    if extra:
        raise HostError("T0410", 'Argument 2 of function "parse" does not match function signature')
    if not isinstance(text, str):
        raise _signature_error(1, "parse")
    try:
        return _json.loads(text)
    except ValueError:
        raise HostError("D3137", f"The $parse function could not parse the JSON text: {text}") from None


def fn_eval(*_args: Any) -> Any:
    """``$eval`` is not available in Step Functions: it behaves as an unknown function."""
    raise HostError("T1006", "Attempted to invoke a non-function")


def fn_millis(*extra: Any) -> Any:
    """``$millis()`` on the injected clock."""
    if extra:
        raise HostError("T0410", 'Argument 1 of function "millis" does not match function signature')
    return current_millis()


class _Formatter(threading.local):
    expr: Any = None


_formatter = _Formatter()


def fn_now(picture: Any = None, timezone: Any = None, *extra: Any) -> Any:
    """``$now([picture [, timezone]])`` on the injected clock."""
    if extra:
        raise HostError("T0410", 'Argument 3 of function "now" does not match function signature')
    ms = current_millis()
    if picture is None and timezone is None:
        stamp = datetime.fromtimestamp(ms / 1000, tz=UTC)
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    if _formatter.expr is None:
        _formatter.expr = jsonatapy.compile("$fromMillis($ms, $p, $tz)")
    bindings: dict[str, Any] = {"ms": ms}
    if picture is not None:
        bindings["p"] = picture
    if timezone is not None:
        bindings["tz"] = timezone
    return _formatter.expr.evaluate(None, bindings)


def fn_fix15(value: Any = None) -> Any:
    """A number rounded to 15 significant digits, as JSONata 2.0.6 ``$string`` prints
    numbers (``Number(n.toPrecision(15))``)."""
    if not _is_number(value) or not math.isfinite(value):
        return value
    rounded = float(f"{value:.15g}")
    return int(rounded) if rounded.is_integer() and abs(rounded) < 2**53 else rounded


# Names registered on every compiled copy: (name, function, replaces a built-in).
HOST_FUNCTIONS: tuple[tuple[str, Callable[..., Any], bool], ...] = (
    ("partition", fn_partition, False),
    ("range", fn_range, False),
    ("hash", fn_hash, False),
    ("uuid", fn_uuid, False),
    ("parse", fn_parse, False),
    ("__lgfix15", fn_fix15, False),
    ("random", fn_random, True),
    ("now", fn_now, True),
    ("millis", fn_millis, True),
    ("eval", fn_eval, True),
)

# JSONata 2.0.6 `$string`, emulated where jsonatapy (2.2) differs: numbers with more
# than 15 significant digits. Bound in front of expressions that call `$string(...)`.
STRING_PRELUDE = "$__lgstring := function($v, $p){ $string($type($v) = 'number' ? $__lgfix15($v) : $v, $p) };"
