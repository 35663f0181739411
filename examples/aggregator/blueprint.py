"""Deploys and runs the aggregator blueprint on an :class:`~legato.engine.Engine`.

The three definitions (``main.asl.json``, ``extraction.asl.json``, ``processing.asl.json``)
hold ``${Name}`` placeholders in strings, as AWS SAM's DefinitionSubstitutions do, and
default numbers (page size, batch size, MaxConcurrency); :func:`definitions` sets both from a
:class:`Blueprint`. :func:`run_demo` is what ``legato demo aggregator`` runs:
the test API on loopback (in this process, or in its own with ``api_process``), an engine with
a temporary data directory, one task, its check against the ground truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from legato.engine import Engine
from legato.integrations import glue
from legato.integrations.dynamodb import DynamoDB, DynamoDBError
from legato.integrations.settings import IntegrationSettings
from legato.maprun.executors import DaskExecutor, Executor, executor_from_option, install_executor
from legato.runtime.clock import SystemClock, VirtualClock
from legato.store.sqlite import SqliteStore

from . import jobs, thirdparty

__all__ = [
    "Blueprint",
    "DemoOptions",
    "DemoReport",
    "csv_checksum",
    "definitions",
    "deploy",
    "run_demo",
    "seed",
]

HERE = Path(__file__).resolve().parent
API_KEY_ENV = "AGGREGATOR_API_KEY"
API_START_TIMEOUT = 30.0
"""Seconds the API's own process has to print its URL."""


@dataclass
class Blueprint:
    """Where the blueprint finds its resources, and how it pages (the definitions' placeholders)."""

    working_bucket: str = "aggregator-work"
    destination_bucket: str = "aggregator-output"
    locations_table: str = "locations"
    tasks_table: str = "tasks"
    connection: str = "thirdparty-api"
    job_name: str = jobs.JOB_NAME
    page_size: int = 100
    batch_size: int = 1
    max_concurrency: int = 10
    summary_path: str = "/summary"
    data_path: str = "/data"
    type_parameter: str = "type"
    limit_parameter: str = "limit"
    offset_parameter: str = "offset"
    names: dict[str, str] = field(
        default_factory=lambda: {
            "main": "AggregatorMain",
            "extraction": "AggregatorExtraction",
            "processing": "AggregatorProcessing",
        }
    )


def definitions(bp: Blueprint, region: str = "us-east-1", account: str = "123456789012") -> dict[str, str]:
    """The three definitions with their placeholders filled, by tier (main, extraction, processing)."""
    prefix = f"arn:aws:states:{region}:{account}:stateMachine:"
    values = {
        "WorkingBucket": bp.working_bucket,
        "DestinationBucket": bp.destination_bucket,
        "LocationsTable": bp.locations_table,
        "TasksTable": bp.tasks_table,
        "ConnectionArn": f"arn:aws:events:{region}:{account}:connection/{bp.connection}/local",
        "JobName": bp.job_name,
        "SummaryPath": bp.summary_path,
        "DataPath": bp.data_path,
        "TypeParameter": bp.type_parameter,
        "LimitParameter": bp.limit_parameter,
        "OffsetParameter": bp.offset_parameter,
        "ExtractionArn": prefix + bp.names["extraction"],
        "ProcessingArn": prefix + bp.names["processing"],
    }
    out = {}
    for tier in ("main", "extraction", "processing"):
        text = (HERE / f"{tier}.asl.json").read_text()
        for name, value in values.items():
            text = text.replace("${" + name + "}", value)
        doc = json.loads(text)  # a value that breaks the JSON fails here
        # the numbers are plain fields (the files stay valid definitions), set on the parsed JSON
        if tier == "main":
            fan_out = doc["States"]["Extract locations"]
            fan_out["MaxConcurrency"] = bp.max_concurrency
            fan_out["ItemBatcher"]["MaxItemsPerBatch"] = bp.batch_size
        elif tier == "extraction":
            first = doc["States"]["Extract data types"]["ItemProcessor"]["States"]["First page"]
            first["Assign"]["pageSize"] = bp.page_size
        out[tier] = json.dumps(doc, indent=2)
    return out


