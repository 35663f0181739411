"""The aggregator blueprint against its test API: total time against the ideal.

Not a test. Runs one aggregation task (examples/aggregator) with ``run_demo`` and reports:

- the total time (extraction, consolidation and recording; setup and verification apart);
- the ideal: pages x latency / concurrency, plus the consolidation time, where the
  concurrency is MaxConcurrency locations x the data types (each location pages its data
  types in parallel, one page at a time per data type);
- their ratio (the issue's target: within 1.5x);
- the engine's own overhead per page: the extraction time beyond the ideal, times the
  concurrency, over the pages (what one page costs on top of the API's latency).

    .venv/bin/python bench/aggregator.py [--locations 200] [--rows-per-location 2000]
        [--page-size 400] [--latency-ms 20] [--max-concurrency 10] [--api-in-process]

The defaults are the issue's full size (200 locations x 2 data types x 2,000 rows, 400 rows a
page: about 2,000 pages). The clock is the system clock: the API's latency is real time. The
API runs in its own process (``examples/aggregator/thirdparty.py``), as a real third party
would: it does not share the engine's CPU. ``--api-in-process`` serves it in the engine's own
process and event loop instead, as ``legato demo aggregator`` does.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

# imported by name: this file is itself called aggregator, so a static import would name it
blueprint = importlib.import_module("aggregator.blueprint")
thirdparty = importlib.import_module("aggregator.thirdparty")


async def _bench(args: argparse.Namespace) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="legato-bench-aggregator-"))
    try:
        options = blueprint.DemoOptions(
            locations=args.locations,
            rows_per_location=args.rows_per_location,
            page_size=args.page_size,
            latency_ms=args.latency_ms,
            max_concurrency=args.max_concurrency,
            executor=args.executor,
            clock="system",
            data_dir=data_dir,
            api_process=not args.api_in_process,
        )
        t0 = time.perf_counter()
        report = await blueprint.run_demo(options)
        wall = time.perf_counter() - t0
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    phases = report.phases
    total = phases.get("extraction", 0.0) + phases.get("consolidation", 0.0) + phases.get("recording", 0.0)
    pages = report.api.pages
    concurrency = min(args.max_concurrency, args.locations) * len(thirdparty.DATA_TYPES)
    ideal_extraction = pages * args.latency_ms / 1000 / concurrency
    consolidation = phases.get("consolidation", 0.0)
    ideal = ideal_extraction + consolidation
    overhead = (phases.get("extraction", 0.0) - ideal_extraction) * concurrency / pages if pages else 0.0
    print(
        f"{args.locations} locations x {len(thirdparty.DATA_TYPES)} data types x {args.rows_per_location} rows, "
        f"children on {report.executor}, "
        f"{args.page_size} rows a page, {args.latency_ms:g} ms latency, MaxConcurrency {args.max_concurrency}, "
        f"API {'in the engine process' if args.api_in_process else 'in its own process'}"
    )
    print(
        f"status {report.status}, exact: {'yes' if report.exact else 'NO'}, rows {report.rows}, pages {pages}"
    )
    print("phases: " + ", ".join(f"{k} {v:.2f} s" for k, v in phases.items()) + f" (wall {wall:.2f} s)")
    print(
        f"total {total:.2f} s, ideal {ideal:.2f} s ({ideal_extraction:.2f} s of API latency at concurrency "
        f"{concurrency} + {consolidation:.2f} s consolidation), ratio {total / ideal if ideal else float('nan'):.2f}x"
    )
    print(f"engine overhead per page: {overhead * 1000:.1f} ms")
    cpu = report.extraction_cpu
    print(
        f"engine CPU during the extraction: {cpu:.2f} s (all its threads), "
        f"{cpu / pages * 1000 if pages else 0:.2f} ms a page"
    )
    return 0 if report.status == "SUCCEEDED" and report.exact else 1


def main() -> int:
    """Parses the options and runs the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locations", type=int, default=200)
    parser.add_argument("--rows-per-location", type=int, default=2000)
    parser.add_argument("--page-size", type=int, default=400)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--max-concurrency", type=int, default=10)
    parser.add_argument(
        "--api-in-process", action="store_true", help="serve the API in the engine's process and event loop"
    )
    parser.add_argument(
        "--executor",
        default=None,
        help="where the Distributed Map's children run: inprocess (default), dask-local",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(_bench(args))


if __name__ == "__main__":
    raise SystemExit(main())
