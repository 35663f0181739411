"""Intrinsic functions: the AWS-recorded cases, then each function on its own."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from legato.errors import EvaluationError
from legato.expr.intrinsics import (
    FUNCTION_NAMES,
    Intrinsic,
    IntrinsicSyntaxError,
    compile_intrinsic,
    is_intrinsic,
)
from legato.expr.paths import compile_path
from legato.expr.scope import Scope

CASES = Path(__file__).resolve().parents[3].parent / "shared" / "conformance" / "cases"


def run(text: str, input: Any = None, context: Any = None, **variables: Any) -> Any:
    return compile_intrinsic(text).evaluate(Scope(input, context or {}, variables))


def fails(text: str, input: Any = None, context: Any = None, **variables: Any) -> EvaluationError:
    with pytest.raises(EvaluationError) as info:
        run(text, input, context, **variables)
    assert info.value.name == "States.Runtime"
    assert info.value.cause is not None
    assert info.value.cause.startswith(f"The function '{text}' had the following error: ")
    return info.value


def rejects(text: str) -> IntrinsicSyntaxError:
    with pytest.raises(IntrinsicSyntaxError) as info:
        compile_intrinsic(text)
    return info.value


# --- the AWS-recorded execution cases -------------------------------------------------
# A tiny interpreter for machines made only of Pass, Succeed and Fail states
# (no variables), enough to replay the recorded intrinsic cases end to end.

_SIMPLE_TYPES = {"Pass", "Succeed", "Fail"}


def _uses_intrinsics(value: Any) -> bool:
    if isinstance(value, dict):
        return any(
            (isinstance(v, str) and (k.endswith(".$") or k.endswith("Path")) and is_intrinsic(v))
            or _uses_intrinsics(v)
            for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_uses_intrinsics(v) for v in value)
    return False


def _has_expressions(value: Any) -> bool:
    if isinstance(value, dict):
        return any(k.endswith(".$") or _has_expressions(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_expressions(v) for v in value)
    return False


def _replayable(case: dict[str, Any]) -> bool:
    definition = case.get("definition")
    if not isinstance(definition, dict) or "QueryLanguage" in definition:
        return False
    states = definition.get("States", {}).values()
    # Assign is replayed only when it assigns constants: no question of what its '$' means.
    if not all(
        s.get("Type") in _SIMPLE_TYPES and "QueryLanguage" not in s and not _has_expressions(s.get("Assign"))
        for s in states
    ):
        return False
    return case["expected"]["status"] in ("SUCCEEDED", "FAILED") and _uses_intrinsics(definition)


def _recorded_cases() -> list[Path]:
    if not CASES.is_dir():
        return []
    found = []
    for path in sorted((CASES / "executions").glob("*/*.json")):
        text = path.read_text()
        if "States." in text and _replayable(json.loads(text)):
            found.append(path)
    return found


RECORDED = _recorded_cases()


def _template(value: Any, scope: Scope) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key.endswith(".$") and isinstance(item, str):
                out[key[:-2]] = _expression(item, scope)
            else:
                out[key] = _template(item, scope)
        return out
    if isinstance(value, list):
        return [_template(item, scope) for item in value]
    return value


def _expression(text: str, scope: Scope) -> Any:
    if is_intrinsic(text):
        return compile_intrinsic(text).evaluate(scope)
    return compile_path(text).resolve(scope)


def _replay(case: dict[str, Any]) -> tuple[str, Any]:
    """Runs the case's machine; returns ("SUCCEEDED", output) or ("FAILED", (error, cause))."""
    definition, value = case["definition"], case["input"]
    names = case["names"]
    machine = names["state_machine_name"]
    context: dict[str, Any] = {
        "Execution": {"Input": value, "Name": names["execution_name"], "RoleArn": "snf_role_arn"},
        "StateMachine": {
            "Id": f"arn:<partition>:states:<region>:111111111111:stateMachine:{machine}",
            "Name": machine,
        },
    }
    variables: dict[str, Any] = {}
    name = definition["StartAt"]
    while True:
        state = definition["States"][name]
        context["State"] = {"Name": name, "RetryCount": 0}
        scope = Scope(value, context, variables)
        if state["Type"] == "Fail":
            error = _expression(state["ErrorPath"], scope) if "ErrorPath" in state else state.get("Error")
            cause = _expression(state["CausePath"], scope) if "CausePath" in state else state.get("Cause")
            return "FAILED", (error, cause)
        effective = compile_path(state["InputPath"]).resolve(scope) if state.get("InputPath") else value
        if state["Type"] == "Pass":
            if "Parameters" in state:
                result = _template(state["Parameters"], Scope(effective, context, variables))
            else:
                result = state.get("Result", effective)
            result_path = state.get("ResultPath", "$")
            value = value if result_path is None else compile_path(result_path).assign(value, result)
        else:
            value = effective
        variables = {**variables, **state.get("Assign", {})}
        if state.get("OutputPath"):
            value = compile_path(state["OutputPath"]).resolve(Scope(value, context, {}))
        if state.get("End") or state["Type"] == "Succeed":
            return "SUCCEEDED", value
        name = state["Next"]


