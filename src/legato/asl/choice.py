"""Choice rules, compiled into predicates once.

A JSONPath rule becomes a function of the :class:`Scope`; a JSONata rule keeps
its compiled ``Condition`` for the runtime to evaluate with ``$states``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from legato.errors import EvaluationError
from legato.expr.jsonata import JsonataTemplate
from legato.expr.jsonata import compile_template as compile_jsonata
from legato.expr.paths import PathNotFound, VariableNotFound, compile_path
from legato.expr.scope import Scope
from legato.expr.template import Template, compile_template

Predicate = Callable[[Scope], bool]


@dataclass(frozen=True, slots=True)
class ChoiceRule:
    """A top-level Choice rule: a test and where it leads."""

    next: str | None
    test: Predicate | None = None
    condition: JsonataTemplate | None = None
    assign: Template | JsonataTemplate | None = None
    output: JsonataTemplate | None = None


_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


@lru_cache(maxsize=1024)
def parse_timestamp(value: str) -> datetime | None:
    """An RFC 3339 timestamp (with offset), or None."""
    if not _TS.match(value):
        return None
    text = value.replace("Z", "+00:00")
    m = re.match(r"^(.*T\d{2}:\d{2}:\d{2})\.(\d+)(.*)$", text)
    if m:
        # Python accepts at most 6 fractional digits.
        text = f"{m.group(1)}.{m.group(2)[:6].ljust(6, '0')}{m.group(3)}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


@lru_cache(maxsize=1024)
def _wildcard(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _string_cmp(op: str) -> Callable[[Any, Any], bool]:
    def cmp(a: Any, b: Any) -> bool:
        if not isinstance(a, str) or not isinstance(b, str):
            return False
        return _ORDER[op](a, b)

    return cmp


def _numeric_cmp(op: str) -> Callable[[Any, Any], bool]:
    def cmp(a: Any, b: Any) -> bool:
        if not _is_number(a) or not _is_number(b):
            return False
        return _ORDER[op](a, b)

    return cmp


def _timestamp_cmp(op: str) -> Callable[[Any, Any], bool]:
    def cmp(a: Any, b: Any) -> bool:
        if not isinstance(a, str) or not isinstance(b, str):
            return False
        ta, tb = parse_timestamp(a), parse_timestamp(b)
        if ta is None or tb is None:
            return False
        return _ORDER[op](ta, tb)

    return cmp


def _boolean_equals(a: Any, b: Any) -> bool:
    return isinstance(a, bool) and isinstance(b, bool) and a == b


def _string_matches(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and _wildcard(b).fullmatch(a) is not None


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "GreaterThan": lambda a, b: a > b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThanEquals": lambda a, b: a >= b,
}

COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {"BooleanEquals": _boolean_equals}
for _suffix in _ORDER:
    COMPARATORS["String" + _suffix] = _string_cmp(_suffix)
    COMPARATORS["Numeric" + _suffix] = _numeric_cmp(_suffix)
    COMPARATORS["Timestamp" + _suffix] = _timestamp_cmp(_suffix)
COMPARATORS["StringMatches"] = _string_matches


def _type_test(op: str) -> Callable[[Any], bool]:
    if op == "IsNull":
        return lambda v: v is None
    if op == "IsNumeric":
        return _is_number
    if op == "IsString":
        return lambda v: isinstance(v, str)
    if op == "IsBoolean":
        return lambda v: isinstance(v, bool)
    if op == "IsTimestamp":
        return lambda v: isinstance(v, str) and parse_timestamp(v) is not None
    raise ValueError(op)


TYPE_TESTS = ("IsNull", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")


def _variable_reader(text: str) -> Callable[[Scope], Any]:
    path = compile_path(text)

    def read(scope: Scope) -> Any:
        try:
            return path.resolve(scope)
        except (PathNotFound, VariableNotFound):
            raise EvaluationError(
                "States.Runtime",
                f"Invalid path '{text}': The choice state's condition path references an invalid value.",
                "Variable",
            ) from None

    return read


def compile_predicate(rule: dict[str, Any]) -> Predicate:
    """The predicate of a JSONPath Choice rule (boolean expression)."""
    if "And" in rule:
        subs = tuple(compile_predicate(r) for r in rule["And"])
        return lambda scope: all(p(scope) for p in subs)
    if "Or" in rule:
        subs = tuple(compile_predicate(r) for r in rule["Or"])
        return lambda scope: any(p(scope) for p in subs)
    if "Not" in rule:
        sub = compile_predicate(rule["Not"])
        return lambda scope: not sub(scope)
    variable = rule.get("Variable")
    if not isinstance(variable, str):
        raise ValueError("a Choice rule needs a Variable")
    if "IsPresent" in rule:
        path = compile_path(variable)
        want = bool(rule["IsPresent"])

        def present(scope: Scope) -> bool:
            try:
                path.resolve(scope)
            except (PathNotFound, VariableNotFound):
                return not want
            return want

        return present
    read = _variable_reader(variable)
    for op in TYPE_TESTS:
        if op in rule:
            test = _type_test(op)
            want_type = bool(rule[op])
            return lambda scope: test(read(scope)) == want_type
    for key, operand in rule.items():
        if key.endswith("Path") and key[:-4] in COMPARATORS:
            cmp = COMPARATORS[key[:-4]]
            other = _variable_reader(operand)
            return lambda scope: cmp(read(scope), other(scope))
        if key in COMPARATORS:
            cmp = COMPARATORS[key]
            const = operand
            return lambda scope: cmp(read(scope), const)
    raise ValueError(f"no comparison operator in Choice rule {sorted(rule)}")


def compile_choice_rule(raw: dict[str, Any], jsonata: bool) -> ChoiceRule:
    """Compiles one entry of a Choice state's ``Choices``."""
    assign_raw = raw.get("Assign")
    assign: Template | JsonataTemplate | None = None
    if assign_raw is not None:
        assign = compile_jsonata(assign_raw) if jsonata else compile_template(assign_raw)
    if jsonata:
        return ChoiceRule(
            next=raw.get("Next"),
            condition=compile_jsonata(raw.get("Condition")),
            assign=assign,
            output=compile_jsonata(raw["Output"]) if "Output" in raw else None,
        )
    return ChoiceRule(next=raw.get("Next"), test=compile_predicate(raw), assign=assign)
