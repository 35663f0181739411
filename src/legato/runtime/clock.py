"""Clocks and id providers, injected into the runtime.

Nothing in ``legato.runtime`` reads the wall clock, sleeps or makes ids itself:
it asks the :class:`Clock` and the :class:`IdProvider` it was given. The
:class:`VirtualClock` lets Waits, Retry intervals and timeouts pass without real
waiting: when the event loop has nothing else to do, it jumps straight to the
earliest pending timer. Its time never runs behind real time, so every timestamp
stays consistent.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """What the runtime needs of time."""

    def time(self) -> float:
        """Seconds since the epoch."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Waits ``seconds`` of this clock's time."""
        ...

    def sleep_blocking(self, seconds: float, cancel: threading.Event | None = None) -> None:
        """Waits from a worker thread (a synchronous user function).

        Returns early once ``cancel`` is set: the Task that called the function
        gave up on it (a timeout), and nothing waits for it any more.
        """
        ...

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Marks work that happens outside the event loop (a thread, I/O)."""
        ...


def to_datetime(seconds: float) -> datetime:
    """An aware UTC datetime for an epoch time."""
    return datetime.fromtimestamp(seconds, tz=UTC)


class SystemClock:
    """Real time."""

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            await asyncio.sleep(seconds)
        else:
            await asyncio.sleep(0)

    def sleep_blocking(self, seconds: float, cancel: threading.Event | None = None) -> None:
        if seconds > 0:
            if cancel is None:
                time.sleep(seconds)
            else:
                cancel.wait(seconds)

    @contextmanager
    def busy(self) -> Iterator[None]:
        yield


class VirtualClock:
    """Time that jumps ahead whenever the event loop would otherwise idle.

    Its reading is real time plus an offset; the offset grows when a timer is due
    to fire and nothing else can run. Work outside the loop (user functions in
    threads, network calls) holds time still while it runs: wrap it in
    :meth:`busy`.
    """

    def __init__(self) -> None:
        self._offset = 0.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._busy = 0
        self._lock = threading.Lock()
        self._driver: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    def time(self) -> float:
        return time.time() + self._offset

    async def sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._timers, (self.time() + seconds, next(self._seq), fut))
        self._ensure_driver(loop)
        try:
            await fut
        finally:
            if not fut.done():
                fut.cancel()

    def sleep_blocking(self, seconds: float, cancel: threading.Event | None = None) -> None:
        loop = self._loop
        if loop is None or seconds <= 0:
            if seconds > 0:
                self._offset += seconds
            return
        done = threading.Event()

        async def waiter() -> None:
            # The calling thread stays "busy" until this sleep's timer is in the
            # queue: otherwise the clock could jump past it to a later timer.
            released = False
            try:
                sleeper = asyncio.ensure_future(self.sleep(seconds))
                await asyncio.sleep(0)
                with self._lock:
                    self._busy -= 1
                released = True
                await sleeper
            finally:
                if released:
                    with self._lock:
                        self._busy += 1
                done.set()

        future = asyncio.run_coroutine_threadsafe(waiter(), loop)
        while not done.wait(0.05):
            if not loop.is_running() or (cancel is not None and cancel.is_set()):
                # A timeout abandoned the function, or the run that called
                # it has ended: nothing waits for it, so let it go.
                future.cancel()
                break

    @contextmanager
    def busy(self) -> Iterator[None]:
        with self._lock:
            self._busy += 1
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None and self._loop is not running:
            # A user function may call sleep_blocking before any timer has
            # started the driver; it needs to know the loop to wait on.
            self._ensure_driver(running)
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
            loop = self._loop
            if loop is not None and self._wake is not None:
                loop.call_soon_threadsafe(self._wake.set)

    def _ensure_driver(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._driver is None or self._driver.done() or self._loop is not loop:
            self._loop = loop
            self._wake = asyncio.Event()
            self._driver = loop.create_task(self._drive())

    def _idle(self, loop: asyncio.AbstractEventLoop) -> bool:
        ready = getattr(loop, "_ready", None)
        return self._busy == 0 and (ready is None or len(ready) == 0)

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        quiet = 0
        while self._timers:
            # Drop timers whose sleepers went away (cancelled tasks).
            while self._timers and self._timers[0][2].done():
                heapq.heappop(self._timers)
            if not self._timers:
                break
            due, _, fut = self._timers[0]
            now = self.time()
            if due <= now:
                heapq.heappop(self._timers)
                fut.set_result(None)
                quiet = 0
                await asyncio.sleep(0)
                continue
            if self._idle(loop):
                quiet += 1
                if quiet >= 3:
                    # Idle for three turns of the loop: look once more after a
                    # moment of real time, so that work finishing in another
                    # thread is seen before time jumps.
                    await asyncio.sleep(0.001)
                    if self._idle(loop):
                        self._offset += max(0.0, due - self.time())
                    quiet = 0
                    continue
                await asyncio.sleep(0)
                continue
            quiet = 0
            if self._busy:
                assert self._wake is not None
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=min(0.005, due - now))
                except TimeoutError:
                    pass
            else:
                await asyncio.sleep(0)


class IdProvider(Protocol):
    """Makes the ids the runtime needs (execution names, request ids)."""

    def uuid(self) -> str:
        """A fresh UUID text."""
        ...


class RandomIds:
    """Random UUIDs."""

    def uuid(self) -> str:
        return str(uuid.uuid4())


class SequentialIds:
    """Predictable UUID-shaped ids, for tests."""

    def __init__(self) -> None:
        self._n = itertools.count(1)

    def uuid(self) -> str:
        return f"00000000-0000-4000-8000-{next(self._n):012d}"
