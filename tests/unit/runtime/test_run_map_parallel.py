"""Parallel and inline Map states through ``legato.run``."""

from __future__ import annotations

from typing import Any

import pytest

import legato
from legato import VirtualClock


def machine(states: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states, **top}


def branch(states: dict[str, Any]) -> dict[str, Any]:
    return machine(states)


def types(result: legato.ExecutionResult) -> list[str]:
    return [e["type"] for e in result.history]


PASS = branch({"Inner": {"Type": "Pass", "End": True}})
FAIL = branch({"Boom": {"Type": "Fail", "Error": "BranchError", "Cause": "it broke"}})


# -- Parallel


def test_parallel_results_in_branch_order_not_finish_order() -> None:
    slow = branch(
        {
            "Slow": {"Type": "Wait", "Seconds": 30, "Next": "SlowResult"},
            "SlowResult": {"Type": "Pass", "Result": "slow", "End": True},
        }
    )
    fast = branch({"Fast": {"Type": "Pass", "Result": "fast", "End": True}})
    definition = machine({"P": {"Type": "Parallel", "Branches": [slow, fast, PASS], "End": True}})
    result = legato.run(definition, {"in": 1}, clock=VirtualClock())
    assert result.output == ["slow", "fast", {"in": 1}]


def test_parallel_history_and_chaining() -> None:
    definition = machine({"P": {"Type": "Parallel", "Branches": [PASS], "End": True}})
    result = legato.run(definition, {"a": 1})
    assert types(result) == [
        "ExecutionStarted",
        "ParallelStateEntered",
        "ParallelStateStarted",
        "PassStateEntered",
        "PassStateExited",
        "ParallelStateSucceeded",
        "ParallelStateExited",
        "ExecutionSucceeded",
    ]
    assert [e["previousEventId"] for e in result.history] == [0, 0, 2, 3, 4, 5, 6, 7]
    assert result.history[6]["stateExitedEventDetails"]["output"] == '[{"a":1}]'


def test_parallel_input_output_processing() -> None:
    definition = machine(
        {
            "P": {
                "Type": "Parallel",
                "InputPath": "$.in",
                "Parameters": {"v.$": "$.v", "name.$": "$$.State.Name"},
                "Branches": [PASS, branch({"B": {"Type": "Pass", "InputPath": "$.v", "End": True}})],
                "ResultSelector": {"first.$": "$[0]", "second.$": "$[1]"},
                "ResultPath": "$.res",
                "OutputPath": "$.res",
                "End": True,
            }
        }
    )
    result = legato.run(definition, {"in": {"v": 7}})
    assert result.output == {"first": {"v": 7, "name": "P"}, "second": 7}


def test_parallel_branch_failure_fails_the_state() -> None:
    definition = machine({"P": {"Type": "Parallel", "Branches": [PASS, FAIL], "End": True}})
    result = legato.run(definition, {})
    assert (result.status, result.error, result.cause) == ("FAILED", "BranchError", "it broke")
    assert types(result)[-2:] == ["ParallelStateFailed", "ExecutionFailed"]
    assert "ParallelStateExited" not in types(result)


def test_parallel_failure_stops_waiting_branches() -> None:
    waiting = branch({"Long": {"Type": "Wait", "Seconds": 3600, "End": True}})
    definition = machine({"P": {"Type": "Parallel", "Branches": [waiting, FAIL], "End": True}})
    result = legato.run(definition, {}, clock=VirtualClock())
    assert result.error == "BranchError"
    assert "WaitStateExited" not in types(result)
    elapsed = (result.history[-1]["timestamp"] - result.history[0]["timestamp"]).total_seconds()
    assert elapsed < 60


def test_parallel_branch_failure_caught() -> None:
    definition = machine(
        {
            "P": {
                "Type": "Parallel",
                "Branches": [PASS, FAIL],
                "Catch": [{"ErrorEquals": ["BranchError"], "ResultPath": "$.err", "Next": "Handled"}],
                "End": True,
            },
            "Handled": {"Type": "Pass", "End": True},
        }
    )
    result = legato.run(definition, {"k": 1})
    assert result.output == {"k": 1, "err": {"Error": "BranchError", "Cause": "it broke"}}


