"""Coroutines started at once, and made tasks only if they have to wait.

An inline Map over a few hundred items whose iterations never wait (Pass and Choice
states) would otherwise cost an asyncio task per worker, with its scheduling; here the
first step of each runs on the spot, as a task's first step would, and only a coroutine
that suspends becomes a task that goes on from where it stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any


class Started:
    """A coroutine whose first step has run: either ended (``done``) or now a task."""

    __slots__ = ("done", "error", "result", "task")

    def __init__(self) -> None:
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.task: asyncio.Task[Any] | None = None


class _Rest:
    """Awaiting it goes on with a coroutine from the point where its first step stopped."""

    __slots__ = ("_coro", "_signal")

    def __init__(self, coro: Coroutine[Any, Any, Any], signal: Any) -> None:
        self._coro = coro
        self._signal = signal

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, signal = self._coro, self._signal
        while True:
            try:
                sent = yield signal
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # a cancellation thrown into the task goes on inward
                try:
                    signal = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    signal = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


async def _finish(rest: _Rest) -> Any:
    return await rest


def start(coro: Coroutine[Any, Any, Any]) -> Started:
    """Runs ``coro`` until it first waits; if it does, the rest runs as a task."""
    out = Started()
    try:
        signal = coro.send(None)
    except StopIteration as stop:
        out.done, out.result = True, stop.value
        return out
    except BaseException as exc:  # the coroutine's own failure, as a task would keep it
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        out.done, out.error = True, exc
        return out
    out.task = asyncio.ensure_future(_finish(_Rest(coro, signal)))
    return out
