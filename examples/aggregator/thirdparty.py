"""A third-party data API for the Distributed Data Stream Aggregator, and its ground truth.

Run it on its own with ``python examples/aggregator/thirdparty.py --port 8090`` (every
:class:`ApiConfig` field is an option: ``--rows-per-location``, ``--down loc-0001,loc-0002``...;
``--port 0`` picks a free port) or start it in-process with :func:`serve`. On its own it
listens on 127.0.0.1, prints ``listening http://127.0.0.1:PORT`` as its first line and stops
on SIGTERM or SIGINT. Every location ``loc-NNNN`` has deterministic rows of each data type;
the API pages them with ``offset`` and ``limit``:

- ``GET /locations/{id}/summary`` gives ``{"location_id": id, "counts": {"failed": n, ...}}``;
- ``GET /locations/{id}/data?type=T&limit=L&offset=O`` gives ``{"count": k, "results": [...]}``;
- ``GET /stats`` gives the :class:`ApiStats` counters, ``{"requests": n, "pages": n, ...}``
  (no API key needed, not counted).

Every other request must carry the API key in the ``x-api-key`` header (401 otherwise). Faults are
injected deterministically: whether attempt ``n`` of a request (same path and query) fails
depends only on the seed, the request and ``n``, so two runs see the same faults. A request
fails at most ``max_consecutive_faults`` times in a row, so a Retry policy with more attempts
always gets through; locations listed in ``down`` answer 503 for good.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = [
    "COLUMNS",
    "DATA_TYPES",
    "ApiConfig",
    "ApiStats",
    "ThirdPartyApi",
    "checksum",
    "command_line",
    "config_from_args",
    "expected_rows",
    "formatted_rows",
    "location_ids",
    "row_digest",
    "rows_for",
    "serve",
]

DATA_TYPES = ("failed", "rejected")
"""The data types every location holds."""

COLUMNS = ("location_id", "data_type", "record_id", "amount", "message")
"""The columns of a formatted row, in the order of the consolidated CSV."""


@dataclass
class ApiConfig:
    """How the API behaves."""

    locations: int = 4
    """How many locations exist (``loc-0000`` ...)."""
    rows_per_location: int = 50
    """The most rows a location holds of each data type (the counts vary a little below it)."""
    api_key: str = "demo-key"
    """The value the ``x-api-key`` header must have."""
    latency_ms: float = 0.0
    """Time each response takes."""
    fault_rate: float = 0.0
    """Share of requests answered with a transient 500, 502 or 503."""
    throttle_rate: float = 0.0
    """Share of requests answered with a 429 and ``Retry-After``."""
    retry_after: int = 1
    """The ``Retry-After`` seconds of a 429."""
    max_consecutive_faults: int = 2
    """A request fails at most this many times in a row before it is answered."""
    max_page: int = 1000
    """The largest page the API returns, whatever ``limit`` asks."""
    seed: str = "legato"
    """Seeds the fault pattern."""
    down: frozenset[str] = frozenset()
    """Locations whose API is down for good (503 on every request)."""


@dataclass
class ApiStats:
    """What the API has answered so far."""

    requests: int = 0
    pages: int = 0
    rows: int = 0
    throttles: int = 0
    faults: int = 0
    unauthorized: int = 0


def location_ids(count: int) -> list[str]:
    """The ids of the first ``count`` locations."""
    return [f"loc-{i:04d}" for i in range(count)]


def _hash(*parts: object) -> int:
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def row_count(config: ApiConfig, location: str, data_type: str) -> int:
    """How many rows ``location`` holds of ``data_type`` (deterministic, at most rows_per_location)."""
    top = config.rows_per_location
    spread = top // 4
    return top - (_hash("count", location, data_type) % (spread + 1) if spread else 0)


def rows_for(config: ApiConfig, location: str, data_type: str) -> Iterator[dict[str, Any]]:
    """The raw rows the API serves for one location and data type, in order."""
    for n in range(row_count(config, location, data_type)):
        yield _raw_row(location, data_type, n)


def _raw_row(location: str, data_type: str, n: int) -> dict[str, Any]:
    amount = _hash("amount", location, data_type, n) % 100_000
    return {
        "resourceKey": f"{location}-{data_type}-{n:07d}",
        "location": location,
        "state": data_type,
        "amount": amount,
        # commas, quotes and non-ASCII make the CSV's quoting matter
        "errors": [{"message": f'code {amount % 97}, "retry" later – {location}'}],
    }


def formatted_rows(config: ApiConfig, location: str) -> Iterator[dict[str, Any]]:
    """The rows of one location as the blueprint's processing workflow formats them."""
    for data_type in DATA_TYPES:
        for raw in rows_for(config, location, data_type):
            yield {
                "location_id": location,
                "data_type": data_type,
                "record_id": raw["resourceKey"],
                "amount": raw["amount"],
                "message": raw["errors"][0]["message"],
            }


