"""Plain JSONata paths evaluated in Python give what jsonatapy gives, or step aside."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from legato.errors import EvaluationError
from legato.expr import _jsonata_paths as paths
from legato.expr.jsonata import UNDEFINED, compile_expression, compile_template

DOC: dict[str, Any] = {
    "id": "a-1",
    "n": 7,
    "big": 2**60,
    "huge": 2**70,
    "whole": 2.0,
    "half": 1.5,
    "neg": -3,
    "none": None,
    "yes": True,
    "empty": [],
    "one": [1],
    "nested": [[1, 2], [3]],
    "rows": [{"m": 1, "errors": [{"message": "x"}]}, {"m": [2, 3], "errors": []}],
    "obj": {"x": 2.0, "y": [[1]], "deep": {"k": "v", "n": 2**70}},
    "odd key": {"a b": 1},
    "floats": {"x": 2.0, "l": [1.0, 2.5], "e": {}},
}

STEPS = [
    "id",
    "n",
    "big",
    "huge",
    "whole",
    "half",
    "neg",
    "none",
    "yes",
    "empty",
    "one",
    "nested",
    "rows",
    "obj",
    "missing",
    "`odd key`",
    "floats",
]
SUFFIXES = ["", "[0]", "[1]", "[5]", ".x", ".m", ".errors", ".errors[0].message", ".deep", ".deep.k", ".y[0]"]
PATHS = [f"$states.input.{s}{t}" for s, t in itertools.product(STEPS, SUFFIXES)] + [
    "$states.input",
    "$states.input.rows[0].errors[0].message",
    "$states.input.rows[1].errors[0].message",
    "$states.input.`odd key`.`a b`",
    "$states.context.Map.Item.Index",
    "$states.context.Map.Item.Value.m",
    "$states.result",
    "$states.errorOutput",
    "$v",
    "$v.id",
    "$v.rows[1].m",
    "$unbound",
    "$s",
    "$count($states.input.rows)",
    "$count($states.input.nested)",
    "$count($states.input.empty)",
    "$count($states.input.one)",
    "$count($states.input.obj)",
    "$count($states.input.id)",
    "$count($states.input.rows.m)",
    "$count($states.input.missing)",
    "$count( $v.rows[0].errors )",
]


def _slow(text: str, states: dict[str, Any], variables: dict[str, Any]) -> Any:
    """The expression's value through jsonatapy alone."""
    expr = compile_expression(text)
    program = expr._run
    return program.run(states, variables, None)[0]


STATES = {"input": DOC, "context": {"Map": {"Item": {"Index": 3, "Value": {"m": 9}}}}}
VARIABLES = {"v": DOC, "s": "text"}


@pytest.mark.parametrize("text", PATHS)
def test_a_fast_path_agrees_with_jsonatapy_or_steps_aside(text: str) -> None:
    fast = paths.compile_path(text)
    slow = _slow(text, STATES, VARIABLES)
    if fast is None:
        return
    value = fast(STATES, VARIABLES)
    if value is paths.MISS:
        return
    assert value == slow
    assert type(value) is type(slow)
    assert repr(value) == repr(slow)  # 2.0 against 2 and nested types included


def test_the_comparison_above_covers_many_fast_answers() -> None:
    fast = [
        p for p in map(paths.compile_path, PATHS) if p is not None and p(STATES, VARIABLES) is not paths.MISS
    ]
    assert len(fast) >= 25


def test_the_common_paths_take_the_fast_path() -> None:
    for text, expected in [
        ("$states.input.id", "a-1"),
        ("$states.input.rows[0].errors[0].message", "x"),
        ("$states.input.one", [1]),
        ("$states.input.nested[0]", [1, 2]),
        ("$states.context.Map.Item.Index", 3),
        ("$v.rows[1].m", [2, 3]),
        ("$s", "text"),
        ("$states.input.half", 1.5),
        ("$states.input.`odd key`.`a b`", 1),
        ("$count($states.input.rows)", 2),
        ("$count($states.input.nested)", 2),
        ("$count($states.input.empty)", 0),
    ]:
        fast = paths.compile_path(text)
        assert fast is not None, text
        assert fast(STATES, VARIABLES) == expected, text


def test_what_jsonata_would_change_goes_to_jsonatapy() -> None:
    for text in [
        "$states.input.rows.m",  # a field over an array maps and flattens
        "$states.input.missing",  # undefined
        "$states.input.id[0]",  # an index on a non-array
        "$states.input.empty[0]",
        "$states.input.whole",  # jsonatapy answers 2
        "$states.input.huge",
        "$states.input.obj",  # holds an integer beyond 64 bits
        "$unbound",
    ]:
        fast = paths.compile_path(text)
        assert fast is not None, text
        assert fast(STATES, VARIABLES) is paths.MISS, text


