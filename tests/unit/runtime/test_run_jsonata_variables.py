"""JSONata states and variables through ``legato.run``."""

from __future__ import annotations

from typing import Any

import pytest

import legato

FN = "arn:aws:lambda:us-east-1:123456789012:function:"


def machine(states: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states, **top}


def jsonata(states: dict[str, Any], **top: Any) -> dict[str, Any]:
    return machine(states, QueryLanguage="JSONata", **top)


def prefix(state: str, event: int = 2) -> str:
    return f"An error occurred while executing the state '{state}' (entered at the event id #{event}). "


def test_states_input_and_context() -> None:
    definition = jsonata(
        {
            "P": {
                "Type": "Pass",
                "Output": {
                    "sum": "{% $states.input.a + $states.input.b %}",
                    "state": "{% $states.context.State.Name %}",
                    "execution": "{% $states.context.Execution.Name %}",
                    "literal": "no expression",
                    "nested": {"list": ["{% $states.input.a %}", 2]},
                },
                "End": True,
            }
        }
    )
    result = legato.run(definition, {"a": 1, "b": 2}, name="jx")
    assert result.output == {
        "sum": 3,
        "state": "P",
        "execution": "jx",
        "literal": "no expression",
        "nested": {"list": [1, 2]},
    }


def test_pass_without_output_passes_input() -> None:
    assert legato.run(jsonata({"P": {"Type": "Pass", "End": True}}), {"a": 1}).output == {"a": 1}


def test_task_arguments_and_result() -> None:
    definition = jsonata(
        {
            "T": {
                "Type": "Task",
                "Resource": FN + "double",
                "Arguments": {"n": "{% $states.input.n %}"},
                "Output": {"result": "{% $states.result %}", "input": "{% $states.input %}"},
                "End": True,
            }
        }
    )
    result = legato.run(definition, {"n": 4}, functions={"double": lambda e, c: e["n"] * 2})
    assert result.output == {"result": 8, "input": {"n": 4}}
    scheduled = result.history[2]["lambdaFunctionScheduledEventDetails"]
    assert scheduled["input"] == '{"n":4}'


def test_task_without_output_returns_result() -> None:
    definition = jsonata({"T": {"Type": "Task", "Resource": FN + "f", "End": True}})
    assert legato.run(definition, {"a": 1}, functions={"f": lambda e, c: "r"}).output == "r"


def test_invoke_with_arguments() -> None:
    definition = jsonata(
        {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": {"FunctionName": "f", "Payload": "{% $states.input %}"},
                "Output": "{% $states.result.Payload %}",
                "End": True,
            }
        }
    )
    assert legato.run(definition, {"a": 1}, functions={"f": lambda e, c: {"got": e}}).output == {
        "got": {"a": 1}
    }


def test_choice_condition_output_and_assign() -> None:
    definition = jsonata(
        {
            "C": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Condition": "{% $states.input.n > 10 %}",
                        "Next": "Big",
                        "Output": {"kind": "big"},
                        "Assign": {"seen": "{% $states.input.n %}"},
                    }
                ],
                "Default": "Small",
                "Assign": {"seen": "default"},
            },
            "Big": {
                "Type": "Pass",
                "Output": {"out": "{% $states.input %}", "seen": "{% $seen %}"},
                "End": True,
            },
            "Small": {
                "Type": "Pass",
                "Output": {"out": "{% $states.input %}", "seen": "{% $seen %}"},
                "End": True,
            },
        }
    )
    assert legato.run(definition, {"n": 11}).output == {"out": {"kind": "big"}, "seen": 11}
    assert legato.run(definition, {"n": 1}).output == {"out": {"n": 1}, "seen": "default"}


def test_choice_condition_must_be_boolean() -> None:
    definition = jsonata(
        {
            "C": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $states.input.n %}", "Next": "E"}],
                "Default": "E",
            },
            "E": {"Type": "Succeed"},
        }
    )
    result = legato.run(definition, {"n": 1})
    assert (result.error, result.cause) == (
        "States.QueryEvaluationError",
        prefix("C") + "The JSONata expression for the field 'Condition' returned a non-boolean value: 1",
    )


