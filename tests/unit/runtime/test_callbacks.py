"""Task tokens through the runtime: ``.waitForTaskToken`` Tasks and activity Tasks
answered by coroutines on the same loop, heartbeats, timeouts, replay."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from legato.errors import ApiError
from legato.integrations.functions import FunctionRegistry
from legato.runtime.callbacks import TaskTokens
from legato.runtime.clock import VirtualClock
from legato.runtime.execution import Execution, ExecutionInfo
from legato.runtime.machine import compile_machine
from legato.runtime.services import Services

ARN = "arn:aws:states:us-east-1:123456789012:execution:sm:ex"
ACTIVITY = "arn:aws:states:us-east-1:123456789012:activity:work"
WAIT = "arn:aws:states:::lambda:invoke.waitForTaskToken"


def _info() -> ExecutionInfo:
    return ExecutionInfo(
        execution_arn=ARN,
        name="ex",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:sm",
        state_machine_name="sm",
        role_arn="arn:aws:iam::123456789012:role/r",
    )


def _callback_machine(**task: Any) -> dict[str, Any]:
    return {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": WAIT,
                "Parameters": {
                    "FunctionName": "notify",
                    "Payload": {"token.$": "$$.Task.Token", "n.$": "$.n"},
                },
                "End": True,
                **task,
            }
        },
    }


def _activity_machine(**task: Any) -> dict[str, Any]:
    return {
        "StartAt": "Work",
        "States": {"Work": {"Type": "Task", "Resource": ACTIVITY, **task, "End": True}},
    }


Answerer = Callable[[Services, list[str]], Awaitable[None]]


def _run(
    definition: dict[str, Any],
    answer: Answerer,
    *,
    recorded: list[dict[str, Any]] | None = None,
    stop_after: str | None = None,
) -> Execution:
    """Runs ``definition``; ``answer`` runs beside it with the tokens the function saw."""
    machine = compile_machine(definition)
    seen: list[str] = []

    async def notify(event: Any, context: Any) -> Any:
        seen.append(event["token"])
        return {"sent": True}

    async def go() -> Execution:
        services = Services(clock=VirtualClock(), functions=FunctionRegistry({"notify": notify}))
        ex = Execution(machine, _info(), '{"n": 1}', services, recorded=recorded)
        run = asyncio.create_task(ex.run())
        helper = asyncio.create_task(answer(services, seen))
        if stop_after is not None:
            while not any(e["type"] == stop_after for e in ex.history):
                await asyncio.sleep(0.001)
            run.cancel()
            helper.cancel()
            await asyncio.gather(run, helper, return_exceptions=True)
            return ex
        await asyncio.wait_for(run, 10)
        helper.cancel()
        await asyncio.gather(helper, return_exceptions=True)
        return ex

    return asyncio.run(go())


async def _first_token(seen: list[str]) -> str:
    while not seen:
        await asyncio.sleep(0)
    return seen[0]


def _types(ex: Execution) -> list[str]:
    return [e["type"] for e in ex.history]


def _details(ex: Execution, type_: str) -> dict[str, Any]:
    ev = next(e for e in ex.history if e["type"] == type_)
    key = next(k for k in ev if k.endswith("EventDetails"))
    details: dict[str, Any] = ev[key]
    return details


def test_token_answered_by_a_coroutine() -> None:
    async def answer(services: Services, seen: list[str]) -> None:
        token = await _first_token(seen)
        await services.clock.sleep(30)  # virtual time passes while the Task waits
        services.callbacks.succeed(token, '{"ok": 1}')

    ex = _run(_callback_machine(), answer)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert ex.output == {"ok": 1}
    assert _types(ex) == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSubmitted",
        "TaskSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]
    submitted = _details(ex, "TaskSubmitted")
    assert submitted["resource"] == "invoke.waitForTaskToken"
    assert submitted["resourceType"] == "lambda"
    assert json.loads(submitted["output"])["Payload"] == {"sent": True}
    scheduled = json.loads(_details(ex, "TaskScheduled")["parameters"])
    assert scheduled["Payload"]["token"] == services_token(3)


def services_token(event_id: int) -> str:
    return TaskTokens().token(ARN, event_id)


def test_failure_with_and_without_error_fields() -> None:
    async def answer(services: Services, seen: list[str]) -> None:
        services.callbacks.fail(await _first_token(seen), "Oops", "it broke")

    ex = _run(_callback_machine(), answer)
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "Oops", "it broke")
    assert _details(ex, "TaskFailed") == {
        "error": "Oops",
        "cause": "it broke",
        "resource": "invoke.waitForTaskToken",
        "resourceType": "lambda",
    }

    async def bare(services: Services, seen: list[str]) -> None:
        services.callbacks.fail(await _first_token(seen), None, None)

    caught = _callback_machine(Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Done"}])
    del caught["States"]["Ask"]["End"]
    caught["States"]["Ask"]["Next"] = "Done"
    caught["States"]["Done"] = {"Type": "Pass", "End": True}
    ex = _run(caught, bare)
    assert ex.status == "SUCCEEDED"
    assert ex.output == {"n": 1, "err": {"Error": None, "Cause": None}}


def test_heartbeat_timeout() -> None:
    async def answer(services: Services, seen: list[str]) -> None:
        token = await _first_token(seen)
        services.callbacks.heartbeat(token)  # then silence

    ex = _run(_callback_machine(HeartbeatSeconds=1), answer)
    assert (ex.status, ex.error) == ("FAILED", "States.HeartbeatTimeout")
    assert _details(ex, "TaskTimedOut")["error"] == "States.HeartbeatTimeout"


def test_heartbeats_keep_the_task_alive() -> None:
    async def answer(services: Services, seen: list[str]) -> None:
        token = await _first_token(seen)
        # The first heartbeat says an outside worker holds the token: from then
        # on virtual time stands still, so real-time pauses are safe.
        for _ in range(3):
            services.callbacks.heartbeat(token)
            await asyncio.sleep(0.05)
        services.callbacks.succeed(token, '"done"')

    ex = _run(_callback_machine(HeartbeatSeconds=1), answer)
    assert (ex.status, ex.output) == ("SUCCEEDED", "done")


def test_timeout_without_answer_is_instant_on_a_virtual_clock() -> None:
    async def never(services: Services, seen: list[str]) -> None:
        await asyncio.Event().wait()

    ex = _run(_callback_machine(TimeoutSeconds=3600), never)
    assert (ex.status, ex.error) == ("FAILED", "States.Timeout")
    assert _types(ex)[-2:] == ["TaskTimedOut", "ExecutionFailed"]
    assert _details(ex, "TaskTimedOut") == {
        "error": "States.Timeout",
        "resource": "invoke.waitForTaskToken",
        "resourceType": "lambda",
    }


def test_answers_to_bad_finished_and_answered_tokens() -> None:
    tokens: list[str] = []

    async def answer(services: Services, seen: list[str]) -> None:
        token = await _first_token(seen)
        tokens.append(token)
        with pytest.raises(ApiError) as bad:
            services.callbacks.succeed("not-a-token", "{}")
        assert (bad.value.type, bad.value.message) == ("InvalidToken", "Invalid Token: 'Invalid token'")
        forged = TaskTokens(key=b"other").token(ARN, 3)
        with pytest.raises(ApiError, match="InvalidToken"):
            services.callbacks.heartbeat(forged)
        unknown = services.callbacks.token(ARN, 99)
        with pytest.raises(ApiError, match="TaskDoesNotExist"):
            services.callbacks.succeed(unknown, "{}")
        services.callbacks.succeed(token, "{}")
        with pytest.raises(ApiError, match="TaskTimedOut"):
            services.callbacks.succeed(token, "{}")
        await asyncio.Event().wait()

    ex = _run(_callback_machine(), answer)
    assert ex.status == "SUCCEEDED"


def test_token_is_deterministic_after_replay() -> None:
    async def silent(services: Services, seen: list[str]) -> None:
        await asyncio.Event().wait()

    first = _run(_callback_machine(), silent, stop_after="TaskSubmitted")
    recorded = [
        dict(e) for e in first.history if e["type"] != "TaskStateAborted" and "Aborted" not in e["type"]
    ]
    original = json.loads(_details(first, "TaskScheduled")["parameters"])["Payload"]["token"]
    calls: list[str] = []

    async def answer(services: Services, seen: list[str]) -> None:
        calls.extend(seen)
        services.callbacks.succeed(original, '{"after": "restart"}')

    resumed = _run(_callback_machine(), answer, recorded=recorded)
    assert resumed.status == "SUCCEEDED", (resumed.error, resumed.cause)
    assert resumed.output == {"after": "restart"}
    assert calls == []  # the resource was not called again
    assert _types(resumed).count("TaskSubmitted") == 1


def test_activity_worked_by_a_coroutine() -> None:
    async def worker(services: Services, seen: list[str]) -> None:
        task = await services.callbacks.take(ACTIVITY, "w1")
        services.callbacks.succeed(task.token, json.dumps({"got": json.loads(task.input_text)}))

    ex = _run(_activity_machine(TimeoutSeconds=60, HeartbeatSeconds=10), worker)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert ex.output == {"got": {"n": 1}}
    assert _types(ex)[2:5] == ["ActivityScheduled", "ActivityStarted", "ActivitySucceeded"]
    assert _details(ex, "ActivityScheduled") == {
        "input": '{"n":1}',
        "inputDetails": {"truncated": False},
        "resource": ACTIVITY,
        "timeoutInSeconds": 60,
        "heartbeatInSeconds": 10,
    }
    assert _details(ex, "ActivityStarted") == {"workerName": "w1"}


def test_activity_failure_and_unstarted_timeout() -> None:
    async def worker(services: Services, seen: list[str]) -> None:
        task = await services.callbacks.take(ACTIVITY, None)
        services.callbacks.fail(task.token, "Programmatic Error", "bad input")

    ex = _run(_activity_machine(), worker)
    assert (ex.status, ex.error, ex.cause) == ("FAILED", "Programmatic Error", "bad input")
    assert _details(ex, "ActivityStarted") == {}
    assert _details(ex, "ActivityFailed") == {"error": "Programmatic Error", "cause": "bad input"}

    async def nobody(services: Services, seen: list[str]) -> None:
        await asyncio.Event().wait()

    ex = _run(_activity_machine(TimeoutSeconds=5), nobody)
    assert (ex.status, ex.error) == ("FAILED", "States.Timeout")
    assert _types(ex)[2:4] == ["ActivityScheduled", "ActivityTimedOut"]


def test_missing_activity_is_a_runtime_error() -> None:
    machine = compile_machine(_activity_machine())

    async def exists(arn: str) -> bool:
        return False

    async def go() -> Execution:
        services = Services(clock=VirtualClock(), callbacks=TaskTokens(activity_exists=exists))
        ex = Execution(machine, _info(), "{}", services)
        await ex.run()
        return ex

    ex = asyncio.run(go())
    assert ex.error == "States.Runtime"
    assert ex.cause == (
        f"An error occurred while executing the state 'Work' (entered at the event id #2). "
        f"The activity {ACTIVITY} does not exist."
    )
    assert _types(ex) == ["ExecutionStarted", "TaskStateEntered", "ExecutionFailed"]


def test_token_round_trip() -> None:
    tokens = TaskTokens()
    token = tokens.token(ARN, 7)
    assert token == TaskTokens().token(ARN, 7)
    assert tokens.parse(token) == (ARN, 7)
    assert tokens.parse(token[:-2]) is None
    assert tokens.parse("") is None
    assert len(token) < 1024


def test_parallel_branches_get_their_own_tokens() -> None:
    first = _callback_machine()
    second = {"StartAt": "Ask2", "States": {"Ask2": first["States"]["Ask"]}}
    definition = {
        "StartAt": "Both",
        "States": {"Both": {"Type": "Parallel", "Branches": [first, second], "End": True}},
    }

    async def answer(services: Services, seen: list[str]) -> None:
        while len(seen) < 2:
            await asyncio.sleep(0)
        assert seen[0] != seen[1]
        for i, token in enumerate(seen):
            services.callbacks.succeed(token, json.dumps(i))

    ex = _run(definition, answer)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert sorted(ex.output) == [0, 1]
