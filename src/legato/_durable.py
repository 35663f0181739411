"""Helpers of :mod:`legato.engine` for durable Standard executions: the journal the
engine hands its executions, recording how an execution ended, reading a finished
execution's history back, and resuming the executions a previous process left
``RUNNING``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from legato import _engine_helpers as _h
from legato.errors import ApiError
from legato.runtime.clock import Clock
from legato.store.memory import MemoryStore
from legato.store.records import ExecutionRecord, Store, StoreUnavailable

if TYPE_CHECKING:
    from legato.engine import Engine
    from legato.runtime.execution import Execution, ExecutionInfo
    from legato.runtime.machine import Machine

__all__ = ["EngineJournal", "finish", "history", "recover", "resumed"]

log = logging.getLogger("legato.engine")

_RETRY_FIRST = 0.05
_RETRY_MAX = 2.0


class EngineJournal:
    """The :class:`~legato.runtime.journal.Journal` of an engine's Standard executions:
    the store's journal, until the engine shuts down.

    When a flush cannot be written (the database is locked, the disk is full), the
    execution waits, retrying, rather than failing: its next side effect must not
    start before its history is durable, and a storage fault is not the workflow's
    error. The wait holds a virtual clock still. Once :meth:`close` is called
    (the engine is shutting down and cancels its executions), events are no longer
    recorded, so an execution cut short by a shutdown stays ``RUNNING`` in the store
    and resumes at the next start.
    """

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.closed = False
        self._waits = not isinstance(store, MemoryStore)  # memory is as durable as it gets

    def append(self, execution_arn: str, event: dict[str, Any]) -> None:
        """Queues one event with the store (nothing once closed)."""
        if not self.closed:
            self.store.append(execution_arn, event)

    async def flush(self) -> None:
        """Returns once everything appended so far is durable, retrying through store faults."""
        if self.closed or not self._waits:
            return
        delay = _RETRY_FIRST
        with self.clock.busy():
            while True:
                try:
                    await self.store.flush()
                except StoreUnavailable as exc:
                    if delay == _RETRY_FIRST:
                        log.error("executions wait for their journal: %s", exc.message)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, _RETRY_MAX)
                    continue
                if delay != _RETRY_FIRST:
                    log.warning("the journal is written again; executions continue")
                return

    def close(self) -> None:
        """Stops recording (the engine is shutting down)."""
        self.closed = True


async def finish(engine: Engine, record: ExecutionRecord) -> None:
    """Stores how an execution ended (unless the engine is shutting down: then it stays
    ``RUNNING`` in a durable store, to resume at the next start)."""
    if engine.journal.closed:
        return
    _h.absorb(record)
    try:
        await engine.store.put_execution(record)
    except StoreUnavailable as exc:
        log.error(
            "execution %s ended %s but its end could not be stored (%s); "
            "it resumes from its journal at the next start",
            record.arn,
            record.status,
            exc.message,
        )


async def history(engine: Engine, record: ExecutionRecord) -> list[dict[str, Any]]:
    """An execution's history events: the live ones while this engine runs it, else the
    store's (a finished execution read back from a durable store)."""
    if record.runtime is not None or record.history:
        return record.history
    return await engine.store.events(record.arn)


def execution_info(record: ExecutionRecord, redrive_count: int | None = None) -> ExecutionInfo:
    """The names and ARNs a live run of ``record``'s execution carries."""
    from legato.runtime.execution import ExecutionInfo

    return ExecutionInfo(
        execution_arn=record.arn,
        name=record.name,
        state_machine_arn=record.state_machine_arn,
        state_machine_name=record.state_machine_name,
        role_arn=record.role_arn,
        type=record.type,
        redrive_count=record.redrive_count if redrive_count is None else redrive_count,
    )


async def resumed(engine: Engine, record: ExecutionRecord, machine: Machine) -> Execution:
    """A live execution of ``record`` (stored as ``RUNNING``) that replays its journal,
    set as the record's runtime and stored; the caller runs it."""
    from legato.runtime.execution import Execution

    recorded = await engine.store.events(record.arn)
    info = execution_info(record)
    ex = Execution(
        machine, info, record.input_text, engine.services, journal=engine.journal, recorded=recorded
    )
    ex.start_time = record.start_date
    ex.context_state_machine["Id"] = (
        record.state_machine_alias_arn or record.state_machine_version_arn or record.state_machine_arn
    )
    record.runtime = ex
    _h.absorb(record)
    await engine.store.put_execution(record)
    log.info("resuming execution %s (%d recorded events)", record.arn, len(recorded))
    return ex


async def recover(engine: Engine) -> int:
    """Resumes every Standard execution the store holds as ``RUNNING`` and this engine
    does not run: each replays its recorded events and carries on. Returns how many.

    The Standard children of a Distributed Map resume here too (their definition is the
    item processor); the Map Run of their parent, resuming, waits for them.
    """
    resuming: list[tuple[ExecutionRecord, Execution]] = []
    for record in await engine.store.running_executions():
        if record.type != "STANDARD" or record.runtime is not None:
            continue
        live = await engine.store.get_execution(record.arn)
        if live is not None and live.runtime is not None:
            continue
        try:
            machine = engine._compile(record.definition)
        except ApiError as exc:
            log.error("cannot resume execution %s: %s", record.arn, exc)
            continue
        resuming.append((record, await resumed(engine, record, machine)))
    # Every execution has its runtime before any of them runs: a parent that waits for a
    # child it started before the restart (.sync, a Map Run) finds the child running again.
    for record, ex in resuming:
        task = asyncio.create_task(engine._drive(record, ex), name=f"legato-resume:{record.arn}")
        engine._tasks.add(task)
        task.add_done_callback(engine._tasks.discard)
    return len(resuming)