def _normalise(case: dict[str, Any], output: Any) -> Any:
    """The snapshot's own normalisation, applied to our output."""
    transformers = json.dumps(case.get("normalisation", {}).get("test_specific_transformers", []))
    if "RandomNumberGenerated" in transformers and isinstance(output, dict):
        assert isinstance(output["FunctionResult"], int)
        output = {**output, "FunctionResult": "RandomNumberGenerated"}
    if isinstance(output, str) and output.startswith("{"):
        output = json.loads(output)
    return _number_uuids(output, {})


def _number_uuids(value: Any, seen: dict[str, str], key: str = "") -> Any:
    """UUIDs under keys ending in 'id' become <uuid:N>, as the snapshots record them."""
    if isinstance(value, dict):
        return {k: _number_uuids(v, seen, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_number_uuids(v, seen, key) for v in value]
    if isinstance(value, str) and key.lower().endswith("id"):
        try:
            uuid.UUID(value)
        except ValueError:
            return value
        return seen.setdefault(value, f"<uuid:{len(seen) + 1}>")
    return value


@pytest.mark.skipif(not RECORDED, reason="conformance cases not available")
@pytest.mark.parametrize("path", RECORDED, ids=[p.stem[:80] for p in RECORDED])
def test_recorded_execution(path: Path) -> None:
    case = json.loads(path.read_text())
    expected = case["expected"]
    status, result = _replay(case)
    assert status == expected["status"]
    if status == "SUCCEEDED":
        assert _normalise(case, result) == expected["output"]
    else:
        assert result == (expected["error"], expected["cause"])


def test_enough_recorded_cases_replay() -> None:
    if not CASES.is_dir():
        pytest.skip("conformance cases not available")
    # Guards the case filter: nearly all recorded intrinsic cases are simple machines.
    assert len(RECORDED) >= 120


def _rejected_intrinsics() -> list[tuple[str, str]]:
    """The `.$` values AWS rejected at CreateStateMachine as invalid intrinsic calls."""
    if not CASES.is_dir():
        return []
    found = []
    for path in sorted((CASES / "validation_errors").glob("*/*.json")):
        case = json.loads(path.read_text())
        message = json.dumps(case.get("expected"))
        if "must be a valid JSONPath or a valid intrinsic function call" not in message:
            continue
        definition = case.get("request", {}).get("definition")
        if isinstance(definition, str):
            definition = json.loads(definition)
        for state in (definition or {}).get("States", {}).values():
            for key, value in (state.get("Parameters") or {}).items():
                if key.endswith(".$") and isinstance(value, str) and value.startswith("States."):
                    found.append((path.stem[:60], value))
    return found


REJECTED = _rejected_intrinsics()


@pytest.mark.skipif(not REJECTED, reason="conformance cases not available")
@pytest.mark.parametrize(("case", "text"), REJECTED, ids=[c for c, _ in REJECTED])
def test_recorded_validation_rejects(case: str, text: str) -> None:
    error = rejects(text)
    assert "escape" in error.reason


# --- parsing ------------------------------------------------------------------------


def test_is_intrinsic() -> None:
    assert is_intrinsic("States.Format('x')")
    assert is_intrinsic("States.Nope(")
    assert is_intrinsic("  States.UUID()")
    assert not is_intrinsic("$.States.Format")
    assert not is_intrinsic("States.Format")
    assert not is_intrinsic("States.('x')")
    assert not is_intrinsic("")


def test_compile_is_cached_and_keeps_text() -> None:
    first = compile_intrinsic("States.Array(1, 2)")
    assert first is compile_intrinsic("States.Array(1, 2)")
    assert isinstance(first, Intrinsic)
    assert first.text == "States.Array(1, 2)"


def test_eighteen_functions() -> None:
    assert len(FUNCTION_NAMES) == 18


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("States.Array('a', -1, 2.5, 1e3, true, false, null)", ["a", -1, 2.5, 1000.0, True, False, None]),
        ("States.Array( 'a' ,\n 1 )", ["a", 1]),
        ("States.Array()", []),
        ("States.Array('it\\'s', '\\{\\}', 'back\\\\slash')", ["it's", "{}", "back\\slash"]),
        ("States.Array('(a, b)', 'x)')", ["(a, b)", "x)"]),
        ("States.Array('{\"a\": 1}')", ['{"a": 1}']),
        ("States.Array($)", [{"a": 1, "b,c": [1, 2]}]),
        ("States.Array($['b,c'], $.b\\,c)", [[1, 2], None]),
    ],
)
def test_literals_and_paths(text: str, expected: Any) -> None:
    if "\\," in text:
        rejects(text)  # a backslash is no escape in a path
        return
    assert run(text, {"a": 1, "b,c": [1, 2]}) == expected


