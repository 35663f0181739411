"""Pass, Choice, Succeed and Fail through ``legato.run``: fields, paths and errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

import legato
from legato.runtime.machine import compile_machine


def machine(states: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states, **top}


def one(state: dict[str, Any]) -> dict[str, Any]:
    return machine({"S": {**state, "End": True} if state["Type"] not in ("Succeed", "Fail") else state})


def prefix(state: str = "S", event: int = 2) -> str:
    return f"An error occurred while executing the state '{state}' (entered at the event id #{event}). "


# -- Pass


@pytest.mark.parametrize(
    ("fields", "given", "expected"),
    [
        ({}, {"a": 1}, {"a": 1}),
        ({"Result": {"r": 2}}, {"a": 1}, {"r": 2}),
        ({"Result": "text"}, {"a": 1}, "text"),
        ({"Result": None}, {"a": 1}, None),
        ({"Result": {"r": 2}, "ResultPath": "$.out"}, {"a": 1}, {"a": 1, "out": {"r": 2}}),
        ({"Result": 5, "ResultPath": "$.x.y.z"}, {"a": 1}, {"a": 1, "x": {"y": {"z": 5}}}),
        ({"Result": 5, "ResultPath": "$.a"}, {"a": 1}, {"a": 5}),
        ({"ResultPath": "$.copy"}, {"a": 1}, {"a": 1, "copy": {"a": 1}}),
        ({"Result": 5, "ResultPath": "$"}, {"a": 1}, 5),
        ({"Result": {"r": 2}, "ResultPath": None}, {"a": 1}, {"a": 1}),
        ({"InputPath": "$.a"}, {"a": {"b": 1}}, {"b": 1}),
        ({"InputPath": "$.a", "ResultPath": "$.c"}, {"a": 2}, {"a": 2, "c": 2}),
        ({"InputPath": None}, {"a": 1}, {}),
        ({"OutputPath": "$.a.b"}, {"a": {"b": [1, 2]}}, [1, 2]),
        ({"OutputPath": None}, {"a": 1}, {}),
        ({"InputPath": "$.l[1]"}, {"l": [10, 20, 30]}, 20),
        (
            {"Parameters": {"x.$": "$.a", "k": "v", "n": {"m.$": "$.b[0]"}}},
            {"a": 1, "b": [7]},
            {
                "x": 1,
                "k": "v",
                "n": {"m": 7},
            },
        ),
        (
            {"InputPath": "$.in", "Parameters": {"v.$": "$.v"}, "ResultPath": "$.in.p"},
            {"in": {"v": 3}},
            {"in": {"v": 3, "p": {"v": 3}}},
        ),
        ({"Parameters": {"all.$": "$"}, "OutputPath": "$.all.a"}, {"a": 9}, 9),
        (
            {"Parameters": {"name.$": "$$.State.Name", "input.$": "$$.Execution.Input.a"}},
            {"a": 4},
            {
                "name": "S",
                "input": 4,
            },
        ),
        # Result is a literal: a ".$" key inside it is not evaluated.
        ({"Result": {"x.$": "$.a"}}, {"a": 1}, {"x.$": "$.a"}),
    ],
)
def test_pass_fields(fields: dict[str, Any], given: Any, expected: Any) -> None:
    result = legato.run(one({"Type": "Pass", **fields}), given)
    assert result.status == "SUCCEEDED"
    assert result.output == expected
    assert result.error is None and result.cause is None


@pytest.mark.parametrize(
    ("fields", "cause"),
    [
        ({"InputPath": "$.missing"}, "Invalid path '$.missing' : No results for path: $['missing']"),
        ({"OutputPath": "$.missing"}, "Invalid path '$.missing' : No results for path: $['missing']"),
        ({"OutputPath": "$.no.such"}, "Invalid path '$.no.such' : Missing property in path $['no']"),
        (
            {"Parameters": {"x.$": "$.missing"}},
            "The JSONPath '$.missing' specified for the field 'x.$' could not be found in the input '{\"a\":1}'",
        ),
    ],
)
def test_pass_path_errors(fields: dict[str, Any], cause: str) -> None:
    result = legato.run(one({"Type": "Pass", **fields}), {"a": 1})
    assert (result.status, result.error, result.cause) == ("FAILED", "States.Runtime", prefix() + cause)
    assert result.output is None
    assert [e["type"] for e in result.history] == ["ExecutionStarted", "PassStateEntered", "ExecutionFailed"]


def test_pass_result_path_into_non_object() -> None:
    result = legato.run(one({"Type": "Pass", "Result": 1, "ResultPath": "$.a.b"}), {"a": 1})
    assert result.error == "States.Runtime"
    assert (
        result.cause
        == prefix() + "Invalid path '$.a.b' : Cannot set property b on a non-object in path $['a']"
    )


def test_input_as_json_text_and_default() -> None:
    assert legato.run(one({"Type": "Pass"}), '{"t": [1, "x"]}').output == {"t": [1, "x"]}
    assert legato.run(one({"Type": "Pass"})).output == {}
    assert legato.run(one({"Type": "Pass"}), json.dumps("s")).output == "s"
    assert legato.run(one({"Type": "Pass"}), [1, 2]).output == [1, 2]


def test_pass_chain_and_state_input_is_previous_output() -> None:
    definition = machine(
        {
            "A": {"Type": "Pass", "Result": 1, "ResultPath": "$.a", "Next": "B"},
            "B": {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.a, $.b)"}, "Next": "C"},
            "C": {"Type": "Pass", "End": True},
        }
    )
    result = legato.run(definition, {"b": 41})
    assert result.output == {"sum": 42}
    entered = [
        e["stateEnteredEventDetails"]["input"] for e in result.history if "stateEnteredEventDetails" in e
    ]
    assert entered == ['{"b":41}', '{"b":41,"a":1}', '{"sum":42}']


# -- intrinsic functions from Parameters


@pytest.mark.parametrize(
    ("expr", "given", "expected"),
    [
        ("States.Format('Hello {} and {}', $.a, $.b)", {"a": "x", "b": 2}, "Hello x and 2"),
        ("States.StringToJson($.s)", {"s": '{"k":[1,2]}'}, {"k": [1, 2]}),
        ("States.JsonToString($.o)", {"o": {"k": [1, 2]}}, '{"k":[1,2]}'),
        ("States.Array($.a, 'b', 3)", {"a": 1}, [1, "b", 3]),
        ("States.ArrayPartition($.l, 2)", {"l": [1, 2, 3]}, [[1, 2], [3]]),
        ("States.ArrayContains($.l, 2)", {"l": [1, 2, 3]}, True),
        ("States.ArrayRange(1, 9, 3)", {}, [1, 4, 7]),
        ("States.ArrayGetItem($.l, 1)", {"l": ["a", "b"]}, "b"),
        ("States.ArrayLength($.l)", {"l": [1, 2, 3]}, 3),
        ("States.ArrayUnique($.l)", {"l": [1, 2, 1, 3]}, [1, 2, 3]),
        ("States.Base64Encode('hello')", {}, "aGVsbG8="),
        ("States.Base64Decode('aGVsbG8=')", {}, "hello"),
        (
            "States.Hash('abc', 'SHA-256')",
            {},
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            "States.JsonMerge($.a, $.b, false)",
            {"a": {"x": 1, "y": {"p": 1}}, "b": {"y": {"q": 2}}},
            {
                "x": 1,
                "y": {"q": 2},
            },
        ),
        ("States.MathAdd($.n, -3)", {"n": 10}, 7),
        ("States.StringSplit('a,b,c', ',')", {}, ["a", "b", "c"]),
    ],
)
def test_intrinsics_from_parameters(expr: str, given: Any, expected: Any) -> None:
    result = legato.run(one({"Type": "Pass", "Parameters": {"v.$": expr}}), given)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"v": expected}


def test_intrinsic_uuid_and_random() -> None:
    params = {"u.$": "States.UUID()", "r.$": "States.MathRandom(1, 3)"}
    out = legato.run(one({"Type": "Pass", "Parameters": params})).output
    assert len(out["u"]) == 36 and out["u"].count("-") == 4
    assert out["r"] in (1, 2)


def test_intrinsic_failure_is_states_runtime() -> None:
    # States.IntrinsicFailure is reserved: AWS reports intrinsic errors as States.Runtime.
    result = legato.run(
        one({"Type": "Pass", "Parameters": {"v.$": "States.ArrayGetItem($.l, 5)"}}), {"l": [1]}
    )
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause == prefix() + (
        "The function 'States.ArrayGetItem($.l, 5)' had the following error: Invalid arguments in "
        "States.ArrayGetItem: the index 5 is out of bounds for an array of length 1."
    )


# -- the context object


def test_context_object_fields() -> None:
    result = legato.run(one({"Type": "Pass", "Parameters": {"c.$": "$$"}}), {"a": 1}, name="ctx-run")
    ctx = result.output["c"]
    arn = "arn:aws:states:us-east-1:123456789012:execution:LocalStateMachine:ctx-run"
    assert ctx["Execution"]["Id"] == arn == result.execution_arn
    assert ctx["Execution"]["Name"] == "ctx-run"
    assert ctx["Execution"]["Input"] == {"a": 1}
    assert ctx["Execution"]["RoleArn"] == "arn:aws:iam::123456789012:role/legato"
    assert ctx["Execution"]["RedriveCount"] == 0
    assert ctx["StateMachine"] == {
        "Id": "arn:aws:states:us-east-1:123456789012:stateMachine:LocalStateMachine",
        "Name": "LocalStateMachine",
    }
    assert ctx["State"]["Name"] == "S"
    assert set(ctx) == {"Execution", "StateMachine", "State"}
    assert set(ctx["State"]) == {"Name", "EnteredTime"}
    # Times use the context format 2024-01-02T03:04:05.678Z.
    for text in (ctx["Execution"]["StartTime"], ctx["State"]["EnteredTime"]):
        assert len(text) == 24 and text[10] == "T" and text.endswith("Z") and text[19] == "."


def test_context_express_has_no_redrive_count() -> None:
    result = legato.run(
        one({"Type": "Pass", "Parameters": {"c.$": "$$.Execution"}}), type="EXPRESS", name="e"
    )
    assert "RedriveCount" not in result.output["c"]
    assert result.output["c"]["Id"] == "arn:aws:states:us-east-1:123456789012:express:LocalStateMachine:e"


def test_unnamed_runs_get_unique_names() -> None:
    a = legato.run(one({"Type": "Pass", "Parameters": {"n.$": "$$.Execution.Name"}})).output["n"]
    b = legato.run(one({"Type": "Pass", "Parameters": {"n.$": "$$.Execution.Name"}})).output["n"]
    assert a != b and len(a) == 36


# -- Choice


def choice(rule: dict[str, Any], default: bool = True) -> dict[str, Any]:
    states: dict[str, Any] = {
        "C": {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}]},
        "Yes": {"Type": "Pass", "Result": "yes", "End": True},
        "No": {"Type": "Pass", "Result": "no", "End": True},
    }
    if default:
        states["C"]["Default"] = "No"
    else:
        del states["No"]
    return machine(states)


def decide(rule: dict[str, Any], given: Any) -> str:
    result = legato.run(choice(rule), given)
    assert result.status == "SUCCEEDED", result.cause
    return str(result.output)


TS = "2024-01-02T03:04:05Z"


@pytest.mark.parametrize(
    ("rule", "given", "expected"),
    [
        ({"StringEquals": "a"}, "a", "yes"),
        ({"StringEquals": "a"}, "b", "no"),
        ({"StringEquals": "1"}, 1, "no"),
        ({"StringLessThan": "b"}, "a", "yes"),
        ({"StringLessThan": "b"}, "b", "no"),
        ({"StringGreaterThan": "b"}, "c", "yes"),
        ({"StringLessThanEquals": "b"}, "b", "yes"),
        ({"StringGreaterThanEquals": "b"}, "a", "no"),
        ({"NumericEquals": 1}, 1.0, "yes"),
        ({"NumericEquals": 1}, "1", "no"),
        ({"NumericEquals": 1}, True, "no"),
        ({"NumericLessThan": 1.5}, 1, "yes"),
        ({"NumericLessThan": 1}, 1, "no"),
        ({"NumericGreaterThan": -1}, 0, "yes"),
        ({"NumericLessThanEquals": 2}, 2, "yes"),
        ({"NumericGreaterThanEquals": 2}, 1.99, "no"),
        ({"BooleanEquals": True}, True, "yes"),
        ({"BooleanEquals": True}, 1, "no"),
        ({"BooleanEquals": False}, False, "yes"),
        ({"TimestampEquals": TS}, "2024-01-02T03:04:05+00:00", "yes"),
        ({"TimestampEquals": TS}, "2024-01-02T04:04:05+01:00", "yes"),
        ({"TimestampEquals": TS}, "not a time", "no"),
        ({"TimestampLessThan": TS}, "2024-01-02T03:04:04.999Z", "yes"),
        ({"TimestampGreaterThan": TS}, "2024-01-02T03:04:05.001Z", "yes"),
        ({"TimestampLessThanEquals": TS}, TS, "yes"),
        ({"TimestampGreaterThanEquals": TS}, "2023-12-31T23:59:59Z", "no"),
    ],
)
def test_choice_comparisons(rule: dict[str, Any], given: Any, expected: str) -> None:
    assert decide({"Variable": "$.v", **rule}, {"v": given}) == expected


@pytest.mark.parametrize(
    ("op", "a", "b", "expected"),
    [
        ("StringEquals", "x", "x", "yes"),
        ("StringEquals", "x", "y", "no"),
        ("StringLessThan", "a", "b", "yes"),
        ("StringGreaterThan", "a", "b", "no"),
        ("StringLessThanEquals", "b", "b", "yes"),
        ("StringGreaterThanEquals", "c", "b", "yes"),
        ("NumericEquals", 3, 3, "yes"),
        ("NumericLessThan", 3, 4, "yes"),
        ("NumericGreaterThan", 3, 4, "no"),
        ("NumericLessThanEquals", 4, 4, "yes"),
        ("NumericGreaterThanEquals", 3, 4, "no"),
        ("BooleanEquals", False, False, "yes"),
        ("BooleanEquals", False, True, "no"),
        ("TimestampEquals", TS, TS, "yes"),
        ("TimestampLessThan", "2020-01-01T00:00:00Z", TS, "yes"),
        ("TimestampGreaterThan", "2020-01-01T00:00:00Z", TS, "no"),
        ("TimestampLessThanEquals", TS, TS, "yes"),
        ("TimestampGreaterThanEquals", TS, "2020-01-01T00:00:00Z", "yes"),
    ],
)
def test_choice_path_comparisons(op: str, a: Any, b: Any, expected: str) -> None:
    assert decide({"Variable": "$.a", f"{op}Path": "$.b"}, {"a": a, "b": b}) == expected


def test_choice_path_operand_may_be_a_variable_or_context() -> None:
    rule = {"Variable": "$.a", "StringEqualsPath": "$$.Execution.Name"}
    assert legato.run(choice(rule), {"a": "run-1"}, name="run-1").output == "yes"


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("*.log", "app.log", "yes"),
        ("*.log", "app.txt", "no"),
        ("log-*-end", "log-x-y-end", "yes"),
        ("*", "", "yes"),
        ("a*b*c", "abc", "yes"),
        ("a*b*c", "acb", "no"),
        ("exact", "exact", "yes"),
        ("exact", "exactly", "no"),
        ("a\\*b", "a*b", "yes"),
        ("a\\*b", "axb", "no"),
        ("back\\\\slash", "back\\slash", "yes"),
        ("dots.are.literal", "dotsXareXliteral", "no"),
        ("[abc]", "a", "no"),
        ("[abc]", "[abc]", "yes"),
        ("line*", "line1\nline2", "yes"),
    ],
)
def test_string_matches(pattern: str, value: str, expected: str) -> None:
    assert decide({"Variable": "$.v", "StringMatches": pattern}, {"v": value}) == expected


@pytest.mark.parametrize(
    ("test", "value", "expected"),
    [
        ("IsNull", None, True),
        ("IsNull", 0, False),
        ("IsNumeric", 1.5, True),
        ("IsNumeric", "1", False),
        ("IsNumeric", True, False),
        ("IsString", "", True),
        ("IsString", 1, False),
        ("IsBoolean", False, True),
        ("IsBoolean", 0, False),
        ("IsTimestamp", "2024-01-02T03:04:05.123Z", True),
        ("IsTimestamp", "2024-01-02T03:04:05+02:00", True),
        ("IsTimestamp", "2024-01-02", False),
        ("IsTimestamp", "2024-01-02T03:04:05", False),
        ("IsTimestamp", 1700000000, False),
    ],
)
def test_type_tests(test: str, value: Any, expected: bool) -> None:
    assert decide({"Variable": "$.v", test: True}, {"v": value}) == ("yes" if expected else "no")
    assert decide({"Variable": "$.v", test: False}, {"v": value}) == ("no" if expected else "yes")


def test_is_present() -> None:
    assert decide({"Variable": "$.v", "IsPresent": True}, {"v": None}) == "yes"
    assert decide({"Variable": "$.v", "IsPresent": True}, {}) == "no"
    assert decide({"Variable": "$.v.w", "IsPresent": False}, {"v": 1}) == "yes"
    assert decide({"Variable": "$.l[3]", "IsPresent": True}, {"l": [1]}) == "no"


@pytest.mark.parametrize(
    ("rule", "given", "expected"),
    [
        (
            {"And": [{"Variable": "$.a", "NumericGreaterThan": 1}, {"Variable": "$.b", "StringEquals": "x"}]},
            {
                "a": 2,
                "b": "x",
            },
            "yes",
        ),
        (
            {"And": [{"Variable": "$.a", "NumericGreaterThan": 1}, {"Variable": "$.b", "StringEquals": "x"}]},
            {
                "a": 2,
                "b": "y",
            },
            "no",
        ),
        (
            {"Or": [{"Variable": "$.a", "NumericEquals": 1}, {"Variable": "$.a", "NumericEquals": 2}]},
            {"a": 2},
            "yes",
        ),
        (
            {"Or": [{"Variable": "$.a", "NumericEquals": 1}, {"Variable": "$.a", "NumericEquals": 2}]},
            {"a": 3},
            "no",
        ),
        ({"Not": {"Variable": "$.a", "StringEquals": "x"}}, {"a": "y"}, "yes"),
        ({"Not": {"Variable": "$.a", "StringEquals": "x"}}, {"a": "x"}, "no"),
        (
            {"Not": {"And": [{"Variable": "$.a", "IsPresent": True}, {"Variable": "$.a", "IsNull": False}]}},
            {"a": None},
            "yes",
        ),
        # Short-circuit: the second operand would fail on a missing path.
        (
            {"And": [{"Variable": "$.a", "IsPresent": True}, {"Variable": "$.a", "NumericEquals": 1}]},
            {},
            "no",
        ),
        (
            {"Or": [{"Variable": "$.b", "IsPresent": False}, {"Variable": "$.b", "NumericEquals": 1}]},
            {},
            "yes",
        ),
    ],
)
def test_boolean_operators(rule: dict[str, Any], given: Any, expected: str) -> None:
    assert decide(rule, given) == expected


def test_first_matching_rule_wins_and_choice_keeps_its_input() -> None:
    definition = machine(
        {
            "C": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"},
                    {"Variable": "$.n", "NumericGreaterThan": 1, "Next": "Medium"},
                    {"Variable": "$.n", "NumericGreaterThan": 0, "Next": "Small"},
                ],
                "Default": "Big",
            },
            "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.r", "End": True},
            "Medium": {"Type": "Pass", "Result": "medium", "ResultPath": "$.r", "End": True},
            "Small": {"Type": "Pass", "Result": "small", "ResultPath": "$.r", "End": True},
        }
    )
    assert legato.run(definition, {"n": 5}).output == {"n": 5, "r": "medium"}
    assert legato.run(definition, {"n": 50}).output == {"n": 50, "r": "big"}
    result = legato.run(definition, {"n": 1})
    assert result.output == {"n": 1, "r": "small"}
    exited = next(e for e in result.history if e["type"] == "ChoiceStateExited")
    assert exited["stateExitedEventDetails"] == {
        "name": "C",
        "output": '{"n":1}',
        "outputDetails": {"truncated": False},
    }


def test_choice_input_and_output_path() -> None:
    definition = machine(
        {
            "C": {
                "Type": "Choice",
                "InputPath": "$.in",
                "OutputPath": "$.v",
                "Choices": [{"Variable": "$.v", "IsPresent": True, "Next": "End"}],
            },
            "End": {"Type": "Succeed"},
        }
    )
    assert legato.run(definition, {"in": {"v": [1]}}).output == [1]


def test_no_choice_matched() -> None:
    result = legato.run(choice({"Variable": "$.v", "StringEquals": "a"}, default=False), {"v": "b"})
    assert (result.status, result.error, result.cause) == ("FAILED", "States.NoChoiceMatched", "No Matches!")
    assert [e["type"] for e in result.history] == [
        "ExecutionStarted",
        "ChoiceStateEntered",
        "ExecutionFailed",
    ]


def test_no_choice_matched_is_catchable_only_by_enclosing_state() -> None:
    # A Choice has no Catch; a Parallel around it does.
    definition = machine(
        {
            "P": {
                "Type": "Parallel",
                "Branches": [choice({"Variable": "$.v", "StringEquals": "a"}, default=False)],
                "Catch": [{"ErrorEquals": ["States.NoChoiceMatched"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        }
    )
    result = legato.run(definition, {"v": "b"})
    assert result.output == {"Error": "States.NoChoiceMatched", "Cause": "No Matches!"}


def test_choice_variable_path_missing_is_runtime_error() -> None:
    result = legato.run(choice({"Variable": "$.missing", "NumericEquals": 1}), {"v": 1})
    assert result.error == "States.Runtime"
    assert result.cause == prefix("C") + (
        "Invalid path '$.missing': The choice state's condition path references an invalid value."
    )


# -- Succeed and Fail


def test_succeed_paths() -> None:
    result = legato.run(one({"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}), {"a": {"b": 3}})
    assert (result.status, result.output) == ("SUCCEEDED", 3)
    types = [e["type"] for e in result.history]
    assert types == ["ExecutionStarted", "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"]


def test_succeed_ends_execution_from_a_choice() -> None:
    definition = machine(
        {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.k", "IsPresent": True, "Next": "S"}],
                "Default": "F",
            },
            "S": {"Type": "Succeed"},
            "F": {"Type": "Fail", "Error": "X"},
        }
    )
    assert legato.run(definition, {"k": 1}).output == {"k": 1}
    assert legato.run(definition, {}).error == "X"


@pytest.mark.parametrize(
    ("state", "given", "error", "cause"),
    [
        ({"Type": "Fail", "Error": "MyError", "Cause": "my cause"}, {}, "MyError", "my cause"),
        ({"Type": "Fail", "Error": "OnlyError"}, {}, "OnlyError", None),
        ({"Type": "Fail", "Cause": "only cause"}, {}, None, "only cause"),
        ({"Type": "Fail"}, {}, None, None),
        ({"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}, {"e": "E1", "c": "C1"}, "E1", "C1"),
        (
            {"Type": "Fail", "ErrorPath": "$$.State.Name", "CausePath": "States.Format('n={}', $.n)"},
            {"n": 3},
            "F",
            "n=3",
        ),
    ],
)
def test_fail(state: dict[str, Any], given: Any, error: str | None, cause: str | None) -> None:
    result = legato.run(machine({"F": state}), given)
    assert (result.status, result.error, result.cause, result.output) == ("FAILED", error, cause, None)
    last = result.history[-1]
    assert last["type"] == "ExecutionFailed"
    details = {k: v for k, v in (("error", error), ("cause", cause)) if v is not None}
    assert last["executionFailedEventDetails"] == details
    # A Fail state records no Exited event.
    assert [e["type"] for e in result.history] == ["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]


def test_fail_error_path_missing() -> None:
    result = legato.run(machine({"F": {"Type": "Fail", "ErrorPath": "$.missing", "Cause": "c"}}), {"e": 1})
    assert result.error == "States.Runtime"
    assert result.cause == prefix("F") + (
        "The JSONPath '$.missing' specified for the field 'ErrorPath' could not be found in the input '{\"e\":1}'"
    )


# -- definitions


def test_invalid_definition_raises_with_diagnostics() -> None:
    with pytest.raises(legato.DefinitionError) as info:
        legato.run({"StartAt": "Nope", "States": {"A": {"Type": "Pass", "Next": "Gone"}}})
    diags = info.value.diagnostics
    assert diags and all(isinstance(d, legato.Diagnostic) for d in diags)
    by_location = {d.location: d.code for d in diags}
    assert by_location.get("/States/A/Next") == "MISSING_TRANSITION_TARGET"
    assert "MISSING_TRANSITION_TARGET" in by_location.values()
    assert all(d.message for d in diags)
    assert "/States/A/Next" in str(info.value)


def test_invalid_json_text_raises_definition_error() -> None:
    with pytest.raises(legato.DefinitionError) as info:
        legato.run('{"StartAt": ')
    assert info.value.diagnostics[0].code


def test_unknown_state_type_raises_definition_error() -> None:
    with pytest.raises(legato.DefinitionError) as info:
        legato.run(machine({"A": {"Type": "Bogus", "End": True}}))
    assert any(d.location.startswith("/States/A") for d in info.value.diagnostics)


def test_repeated_runs_reuse_the_compiled_definition() -> None:
    definition = machine({"P": {"Type": "Pass", "Result": "cache-check", "End": True}})
    first = compile_machine(definition)
    assert compile_machine(definition) is first
    assert compile_machine(json.dumps(definition, separators=(",", ":"))) is compile_machine(
        json.dumps(definition, separators=(",", ":"))
    )
    assert legato.run(definition).output == "cache-check"
    assert compile_machine(definition) is first
    other = compile_machine(machine({"P": {"Type": "Pass", "Result": "other", "End": True}}))
    assert other is not first
