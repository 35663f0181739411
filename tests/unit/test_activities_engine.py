"""GetActivityTask and the SendTask* operations through the Engine."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from legato.engine import Engine
from legato.errors import ApiError
from legato.runtime.clock import SequentialIds, VirtualClock

ROLE = "arn:aws:iam::123456789012:role/r"


def _engine() -> Engine:
    engine = Engine(ids=SequentialIds(), clock=VirtualClock())
    engine.poll_seconds = 0.05
    return engine


def test_empty_poll_and_missing_activity() -> None:
    async def go() -> None:
        engine = _engine()
        arn = (await engine.create_activity(name="a"))["activityArn"]
        assert await engine.get_activity_task(activityArn=arn, workerName="w") == {}
        with pytest.raises(ApiError) as missing:
            await engine.get_activity_task(activityArn=arn + "x")
        assert (missing.value.type, missing.value.message) == (
            "ActivityDoesNotExist",
            f"Activity Does Not Exist: '{arn}x'",
        )
        with pytest.raises(ApiError) as bad:
            await engine.get_activity_task(activityArn="not-an-arn")
        assert bad.value.type == "InvalidArn"
        await engine.aclose()

    asyncio.run(go())


def test_poll_takes_a_task_scheduled_later_and_deleted_activity_keeps_it() -> None:
    async def go() -> dict[str, Any]:
        engine = _engine()
        engine.poll_seconds = 5
        arn = (await engine.create_activity(name="a"))["activityArn"]
        definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": arn, "End": True}}}
        sm = await engine.create_state_machine(name="sm", definition=json.dumps(definition), roleArn=ROLE)
        poll = asyncio.create_task(engine.get_activity_task(activityArn=arn, workerName="late"))
        await asyncio.sleep(0.01)
        ex = await engine.start_execution(stateMachineArn=sm["stateMachineArn"], input='{"x": 1}')
        task = await poll
        assert task["input"] == '{"x":1}'
        await engine.delete_activity(activityArn=arn)
        await engine.send_task_heartbeat(taskToken=task["taskToken"])
        await engine.send_task_success(taskToken=task["taskToken"], output='{"y": 2}')
        done = await engine.wait_for_execution(ex["executionArn"], timeout=5)
        history = await engine.get_execution_history(executionArn=ex["executionArn"])
        await engine.aclose()
        return {"done": done, "events": history["events"]}

    result = asyncio.run(go())
    assert result["done"]["status"] == "SUCCEEDED"
    assert json.loads(result["done"]["output"]) == {"y": 2}
    started = next(e for e in result["events"] if e["type"] == "ActivityStarted")
    assert started["activityStartedEventDetails"] == {"workerName": "late"}


def test_unknown_token_of_this_engine() -> None:
    async def go() -> None:
        engine = _engine()
        token = engine.services.callbacks.token("arn:aws:states:us-east-1:123456789012:execution:sm:gone", 3)
        with pytest.raises(ApiError) as exc:
            await engine.send_task_failure(taskToken=token, error="E")
        assert exc.value.type == "TaskDoesNotExist"
        await engine.aclose()

    asyncio.run(go())