def test_path_kinds() -> None:
    context = {"Execution": {"Name": "run-1"}}
    assert run("States.Array($.a, $$.Execution.Name, $v, $v.x)", {"a": 1}, context, v={"x": 2}) == [
        1,
        "run-1",
        {"x": 2},
        2,
    ]


def test_query_path_argument() -> None:
    items = {"items": [{"id": 1, "ok": True}, {"id": 2, "ok": False}, {"id": 3, "ok": True}]}
    assert run("States.ArrayLength($.items[?(@.ok == true)])", items) == 2
    # A query that matches nothing is an empty list, not a missing argument.
    assert run("States.ArrayLength($.items[*].nope)", items) == 0


def test_nested_calls() -> None:
    text = "States.ArrayGetItem(States.StringSplit($.arn, ':'), States.MathAdd(States.ArrayLength(States.StringSplit($.arn, ':')), -1))"
    assert run(text, {"arn": "arn:aws:states:us-east-1:1:stateMachine:Demo"}) == "Demo"


def test_nesting_limit() -> None:
    ten = "States.Array(" * 10 + ")" * 10
    assert run(ten) == [[[[[[[[[[]]]]]]]]]]
    assert "nested at most 10" in rejects("States.Array(" * 11 + ")" * 11).reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("States.Nope()", "unknown function 'States.Nope'"),
        ("States.format('x')", "unknown function 'States.format'"),
        ("States.Array(1,)", "expected an argument"),
        ("States.Array(,1)", "expected an argument"),
        ("States.Array(1 2)", "expected ',' or ')'"),
        ("States.Array(1", "missing ')'"),
        ("States.Array(1) x", "unexpected text after"),
        ("States.Array('abc)", "unterminated string"),
        ("States.Array('a\\\"b')", "invalid escape sequence '\\\"'"),
        ("States.Array('a\\nb')", "invalid escape sequence '\\n'"),
        ("States.Array(01)", "invalid number"),
        ("States.Array(1.)", "invalid number"),
        ("States.Array(-)", "invalid number"),
        ("States.Array(True)", "expected an argument"),
        ("States.Array(nullx)", "expected an argument"),
        ("States.Array($.a[)", "invalid path argument"),
        ('States.Array("x")', "expected an argument"),
        ("States.UUID(1)", "takes exactly 0 argument(s), but 1 was given"),
        ("States.Format()", "takes at least 1 argument(s), but 0 were given"),
        ("States.MathRandom(1)", "takes 2 to 3 argument(s)"),
        ("States.ArrayGetItem($.a)", "takes exactly 2 argument(s)"),
        ("States.MathAdd('1', 2)", "argument 1 of States.MathAdd must be an integer, but it is a string"),
        ("States.ArrayLength('abc')", "argument 1 of States.ArrayLength must be an array"),
        ("States.JsonMerge($.a, 1, false)", "argument 2 of States.JsonMerge must be a JSON object"),
        ("States.JsonMerge($.a, $.b, 'false')", "must be a boolean"),
        ("States.JsonMerge($.a, $.b, true)", "deep merging is not supported"),
        ("States.ArrayPartition($.a, 0)", "chunk size must be a positive integer"),
        ("States.ArrayGetItem($.a, -1)", "index must not be negative"),
        ("States.ArrayRange(1, 5, 0)", "step must not be 0"),
        ("States.Hash('x', 'SHA-3')", "unsupported algorithm 'SHA-3'"),
        ("States.Hash('x', 'sha-256')", "unsupported algorithm"),
        ("States.JsonToString('x')", "must be a path"),
        ("States.JsonToString(States.Array())", "must be a path"),
        ("States.Format(1)", "must be a string"),
        ("States.Format('{} {}', 1)", "2 '{}' placeholder(s) but 1 value argument(s)"),
        ("States.Format('{}')", "1 '{}' placeholder(s) but 0 value argument(s)"),
        ("States.Format('a {', 1)", "matching '}' not found for '{'"),
        ("States.Format('{\"a\": {}}', 1)", "matching '}' not found for '{'"),
        ("States.StringSplit($.a, 1)", "must be a string"),
    ],
)
def test_syntax_errors(text: str, reason: str) -> None:
    error = rejects(text)
    assert reason in error.reason
    assert error.text == text
    assert text in str(error) and "at character" in str(error)


