"""Distributed Map at data scale: peak memory and throughput (a benchmark, not a test).

Usage (from the repository root):

    .venv/bin/python bench/distributed_map_memory.py [--sizes 100000,1000000] [--inline 10000]
                                                      [--timeout 900] [--json OUT]

For each size N it writes a JSONL object of N lines into the embedded S3 store (a data
directory under a temporary folder) and runs, in a fresh subprocess, a Distributed Map
that reads it with an ItemReader, runs a trivial Pass as an Express child execution for
each line and writes the results with a ResultWriter (the state output limit, 256 KiB,
makes a ResultWriter the only AWS-faithful way to return a million results). It reports
the subprocess's peak RSS (``ru_maxrss``) and child executions per second, and compares
the throughput with the same child as an inline Map over ``--inline`` items (its input
an array). Peak RSS should stay flat as N grows: items are read, dispatched and their
results written as they go.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def _distributed() -> dict[str, Any]:
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "Label": "bench",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "JSONL"},
                    "Parameters": {"Bucket": "bench", "Key": "items.jsonl"},
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    **_PASS,
                },
                "ResultWriter": {
                    "Resource": "arn:aws:states:::s3:putObject",
                    "Parameters": {"Bucket": "bench", "Prefix": "results"},
                },
                "End": True,
            }
        },
    }


def _inline() -> dict[str, Any]:
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, **_PASS},
                "End": True,
            }
        },
    }


def _rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _measure(mode: str, n: int, data_dir: Path) -> dict[str, Any]:
    from legato.engine import Engine
    from legato.integrations.settings import IntegrationSettings

    engine = Engine(integrations=IntegrationSettings(data_dir=data_dir))
    try:
        definition = _distributed() if mode == "distributed" else _inline()
        payload = json.dumps([{"id": i} for i in range(n)]) if mode == "inline" else "{}"
        sm = await engine.create_state_machine(name=f"bench-{mode}", definition=json.dumps(definition))
        before = _rss_mb()
        t0 = time.perf_counter()
        started = await engine.start_execution(stateMachineArn=sm["stateMachineArn"], input=payload)
        result = await engine.wait_for_execution(started["executionArn"])
        seconds = time.perf_counter() - t0
        out: dict[str, Any] = {
            "mode": mode,
            "n": n,
            "status": result["status"],
            "seconds": round(seconds, 2),
            "per_second": round(n / seconds),
            "rss_before_mb": round(before, 1),
            "peak_rss_mb": round(_rss_mb(), 1),
        }
        if mode == "distributed":
            runs = await engine.list_map_runs(executionArn=started["executionArn"])
            run = await engine.describe_map_run(mapRunArn=runs["mapRuns"][0]["mapRunArn"])
            out["succeeded"] = run["itemCounts"]["succeeded"]
            out["results_written"] = run["itemCounts"]["resultsWritten"]
        return out
    finally:
        await engine.aclose()


def _write_items(data_dir: Path, n: int) -> None:
    path = data_dir / "s3" / "bench" / "items.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(f'{{"id": {i}, "name": "item-{i}"}}\n')


def _child(mode: str, n: int) -> int:
    """One measurement in this (fresh) process; prints its figures as JSON."""
    with tempfile.TemporaryDirectory(prefix="legato-bench-") as tmp:
        data_dir = Path(tmp)
        if mode == "distributed":
            _write_items(data_dir, n)
        print(json.dumps(asyncio.run(_measure(mode, n, data_dir))))
    return 0


def _spawn(mode: str, n: int, timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", mode, str(n)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"mode": mode, "n": n, "status": f"gave up after {timeout:.0f} s"}
    if done.returncode != 0:
        return {"mode": mode, "n": n, "status": "crashed", "stderr": done.stderr[-2000:]}
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main(argv: list[str] | None = None) -> int:
    """Runs each measurement in a fresh subprocess and prints a table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="100000,1000000", help="JSONL line counts (default: 100000,1000000)"
    )
    parser.add_argument(
        "--inline", type=int, default=10000, help="items of the inline Map peer (default: 10000)"
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed per measurement")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.child[0], int(args.child[1]))

    rows = [_spawn("inline", args.inline, args.timeout)]
    rows += [_spawn("distributed", int(n), args.timeout) for n in args.sizes.split(",")]
    inline_rate = rows[0].get("per_second")
    print(
        f"{'shape':<34}{'items':>10}{'status':>11}{'seconds':>9}{'items/s':>9}{'peak RSS':>10}{'vs inline':>10}"
    )
    for row in rows:
        shape = "inline Map, Pass" if row["mode"] == "inline" else "Distributed Map, Express Pass, JSONL"
        rate = row.get("per_second")
        ratio = f"{rate / inline_rate:.2f}x" if rate and inline_rate else "-"
        peak = f"{row['peak_rss_mb']:.0f} MB" if "peak_rss_mb" in row else "-"
        print(
            f"{shape:<34}{row['n']:>10,}{row['status']:>11}{row.get('seconds', '-'):>9}"
            f"{rate if rate is not None else '-':>9}{peak:>10}{ratio:>10}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0 if all(r["status"] == "SUCCEEDED" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
