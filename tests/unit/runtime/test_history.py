"""History events from ``legato.run``: shapes, ids, chaining, payload texts, timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import legato
from legato import VirtualClock

FN = "arn:aws:lambda:us-east-1:123456789012:function:"
ROLE = "arn:aws:iam::123456789012:role/legato"


def machine(states: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states, **top}


def test_full_history_of_a_two_state_machine() -> None:
    definition = machine(
        {
            "A": {"Type": "Pass", "Result": {"r": 1}, "ResultPath": "$.a", "Next": "B"},
            "B": {"Type": "Succeed"},
        }
    )
    result = legato.run(definition, '{"in": "put"}')
    events = [{k: v for k, v in e.items() if k != "timestamp"} for e in result.history]
    assert events == [
        {
            "type": "ExecutionStarted",
            "id": 1,
            "previousEventId": 0,
            "executionStartedEventDetails": {
                "input": '{"in": "put"}',
                "inputDetails": {"truncated": False},
                "roleArn": ROLE,
            },
        },
        {
            "type": "PassStateEntered",
            "id": 2,
            "previousEventId": 0,
            "stateEnteredEventDetails": {
                "name": "A",
                "input": '{"in":"put"}',
                "inputDetails": {"truncated": False},
            },
        },
        {
            "type": "PassStateExited",
            "id": 3,
            "previousEventId": 2,
            "stateExitedEventDetails": {
                "name": "A",
                "output": '{"in":"put","a":{"r":1}}',
                "outputDetails": {"truncated": False},
            },
        },
        {
            "type": "SucceedStateEntered",
            "id": 4,
            "previousEventId": 3,
            "stateEnteredEventDetails": {
                "name": "B",
                "input": '{"in":"put","a":{"r":1}}',
                "inputDetails": {"truncated": False},
            },
        },
        {
            "type": "SucceedStateExited",
            "id": 5,
            "previousEventId": 4,
            "stateExitedEventDetails": {
                "name": "B",
                "output": '{"in":"put","a":{"r":1}}',
                "outputDetails": {"truncated": False},
            },
        },
        {
            "type": "ExecutionSucceeded",
            "id": 6,
            "previousEventId": 5,
            "executionSucceededEventDetails": {
                "output": '{"in":"put","a":{"r":1}}',
                "outputDetails": {"truncated": False},
            },
        },
    ]
    assert result.output_text == '{"in":"put","a":{"r":1}}'


def test_timestamps_are_aware_and_ordered() -> None:
    definition = machine(
        {"W": {"Type": "Wait", "Seconds": 10, "Next": "P"}, "P": {"Type": "Pass", "End": True}}
    )
    before = datetime.now(tz=UTC)
    result = legato.run(definition, {}, clock=VirtualClock())
    stamps = [e["timestamp"] for e in result.history]
    assert all(isinstance(s, datetime) and s.tzinfo is not None for s in stamps)
    assert stamps == sorted(stamps)
    assert stamps[0] >= before.replace(microsecond=0)
    assert (stamps[-1] - stamps[0]).total_seconds() >= 10


def test_previous_event_ids_chain_through_retries_and_catch() -> None:
    calls: list[int] = []

    def fn(event: Any, context: Any) -> Any:
        calls.append(1)
        raise ValueError("no")

    definition = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": FN + "fn",
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1, "IntervalSeconds": 1}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H", "ResultPath": None}],
                "End": True,
            },
            "H": {"Type": "Pass", "End": True},
        }
    )
    result = legato.run(definition, {}, functions={"fn": fn}, clock=VirtualClock())
    chain = [(e["id"], e["previousEventId"], e["type"]) for e in result.history]
    assert chain == [
        (1, 0, "ExecutionStarted"),
        (2, 0, "TaskStateEntered"),
        (3, 2, "LambdaFunctionScheduled"),
        (4, 3, "LambdaFunctionStarted"),
        (5, 4, "LambdaFunctionFailed"),
        (6, 5, "LambdaFunctionScheduled"),
        (7, 6, "LambdaFunctionStarted"),
        (8, 7, "LambdaFunctionFailed"),
        (9, 8, "TaskStateExited"),
        (10, 9, "PassStateEntered"),
        (11, 10, "PassStateExited"),
        (12, 11, "ExecutionSucceeded"),
    ]
    assert result.output == {}


def test_failed_execution_chains_to_last_event() -> None:
    definition = machine(
        {"P": {"Type": "Pass", "Next": "F"}, "F": {"Type": "Fail", "Error": "E", "Cause": "C"}}
    )
    result = legato.run(definition, {})
    last = result.history[-1]
    assert (last["id"], last["previousEventId"]) == (5, 4)
    assert last["executionFailedEventDetails"] == {"error": "E", "cause": "C"}


def test_payload_texts_are_compact_json_of_any_value() -> None:
    for value, text in [(None, "null"), ("s", '"s"'), (1.5, "1.5"), ([], "[]"), ({"u": "é"}, '{"u":"é"}')]:
        definition = machine({"P": {"Type": "Pass", "Result": value, "End": True}})
        result = legato.run(definition, {})
        assert result.history[2]["stateExitedEventDetails"]["output"] == text
        assert result.history[-1]["executionSucceededEventDetails"]["output"] == text


def test_assigned_variables_are_json_texts() -> None:
    definition = machine(
        {
            "P": {
                "Type": "Pass",
                "Assign": {"s": "text", "n": 1, "o": {"k": [True, None]}, "z": None},
                "End": True,
            }
        }
    )
    exited = legato.run(definition, {}).history[2]["stateExitedEventDetails"]
    assert exited["assignedVariables"] == {"s": '"text"', "n": "1", "o": '{"k":[true,null]}', "z": "null"}
    assert exited["assignedVariablesDetails"] == {"truncated": False}


def test_execution_input_is_kept_verbatim() -> None:
    text = '{ "b" : 2,\n "a": [1, 2] }'
    result = legato.run(machine({"P": {"Type": "Pass", "End": True}}), text)
    assert result.history[0]["executionStartedEventDetails"]["input"] == text
    assert result.output == {"b": 2, "a": [1, 2]}


def test_invalid_input_json_fails_the_execution() -> None:
    result = legato.run(machine({"P": {"Type": "Pass", "End": True}}), "{not json")
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert [e["type"] for e in result.history] == ["ExecutionStarted", "ExecutionFailed"]


def test_result_fields() -> None:
    result = legato.run(machine({"P": {"Type": "Pass", "End": True}}), {"a": 1}, name="hist-run")
    assert (
        result.execution_arn == "arn:aws:states:us-east-1:123456789012:execution:LocalStateMachine:hist-run"
    )
    assert result.succeeded
    failed = legato.run(machine({"F": {"Type": "Fail", "Error": "X"}}))
    assert not failed.succeeded and failed.output is None and failed.output_text is None


def test_history_property_returns_fresh_copies() -> None:
    result = legato.run(machine({"P": {"Type": "Pass", "End": True}}), {})
    first = result.history
    first[0]["type"] = "Changed"
    assert result.history[0]["type"] == "ExecutionStarted"


def test_express_run() -> None:
    result = legato.run(machine({"P": {"Type": "Pass", "End": True}}), {"x": 1}, type="EXPRESS", name="ex")
    assert (result.status, result.output) == ("SUCCEEDED", {"x": 1})
    assert ":express:" in result.execution_arn