def expected_rows(config: ApiConfig) -> dict[str, int]:
    """The ground truth per location: how many rows the dataset must hold from it."""
    return {
        loc: sum(row_count(config, loc, t) for t in DATA_TYPES)
        for loc in location_ids(config.locations)
        if loc not in config.down
    }


def row_digest(values: Any) -> int:
    """A 64-bit digest of one row, given as its column values in :data:`COLUMNS` order."""
    return _hash("row", *(str(v) for v in values))


def checksum(rows: Any) -> str:
    """An order-independent checksum of rows (each a sequence of column values).

    The sum of the rows' digests modulo 2**64 with the row count: a lost, duplicated or altered
    row changes it; the order of the rows does not.
    """
    total = count = 0
    for values in rows:
        total = (total + row_digest(values)) % (1 << 64)
        count += 1
    return f"{count}:{total:016x}"


def ground_truth_checksum(config: ApiConfig) -> str:
    """The checksum of the whole dataset the API serves (locations that are down excluded)."""
    return checksum(
        tuple(row[c] for c in COLUMNS)
        for loc in location_ids(config.locations)
        if loc not in config.down
        for row in formatted_rows(config, loc)
    )


@dataclass
class ThirdPartyApi:
    """The aiohttp application serving the locations' data."""

    config: ApiConfig = field(default_factory=ApiConfig)
    stats: ApiStats = field(default_factory=ApiStats)
    _attempts: dict[str, int] = field(default_factory=dict)
    _locations: frozenset[str] = frozenset()

    def app(self) -> web.Application:
        """The aiohttp application."""
        self._locations = frozenset(location_ids(self.config.locations))
        app = web.Application()
        app.router.add_get("/locations/{location}/summary", self._summary)
        app.router.add_get("/locations/{location}/data", self._data)
        app.router.add_get("/stats", self._stats)
        return app

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(dataclasses.asdict(self.stats))

    def _fault(self, request: web.Request, location: str) -> web.Response | None:
        """The injected failure for this attempt of the request, or None."""
        cfg = self.config
        if location in cfg.down:
            self.stats.faults += 1
            return web.json_response({"message": "Service Unavailable"}, status=503)
        key = request.path_qs
        attempt = self._attempts.get(key, 0)
        self._attempts[key] = attempt + 1
        roll = _hash(cfg.seed, key, attempt) / float(1 << 64)
        # attempts after max_consecutive_faults always succeed: a long enough Retry gets through
        if attempt >= cfg.max_consecutive_faults:
            return None
        if roll < cfg.throttle_rate:
            self.stats.throttles += 1
            return web.json_response(
                {"message": "Too Many Requests"}, status=429, headers={"Retry-After": str(cfg.retry_after)}
            )
        if roll < cfg.throttle_rate + cfg.fault_rate:
            self.stats.faults += 1
            status = (500, 502, 503)[_hash("status", key, attempt) % 3]
            return web.json_response({"message": "transient failure"}, status=status)
        return None

    async def _check(self, request: web.Request) -> tuple[str, web.Response | None]:
        self.stats.requests += 1
        if self.config.latency_ms:
            await asyncio.sleep(self.config.latency_ms / 1000)
        location = request.match_info["location"]
        if request.headers.get("x-api-key") != self.config.api_key:
            self.stats.unauthorized += 1
            return location, web.json_response({"message": "Unauthorized"}, status=401)
        if location not in self._locations:
            return location, web.json_response({"message": f"no location {location}"}, status=404)
        return location, self._fault(request, location)

    async def _summary(self, request: web.Request) -> web.Response:
        location, refused = await self._check(request)
        if refused is not None:
            return refused
        counts = {t: row_count(self.config, location, t) for t in DATA_TYPES}
        return web.json_response({"location_id": location, "counts": counts})

    async def _data(self, request: web.Request) -> web.Response:
        location, refused = await self._check(request)
        if refused is not None:
            return refused
        data_type = request.query.get("type", "")
        if data_type not in DATA_TYPES:
            return web.json_response({"message": f"unknown type {data_type!r}"}, status=400)
        try:
            offset = int(request.query.get("offset", "0"))
            limit = min(int(request.query.get("limit", "100")), self.config.max_page)
        except ValueError:
            return web.json_response({"message": "offset and limit must be integers"}, status=400)
        if offset < 0 or limit < 1:
            return web.json_response({"message": "offset must be >= 0 and limit >= 1"}, status=400)
        end = min(offset + limit, row_count(self.config, location, data_type))
        results = [_raw_row(location, data_type, n) for n in range(offset, end)]
        self.stats.pages += 1
        self.stats.rows += len(results)
        return web.json_response({"count": len(results), "offset": offset, "results": results})


