"""The aggregator with its Distributed Map children on a real Dask LocalCluster (two worker
processes): the same dataset, to the checksum, as the ground truth and the in-process run."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

distributed = pytest.importorskip("distributed")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))

from aggregator import blueprint  # noqa: E402

from legato.cli import main  # noqa: E402
from legato.engine import Engine  # noqa: E402
from legato.maprun.executors import DaskExecutor  # noqa: E402
from legato.store.sqlite import SqliteStore  # noqa: E402

# Small, with faults and 429s, so Retry runs on the workers too.
OPTIONS: dict[str, Any] = {
    "locations": 4,
    "rows_per_location": 30,
    "page_size": 10,
    "fault_rate": 0.2,
    "throttle_rate": 0.1,
    "max_concurrency": 4,
}


def _run(data_dir: Path, executor: Any) -> blueprint.DemoReport:
    options = blueprint.DemoOptions(data_dir=data_dir, executor=executor, **OPTIONS)
    return asyncio.run(blueprint.run_demo(options))


async def _extractions(data_dir: Path) -> list[dict[str, Any]]:
    """The extraction executions the engine recorded (read back from its data directory)."""
    engine = Engine(store=SqliteStore(data_dir))
    try:
        arn = (
            f"arn:aws:states:us-east-1:123456789012:stateMachine:{blueprint.Blueprint().names['extraction']}"
        )
        listed = (await engine.list_executions(stateMachineArn=arn))["executions"]
        out = []
        for item in listed:
            history = await engine.get_execution_history(executionArn=item["executionArn"], maxResults=1000)
            out.append({**item, "events": [e["type"] for e in history["events"]]})
        return out
    finally:
        await engine.aclose()
        await engine.store.aclose()


def test_dask_local_cluster_gives_the_ground_truth_and_the_in_process_checksum(tmp_path: Path) -> None:
    local = _run(tmp_path / "inprocess", None)
    assert local.status == "SUCCEEDED", (local.error, local.cause)
    assert local.executor == "in-process"

    executor = DaskExecutor(None, n_workers=2)
    remote = _run(tmp_path / "dask", executor)
    assert executor.client is None and executor.cluster is None  # the demo shut the cluster down

    assert remote.status == "SUCCEEDED", (remote.error, remote.cause)
    assert remote.executor.startswith("a Dask LocalCluster of 2 workers")
    assert executor.chunks_sent >= 2  # the children went to the workers
    assert remote.checksum == remote.expected_checksum == local.checksum
    assert remote.rows == local.rows == remote.expected_rows
    assert remote.api.faults > 0 and remote.api.throttles > 0
    assert remote.leftover_parts == 0
    assert remote.task["status"] == "SUCCEEDED"

    # The extraction executions ran on the workers; the engine recorded them, durably.
    ran_on_dask = asyncio.run(_extractions(tmp_path / "dask"))
    ran_here = asyncio.run(_extractions(tmp_path / "inprocess"))
    assert len(ran_on_dask) == len(ran_here) == OPTIONS["locations"]
    assert {e["status"] for e in ran_on_dask} == {"SUCCEEDED"}
    for execution in ran_on_dask:
        assert execution["events"][0] == "ExecutionStarted"
        assert execution["events"][-1] == "ExecutionSucceeded"


def test_an_unknown_executor_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "aggregator", "--executor", "spark://x"]) == 2
    assert "--executor: unknown executor 'spark://x'" in capsys.readouterr().err
