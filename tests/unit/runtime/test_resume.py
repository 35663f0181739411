"""Resuming an execution from its recorded history, and redriving a failed one.

A crash is simulated by copying the history at a chosen moment and then
abandoning the run; a new Execution given that copy as ``recorded`` resumes it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from legato.integrations.functions import FunctionRegistry
from legato.runtime.clock import VirtualClock
from legato.runtime.execution import Execution, ExecutionInfo
from legato.runtime.journal import public_event
from legato.runtime.machine import compile_machine
from legato.runtime.services import Services

FN = "arn:aws:lambda:us-east-1:123456789012:function:"


def _info(redrive_count: int = 0) -> ExecutionInfo:
    return ExecutionInfo(
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:sm:ex",
        name="ex",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:sm",
        state_machine_name="sm",
        role_arn="arn:aws:iam::123456789012:role/r",
        redrive_count=redrive_count,
    )


class Calls:
    """Functions that count their calls; ``gate`` makes one of them block."""

    def __init__(self) -> None:
        self.count: Counter[str] = Counter()
        self.gate: asyncio.Event | None = None
        self.fail_once: set[str] = set()

    def registry(self) -> FunctionRegistry:
        reg = FunctionRegistry()
        for name in ("f", "g", "h", "item"):
            reg.register(name, self._make(name))
        return reg

    def _make(self, name: str) -> Any:
        async def fn(event: Any, context: Any) -> Any:
            self.count[name] += 1
            if name == "g" and self.gate is not None:
                await self.gate.wait()
            if name in self.fail_once:
                self.fail_once.discard(name)
                raise RuntimeError(f"{name} failed")
            return {"by": name, "in": event}

        return fn


def _run_until(
    definition: dict[str, Any], calls: Calls, stop_after: str, clock: VirtualClock
) -> list[dict[str, Any]]:
    """Runs until an event of type ``stop_after`` is recorded; returns the history then."""
    machine = compile_machine(definition)

    async def go() -> list[dict[str, Any]]:
        services = Services(clock=clock, functions=calls.registry())
        ex = Execution(machine, _info(), '{"n": 1}', services)
        task = asyncio.create_task(ex.run())
        while not any(e["type"] == stop_after for e in ex.history):
            assert not task.done(), [e["type"] for e in ex.history]
            await asyncio.sleep(0.001)
        # The crash comes right after that event was recorded.
        upto = next(i for i, e in enumerate(ex.history) if e["type"] == stop_after)
        snapshot = [dict(e) for e in ex.history[: upto + 1]]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return snapshot

    return asyncio.run(go())


def _resume(
    definition: dict[str, Any], calls: Calls, recorded: list[dict[str, Any]], clock: VirtualClock, **kw: Any
) -> Execution:
    machine = compile_machine(definition)
    info = _info(kw.pop("redrive_count", 0))

    async def go() -> Execution:
        services = Services(clock=clock, functions=calls.registry())
        ex = Execution(machine, info, '{"n": 1}', services, recorded=recorded, **kw)
        await ex.run()
        return ex

    return asyncio.run(go())


def _assert_gap_free(history: list[dict[str, Any]]) -> None:
    assert [e["id"] for e in history] == list(range(1, len(history) + 1))


CHAIN = {
    "StartAt": "A",
    "States": {
        "A": {"Type": "Pass", "Result": {"a": 1}, "ResultPath": "$.a", "Next": "F"},
        "F": {"Type": "Task", "Resource": FN + "f", "ResultPath": "$.f", "Next": "W"},
        "W": {"Type": "Wait", "Seconds": 100, "Next": "G"},
        "G": {"Type": "Task", "Resource": FN + "g", "ResultPath": "$.g", "Next": "Z"},
        "Z": {"Type": "Pass", "End": True},
    },
}


def test_resume_during_a_wait_does_not_rerun_completed_tasks() -> None:
    calls = Calls()
    clock = VirtualClock()
    recorded = _run_until(CHAIN, calls, "WaitStateEntered", clock)
    assert calls.count == {"f": 1}
    ex = _resume(CHAIN, calls, recorded, clock)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert calls.count == {"f": 1, "g": 1}
    assert ex.output["f"] == {"by": "f", "in": {"n": 1, "a": {"a": 1}}}
    _assert_gap_free(ex.history)
    types = [e["type"] for e in ex.history]
    # Nothing recorded twice: one entry per state.
    assert types.count("TaskStateEntered") == 2 and types.count("WaitStateEntered") == 1
    # The Wait still lasted its 100 seconds in all, measured from when it was entered.
    entered = next(e for e in ex.history if e["type"] == "WaitStateEntered")["timestamp"]
    exited = next(e for e in ex.history if e["type"] == "WaitStateExited")["timestamp"]
    assert exited - entered >= 100


def test_a_task_in_flight_at_the_crash_runs_again() -> None:
    machine = compile_machine(CHAIN)
    clock = VirtualClock()

    async def crash_in_g() -> list[dict[str, Any]]:
        blocker = Calls()
        blocker.gate = asyncio.Event()  # g never returns: the crash comes first
        ex = Execution(machine, _info(), '{"n": 1}', Services(clock=clock, functions=blocker.registry()))
        task = asyncio.create_task(ex.run())
        while blocker.count["g"] == 0:
            await asyncio.sleep(0.001)
        snap = [dict(e) for e in ex.history]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return snap

    snapshot = asyncio.run(crash_in_g())
    assert [e["type"] for e in snapshot][-1] == "LambdaFunctionStarted"
    calls = Calls()
    ex = _resume(CHAIN, calls, snapshot, clock)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    # f's completion was recorded: not run again. g was in flight: it runs again.
    assert calls.count == {"g": 1}
    _assert_gap_free(ex.history)
    types = [e["type"] for e in ex.history]
    assert types.count("LambdaFunctionScheduled") == 2  # g's schedule is reused, not recorded twice
    assert types.count("LambdaFunctionSucceeded") == 2


MAP = {
    "StartAt": "M",
    "States": {
        "M": {
            "Type": "Map",
            "MaxConcurrency": 1,
            "ItemProcessor": {
                "StartAt": "T",
                "States": {
                    "T": {"Type": "Task", "Resource": FN + "item", "Next": "W"},
                    "W": {"Type": "Wait", "Seconds": 10, "End": True},
                },
            },
            "End": True,
        }
    },
}


def test_resume_inside_a_map_reruns_no_finished_iteration() -> None:
    calls = Calls()
    clock = VirtualClock()
    machine = compile_machine(MAP)

    async def crash_after_three() -> list[dict[str, Any]]:
        ex = Execution(machine, _info(), "[1, 2, 3, 4, 5]", Services(clock=clock, functions=calls.registry()))
        task = asyncio.create_task(ex.run())
        while sum(e["type"] == "MapIterationSucceeded" for e in ex.history) < 3:
            await asyncio.sleep(0.001)
        snap = [dict(e) for e in ex.history]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return snap

    snapshot = asyncio.run(crash_after_three())
    done_before = calls.count["item"]
    assert done_before in (3, 4)

    async def resume() -> Execution:
        ex = Execution(
            machine,
            _info(),
            "[1, 2, 3, 4, 5]",
            Services(clock=clock, functions=calls.registry()),
            recorded=snapshot,
        )
        await ex.run()
        return ex

    ex = asyncio.run(resume())
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert [r["in"] for r in ex.output] == [1, 2, 3, 4, 5]
    # Each item's Task ran once in all: those whose result was recorded before
    # the crash were not called again.
    assert calls.count["item"] == 5
    _assert_gap_free(ex.history)
    assert sum(e["type"] == "MapIterationStarted" for e in ex.history) == 5


REDRIVE = {
    "StartAt": "F",
    "States": {
        "F": {"Type": "Task", "Resource": FN + "f", "ResultPath": "$.f", "Next": "H"},
        "H": {
            "Type": "Task",
            "Resource": FN + "h",
            "Parameters": {"count.$": "$$.Execution.RedriveCount"},
            "ResultPath": "$.h",
            "End": True,
        },
    },
}


def test_redrive_reruns_only_the_failed_state() -> None:
    calls = Calls()
    calls.fail_once.add("h")
    clock = VirtualClock()
    machine = compile_machine(REDRIVE)

    async def first() -> Execution:
        ex = Execution(machine, _info(), '{"n": 1}', Services(clock=clock, functions=calls.registry()))
        await ex.run()
        return ex

    failed = asyncio.run(first())
    assert failed.status == "FAILED" and failed.error == "RuntimeError"
    ex = _resume(REDRIVE, calls, failed.history, clock, redrive=True, redrive_count=1)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    assert calls.count == {"f": 1, "h": 2}
    assert ex.output["h"]["in"] == {"count": 1}
    types = [e["type"] for e in ex.history]
    assert types[types.index("ExecutionFailed") + 1] == "ExecutionRedriven"
    assert types.count("TaskStateEntered") == 3  # F, H (failed), H again
    _assert_gap_free(ex.history)
    assert not any(k.startswith("_") for e in ex.history for k in public_event(e))


@pytest.mark.parametrize("stop_after", ["PassStateExited", "TaskStateExited", "WaitStateExited"])
def test_resume_at_any_point_gives_the_same_output(stop_after: str) -> None:
    reference = _resume(CHAIN, Calls(), [], VirtualClock())
    recorded = _run_until(CHAIN, Calls(), stop_after, VirtualClock())
    calls = Calls()
    ex = _resume(CHAIN, calls, recorded, VirtualClock())
    assert ex.status == "SUCCEEDED"
    assert ex.output == reference.output
    # Only the Tasks whose result the snapshot lacks are called on resume.
    finished = sum(e["type"] == "LambdaFunctionSucceeded" for e in recorded)
    assert sum(calls.count.values()) == 2 - finished
    _assert_gap_free(ex.history)


def test_a_redriven_run_interrupted_by_a_crash_resumes_after_the_redrive() -> None:
    calls = Calls()
    calls.fail_once.add("h")
    clock = VirtualClock()
    machine = compile_machine(REDRIVE)

    async def first() -> Execution:
        ex = Execution(machine, _info(), '{"n": 1}', Services(clock=clock, functions=calls.registry()))
        await ex.run()
        return ex

    failed = asyncio.run(first())
    redriven = _resume(REDRIVE, calls, failed.history, clock, redrive=True, redrive_count=1)
    assert redriven.status == "SUCCEEDED"
    # A crash right after the redriven run re-entered H: resume from that record.
    cut = max(i for i, e in enumerate(redriven.history) if e["type"] == "TaskStateEntered")
    resumed = _resume(REDRIVE, calls, redriven.history[: cut + 1], clock, redrive_count=1)
    assert resumed.status == "SUCCEEDED", (resumed.error, resumed.cause)
    assert calls.count == {"f": 1, "h": 3}  # failed once, succeeded, and the in-flight rerun
    types = [e["type"] for e in resumed.history]
    assert types.count("ExecutionRedriven") == 1 and types.count("ExecutionFailed") == 1
    _assert_gap_free(resumed.history)
