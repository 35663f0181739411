"""Durable Standard children of a Map Run: named, stored and found again after a restart.

A Standard child execution that runs in the engine's process is a durable execution like
a top-level Standard one: it has an :class:`~legato.store.records.ExecutionRecord` (its
definition is the item processor as a state machine definition, so ``Engine.recover``
can compile it), its history events go through the engine's journal, and how it ended is
stored when it ends.

A child's name is derived from the Map Run ARN, the item's index and the Map Run's
redrive count (a UUID, in the usual textual form), so a Map Run that resumes after a
restart finds, for item ``i``, the child it started before: nothing else is persisted to
connect them. A child whose end was stored counts as it ended and is not run again; a
child stored as ``RUNNING`` was resumed by ``Engine.recover`` (the Map Run waits for it);
an item with no child starts one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from legato import _json
from legato.errors import StatesError
from legato.store.records import ExecutionRecord

if TYPE_CHECKING:
    from legato.asl.model import MapState
    from legato.maprun.executors import Executor
    from legato.maprun.run import MapRun
    from legato.maprun.writer import ResultWriter
    from legato.runtime.execution import Execution
    from legato.runtime.interpreter import Interpreter
    from legato.runtime.machine import Machine
    from legato.store.records import MapRunRecord

__all__ = [
    "ChildExecution",
    "Children",
    "DurableChildren",
    "child_name",
    "engine_closing",
    "over_threshold",
    "processor_machine",
]

COUNTED = {"SUCCEEDED": "succeeded", "FAILED": "failed", "TIMED_OUT": "timedOut", "ABORTED": "aborted"}
"""Execution status -> the Map Run count it adds to."""

_NAMESPACE = uuid.UUID("5f0c6a52-7f1e-4d4e-9a0b-6c1d2e3f4a5b")
"""The namespace of derived child names (any fixed UUID: it only has to stay the same)."""


def child_name(map_run_arn: str, index: int, redrive_count: int) -> str:
    """The name of the child that runs item (or batch) ``index`` of a Map Run attempt."""
    return str(uuid.uuid5(_NAMESPACE, f"{map_run_arn}#{redrive_count}#{index}"))


_MACHINES: dict[int, tuple[Any, Machine]] = {}


def processor_machine(state: MapState) -> Machine:
    """The Map state's item processor as a machine whose definition text stands alone.

    ``ProcessorConfig`` is dropped and the processor's query language (inherited from the
    Map state when it names none) is written out, so the text compiles on its own (as
    ``Engine.recover`` compiles a child's). Built once per Map state: its document keeps
    its identity, which the executors' caches rely on.
    """
    from legato.runtime.machine import Machine

    raw = state.raw.get("ItemProcessor") or state.raw.get("Iterator") or {}
    hit = _MACHINES.get(id(raw))
    if hit is not None and hit[0] is raw:
        return hit[1]
    doc = {k: v for k, v in raw.items() if k != "ProcessorConfig"}
    doc["QueryLanguage"] = state.processor.query_language
    machine = Machine(_json.dumps(doc), doc, state.processor)
    if len(_MACHINES) > 256:
        _MACHINES.clear()
    _MACHINES[id(raw)] = (raw, machine)
    return machine


class DurableChildren:
    """Creates, finds and resumes the durable Standard children of one Map Run attempt."""

    def __init__(
        self,
        engine: Any,
        record: MapRunRecord,
        machine: Machine,
        arn_base: str,
        state_machine_arn: str,
        state_machine_name: str,
        role_arn: str,
    ) -> None:
        self.engine = engine
        self.record = record
        self.machine = machine
        self.arn_base = arn_base
        self.state_machine_arn = state_machine_arn
        self.state_machine_name = state_machine_name
        self.role_arn = role_arn

    def arn(self, index: int, redrive_count: int | None = None) -> str:
        """The ARN of the child of item ``index`` (in this attempt, or in ``redrive_count``'s)."""
        count = self.record.redrive_count if redrive_count is None else redrive_count
        return self.arn_base + child_name(self.record.arn, index, count)

    async def prior(self, index: int) -> ExecutionRecord | None:
        """The child an earlier run of this Map Run started for item ``index``: this
        attempt's (ended or still running), else the newest earlier attempt's when it
        succeeded (a redrive reruns only what did not succeed). None: start a new one."""
        from legato._engine_helpers import absorb

        current = self.record.redrive_count
        for count in range(current, -1, -1):
            found = await self.engine.store.get_execution(self.arn(index, count))
            if found is None:
                continue
            absorb(found)
            if count == current or found.status == "SUCCEEDED":
                return found  # type: ignore[no-any-return]
            return None
        return None

    async def start(self, index: int, input_text: str, items: int) -> tuple[ExecutionRecord, Execution]:
        """A new child for item ``index``, stored as ``RUNNING`` before it runs (its first
        side effect must not come before the record that lets a restart find it)."""
        from legato.runtime.execution import Execution, ExecutionInfo

        arn = self.arn(index)
        name = arn[len(self.arn_base) :]
        info = ExecutionInfo(
            execution_arn=arn,
            name=name,
            state_machine_arn=self.state_machine_arn,
            state_machine_name=self.state_machine_name,
            role_arn=self.role_arn,
            type="STANDARD",
        )
        engine = self.engine
        ex = Execution(self.machine, info, input_text, engine.services, journal=engine.journal)
        record = ExecutionRecord(
            arn=arn,
            name=name,
            state_machine_arn=self.state_machine_arn,
            state_machine_name=self.state_machine_name,
            type="STANDARD",
            input_text=input_text,
            start_date=ex.start_time,
            definition=self.machine.definition_text,
            role_arn=self.role_arn,
            state_machine_update_date=self.record.start_date,
            revision_id="",
            logging_configuration={},
            tracing_configuration={},
            encryption_configuration={},
            runtime=ex,
            map_run_arn=self.record.arn,
            item_count=items,
        )
        await engine.store.put_execution(record)
        return record, ex

    async def resume(self, record: ExecutionRecord) -> Execution:
        """A live execution of a child stored as ``RUNNING`` that ``Engine.recover`` did not
        resume (it replays its journal; the caller runs it)."""
        from legato import _durable

        return await _durable.resumed(self.engine, record, self.machine)

    async def run(self, record: ExecutionRecord, ex: Execution) -> None:
        """Runs a child as the engine runs its own executions: a runtime error fails it
        (``States.Runtime``) and how it ended is stored."""
        await self.engine._drive(record, ex)


class ChildExecution:
    """What the Map Run keeps of one Standard child execution."""

    __slots__ = ("arn", "index", "items", "name", "output", "runtime", "start_date", "status")

    def __init__(self, arn: str, name: str, index: int, items: int, start_date: float) -> None:
        self.arn = arn
        self.name = name
        self.index = index
        self.items = items
        self.start_date = start_date
        self.status = "RUNNING"
        self.output: Any = None
        self.runtime: Execution | None = None


class Children:
    """Dispatches a Map Run's items to child executions and keeps their outcomes."""

    def __init__(
        self,
        interp: Interpreter,
        state: MapState,
        run: MapRun,
        writer: ResultWriter | None,
        previous: MapRun | None,
        executor: Executor | None,
        *,
        resumes: bool,
        state_machine_arn: str,
        state_machine_name: str,
    ) -> None:
        x = interp.x
        self.x = x
        self.services = interp.services
        self.engine = self.services.engine
        self.run = run
        self.writer = writer
        self.previous = previous
        self.executor = executor
        self.resumes = resumes
        """Whether an earlier run (before a restart, or before a redrive) started children."""
        self.batched = state.item_batcher is not None
        self.express = run.execution_type == "EXPRESS"
        self.state_machine_arn = state_machine_arn
        self.state_machine_name = state_machine_name
        services = self.services
        prefix = "express" if self.express else "execution"
        self.arn_base = f"arn:aws:states:{services.region}:{services.account}:{prefix}:{state_machine_name}:"
        self.machine = processor_machine(state)
        self.durable: DurableChildren | None = None
        if self.engine is not None and not self.express and executor is None:
            self.durable = DurableChildren(
                self.engine,
                run.record,
                self.machine,
                self.arn_base,
                state_machine_arn,
                state_machine_name,
                x.info.role_arn,
            )
        self.results: list[Any] = []
        self.failures = 0
        self.total: int | None = None
        """How many children the Map Run has, once known (all items read)."""
        self.tasks: set[asyncio.Task[None]] = set()
        self.crashed: list[BaseException] = []

    def exceeded(self) -> bool:
        """Whether the failed children exceed the tolerated failures (UpdateMapRun's
        values count from when they are set)."""
        record = self.run.record
        return over_threshold(
            self.failures, self.total, record.tolerated_failure_percentage, record.tolerated_failure_count
        )

    async def dispatch(self, source: AsyncIterator[Any]) -> None:
        """Starts a child per item (at most MaxConcurrency at once) and waits for them.

        Once the failures exceed the threshold, no child starts and the running ones are
        aborted (the Map Run fails at once, as on AWS). A reader or batcher failure stops
        the children and raises; so does a cancelled parent.
        """
        run = self.run
        tasks = self.tasks
        index = 0
        try:
            try:
                async for value in source:
                    while len(tasks) >= run.limit and not self.crashed and not self.exceeded():
                        run.wake.clear()
                        await run.wake.wait()
                    if self.crashed or self.exceeded():
                        break
                    if self.writer is None:
                        # With a ResultWriter the results go to S3: no slot per item is kept.
                        self.results.append(None)
                    size = len(value.get("Items", ())) if self.batched and isinstance(value, dict) else 1
                    run.count("total", size)
                    run.count("pending", size)
                    task = asyncio.ensure_future(self.child(index, value, size))
                    tasks.add(task)
                    task.add_done_callback(self._ended)
                    index += 1
                else:
                    self.total = index
            except StatesError:
                # The reader or batcher failed: the children already started are stopped.
                await self._stop_all()
                raise
            while tasks and not self.crashed and not self.exceeded():
                run.wake.clear()
                await run.wake.wait()
            if tasks and not self.crashed:
                await self._stop_all()  # the threshold is exceeded: the Map Run fails now
            while tasks:
                await asyncio.gather(*list(tasks), return_exceptions=True)
        except asyncio.CancelledError:
            await self._stop_all()
            raise
        if self.crashed:
            raise self.crashed[0]
        self.total = index

    async def _stop_all(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self.run.wake.set()
        if not task.cancelled() and task.exception() is not None:
            self.crashed.append(task.exception() or Exception())

    async def child(self, index: int, value: Any, size: int) -> None:
        """Runs (or finds again) the child of item ``index`` and counts how it ended."""
        from legato.runtime.execution import Execution, ExecutionInfo

        run = self.run
        services = self.services
        record: ExecutionRecord | None = None
        entry: ChildExecution | None = None
        owned = True
        durable = self.durable
        if durable is not None:
            prior = await durable.prior(index) if self.resumes else None
            if prior is not None and prior.status != "RUNNING":
                # It ended before a restart (or succeeded before a redrive): not run again.
                run.count("pending", size, -1)
                output = _json.loads(prior.output_text) if prior.output_text is not None else None
                await self._count(
                    index, value, size, prior.status, output, prior.error, prior.cause, prior, None
                )
                return
            if prior is None:
                record, ex = await durable.start(index, _json.dumps(value), size)
            elif prior.runtime is not None:
                record, ex, owned = prior, prior.runtime, False  # resumed by Engine.recover
            else:
                record, ex = prior, await durable.resume(prior)
            arn = record.arn
        else:
            reused = self.previous.by_index.get(index) if self.previous is not None else None
            if reused is not None and reused.status == "SUCCEEDED":
                # Redrive reruns only the children that failed or did not run.
                run.by_index[index] = reused
                run.children[reused.arn] = reused
                run.count("pending", size, -1)
                await self._count(index, value, size, "SUCCEEDED", reused.output, None, None, None, reused)
                return
            if self.express:
                name = services.ids.uuid()
                arn = self.arn_base + name + ":" + services.ids.uuid()
            else:
                name = child_name(run.arn, index, run.record.redrive_count)
                arn = self.arn_base + name
            info = ExecutionInfo(
                execution_arn=arn,
                name=name,
                state_machine_arn=self.state_machine_arn,
                state_machine_name=self.state_machine_name,
                role_arn=self.x.info.role_arn,
                type=run.execution_type,
            )
            ex = Execution(self.machine, info, _json.dumps(value), services)
            if not self.express:
                entry = ChildExecution(arn, name, index, size, ex.start_time)
                entry.runtime = ex
                run.children[arn] = entry
                run.by_index[index] = entry
        parent_arn = self.x.info.execution_arn
        share_mocks(services, parent_arn, arn)
        run.count("pending", size, -1)
        run.count("running", size)
        try:
            if not owned:
                await ex.wait()
            elif record is not None and durable is not None:
                await durable.run(record, ex)
            elif self.executor is not None:
                await self.executor.run(ex)
            else:
                await ex.run()
        except asyncio.CancelledError:
            # The Map Run stops (its parent was stopped, or it failed): the child is aborted.
            if not owned and ex.status == "RUNNING" and not engine_closing(self.engine):
                ex.stop()
            ended = ex.status if ex.status in COUNTED else "ABORTED"
            run.count(COUNTED[ended], size)
            if entry is not None:
                entry.status = ended
            raise
        finally:
            share_mocks(services, parent_arn, arn, drop=True)
            run.count("running", size, -1)
        if entry is not None:
            entry.status = ex.status
            if ex.status == "SUCCEEDED":
                entry.output = ex.output
        await self._count(index, value, size, ex.status, ex.output, ex.error, ex.cause, record, entry, ex)

    async def _count(
        self,
        index: int,
        value: Any,
        size: int,
        status: str,
        output: Any,
        error: str | None,
        cause: str | None,
        record: ExecutionRecord | None,
        entry: ChildExecution | None,
        ex: Execution | None = None,
    ) -> None:
        """Counts a child that ended, keeps its result and hands it to the ResultWriter."""
        from legato.maprun.writer import ChildResult

        run = self.run
        run.count(COUNTED[status], size)
        if status == "SUCCEEDED":
            if self.writer is None:
                self.results[index] = output
        else:
            self.failures += 1
            run.wake.set()  # the dispatcher judges the failure threshold again
        if self.writer is None:
            return
        if ex is not None:
            arn, name, start, stop = ex.info.execution_arn, ex.info.name, ex.start_time, ex.stop_time
        elif record is not None:
            arn, name, start, stop = record.arn, record.name, record.start_date, record.stop_date
        else:
            assert entry is not None
            arn, name, start, stop = entry.arn, entry.name, entry.start_date, None
        result = ChildResult(index, status, value, output, error, cause, arn, name, start, stop)
        await self.writer.add(result)
        run.count("resultsWritten", size)


def over_threshold(failures: int, total: int | None, pct: float, count: int) -> bool:
    """Whether ``failures`` failed children exceed the tolerated failures; ``total`` is the
    number of children, None while it is not known (a percentage cannot be judged yet)."""
    if failures <= 0 or failures <= count:
        return False
    if pct <= 0:
        return True
    if total is None:
        return False
    return failures * 100.0 / max(1, total) > pct


def engine_closing(engine: Any) -> bool:
    """Whether the engine is shutting down (what is still running resumes at its next start)."""
    journal = getattr(engine, "journal", None)
    return bool(getattr(journal, "closed", False))


def share_mocks(services: Any, parent_arn: str, child_arn: str, *, drop: bool = False) -> None:
    """Children answer from the parent's mocked responses (Step Functions Local's mocks)."""
    from legato.runtime.mocks import STATE_KEY

    mocks = services.integrations.state.get(STATE_KEY)
    if mocks is None:
        return
    if drop:
        mocks.sessions.pop(child_arn, None)
    elif parent_arn in mocks.sessions:
        mocks.sessions[child_arn] = mocks.sessions[parent_arn]
