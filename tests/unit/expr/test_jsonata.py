"""Tests of the JSONata adapter: AWS-recorded cases, Step Functions' rules, the
functions Step Functions adds, threads, and a selection of the JSONata test suite."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from legato.errors import EvaluationError
from legato.expr.jsonata import (
    UNDEFINED,
    JsonataSyntaxError,
    compile_expression,
    compile_template,
    is_jsonata_string,
    unexpected_type_error,
)

CASES = Path(__file__).resolve().parents[4] / "shared" / "conformance" / "cases"
SUITE = Path(__file__).resolve().parents[2] / "data" / "jsonata_suite_subset.json"
STATES: dict[str, Any] = {"input": {"a": [1, 2], "n": None, "s": "x"}, "context": {"Execution": {"Id": "e1"}}}


def evaluate(
    text: str, states: dict[str, Any] | None = None, variables: dict[str, Any] | None = None, **kw: Any
) -> Any:
    return compile_expression(text).evaluate(
        STATES if states is None else states, variables or {}, field="Output", **kw
    )


def cause_of(text: str, **kw: Any) -> str:
    with pytest.raises(EvaluationError) as info:
        value = evaluate(text, **kw)
        if value is UNDEFINED:
            raise compile_expression(text).undefined_error("Output")
    assert info.value.name == "States.QueryEvaluationError"
    return str(info.value.cause)


# ------------------------------------------------------------------ AWS-recorded cases


def _single_pass_cases() -> list[Any]:
    """Executions of one JSONata Pass state with an Output: the Output is the result."""
    found = []
    for path in sorted(CASES.glob("executions/[ab]/*.json")):
        case = json.loads(path.read_text())
        definition = case.get("definition") or {}
        states = definition.get("States", {})
        if len(states) != 1:
            continue
        ((name, state),) = states.items()
        language = state.get("QueryLanguage", definition.get("QueryLanguage"))
        if language != "JSONata" or state.get("Type") != "Pass" or "Output" not in state:
            continue
        if set(state) - {"Type", "Output", "End", "QueryLanguage", "Comment"}:
            continue
        found.append(pytest.param(name, state["Output"], case["input"], case["expected"], id=path.stem[-60:]))
    return found


AWS_CASES = _single_pass_cases() if CASES.is_dir() else []


@pytest.mark.skipif(not AWS_CASES, reason="conformance cases not available")
@pytest.mark.parametrize(("state", "output", "given", "expected"), AWS_CASES)
def test_recorded_pass_output(state: str, output: Any, given: Any, expected: dict[str, Any]) -> None:
    template = compile_template(output)
    states = {"input": given, "context": {}}
    if expected["status"] == "SUCCEEDED":
        assert template.evaluate(states, {}, field="Output") == expected["output"]
        return
    with pytest.raises(EvaluationError) as info:
        template.evaluate(states, {}, field="Output")
    assert info.value.name == expected["error"]
    prefix = re.match(
        r"An error occurred while executing the state '[^']+' \(entered at the event id #\d+\)\. ",
        expected["cause"],
    )
    assert prefix is not None
    assert info.value.cause == expected["cause"][prefix.end() :]


def test_recorded_case_count() -> None:
    if CASES.is_dir():
        assert len(AWS_CASES) >= 40


# ------------------------------------------------------------------------- basics


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{% 1 %}", True),
        ("{%1%}", True),
        (" {% 1 %}", False),
        ("{% 1 %} ", False),
        ("{% 1", False),
        ("1 %}", False),
        ("{%}", False),
        (1, False),
        (None, False),
        ("$.a", False),
    ],
)
def test_is_jsonata_string(value: Any, expected: bool) -> None:
    assert is_jsonata_string(value) is expected


def test_null_is_not_undefined() -> None:
    assert evaluate("$states.input.n") is None
    assert evaluate("null") is None
    assert evaluate("$states.input.missing") is UNDEFINED
    assert evaluate("$nothing") is UNDEFINED
    assert evaluate("[]") == []


def test_states_parts_and_variables() -> None:
    assert evaluate("$states.input.a[1]") == 2
    assert evaluate("$states.context.Execution.Id") == "e1"
    assert evaluate("$states") == STATES
    assert evaluate("$states.result", {"input": 1, "result": {"r": 1}}) == {"r": 1}
    assert evaluate("$x + $y", variables={"x": 1, "y": 2, "z": 3}) == 3
    assert evaluate("$count($states.input.a) + $n", variables={"n": 10}) == 12


def test_variables_lists_workflow_variables_only() -> None:
    expr = compile_expression("($t := $sum($items) + $bonus; $map($items, function($v){ $v * $t }))")
    assert expr.variables == frozenset({"items", "bonus"})
    assert compile_expression("$states.input.a").variables == frozenset()
    assert compile_expression("'$notavar' & $real").variables == frozenset({"real"})


def test_expression_text_is_trimmed_and_cached() -> None:
    assert compile_expression(" $a ").text == "$a"
    assert compile_expression("$a + 1") is compile_expression("$a + 1")


def test_shared_results_are_never_changed_in_place() -> None:
    """JSONata results may share dicts and lists with the input and the variables (no copy
    is made); the engine never changes a JSON value in place, so what one state read stays
    as it was while later states build on it (ResultPath, Assign, Parameters)."""
    import legato

    definition = {
        "StartAt": "Pick",
        "States": {
            "Pick": {
                "Type": "Pass",
                "QueryLanguage": "JSONata",
                "Assign": {"kept": "{% $states.input.obj %}"},
                "Output": "{% $states.input.obj %}",
                "Next": "Place",
            },
            "Place": {
                "Type": "Pass",
                "Result": "new",
                "ResultPath": "$.k[0]",
                "Next": "Both",
            },
            "Both": {
                "Type": "Pass",
                "QueryLanguage": "JSONata",
                "Output": {"now": "{% $states.input %}", "kept": "{% $kept %}"},
                "End": True,
            },
        },
    }
    result = legato.run(definition, {"obj": {"k": [1, 2]}})
    assert result.output == {"now": {"k": ["new", 2]}, "kept": {"k": [1, 2]}}
    entered = [
        json.loads(e["stateEnteredEventDetails"]["input"])
        for e in result.history
        if "stateEnteredEventDetails" in e
    ]
    assert entered == [{"obj": {"k": [1, 2]}}, {"k": [1, 2]}, {"k": ["new", 2]}]


def test_big_numbers() -> None:
    assert evaluate("$states.input.v", {"input": {"v": 2**70}}) == 2.0**70
    assert evaluate("$v + 1", variables={"v": 2**64}) == 2.0**64 + 1
    assert evaluate("$states.input.v", {"input": {"v": 2**62}}) == 2**62
    assert evaluate("1.5e300 * 2") == 3e300


def test_numbers_print_as_jsonata_2_0_6() -> None:
    # AWS runs JSONata 2.0.6: $string keeps 15 significant digits.
    assert evaluate("$string(1700000000123456)") == "1700000000123460"
    assert evaluate("$string(0.1 + 0.2)") == "0.3"
    assert evaluate("$string(5)") == "5"
    assert evaluate("$string('a')") == "a"
    assert evaluate("$string($nothing)") is UNDEFINED
    assert evaluate("$string({'a': 1}, true)") == '{\n  "a": 1\n}'
    assert evaluate("$map([1, 2], $string)") == ["1", "2"]


# ------------------------------------------------------------------- AWS messages


def test_undefined_messages() -> None:
    assert cause_of("$doesNotExist") == (
        "The JSONata expression '$doesNotExist' specified for the field 'Output' returned nothing (undefined)."
    )
    template = compile_template({"a": 1, "result": "{% $doesNotExist %}"})
    with pytest.raises(EvaluationError) as info:
        template.evaluate(STATES, {}, field="Output")
    assert info.value.cause == (
        "The JSONata expression '$doesNotExist' specified for the field 'Output/result' returned nothing (undefined)."
    )
    assert info.value.location == "Output/result"
    with pytest.raises(EvaluationError, match="'Arguments' returned nothing"):
        compile_template("{% $doesNotExist %}").evaluate(STATES, {}, field="Arguments")


def test_first_failing_expression_is_reported() -> None:
    template = compile_template({"a": "{% $states.input.s %}", "b": ["{% 1 + 'x' %}"], "c": "{% $none %}"})
    with pytest.raises(EvaluationError) as info:
        template.evaluate(STATES, {}, field="Arguments")
    assert info.value.cause == (
        "The JSONata expression '1 + 'x'' specified for the field 'Arguments/b/0' threw an error during "
        'evaluation. T2002: The right side of the "+" operator must evaluate to a number'
    )
    template = compile_template({"c": "{% $none %}", "b": "{% 1 + 'x' %}"})
    with pytest.raises(EvaluationError, match="'Arguments/c' returned nothing"):
        template.evaluate(STATES, {}, field="Arguments")


def test_runtime_error_message() -> None:
    assert cause_of("$randomSeeded($states.input.fst)") == (
        "The JSONata expression '$randomSeeded($states.input.fst)' specified for the field 'Output' threw an "
        "error during evaluation. T1006: Attempted to invoke a non-function"
    )
    assert cause_of("$number('x')").endswith('D3030: Unable to cast value to a number: "x"')
    assert cause_of("$error('stop')").endswith("threw an error during evaluation. D3137: stop")


def test_function_results_are_unsupported() -> None:
    assert cause_of("$fn := function($x){$x}") == (
        "The JSONata expression '$fn := function($x){$x}' specified for the field 'Output' returned an "
        "unsupported result type."
    )
    with pytest.raises(EvaluationError, match="'Output/f' returned an unsupported result type"):
        compile_template({"f": "{% $sum %}", "g": "{% 1 %}"}).evaluate(STATES, {}, field="Output")


def test_unexpected_type_error() -> None:
    error = unexpected_type_error("{'foo': 'bar'}", "Items", "array", {"foo": "bar"})
    assert error.cause == (
        "The JSONata expression '{'foo': 'bar'}' specified for the field 'Items' returned an unexpected result "
        "type. Expected 'array', but was 'object' for value: {\"foo\":\"bar\"}"
    )
    assert "but was 'boolean' for value: true" in str(unexpected_type_error("true", "Items", "array", True))
    assert "but was 'null' for value: null" in str(unexpected_type_error("null", "Items", "array", None))
    assert "but was 'string' for value: \"s\"" in str(unexpected_type_error("'s'", "Items", "array", "s"))


def test_syntax_errors() -> None:
    with pytest.raises(JsonataSyntaxError) as info:
        compile_expression("$foo(")
    assert info.value.code == "S0207"
    assert info.value.expression == "$foo("
    assert "S0207" in str(info.value) and "$foo(" in str(info.value)
    assert isinstance(info.value, ValueError)
    for text, code in [("", "S0207"), ("'abc", "S0101"), ("/* open", "S0106"), ("1 +", "S0207")]:
        with pytest.raises(JsonataSyntaxError) as info:
            compile_expression(text)
        assert info.value.code == code
    with pytest.raises(JsonataSyntaxError):
        compile_template({"ok": "{% 1 %}", "bad": "{% ) %}"})


# ------------------------------------------------------------------- templates


def test_constant_template_is_returned_as_is() -> None:
    value = {"a": [1, {"b": "$.not.a.path"}], "c": None, "d": "{% not closed"}
    template = compile_template(value)
    assert template.is_constant
    assert template.evaluate({}, {}, field="Output") == value
    assert compile_template(" {% 1 %}").evaluate({}, {}, field="Output") == " {% 1 %}"


def test_nested_template() -> None:
    template = compile_template(
        {
            "a": "{% $states.input.a %}",
            "b": ["{% $v %}", "lit", {"c": "{% $states.input.s & 'y' %}"}],
            "k": {"x": 1},
        }
    )
    assert template.variables == frozenset({"v"})
    assert [suffix for _, suffix in template.expressions] == ["/a", "/b/0", "/b/2/c"]
    out = template.evaluate(STATES, {"v": 7}, field="Output")
    assert out == {"a": [1, 2], "b": [7, "lit", {"c": "xy"}], "k": {"x": 1}}
    assert list(out) == ["a", "b", "k"]


def test_template_values_keep_their_shape() -> None:
    # Arrays are not flattened and singleton sequences are unwrapped as alone.
    states = {"input": {"a": [[1, 2]], "o": [{"x": 1}]}}
    template = compile_template(["{% $states.input.a %}", "{% $states.input.o.x %}", "{% null %}"])
    assert template.evaluate(states, {}, field="Output") == [[[1, 2]], 1, None]


def test_expressions_in_a_template_do_not_share_local_variables() -> None:
    template = compile_template({"a": "{% ($x := 1; $x) %}", "b": "{% $x %}"})
    assert template.evaluate({}, {"x": 5}, field="Output") == {"a": 1, "b": 5}


def test_expressions_that_cannot_take_states_as_document() -> None:
    # Shadowing $states, or using $$, falls back to binding $states as a variable.
    assert evaluate("($states := 5; $states)") == 5
    assert evaluate("$map([1], function($states){ $states + 1 })") == 2
    assert evaluate("$$") is UNDEFINED  # no document: the context is undefined
    template = compile_template(
        {"a": "{% $states.input.s %}", "b": "{% $map([1], function($states){ $states }) %}"}
    )
    assert template.evaluate(STATES, {}, field="Output") == {"a": "x", "b": 1}


def test_lexer_skips_strings_comments_and_regexes() -> None:
    assert evaluate("'$states.input' & \"$states\"") == "$states.input$states"
    assert evaluate("/* $states */ $states.input.s") == "x"
    assert evaluate("$contains('a$states', /\\$states/)") is True
    assert evaluate("$states.`$states`", {"input": 1, "$states": 2}) == 2
    assert evaluate("10 / 2 / 5") == 1


# ---------------------------------------------------------- Step Functions functions


def test_partition() -> None:
    assert evaluate("$partition([1, 2, 3, 4, 5], 2)") == [[1, 2], [3, 4], [5]]
    assert evaluate("$partition([0], 1)") == [[0]]
    assert "T0410" in cause_of("$partition('a', 1)")
    assert "D3137" in cause_of("$partition([1], 0)")


def test_range() -> None:
    assert evaluate("$range(0, 10, 2)") == [0, 2, 4, 6, 8, 10]
    assert evaluate("$range(0, 10, 3)") == [0, 3, 6, 9]
    assert evaluate("$range(1, 9, 9)") == 1
    assert evaluate("$range(5, 1, -2)") == [5, 3, 1]
    assert "D3137" in cause_of("$range(1, 2, 0)")
    assert "D3137" in cause_of("$range(1, 5000, 1)")


def test_hash() -> None:
    assert evaluate("$hash('input data', 'SHA-256')") == (
        "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"
    )
    assert evaluate("$hash('a', 'MD5')") == "0cc175b9c0f1b6a831c399e269772661"
    assert evaluate("$hash('a', 'SHA-1')") == "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8"
    assert len(evaluate("$hash('a', 'SHA-512')")) == 128
    assert "not supported" in cause_of("$hash('a', 'SHA-3')")


def test_random_uuid_parse() -> None:
    value = evaluate("$random()")
    assert 0 <= value < 1
    assert evaluate("$random(42)") == evaluate("$random(42)")
    assert evaluate("$random(1)") != evaluate("$random(2)")
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", evaluate("$uuid()")
    )
    assert evaluate("$parse($states.input.t)", {"input": {"t": '{"a": [1, null]}'}}) == {"a": [1, None]}
    assert evaluate("$parse('-0')") == 0
    assert "D3137" in cause_of("$parse('{')")


def test_eval_is_not_available() -> None:
    assert cause_of("$eval('1 + 1')").endswith("T1006: Attempted to invoke a non-function")


def test_now_and_millis_follow_the_clock() -> None:
    assert evaluate("$now()", now=0) == "1970-01-01T00:00:00.000Z"
    assert evaluate("$now()", now=1700000000.123) == "2023-11-14T22:13:20.123Z"
    assert evaluate("$millis()", now=1.5) == 1500
    assert evaluate("$now('[Y0001]-[M01]-[D01] [H01]:[m01]', '+0200')", now=0) == "1970-01-01 02:00"
    assert evaluate("$now() = $now() and $millis() = $millis()") is True
    assert evaluate("$toMillis($now())", now=12.345) == 12345
    real = evaluate("$millis()")
    assert real > 1_600_000_000_000


# ------------------------------------------------------------------------ threads


def test_expressions_work_from_many_threads() -> None:
    expr = compile_expression("$sum($states.input.a) + $k")
    template = compile_template({"s": "{% $sum($states.input.a) %}", "k": "{% $k %}"})
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for _ in range(200):
                assert expr.evaluate(STATES, {"k": k}, field="Output") == 3 + k
                assert template.evaluate(STATES, {"k": k}, field="Output") == {"s": 3, "k": k}
        except BaseException as exc:  # PanicException is a BaseException
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


# --------------------------------------------------------- the JSONata test suite

# Cases whose expected value Step Functions does not share, or where jsonatapy
# differs from node; each with the reason.
SUITE_DEVIATIONS: dict[str, str] = {}


def _suite_cases() -> list[Any]:
    if not SUITE.is_file():
        return []
    cases = json.loads(SUITE.read_text())["cases"]
    return [pytest.param(case, id=case["id"]) for case in cases]


@pytest.mark.parametrize("case", _suite_cases())
def test_jsonata_suite(case: dict[str, Any]) -> None:
    if case["id"] in SUITE_DEVIATIONS:
        pytest.skip(SUITE_DEVIATIONS[case["id"]])
    try:
        expr = compile_expression(case["expr"])
        value = expr.evaluate({}, case.get("bindings", {}), field="Output")
    except JsonataSyntaxError as exc:
        assert case.get("code") == exc.code
        return
    except EvaluationError as exc:
        assert "code" in case, exc.cause
        assert f"{case['code']}:" in str(exc.cause)
        return
    assert "code" not in case, value
    if case.get("undefined"):
        assert value is UNDEFINED
    else:
        assert value == case["result"]
