"""Where a Distributed Map's child executions run: in the engine's process, or on Dask.

The in-process executor is the default: each child is an
:class:`~legato.runtime.execution.Execution` awaited on the engine's event loop.
:class:`DaskExecutor` sends children to a Dask distributed cluster in chunks (100 by
default), so the scheduler's cost per task (about 1.6 ms on this machine) is paid once
per chunk rather than once per child; a partly filled chunk (a small MaxConcurrency) is
split over the cluster's threads, so each worker gets a share. A chunk runs in a worker
process with Legato's own
interpreter: the item processor is compiled once per worker and each child is a fresh
Execution there. Only outcomes come back (status, output, error, cause, and the history
of Standard children); the Map Run's bookkeeping stays with the engine.

A chunk lost with its worker is run again (Dask reschedules it, and the executor
resubmits a chunk whose task failed), so a child may run more than once, as AWS's
at-least-once children may; results are keyed by child, so none is lost or counted twice.

A child that starts nested executions (``states:startExecution``) runs on a worker too,
its nested executions on an engine the worker makes for its chunk; the engine records the
Standard ones when the chunk comes back (see :mod:`legato.maprun._nested`). Children that
need the engine itself (activities, ``.waitForTaskToken``, ``aws-sdk:sfn``) run in its
process, with a warning logged once per Map state; so do children answered from mocked
responses.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from legato import _json
from legato.maprun import _nested

if TYPE_CHECKING:
    from legato.engine import Engine
    from legato.runtime.execution import Execution
    from legato.runtime.services import Services
    from legato.store.records import ExecutionRecord

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DaskExecutor",
    "Executor",
    "InProcessExecutor",
    "child_executor",
    "executor_from_option",
    "install_executor",
    "run_chunk",
]

DEFAULT_CHUNK_SIZE = 100
"""Children per Dask task."""
_STATE_KEY = "maprun.executor"
_FLUSH_DELAY = 0.002
"""How long a partly filled chunk waits for more children before it is sent."""
_RESUBMITS = 3
log = logging.getLogger("legato.maprun")


class Executor(Protocol):
    """Runs a child execution that the Map Run has created (not yet started)."""

    async def run(self, ex: Execution) -> None:
        """Runs ``ex`` to its end; afterwards its status, output, error, cause and stop
        time (and, for Standard children, history) are set. Never raises for a failing child."""
        ...

    async def aclose(self) -> None:
        """Releases what the executor holds (clients, clusters)."""
        ...


class InProcessExecutor:
    """Runs children on the engine's own event loop (the default)."""

    async def run(self, ex: Execution) -> None:
        """Awaits the child's execution directly."""
        await ex.run()

    async def aclose(self) -> None:
        """Nothing to release."""


def install_executor(services: Services, executor: Executor | None) -> None:
    """Makes ``executor`` run the Map Run children of executions using ``services``
    (None restores the in-process default)."""
    if executor is None:
        services.integrations.state.pop(_STATE_KEY, None)
    else:
        services.integrations.state[_STATE_KEY] = executor


def child_executor(services: Services, parent_arn: str) -> Executor | None:
    """The executor for the children of ``parent_arn``; None means in process.

    Children of an execution answered from mocked responses stay in process, since the
    mocks live in the engine.
    """
    executor: Executor | None = services.integrations.state.get(_STATE_KEY)
    if executor is None or isinstance(executor, InProcessExecutor):
        return None
    from legato.runtime.mocks import STATE_KEY as MOCKS

    mocks = services.integrations.state.get(MOCKS)
    if mocks is not None and parent_arn in getattr(mocks, "sessions", {}):
        return None
    return executor


def executor_from_option(value: str | None, functions: str | None = None) -> Executor | None:
    """The executor named by ``--executor``: ``inprocess`` (or None), ``dask-local``
    or ``dask://HOST:PORT`` (``tcp://`` works too). ``functions`` is the functions file
    the workers load. Raises ValueError for anything else."""
    if value is None or value in ("inprocess", "in-process", "local"):
        return None
    if value == "dask-local":
        return DaskExecutor(None, functions=functions)
    for scheme in ("dask://", "tcp://", "tls://"):
        if value.startswith(scheme):
            address = value[len(scheme) :] if scheme == "dask://" else value
            if not address:
                break
            return DaskExecutor(address if "://" in address else f"tcp://{address}", functions=functions)
    raise ValueError(f"unknown executor {value!r}: use 'inprocess', 'dask-local' or 'dask://HOST:PORT'")


