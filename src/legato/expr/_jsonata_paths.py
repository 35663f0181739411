"""Plain JSONata paths, evaluated in Python without a jsonatapy call.

Most expressions in real workflows only read a value: ``$states.input.id``,
``$locationId``, ``$states.result.Payload.items[0].name``. Handing the bindings to
jsonatapy and its result back costs far more than the lookup itself, so a path made only
of a variable (or ``$states`` and one of its parts), field names and non-negative index
predicates is compiled here into a chain of lookups.

The fast path answers only where the lookup is unambiguous: every field step lands on an
object holding the field, every index on an array long enough, and the value is one that
jsonatapy would hand back unchanged. Anything else (a field step over an array, which
JSONata maps and flattens; a missing field, which is *undefined*; an index on a non-array;
an integer too large for a 64-bit JSONata number; a whole float, which jsonatapy gives back
as an integer) answers :data:`MISS`, and the caller evaluates the expression with
jsonatapy as before, errors and all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson

from legato.expr._jsonata_support import STATES_PARTS


class _Miss:
    def __repr__(self) -> str:
        return "MISS"


MISS: Final = _Miss()
"""What a fast path answers when the expression must go to jsonatapy."""

PathFunction = Callable[[Mapping[str, Any], Mapping[str, Any]], Any]
"""``(states, variables) -> value or MISS``."""

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PATH = re.compile(rf"^\$({_NAME})((?:\.(?:{_NAME}|`[^`]+`)|\[[0-9]+\])*)$")
_COUNT = re.compile(r"^\$count\(\s*(\S+?)\s*\)$")
_STEP = re.compile(rf"\.({_NAME})|\.`([^`]+)`|\[([0-9]+)\]")
# After a dot these are literals or operators, not field names.
_NOT_FIELDS: Final = frozenset({"true", "false", "null", "and", "or", "in", "function"})
_INT_LIMIT: Final = 2**63


# Arrays and objects found safe lately, by id, each kept alive so that its id is not
# reused: values are never changed in place, and the same page of rows is often read
# by several states in turn.
_SAFE_LATELY: dict[int, Any] = {}
_SAFE_LATELY_SIZE: Final = 256


def _safe(value: Any) -> bool:
    """Whether jsonatapy would hand ``value`` back unchanged, nested values included."""
    if _SAFE_LATELY.get(id(value)) is value:
        return True
    try:
        # Fast, and enough: every integer within 53 bits, every key a string.
        orjson.dumps(value, option=orjson.OPT_STRICT_INTEGER)
    except TypeError:
        pass
    else:
        if len(_SAFE_LATELY) >= _SAFE_LATELY_SIZE:
            _SAFE_LATELY.clear()
        _SAFE_LATELY[id(value)] = value
        return True
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is str or t is bool or v is None:
            continue
        if t is int:
            if not -_INT_LIMIT <= v < _INT_LIMIT:
                return False
        elif t is float:
            continue
        elif t is dict:
            stack.extend(v.values())
        elif t is list:
            stack.extend(v)
        else:
            return False
    return True


def _top_safe(value: Any) -> bool:
    t = type(value)
    if t is str or t is bool or value is None:
        return True
    if t is int:
        return bool(-_INT_LIMIT <= value < _INT_LIMIT)
    if t is float:
        # a whole float comes back from jsonatapy as an integer: let it say so
        return not value.is_integer()
    return _safe(value)


class PlainPath:
    """A parsed plain path: where it starts, its steps (field names and indexes), and
    whether the expression is ``$count()`` of it."""

    __slots__ = ("count", "from_states", "root", "steps")

    def __init__(
        self, root: str, steps: tuple[str | int, ...], from_states: bool, count: bool = False
    ) -> None:
        self.root = root
        self.steps = steps
        self.from_states = from_states
        self.count = count


def parse_path(text: str) -> PlainPath | None:
    """The plain path ``text`` (already trimmed) stands for, or ``None`` when it is not one.
    ``$count(PATH)`` counts too: of an array, its length (anything else goes to jsonatapy)."""
    counted = _COUNT.match(text)
    if counted is not None:
        inner = parse_path(counted.group(1))
        if inner is None or inner.count:
            return None
        return PlainPath(inner.root, inner.steps, inner.from_states, count=True)
    match = _PATH.match(text)
    if match is None:
        return None
    root = match.group(1)
    steps: list[str | int] = []
    for step in _STEP.finditer(match.group(2)):
        name, quoted, index = step.groups()
        if name is not None:
            if name in _NOT_FIELDS:
                return None
            steps.append(name)
        elif quoted is not None:
            steps.append(quoted)
        else:
            steps.append(int(index))
    if root == "states":
        if not steps or steps[0] not in STATES_PARTS:
            return None
        part = steps[0]
        assert isinstance(part, str)
        return PlainPath(part, tuple(steps[1:]), True)
    return PlainPath(root, tuple(steps), False)


def compile_path(text: str) -> PathFunction | None:
    """The fast path of expression ``text`` (already trimmed), or ``None`` when it is not
    a plain path."""
    path = parse_path(text)
    return None if path is None else compile_builder(("e", 0), [path])


def compile_builder(node: tuple[str, Any], paths: list[PlainPath]) -> PathFunction:
    """A function building a template's value from its plain paths in one call:
    ``node`` is the template's tree (``("c", value)`` constant, ``("e", i)`` the i-th
    path, ``("d", pairs)`` object, ``("l", items)`` array). It answers :data:`MISS`
    wherever one of its paths would.

    The function is generated as Python source, as :mod:`dataclasses` does: the lookups
    and the value's construction are then plain subscripts and literals.
    """
    constants: list[Any] = []
    lines = ["def build(states, variables):", "    try:"]
    for i, path in enumerate(paths):
        ref = f"{'states' if path.from_states else 'variables'}[{path.root!r}]"
        for step in path.steps:
            if isinstance(step, int):
                # `"text"[0]` is a character: only an array may be indexed.
                lines.append(f"        v{i} = {ref}")
                lines.append(f"        if type(v{i}) is not list: return MISS")
                ref = f"v{i}[{step}]"
            else:
                ref = f"{ref}[{step!r}]"
        lines.append(f"        v{i} = {ref}")
        if path.count:
            lines.append(f"        if type(v{i}) is not list: return MISS")
            lines.append(f"        v{i} = len(v{i})")
    lines.append("    except (KeyError, TypeError, IndexError):")
    lines.append("        return MISS")
    for i, path in enumerate(paths):
        if not path.count:
            lines.append(f"    if type(v{i}) is not str and not top_safe(v{i}): return MISS")

    def literal(n: tuple[str, Any]) -> str:
        kind, payload = n
        if kind == "c":
            constants.append(payload)
            return f"C[{len(constants) - 1}]"
        if kind == "e":
            return f"v{payload}"
        if kind == "d":
            return "{" + ", ".join(f"{key!r}: {literal(child)}" for key, child in payload) + "}"
        return "[" + ", ".join(literal(child) for child in payload) + "]"

    lines.append(f"    return {literal(node)}")
    namespace: dict[str, Any] = {"MISS": MISS, "top_safe": _top_safe, "C": constants}
    # the source holds only names parsed above, written with repr()
    exec("\n".join(lines), namespace)
    build: PathFunction = namespace["build"]
    return build
