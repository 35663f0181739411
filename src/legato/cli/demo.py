"""``legato demo aggregator``: the Distributed Data Stream Aggregator, end to end, on loopback.

Starts the blueprint's test API (``examples/aggregator/thirdparty.py``), an in-process engine
with a temporary data directory, seeds the tables, registers the three state machines and the
consolidation job, runs one task and checks the dataset against the API's ground truth.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from pathlib import Path
from types import ModuleType

from legato.cli._common import UsageError

__all__ = ["add_aggregator_arguments", "aggregator_command"]

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def add_aggregator_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``legato demo aggregator``."""
    parser.add_argument("--locations", type=int, default=4, help="third-party locations (default: 4)")
    parser.add_argument(
        "--rows-per-location", type=int, default=60, help="most rows per data type (default: 60)"
    )
    parser.add_argument("--page-size", type=int, default=25, help="rows a page (default: 25)")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of transient faults and 429s")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="the API's latency (default: 0)")
    parser.add_argument("--max-concurrency", type=int, default=10, help="the Distributed Map's (default: 10)")
    parser.add_argument(
        "--tolerated-failures", type=int, default=0, help="locations that may fail (default: 0)"
    )
    parser.add_argument(
        "--clock",
        choices=("virtual", "system"),
        default="virtual",
        help="virtual skips Retry waits (default)",
    )
    parser.add_argument("--data-dir", help="keep the engine's data here (default: a temporary folder)")
    parser.add_argument(
        "--executor",
        metavar="EXECUTOR",
        help="where the Distributed Map's children run: inprocess (default), dask-local (a local Dask "
        "cluster) or dask://HOST:PORT (see docs/distributed-map.md)",
    )


def _blueprint() -> ModuleType:
    if not (EXAMPLES / "aggregator" / "blueprint.py").is_file():
        raise UsageError(f"the aggregator blueprint is not installed (looked in {EXAMPLES / 'aggregator'})")
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    return importlib.import_module("aggregator.blueprint")


def aggregator_command(args: argparse.Namespace) -> int:
    """Runs one aggregation task; exit 0 when it succeeds with exactly the ground truth's dataset."""
    if args.locations < 1 or args.rows_per_location < 0 or args.page_size < 1:
        raise UsageError("--locations and --page-size must be at least 1, --rows-per-location at least 0")
    if not 0.0 <= args.fault_rate < 1.0:
        raise UsageError("--fault-rate must be in [0, 1)")
    from legato.cli.serve import map_executor

    executor = map_executor(args.executor, None)  # checked before anything starts
    bp = _blueprint()
    options = bp.DemoOptions(
        locations=args.locations,
        rows_per_location=args.rows_per_location,
        page_size=args.page_size,
        fault_rate=args.fault_rate,
        latency_ms=args.latency_ms,
        max_concurrency=args.max_concurrency,
        tolerated_failures=args.tolerated_failures,
        clock=args.clock,
        data_dir=Path(args.data_dir) if args.data_dir else None,
        executor=executor,
    )
    try:
        report = asyncio.run(bp.run_demo(options, lambda line: print(line, flush=True)))
    except RuntimeError as exc:
        if executor is None or getattr(executor, "client", None) is not None:
            raise
        raise UsageError(f"--executor: {exc}") from None  # the cluster did not start
    print(f"task {options.task_id}: {report.status}")
    if report.status != "SUCCEEDED":
        print(f"  error: {report.error}\n  cause: {report.cause}")
    print(f"  tasks table: {report.task}")
    if report.csv_path is not None:
        print(f"  output: {report.csv_path}")
        print(f"          {report.parquet_path}")
    print(f"  rows: {report.rows} (expected {report.expected_rows})")
    print(f"  checksum: {report.checksum} (ground truth {report.expected_checksum})")
    print(f"  exact: {'yes' if report.exact else 'NO'}")
    s = report.api
    print(f"  executor: {report.executor}")
    print(f"  API: {s.requests} requests, {s.pages} pages, {s.throttles} throttled, {s.faults} faults")
    print("  phases: " + ", ".join(f"{name} {secs:.2f} s" for name, secs in report.phases.items()))
    return 0 if report.status == "SUCCEEDED" and report.exact else 1