def test_literal_length_limits_are_static() -> None:
    long = "a" * 10_001
    assert "10000 characters" in rejects(f"States.Base64Encode('{long}')").reason
    assert "10000 characters" in rejects(f"States.Hash('{long}', 'MD5')").reason
    assert run(f"States.Base64Encode('{'a' * 10_000}')").startswith("YWFh")


# --- runtime failures -----------------------------------------------------------------


def test_missing_path_argument_cause() -> None:
    error = fails("States.Format('{}', $.nope)", {"other": 1})
    assert error.cause == (
        "The function 'States.Format('{}', $.nope)' had the following error: "
        "The JsonPath argument for the field '$.nope' could not be found in the input '{\"other\":1}'"
    )


def test_missing_argument_names_the_whole_call_and_context_path() -> None:
    text = "States.Format('{}', States.ArrayLength($$.Nope.Deep))"
    error = fails(text, {"other": 1}, {"State": {}})
    assert error.cause == (
        f"The function '{text}' had the following error: "
        "The JsonPath argument for the field '$.Nope.Deep' could not be found in the input '{\"other\":1}'"
    )


@pytest.mark.parametrize(
    "text",
    [
        "States.Array($.items[5])",
        "States.Array($.items[0].x)",
        "States.Array($.other[0])",
        "States.Array($undefined)",
        "States.Array($v.nope)",
    ],
)
def test_missing_arguments(text: str) -> None:
    error = fails(text, {"items": [1, 2], "other": 1}, v={"x": 1})
    assert "could not be found in the input" in (error.cause or "")


def test_explicit_null_is_not_missing() -> None:
    assert run("States.Format('{}', $.n)", {"n": None}) == "null"


@pytest.mark.parametrize(
    ("text", "input", "detail"),
    [
        (
            "States.ArrayLength($.s)",
            {"s": "abc"},
            "argument 1 of States.ArrayLength must be an array, but it is a string",
        ),
        ("States.MathAdd($.s, 1)", {"s": True}, "must be an integer, but it is a boolean"),
        ("States.MathAdd($.s, 1)", {"s": None}, "must be an integer, but it is null"),
        ("States.StringToJson($.s)", {"s": {}}, "must be a string, but it is an object"),
        ("States.Format($.s, 1)", {"s": []}, "must be a string, but it is an array"),
        ("States.JsonMerge($.a, $.b, false)", {"a": {}, "b": [1]}, "argument 2 of States.JsonMerge"),
    ],
)
def test_wrong_types_at_runtime(text: str, input: Any, detail: str) -> None:
    error = fails(text, input)
    cause = error.cause or ""
    assert f"had the following error: Invalid arguments in {text.split('(')[0]}: argument " in cause
    assert detail in cause


