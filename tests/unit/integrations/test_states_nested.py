"""Nested executions (states:startExecution and its patterns) and aws-sdk:sfn, on an Engine."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import legato
from legato.engine import Engine
from legato.runtime.clock import SequentialIds, VirtualClock

T = TypeVar("T")
SM = "arn:aws:states:us-east-1:123456789012:stateMachine:"


def run(body: Callable[[Engine], Awaitable[T]]) -> T:
    async def go() -> T:
        engine = Engine(ids=SequentialIds(), clock=VirtualClock())
        try:
            return await body(engine)
        finally:
            await engine.aclose()

    return asyncio.run(go())


async def create(engine: Engine, name: str, definition: dict[str, Any], type_: str = "STANDARD") -> str:
    out = await engine.create_state_machine(name=name, definition=json.dumps(definition), type=type_)
    return str(out["stateMachineArn"])


async def finish(engine: Engine, sm: str, input_: Any = None, name: str = "parent") -> dict[str, Any]:
    started = await engine.start_execution(stateMachineArn=sm, name=name, input=json.dumps(input_ or {}))
    return await engine.wait_for_execution(started["executionArn"], timeout=30)


async def history(engine: Engine, arn: str) -> list[dict[str, Any]]:
    return list((await engine.get_execution_history(executionArn=arn))["events"])


CHILD = {
    "StartAt": "P",
    "States": {"P": {"Type": "Pass", "Parameters": {"got.$": "$"}, "End": True}},
}
FAILING = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "child broke"}}}
WAITING = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}


def parent(pattern: str, child_arn: str, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"StateMachineArn": child_arn, "Name": "kid", "Input": {"a": 1}}
    params.update(extra)
    return {
        "StartAt": "Start",
        "States": {
            "Start": {
                "Type": "Task",
                "Resource": f"arn:aws:states:::states:startExecution{pattern}",
                "Parameters": params,
                "End": True,
            }
        },
    }


def test_request_response_returns_the_start_and_the_child_runs() -> None:
    async def body(engine: Engine) -> None:
        child = await create(engine, "child", CHILD)
        sm = await create(engine, "parent", parent("", child))
        out = await finish(engine, sm)
        assert out["status"] == "SUCCEEDED"
        result = json.loads(out["output"])
        assert result["ExecutionArn"] == child.replace("stateMachine", "execution") + ":kid"
        assert isinstance(result["StartDate"], int)
        assert result["SdkHttpMetadata"]["HttpStatusCode"] == 200
        kid = await engine.wait_for_execution(result["ExecutionArn"], timeout=5)
        assert json.loads(kid["output"]) == {"got": {"a": 1}}

    run(body)


def test_sync_returns_output_as_text_and_records_task_submitted() -> None:
    async def body(engine: Engine) -> None:
        child = await create(engine, "child", CHILD)
        sm = await create(engine, "parent", parent(".sync", child))
        out = await finish(engine, sm)
        result = json.loads(out["output"])
        assert result["Output"] == '{"got":{"a":1}}'
        assert result["Input"] == '{"a":1}'
        assert result["Status"] == "SUCCEEDED"
        assert result["OutputDetails"] == {"Included": True}
        types = [e["type"] for e in await history(engine, out["executionArn"])]
        assert types[3:6] == ["TaskStarted", "TaskSubmitted", "TaskSucceeded"]

    run(body)


def test_sync2_parses_input_and_output() -> None:
    async def body(engine: Engine) -> None:
        child = await create(engine, "child", CHILD)
        sm = await create(engine, "parent", parent(".sync:2", child))
        result = json.loads((await finish(engine, sm))["output"])
        assert result["Output"] == {"got": {"a": 1}}
        assert result["Input"] == {"a": 1}

    run(body)


def test_sync_child_failure_is_task_failed_with_the_childs_description() -> None:
    async def body(engine: Engine) -> None:
        child = await create(engine, "child", FAILING)
        sm = await create(engine, "parent", parent(".sync", child, Input=None))
        out = await finish(engine, sm)
        assert out["status"] == "FAILED"
        assert out["error"] == "States.TaskFailed"
        cause = json.loads(out["cause"])
        assert cause["Error"] == "Boom"
        assert cause["Cause"] == "child broke"
        assert cause["Status"] == "FAILED"
        assert cause["Input"] == "{}"
        assert "Output" not in cause

    run(body)


def test_missing_machine_is_the_sdk_error() -> None:
    async def body(engine: Engine) -> None:
        sm = await create(engine, "parent", parent("", SM + "nope"))
        out = await finish(engine, sm)
        assert out["error"] == "StepFunctions.StateMachineDoesNotExistException"
        assert out["cause"].startswith(
            f"State Machine Does Not Exist: '{SM}nope' (Service: AWSStepFunctions;"
        )

    run(body)


def test_the_task_token_answers_a_sync_task_before_the_child_ends() -> None:
    answering = {
        "StartAt": "Answer",
        "States": {
            "Answer": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sfn:sendTaskSuccess",
                "Parameters": {"TaskToken.$": "$.token", "Output": {"early": True}},
                "Next": "Wait",
            },
            "Wait": {"Type": "Wait", "Seconds": 3600, "End": True},
        },
    }

    async def body(engine: Engine) -> None:
        child = await create(engine, "child", answering)
        definition = parent(".sync:2", child)
        definition["States"]["Start"]["Parameters"]["Input"] = {"token.$": "$$.Task.Token"}
        sm = await create(engine, "parent", definition)
        out = await finish(engine, sm)
        assert json.loads(out["output"]) == {"early": True}

    run(body)


def test_wait_for_task_token_child_answers() -> None:
    answering = {
        "StartAt": "Answer",
        "States": {
            "Answer": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sfn:sendTaskSuccess",
                "Parameters": {"TaskToken.$": "$.token", "Output.$": "States.JsonToString($.value)"},
                "End": True,
            }
        },
    }

    async def body(engine: Engine) -> None:
        child = await create(engine, "child", answering)
        definition = parent(".waitForTaskToken", child)
        definition["States"]["Start"]["Parameters"]["Input"] = {"token.$": "$$.Task.Token", "value": [1, 2]}
        sm = await create(engine, "parent", definition)
        out = await finish(engine, sm)
        assert json.loads(out["output"]) == [1, 2]
        types = [e["type"] for e in await history(engine, out["executionArn"])]
        assert "TaskSubmitted" in types

    run(body)


def test_stopping_the_parent_stops_its_sync_child() -> None:
    async def body(engine: Engine) -> None:
        child = await create(engine, "child", WAITING)
        sm = await create(engine, "parent", parent(".sync", child))
        started = await engine.start_execution(stateMachineArn=sm, name="p")
        kid_arn = child.replace("stateMachine", "execution") + ":kid"
        for _ in range(200):
            await asyncio.sleep(0)
            try:
                if (await engine.describe_execution(executionArn=kid_arn))["status"] == "RUNNING":
                    break
            except legato.ApiError:
                pass
        await engine.stop_execution(executionArn=started["executionArn"])
        kid = await engine.wait_for_execution(kid_arn, timeout=5)
        assert kid["status"] == "ABORTED"

    run(body)


def test_started_by_execution_id_reaches_the_child() -> None:
    async def body(engine: Engine) -> None:
        child = await create(engine, "child", CHILD)
        definition = parent(".sync:2", child)
        definition["States"]["Start"]["Parameters"]["Input"] = {
            "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"
        }
        sm = await create(engine, "parent", definition)
        out = await finish(engine, sm)
        got = json.loads(out["output"])["Output"]["got"]
        assert got == {"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": out["executionArn"]}

    run(body)


def test_sdk_sfn_describe_and_unknown_token() -> None:
    describe = {
        "StartAt": "D",
        "States": {
            "D": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sfn:describeExecution",
                "Parameters": {"ExecutionArn.$": "$.arn"},
                "End": True,
            }
        },
    }
    bad_token = {
        "StartAt": "S",
        "States": {
            "S": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sfn:sendTaskFailure",
                "Parameters": {"TaskToken": "NoSuchTaskToken"},
                "End": True,
            }
        },
    }

    async def body(engine: Engine) -> None:
        child = await create(engine, "child", CHILD)
        done = await finish(engine, child, {"x": 1}, name="done")
        sm = await create(engine, "describer", describe)
        out = json.loads((await finish(engine, sm, {"arn": done["executionArn"]}))["output"])
        assert out["Status"] == "SUCCEEDED"
        assert out["Output"] == '{"got":{"x":1}}'
        assert out["StartDate"].endswith("Z")
        sm2 = await create(engine, "bad", bad_token)
        failed = await finish(engine, sm2)
        assert failed["error"] == "Sfn.InvalidTokenException"
        assert failed["cause"].startswith("Invalid Token: 'Invalid token' (Service: Sfn, Status Code: 400,")
        assert failed["cause"].endswith("(SDK Attempt Count: 1)")

    run(body)


def test_legato_run_explains_that_nested_executions_need_an_engine() -> None:
    result = legato.run(parent(".sync", SM + "child"))
    assert result.status == "FAILED"
    assert result.error == "States.Runtime"
    assert result.cause is not None and "needs a legato.Engine" in result.cause


def test_a_sync_task_run_again_with_its_token_finds_its_child() -> None:
    """A .sync Task without a Name names its child after its token: run again with the
    same token (the engine died before TaskSubmitted was recorded) it waits for the child
    it had started, running or ended, instead of starting another."""
    from legato.integrations.registry import TaskCall
    from legato.integrations.states import start_execution

    async def body(engine: Engine) -> None:
        child = await create(engine, "child", CHILD)

        def call(token: str) -> TaskCall:
            return TaskCall(
                services=engine.services,
                resource="arn:aws:states:::states:startExecution.sync:2",
                service="states",
                action="startExecution",
                pattern="sync:2",
                parameters={"StateMachineArn": child, "Input": {"a": 1}},
                state_name="Start",
                execution_arn="arn:aws:states:us-east-1:123456789012:execution:parent:p",
                context={},
                token=token,
            )

        first = await start_execution(call("token-1"))
        again = await start_execution(call("token-1"))  # the child has ended: no new one
        other = await start_execution(call("token-2"))
        assert first["ExecutionArn"] == again["ExecutionArn"] != other["ExecutionArn"]
        assert again["Output"] == {"got": {"a": 1}}
        listed = (await engine.list_executions(stateMachineArn=child))["executions"]
        assert len(listed) == 2

    run(body)