async def deploy(engine: Engine, bp: Blueprint) -> dict[str, str]:
    """Creates the three state machines; returns their ARNs by tier."""
    texts = definitions(bp, engine.region, engine.account)
    arns = {}
    for tier in ("processing", "extraction", "main"):
        created = await engine.create_state_machine(
            name=bp.names[tier],
            definition=texts[tier],
            type="EXPRESS" if tier == "processing" else "STANDARD",
            roleArn=f"arn:aws:iam::{engine.account}:role/aggregator",
        )
        arns[tier] = created["stateMachineArn"]
    return arns


def seed(data_dir: Path, bp: Blueprint, task_id: str, locations: dict[str, str]) -> None:
    """Creates the tables and buckets (if missing) and writes the task and its locations."""
    db = DynamoDB(data_dir / "dynamodb" / "tables.sqlite")
    try:
        for table, keys in ((bp.locations_table, ("task_id", "location_id")), (bp.tasks_table, ("task_id",))):
            try:
                db.call(
                    "CreateTable",
                    {
                        "TableName": table,
                        "AttributeDefinitions": [{"AttributeName": k, "AttributeType": "S"} for k in keys],
                        "KeySchema": [
                            {"AttributeName": k, "KeyType": kind}
                            for k, kind in zip(keys, ("HASH", "RANGE"), strict=False)
                        ],
                        "BillingMode": "PAY_PER_REQUEST",
                    },
                )
            except DynamoDBError:
                pass  # already there
        for location_id, api_url in locations.items():
            item = {"task_id": {"S": task_id}, "location_id": {"S": location_id}, "api_url": {"S": api_url}}
            db.call("PutItem", {"TableName": bp.locations_table, "Item": item})
        task = {"task_id": {"S": task_id}, "status": {"S": "PENDING"}}
        db.call("PutItem", {"TableName": bp.tasks_table, "Item": task})
    finally:
        db.close()
    for bucket in (bp.working_bucket, bp.destination_bucket):
        (data_dir / "s3" / bucket).mkdir(parents=True, exist_ok=True)


def task_item(data_dir: Path, bp: Blueprint, task_id: str) -> dict[str, Any]:
    """The task's row in the tasks table, attribute values unwrapped."""
    db = DynamoDB(data_dir / "dynamodb" / "tables.sqlite")
    try:
        item = db.call("GetItem", {"TableName": bp.tasks_table, "Key": {"task_id": {"S": task_id}}})["Item"]
    finally:
        db.close()
    return {k: next(iter(v.values())) for k, v in item.items()}


def csv_checksum(path: Path) -> str:
    """The :func:`thirdparty.checksum` of a consolidated CSV file, read a row at a time."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        return thirdparty.checksum(reader)


@dataclass
class DemoOptions:
    """The knobs of ``legato demo aggregator``."""

    locations: int = 4
    rows_per_location: int = 60
    page_size: int = 25
    fault_rate: float = 0.0
    throttle_rate: float | None = None
    """Share of 429s; by default half the fault rate."""
    latency_ms: float = 0.0
    max_concurrency: int = 10
    batch_size: int = 1
    tolerated_failures: int = 0
    down: frozenset[str] = frozenset()
    clock: str = "virtual"
    """``virtual`` skips Retry waits; ``system`` waits them for real."""
    data_dir: Path | None = None
    task_id: str = "task-0001"
    executor: str | Executor | None = None
    """Where the main workflow's Distributed Map children run: in process (None or
    ``inprocess``), ``dask-local``, ``dask://HOST:PORT``, or an executor object. Either
    way the demo closes it at the end. Dask workers must run on this machine: they reach
    the data directory and the API on 127.0.0.1."""
    api_process: bool = False
    """Runs the test API in its own OS process (``thirdparty.py``), as a real third party: it
    does not share the engine's CPU. The counters come from its ``GET /stats``."""


@dataclass
class DemoReport:
    """What one demo run produced and how it compares to the ground truth."""

    status: str
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    task: dict[str, Any]
    csv_path: Path | None
    parquet_path: Path | None
    rows: int
    checksum: str | None
    expected_checksum: str
    expected_rows: int
    phases: dict[str, float]
    api: thirdparty.ApiStats
    data_dir: Path
    leftover_parts: int
    executor: str = "in-process"
    """Where the Distributed Map's children ran."""
    extraction_cpu: float = 0.0
    """CPU seconds the engine's process (all its threads) spent during the extraction."""

    @property
    def exact(self) -> bool:
        """Whether the dataset equals the ground truth (no lost, duplicated or altered row)."""
        return self.checksum == self.expected_checksum