# --- States.Format ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("", ""),
        ("x", "x"),
        (None, "null"),
        (True, "true"),
        (1, "1"),
        (-7, "-7"),
        (1.1, "1.1"),
        (1.0, "1.0"),
        (0.001, "0.001"),
        (0.0001, "1.0E-4"),
        (1234567.0, "1234567.0"),
        (1e7, "1.0E7"),
        (1.5e20, "1.5E20"),
        (-2.5e-7, "-2.5E-7"),
        ({"Arg1": 1, "Arg2": []}, "{Arg1=1, Arg2=[]}"),
        ([1, "a", None, {"k": [True]}], "[1, a, null, {k=[true]}]"),
    ],
)
def test_format_values(value: Any, text: str) -> None:
    assert run("States.Format('<{}>', $.v)", {"v": value}) == f"<{text}>"


def test_format_templates() -> None:
    assert (
        run("States.Format('Hello, my name is {}.', $.name)", {"name": "Arnav"}) == "Hello, my name is Arnav."
    )
    assert run("States.Format('{}{}', 1, 'b')") == "1b"
    assert run("States.Format('no placeholders')") == "no placeholders"
    assert run("States.Format('\\{}{}\\}', 1)") == "{}1}"
    assert run('States.Format(\'\\{"key":"{}"\\}\', $.v)', {"v": "k1"}) == '{"key":"k1"}'
    assert run("States.Format('a } b {}', 1)") == "a } b 1"
    assert run("States.Format('{}', States.Format('<{}>', 1))") == "<1>"


def test_format_template_from_a_path() -> None:
    assert (
        run("States.Format($.t, $.n)", {"t": "Hello, my name is {}.", "n": "Arnav"})
        == "Hello, my name is Arnav."
    )
    assert run("States.Format($.t, 1)", {"t": "\\{}={}"}) == "{}=1"
    error = fails("States.Format($.t, 1, 2)", {"t": "{}"})
    assert error.cause is not None
    assert error.cause.endswith(
        "Invalid arguments in States.Format: number of arguments do not match the occurrences of {}."
    )
    error = fails("States.Format($.t)", {"t": "{x}"})
    assert (error.cause or "").endswith("Invalid template in States.Format: matching '}' not found for '{'.")


# --- JSON functions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("", None),
        ("  ", None),
        ("null", None),
        ("-0", 0),
        ("1.1", 1.1),
        ('"x"', "x"),
        ('{"number": 20}', {"number": 20}),
        ("[1, 2]", [1, 2]),
    ],
)
def test_string_to_json(text: str, value: Any) -> None:
    assert run("States.StringToJson($.s)", {"s": text}) == value


def test_string_to_json_literal_and_failure() -> None:
    assert run('States.StringToJson(\'{"a": [1, {"b": null}]}\')') == {"a": [1, {"b": None}]}
    error = fails("States.StringToJson($.s)", {"s": "{nope"})
    assert "not valid JSON" in (error.cause or "")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (0, "0"),
        (1.1, "1.1"),
        (1.0, "1.0"),
        (True, "true"),
        ("HelloWorld", '"HelloWorld"'),
        ([1, 2, "x"], '[1,2,"x"]'),
        ({"name": "Foo", "year": 2020}, '{"name":"Foo","year":2020}'),
        ({"s": 'é\n"'}, '{"s":"é\\n\\""}'),
    ],
)
def test_json_to_string(value: Any, text: str) -> None:
    assert run("States.JsonToString($.v)", {"v": value}) == text