def test_what_is_not_a_plain_path_has_no_fast_path() -> None:
    for text in [
        "$states.input.true",
        "$states.input.id & 'x'",
        "$states",
        "$states.other",
        "$states.input[-1]",
        "$states.input.rows[m = 1]",
        "$count($states.input.rows) + 1",
        "$count($count($states.input.rows))",
        "$states.input. id",
        "$",
        "$$.id",
    ]:
        assert paths.compile_path(text) is None, text


def test_expressions_and_templates_give_the_same_values_and_errors_either_way() -> None:
    template = compile_template(
        {"id": "{% $states.input.id %}", "first": "{% $states.input.rows[0].errors[0].message %}", "c": 1}
    )
    assert template.evaluate(STATES, VARIABLES, field="Output") == {"id": "a-1", "first": "x", "c": 1}
    # a missing field falls through to jsonatapy, which names the field that gave nothing
    broken = compile_template({"id": "{% $states.input.id %}", "gone": "{% $states.input.missing %}"})
    with pytest.raises(EvaluationError) as caught:
        broken.evaluate(STATES, VARIABLES, field="Output")
    assert "'Output/gone'" in caught.value.cause or "Output/gone" in caught.value.cause
    assert compile_expression("$states.input.rows.m").evaluate(STATES, VARIABLES, field="Output") == [1, 2, 3]
    assert compile_expression("$states.input.whole").evaluate(STATES, VARIABLES, field="Output") == 2
    assert compile_expression("$states.input.missing").evaluate(STATES, VARIABLES, field="X") is UNDEFINED


@pytest.mark.parametrize("start", range(0, len(PATHS), 3))
def test_a_template_of_paths_is_built_as_jsonatapy_builds_it(start: int) -> None:
    texts = [PATHS[(start + k) % len(PATHS)] for k in range(3)]
    value = {
        "a": "{% " + texts[0] + " %}",
        "b": ["{% " + texts[1] + " %}", 1, {"c": "{% " + texts[2] + " %}"}],
        "k": "x",
    }
    template = compile_template(value)
    builder = template._builder
    if any(paths.parse_path(t) is None for t in texts):
        assert builder is None
        return
    assert builder is not None
    built = builder(STATES, VARIABLES)
    singles = [paths.compile_path(t) for t in texts]
    if any(f is not None and f(STATES, VARIABLES) is paths.MISS for f in singles):
        assert built is paths.MISS  # the builder steps aside exactly where a path does
        return
    assert built is not paths.MISS
    slow = [_slow(t, STATES, VARIABLES) for t in texts]
    expected = {"a": slow[0], "b": [slow[1], 1, {"c": slow[2]}], "k": "x"}
    assert built == expected
    assert repr(built) == repr(expected)


def test_an_index_on_a_string_is_not_a_character() -> None:
    template = compile_template({"first": "{% $s[0] %}", "id": "{% $states.input.id %}"})
    assert template._builder is not None
    assert template._builder(STATES, VARIABLES) is paths.MISS
    assert template.evaluate(STATES, VARIABLES, field="Output") == {"first": "text", "id": "a-1"}


def test_a_template_mixing_paths_and_other_expressions_reads_the_paths_in_python() -> None:
    value = {
        "key": "{% 'tmp/' & $states.input.id & '.json' %}",
        "body": "{% $states.input.rows %}",
        "n": "{% $count($states.input.rows) + 1 %}",
        "first": "{% $v.rows[0].errors[0].message %}",
    }
    template = compile_template(value)
    assert template._builder is None and template._some_plain
    expected = {"key": "tmp/a-1.json", "body": DOC["rows"], "n": 3, "first": "x"}
    assert template.evaluate(STATES, VARIABLES, field="Arguments") == expected
    # the other expressions alone went to jsonatapy
    assert template._rest_program is not None and template._rest_program.count == 2
    # a path that must go to jsonatapy after all sends the whole template there: an
    # index on an object is JSONata's singleton, which only jsonatapy answers
    got = template.evaluate(STATES, {"v": {"rows": [{"errors": {"message": "y"}}]}}, field="Arguments")
    assert got == {**expected, "first": "y"}


def test_a_failing_expression_beside_paths_is_named() -> None:
    template = compile_template({"body": "{% $states.input.rows %}", "bad": "{% $number('x') %}"})
    with pytest.raises(EvaluationError) as caught:
        template.evaluate(STATES, VARIABLES, field="Arguments")
    assert "Arguments/bad" in caught.value.cause or caught.value.location == "Arguments/bad"
