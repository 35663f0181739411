"""Distributed Map throughput: in-process children against children on a Dask cluster.

Not a test. Runs one Distributed Map over N items (default 20,000) with a trivial Express
child (a Pass state), its items read from a JSONL object, on each executor and prints child executions per second:

    .venv/bin/python bench/distributed_map.py [--items N] [--chunk-size C] [--workers W]
        [--scheduler tcp://HOST:PORT]

Without ``--scheduler`` a LocalCluster of W worker processes (one thread each) is
started on 127.0.0.1 and closed at the end. The Dask figure includes sending the
chunks and their outcomes over the scheduler; on one small machine it mostly shows
the overhead, on a cluster the workers add throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from legato.engine import Engine
from legato.integrations.settings import IntegrationSettings
from legato.maprun.executors import DEFAULT_CHUNK_SIZE, DaskExecutor, install_executor

DEFINITION = {
    "StartAt": "M",
    "States": {
        "M": {
            "Type": "Map",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "P",
                "States": {"P": {"Type": "Pass", "Parameters": {"n.$": "$.n", "done": True}, "End": True}},
            },
            "ItemReader": {
                "Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "JSONL"},
                "Parameters": {"Bucket": "bench", "Key": "items.jsonl"},
            },
            "MaxConcurrency": 0,
            "ResultPath": None,
            "End": True,
        }
    },
}


async def measure(items: int, executor: DaskExecutor | None, data_dir: Path) -> tuple[float, Any]:
    """Seconds for one Distributed Map over ``items`` items, and its Map Run's item counts."""
    engine = Engine(integrations=IntegrationSettings(data_dir=data_dir))
    install_executor(engine.services, executor)
    if executor is not None:
        await executor.start()  # the cluster's start-up is not part of the figure
    sm = await engine.create_state_machine(
        name="bench", definition=json.dumps(DEFINITION), roleArn="arn:aws:iam::123456789012:role/r"
    )
    started = time.perf_counter()
    run = await engine.start_execution(stateMachineArn=sm["stateMachineArn"], input="{}")
    described = await engine.wait_for_execution(run["executionArn"], timeout=3600)
    elapsed = time.perf_counter() - started
    map_run = (await engine.list_map_runs(executionArn=run["executionArn"]))["mapRuns"][0]
    counts = (await engine.describe_map_run(mapRunArn=map_run["mapRunArn"]))["itemCounts"]
    await engine.aclose()
    if described["status"] != "SUCCEEDED":
        raise SystemExit(f"the map failed: {described.get('error')}: {described.get('cause')}")
    return elapsed, counts


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scheduler", help="an existing scheduler's address (default: a LocalCluster)")
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.WARNING)

    data_dir = Path(tempfile.mkdtemp(prefix="legato-bench-"))
    objects = data_dir / "s3" / "bench"
    objects.mkdir(parents=True)
    with (objects / "items.jsonl").open("w") as out:
        for n in range(args.items):
            out.write(json.dumps({"n": n}) + "\n")
    local_s, local_out = await measure(args.items, None, data_dir)
    executor = DaskExecutor(args.scheduler, chunk_size=args.chunk_size, n_workers=args.workers)
    try:
        dask_s, dask_out = await measure(args.items, executor, data_dir)
        chunks = executor.chunks_sent
    finally:
        await executor.aclose()
        shutil.rmtree(data_dir, ignore_errors=True)
    assert local_out["succeeded"] == args.items, local_out
    assert dask_out == local_out, "the executors disagree"
    where = args.scheduler or f"LocalCluster, {args.workers} worker processes"
    print(f"Distributed Map, {args.items:,} items, trivial Express child")
    print(f"  in-process : {local_s:7.2f} s  {args.items / local_s:9,.0f} items/s")
    print(
        f"  dask       : {dask_s:7.2f} s  {args.items / dask_s:9,.0f} items/s"
        f"  ({where}; {chunks} chunks of up to {args.chunk_size})"
    )
    print(f"  ratio dask/in-process: {local_s / dask_s:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