Progress = Callable[[str], None]
Stats = Callable[[], Awaitable[thirdparty.ApiStats]]


@contextlib.asynccontextmanager
async def _third_party(config: thirdparty.ApiConfig, own_process: bool) -> AsyncIterator[tuple[str, Stats]]:
    """Serves the test API on loopback; yields its base URL and a function reading its counters."""
    if not own_process:
        api = thirdparty.ThirdPartyApi(config)
        runner, base = await thirdparty.serve(api)

        async def local() -> thirdparty.ApiStats:
            return api.stats

        try:
            yield base, local
        finally:
            await runner.cleanup()
        return
    script = str(HERE / "thirdparty.py")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        script,
        *thirdparty.command_line(config),
        "--exit-with-stdin",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        base = await _api_url(proc)
        async with aiohttp.ClientSession() as session:

            async def remote() -> thirdparty.ApiStats:
                async with session.get(f"{base}/stats") as response:
                    response.raise_for_status()
                    return thirdparty.ApiStats(**await response.json())

            yield base, remote
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have exited already
            proc.terminate()  # SIGTERM to its pid
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
        await proc.wait()


async def _api_url(proc: asyncio.subprocess.Process) -> str:
    """The base URL from the first line of the API's process (``listening http://...``)."""
    assert proc.stdout is not None
    what = f"the test API (pid {proc.pid})"
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), API_START_TIMEOUT)).decode().strip()
    except TimeoutError:
        raise RuntimeError(f"{what} printed no URL within {API_START_TIMEOUT:g} s") from None
    words = line.split()
    if len(words) == 2 and words[0] == "listening" and words[1].startswith("http://"):
        return words[1]
    if not line:
        raise RuntimeError(f"{what} exited with {await proc.wait()} before printing its URL")
    raise RuntimeError(f"{what} printed {line!r} instead of 'listening http://HOST:PORT'")


