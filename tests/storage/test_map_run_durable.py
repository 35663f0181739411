"""A Distributed Map's Standard children are durable executions: after a restart the Map
Run resumes, neither running a finished child again nor starting a second one for a child
that was running."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

from _backends import Backend
from test_store import run

from legato.engine import Engine
from legato.runtime.clock import SystemClock, VirtualClock

FN = "arn:aws:lambda:us-east-1:123456789012:function:"
ITEMS = [{"n": n, "wait": 3600 if n in (1, 3) else 0} for n in range(6)]
PARENT = json.dumps(
    {
        "StartAt": "Fan out",
        "States": {
            "Fan out": {
                "Type": "Map",
                "Label": "Items",
                "MaxConcurrency": 2,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Call",
                    "States": {
                        "Call": {
                            "Type": "Task",
                            "Resource": FN + "count",
                            "ResultPath": "$.called",
                            "Next": "Sleep",
                        },
                        "Sleep": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Done"},
                        "Done": {
                            "Type": "Pass",
                            "Parameters": {"n.$": "$.n", "called.$": "$.called"},
                            "End": True,
                        },
                    },
                },
                "End": True,
            }
        },
    }
)


def _gap_free(events: list[dict[str, Any]]) -> bool:
    return [e["id"] for e in events] == list(range(1, len(events) + 1))


def test_map_run_resumes_after_a_restart(backend: Backend) -> None:
    """Items 0 and 2 finish before the shutdown, 1 and 3 are mid-Wait, 4 and 5 never started
    (MaxConcurrency 2): after the restart each item's Task has run exactly once and the
    parent's output holds every item in order."""
    backend.require_durable()
    calls: list[int] = []

    def count(event: Any, context: Any) -> Any:
        calls.append(event["n"])
        return event["n"] * 10

    async def first() -> tuple[str, str]:
        store = backend.open()
        engine = Engine(store=store, clock=SystemClock(), functions={"count": count})
        sm = await engine.create_state_machine(name="parent", definition=PARENT)
        started = await engine.start_execution(stateMachineArn=sm["stateMachineArn"], input=json.dumps(ITEMS))
        arn = started["executionArn"]
        run_arn = ""
        for _ in range(1000):
            runs = (await engine.list_map_runs(executionArn=arn))["mapRuns"]
            if runs:
                run_arn = runs[0]["mapRunArn"]
                children = (await engine.list_executions(mapRunArn=run_arn))["executions"]
                waiting = 0
                for child in children:
                    events = (await engine.get_execution_history(executionArn=child["executionArn"]))[
                        "events"
                    ]
                    waiting += events[-1]["type"] == "WaitStateEntered"
                done = [c for c in children if c["status"] == "SUCCEEDED"]
                if len(children) == 4 and len(done) == 2 and waiting == 2:
                    break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the children did not reach the expected point")
        await engine.aclose()
        await store.aclose()
        return arn, run_arn

    arn, run_arn = run(first())
    assert sorted(calls) == [0, 1, 2, 3]

    async def second() -> None:
        store = backend.open()
        running = {r.arn: r for r in await store.running_executions()}
        assert len(running) == 3  # the parent and the two children mid-Wait
        engine = Engine(store=store, clock=VirtualClock(), functions={"count": count})
        assert await engine.recover() == 3
        described = await engine.wait_for_execution(arn, 30)
        assert described["status"] == "SUCCEEDED", described
        assert json.loads(described["output"]) == [{"n": n, "called": n * 10} for n in range(6)]

        history = (await engine.get_execution_history(executionArn=arn))["events"]
        assert _gap_free(history)
        types = [e["type"] for e in history]
        assert types.count("MapRunStarted") == 1 and types.count("ExecutionStarted") == 1
        assert "MapRunRedriven" not in types

        children = (await engine.list_executions(mapRunArn=run_arn))["executions"]
        assert len(children) == len({c["executionArn"] for c in children}) == 6
        assert {c["status"] for c in children} == {"SUCCEEDED"}
        assert all(c["itemCount"] == 1 and c["mapRunArn"] == run_arn for c in children)
        for child in children:
            events = (await engine.get_execution_history(executionArn=child["executionArn"]))["events"]
            assert _gap_free(events), child
            kinds = [e["type"] for e in events]
            assert kinds.count("ExecutionStarted") == 1 and kinds.count("LambdaFunctionScheduled") == 1
            assert kinds[-1] == "ExecutionSucceeded"
        child = await engine.describe_execution(executionArn=children[0]["executionArn"])
        assert child["mapRunArn"] == run_arn and child["status"] == "SUCCEEDED"

        map_run = await engine.describe_map_run(mapRunArn=run_arn)
        assert map_run["status"] == "SUCCEEDED"
        for counts in (map_run["itemCounts"], map_run["executionCounts"]):
            assert counts["succeeded"] == counts["total"] == 6
            assert counts["running"] == counts["pending"] == counts["failed"] == 0
        await engine.aclose()
        await store.aclose()

    run(second())
    assert Counter(calls) == Counter(range(6))  # every item's function ran exactly once

    async def third() -> None:
        # Read back from the store alone: no live Map Run, nothing running.
        store = backend.open()
        assert await store.running_executions() == []
        engine = Engine(store=store)
        map_run = await engine.describe_map_run(mapRunArn=run_arn)
        assert map_run["status"] == "SUCCEEDED" and map_run["executionCounts"]["succeeded"] == 6
        children = (await engine.list_executions(mapRunArn=run_arn))["executions"]
        assert len(children) == 6 and {c["status"] for c in children} == {"SUCCEEDED"}
        child = await engine.describe_execution(executionArn=children[-1]["executionArn"])
        assert child["mapRunArn"] == run_arn
        assert json.loads(child["output"]) in [{"n": n, "called": n * 10} for n in range(6)]
        await engine.aclose()
        await store.aclose()

    run(third())