async def serve(api: ThirdPartyApi, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, str]:
    """Starts ``api`` on ``host`` (loopback by default); returns the runner and the base URL."""
    runner = web.AppRunner(api.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound_host, bound_port = runner.addresses[0][:2]
    return runner, f"http://{bound_host}:{bound_port}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=8090, help="0 picks a free port (default: 8090)")
    parser.add_argument(
        "--exit-with-stdin", action="store_true", help="stop when standard input closes (the parent is gone)"
    )
    for f in dataclasses.fields(ApiConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.name == "down":
            parser.add_argument(flag, action="append", default=[], help="locations down: LOC,LOC or repeated")
        else:
            parser.add_argument(flag, type=type(f.default), default=f.default, help=f"default: {f.default}")
    return parser


def config_from_args(argv: Sequence[str] | None = None) -> tuple[ApiConfig, int]:
    """The :class:`ApiConfig` and the port of a command line (see :func:`command_line`)."""
    args = vars(_parser().parse_args(argv))
    port = args.pop("port")
    args.pop("exit_with_stdin")
    args["down"] = frozenset(loc for value in args["down"] for loc in value.split(",") if loc)
    return ApiConfig(**args), port


def command_line(config: ApiConfig, port: int = 0) -> list[str]:
    """The options that make ``python thirdparty.py`` serve ``config`` on ``port``."""
    out = [f"--port={port}"]
    for f in dataclasses.fields(ApiConfig):
        value = getattr(config, f.name)
        if value != f.default:
            text = ",".join(sorted(value)) if f.name == "down" else str(value)
            out.append(f"--{f.name.replace('_', '-')}={text}")
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """``python thirdparty.py``: serves the API on 127.0.0.1 until SIGTERM or SIGINT."""
    config, port = config_from_args(argv)
    with_stdin = _parser().parse_args(argv).exit_with_stdin

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if with_stdin:
            # A parent killed outright cannot stop us: its end of the pipe closing does.
            def watch() -> None:
                sys.stdin.buffer.read()
                loop.call_soon_threadsafe(stop.set)

            threading.Thread(target=watch, name="stdin-watch", daemon=True).start()
        runner, url = await serve(ThirdPartyApi(config), port=port)
        print(f"listening {url}", flush=True)  # the first line, read by a parent process
        print(f"serving {config.locations} locations at {url}/locations/ID", flush=True)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(run())


if __name__ == "__main__":  # pragma: no cover
    main()