def test_json_merge() -> None:
    data = {"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}}
    merged = run("States.JsonMerge($.json1, $.json2, false)", data)
    assert merged == {"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3}
    assert data["json1"] == {"a": {"a1": 1, "a2": 2}, "b": 2}  # inputs are not modified
    error = fails("States.JsonMerge($.json1, $.json2, $.deep)", {**data, "deep": True})
    assert "deep merging is not supported" in (error.cause or "")


# --- arrays --------------------------------------------------------------------------------


def test_array() -> None:
    assert run("States.Array('Foo', 2020, $.someJson, null)", {"someJson": {"random": "abcdefg"}}) == [
        "Foo",
        2020,
        {"random": "abcdefg"},
        None,
    ]
    # Each evaluation returns a new list.
    intrinsic = compile_intrinsic("States.Array(1)")
    assert intrinsic.evaluate(Scope(None, {}, {})) is not intrinsic.evaluate(Scope(None, {}, {}))


@pytest.mark.parametrize(
    ("array", "size", "chunks"),
    [
        ([], 1, []),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9], 4, [[1, 2, 3, 4], [5, 6, 7, 8], [9]]),
        ([0, 1], 5, [[0, 1]]),
        ([0, 1, 2], 1.4, [[0], [1], [2]]),
    ],
)
def test_array_partition(array: list[Any], size: Any, chunks: list[Any]) -> None:
    assert run("States.ArrayPartition($.a, $.n)", {"a": array, "n": size}) == chunks


def test_array_partition_bad_size() -> None:
    error = fails("States.ArrayPartition($.a, $.n)", {"a": [1], "n": 0})
    assert "chunk size must be a positive integer, got 0" in (error.cause or "")


@pytest.mark.parametrize(
    ("array", "value", "found"),
    [
        ([], None, False),
        ([1, 2, 3], 2, True),
        ([[1, 2, 3], 2], [1, 2, 3], True),
        ([{"1": 2, "2": []}], {"2": [], "1": 2}, True),
        ([{"1": 2, "2": []}], [], False),
        ([True, False], False, True),
        ([1], True, False),
        ([True], 1, False),
        ([1], 1.0, False),
        ([0], False, False),
        (["1"], 1, False),
        ([None], None, True),
    ],
)
def test_array_contains(array: list[Any], value: Any, found: bool) -> None:
    assert run("States.ArrayContains($.a, $.v)", {"a": array, "v": value}) is found


@pytest.mark.parametrize(
    ("args", "result"),
    [
        ("1, 9, 2", [1, 3, 5, 7, 9]),
        ("0, 10, 3", [0, 3, 6, 9]),
        ("1, 9, 9", [1]),
        ("5, 5, 1", [5]),
        ("10, 1, -3", [10, 7, 4, 1]),
        ("1, 5, -1", []),
        ("5, 1, 1", []),
        ("0.6, 2.4, 1", [1, 2]),
        ("1, 1000, 1", list(range(1, 1001))),
    ],
)
def test_array_range(args: str, result: list[int]) -> None:
    assert run(f"States.ArrayRange({args})") == result


def test_array_range_limits() -> None:
    assert "1001 items, more than the 1000 allowed" in (fails("States.ArrayRange(0, 1000, 1)").cause or "")
    assert "must not be 0" in (fails("States.ArrayRange(0, 1, $.z)", {"z": 0.4}).cause or "")


def test_array_get_item() -> None:
    data = {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "index": 5}
    assert run("States.ArrayGetItem($.inputArray, $.index)", data) == 6
    assert run("States.ArrayGetItem($.inputArray, 0)", data) == 1
    error = fails("States.ArrayGetItem($.inputArray, 9)", data)
    assert "index 9 is out of bounds for an array of length 9" in (error.cause or "")
    assert "out of bounds" in (fails("States.ArrayGetItem($.a, $.i)", {"a": [1], "i": -1}).cause or "")


def test_array_length_and_unique() -> None:
    assert run("States.ArrayLength($)", [1, 2, 3]) == 3
    assert run("States.ArrayLength($.a)", {"a": []}) == 0
    values = [
        None,
        None,
        True,
        True,
        1,
        1,
        1.0,
        0,
        False,
        "a",
        "a",
        [],
        [],
        [None],
        {"a": 1, "b": 2},
        {"b": 2, "a": 1},
    ]
    assert run("States.ArrayUnique($)", values) == [
        None,
        True,
        1,
        1.0,
        0,
        False,
        "a",
        [],
        [None],
        {"a": 1, "b": 2},
    ]
    assert run("States.ArrayUnique($)", [1, 2, 3, 3, 3, 3, 3, 3, 4]) == [1, 2, 3, 4]


# --- encoding and hashing ----------------------------------------------------------------