def test_map_run_is_redriven_by_a_later_process(backend: Backend) -> None:
    """A parent whose Map Run failed is redriven after a restart: the Map Run keeps its ARN
    (found in the parent's history), records MapRunRedriven, and reruns only the items
    whose child did not succeed."""
    backend.require_durable()
    calls: list[int] = []
    failing = {1}

    def count(event: Any, context: Any) -> Any:
        calls.append(event["n"])
        if event["n"] in failing:
            raise ValueError(f"item {event['n']}")
        return event["n"] * 10

    definition = json.loads(PARENT)
    definition["States"]["Fan out"]["MaxConcurrency"] = 1
    items = [{"n": n, "wait": 0} for n in range(4)]

    async def first() -> str:
        store = backend.open()
        engine = Engine(store=store, clock=VirtualClock(), functions={"count": count})
        sm = await engine.create_state_machine(name="parent", definition=json.dumps(definition))
        started = await engine.start_execution(stateMachineArn=sm["stateMachineArn"], input=json.dumps(items))
        described = await engine.wait_for_execution(started["executionArn"], 30)
        assert (
            described["status"] == "FAILED" and described["error"] == "States.ExceedToleratedFailureThreshold"
        )
        await engine.aclose()
        await store.aclose()
        return str(started["executionArn"])

    arn = run(first())
    assert calls == [0, 1]  # the failure ends the Map Run: items 2 and 3 never start
    failing.clear()
    calls.clear()

    async def second() -> None:
        store = backend.open()
        engine = Engine(store=store, clock=VirtualClock(), functions={"count": count})
        assert await engine.recover() == 0
        await engine.redrive_execution(executionArn=arn)
        described = await engine.wait_for_execution(arn, 30)
        assert described["status"] == "SUCCEEDED", described
        assert json.loads(described["output"]) == [{"n": n, "called": n * 10} for n in range(4)]
        events = (await engine.get_execution_history(executionArn=arn))["events"]
        assert _gap_free(events)
        started = [
            e["mapRunStartedEventDetails"]["mapRunArn"] for e in events if e["type"] == "MapRunStarted"
        ]
        redriven = [e["mapRunRedrivenEventDetails"] for e in events if e["type"] == "MapRunRedriven"]
        assert len(started) == 1 and redriven == [{"mapRunArn": started[0], "redriveCount": 1}]
        map_run = await engine.describe_map_run(mapRunArn=started[0])
        assert map_run["redriveCount"] == 1 and map_run["status"] == "SUCCEEDED"
        assert map_run["itemCounts"]["succeeded"] == map_run["itemCounts"]["total"] == 4
        await engine.aclose()
        await store.aclose()

    run(second())
    assert calls == [1, 2, 3]