def test_undefined_result_is_query_evaluation_error() -> None:
    definition = jsonata({"P": {"Type": "Pass", "Output": "{% $states.input.missing %}", "End": True}})
    result = legato.run(definition, {"a": 1})
    cause = prefix("P") + (
        "The JSONata expression '$states.input.missing' specified for the field 'Output' returned nothing (undefined)."
    )
    assert (result.status, result.error, result.cause) == ("FAILED", "States.QueryEvaluationError", cause)
    assert [e["type"] for e in result.history] == [
        "ExecutionStarted",
        "PassStateEntered",
        "EvaluationFailed",
        "ExecutionFailed",
    ]
    evaluation = result.history[2]
    assert evaluation["previousEventId"] == 2
    assert evaluation["evaluationFailedEventDetails"] == {
        "cause": cause,
        "error": "States.QueryEvaluationError",
        "location": "Output",
        "state": "P",
    }


def test_undefined_in_nested_field_names_the_field() -> None:
    definition = jsonata({"P": {"Type": "Pass", "Output": {"result": "{% $doesNotExist %}"}, "End": True}})
    result = legato.run(definition, {})
    assert result.cause == prefix("P") + (
        "The JSONata expression '$doesNotExist' specified for the field 'Output/result' returned nothing (undefined)."
    )


def test_undefined_in_assign() -> None:
    definition = jsonata({"P": {"Type": "Pass", "Assign": {"result": "{% $doesNotExist %}"}, "End": True}})
    result = legato.run(definition, {})
    assert result.error == "States.QueryEvaluationError"
    assert result.cause == prefix("P") + (
        "The JSONata expression '$doesNotExist' specified for the field 'Assign/result' returned nothing (undefined)."
    )


def test_query_evaluation_error_is_catchable() -> None:
    definition = jsonata(
        {
            "T": {
                "Type": "Task",
                "Resource": FN + "f",
                "Output": "{% $states.result.missing %}",
                "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "Output": "{% $states.input.Error %}", "End": True},
        }
    )
    result = legato.run(definition, {}, functions={"f": lambda e, c: {}})
    assert (result.status, result.output) == ("SUCCEEDED", "States.QueryEvaluationError")


def test_fail_state_jsonata() -> None:
    definition = jsonata(
        {
            "F": {
                "Type": "Fail",
                "Error": "{% $states.input.e %}",
                "Cause": "{% 'because ' & $states.input.c %}",
            }
        }
    )
    result = legato.run(definition, {"e": "E1", "c": "reasons"})
    assert (result.error, result.cause) == ("E1", "because reasons")


def test_map_items_and_item_selector() -> None:
    processor = {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}
    definition = jsonata(
        {
            "M": {
                "Type": "Map",
                "Items": "{% $states.input.list %}",
                "ItemSelector": {
                    "value": "{% $states.context.Map.Item.Value %}",
                    "index": "{% $states.context.Map.Item.Index %}",
                },
                "ItemProcessor": processor,
                "End": True,
            }
        }
    )
    assert legato.run(definition, {"list": ["a", "b"]}).output == [
        {"value": "a", "index": 0},
        {"value": "b", "index": 1},
    ]


@pytest.mark.parametrize(("items", "kind"), [("1", "number"), ("'s'", "string"), ("null", "null")])
def test_map_items_must_be_array(items: str, kind: str) -> None:
    processor = {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}
    definition = jsonata(
        {"M": {"Type": "Map", "Items": f"{{% {items} %}}", "ItemProcessor": processor, "End": True}}
    )
    result = legato.run(definition, {})
    assert result.error == "States.QueryEvaluationError"
    assert result.cause is not None
    assert result.cause.startswith(
        prefix("M") + f"The JSONata expression '{items}' specified for the field 'Items'"
    )
    assert f"Expected 'array', but was '{kind}'" in result.cause


def test_step_functions_jsonata_functions() -> None:
    definition = jsonata(
        {
            "P": {
                "Type": "Pass",
                "Output": {
                    "partition": "{% $partition([1, 2, 3], 2) %}",
                    "range": "{% $range(0, 10, 5) %}",
                    "hash": "{% $hash('abc', 'MD5') %}",
                    "parse": "{% $parse('{\"k\": 1}') %}",
                    "unique": "{% $distinct([1, 1, 2]) %}",
                },
                "End": True,
            }
        }
    )
    result = legato.run(definition, {})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {
        "partition": [[1, 2], [3]],
        "range": [0, 5, 10],
        "hash": "900150983cd24fb0d6963f7d28e17f72",
        "parse": {"k": 1},
        "unique": [1, 2],
    }


def test_state_level_query_language_override() -> None:
    definition = machine(
        {
            "A": {
                "Type": "Pass",
                "QueryLanguage": "JSONata",
                "Output": "{% $states.input.v * 10 %}",
                "Next": "B",
            },
            "B": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": True},
        }
    )
    assert legato.run(definition, {"v": 2}).output == {"v": 20}


# -- variables


def test_assign_reads_values_as_of_state_entry() -> None:
    definition = jsonata(
        {
            "A": {"Type": "Pass", "Assign": {"x": 1, "y": 10}, "Next": "B"},
            "B": {
                "Type": "Pass",
                "Assign": {"x": "{% $x + 1 %}", "y": "{% $x %}"},
                "Output": {"x": "{% $x %}", "y": "{% $y %}"},
                "Next": "C",
            },
            "C": {
                "Type": "Pass",
                "Output": {"x": "{% $x %}", "y": "{% $y %}", "prev": "{% $states.input %}"},
                "End": True,
            },
        }
    )
    result = legato.run(definition, {})
    assert result.output == {"x": 2, "y": 1, "prev": {"x": 1, "y": 10}}
    exited = [e["stateExitedEventDetails"] for e in result.history if e["type"] == "PassStateExited"]
    assert exited[0]["assignedVariables"] == {"x": "1", "y": "10"}
    assert exited[0]["assignedVariablesDetails"] == {"truncated": False}
    assert exited[1]["assignedVariables"] == {"x": "2", "y": "1"}
    assert "assignedVariables" not in exited[2]


def test_variables_live_until_overwritten() -> None:
    definition = machine(
        {
            "A": {"Type": "Pass", "Assign": {"keep": {"deep": [1]}, "other": "o"}, "Next": "B"},
            "B": {"Type": "Pass", "Assign": {"other": "changed"}, "Next": "C"},
            "C": {"Type": "Pass", "Next": "D"},
            "D": {
                "Type": "Pass",
                "Parameters": {"keep.$": "$keep.deep[0]", "other.$": "$other", "all.$": "$keep"},
                "End": True,
            },
        }
    )
    assert legato.run(definition, {}).output == {"keep": 1, "other": "changed", "all": {"deep": [1]}}


def test_jsonpath_assign_from_result_and_context() -> None:
    definition = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": FN + "f",
                "ResultSelector": {"v.$": "$.value"},
                "Assign": {
                    "fromResult.$": "$.v",
                    "name.$": "$$.State.Name",
                    "fn.$": "States.Format('{}!', $.v)",
                },
                "ResultPath": "$.res",
                "Next": "Use",
            },
            "Use": {
                "Type": "Pass",
                "Parameters": {"a.$": "$fromResult", "b.$": "$name", "c.$": "$fn"},
                "End": True,
            },
        }
    )
    result = legato.run(definition, {}, functions={"f": lambda e, c: {"value": 7}})
    assert result.output == {"a": 7, "b": "T", "c": "7!"}
    exited = next(e for e in result.history if e["type"] == "TaskStateExited")
    assert exited["stateExitedEventDetails"]["assignedVariables"] == {
        "fromResult": "7",
        "name": '"T"',
        "fn": '"7!"',
    }


