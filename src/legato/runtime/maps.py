"""Map states: run the item processor once per item.

Inline Maps record MapIteration* events in the parent's history. A
DISTRIBUTED Map runs each item as a child run with its own variables and records
MapRun* events: its Map Run lives in :mod:`legato.maprun.run`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from legato import _json
from legato.asl.model import DEFAULT, MapState, PassState
from legato.errors import EvaluationError, StatesError
from legato.expr._jsonata_paths import MISS
from legato.expr.jsonata import JsonataTemplate, unexpected_type_error
from legato.expr.paths import Path, PathNotFound, VariableNotFound
from legato.expr.scope import Scope
from legato.expr.template import Template
from legato.runtime.eager import start
from legato.runtime.execution import PAYLOAD_LIMIT

if TYPE_CHECKING:
    from legato.runtime.interpreter import Frame, Interpreter


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else _json.dumps(value)


def _path_number(path: Path, scope: Scope, field: str, kind: str) -> Any:
    try:
        value = path.resolve(scope)
    except (PathNotFound, VariableNotFound) as exc:
        raise EvaluationError("States.Runtime", str(exc)) from None
    if isinstance(value, str):
        # A numeric string is accepted, as Step Functions parses the text.
        try:
            value = int(value) if kind == "integer" else float(value)
        except ValueError:
            pass
    ok = isinstance(value, int) if kind == "integer" else isinstance(value, int | float)
    if isinstance(value, bool) or not ok:
        if kind == "integer" and isinstance(value, float) and value.is_integer():
            return int(value)
        raise EvaluationError(
            "States.Runtime",
            f'The {field} field refers to value "{_shown(value)}" which is not a valid {kind}: {path.text}',
        )
    return value


def _number(
    interp: Interpreter,
    value: Any,
    path: Path | None,
    field: str,
    kind: str,
    scope: Scope,
    states: dict[str, Any],
    frame: Frame,
) -> Any:
    if path is not None:
        return _path_number(path, scope, field + "Path", kind)
    if isinstance(value, JsonataTemplate):
        result = interp._jsonata(value, states, frame, field)
        if isinstance(result, bool) or not isinstance(result, int | float):
            raise EvaluationError(
                "States.QueryEvaluationError",
                f"The JSONata expression specified for the field '{field}' returned an unexpected result type. "
                f"Expected '{kind}', but was '{_kind(result)}' for value: {_json.dumps(result)}",
                field,
            )
        return int(result) if kind == "integer" else result
    return value


def _items(
    interp: Interpreter, state: MapState, raw: Any, effective: Any, ctx: dict[str, Any], frame: Frame
) -> list[Any]:
    if state.jsonata:
        if state.items is not None:
            items = interp._jsonata(state.items, {"input": raw, "context": ctx}, frame, "Items")
            if not isinstance(items, list):
                exprs = state.items.expressions
                text = exprs[0][0].text if len(exprs) == 1 else _json.dumps(items)
                raise unexpected_type_error(text, "Items", "array", items)
            return items
        if not isinstance(raw, list):
            raise EvaluationError(
                "States.QueryEvaluationError", f"Map state input must be an array but was: {_json.dumps(raw)}"
            )
        return raw
    path = state.items_path
    if path is DEFAULT:
        items = effective
        text = "$"
    else:
        assert isinstance(path, Path)
        text = path.text
        try:
            items = (
                path.select(effective)
                if path.root == "input"
                else path.resolve(Scope(effective, ctx, frame.variables))
            )
        except (PathNotFound, VariableNotFound) as exc:
            raise EvaluationError("States.Runtime", str(exc)) from None
    if not isinstance(items, list):
        raise EvaluationError("States.Runtime", f'Reference path "{text}" must point to array.')
    return items


async def run_map(interp: Interpreter, state: MapState, raw: Any, ctx: dict[str, Any], frame: Frame) -> Any:
    """Runs a Map state's items; returns the list of their outputs (or, for a
    Distributed Map with a ResultWriter, the writer's result)."""
    from legato.runtime.interpreter import Frame, _select, never_waits

    x = interp.x
    states = {"input": raw, "context": ctx}
    if state.jsonata:
        effective = raw
    else:
        effective = _select(state.input_path, raw, Scope(raw, ctx, frame.variables))
    scope = Scope(effective, ctx, frame.variables)
    # A Distributed Map's ItemReader streams its items once the Map Run has started.
    reads = state.mode == "DISTRIBUTED" and state.item_reader is not None
    items = [] if reads else _items(interp, state, raw, effective, ctx, frame)
    max_conc = _number(
        interp,
        state.max_concurrency,
        state.max_concurrency_path,
        "MaxConcurrency",
        "integer",
        scope,
        states,
        frame,
    )
    started = x.event(
        "MapStateStarted", frame.last, "mapStateStartedEventDetails", {"length": len(items)}, frame=frame.key
    )
    frame.last = started
    distributed = state.mode == "DISTRIBUTED"
    tolerated_pct = tolerated_count = None
    if distributed:
        tolerated_pct = _number(
            interp,
            state.tolerated_failure_percentage,
            state.tolerated_failure_percentage_path,
            "ToleratedFailurePercentage",
            "float",
            scope,
            states,
            frame,
        )
        tolerated_count = _number(
            interp,
            state.tolerated_failure_count,
            state.tolerated_failure_count_path,
            "ToleratedFailureCount",
            "integer",
            scope,
            states,
            frame,
        )
        if tolerated_pct is not None and not 0 <= tolerated_pct <= 100:
            raise EvaluationError("States.Runtime", "ToleratedFailurePercentage must be between 0 and 100.")
        if tolerated_count is not None and tolerated_count < 0:
            raise EvaluationError("States.Runtime", "ToleratedFailureCount cannot be negative.")

    selector = state.item_selector

    def item_input(index: int, value: Any) -> tuple[Any, dict[str, Any]]:
        item = {"Index": index, "Value": value}
        if selector is None:
            return value, item
        item_ctx = dict(ctx)
        item_ctx["Map"] = {"Item": item}
        if isinstance(selector, Template):
            return selector.evaluate(Scope(effective, item_ctx, frame.variables)), item
        return interp._jsonata(selector, {"input": raw, "context": item_ctx}, frame, "ItemSelector"), item

    if distributed:
        from legato.maprun.run import run_distributed

        return await run_distributed(
            interp, state, raw, scope, items, item_input, frame, max_conc, tolerated_pct, tolerated_count
        )

    results: list[Any] = [None] * len(items)
    outer_vars = frame.variables

    def begin(index: int) -> tuple[Any, Frame]:
        value, item = item_input(index, items[index])
        key = f"{frame.key}/{started}m{index}"
        it_started = x.event(
            "MapIterationStarted",
            x.last_event_id,
            "mapIterationStartedEventDetails",
            {"index": index, "name": state.name},
            frame=key,
        )
        # The variables are shared: a state's Assign replaces the dict, never changes it.
        return value, Frame(outer_vars, it_started, {"Item": item}, key)

    def end(index: int, sub: Frame, how: str) -> None:
        x.event(
            f"MapIteration{how}",
            sub.last,
            f"mapIteration{how}EventDetails",
            {"index": index, "name": state.name},
            frame=sub.key,
        )

    def sync_iteration(index: int) -> None:
        value, sub = begin(index)
        try:
            results[index] = interp.run_sync_graph(state.processor, value, sub)
        except StatesError:
            end(index, sub, "Failed")
            raise
        end(index, sub, "Succeeded")

    async def iteration(index: int) -> None:
        value, sub = begin(index)
        try:
            results[index] = await interp.run_graph(state.processor, value, sub)
        except StatesError:
            end(index, sub, "Failed")
            raise
        except asyncio.CancelledError:
            end(index, sub, "Aborted")
            raise
        end(index, sub, "Succeeded")

    if never_waits(state.processor):
        # Each iteration runs to its end at once: one after another, as the workers would.
        formatter = _pass_formatter(interp, state, items, item_input, outer_vars, results)
        index = 0
        while index < len(items):
            done = formatter(index) if formatter is not None else 0
            if done:
                index += done
            else:
                sync_iteration(index)
                index += 1
            if done or index % _CHUNK == 0:
                await asyncio.sleep(0)  # let other executions on the loop run
    else:
        await _run_all(len(items), max_conc, iteration)
    frame.last = x.event("MapStateSucceeded", x.last_event_id, frame=frame.key)
    return results


