"""Map Run children that start nested executions, on a real Dask LocalCluster of two workers."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

distributed = pytest.importorskip("distributed")

from legato.engine import Engine  # noqa: E402
from legato.maprun.executors import DaskExecutor, install_executor  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/r"
PREFIX = "arn:aws:states:us-east-1:123456789012:stateMachine:"

SQUARE = {  # Standard; starts an Express one and leaves a Standard one running on its own
    "QueryLanguage": "JSONata",
    "StartAt": "Label",
    "States": {
        "Label": {
            "Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Arguments": {"StateMachineArn": PREFIX + "label", "Input": "{% $states.input %}"},
            "Output": "{% $states.result.Output %}",
            "Next": "Audit",
        },
        "Audit": {
            "Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution",
            "Arguments": {"StateMachineArn": PREFIX + "audit", "Input": "{% $states.input %}"},
            "Output": "{% $states.input %}",
            "End": True,
        },
    },
}
LABEL = {  # Express
    "QueryLanguage": "JSONata",
    "StartAt": "P",
    "States": {
        "P": {
            "Type": "Pass",
            "Output": "{% {'n': $states.input.n, 'sq': $states.input.n * $states.input.n} %}",
            "End": True,
        }
    },
}
AUDIT = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}}


def _parent(processor_states: dict[str, Any], start: str) -> dict[str, Any]:
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "MaxConcurrency": 4,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": start,
                    "States": processor_states,
                },
                "End": True,
            }
        },
    }


NESTED = _parent(
    {
        "Square": {
            "Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {"StateMachineArn": PREFIX + "square", "Input.$": "$"},
            "OutputPath": "$.Output",
            "End": True,
        }
    },
    "Square",
)
ENGINE_BOUND = _parent(  # a child describing itself: only the engine knows it
    {
        "Describe": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:sfn:describeExecution",
            "Parameters": {"ExecutionArn.$": "$$.Execution.Id"},
            "ResultSelector": {"status.$": "$.Status"},
            "End": True,
        }
    },
    "Describe",
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    local = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
    )
    try:
        yield local
    finally:
        local.close()


async def _engine(executor: DaskExecutor | None) -> Engine:
    engine = Engine()  # system clock: the audit executions' Wait is skipped by no one
    install_executor(engine.services, executor)
    for name, definition, kind in (
        ("label", LABEL, "EXPRESS"),
        ("audit", AUDIT, "STANDARD"),
        ("square", SQUARE, "STANDARD"),
    ):
        await engine.create_state_machine(
            name=name, definition=json.dumps(definition), roleArn=ROLE, type=kind
        )
    return engine


async def _run(engine: Engine, definition: dict[str, Any], items: Any) -> dict[str, Any]:
    sm = await engine.create_state_machine(name="parent", definition=json.dumps(definition), roleArn=ROLE)
    started = await engine.start_execution(stateMachineArn=sm["stateMachineArn"], input=json.dumps(items))
    return await engine.wait_for_execution(started["executionArn"], timeout=60)


async def _listed(engine: Engine, name: str) -> list[dict[str, Any]]:
    return (await engine.list_executions(stateMachineArn=PREFIX + name))["executions"]


def test_nested_executions_run_on_the_workers_and_the_engine_records_them(cluster: Any) -> None:
    items = [{"n": n} for n in range(6)]

    async def go() -> None:
        engine = await _engine(None)
        try:
            local = await _run(engine, NESTED, items)
        finally:
            await engine.aclose()
        assert local["status"] == "SUCCEEDED", local

        executor = DaskExecutor(cluster.scheduler_address)
        engine = await _engine(executor)
        try:
            remote = await _run(engine, NESTED, items)
            assert remote["status"] == "SUCCEEDED", remote
            assert remote["output"] == local["output"]
            assert json.loads(remote["output"]) == [{"n": n, "sq": n * n} for n in range(6)]
            assert executor.chunks_sent >= 2  # spread over both workers' threads
            # Every nested Standard execution came back ended, its history with it; the ones
            # started without .sync too (their chunk waited for them).
            for name in ("square", "audit"):
                listed = await _listed(engine, name)
                assert len(listed) == 6 and {e["status"] for e in listed} == {"SUCCEEDED"}, name
                history = await engine.get_execution_history(executionArn=listed[0]["executionArn"])
                assert history["events"][-1]["type"] == "ExecutionSucceeded"
            described = await engine.describe_execution(
                executionArn=(await _listed(engine, "square"))[0]["executionArn"]
            )
            assert json.loads(described["output"])["sq"] == json.loads(described["input"])["n"] ** 2
        finally:
            await engine.aclose()
            await executor.aclose()

    asyncio.run(go())


def test_children_that_need_the_engine_run_in_its_process_with_a_warning(
    cluster: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def go() -> tuple[dict[str, Any], int]:
        executor = DaskExecutor(cluster.scheduler_address)
        engine = await _engine(executor)
        try:
            return await _run(engine, ENGINE_BOUND, [1, 2, 3]), executor.chunks_sent
        finally:
            await engine.aclose()
            await executor.aclose()

    with caplog.at_level(logging.WARNING, logger="legato.maprun"):
        described, chunks = asyncio.run(go())
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == [{"status": "RUNNING"}] * 3
    assert chunks == 0
    warnings = [r.getMessage() for r in caplog.records if r.name == "legato.maprun"]
    assert len(warnings) == 1  # once per Map state
    assert "run in the engine's process, not on Dask" in warnings[0]
    assert "calls the Step Functions API" in warnings[0]
