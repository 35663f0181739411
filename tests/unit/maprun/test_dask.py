"""Map Run children on a real Dask LocalCluster of two worker processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

distributed = pytest.importorskip("distributed")

from legato.engine import Engine  # noqa: E402
from legato.maprun.executors import DaskExecutor, executor_from_option, install_executor  # noqa: E402
from legato.runtime.clock import SequentialIds  # noqa: E402

FUNCTIONS = """
import os
import time


def double(event, context):
    time.sleep(event.get("sleep", 0))
    return {"doubled": event["n"] * 2, "pid": os.getpid()}


def fail_odd(event, context):
    if event["n"] % 7 == 3:
        raise ValueError(f"no {event['n']}")
    return event["n"]


FUNCTIONS = {"double": double, "fail_odd": fail_odd}
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    local = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
    )
    try:
        yield local
    finally:
        local.close()


@pytest.fixture
def functions(tmp_path: Path) -> str:
    path = tmp_path / "functions.py"
    path.write_text(FUNCTIONS)
    return str(path)


def _definition(child_type: str, states: dict[str, Any], start: str, **fields: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": child_type},
            "StartAt": start,
            "States": states,
        },
        "End": True,
    }
    state.update(fields)
    return {"StartAt": "M", "States": {"M": state}}


LAMBDA = {
    "T": {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "double", "Payload.$": "$"},
        "OutputPath": "$.Payload.doubled",
        "End": True,
    }
}
PASS = {"P": {"Type": "Pass", "Parameters": {"v.$": "$.n", "name.$": "$$.Execution.Name"}, "End": True}}
FAILING = {
    "T": {
        "Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:123456789012:function:fail_odd",
        "End": True,
    }
}


async def _run(
    definition: dict[str, Any], items: Any, functions: str, executor: DaskExecutor | None
) -> tuple[dict[str, Any], dict[str, Any], Engine]:
    from legato.cli._common import load_functions

    engine = Engine(ids=SequentialIds(), functions=load_functions(functions))
    install_executor(engine.services, executor)
    sm = await engine.create_state_machine(
        name="sm", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/r"
    )
    started = await engine.start_execution(stateMachineArn=sm["stateMachineArn"], input=json.dumps(items))
    arn = started["executionArn"]
    described = await engine.wait_for_execution(arn, timeout=60)
    run_arn = (await engine.list_map_runs(executionArn=arn))["mapRuns"][0]["mapRunArn"]
    return described, await engine.describe_map_run(mapRunArn=run_arn), engine


def _both(definition: dict[str, Any], items: Any, functions: str, cluster: Any, **kw: Any) -> Any:
    async def go() -> Any:
        local, local_run, engine = await _run(definition, items, functions, None)
        await engine.aclose()
        executor = DaskExecutor(cluster.scheduler_address, functions=functions, **kw)
        try:
            remote, remote_run, engine = await _run(definition, items, functions, executor)
            chunks = executor.chunks_sent
            await engine.aclose()
        finally:
            await executor.aclose()
        return local, local_run, remote, remote_run, chunks

    return asyncio.run(go())


def _outcome(described: dict[str, Any]) -> tuple[Any, ...]:
    return described["status"], described.get("output"), described.get("error"), described.get("cause")


def test_results_equal_the_in_process_run(cluster: Any, functions: str) -> None:
    items = [{"n": n} for n in range(300)]
    for child_type, states, start in (("EXPRESS", LAMBDA, "T"), ("STANDARD", PASS, "P")):
        local, local_run, remote, remote_run, chunks = _both(
            _definition(child_type, states, start), items, functions, cluster, chunk_size=50
        )
        assert local["status"] == "SUCCEEDED", local
        assert _outcome(remote) == _outcome(local)
        assert remote_run["itemCounts"] == local_run["itemCounts"]
        assert remote_run["executionCounts"] == local_run["executionCounts"]
        assert chunks >= 300 // 50  # sent in chunks, not one task per child


def test_failures_and_tolerance_match(cluster: Any, functions: str) -> None:
    items = [{"n": n} for n in range(40)]
    definition = _definition("EXPRESS", FAILING, "T", ToleratedFailureCount=100)
    local, local_run, remote, remote_run, _ = _both(definition, items, functions, cluster)
    assert local["status"] == "SUCCEEDED"
    assert _outcome(remote) == _outcome(local)
    assert remote_run["itemCounts"]["failed"] == local_run["itemCounts"]["failed"] == 6
    strict = _definition("EXPRESS", FAILING, "T")
    local, _, remote, _, _ = _both(strict, items, functions, cluster)
    assert local["status"] == remote["status"] == "FAILED"
    assert remote["error"] == "States.ExceedToleratedFailureThreshold"


def test_a_worker_killed_mid_map_loses_and_duplicates_nothing(cluster: Any, functions: str) -> None:
    items = [{"n": n, "sleep": 0.2} for n in range(300)]  # a chunk of 20 takes about 0.2 s
    definition = _definition("EXPRESS", LAMBDA, "T")

    async def go() -> tuple[dict[str, Any], dict[str, Any], int]:
        executor = DaskExecutor(cluster.scheduler_address, functions=functions, chunk_size=20)
        await executor.start()
        pids: dict[str, int] = await executor.client.run(os.getpid)
        victim = sorted(pids.values())[0]

        async def kill_when_busy() -> None:
            # Wait (bounded) until chunks are in flight, then kill one worker process.
            for _ in range(500):
                if executor.chunks_sent >= 4:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.3)
            in_flight.append(len(executor._sending))
            os.kill(victim, signal.SIGKILL)

        in_flight: list[int] = []
        killer = asyncio.ensure_future(kill_when_busy())
        try:
            described, run, engine = await _run(definition, items, functions, executor)
            await engine.aclose()
        finally:
            await killer
            await executor.aclose()
        assert in_flight and in_flight[0] > 0  # killed mid-map
        return described, run, victim

    described, run, victim = asyncio.run(go())
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output == [n * 2 for n in range(300)]
    assert run["itemCounts"]["succeeded"] == 300
    assert run["itemCounts"]["total"] == 300
    assert run["itemCounts"]["failed"] == 0
    with pytest.raises(ProcessLookupError):
        os.kill(victim, 0)


def test_executor_option() -> None:
    assert executor_from_option(None) is None
    assert executor_from_option("inprocess") is None
    remote = executor_from_option("dask://127.0.0.1:8786", "f.py")
    assert isinstance(remote, DaskExecutor)
    assert remote.address == "tcp://127.0.0.1:8786" and remote.functions == "f.py"
    local = executor_from_option("dask-local")
    assert isinstance(local, DaskExecutor) and local.address is None
    with pytest.raises(ValueError, match="unknown executor"):
        executor_from_option("spark://x")