_CHUNK = 1000
"""The iterations a Map runs at most between two chances for other executions to run."""


def _pass_formatter(
    interp: Interpreter,
    state: MapState,
    items: list[Any],
    item_input: Callable[[int, Any], tuple[Any, dict[str, Any]]],
    variables: dict[str, Any],
    results: list[Any],
) -> Callable[[int], int] | None:
    """A quick way through the iterations of an item processor that is one JSONata Pass
    state whose ``Output`` only reads plain paths (a row formatter, say), in an
    execution that keeps no history: such iterations record their four events each
    (started, entered, exited, succeeded) as numbers only, and each output is built by
    one call.

    The returned function takes the iterations from a given index on (at most
    :data:`_CHUNK`) and says how many it ran: it stops before an item it cannot take
    (a path that must go to jsonatapy, an output over the size limit), which then runs
    the ordinary way, recording its failure as usual. ``None`` when the Map's iterations
    cannot go this way.
    """
    x = interp.x
    graph = state.processor
    if x.keeps_history or x.replay is not None or len(graph.states) != 1:
        return None
    only = graph.states[graph.start_at]
    if (
        not isinstance(only, PassState)
        or not only.jsonata
        or only.assign is not None
        or only.next is not None
    ):
        return None
    output = only.output
    if output is None or output.reads_context or output.builder is None:
        return None
    build = output.builder
    dumps = _json.dumps

    def formatter(start: int) -> int:
        rows: list[Any] = []
        append = rows.append
        for index in range(start, min(start + _CHUNK, len(items))):
            try:
                given, _ = item_input(index, items[index])
                built = build({"input": given}, variables)
            except Exception:
                break
            if built is MISS:
                break
            append(built)
        if rows and len(dumps(rows)) > PAYLOAD_LIMIT:
            # Together over the limit: stop before the first that is over it alone.
            for k, row in enumerate(rows):
                if len(dumps(row)) > PAYLOAD_LIMIT:
                    del rows[k:]
                    break
        if rows:
            x.count_events(4 * len(rows), interp.clock.time())
            results[start : start + len(rows)] = rows
        return len(rows)

    return formatter


