"""Map Runs: child executions, counts, back-pressure, tolerated failures, the Map Run API, redrive."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

import legato
from legato.engine import Engine
from legato.runtime.clock import SequentialIds, SystemClock, VirtualClock

SM = "arn:aws:states:us-east-1:123456789012:stateMachine:"
ROLE = "arn:aws:iam::123456789012:role/r"


def _map(processor_states: dict[str, Any], start: str, **fields: Any) -> dict[str, Any]:
    state = {
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": fields.pop("type", "STANDARD")},
            "StartAt": start,
            "States": processor_states,
        },
        "End": True,
    }
    state.update(fields)
    return state


def _machine(map_state: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": "M", "States": {"M": map_state}}


PASS_CHILD = {"P": {"Type": "Pass", "Parameters": {"v.$": "$", "id.$": "$$.Execution.Id"}, "End": True}}


def test_children_are_executions_named_under_the_label() -> None:
    result = legato.run(_machine(_map(PASS_CHILD, "P", Label="lbl")), [1, 2, 3], name="parent")
    assert result.status == "SUCCEEDED", result.cause
    assert [o["v"] for o in result.output] == [1, 2, 3]
    ids = [o["id"] for o in result.output]
    assert len(set(ids)) == 3
    assert all(i.startswith("arn:aws:states:us-east-1:123456789012:execution:") for i in ids)
    assert all(":LocalStateMachine/lbl:" in i or "/lbl:" in i for i in ids)
    types = [e["type"] for e in result.history]
    assert types == [
        "ExecutionStarted",
        "MapStateEntered",
        "MapStateStarted",
        "MapRunStarted",
        "MapRunSucceeded",
        "MapStateSucceeded",
        "MapStateExited",
        "ExecutionSucceeded",
    ]
    run_arn = result.history[3]["mapRunStartedEventDetails"]["mapRunArn"]
    assert ":mapRun:" in run_arn and "/lbl:" in run_arn


def test_children_do_not_see_the_parent_variables() -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "M"},
            "M": _map({"P": {"Type": "Pass", "Parameters": {"x.$": "$x"}, "End": True}}, "P"),
        },
    }
    result = legato.run(definition, [1])
    assert result.status == "FAILED"
    assert result.error == "States.ExceedToleratedFailureThreshold"
    assert "MapRunFailed" in [e["type"] for e in result.history]


def test_item_selector_sees_the_map_item() -> None:
    state = _map(
        {"P": {"Type": "Pass", "End": True}},
        "P",
        ItemSelector={"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value"},
    )
    result = legato.run(_machine(state), ["a", "b"])
    assert result.output == [{"i": 0, "v": "a"}, {"i": 1, "v": "b"}]


def test_tolerated_failure_count() -> None:
    child = {
        "C": {
            "Type": "Choice",
            "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "F"}],
            "Default": "S",
        }
    }
    child.update({"F": {"Type": "Fail", "Error": "E"}, "S": {"Type": "Succeed"}})
    ok = legato.run(_machine(_map(child, "C", ToleratedFailureCount=1)), [1, 2, 3])
    assert ok.status == "SUCCEEDED"
    assert ok.output == [1, None, 3]
    bad = legato.run(_machine(_map(child, "C", ToleratedFailureCount=0)), [1, 2, 3])
    assert bad.error == "States.ExceedToleratedFailureThreshold"


WAIT_OR_FAIL = {
    "C": {
        "Type": "Choice",
        "Choices": [{"Variable": "$", "StringEquals": "fail", "Next": "F"}],
        "Default": "W",
    },
    "F": {"Type": "Fail", "Error": "Boom"},
    "W": {"Type": "Wait", "Seconds": 3600, "End": True},
}


@pytest.mark.parametrize("execution_type", ["STANDARD", "EXPRESS"])
@pytest.mark.parametrize(
    ("items", "tolerated"),
    [
        (["fail", "wait", "wait"], {"ToleratedFailureCount": 0}),
        (["fail", "fail", "wait", "wait"], {"ToleratedFailurePercentage": 25}),
    ],
)
def test_exceeding_the_threshold_fails_the_map_run_at_once(
    execution_type: str, items: list[str], tolerated: dict[str, Any]
) -> None:
    """The Map Run fails as soon as the failures exceed the threshold; the children still
    running are aborted (on the system clock their hour-long Wait would otherwise hold it)."""

    async def go() -> None:
        engine = Engine(ids=SequentialIds(), clock=SystemClock())
        definition = _machine(_map(WAIT_OR_FAIL, "C", type=execution_type, **tolerated))
        arn = await _start(engine, definition, items)
        done = await engine.wait_for_execution(arn, timeout=10)
        assert done["status"] == "FAILED"
        assert done["error"] == "States.ExceedToleratedFailureThreshold"
        run_arn = (await engine.list_map_runs(executionArn=arn))["mapRuns"][0]["mapRunArn"]
        described = await engine.describe_map_run(mapRunArn=run_arn)
        assert described["status"] == "FAILED"
        failed = items.count("fail")
        for counts in (described["itemCounts"], described["executionCounts"]):
            assert counts["failed"] == failed and counts["aborted"] == len(items) - failed
            assert counts["running"] == counts["pending"] == counts["succeeded"] == 0
        children = (await engine.list_executions(mapRunArn=run_arn))["executions"]
        if execution_type == "STANDARD":
            assert sorted(c["status"] for c in children) == sorted(
                ["FAILED"] * failed + ["ABORTED"] * (len(items) - failed)
            )
            for child in children:
                events = (await engine.get_execution_history(executionArn=child["executionArn"]))["events"]
                assert (
                    events[-1]["type"]
                    == {"FAILED": "ExecutionFailed", "ABORTED": "ExecutionAborted"}[child["status"]]
                )
        else:
            assert children == []
        await engine.aclose()

    asyncio.run(go())


def test_a_percentage_is_judged_once_the_items_are_known() -> None:
    """With an ItemBatcher the number of children is known only once every item is read:
    the percentage is then judged on all of them (one failed batch of four is 25%)."""
    child = {
        "C": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.Items[0]", "StringEquals": "fail", "Next": "F"}],
            "Default": "S",
        },
        "F": {"Type": "Fail", "Error": "Boom"},
        "S": {"Type": "Succeed"},
    }
    state = _map(child, "C", ItemBatcher={"MaxItemsPerBatch": 1}, ToleratedFailurePercentage=25)
    ok = legato.run(_machine(state), ["fail", "a", "b", "c"])
    assert ok.status == "SUCCEEDED", ok.cause
    bad = legato.run(_machine(state), ["fail", "a", "b", "fail"])
    assert bad.error == "States.ExceedToleratedFailureThreshold"


class _Gauge:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.calls: list[Any] = []
        self.fail: set[int] = set()

    def __call__(self, event: Any, context: Any) -> Any:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.calls.append(event)
        threading.Event().wait(0.01)
        with self.lock:
            self.running -= 1
        if event in self.fail:
            raise ValueError(f"item {event}")
        return event * 10


LAMBDA_CHILD = {
    "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:g", "End": True}
}


async def _start(engine: Engine, definition: dict[str, Any], value: Any, name: str = "e") -> str:
    sm = await engine.create_state_machine(name="sm", definition=json.dumps(definition), roleArn=ROLE)
    started = await engine.start_execution(
        stateMachineArn=sm["stateMachineArn"], input=json.dumps(value), name=name
    )
    arn: str = started["executionArn"]
    return arn


def test_max_concurrency_bounds_running_children_and_the_api_reports_the_run() -> None:
    gauge = _Gauge()

    async def go() -> None:
        engine = Engine(ids=SequentialIds(), clock=VirtualClock(), functions={"g": gauge})
        arn = await _start(
            engine, _machine(_map(LAMBDA_CHILD, "T", MaxConcurrency=2, Label="L")), list(range(6))
        )
        done = await engine.wait_for_execution(arn, timeout=10)
        assert done["status"] == "SUCCEEDED"
        assert json.loads(done["output"]) == [i * 10 for i in range(6)]
        runs = (await engine.list_map_runs(executionArn=arn))["mapRuns"]
        assert len(runs) == 1
        run_arn = runs[0]["mapRunArn"]
        assert run_arn.startswith("arn:aws:states:us-east-1:123456789012:mapRun:sm/L:")
        described = await engine.describe_map_run(mapRunArn=run_arn)
        assert described["status"] == "SUCCEEDED"
        assert described["maxConcurrency"] == 2
        assert described["executionArn"] == arn
        for counts in (described["itemCounts"], described["executionCounts"]):
            assert counts["succeeded"] == 6 and counts["total"] == 6
            assert counts["running"] == 0 and counts["pending"] == 0 and counts["failed"] == 0
        children = (await engine.list_executions(mapRunArn=run_arn))["executions"]
        assert len(children) == 6
        assert all(
            c["executionArn"].startswith(f"{SM[: -len('stateMachine:')]}execution:sm/L:") for c in children
        )
        child = await engine.describe_execution(executionArn=children[0]["executionArn"])
        assert child["mapRunArn"] == run_arn
        assert child["status"] == "SUCCEEDED"
        history = await engine.get_execution_history(executionArn=children[0]["executionArn"])
        assert history["events"][0]["type"] == "ExecutionStarted"
        assert await engine.update_map_run(mapRunArn=run_arn, maxConcurrency=5) == {}
        assert (await engine.describe_map_run(mapRunArn=run_arn))["maxConcurrency"] == 5
        await engine.aclose()

    asyncio.run(go())
    assert gauge.peak <= 2


def test_express_children_are_counted_not_listed() -> None:
    async def go() -> None:
        engine = Engine(ids=SequentialIds(), clock=VirtualClock())
        definition = _machine(_map({"P": {"Type": "Pass", "End": True}}, "P", type="EXPRESS"))
        arn = await _start(engine, definition, [1, 2])
        await engine.wait_for_execution(arn, timeout=10)
        run_arn = (await engine.list_map_runs(executionArn=arn))["mapRuns"][0]["mapRunArn"]
        described = await engine.describe_map_run(mapRunArn=run_arn)
        assert described["executionCounts"]["succeeded"] == 2
        assert (await engine.list_executions(mapRunArn=run_arn))["executions"] == []
        await engine.aclose()

    asyncio.run(go())


def test_unknown_map_run() -> None:
    async def go() -> None:
        engine = Engine(ids=SequentialIds(), clock=VirtualClock())
        try:
            await engine.describe_map_run(mapRunArn="arn:aws:states:us-east-1:123456789012:mapRun:sm/x:y")
        except legato.errors.ApiError as exc:
            assert exc.type == "ResourceNotFound"
        else:
            raise AssertionError("no error")
        await engine.aclose()

    asyncio.run(go())


def test_redrive_reruns_only_the_children_that_did_not_succeed() -> None:
    gauge = _Gauge()
    gauge.fail = {2}

    async def go() -> None:
        engine = Engine(ids=SequentialIds(), clock=VirtualClock(), functions={"g": gauge})
        arn = await _start(engine, _machine(_map(LAMBDA_CHILD, "T", MaxConcurrency=1)), [1, 2, 3])
        done = await engine.wait_for_execution(arn, timeout=10)
        assert done["status"] == "FAILED"
        # The failure exceeds the threshold (none tolerated): the third item never starts.
        assert gauge.calls == [1, 2]
        run_arn = (await engine.list_map_runs(executionArn=arn))["mapRuns"][0]["mapRunArn"]
        failed = (await engine.list_executions(mapRunArn=run_arn, statusFilter="FAILED"))["executions"]
        child = await engine.describe_execution(executionArn=failed[0]["executionArn"])
        assert child["redriveStatus"] == "REDRIVABLE" and child["mapRunArn"] == run_arn
        with pytest.raises(legato.errors.ApiError, match="redrive its parent execution"):
            await engine.redrive_execution(executionArn=child["executionArn"])
        gauge.fail = set()
        gauge.calls.clear()
        await engine.redrive_execution(executionArn=arn)
        done = await engine.wait_for_execution(arn, timeout=10)
        assert done["status"] == "SUCCEEDED", done
        assert json.loads(done["output"]) == [10, 20, 30]
        assert gauge.calls == [2, 3]
        runs = (await engine.list_map_runs(executionArn=arn))["mapRuns"]
        assert len(runs) == 1
        run_arn = runs[0]["mapRunArn"]
        described = await engine.describe_map_run(mapRunArn=run_arn)
        assert described["redriveCount"] == 1
        assert described["itemCounts"]["succeeded"] == 3
        events = (await engine.get_execution_history(executionArn=arn))["events"]
        types = [e["type"] for e in events]
        assert types.count("MapRunStarted") == 1
        redriven = [e for e in events if e["type"] == "MapRunRedriven"]
        assert [e["mapRunRedrivenEventDetails"] for e in redriven] == [
            {"mapRunArn": run_arn, "redriveCount": 1}
        ]
        assert types[types.index("ExecutionRedriven") :] == [
            "ExecutionRedriven",
            "MapStateEntered",
            "MapStateStarted",
            "MapRunRedriven",
            "MapRunSucceeded",
            "MapStateSucceeded",
            "MapStateExited",
            "ExecutionSucceeded",
        ]
        # The first attempt's children stay listed; the redrive added the two it reran.
        children = (await engine.list_executions(mapRunArn=run_arn))["executions"]
        assert sorted(c["status"] for c in children) == ["FAILED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]
        await engine.aclose()

    asyncio.run(go())