def test_parallel_retry_reruns_all_branches() -> None:
    calls: list[Any] = []

    def fn(event: Any, context: Any) -> Any:
        calls.append(event)
        if len(calls) < 3:
            raise RuntimeError("flaky")
        return "ok"

    task = branch(
        {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:fn", "End": True}}
    )
    definition = machine(
        {
            "P": {
                "Type": "Parallel",
                "Branches": [task],
                "Retry": [{"ErrorEquals": ["RuntimeError"], "IntervalSeconds": 1, "MaxAttempts": 3}],
                "End": True,
            }
        }
    )
    result = legato.run(definition, {}, functions={"fn": fn}, clock=VirtualClock())
    assert (result.status, result.output, len(calls)) == ("SUCCEEDED", ["ok"], 3)
    assert types(result).count("ParallelStateStarted") == 3


def passthrough(name: str) -> dict[str, Any]:
    # State names are unique across the whole machine, branches included.
    return branch({name: {"Type": "Pass", "End": True}})


def test_nested_parallel() -> None:
    inner = branch(
        {"Inner2": {"Type": "Parallel", "Branches": [passthrough("A"), passthrough("B")], "End": True}}
    )
    definition = machine({"P": {"Type": "Parallel", "Branches": [inner, PASS], "End": True}})
    assert legato.run(definition, 1).output == [[1, 1], 1]


# -- inline Map


def map_state(**fields: Any) -> dict[str, Any]:
    return machine({"M": {"Type": "Map", "ItemProcessor": PASS, "End": True, **fields}})


@pytest.mark.parametrize(
    ("fields", "given", "expected"),
    [
        ({}, [1, 2, 3], [1, 2, 3]),
        ({}, [], []),
        ({"ItemsPath": "$.items"}, {"items": ["a", "b"]}, ["a", "b"]),
        ({"InputPath": "$.wrap", "ItemsPath": "$.items"}, {"wrap": {"items": [1]}}, [1]),
        (
            {
                "ItemsPath": "$.items",
                "ItemSelector": {"idx.$": "$$.Map.Item.Index", "val.$": "$$.Map.Item.Value"},
            },
            {"items": ["a", "b"]},
            [{"idx": 0, "val": "a"}, {"idx": 1, "val": "b"}],
        ),
        (
            {"ItemsPath": "$.items", "ItemSelector": {"shared.$": "$.shared", "item.$": "$$.Map.Item.Value"}},
            {"items": [1, 2], "shared": "s"},
            [{"shared": "s", "item": 1}, {"shared": "s", "item": 2}],
        ),
        (
            {
                "ItemsPath": "$.items",
                "ResultSelector": {"n.$": "States.ArrayLength($)"},
                "ResultPath": "$.count",
            },
            {"items": [1, 2, 3]},
            {"items": [1, 2, 3], "count": {"n": 3}},
        ),
        ({"ItemsPath": "$.items", "ResultPath": None}, {"items": [1]}, {"items": [1]}),
        ({"ItemsPath": "$.items", "OutputPath": "$[1]"}, {"items": [1, 2]}, 2),
        ({"ItemsPath": "$$.Execution.Input.items"}, {"items": [5]}, [5]),
    ],
)
def test_map_fields(fields: dict[str, Any], given: Any, expected: Any) -> None:
    result = legato.run(map_state(**fields), given)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == expected


def test_map_legacy_iterator_and_parameters() -> None:
    definition = machine(
        {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "Parameters": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value"},
                "Iterator": branch(
                    {
                        "Double": {
                            "Type": "Pass",
                            "Parameters": {"d.$": "States.MathAdd($.v, $.v)"},
                            "End": True,
                        }
                    }
                ),
                "End": True,
            }
        }
    )
    assert legato.run(definition, {"items": [1, 5]}).output == [{"d": 2}, {"d": 10}]


def test_map_item_context_is_visible_inside_the_processor() -> None:
    processor = branch(
        {
            "Inner": {
                "Type": "Pass",
                "Parameters": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value"},
                "End": True,
            }
        }
    )
    definition = machine({"M": {"Type": "Map", "ItemProcessor": processor, "End": True}})
    assert legato.run(definition, ["x", "y"]).output == [{"i": 0, "v": "x"}, {"i": 1, "v": "y"}]


def test_map_history() -> None:
    result = legato.run(map_state(), ["a", "b"])
    assert types(result) == [
        "ExecutionStarted",
        "MapStateEntered",
        "MapStateStarted",
        "MapIterationStarted",
        "PassStateEntered",
        "PassStateExited",
        "MapIterationSucceeded",
        "MapIterationStarted",
        "PassStateEntered",
        "PassStateExited",
        "MapIterationSucceeded",
        "MapStateSucceeded",
        "MapStateExited",
        "ExecutionSucceeded",
    ]
    assert result.history[2]["mapStateStartedEventDetails"] == {"length": 2}
    assert result.history[3]["mapIterationStartedEventDetails"] == {"index": 0, "name": "M"}
    assert result.history[10]["mapIterationSucceededEventDetails"] == {"index": 1, "name": "M"}
    ids = [e["id"] for e in result.history]
    assert ids == list(range(1, 15))
    assert result.history[4]["stateEnteredEventDetails"]["input"] == '"a"'


