"""The single writer of a SQLite store: one thread, one connection, group commit.

Everything that changes the database goes through a :class:`Writer`. Callers queue
work without blocking: a journal event (nobody waits for it) or a write with a
waiter (an asyncio future). The writer thread wakes when a waiter is queued, or
every ``interval`` seconds for events alone, takes everything queued, writes it in
ONE transaction, commits, and then resolves the waiters, so many executions share
one commit.

When a transaction fails (the database is locked past the busy timeout, the disk
is full) it is rolled back: the waiters get :class:`StoreUnavailable`, the writes
they asked for are dropped (their callers were told), and the journal events are
kept, in order, for the next attempt, so the journal never has a gap. While
writes fail, events alone are retried every ``retry_interval`` seconds.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from legato.store.records import StoreUnavailable

__all__ = ["Writer", "unavailable"]

log = logging.getLogger("legato.store")

WriteFn = Callable[[sqlite3.Connection], None]
"""A write: runs on the writer's connection inside the batch's transaction."""

_EventRow = tuple[str, int, str]

_EVENT = 0
_WRITE = 1
_BARRIER = 2
_STOP = 3

# All the events of a batch go in as ONE JSON array of [arn, id, body] through one
# statement: the sqlite3 module releases the GIL around every statement step, and a
# row at a time would make the writer queue for the GIL once per event while the
# engine's loop is busy.
_INSERT_EVENTS = """
INSERT OR REPLACE INTO events (execution_arn, id, body)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]')
FROM json_each(?)
"""


def unavailable(path: Path, exc: sqlite3.Error, lock_timeout: float) -> StoreUnavailable:
    """The error an API caller sees for a database error: says what happened and what to do."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StoreUnavailable(
            f"The Legato database {path} is locked by another process "
            f"(waited {lock_timeout:g} s); nothing was written, try again"
        )
    if "full" in text:
        return StoreUnavailable(
            f"The disk holding the Legato database {path} is full; nothing was written. "
            "Free some space and try again"
        )
    return StoreUnavailable(f"Cannot write the Legato database {path}: {text}; nothing was written")


def _settle(results: list[tuple[asyncio.Future[None], BaseException | None]]) -> None:
    for fut, exc in results:
        if fut.done():
            continue
        if exc is None:
            fut.set_result(None)
        else:
            fut.set_exception(exc)


class _BadWrite(Exception):
    def __init__(self, index: int, error: BaseException) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