def test_base64() -> None:
    assert run("States.Base64Encode($.s)", {"s": "Data to encode"}) == "RGF0YSB0byBlbmNvZGU="
    assert run("States.Base64Decode($.s)", {"s": "RGF0YSB0byBlbmNvZGU="}) == "Data to encode"
    assert run("States.Base64Encode('')") == ""
    assert run("States.Base64Decode('')") == ""
    assert run("States.Base64Decode(States.Base64Encode('héllo ✓'))") == "héllo ✓"
    assert run("States.Base64Decode('RGF0\\nYQ==')".replace("\\n", "\n")) == "Data"
    assert "not valid Base64" in (fails("States.Base64Decode('abc')").cause or "")


def test_base64_limits() -> None:
    assert "more than 10000 characters" in (fails("States.Base64Encode($)", "a" * 10_001).cause or "")
    assert "more than 10000 characters" in (fails("States.Base64Decode($)", "a" * 10_004).cause or "")
    # Java counts UTF-16 units: an emoji is two characters.
    assert "more than 10000" in (fails("States.Base64Encode($)", "😀" * 5_001).cause or "")
    assert run("States.Base64Encode($)", "😀" * 5_000)


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [
        ("MD5", "812f45842bc6d66ee14572ce20db8e86"),
        ("SHA-1", "aaff4a450a104cd177d28d18d74485e8cae074b7"),
        ("SHA-256", "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"),
    ],
)
def test_hash(algorithm: str, digest: str) -> None:
    assert run("States.Hash($.Data, $.Algorithm)", {"Data": "input data", "Algorithm": algorithm}) == digest
    assert run(f"States.Hash('input data', '{algorithm}')") == digest


def test_hash_failures() -> None:
    assert "unsupported algorithm 'MD4'" in (fails("States.Hash('x', $.a)", {"a": "MD4"}).cause or "")
    assert "more than 10000 characters" in (fails("States.Hash($, 'MD5')", "x" * 10_001).cause or "")
    assert "must be a string" in (fails("States.Hash($, 'MD5')", {"a": 1}).cause or "")


# --- math ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "total"),
    [
        (111, -1, 110),
        (-9, 3, -6),
        (1.49, 1.5, 3),
        (1.5, 1.51, 4),
        (0.5, 0, 1),
        (2.5, 0, 3),
        (-0.5, 0, 0),
        (-0.5, 0.5, 1),
        (-1.5, 0, -1),
        (-1.51, 0, -2),
        (-2.5, 0, -2),
        (2**40, 1, 2**40 + 1),
    ],
)
def test_math_add(a: Any, b: Any, total: int) -> None:
    result = run("States.MathAdd($.a, $.b)", {"a": a, "b": b})
    assert result == total and type(result) is int


def test_math_add_literals() -> None:
    assert run("States.MathAdd(1, -2)") == -1
    assert run("States.MathAdd($.x, 1)", {"x": 1e300}) > 10**299


def test_math_random() -> None:
    for _ in range(50):
        value = run("States.MathRandom(1, 3)")
        assert value in (1, 2)
    assert run("States.MathRandom(12.5, 44.51)") in range(13, 45)
    seeded = [run("States.MathRandom(0, 999, $.s)", {"s": 3}) for _ in range(5)]
    assert len(set(seeded)) == 1 and 0 <= seeded[0] < 999
    assert "must be less than the end" in (fails("States.MathRandom(5, 5)").cause or "")


# --- strings and UUID --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "delimiter", "pieces"),
    [
        ("1,2,3,4,5", ",", ["1", "2", "3", "4", "5"]),
        (" ", ",", [" "]),
        (", , ,", ",", [" ", " "]),
        (",,,,", ",", []),
        ("This.is+a,test=string", ".+,=", ["This", "is", "a", "test", "string"]),
        ("split on T and \nnew line", "T\n", ["split on ", " and ", "new line"]),
        ("abc", "", ["abc"]),
        ("", ",", []),
    ],
)
def test_string_split(text: str, delimiter: str, pieces: list[str]) -> None:
    assert run("States.StringSplit($.s, $.d)", {"s": text, "d": delimiter}) == pieces


def test_string_split_literal_newline() -> None:
    assert run("States.StringSplit('Hello\nWorld', '\n')") == ["Hello", "World"]


def test_uuid() -> None:
    first, second = run("States.UUID()"), run("States.UUID()")
    assert first != second
    assert uuid.UUID(first).version == 4
