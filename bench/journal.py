"""Durable state transitions per second: Standard executions journaled to SQLite.

Usage (from the repository root):

    .venv/bin/python bench/journal.py [--shape PATH] [--runs N] [--concurrency N] [--sync normal|full]

Runs the Pass chain (``../shared/bench/shapes/pass_chain_100.asl.json``: 100 Pass
states, so 100 transitions and about 200 history events an execution) through
:class:`legato.Engine`:

- Standard executions over the SQLite store (``synchronous=NORMAL`` by default),
  one at a time, then ``--concurrency`` at once. An execution counts once its
  events and its end are committed.
- The same shape as Express executions over the in-memory store, as the peer
  measured in the same run: the ratio says what durability costs.

It prints the figures; it is a benchmark, never a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from legato.engine import Engine  # noqa: E402
from legato.runtime.clock import VirtualClock  # noqa: E402
from legato.store.records import Store  # noqa: E402
from legato.store.sqlite import SqliteStore  # noqa: E402

SHAPE = ROOT.parent / "shared" / "bench" / "shapes" / "pass_chain_100.asl.json"


def _transitions(definition: str) -> int:
    """States an execution of a plain chain passes through."""
    return len(json.loads(definition)["States"])


async def _run_batch(engine: Engine, arn: str, input_text: str, n: int) -> float:
    """Seconds to start ``n`` executions at once and see them all ended and stored."""
    start = time.perf_counter()
    for _ in range(n):
        await engine.start_execution(stateMachineArn=arn, input=input_text)
    tasks = list(engine._tasks)  # each ends after the execution's end is committed
    await asyncio.gather(*tasks)
    return time.perf_counter() - start


async def _express(engine: Engine, arn: str, input_text: str, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        result = await engine.start_sync_execution(stateMachineArn=arn, input=input_text)
        assert result["status"] == "SUCCEEDED", result
    return time.perf_counter() - start


async def _measure(args: argparse.Namespace) -> dict[str, Any]:
    definition = Path(args.shape).read_text()
    input_path = Path(args.shape.replace(".asl.json", ".input.json"))
    input_text = input_path.read_text() if input_path.exists() else "{}"
    steps = _transitions(definition)
    out: dict[str, Any] = {"shape": Path(args.shape).name, "transitions_per_execution": steps}
    with tempfile.TemporaryDirectory() as tmp:
        store: Store = SqliteStore(tmp, synchronous=args.sync)
        engine = Engine(store=store, clock=VirtualClock())
        sm = await engine.create_state_machine(name="chain", definition=definition)
        arn = sm["stateMachineArn"]
        await _run_batch(engine, arn, input_text, 3)  # warm up: compile, caches, connections
        one = [await _run_batch(engine, arn, input_text, 1) for _ in range(args.runs)]
        many = [
            await _run_batch(engine, arn, input_text, args.concurrency)
            for _ in range(max(1, args.runs // 10))
        ]
        events = len(
            await store.events(
                (await engine.list_executions(stateMachineArn=arn))["executions"][0]["executionArn"]
            )
        )
        await engine.aclose()
        await store.aclose()
    memory = Engine(clock=VirtualClock())
    sm = await memory.create_state_machine(name="chain", definition=definition, type="EXPRESS")
    await _express(memory, sm["stateMachineArn"], input_text, 3)
    express = [await _express(memory, sm["stateMachineArn"], input_text, 1) for _ in range(args.runs)]
    await memory.aclose()

    one_s = statistics.median(one)
    many_s = statistics.median(many)
    express_s = statistics.median(express)
    out.update(
        {
            "sync": args.sync.upper(),
            "events_per_execution": events,
            "standard_sqlite_1_execution_ms": round(one_s * 1000, 2),
            "standard_sqlite_1_transitions_per_s": round(steps / one_s),
            f"standard_sqlite_{args.concurrency}_concurrent_ms": round(many_s * 1000, 1),
            f"standard_sqlite_{args.concurrency}_concurrent_transitions_per_s": round(
                steps * args.concurrency / many_s
            ),
            "express_memory_1_execution_ms": round(express_s * 1000, 2),
            "express_memory_1_transitions_per_s": round(steps / express_s),
            "standard_sqlite_over_express_memory_time_ratio": round(one_s / express_s, 2),
        }
    )
    return out


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and prints its figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shape", default=str(SHAPE), help="an ASL Pass chain (default: pass_chain_100)")
    parser.add_argument("--runs", type=int, default=30, help="timed single executions (default: 30)")
    parser.add_argument("--concurrency", type=int, default=100, help="executions at once (default: 100)")
    parser.add_argument("--sync", choices=("normal", "full"), default="normal")
    args = parser.parse_args(argv)
    figures = asyncio.run(_measure(args))
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
