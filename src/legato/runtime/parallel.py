"""Parallel states: every branch runs on the same input; the result is their outputs, in order."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from legato.asl.model import ParallelState

if TYPE_CHECKING:
    from legato.runtime.interpreter import Interpreter


async def run_parallel(
    interp: Interpreter, state: ParallelState, raw: Any, ctx: dict[str, Any], frame: Any
) -> list[Any]:
    """Runs the branches; the first failure fails the state and stops the others."""
    from legato.runtime.interpreter import Frame

    x = interp.x
    branch_input = interp.effective_input(state, raw, ctx, frame)
    started = x.event("ParallelStateStarted", frame.last, frame=frame.key)
    frame.last = started

    async def branch(i: int) -> Any:
        # A branch reads the variables of its enclosing scope as of state entry;
        # what it assigns stays inside the branch.
        sub = Frame(dict(frame.variables), started, frame.map_item, f"{frame.key}/{started}b{i}")
        return await interp.run_graph(state.branches[i], branch_input, sub)

    tasks = [asyncio.ensure_future(branch(i)) for i in range(len(state.branches))]
    try:
        if tasks:
            _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            failed = [t for t in tasks if t.done() and not t.cancelled() and t.exception() is not None]
            if failed:
                for t in pending:
                    t.cancel()
                if pending:
                    await asyncio.gather(*pending, return_exceptions=True)
                exc = failed[0].exception()
                assert exc is not None
                raise exc
    except asyncio.CancelledError:
        for t in tasks:
            t.cancel()
        raise
    frame.last = x.event("ParallelStateSucceeded", x.last_event_id, frame=frame.key)
    return [t.result() for t in tasks]
