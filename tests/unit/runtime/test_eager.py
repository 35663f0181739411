"""Coroutines started on the spot: done at once when they never wait, a task when they do."""

from __future__ import annotations

import asyncio

import pytest

from legato.runtime.eager import start


async def _value(x: int) -> int:
    return x * 2


async def _fails() -> None:
    raise ValueError("boom")


async def _waits(event: asyncio.Event, log: list[str]) -> str:
    log.append("before")
    await event.wait()
    log.append("after")
    await asyncio.sleep(0)
    return "done"


def test_a_coroutine_that_never_waits_ends_without_a_task() -> None:
    async def go() -> None:
        started = start(_value(21))
        assert started.done and started.result == 42 and started.task is None

        failed = start(_fails())
        assert failed.done and isinstance(failed.error, ValueError) and failed.task is None

    asyncio.run(go())


def test_a_coroutine_that_waits_goes_on_as_a_task() -> None:
    async def go() -> None:
        event = asyncio.Event()
        log: list[str] = []
        started = start(_waits(event, log))
        assert not started.done and started.task is not None
        assert log == ["before"]  # the first step ran on the spot
        event.set()
        assert await started.task == "done"
        assert log == ["before", "after"]

    asyncio.run(go())


def test_cancelling_the_task_cancels_the_coroutine_inside() -> None:
    async def go() -> None:
        cleaned: list[str] = []

        async def sleeper() -> None:
            try:
                await asyncio.sleep(3600)
            finally:
                cleaned.append("finally")

        started = start(sleeper())
        assert started.task is not None
        await asyncio.sleep(0)
        started.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await started.task
        assert cleaned == ["finally"]

    asyncio.run(go())


def test_inline_map_iterations_with_and_without_waits() -> None:
    """Iterations that wait and iterations that don't, under a MaxConcurrency, all end in order."""
    import legato
    from legato.runtime.clock import VirtualClock

    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "MaxConcurrency": 2,
                "ItemProcessor": {
                    "StartAt": "C",
                    "States": {
                        "C": {
                            "Type": "Choice",
                            "Choices": [{"Variable": "$.wait", "NumericGreaterThan": 0, "Next": "W"}],
                            "Default": "P",
                        },
                        "W": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "P"},
                        "P": {"Type": "Pass", "Parameters": {"n.$": "$.n"}, "End": True},
                    },
                },
                "End": True,
            }
        },
    }
    items = [{"n": i, "wait": (i % 3) * 10} for i in range(7)]
    result = legato.run(definition, items, clock=VirtualClock())
    assert result.status == "SUCCEEDED"
    assert result.output == [{"n": i} for i in range(7)]
