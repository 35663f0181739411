"""Step Functions Local's MockConfigFile: parsing, attempts, and mocked Tasks in legato.run."""

from __future__ import annotations

from typing import Any

import pytest

import legato
from legato.runtime.clock import VirtualClock
from legato.runtime.mocks import MockConfigError, load_mock_config

DEFINITION: dict[str, Any] = {
    "StartAt": "Charge",
    "States": {
        "Charge": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "charge", "Payload.$": "$"},
            "ResultSelector": {"body.$": "$.Payload.body"},
            "ResultPath": "$.charge",
            "Retry": [{"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 1, "MaxAttempts": 3}],
            "Next": "Notify",
        },
        "Notify": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:notify",
            "End": True,
        },
    },
}

CONFIG: dict[str, Any] = {
    "StateMachines": {
        "Orders": {
            "TestCases": {
                "HappyPath": {"Charge": "ChargeOk", "Notify": "NotifyOk"},
                "RetryPath": {"Charge": "ChargeFlaky"},
                "FailPath": {"Charge": "ChargeBroken"},
            }
        }
    },
    "MockedResponses": {
        "ChargeOk": {"0": {"Return": {"StatusCode": 200, "Payload": {"body": "charged"}}}},
        "NotifyOk": {"0": {"Return": {"sent": True}}},
        "ChargeFlaky": {
            "0-1": {"Throw": {"Error": "Lambda.ServiceException", "Cause": "try again"}},
            "2": {"Return": {"StatusCode": 200, "Payload": {"body": "third time"}}},
        },
        "ChargeBroken": {"0": {"Throw": {"Error": "CardDeclined", "Cause": "no funds"}}},
    },
}


def test_happy_path_mocks_every_task_and_keeps_the_result_pipeline() -> None:
    result = legato.run(DEFINITION, {"order": 1}, mock_config=CONFIG, test_case="HappyPath")
    assert result.status == "SUCCEEDED"
    assert result.output == {"sent": True}
    types = [e["type"] for e in result.history]
    assert "LambdaFunctionSucceeded" in types  # the mocked Lambda records Lambda events
    assert types.count("TaskSucceeded") == 1
    exited = next(e for e in result.history if e["type"] == "TaskStateExited")
    assert '"charge":{"body":"charged"}' in exited["stateExitedEventDetails"]["output"]


def test_attempts_follow_ranges_and_unmocked_states_run_for_real() -> None:
    def notify(event: Any, context: Any) -> Any:
        return {"real": event["charge"]}

    result = legato.run(
        DEFINITION,
        {},
        functions={"notify": notify},
        clock=VirtualClock(),
        mock_config=CONFIG,
        test_case="Orders#RetryPath",
    )
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {"real": {"body": "third time"}}
    assert [e["type"] for e in result.history].count("TaskFailed") == 2


def test_throw_fails_the_task_with_the_mocked_error() -> None:
    result = legato.run(DEFINITION, {}, mock_config=CONFIG, test_case="FailPath")
    assert (result.status, result.error, result.cause) == ("FAILED", "CardDeclined", "no funds")


def test_an_invocation_past_the_mocked_ones_fails_clearly() -> None:
    definition = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "f"},
                "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                "End": True,
            }
        },
    }
    config = {
        "StateMachines": {"M": {"TestCases": {"T": {"T": "Once"}}}},
        "MockedResponses": {"Once": {"0": {"Throw": {"Error": "E", "Cause": "c"}}}},
    }
    result = legato.run(definition, {}, clock=VirtualClock(), mock_config=config, test_case="T")
    assert result.error == "States.Runtime"
    assert result.cause is not None and "no response for invocation 1" in result.cause


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"MockedResponses": {"R": {"x": {"Return": 1}}}}, "'x' is not an invocation number"),
        ({"MockedResponses": {"R": {"0": {"Return": 1, "Throw": {}}}}}, "exactly one of Return or Throw"),
        (
            {"MockedResponses": {"R": {"0-1": {"Return": 1}, "1": {"Return": 2}}}},
            "invocation 1 is given twice",
        ),
        ({"StateMachines": {"M": {"TestCases": {"C": {"S": "Missing"}}}}}, "MockedResponses does not define"),
        ({"MockedResponses": {"R": {"0": {"Throw": {"Cause": "c"}}}}}, "with a string Error"),
    ],
)
def test_invalid_configurations_say_what_is_wrong(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(MockConfigError, match=message):
        load_mock_config(doc)


def test_unknown_test_case() -> None:
    with pytest.raises(MockConfigError, match="no state machine"):
        legato.run(DEFINITION, {}, mock_config=CONFIG, test_case="Nope")


def test_docs_examples_run() -> None:
    import re
    from pathlib import Path

    docs = Path(__file__).resolve().parents[3] / "docs"
    for page in ("mocking.md", "nested.md"):
        blocks = re.findall(r"```python\n(.*?)```", (docs / page).read_text(), re.S)
        assert blocks
        for block in blocks:
            exec(compile(block, page, "exec"), {})