def _require_dask() -> Any:
    try:
        import distributed
    except ImportError:
        raise RuntimeError(
            "the Dask executor needs Dask distributed, which is not installed: pip install 'legato[dask]'"
        ) from None
    return distributed


@dataclass(frozen=True, slots=True)
class _Job:
    """What every child of one Map state shares, sent with each chunk."""

    processor: str
    """The ItemProcessor document as JSON text."""
    language: str
    functions: str | None
    data_dir: str | None
    sections: str
    """The integrations file's sections, as JSON text."""
    virtual_clock: bool
    region: str
    account: str


@dataclass(slots=True)
class _Pending:
    job: _Job
    engine: Engine | None
    catalogue: _nested.Catalogue | None = None
    """The machines the chunk's children can start (the newest children's view)."""
    children: list[tuple[dict[str, Any], asyncio.Future[dict[str, Any]]]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None


class DaskExecutor:
    """Runs children on a Dask distributed cluster, in chunks.

    ``address`` is the scheduler's (``tcp://HOST:PORT``); None starts a LocalCluster
    of worker processes (``n_workers``, one thread each) on first use, closed by
    :meth:`aclose`. ``functions`` is the functions file the workers load (its path must
    be valid on the workers).
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        functions: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        n_workers: int | None = None,
        resubmits: int = _RESUBMITS,
    ) -> None:
        _require_dask()
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.address = address
        self.functions = functions
        self.chunk_size = chunk_size
        self.n_workers = n_workers
        self.resubmits = resubmits
        self.client: Any = None
        self.cluster: Any = None
        self._start_lock: asyncio.Lock | None = None
        self._pending: dict[tuple[_Job, int], _Pending] = {}
        self._warned: set[tuple[str, str]] = set()
        self._sending: set[asyncio.Task[None]] = set()
        self.chunks_sent = 0
        """How many chunks were submitted (resubmissions included)."""

    async def start(self) -> None:
        """Connects to the scheduler (or starts the LocalCluster); done on first use."""
        if self.client is not None:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self.client is not None:
                return
            distributed = _require_dask()
            try:
                await self._connect(distributed)
            except Exception as exc:
                where = self.address or "a new LocalCluster"
                raise RuntimeError(f"the Dask executor cannot start ({where}): {exc}") from exc

    async def _connect(self, distributed: Any) -> None:
        address: Any = self.address
        if address is None:
            self.cluster = await distributed.LocalCluster(
                n_workers=self.n_workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",
                asynchronous=True,
            )
            address = self.cluster
        self.client = await distributed.Client(address, asynchronous=True)

    async def aclose(self) -> None:
        """Closes the client, and the LocalCluster when this executor started it."""
        for task in list(self._sending):
            task.cancel()
        if self.client is not None:
            await self.client.close()
            self.client = None
        if self.cluster is not None:
            await self.cluster.close()
            self.cluster = None

    async def run(self, ex: Execution) -> None:
        """Queues ``ex`` into its Map state's open chunk and fills it from the outcome
        (or runs it in process when it needs the engine itself)."""
        engine = ex.services.engine
        where = await _nested.placement(ex.machine.document, engine)
        if where.engine_bound is not None:
            warned = (ex.info.state_machine_arn, where.engine_bound)
            if warned not in self._warned:
                self._warned.add(warned)
                log.warning(
                    "the children of %s run in the engine's process, not on Dask: %s",
                    ex.info.state_machine_arn,
                    where.engine_bound,
                )
            await ex.run()
            return
        await self.start()
        job = _job_of(ex)
        spec = {
            "arn": ex.info.execution_arn,
            "name": ex.info.name,
            "sm_arn": ex.info.state_machine_arn,
            "sm_name": ex.info.state_machine_name,
            "role": ex.info.role_arn,
            "type": ex.info.type,
            "input": ex.input_text,
        }
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        key = (job, id(engine))
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending(job, engine)
            pending.timer = loop.call_later(_FLUSH_DELAY, self._flush, key)
        pending.catalogue = where.catalogue
        pending.children.append((spec, future))
        if len(pending.children) >= self.chunk_size:
            self._flush(key)
        _apply(ex, await future, ex.services)

    def _flush(self, key: tuple[_Job, int]) -> None:
        pending = self._pending.pop(key, None)
        if pending is None:
            return
        if pending.timer is not None:
            pending.timer.cancel()
        children = pending.children
        size = len(children)
        if size < self.chunk_size:
            # A partly filled chunk (a small MaxConcurrency, the last items): spread it over
            # the cluster's threads, since a chunk runs on one of them and returns as a whole.
            threads = self.client.scheduler_info().get("total_threads") or 1
            size = -(-size // max(1, min(int(threads), size)))
        for start in range(0, len(children), size):
            part = _Pending(pending.job, pending.engine, pending.catalogue, children[start : start + size])
            task = asyncio.ensure_future(self._send(part))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, pending: _Pending) -> None:
        specs = [spec for spec, _ in pending.children]
        futures = [future for _, future in pending.children]
        error: BaseException | None = None
        for _attempt in range(self.resubmits + 1):
            self.chunks_sent += 1
            try:
                task = self.client.submit(
                    run_chunk, pending.job, specs, pending.catalogue, pure=False, retries=2
                )
                outcomes, executions = await task
            except asyncio.CancelledError:
                for future in futures:
                    future.cancel()
                raise
            except Exception as exc:  # a lost worker (KilledWorker, closed comms): send again
                error = exc
                continue
            if executions and pending.engine is not None:
                try:  # before the children end, so whoever waits on them finds their nested executions
                    await _nested.adopt(pending.engine, executions)
                except asyncio.CancelledError:
                    for future in futures:
                        future.cancel()
                    raise
                except Exception:  # the children's outcomes stand without them
                    log.exception("nested executions run on Dask could not be recorded")
            for future, outcome in zip(futures, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)
            return
        failure = {
            "status": "FAILED",
            "error": "States.Runtime",
            "cause": f"the Dask executor could not run this child: {type(error).__name__}: {error}",
        }
        for future in futures:
            if not future.done():
                future.set_result(failure)


_JOBS: dict[tuple[int, int], tuple[Any, Any, _Job]] = {}


def _job_of(ex: Execution) -> _Job:
    """The job of ``ex``'s Map state, built once per processor document and engine."""
    from legato.runtime.clock import VirtualClock

    services = ex.services
    doc = ex.machine.document
    key = (id(doc), id(services))
    hit = _JOBS.get(key)
    if hit is not None and hit[0] is doc and hit[1] is services:
        return hit[2]
    # Workers must see the same embedded providers: the data folder is fixed now.
    data_dir = services.integrations.directory()
    job = _Job(
        processor=_json.dumps(doc),
        language=ex.machine.graph.query_language,
        functions=_functions_path(services),
        data_dir=str(data_dir),
        sections=_json.dumps(services.integrations.sections),
        virtual_clock=isinstance(services.clock, VirtualClock),
        region=services.region,
        account=services.account,
    )
    if len(_JOBS) > 64:
        _JOBS.clear()
    _JOBS[key] = (doc, services, job)
    return job


def _functions_path(services: Services) -> str | None:
    executor = services.integrations.state.get(_STATE_KEY)
    return getattr(executor, "functions", None)


def _apply(ex: Execution, outcome: dict[str, Any], services: Services) -> None:
    """Sets a child's ending from the outcome its worker sent back."""
    ex.error = outcome.get("error")
    ex.cause = outcome.get("cause")
    text = outcome.get("output")
    ex.output_text = text
    ex.output = _json.loads(text) if text is not None else None
    history = outcome.get("history")
    if history is not None:
        ex.history = history
    ex._finish(outcome["status"])  # sets the stop time and wakes whoever waits on the child


# -- in the worker


_WORKER = threading.local()
_GRAPHS: dict[tuple[str, str], Any] = {}
_GRAPHS_LOCK = threading.Lock()
_SERVICES: dict[tuple[Any, ...], Any] = {}
_FUNCTIONS: dict[str | None, Any] = {}


def _machine(job: _Job) -> Any:
    """The item processor, compiled once per worker."""
    from legato.asl.model import build_graph
    from legato.runtime.machine import Machine

    key = (job.processor, job.language)
    with _GRAPHS_LOCK:
        machine = _GRAPHS.get(key)
        if machine is None:
            doc = _json.loads(job.processor)
            machine = Machine("", doc, build_graph(doc, job.language))
            if len(_GRAPHS) > 64:
                _GRAPHS.clear()
            _GRAPHS[key] = machine
    return machine


def _functions(path: str | None) -> Any:
    """The functions file's registry, loaded once per worker."""
    from legato.integrations.functions import FunctionRegistry

    registry = _FUNCTIONS.get(path)
    if registry is None:
        registry = FunctionRegistry()
        if path is not None:
            registry.load_file(path)
        _FUNCTIONS[path] = registry
    return registry


def _settings(job: _Job) -> Any:
    from pathlib import Path

    from legato.integrations.settings import IntegrationSettings

    return IntegrationSettings(
        data_dir=Path(job.data_dir) if job.data_dir else None, sections=_json.loads(job.sections)
    )


def _clock(job: _Job) -> Any:
    from legato.runtime.clock import SystemClock, VirtualClock

    return VirtualClock() if job.virtual_clock else SystemClock()


def _worker_services(job: _Job) -> Any:
    """The services of children that start no executions, made once per worker."""
    from legato.runtime.services import Services

    key = (job.functions, job.data_dir, job.sections, job.virtual_clock, job.region, job.account)
    services = _SERVICES.get(key)
    if services is None:
        services = Services(
            clock=_clock(job),
            functions=_functions(job.functions),
            region=job.region,
            account=job.account,
            integrations=_settings(job),
        )
        _SERVICES[key] = services
    return services


async def _chunk_engine(job: _Job, catalogue: _nested.Catalogue) -> Engine:
    """An engine for one chunk whose children start executions: the catalogue's machines,
    in memory, with the job's functions, providers, clock, region and account."""
    from legato.engine import Engine

    engine = Engine(
        clock=_clock(job),
        functions=_functions(job.functions),
        region=job.region,
        account=job.account,
        integrations=_settings(job),
    )
    await _nested.load_catalogue(engine.store, catalogue)
    return engine


def _runner() -> asyncio.Runner:
    runner: asyncio.Runner | None = getattr(_WORKER, "runner", None)
    if runner is None:
        runner = asyncio.Runner()
        _WORKER.runner = runner
    return runner


def run_chunk(
    job: _Job, specs: list[dict[str, Any]], catalogue: _nested.Catalogue | None = None
) -> tuple[list[dict[str, Any]], list[ExecutionRecord]]:
    """Runs a chunk of children in a Dask worker; returns their outcomes in order, and
    the Standard executions they started (with a ``catalogue``, the machines they can
    start, the chunk has an engine of its own and waits until all of those have ended).

    Each child is a fresh Execution of the item processor (compiled once per worker);
    Standard children send their history back, Express children only their outcome.
    """
    from legato.runtime.execution import Execution, ExecutionInfo

    machine = _machine(job)

    async def one(spec: dict[str, Any], services: Services) -> dict[str, Any]:
        info = ExecutionInfo(
            execution_arn=spec["arn"],
            name=spec["name"],
            state_machine_arn=spec["sm_arn"],
            state_machine_name=spec["sm_name"],
            role_arn=spec["role"],
            type=spec["type"],
        )
        ex = Execution(machine, info, spec["input"], services, keep_history=spec["type"] != "EXPRESS")
        await ex.run()
        outcome: dict[str, Any] = {
            "status": ex.status,
            "output": ex.output_text if ex.status == "SUCCEEDED" else None,
            "error": ex.error,
            "cause": ex.cause,
        }
        if spec["type"] != "EXPRESS":
            outcome["history"] = ex.history
        return outcome

    async def chunk() -> tuple[list[dict[str, Any]], list[ExecutionRecord]]:
        if catalogue is None:
            services = _worker_services(job)
            return list(await asyncio.gather(*(one(spec, services) for spec in specs))), []
        engine = await _chunk_engine(job, catalogue)
        try:
            outcomes = list(await asyncio.gather(*(one(spec, engine.services) for spec in specs)))
            return outcomes, await _nested.ended_executions(engine, catalogue)
        finally:
            await engine.aclose()

    return _runner().run(chunk())