async def _run_all(count: int, max_conc: int, body: Any) -> None:
    """Runs ``body(i)`` for every index with at most ``max_conc`` at once (0: no limit).

    Each worker starts on the spot (see :mod:`legato.runtime.eager`): iterations that
    never wait run one after another with no task at all, in the order tasks would run them.
    """
    if count == 0:
        return
    workers = count if not max_conc or max_conc <= 0 else min(count, max_conc)
    next_index = 0
    failure: list[BaseException] = []

    async def worker() -> None:
        nonlocal next_index
        while next_index < count and not failure:
            i = next_index
            next_index += 1
            await body(i)

    tasks: list[asyncio.Task[Any]] = []
    errors: list[BaseException] = []
    for _ in range(workers):
        if next_index >= count:
            break  # the workers started so far took every item
        started = start(worker())
        if started.task is not None:
            tasks.append(started.task)
        elif started.error is not None:
            errors.append(started.error)
    pending: set[asyncio.Task[Any]] = set(tasks)
    try:
        if tasks and not errors:
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            errors = [
                t.exception() or Exception()
                for t in tasks
                if t in done and not t.cancelled() and t.exception() is not None
            ]
    except asyncio.CancelledError:
        for t in tasks:
            t.cancel()
        raise
    if errors:
        failure.append(errors[0])
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        raise errors[0]