def test_map_results_keep_item_order() -> None:
    processor = branch(
        {"W": {"Type": "Wait", "SecondsPath": "$", "Next": "R"}, "R": {"Type": "Pass", "End": True}}
    )
    definition = machine({"M": {"Type": "Map", "ItemProcessor": processor, "End": True}})
    result = legato.run(definition, [30, 10, 20], clock=VirtualClock())
    assert result.output == [30, 10, 20]
    # The iterations ran side by side: 30 s in all, not 60.
    elapsed = (result.history[-1]["timestamp"] - result.history[0]["timestamp"]).total_seconds()
    assert elapsed == pytest.approx(30, abs=1)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [({"MaxConcurrency": 1}, 60), ({"MaxConcurrency": 2}, 40), ({"MaxConcurrencyPath": "$.mc"}, 60)],
)
def test_map_max_concurrency_limits_parallelism(fields: dict[str, Any], expected: float) -> None:
    processor = branch({"W": {"Type": "Wait", "SecondsPath": "$.s", "End": True}})
    definition = machine(
        {"M": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": processor, "End": True, **fields}}
    )
    given = {"items": [{"s": 20}, {"s": 20}, {"s": 20}], "mc": 1}
    result = legato.run(definition, given, clock=VirtualClock())
    assert result.status == "SUCCEEDED"
    elapsed = (result.history[-1]["timestamp"] - result.history[0]["timestamp"]).total_seconds()
    assert elapsed == pytest.approx(expected, abs=1)


def test_map_max_concurrency_one_runs_items_in_order() -> None:
    result = legato.run(map_state(MaxConcurrency=1), [1, 2, 3])
    started = [
        e["mapIterationStartedEventDetails"]["index"]
        for e in result.history
        if e["type"] == "MapIterationStarted"
    ]
    assert started == [0, 1, 2]


@pytest.mark.parametrize(
    ("given", "cause"),
    [
        (
            {"items": [1], "mc": "x"},
            'The MaxConcurrencyPath field refers to value "x" which is not a valid integer: $.mc',
        ),
        (
            {"items": [1], "mc": True},
            'The MaxConcurrencyPath field refers to value "true" which is not a valid integer: $.mc',
        ),
        ({"items": [1]}, "Invalid path '$.mc' : No results for path: $['mc']"),
    ],
)
def test_map_bad_max_concurrency_path(given: Any, cause: str) -> None:
    result = legato.run(map_state(ItemsPath="$.items", MaxConcurrencyPath="$.mc"), given)
    assert (result.error, result.cause) == (
        "States.Runtime",
        f"An error occurred while executing the state 'M' (entered at the event id #2). {cause}",
    )


def test_map_numeric_string_max_concurrency_path_is_accepted() -> None:
    result = legato.run(map_state(ItemsPath="$.items", MaxConcurrencyPath="$.mc"), {"items": [1], "mc": "2"})
    assert result.output == [1]


@pytest.mark.parametrize(
    ("fields", "given", "cause"),
    [
        ({"ItemsPath": "$.x"}, {"x": 1}, 'Reference path "$.x" must point to array.'),
        ({}, {"x": 1}, 'Reference path "$" must point to array.'),
        ({"ItemsPath": "$.missing"}, {}, "Invalid path '$.missing' : No results for path: $['missing']"),
    ],
)
def test_map_items_must_be_an_array(fields: dict[str, Any], given: Any, cause: str) -> None:
    result = legato.run(map_state(**fields), given)
    assert (result.error, result.cause) == (
        "States.Runtime",
        f"An error occurred while executing the state 'M' (entered at the event id #2). {cause}",
    )


def test_map_failing_iteration_fails_the_state() -> None:
    processor = branch(
        {
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Bad"}],
                "Default": "Good",
            },
            "Bad": {"Type": "Fail", "Error": "ItemError", "Cause": "item 2"},
            "Good": {"Type": "Pass", "End": True},
        }
    )
    definition = machine({"M": {"Type": "Map", "ItemProcessor": processor, "MaxConcurrency": 1, "End": True}})
    result = legato.run(definition, [1, 2, 3])
    assert (result.status, result.error, result.cause) == ("FAILED", "ItemError", "item 2")
    t = types(result)
    assert t.count("MapIterationSucceeded") == 1
    assert t.count("MapIterationFailed") == 1
    assert t[-2:] == ["MapStateFailed", "ExecutionFailed"]
    failed = next(e for e in result.history if e["type"] == "MapIterationFailed")
    assert failed["mapIterationFailedEventDetails"] == {"index": 1, "name": "M"}
    # Item 3 never started.
    assert t.count("MapIterationStarted") == 2