def test_jsonata_task_assign_sees_result() -> None:
    definition = jsonata(
        {
            "T": {
                "Type": "Task",
                "Resource": FN + "f",
                "Assign": {"r": "{% $states.result %}"},
                "Next": "Use",
            },
            "Use": {"Type": "Pass", "Output": "{% $r %}", "End": True},
        }
    )
    assert legato.run(definition, {}, functions={"f": lambda e, c: [1]}).output == [1]


def test_undefined_variable_in_jsonpath() -> None:
    definition = machine({"P": {"Type": "Pass", "Parameters": {"v.$": "$nope"}, "End": True}})
    result = legato.run(definition, {})
    assert result.error == "States.Runtime"
    assert result.cause is not None and result.cause.startswith(prefix("P"))


def test_choice_on_variable() -> None:
    definition = machine(
        {
            "Set": {"Type": "Pass", "Assign": {"mode": "fast"}, "Next": "C"},
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$mode", "StringEquals": "fast", "Next": "Fast"}],
                "Default": "Slow",
            },
            "Fast": {"Type": "Pass", "Result": "fast", "End": True},
            "Slow": {"Type": "Pass", "Result": "slow", "End": True},
        }
    )
    assert legato.run(definition, {}).output == "fast"


def test_variables_cross_query_languages() -> None:
    definition = machine(
        {
            "A": {"Type": "Pass", "QueryLanguage": "JSONata", "Assign": {"v": "{% 1 + 1 %}"}, "Next": "B"},
            "B": {"Type": "Pass", "Parameters": {"v.$": "$v"}, "End": True},
        }
    )
    assert legato.run(definition, {}).output == {"v": 2}
