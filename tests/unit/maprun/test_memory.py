"""Distributed Map memory stays flat in the item count (tracemalloc, not timing)."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from legato.engine import Engine
from legato.integrations._s3store import ObjectStore
from legato.integrations.settings import IntegrationSettings
from legato.maprun import writer

_DEFINITION = {
    "StartAt": "M",
    "States": {
        "M": {
            "Type": "Map",
            "MaxConcurrency": 20,
            "ItemReader": {
                "Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "JSONL"},
                "Parameters": {"Bucket": "data", "Key": "items.jsonl"},
            },
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "P",
                "States": {"P": {"Type": "Pass", "End": True}},
            },
            "ResultWriter": {
                "Resource": "arn:aws:states:::s3:putObject",
                "Parameters": {"Bucket": "data", "Prefix": "out"},
            },
            "End": True,
        }
    },
}


async def _peak(data_dir: Path, n: int) -> tuple[int, dict[str, Any]]:
    # Put through the store, so reading it needs no checksum pass over a foreign file.
    store = ObjectStore(data_dir / "s3")
    store.create_bucket("data")
    store.put("data", "items.jsonl", "".join(f'{{"id": {i}}}\n' for i in range(n)).encode())
    engine = Engine(integrations=IntegrationSettings(data_dir=data_dir))
    try:
        sm = await engine.create_state_machine(name="m", definition=json.dumps(_DEFINITION))
        # A first run warms caches (compiled definition, imports) so only the run is measured.
        await engine.wait_for_execution(
            (await engine.start_execution(stateMachineArn=sm["stateMachineArn"], input="{}"))["executionArn"]
        )
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            started = await engine.start_execution(stateMachineArn=sm["stateMachineArn"], input="{}")
            result = await engine.wait_for_execution(started["executionArn"])
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
        return peak, result
    finally:
        await engine.aclose()


def test_peak_memory_does_not_grow_with_the_item_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The writer copies its spool files to the store in chunks of up to 1 MiB, a fixed
    # cost that a small run does not reach; a smaller chunk keeps it out of the comparison.
    monkeypatch.setattr(writer, "_COPY", 16 * 1024)
    small, small_result = asyncio.run(_peak(tmp_path / "small", 1000))
    large, large_result = asyncio.run(_peak(tmp_path / "large", 6000))
    assert small_result["status"] == large_result["status"] == "SUCCEEDED"
    # 5,000 more items: a slot per item (a results list, a child record) would add
    # 40 KB or more; reading, dispatching and writing as they go adds next to nothing.
    assert large - small < 30_000, (small, large)