def test_map_failing_iteration_caught() -> None:
    definition = machine(
        {
            "M": {
                "Type": "Map",
                "ItemProcessor": FAIL,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handled"}],
                "End": True,
            },
            "Handled": {"Type": "Pass", "End": True},
        }
    )
    assert legato.run(definition, [1]).output == {"Error": "BranchError", "Cause": "it broke"}


def test_map_of_task_calls_function_per_item() -> None:
    seen: list[Any] = []

    def square(event: Any, context: Any) -> Any:
        seen.append(event)
        return event * event

    processor = branch(
        {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:sq", "End": True}}
    )
    definition = machine({"M": {"Type": "Map", "ItemProcessor": processor, "End": True}})
    result = legato.run(definition, [1, 2, 3, 4], functions={"sq": square})
    assert result.output == [1, 4, 9, 16]
    assert sorted(seen) == [1, 2, 3, 4]


# -- variables in Parallel and Map


def test_parallel_branches_read_outer_variables_but_do_not_leak() -> None:
    b1 = branch(
        {
            "B1": {
                "Type": "Pass",
                "Assign": {"outer": "changed in branch", "inner": 1},
                "Next": "B1b",
            },
            "B1b": {"Type": "Pass", "Parameters": {"outer.$": "$outer", "inner.$": "$inner"}, "End": True},
        }
    )
    b2 = branch({"B2": {"Type": "Pass", "Parameters": {"outer.$": "$outer"}, "End": True}})
    definition = machine(
        {
            "Set": {"Type": "Pass", "Assign": {"outer": "original"}, "Next": "P"},
            "P": {"Type": "Parallel", "Branches": [b1, b2], "Next": "After"},
            "After": {"Type": "Pass", "Parameters": {"outer.$": "$outer", "branches.$": "$"}, "End": True},
        }
    )
    result = legato.run(definition, {})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {
        "outer": "original",
        "branches": [{"outer": "changed in branch", "inner": 1}, {"outer": "original"}],
    }


def test_variable_assigned_in_branch_is_not_visible_after() -> None:
    b = branch({"B": {"Type": "Pass", "Assign": {"inner": 1}, "End": True}})
    definition = machine(
        {
            "P": {"Type": "Parallel", "Branches": [b], "Next": "After"},
            "After": {"Type": "Pass", "Parameters": {"v.$": "$inner"}, "End": True},
        }
    )
    result = legato.run(definition, {})
    assert result.error == "States.Runtime"
    assert result.cause is not None and "$inner" in result.cause


def test_parallel_assign_uses_results() -> None:
    definition = machine(
        {
            "P": {
                "Type": "Parallel",
                "Branches": [passthrough("A"), passthrough("B")],
                "Assign": {"first.$": "$[0]"},
                "Next": "After",
            },
            "After": {"Type": "Pass", "Parameters": {"first.$": "$first"}, "End": True},
        }
    )
    assert legato.run(definition, {"x": 1}).output == {"first": {"x": 1}}


def test_map_iterations_read_outer_variables_with_own_scope() -> None:
    processor = branch(
        {
            "Inner": {
                "Type": "Pass",
                "Assign": {"mine.$": "$"},
                "Next": "Use",
            },
            "Use": {"Type": "Pass", "Parameters": {"mine.$": "$mine", "outer.$": "$outer"}, "End": True},
        }
    )
    definition = machine(
        {
            "Set": {"Type": "Pass", "Assign": {"outer": "o"}, "Next": "M"},
            "M": {"Type": "Map", "ItemProcessor": processor, "Next": "After"},
            "After": {"Type": "Pass", "Parameters": {"results.$": "$", "outer.$": "$outer"}, "End": True},
        }
    )
    result = legato.run(definition, [1, 2])
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"results": [{"mine": 1, "outer": "o"}, {"mine": 2, "outer": "o"}], "outer": "o"}


def test_map_iteration_variables_do_not_leak() -> None:
    processor = branch({"Inner": {"Type": "Pass", "Assign": {"mine": 1}, "End": True}})
    definition = machine(
        {
            "M": {"Type": "Map", "ItemProcessor": processor, "Next": "After"},
            "After": {"Type": "Pass", "Parameters": {"v.$": "$mine"}, "End": True},
        }
    )
    assert legato.run(definition, [1]).error == "States.Runtime"
