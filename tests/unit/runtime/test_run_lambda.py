"""Python functions as Lambda: direct function ARNs and ``arn:aws:states:::lambda:invoke``."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from typing import Any

import pytest

import legato
from legato import VirtualClock

ARN = "arn:aws:lambda:us-east-1:123456789012:function:"
INVOKE = "arn:aws:states:::lambda:invoke"


def machine(states: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states, **top}


def direct(name: str, **fields: Any) -> dict[str, Any]:
    return machine({"T": {"Type": "Task", "Resource": ARN + name, "End": True, **fields}})


def invoke(parameters: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return machine(
        {"T": {"Type": "Task", "Resource": INVOKE, "Parameters": parameters, "End": True, **fields}}
    )


def types(result: legato.ExecutionResult) -> list[str]:
    return [e["type"] for e in result.history]


def echo(event: Any, context: Any) -> Any:
    return {"event": event}


class CustomError(Exception):
    pass


def raises(event: Any, context: Any) -> Any:
    raise CustomError("it went wrong")


UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# -- direct function ARNs


def test_direct_arn_result_is_the_return_value() -> None:
    result = legato.run(direct("echo"), {"a": 1}, functions={"echo": echo})
    assert (result.status, result.output) == ("SUCCEEDED", {"event": {"a": 1}})
    assert types(result) == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    assert result.history[2]["lambdaFunctionScheduledEventDetails"] == {
        "input": '{"a":1}',
        "inputDetails": {"truncated": False},
        "resource": ARN + "echo",
    }
    assert "LambdaFunctionStarted" == result.history[3]["type"] and len(result.history[3]) == 4
    assert result.history[4]["lambdaFunctionSucceededEventDetails"] == {
        "output": '{"event":{"a":1}}',
        "outputDetails": {"truncated": False},
    }


def test_direct_arn_with_parameters_and_paths() -> None:
    definition = direct(
        "echo",
        InputPath="$.in",
        Parameters={"x.$": "$.x", "fixed": 1},
        ResultSelector={"got.$": "$.event"},
        ResultPath="$.res",
        OutputPath="$.res.got",
    )
    result = legato.run(definition, {"in": {"x": 5}}, functions={"echo": echo})
    assert result.output == {"x": 5, "fixed": 1}
    assert json.loads(result.history[2]["lambdaFunctionScheduledEventDetails"]["input"]) == {
        "x": 5,
        "fixed": 1,
    }


def test_direct_arn_with_qualifier_and_partial_names() -> None:
    for resource in (ARN + "echo:$LATEST", ARN + "echo:prod"):
        definition = machine({"T": {"Type": "Task", "Resource": resource, "End": True}})
        assert legato.run(definition, 1, functions={"echo": echo}).output == {"event": 1}


def test_exception_becomes_error_and_lambda_cause() -> None:
    result = legato.run(direct("bad"), {}, functions={"bad": raises})
    assert (result.status, result.error) == ("FAILED", "CustomError")
    assert result.cause is not None
    cause = json.loads(result.cause)
    assert list(cause) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert cause["errorMessage"] == "it went wrong"
    assert cause["errorType"] == "CustomError"
    assert UUID.match(cause["requestId"])
    assert isinstance(cause["stackTrace"], list) and cause["stackTrace"]
    # The trace starts at the handler's own frame, in Python's traceback format.
    assert cause["stackTrace"][0].startswith(f'  File "{__file__}", line ')
    assert ", in raises\n" in cause["stackTrace"][0]
    assert 'raise CustomError("it went wrong")' in cause["stackTrace"][-1]
    # Lambda's Python runtime writes the cause with json.dumps' default separators.
    assert result.cause.startswith(
        '{"errorMessage": "it went wrong", "errorType": "CustomError", "requestId": "'
    )
    assert types(result)[-2:] == ["LambdaFunctionFailed", "ExecutionFailed"]
    failed = result.history[-2]["lambdaFunctionFailedEventDetails"]
    assert failed == {"error": "CustomError", "cause": result.cause}


def test_exception_message_is_str_of_exception() -> None:
    def raises_key_error(event: Any, context: Any) -> Any:
        raise KeyError("k")

    def raises_empty(event: Any, context: Any) -> Any:
        raise RuntimeError()

    result = legato.run(direct("f"), {}, functions={"f": raises_key_error})
    assert (result.error, json.loads(result.cause or "")["errorMessage"]) == ("KeyError", "'k'")
    result = legato.run(direct("f"), {}, functions={"f": raises_empty})
    assert (result.error, json.loads(result.cause or "")["errorMessage"]) == ("RuntimeError", "")


def test_unknown_function_direct() -> None:
    result = legato.run(direct("nope"), {}, functions={"echo": echo})
    assert (result.status, result.error) == ("FAILED", "Lambda.ResourceNotFoundException")
    assert result.cause is not None
    assert re.fullmatch(
        r"Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope:\$LATEST \(Service: AWSLambda; "
        r"Status Code: 404; Error Code: ResourceNotFoundException; Request ID: [0-9a-f-]{36}; Proxy: null\)",
        result.cause,
    )
    assert types(result)[-2] == "LambdaFunctionFailed"


def test_unknown_function_via_invoke_is_catchable() -> None:
    definition = machine(
        {
            "T": {
                "Type": "Task",
                "Resource": INVOKE,
                "Parameters": {"FunctionName": "missing-fn", "Payload": {}},
                "Catch": [{"ErrorEquals": ["Lambda.ResourceNotFoundException"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        }
    )
    result = legato.run(definition, {})
    assert result.output["Error"] == "Lambda.ResourceNotFoundException"
    assert "function:missing-fn:$LATEST" in result.output["Cause"]


def test_return_values_as_lambda_serialises_them() -> None:
    cases: list[tuple[Any, Any]] = [
        (None, None),
        ("text", "text"),
        (3.5, 3.5),
        ([1, {"a": None}], [1, {"a": None}]),
        (b'{"from": "bytes"}', {"from": "bytes"}),
        (b"not json", "not json"),
    ]
    for value, expected in cases:
        result = legato.run(direct("f"), {}, functions={"f": lambda e, c, v=value: v})
        assert result.output == expected, value


def test_lambda_context_object() -> None:
    seen: dict[str, Any] = {}

    def fn(event: Any, context: Any) -> Any:
        seen.update(
            name=context.function_name,
            version=context.function_version,
            arn=context.invoked_function_arn,
            request=context.aws_request_id,
            memory=context.memory_limit_in_mb,
            group=context.log_group_name,
            remaining=context.get_remaining_time_in_millis(),
        )
        return None

    legato.run(direct("ctx-fn"), {}, functions={"ctx-fn": fn})
    assert seen["name"] == "ctx-fn"
    assert seen["version"] == "$LATEST"
    assert seen["arn"] == ARN + "ctx-fn"
    assert UUID.match(seen["request"])
    assert seen["group"] == "/aws/lambda/ctx-fn"
    assert seen["memory"] > 0 and seen["remaining"] > 0


def test_sync_function_runs_in_a_worker_thread() -> None:
    threads: list[str] = []

    def fn(event: Any, context: Any) -> Any:
        threads.append(threading.current_thread().name)
        return "ok"

    legato.run(direct("t"), {}, functions={"t": fn})
    assert threads and threads[0] != threading.current_thread().name


def test_async_function() -> None:
    async def fn(event: Any, context: Any) -> Any:
        await asyncio.sleep(0)
        return {"async": event}

    result = legato.run(direct("a"), {"x": 1}, functions={"a": fn})
    assert result.output == {"async": {"x": 1}}


def test_async_function_exception() -> None:
    async def fn(event: Any, context: Any) -> Any:
        raise CustomError("async failure")

    result = legato.run(direct("a"), {}, functions={"a": fn})
    assert result.error == "CustomError"
    assert json.loads(result.cause or "")["errorMessage"] == "async failure"


def test_async_functions_in_a_map_run_concurrently() -> None:
    running = 0
    peak = 0

    async def fn(event: Any, context: Any) -> Any:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        for _ in range(5):
            await asyncio.sleep(0)
        running -= 1
        return event

    processor = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": ARN + "a", "End": True}}}
    definition = machine({"M": {"Type": "Map", "ItemProcessor": processor, "End": True}})
    result = legato.run(definition, [1, 2, 3, 4], functions={"a": fn})
    assert result.output == [1, 2, 3, 4]
    assert peak == 4


def test_decorated_function_is_found_by_name() -> None:
    @legato.function("unit-decorated-fn")
    def decorated(event: Any, context: Any) -> Any:
        return {"decorated": event}

    assert legato.run(direct("unit-decorated-fn"), 1).output == {"decorated": 1}
    # A functions= mapping takes precedence over the decorator.
    override = legato.run(direct("unit-decorated-fn"), 1, functions={"unit-decorated-fn": echo})
    assert override.output == {"event": 1}


def test_function_registry_object() -> None:
    registry = legato.FunctionRegistry()
    registry.register("reg-fn", echo)
    assert "reg-fn" in registry.names()
    assert legato.run(direct("reg-fn"), 2, functions=registry).output == {"event": 2}


# -- lambda:invoke


def test_invoke_envelope() -> None:
    result = legato.run(
        invoke({"FunctionName": "echo", "Payload.$": "$"}), {"a": 1}, functions={"echo": echo}
    )
    out = result.output
    assert out["Payload"] == {"event": {"a": 1}}
    assert out["StatusCode"] == 200
    assert out["ExecutedVersion"] == "$LATEST"
    assert set(out) == {"ExecutedVersion", "Payload", "SdkHttpMetadata", "SdkResponseMetadata", "StatusCode"}
    meta = out["SdkHttpMetadata"]
    assert meta["HttpStatusCode"] == 200
    request_id = out["SdkResponseMetadata"]["RequestId"]
    assert UUID.match(request_id)
    headers = meta["HttpHeaders"]
    assert headers["x-amzn-RequestId"] == request_id
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Amz-Executed-Version"] == "$LATEST"
    # Content-Length is that of Lambda's JSON text of the payload.
    assert headers["Content-Length"] == str(len(json.dumps({"event": {"a": 1}})))
    assert {k: [v] for k, v in headers.items()} == meta["AllHttpHeaders"]
    assert re.fullmatch(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT", headers["Date"])


def test_invoke_history() -> None:
    result = legato.run(invoke({"FunctionName": "echo", "Payload": {"k": "v"}}), {}, functions={"echo": echo})
    assert types(result) == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    assert result.history[2]["taskScheduledEventDetails"] == {
        "parameters": '{"FunctionName":"echo","Payload":{"k":"v"}}',
        "region": "us-east-1",
        "resource": "invoke",
        "resourceType": "lambda",
    }
    assert result.history[3]["taskStartedEventDetails"] == {"resource": "invoke", "resourceType": "lambda"}
    succeeded = result.history[4]["taskSucceededEventDetails"]
    assert succeeded["resource"] == "invoke" and succeeded["resourceType"] == "lambda"
    assert json.loads(succeeded["output"]) == result.output


@pytest.mark.parametrize(
    ("parameters", "event"),
    [
        ({"FunctionName": "echo"}, {}),
        ({"FunctionName": "echo", "Payload": None}, {}),
        ({"FunctionName": "echo", "Payload": '{"x": 1}'}, {"x": 1}),
        ({"FunctionName": "echo", "Payload": [1, 2]}, [1, 2]),
        ({"FunctionName": ARN + "echo", "Payload": 1}, 1),
        ({"FunctionName": ARN + "echo:$LATEST", "Payload": 1}, 1),
        ({"FunctionName": "echo:alias", "Payload": 1}, 1),
    ],
)
def test_invoke_payload_and_function_names(parameters: dict[str, Any], event: Any) -> None:
    result = legato.run(invoke(parameters), {}, functions={"echo": echo})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["Payload"] == {"event": event}


def test_invoke_payload_selected_with_output_path() -> None:
    result = legato.run(
        invoke({"FunctionName": "echo", "Payload.$": "$.p"}, OutputPath="$.Payload.event"),
        {"p": [3]},
        functions={"echo": echo},
    )
    assert result.output == [3]


def test_invoke_exception() -> None:
    result = legato.run(invoke({"FunctionName": "bad"}), {}, functions={"bad": raises})
    assert result.error == "CustomError"
    assert result.cause is not None
    # The optimised integration reports the cause as compact JSON.
    assert result.cause.startswith('{"errorMessage":"it went wrong","errorType":"CustomError","requestId":"')
    failed = result.history[-2]
    assert failed["type"] == "TaskFailed"
    assert failed["taskFailedEventDetails"] == {
        "error": "CustomError",
        "cause": result.cause,
        "resource": "invoke",
        "resourceType": "lambda",
    }


def test_invoke_without_function_name() -> None:
    result = legato.run(invoke({"Payload": {}}), {})
    assert (result.error, result.cause) == (
        "States.Runtime",
        "The Parameters for lambda:invoke must be an object with a string FunctionName.",
    )


def test_invoke_result_over_payload_limit() -> None:
    def big(event: Any, context: Any) -> Any:
        return ("a" * (257 * 1024)).encode()

    result = legato.run(invoke({"FunctionName": "big"}), {}, functions={"big": big})
    assert (result.error, result.cause) == (
        "States.DataLimitExceeded",
        "The state/task 'lambda' returned a result with a size exceeding the maximum number of bytes service limit.",
    )


def test_unsupported_service_integration() -> None:
    definition = machine(
        {"T": {"Type": "Task", "Resource": "arn:aws:states:::nosuch:thing", "Parameters": {}, "End": True}}
    )
    result = legato.run(definition, {})
    assert result.error == "States.Runtime"
    assert types(result)[-3:] == ["TaskScheduled", "TaskFailed", "ExecutionFailed"]


def test_timeout_abandons_a_sleeping_function_and_the_next_run_is_unaffected() -> None:
    def sleepy(event: Any, context: Any) -> Any:
        context.sleep(60)
        return "late"

    timed_out = legato.run(direct("s", TimeoutSeconds=5), {}, functions={"s": sleepy}, clock=VirtualClock())
    assert timed_out.error == "States.Timeout"
    # A later run on a fresh clock still skips its waits at once.
    wait = machine({"W": {"Type": "Wait", "Seconds": 3600, "End": True}})
    clock = VirtualClock()
    start = clock.time()
    assert legato.run(wait, {}, clock=clock).status == "SUCCEEDED"
    assert clock.time() - start >= 3600
