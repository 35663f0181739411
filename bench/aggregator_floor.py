"""The least CPU any engine's process spends on one aggregator page: the floor under
``bench/aggregator.py``'s engine CPU per page.

Not a test. Measures, with the aggregator's test API in its own process, what a page
costs the process that runs the workflows when it does only the work no engine can skip:

- the HTTP GET of one page (400 rows) and parsing its JSON body;
- formatting the 400 rows (one comprehension: no events, no expressions);
- journaling the page three times (a Standard history holds it in the nested execution's
  result, the variable that keeps it and the part file's PutObject parameters): JSON
  encoding and one SQLite transaction (WAL, synchronous NORMAL);
- writing the part file.

    .venv/bin/python bench/aggregator_floor.py [--pages 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

THIRDPARTY = Path(__file__).resolve().parents[1] / "examples" / "aggregator" / "thirdparty.py"
PAGE = 400
CONCURRENCY = 20


async def _fetch_pages(base: str, count: int) -> tuple[float, list[dict[str, Any]]]:
    pages: list[dict[str, Any]] = []
    async with aiohttp.ClientSession(headers={"x-api-key": "demo-key"}) as session:

        async def one(i: int) -> dict[str, Any]:
            params = {"type": "failed", "limit": str(PAGE), "offset": str((i // CONCURRENCY) * PAGE % 1600)}
            async with session.get(f"{base}/locations/loc-{i % CONCURRENCY:04d}/data", params=params) as resp:
                page: dict[str, Any] = orjson.loads(await resp.read())
                return page

        await one(0)
        start = time.process_time()
        for first in range(0, count, CONCURRENCY):
            pages += await asyncio.gather(*(one(i) for i in range(first, min(first + CONCURRENCY, count))))
        return (time.process_time() - start) / count, pages


def _per_page(count: int, work: Any) -> float:
    start = time.process_time()
    for i in range(count):
        work(i)
    return (time.process_time() - start) / count


async def _measure(count: int) -> int:
    api = subprocess.Popen(
        [
            sys.executable,
            str(THIRDPARTY),
            "--port",
            "0",
            "--locations",
            str(CONCURRENCY),
            "--rows-per-location",
            "2000",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert api.stdout is not None
        base = api.stdout.readline().split()[1]
        http, pages = await _fetch_pages(base, count)
    finally:
        api.terminate()
        api.wait(timeout=10)
    rows = pages[0]["results"]

    def format_rows(_: int) -> list[dict[str, Any]]:
        return [
            {
                "location_id": "loc-0000",
                "data_type": "failed",
                "record_id": r["resourceKey"],
                "amount": r["amount"],
                "message": r["errors"][0]["message"],
            }
            for r in rows
        ]

    formatted = format_rows(0)
    work_dir = Path(tempfile.mkdtemp(prefix="legato-floor-"))
    db = sqlite3.connect(work_dir / "journal.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE events (arn TEXT, id INTEGER, body TEXT, PRIMARY KEY (arn, id))")

    def journal(i: int) -> None:
        text = orjson.dumps(formatted).decode()
        bodies = [orjson.dumps({"type": "Event", "details": {"output": text}}).decode() for _ in range(3)]
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO events VALUES (?, ?, ?)", [("arn", i * 3 + k, b) for k, b in enumerate(bodies)]
        )
        db.execute("COMMIT")

    def part_file(i: int) -> None:
        path = work_dir / f"part-{i}.json"
        with open(f"{path}.tmp", "wb") as f:
            f.write(orjson.dumps(formatted))
        os.replace(f"{path}.tmp", path)

    fmt = _per_page(count, format_rows)
    jrn = _per_page(count, journal)
    part = _per_page(count, part_file)
    db.close()
    total = http + fmt + jrn + part
    print(
        f"per page of {PAGE} rows, CPU of the engine's process: HTTP GET and parse {http * 1000:.2f} ms, "
        f"formatting {fmt * 1000:.2f} ms, three journaled copies {jrn * 1000:.2f} ms, part file {part * 1000:.2f} ms: "
        f"{total * 1000:.2f} ms"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    args = parser.parse_args()
    return asyncio.run(_measure(args.pages))


if __name__ == "__main__":
    raise SystemExit(main())
