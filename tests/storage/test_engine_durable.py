"""The engine over each store: Standard executions journaled and kept across a restart,
RUNNING ones resumed, Express ones never stored, store faults reported as API errors."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from typing import Any

import pytest
from _backends import Backend
from test_store import run

from legato.engine import Engine
from legato.errors import ApiError
from legato.runtime.clock import SystemClock, VirtualClock
from legato.store.sqlite import DB_NAME

FN = "arn:aws:lambda:us-east-1:123456789012:function:"

CHAIN = json.dumps(
    {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Result": {"n": 1}, "Next": "B"},
            "B": {"Type": "Pass", "Parameters": {"m.$": "$.n"}, "End": True},
        },
    }
)


def _waiting(seconds: int) -> str:
    return json.dumps(
        {
            "StartAt": "Call",
            "States": {
                "Call": {"Type": "Task", "Resource": FN + "count", "Next": "Sleep"},
                "Sleep": {"Type": "Wait", "Seconds": seconds, "Next": "Done"},
                "Done": {"Type": "Pass", "End": True},
            },
        }
    )


def _public(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if not k.startswith("_")} for e in events]


def test_finished_execution_survives_a_restart(backend: Backend) -> None:
    backend.require_durable()

    async def first() -> tuple[str, dict[str, Any], dict[str, Any]]:
        store = backend.open()
        engine = Engine(store=store, clock=VirtualClock())
        sm = await engine.create_state_machine(name="chain", definition=CHAIN)
        started = await engine.start_execution(stateMachineArn=sm["stateMachineArn"], input='{"x":1}')
        described = await engine.wait_for_execution(started["executionArn"], 5)
        history = await engine.get_execution_history(executionArn=started["executionArn"])
        await engine.aclose()
        await store.aclose()
        return started["executionArn"], described, history

    arn, described, history = run(first())
    assert described["status"] == "SUCCEEDED" and described["output"] == '{"m":1}'
    assert not any(k.startswith("_") for e in history["events"] for k in e)

    async def second() -> None:
        store = backend.open()
        engine = Engine(store=store)
        assert await engine.recover() == 0
        assert await engine.describe_execution(executionArn=arn) == described
        assert await engine.get_execution_history(executionArn=arn) == history
        page = await engine.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=2)
        assert [e["id"] for e in page["events"]] == [len(history["events"]), len(history["events"]) - 1]
        listed = await engine.list_executions(stateMachineArn=described["stateMachineArn"])
        assert [e["status"] for e in listed["executions"]] == ["SUCCEEDED"]
        await engine.aclose()
        await store.aclose()

    run(second())


def test_running_execution_resumes_after_a_restart(backend: Backend) -> None:
    """A shutdown leaves the execution RUNNING; the next engine resumes it from its journal
    and the Task that completed before the shutdown is not called again."""
    backend.require_durable()
    calls: list[Any] = []

    def count(event: Any, context: Any) -> Any:
        calls.append(event)
        return {"called": len(calls)}

    async def first() -> str:
        store = backend.open()
        engine = Engine(store=store, clock=SystemClock(), functions={"count": count})
        sm = await engine.create_state_machine(name="slow", definition=_waiting(3600))
        started = await engine.start_execution(stateMachineArn=sm["stateMachineArn"], input='{"k":2}')
        arn = started["executionArn"]
        for _ in range(500):
            events = (await engine.get_execution_history(executionArn=arn))["events"]
            if events and events[-1]["type"] == "WaitStateEntered":
                break
            await asyncio.sleep(0.01)
        await engine.aclose()
        await store.aclose()
        return arn

    arn = run(first())
    assert len(calls) == 1

    async def second() -> None:
        store = backend.open()
        running = await store.running_executions()
        assert [r.arn for r in running] == [arn]
        engine = Engine(store=store, clock=VirtualClock(), functions={"count": count})
        assert await engine.recover() == 1
        described = await engine.wait_for_execution(arn, 10)
        assert described["status"] == "SUCCEEDED"
        assert json.loads(described["output"]) == {"called": 1}
        history = (await engine.get_execution_history(executionArn=arn))["events"]
        assert [e["id"] for e in history] == list(range(1, len(history) + 1))
        assert [e["type"] for e in history].count("ExecutionStarted") == 1
        assert [e["type"] for e in history].count("LambdaFunctionScheduled") == 1
        await engine.aclose()
        await store.aclose()
        store = backend.open()
        assert await store.running_executions() == []
        assert _public(await store.events(arn)) == _public(history)

    run(second())
    assert len(calls) == 1


def test_express_executions_are_not_stored(backend: Backend) -> None:
    async def go() -> None:
        store = backend.open()
        engine = Engine(store=store, clock=VirtualClock())
        sm = await engine.create_state_machine(name="fast", definition=CHAIN, type="EXPRESS")
        result = await engine.start_sync_execution(stateMachineArn=sm["stateMachineArn"])
        assert result["status"] == "SUCCEEDED"
        assert await store.events(result["executionArn"]) == []
        await engine.aclose()
        await store.aclose()
        if backend.durable:
            reopened = backend.open()
            assert await reopened.get_execution(result["executionArn"]) is None
            assert await reopened.running_executions() == []

    run(go())


def test_standard_executions_are_journaled(backend: Backend) -> None:
    async def go() -> None:
        store = backend.open()
        engine = Engine(store=store, clock=VirtualClock())
        sm = await engine.create_state_machine(name="chain", definition=CHAIN)
        started = await engine.start_execution(stateMachineArn=sm["stateMachineArn"])
        await engine.wait_for_execution(started["executionArn"], 5)
        await store.flush()
        history = (await engine.get_execution_history(executionArn=started["executionArn"]))["events"]
        journaled = await store.events(started["executionArn"])
        assert [e["id"] for e in journaled] == [e["id"] for e in history]
        await engine.aclose()

    run(go())


def test_locked_database_is_an_api_error(backend: Backend) -> None:
    if backend.name != "sqlite":
        pytest.skip("SQLite only")

    async def go() -> None:
        store = backend.open(lock_timeout=0.1)
        engine = Engine(store=store, clock=VirtualClock())
        sm = await engine.create_state_machine(name="chain", definition=CHAIN)
        other = sqlite3.connect(backend.directory / DB_NAME, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(ApiError) as info:
                await engine.start_execution(stateMachineArn=sm["stateMachineArn"], name="blocked")
            assert info.value.type == "ServiceUnavailable" and "locked" in info.value.message
            with pytest.raises(ApiError, match="ExecutionDoesNotExist"):
                await engine.describe_execution(
                    executionArn=sm["stateMachineArn"].replace("stateMachine", "execution") + ":blocked"
                )
        finally:
            other.execute("ROLLBACK")
            other.close()
        started = await engine.start_execution(stateMachineArn=sm["stateMachineArn"], name="blocked")
        assert (await engine.wait_for_execution(started["executionArn"], 5))["status"] == "SUCCEEDED"
        await engine.aclose()

    run(go())


def test_journal_waits_through_a_full_disk(backend: Backend) -> None:
    """A flush that fails makes the execution wait (it does not fail the workflow), and it
    carries on once the disk has room."""
    if backend.name != "sqlite":
        pytest.skip("SQLite only")
    gate = threading.Event()

    def count(event: Any, context: Any) -> Any:
        return {"ok": True}

    def full() -> None:
        if not gate.is_set():
            raise sqlite3.OperationalError("database or disk is full")

    async def go() -> None:
        store = backend.open()
        engine = Engine(store=store, clock=VirtualClock(), functions={"count": count})
        sm = await engine.create_state_machine(name="t", definition=_waiting(1))
        store.before_commit = full  # type: ignore[attr-defined]
        try:
            await engine.start_execution(stateMachineArn=sm["stateMachineArn"], name="e")
        except ApiError:
            pass  # the start itself could not be stored
        else:
            raise AssertionError("the start should have failed")
        gate.set()
        started = await engine.start_execution(stateMachineArn=sm["stateMachineArn"], name="e2")
        gate.clear()
        await asyncio.sleep(0.2)  # the execution waits for its journal before calling the Task
        described = await engine.describe_execution(executionArn=started["executionArn"])
        assert described["status"] == "RUNNING"
        gate.set()
        described = await engine.wait_for_execution(started["executionArn"], 10)
        assert described["status"] == "SUCCEEDED"
        await engine.aclose()

    run(go())


def test_sync_child_is_waited_for_again_after_a_restart(backend: Backend) -> None:
    """A ``states:startExecution.sync:2`` Task interrupted while its child ran waits for that
    same child after the restart: no second child is started."""
    backend.require_durable()

    async def first() -> tuple[str, str]:
        store = backend.open()
        engine = Engine(store=store, clock=SystemClock())
        child = await engine.create_state_machine(
            name="child",
            definition=json.dumps(
                {
                    "StartAt": "Sleep",
                    "States": {
                        "Sleep": {"Type": "Wait", "Seconds": 3600, "Next": "Done"},
                        "Done": {"Type": "Pass", "Result": {"child": "done"}, "End": True},
                    },
                }
            ),
        )
        parent = await engine.create_state_machine(
            name="parent",
            definition=json.dumps(
                {
                    "StartAt": "Run",
                    "States": {
                        "Run": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::states:startExecution.sync:2",
                            "Parameters": {"StateMachineArn": child["stateMachineArn"], "Input": {}},
                            "OutputPath": "$.Output",
                            "End": True,
                        }
                    },
                }
            ),
        )
        started = await engine.start_execution(stateMachineArn=parent["stateMachineArn"])
        arn = started["executionArn"]
        for _ in range(500):
            listed = await engine.list_executions(stateMachineArn=child["stateMachineArn"])
            if listed["executions"]:
                child_arn = listed["executions"][0]["executionArn"]
                events = (await engine.get_execution_history(executionArn=child_arn))["events"]
                if events and events[-1]["type"] == "WaitStateEntered":
                    break
            await asyncio.sleep(0.01)
        await engine.aclose()
        await store.aclose()
        return arn, child["stateMachineArn"]

    arn, child_sm = run(first())

    async def second() -> None:
        store = backend.open()
        engine = Engine(store=store, clock=VirtualClock())
        assert await engine.recover() == 2
        described = await engine.wait_for_execution(arn, 10)
        assert described["status"] == "SUCCEEDED", described
        assert json.loads(described["output"]) == {"child": "done"}
        children = (await engine.list_executions(stateMachineArn=child_sm))["executions"]
        assert [c["status"] for c in children] == ["SUCCEEDED"]
        types = [e["type"] for e in (await engine.get_execution_history(executionArn=arn))["events"]]
        assert types.count("TaskSubmitted") == 1 and types.count("TaskScheduled") == 1
        await engine.aclose()
        await store.aclose()

    run(second())