class Writer:
    """The writer thread and its queue (see the module docstring)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        *,
        lock_timeout: float,
        interval: float = 0.05,
        retry_interval: float = 1.0,
    ) -> None:
        self._conn = conn
        self._path = path
        self._lock_timeout = lock_timeout
        self._interval = interval
        self._retry_interval = retry_interval
        self._queue: collections.deque[tuple[Any, ...]] = collections.deque()
        self._wake = threading.Event()
        self._seq = itertools.count(1)
        self._queued = 0
        self._committed = 0
        self._closed = False
        self._failing_since: float | None = None
        self.before_commit: Callable[[], None] | None = None
        """Test hook: called on the writer thread just before each COMMIT; what it
        raises fails the transaction (``sqlite3.OperationalError("database or disk is
        full")`` simulates a full disk)."""
        self._thread = threading.Thread(target=self._run, name=f"legato-sqlite-writer:{path}", daemon=True)
        self._thread.start()

    # -- the callers' side (any thread; the engine's loop in practice)

    def append_event(self, execution_arn: str, event_id: int, body: str) -> None:
        """Queues one journal event; never blocks."""
        if self._closed:
            raise StoreUnavailable(f"The Legato store {self._path} is closed")
        self._queued = seq = next(self._seq)
        self._queue.append((_EVENT, seq, (execution_arn, event_id, body)))
        if len(self._queue) >= 4096:  # bound the memory a burst of events holds
            self._wake.set()

    async def write(self, fn: WriteFn) -> None:
        """Runs ``fn`` in the next transaction and returns once it is committed."""
        await self._wait((_WRITE, fn))

    async def flush(self) -> None:
        """Returns once everything queued so far is committed."""
        if self._committed >= self._queued and not self._queue:
            return
        await self._wait((_BARRIER, None))

    async def _wait(self, item: tuple[Any, ...]) -> None:
        if self._closed:
            raise StoreUnavailable(f"The Legato store {self._path} is closed")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._queued = seq = next(self._seq)
        self._queue.append((item[0], seq, item[1], (loop, fut)))
        self._wake.set()
        await fut

    def close(self) -> None:
        """Writes what is queued, stops the thread and waits for it."""
        if not self._closed:
            self._closed = True
            self._queue.append((_STOP, next(self._seq)))
            self._wake.set()
        self._thread.join()

    # -- the writer thread

    def _run(self) -> None:
        kept: list[tuple[int, _EventRow]] = []  # events of a failed transaction, for the next one
        while True:
            timeout = self._interval if self._failing_since is None else self._retry_interval
            self._wake.wait(timeout)
            self._wake.clear()
            batch: list[tuple[Any, ...]] = []
            queue = self._queue
            while queue:
                batch.append(queue.popleft())
            stop = any(item[0] == _STOP for item in batch)
            waiting = any(len(item) == 4 for item in batch)
            events = kept + [(item[1], item[2]) for item in batch if item[0] == _EVENT]
            if not events and not waiting and not stop:
                continue
            if (
                self._failing_since is not None
                and not waiting
                and not stop
                and time.monotonic() - self._failing_since < self._retry_interval
            ):
                kept = events
                continue
            kept = self._commit(batch, events)
            if stop:
                if kept:
                    log.error(
                        "closing %s: %d journal events could not be written and are lost",
                        self._path,
                        len(kept),
                    )
                self._conn.close()
                return

    def _commit(
        self, batch: list[tuple[Any, ...]], events: list[tuple[int, _EventRow]]
    ) -> list[tuple[int, _EventRow]]:
        """Writes one batch in one transaction; returns the events to keep for a retry.

        A write that raises something other than a database fault (a bug) is left out
        and the batch written again without it: it fails alone, not its batch.
        """
        rejected: dict[int, BaseException] = {}
        top = max([item[1] for item in batch] + [seq for seq, _ in events] + [0])
        while True:
            try:
                self._transaction(batch, events, rejected)
            except _BadWrite as bad:
                log.error("a write to %s failed", self._path, exc_info=bad.error)
                rejected[bad.index] = bad.error
                continue
            except sqlite3.Error as exc:
                if self._failing_since is None:
                    log.error(
                        "cannot write %s: %s (%d journal events kept for the next attempt)",
                        self._path,
                        exc,
                        len(events),
                    )
                self._failing_since = time.monotonic()
                self._settle_all(batch, rejected, unavailable(self._path, exc, self._lock_timeout))
                return events
            break
        if self._failing_since is not None:
            log.warning("%s is writable again; the journal is complete", self._path)
            self._failing_since = None
        self._committed = max(self._committed, top)
        self._settle_all(batch, rejected, None)
        return []

    def _transaction(
        self,
        batch: list[tuple[Any, ...]],
        events: list[tuple[int, _EventRow]],
        rejected: dict[int, BaseException],
    ) -> None:
        # As few statements as possible: each one lets go of the GIL and, while the
        # engine's loop is busy, waits to get it back.
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if events:
                conn.execute(_INSERT_EVENTS, (orjson.dumps([row for _, row in events]).decode(),))
            for index, item in enumerate(batch):
                if item[0] == _WRITE and index not in rejected:
                    try:
                        item[2](conn)
                    except sqlite3.OperationalError:
                        raise  # locked, full: the whole transaction fails
                    except Exception as exc:
                        raise _BadWrite(index, exc) from exc
            if self.before_commit is not None:
                self.before_commit()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _settle_all(
        batch: list[tuple[Any, ...]], rejected: dict[int, BaseException], error: BaseException | None
    ) -> None:
        """Resolves the batch's waiters: one callback per event loop."""
        results: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[None], BaseException | None]]]
        results = collections.defaultdict(list)
        for index, item in enumerate(batch):
            if len(item) == 4:
                loop, fut = item[3]
                results[loop].append((fut, rejected.get(index, error)))
        for loop, pairs in results.items():
            try:
                loop.call_soon_threadsafe(_settle, pairs)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass
