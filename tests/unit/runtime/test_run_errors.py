"""Retry and Catch through ``legato.run``: matching rules, intervals, outputs and history."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

import legato
from legato import VirtualClock

FN = "arn:aws:lambda:us-east-1:123456789012:function:"


def machine(states: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states, **top}


class Flaky:
    """Fails with ``exc`` the first ``failures`` calls, then returns the call number."""

    def __init__(self, failures: int, exc: type[Exception] = ValueError) -> None:
        self.failures = failures
        self.exc = exc
        self.calls = 0

    def __call__(self, event: Any, context: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.exc(f"failure {self.calls}")
        return {"call": self.calls}


def task(fields: dict[str, Any], name: str = "fn") -> dict[str, Any]:
    return {"Type": "Task", "Resource": FN + name, **fields}


def run(definition: dict[str, Any], given: Any = None, **functions: Any) -> legato.ExecutionResult:
    return legato.run(definition, given, functions=functions, clock=VirtualClock())


def types(result: legato.ExecutionResult) -> list[str]:
    return [e["type"] for e in result.history]


def retry_delays(result: legato.ExecutionResult) -> list[float]:
    """Seconds between each failure and the next scheduling of the function."""
    out = []
    failed_at = None
    for e in result.history:
        if e["type"] == "LambdaFunctionFailed":
            failed_at = e["timestamp"]
        elif e["type"] == "LambdaFunctionScheduled" and failed_at is not None:
            out.append((e["timestamp"] - failed_at).total_seconds())
            failed_at = None
    return out


# -- Retry


def test_retry_until_success_with_backoff() -> None:
    fn = Flaky(3)
    retry = [{"ErrorEquals": ["ValueError"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 3}]
    started = time.monotonic()
    result = run(machine({"T": task({"Retry": retry, "End": True})}), {}, fn=fn)
    real = time.monotonic() - started
    assert (result.status, result.output, fn.calls) == ("SUCCEEDED", {"call": 4}, 4)
    assert retry_delays(result) == pytest.approx([2, 6, 18], abs=0.5)
    # 26 virtual seconds passed; far less real time did.
    assert real < 20
    assert types(result) == [
        "ExecutionStarted",
        "TaskStateEntered",
        *["LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionFailed"] * 3,
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]


def test_retry_defaults_three_attempts_interval_one_backoff_two() -> None:
    fn = Flaky(10)
    result = run(machine({"T": task({"Retry": [{"ErrorEquals": ["States.ALL"]}], "End": True})}), {}, fn=fn)
    assert (result.status, result.error, fn.calls) == ("FAILED", "ValueError", 4)
    assert retry_delays(result) == pytest.approx([1, 2, 4], abs=0.5)
    assert json.loads(result.cause or "")["errorMessage"] == "failure 4"


def test_max_attempts_zero_never_retries() -> None:
    fn = Flaky(1)
    retry = [
        {"ErrorEquals": ["ValueError"], "MaxAttempts": 0},
        {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5},
    ]
    result = run(machine({"T": task({"Retry": retry, "End": True})}), {}, fn=fn)
    # The first matching retrier decides, even when it allows no attempt.
    assert (result.status, result.error, fn.calls) == ("FAILED", "ValueError", 1)


def test_max_delay_seconds_caps_the_interval() -> None:
    fn = Flaky(4)
    retry = [
        {
            "ErrorEquals": ["States.ALL"],
            "IntervalSeconds": 3,
            "BackoffRate": 2,
            "MaxAttempts": 4,
            "MaxDelaySeconds": 5,
        }
    ]
    result = run(machine({"T": task({"Retry": retry, "End": True})}), {}, fn=fn)
    assert result.status == "SUCCEEDED"
    assert retry_delays(result) == pytest.approx([3, 5, 5, 5], abs=0.5)


def test_full_jitter_stays_within_bounds() -> None:
    fn = Flaky(6)
    retry = [
        {
            "ErrorEquals": ["States.ALL"],
            "IntervalSeconds": 10,
            "BackoffRate": 2,
            "MaxAttempts": 6,
            "JitterStrategy": "FULL",
        }
    ]
    result = run(machine({"T": task({"Retry": retry, "End": True})}), {}, fn=fn)
    assert result.status == "SUCCEEDED"
    delays = retry_delays(result)
    nominal = [10, 20, 40, 80, 160, 320]
    assert len(delays) == 6
    for got, cap in zip(delays, nominal, strict=True):
        assert 0 <= got <= cap + 0.5
    # Without jitter the total would be 630 s.
    assert sum(delays) < sum(nominal)


def test_retriers_count_attempts_separately() -> None:
    class A(Exception):
        pass

    class B(Exception):
        pass

    calls: list[str] = []

    def fn(event: Any, context: Any) -> Any:
        calls.append("x")
        if len(calls) in (1, 3):
            raise A("a")
        if len(calls) in (2, 4):
            raise B("b")
        return "done"

    retry = [
        {"ErrorEquals": ["A"], "MaxAttempts": 2, "IntervalSeconds": 1},
        {"ErrorEquals": ["B"], "MaxAttempts": 2, "IntervalSeconds": 1},
    ]
    result = run(machine({"T": task({"Retry": retry, "End": True})}), {}, fn=fn)
    assert (result.status, result.output, len(calls)) == ("SUCCEEDED", "done", 5)


def test_retry_count_in_context_object() -> None:
    seen: list[Any] = []

    def fn(event: Any, context: Any) -> Any:
        seen.append(event["count"])
        if len(seen) < 3:
            raise RuntimeError("again")
        return event

    state = task(
        {
            "Parameters": {"count.$": "$$.State.RetryCount"},
            "Retry": [{"ErrorEquals": ["RuntimeError"], "IntervalSeconds": 1}],
            "End": True,
        }
    )
    result = run(machine({"T": state}), {}, fn=fn)
    assert seen == [0, 1, 2]
    assert result.output == {"count": 2}


def test_retry_does_not_match_other_errors() -> None:
    fn = Flaky(1, KeyError)
    result = run(machine({"T": task({"Retry": [{"ErrorEquals": ["ValueError"]}], "End": True})}), {}, fn=fn)
    assert (result.error, fn.calls) == ("KeyError", 1)


def test_retry_states_task_failed_matches_function_errors() -> None:
    fn = Flaky(2)
    retry = [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1}]
    result = run(machine({"T": task({"Retry": retry, "End": True})}), {}, fn=fn)
    assert (result.status, fn.calls) == ("SUCCEEDED", 3)


# -- Catch


def catching(catch: list[dict[str, Any]], fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return machine(
        {
            "T": task({"Catch": catch, "Next": "Done", **(fields or {})}),
            "Done": {"Type": "Pass", "End": True},
            "Handler": {"Type": "Pass", "End": True},
        }
    )


def boom(event: Any, context: Any) -> Any:
    raise ValueError("bad value")


def test_catch_default_result_path_replaces_input() -> None:
    result = run(catching([{"ErrorEquals": ["ValueError"], "Next": "Handler"}]), {"keep": 1}, fn=boom)
    assert result.status == "SUCCEEDED"
    assert result.output["Error"] == "ValueError"
    cause = json.loads(result.output["Cause"])
    assert cause["errorMessage"] == "bad value"
    assert cause["errorType"] == "ValueError"
    assert set(cause) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert types(result) == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionFailed",
        "TaskStateExited",
        "PassStateEntered",
        "PassStateExited",
        "ExecutionSucceeded",
    ]
    entered = result.history[6]["stateEnteredEventDetails"]
    assert entered["name"] == "Handler"


def test_catch_result_path_keeps_input() -> None:
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "Handler", "ResultPath": "$.error"}]
    result = run(catching(catch), {"keep": 1}, fn=boom)
    assert result.output["keep"] == 1
    assert result.output["error"]["Error"] == "ValueError"


def test_catch_null_result_path_discards_error() -> None:
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "Handler", "ResultPath": None}]
    result = run(catching(catch), {"keep": 1}, fn=boom)
    assert result.output == {"keep": 1}


def test_catch_ignores_input_path_and_output_path_of_the_state() -> None:
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "Handler", "ResultPath": "$.e"}]
    result = run(
        catching(catch, {"InputPath": "$.inner", "OutputPath": "$.inner"}), {"inner": {"v": 1}}, fn=boom
    )
    assert set(result.output) == {"inner", "e"}


def test_first_matching_catcher_wins() -> None:
    catch = [
        {"ErrorEquals": ["KeyError"], "Next": "Done"},
        {"ErrorEquals": ["ValueError", "TypeError"], "Next": "Handler", "ResultPath": "$.which"},
        {"ErrorEquals": ["States.ALL"], "Next": "Done"},
    ]
    result = run(catching(catch), {}, fn=boom)
    assert result.history[-3]["stateEnteredEventDetails"]["name"] == "Handler"
    assert result.output["which"]["Error"] == "ValueError"


def test_retry_then_catch() -> None:
    fn = Flaky(10)
    state = {
        "Retry": [{"ErrorEquals": ["ValueError"], "MaxAttempts": 2, "IntervalSeconds": 1}],
        "Catch": [{"ErrorEquals": ["ValueError"], "Next": "Handler", "ResultPath": "$.e"}],
        "Next": "Done",
    }
    result = run(
        machine(
            {
                "T": task(state),
                "Done": {"Type": "Pass", "End": True},
                "Handler": {"Type": "Pass", "End": True},
            }
        ),
        {},
        fn=fn,
    )
    assert fn.calls == 3
    assert json.loads(result.output["e"]["Cause"])["errorMessage"] == "failure 3"


def test_catch_assign_sees_error_output_and_jsonpath() -> None:
    catch = [
        {
            "ErrorEquals": ["States.ALL"],
            "Next": "Handler",
            "ResultPath": None,
            "Assign": {"err.$": "$.Error", "state.$": "$$.State.Name"},
        }
    ]
    definition = machine(
        {
            "T": task({"Catch": catch, "Next": "Done"}),
            "Done": {"Type": "Pass", "End": True},
            "Handler": {"Type": "Pass", "Parameters": {"err.$": "$err", "state.$": "$state"}, "End": True},
        }
    )
    result = run(definition, {}, fn=boom)
    assert result.output == {"err": "ValueError", "state": "T"}
    exited = next(e for e in result.history if e["type"] == "TaskStateExited")
    assert exited["stateExitedEventDetails"]["assignedVariables"] == {"err": '"ValueError"', "state": '"T"'}


def test_catch_in_jsonata_uses_error_output() -> None:
    catch = [
        {
            "ErrorEquals": ["States.ALL"],
            "Next": "Handler",
            "Output": {"error": "{% $states.errorOutput.Error %}", "input": "{% $states.input %}"},
            "Assign": {"caught": "{% $states.errorOutput.Error & '!' %}"},
        }
    ]
    definition = machine(
        {
            "T": {"Type": "Task", "Resource": FN + "fn", "Catch": catch, "Next": "Done"},
            "Done": {"Type": "Pass", "End": True},
            "Handler": {
                "Type": "Pass",
                "Output": {"out": "{% $states.input %}", "caught": "{% $caught %}"},
                "End": True,
            },
        },
        QueryLanguage="JSONata",
    )
    result = run(definition, {"x": 1}, fn=boom)
    assert result.output == {"out": {"error": "ValueError", "input": {"x": 1}}, "caught": "ValueError!"}


def test_jsonata_catch_without_output_passes_error_output() -> None:
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "Handler"}]
    definition = machine(
        {
            "T": {"Type": "Task", "Resource": FN + "fn", "Catch": catch, "Next": "Done"},
            "Done": {"Type": "Pass", "End": True},
            "Handler": {"Type": "Pass", "End": True},
        },
        QueryLanguage="JSONata",
    )
    result = run(definition, {"x": 1}, fn=boom)
    assert set(result.output) == {"Error", "Cause"} and result.output["Error"] == "ValueError"


# -- which errors the rules match


def sleepy(event: Any, context: Any) -> Any:
    context.sleep(60)
    return "late"


@pytest.mark.parametrize(
    ("names", "fn", "caught"),
    [
        (["States.ALL"], boom, True),
        (["States.TaskFailed"], boom, True),
        (["ValueError"], boom, True),
        (["Exception"], boom, False),  # names match exactly, not by class hierarchy
        (["valueerror"], boom, False),
        (["States.ALL"], sleepy, True),
        (["States.Timeout"], sleepy, True),
        (["States.TaskFailed"], sleepy, False),  # States.TaskFailed matches all but States.Timeout
        (["States.TaskFailed", "States.Timeout"], sleepy, True),
    ],
)
def test_error_matching(names: list[str], fn: Any, caught: bool) -> None:
    catch = [{"ErrorEquals": names, "Next": "Handler", "ResultPath": "$.e"}]
    result = run(catching(catch, {"TimeoutSeconds": 5}), {}, fn=fn)
    assert result.status == ("SUCCEEDED" if caught else "FAILED")
    if fn is sleepy:
        error = result.output["e"]["Error"] if caught else result.error
        assert error == "States.Timeout"


def test_states_runtime_is_not_caught_by_states_all() -> None:
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "Handler"}]
    retry = [{"ErrorEquals": ["States.ALL"]}]
    calls: list[int] = []

    def fn(event: Any, context: Any) -> Any:
        calls.append(1)
        return {"no": "field"}

    result = run(catching(catch, {"ResultSelector": {"v.$": "$.missing"}, "Retry": retry}), {}, fn=fn)
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert calls == [1]
    assert result.cause == (
        "An error occurred while executing the state 'T' (entered at the event id #2). "
        "The JSONPath '$.missing' specified for the field 'v.$' could not be found in the input '{\"no\":\"field\"}'"
    )


def test_states_runtime_is_not_caught_even_by_name() -> None:
    catch = [{"ErrorEquals": ["States.Runtime"], "Next": "Handler"}]
    result = run(catching(catch, {"InputPath": "$.missing"}), {}, fn=boom)
    assert (result.status, result.error) == ("FAILED", "States.Runtime")


def test_errors_in_parallel_and_map_are_caught_without_task_failed() -> None:
    fail = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Custom", "Cause": "c"}}}
    for state in (
        {"Type": "Parallel", "Branches": [fail]},
        {"Type": "Map", "ItemProcessor": fail, "ItemsPath": "$.items"},
    ):
        definition = machine(
            {
                "S": {
                    **state,
                    "Catch": [
                        {"ErrorEquals": ["States.TaskFailed"], "Next": "Wrong"},
                        {"ErrorEquals": ["Custom"], "Next": "Right"},
                    ],
                    "End": True,
                },
                "Wrong": {"Type": "Pass", "Result": "wrong", "End": True},
                "Right": {"Type": "Pass", "End": True},
            }
        )
        result = legato.run(definition, {"items": [1]})
        assert result.output == {"Error": "Custom", "Cause": "c"}, state["Type"]


# -- Task timeouts


def test_task_timeout_with_virtual_clock() -> None:
    started = time.monotonic()
    result = run(machine({"T": task({"TimeoutSeconds": 5, "End": True})}), {}, fn=sleepy)
    assert time.monotonic() - started < 10
    assert (result.status, result.error, result.cause) == ("FAILED", "States.Timeout", None)
    assert types(result) == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionTimedOut",
        "ExecutionFailed",
    ]
    scheduled = result.history[2]["lambdaFunctionScheduledEventDetails"]
    assert scheduled["timeoutInSeconds"] == 5
    timed_out = result.history[4]
    assert timed_out["lambdaFunctionTimedOutEventDetails"] == {"error": "States.Timeout"}
    elapsed = (timed_out["timestamp"] - result.history[3]["timestamp"]).total_seconds()
    assert elapsed == pytest.approx(5, abs=0.5)
    assert result.history[-1]["executionFailedEventDetails"] == {"error": "States.Timeout"}


def test_task_finishing_within_timeout() -> None:
    def quick(event: Any, context: Any) -> Any:
        context.sleep(3)
        return "in time"

    result = run(machine({"T": task({"TimeoutSeconds": 5, "End": True})}), {}, fn=quick)
    assert (result.status, result.output) == ("SUCCEEDED", "in time")


def test_timeout_seconds_path() -> None:
    result = run(machine({"T": task({"TimeoutSecondsPath": "$.t", "End": True})}), {"t": 2}, fn=sleepy)
    assert result.error == "States.Timeout"
    assert result.history[2]["lambdaFunctionScheduledEventDetails"]["timeoutInSeconds"] == 2
    result = run(machine({"T": task({"TimeoutSecondsPath": "$.t", "End": True})}), {"t": 100}, fn=sleepy)
    assert result.output == "late"


@pytest.mark.parametrize(
    ("given", "cause"),
    [
        ({}, "Invalid path '$.t' : No results for path: $['t']"),
        (
            {"t": "5"},
            'The TimeoutSecondsPath parameter does not reference a valid positive integer value: $.t == "5"',
        ),
        (
            {"t": 0},
            "The TimeoutSecondsPath parameter does not reference a valid positive integer value: $.t == 0",
        ),
        (
            {"t": 1.5},
            "The TimeoutSecondsPath parameter does not reference a valid positive integer value: $.t == 1.5",
        ),
    ],
)
def test_bad_timeout_seconds_path(given: Any, cause: str) -> None:
    result = run(machine({"T": task({"TimeoutSecondsPath": "$.t", "End": True})}), given, fn=sleepy)
    assert (result.error, result.cause) == (
        "States.Runtime",
        f"An error occurred while executing the state 'T' (entered at the event id #2). {cause}",
    )


def test_heartbeat_seconds_is_recorded_for_service_tasks() -> None:
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "fn", "Payload": {}},
        "TimeoutSeconds": 30,
        "HeartbeatSeconds": 10,
        "End": True,
    }
    result = run(machine({"T": state}), {}, fn=lambda e, c: "ok")
    scheduled = result.history[2]["taskScheduledEventDetails"]
    assert (scheduled["timeoutInSeconds"], scheduled["heartbeatInSeconds"]) == (30, 10)
    assert result.output["Payload"] == "ok"


def test_service_task_timeout() -> None:
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "fn"},
        "TimeoutSeconds": 5,
        "End": True,
    }
    result = run(machine({"T": state}), {}, fn=sleepy)
    assert (result.error, result.cause) == ("States.Timeout", None)
    assert types(result)[-2] == "TaskTimedOut"
    assert result.history[-2]["taskTimedOutEventDetails"] == {
        "error": "States.Timeout",
        "resource": "invoke",
        "resourceType": "lambda",
    }


def test_async_function_timeout() -> None:
    import asyncio

    async def slow(event: Any, context: Any) -> Any:
        await asyncio.sleep(3600)  # never finishes first: the virtual timer fires
        return "never"

    started = time.monotonic()
    result = run(machine({"T": task({"TimeoutSeconds": 1, "End": True})}), {}, fn=slow)
    assert result.error == "States.Timeout"
    assert time.monotonic() - started < 10


def test_timeout_retried() -> None:
    calls: list[int] = []

    def fn(event: Any, context: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            context.sleep(60)
        return len(calls)

    retry = [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 1}]
    result = run(machine({"T": task({"TimeoutSeconds": 5, "Retry": retry, "End": True})}), {}, fn=fn)
    assert (result.status, result.output) == ("SUCCEEDED", 2)


# -- machine-level timeout and payload limits


def test_machine_timeout_seconds() -> None:
    definition = machine({"W": {"Type": "Wait", "Seconds": 100, "End": True}}, TimeoutSeconds=10)
    started = time.monotonic()
    result = legato.run(definition, {}, clock=VirtualClock())
    assert time.monotonic() - started < 10
    assert (result.status, result.error, result.cause, result.output) == ("TIMED_OUT", None, None, None)
    assert types(result) == ["ExecutionStarted", "WaitStateEntered", "ExecutionTimedOut"]
    elapsed = (result.history[-1]["timestamp"] - result.history[0]["timestamp"]).total_seconds()
    assert elapsed == pytest.approx(10, abs=0.5)


def test_machine_timeout_not_reached() -> None:
    definition = machine({"W": {"Type": "Wait", "Seconds": 5, "End": True}}, TimeoutSeconds=10)
    assert legato.run(definition, {"a": 1}, clock=VirtualClock()).output == {"a": 1}


def test_function_result_over_payload_limit() -> None:
    def big(event: Any, context: Any) -> Any:
        return "a" * (256 * 1024 + 1)

    result = run(machine({"T": task({"End": True})}), {}, fn=big)
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")
    assert result.cause == (
        f"The state/task '{FN}fn' returned a result with a size exceeding the maximum number of bytes service limit."
    )
    assert types(result)[-2] == "LambdaFunctionFailed"


def test_function_result_over_limit_is_caught_by_states_all() -> None:
    def big(event: Any, context: Any) -> Any:
        return ("a" * (257 * 1024)).encode()

    catch = [{"ErrorEquals": ["States.ALL"], "Next": "Handler"}]
    result = run(catching(catch), {}, fn=big)
    assert result.output["Error"] == "States.DataLimitExceeded"


def test_pass_output_over_payload_limit() -> None:
    big = "x" * (256 * 1024)
    definition = machine({"P": {"Type": "Pass", "Parameters": {"a.$": "$.s", "b.$": "$.s"}, "End": True}})
    result = legato.run(definition, {"s": big})
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")
    assert result.cause == (
        "The state/task 'P' returned a result with a size exceeding the maximum number of bytes service limit."
    )


def test_payload_just_under_the_limit_is_fine() -> None:
    text = "x" * (256 * 1024 - 2)  # JSON text: the quotes make it exactly 256 KiB
    result = legato.run(machine({"P": {"Type": "Pass", "End": True}}), json.dumps(text))
    assert result.status == "SUCCEEDED"