async def run_demo(options: DemoOptions, progress: Progress | None = None) -> DemoReport:
    """Runs one aggregation task end to end and checks it against the ground truth."""
    say = progress or (lambda line: None)
    executor = (
        executor_from_option(options.executor) if isinstance(options.executor, str) else options.executor
    )
    phases: dict[str, float] = {}
    t0 = time.perf_counter()
    throttle = options.fault_rate / 2 if options.throttle_rate is None else options.throttle_rate
    config = thirdparty.ApiConfig(
        locations=options.locations,
        rows_per_location=options.rows_per_location,
        latency_ms=options.latency_ms,
        fault_rate=options.fault_rate,
        throttle_rate=throttle,
        down=options.down,
    )
    api_stack = contextlib.AsyncExitStack()
    data_dir = options.data_dir or Path(tempfile.mkdtemp(prefix="legato-aggregator-"))
    bp = Blueprint(
        page_size=options.page_size, batch_size=options.batch_size, max_concurrency=options.max_concurrency
    )
    secret_env = {API_KEY_ENV: config.api_key}
    settings = IntegrationSettings(
        data_dir=data_dir,
        sections={
            "connections": {
                bp.connection: {
                    "authorization_type": "API_KEY",
                    "api_key_name": "x-api-key",
                    "api_key_value_env": API_KEY_ENV,
                }
            }
        },
    )
    previous = {k: os.environ.get(k) for k in secret_env}
    os.environ.update(secret_env)
    job_times: dict[str, float] = {}
    job = jobs.consolidation_job(data_dir)

    def timed_job(args: dict[str, str], context: Any) -> None:
        job_times["start"] = time.perf_counter()
        job_times["start_cpu"] = time.process_time()
        job(args, context)
        job_times["end"] = time.perf_counter()

    glue.register_job(bp.job_name, timed_job, settings)
    engine = Engine(
        clock=VirtualClock() if options.clock == "virtual" else SystemClock(),
        store=SqliteStore(data_dir),
        integrations=settings,
    )
    install_executor(engine.services, executor)
    where = "in-process"
    try:
        base, api_stats = await api_stack.enter_async_context(_third_party(config, options.api_process))
        if isinstance(executor, DaskExecutor):
            where = await _start_workers(executor, secret_env)
        locations = {loc: f"{base}/locations/{loc}" for loc in thirdparty.location_ids(options.locations)}
        seed(data_dir, bp, options.task_id, locations)
        arns = await deploy(engine, bp)
        phases["setup"] = time.perf_counter() - t0
        say(
            f"setup: API at {base}, {len(locations)} locations, data in {data_dir}, "
            f"children on {where} ({phases['setup']:.2f} s)"
        )
        t1 = time.perf_counter()
        cpu1 = time.process_time()
        started = await engine.start_execution(
            stateMachineArn=arns["main"],
            name=options.task_id,
            input=json.dumps({"task_id": options.task_id, "tolerated_failures": options.tolerated_failures}),
        )
        waiter = asyncio.ensure_future(engine.wait_for_execution(started["executionArn"]))
        last = ""
        while not waiter.done():
            await asyncio.wait([waiter], timeout=0.5)
            done = await engine.list_executions(stateMachineArn=arns["extraction"], statusFilter="SUCCEEDED")
            s = await api_stats()
            line = (
                f"progress: locations done {len(done['executions'])}/{len(locations)}, pages {s.pages}, "
                f"rows {s.rows}, retries {s.throttles + s.faults} (throttled {s.throttles})"
            )
            if line != last:
                say(line)
                last = line
        result = waiter.result()
        t_end = time.perf_counter()
        extraction_cpu = job_times.get("start_cpu", time.process_time()) - cpu1
        if "start" in job_times:
            phases["extraction"] = job_times["start"] - t1
            phases["consolidation"] = job_times["end"] - job_times["start"]
            phases["recording"] = t_end - job_times["end"]
        else:
            phases["extraction"] = t_end - t1
        stats = await api_stats()
    finally:
        if isinstance(executor, DaskExecutor) and executor.client is not None:
            where += f", {executor.chunks_sent} chunks"
            with contextlib.suppress(Exception):  # a cluster of someone else's keeps no demo key
                await executor.client.run(_unset_env(), list(secret_env))
        await engine.aclose()
        if executor is not None:
            await executor.aclose()
        await api_stack.aclose()
        for k, v in previous.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    t2 = time.perf_counter()
    output = json.loads(result["output"]) if result.get("output") else None
    csv_path = parquet_path = None
    rows, digest = 0, None
    if output is not None:
        out_dir = data_dir / "s3" / bp.destination_bucket / "output" / options.task_id
        csv_path, parquet_path = out_dir / "data.csv", out_dir / "data.parquet"
        digest = csv_checksum(csv_path)
        rows = int(digest.split(":")[0])
    work = data_dir / "s3" / bp.working_bucket / "tmp" / options.task_id
    leftover = sum(1 for p in work.rglob("*.json")) if work.is_dir() else 0
    phases["verification"] = time.perf_counter() - t2
    return DemoReport(
        status=result["status"],
        output=output,
        error=result.get("error"),
        cause=result.get("cause"),
        task=task_item(data_dir, bp, options.task_id),
        csv_path=csv_path,
        parquet_path=parquet_path,
        rows=rows,
        checksum=digest,
        expected_checksum=thirdparty.ground_truth_checksum(config),
        expected_rows=sum(thirdparty.expected_rows(config).values()),
        phases=phases,
        extraction_cpu=extraction_cpu,
        api=stats,
        data_dir=data_dir,
        leftover_parts=leftover,
        executor=where,
    )


def _unset_env() -> Callable[[list[str]], None]:
    def unset_env(names: list[str]) -> None:  # nested: pickled by value
        for name in names:
            os.environ.pop(name, None)

    return unset_env


async def _start_workers(executor: DaskExecutor, env: dict[str, str]) -> str:
    """Starts the Dask executor and gives its workers the API key (a connection reads its
    secret from the environment of the process that makes the call); describes the cluster."""

    def set_env(values: dict[str, str]) -> None:  # nested: pickled by value, no import on the worker
        os.environ.update(values)

    await executor.start()
    client = executor.client
    await client.wait_for_workers(len(executor.cluster.workers) if executor.cluster is not None else 1)
    await client.run(set_env, env)
    workers = len(await client.nthreads())
    kind = "a Dask LocalCluster" if executor.address is None else f"Dask at {executor.address}"
    return f"{kind} of {workers} worker{'s' if workers != 1 else ''}"
