"""Short, readable text for what a diagram shows: Choice rules, Task resources, Waits.

Labels are for people: long expressions are shortened with an ellipsis and
wrapped, so a diagram stays readable whatever the definition holds.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping
from typing import Any

__all__ = ["choice_rule_text", "shorten", "state_detail", "wrap"]

_MAX = 72
_WIDTH = 30

_OPERATORS = {
    "Equals": "==",
    "LessThan": "<",
    "GreaterThan": ">",
    "LessThanEquals": "<=",
    "GreaterThanEquals": ">=",
    "Matches": "matches",
}
_TYPE_TESTS = {
    "IsPresent": "present",
    "IsNull": "null",
    "IsString": "a string",
    "IsNumeric": "numeric",
    "IsBoolean": "a boolean",
    "IsTimestamp": "a timestamp",
}
_KINDS = ("String", "Numeric", "Timestamp", "Boolean")


def shorten(text: str, limit: int = _MAX) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def wrap(text: str, width: int = _WIDTH) -> str:
    """``text`` broken into lines of about ``width`` characters (long words are kept whole)."""
    lines = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines) or text


def _jsonata(text: str) -> str:
    inner = text.strip()
    if inner.startswith("{%") and inner.endswith("%}"):
        inner = inner[2:-2]
    return inner.strip()


def _operand(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, bool) else str(value).lower()


def _comparison(rule: Mapping[str, Any]) -> str | None:
    variable = str(rule.get("Variable", "?"))
    for key, value in rule.items():
        if key in _TYPE_TESTS:
            return f"{variable} is {'' if value else 'not '}{_TYPE_TESTS[key]}"
        for kind in _KINDS:
            if not key.startswith(kind):
                continue
            rest = key[len(kind) :]
            is_path = rest.endswith("Path")
            op = _OPERATORS.get(rest[:-4] if is_path else rest)
            if op is None:
                continue
            operand = str(value) if is_path else _operand(value)
            return f"{variable} {op} {operand}"
    return None


def _rule(rule: Any, depth: int) -> str:
    if not isinstance(rule, Mapping):
        return "?"
    if "Condition" in rule:
        condition = rule["Condition"]
        return _jsonata(condition) if isinstance(condition, str) else _operand(condition)
    for key, joiner in (("And", " and "), ("Or", " or ")):
        if key in rule and isinstance(rule[key], list):
            parts = [_rule(r, depth + 1) for r in rule[key]]
            text = joiner.join(parts)
            return f"({text})" if depth else text
    if "Not" in rule:
        return f"not ({_rule(rule['Not'], depth + 1)})"
    return _comparison(rule) or "?"


def choice_rule_text(rule: Any) -> str:
    """A Choice rule as a short condition: ``$.x > 10``, ``not ($.a is present)``, a JSONata expression.

    JSONPath rules are spelled with operators (``==``, ``<=``, ``matches``, ``and``);
    JSONata rules show their ``Condition`` without the ``{% %}`` delimiters.
    """
    return shorten(_rule(rule, 0))


def _resource(resource: str) -> str:
    if resource.startswith("arn:aws:states:::"):
        return resource[len("arn:aws:states:::") :]
    parts = resource.split(":")
    if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
        return f"lambda {parts[6]}"
    if len(parts) >= 7 and parts[2] == "states" and parts[5] == "activity":
        return f"activity {parts[6]}"
    return resource.rsplit(":", 1)[-1] if resource.startswith("arn:") else resource


def state_detail(state: Mapping[str, Any]) -> str:
    """A short second line for a state's box: its resource, how long it waits, its error."""
    kind = state.get("Type")
    detail = ""
    if kind == "Task" and isinstance(state.get("Resource"), str):
        detail = _resource(state["Resource"])
    elif kind == "Wait":
        for key, text in (("Seconds", "wait {}s"), ("Timestamp", "until {}")):
            if key in state:
                value = state[key]
                detail = text.format(_jsonata(value) if isinstance(value, str) else value)
        for key in ("SecondsPath", "TimestampPath"):
            if key in state:
                detail = f"wait {state[key]}"
    elif kind == "Fail" and isinstance(state.get("Error"), str):
        detail = _jsonata(state["Error"])
    elif kind == "Map":
        processor = state.get("ItemProcessor")
        config = processor.get("ProcessorConfig") if isinstance(processor, Mapping) else None
        mode = config.get("Mode") if isinstance(config, Mapping) else None
        detail = "distributed" if mode == "DISTRIBUTED" else "inline"
    return shorten(detail, 40)
