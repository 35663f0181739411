"""Map Runs: a Distributed Map's items or batches run as child executions.

:func:`run_distributed` is called by the Map state once its items (or its
ItemReader) are known. Items are read, selected, batched and dispatched lazily:
at most MaxConcurrency children run at once (UpdateMapRun can change it while the
run goes on), and the next item is only read when a child slot is free.

Each child is a real :class:`~legato.runtime.execution.Execution` named
``...:execution:SM_NAME/LABEL:UUID`` with its own history and context object and
none of the parent's variables (:mod:`legato.maprun.children` runs them). Standard
children are listed by ListExecutions with ``mapRunArn``; Express children are counted
only, as on AWS. Standard children run in process are durable executions: a parent that
resumes after a restart finds its Map Run again from its recorded ``MapRunStarted`` (or
``MapRunRedriven``) event, and the Map Run finds each child it had started.

The Map Run fails as soon as its failures exceed the tolerated threshold; the children
still running are then aborted. A redriven parent redrives its failed Map Run: same ARN,
a ``MapRunRedriven`` event, and only the children that did not succeed run again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

from legato.errors import EvaluationError, StatesError
from legato.expr.jsonata import compile_template as compile_jsonata
from legato.expr.paths import PathNotFound, VariableNotFound, compile_path
from legato.expr.scope import Scope
from legato.expr.template import compile_template
from legato.maprun.children import ChildExecution, Children, engine_closing
from legato.store.records import MapRunRecord

if TYPE_CHECKING:
    from legato.asl.model import MapState
    from legato.maprun.writer import ResultWriter
    from legato.runtime.execution import Execution
    from legato.runtime.interpreter import Frame, Interpreter

__all__ = ["MAX_CONCURRENCY", "ChildExecution", "MapRun", "run_distributed"]

MAX_CONCURRENCY = 10000
"""The most child executions of one Map Run that run at once (MaxConcurrency 0 means this)."""

_COUNT_FIELDS = (
    "pending",
    "running",
    "succeeded",
    "failed",
    "timedOut",
    "aborted",
    "total",
    "resultsWritten",
)
ItemInput = Callable[[int, Any], tuple[Any, dict[str, Any]]]


class MapRun:
    """A Map Run while it runs (and after): its counts, its limits and its children."""

    def __init__(self, record: MapRunRecord, parent_arn: str, site: str, execution_type: str) -> None:
        self.record = record
        self.parent_arn = parent_arn
        self.site = site
        """Where in the parent the Map state ran (to find the run again on redrive)."""
        self.execution_type = execution_type
        self.children: dict[str, ChildExecution] = {}
        self.by_index: dict[int, ChildExecution] = {}
        self.wake = asyncio.Event()
        """Set when a slot may have freed (a child ended, or MaxConcurrency changed)."""

    @property
    def arn(self) -> str:
        """The Map Run ARN."""
        return self.record.arn

    @property
    def limit(self) -> int:
        """How many children may run at once now."""
        return self.record.max_concurrency or MAX_CONCURRENCY

    def count(self, field: str, items: int, delta: int = 1) -> None:
        """Adds ``delta`` to an execution count and ``delta * items`` to the item count."""
        self.record.execution_counts[field] += delta
        self.record.item_counts[field] += delta * items

    def update(
        self, max_concurrency: int | None, tolerated_percentage: float | None, tolerated_count: int | None
    ) -> None:
        """UpdateMapRun: takes effect on the running map at once."""
        if max_concurrency is not None:
            self.record.max_concurrency = max_concurrency
        if tolerated_percentage is not None:
            self.record.tolerated_failure_percentage = tolerated_percentage
        if tolerated_count is not None:
            self.record.tolerated_failure_count = tolerated_count
        self.wake.set()


def _counts() -> dict[str, int]:
    return dict.fromkeys(_COUNT_FIELDS, 0)


def live_runs(engine: Any) -> dict[str, MapRun]:
    """The Map Runs this engine has run since it started, by ARN."""
    if engine is None:
        return {}
    runs: dict[str, MapRun] | None = engine.__dict__.get("_live_map_runs")
    if runs is None:
        runs = {}
        engine.__dict__["_live_map_runs"] = runs
    return runs


def _previous_run(engine: Any, parent_arn: str, site: str) -> MapRun | None:
    for run in reversed(list(live_runs(engine).values())):
        if run.parent_arn == parent_arn and run.site == site:
            return run
    return None


async def _save(engine: Any, run: MapRun) -> None:
    # Once the engine shuts down nothing is stored: the run resumes at the next start.
    if engine is not None and not engine_closing(engine):
        await engine.store.put_map_run(run.record)


def _path_value(path_text: str, scope: Scope, field: str) -> Any:
    path = compile_path(path_text)
    try:
        value = path.select(scope.input) if path.root == "input" else path.resolve(scope)
    except (PathNotFound, VariableNotFound) as exc:
        raise EvaluationError("States.Runtime", str(exc)) from None
    if isinstance(value, str) and value.strip().isdigit():
        # A numeric string is accepted, as Step Functions parses the text.
        return int(value)
    return value


class _Evaluator:
    """Evaluates the ItemReader, ItemBatcher and ResultWriter fields of a Map state."""

    def __init__(self, interp: Interpreter, state: MapState, raw: Any, scope: Scope, frame: Frame) -> None:
        self.interp = interp
        self.state = state
        self.raw = raw
        self.scope = scope
        self.frame = frame

    def value(self, value: Any, field: str) -> Any:
        """A field's value: JSONata expressions evaluated in JSONata states."""
        if self.state.jsonata:
            states = {"input": self.raw, "context": self.scope.context}
            return self.interp._jsonata(compile_jsonata(value), states, self.frame, field)
        return value

    def block(self, block: Mapping[str, Any]) -> dict[str, Any]:
        """Evaluates a reader/batcher/writer block: Parameters or Arguments, and every
        ``...Path`` field replaced by the value it points at."""
        out: dict[str, Any] = {}
        for key, value in block.items():
            if key == "Parameters":
                out[key] = compile_template(value).evaluate(self.scope)
            elif key == "Arguments":
                out["Parameters"] = self.value(value, key)
            elif key in ("ReaderConfig", "WriterConfig"):
                out[key] = self.block(value) if isinstance(value, Mapping) else value
            elif key == "BatchInput" and not self.state.jsonata:
                out[key] = compile_template(value).evaluate(self.scope)
            elif key.endswith("Path") and isinstance(value, str) and not self.state.jsonata:
                out[key[: -len("Path")]] = _path_value(value, self.scope, key)
            elif key == "Resource":
                out[key] = value
            else:
                out[key] = self.value(value, key)
        return out


async def _listed(items: list[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


async def _selected(values: AsyncIterator[Any], item_input: ItemInput) -> AsyncIterator[Any]:
    index = 0
    async for value in values:
        yield item_input(index, value)[0]
        index += 1


async def run_distributed(
    interp: Interpreter,
    state: MapState,
    raw: Any,
    scope: Scope,
    items: list[Any],
    item_input: ItemInput,
    frame: Frame,
    max_conc: int,
    tolerated_pct: float | None,
    tolerated_count: int | None,
) -> Any:
    """Runs a Distributed Map's Map Run; returns the Map state's result (the children's
    outputs in item order, or the ResultWriter's result)."""
    from legato.maprun.executors import child_executor
    from legato.maprun.writer import ResultWriter

    x = interp.x
    services = interp.services
    engine = services.engine
    sm_name = x.info.state_machine_name
    site = f"{frame.key}/{state.name}"
    record = MapRunRecord(
        arn="",
        execution_arn=x.info.execution_arn,
        state_machine_arn=x.info.state_machine_arn,
        status="RUNNING",
        start_date=services.clock.time(),
        max_concurrency=max_conc or 0,
        tolerated_failure_percentage=float(tolerated_pct or 0.0),
        tolerated_failure_count=int(tolerated_count or 0),
        item_counts=_counts(),
        execution_counts=_counts(),
    )
    previous = _previous_run(engine, x.info.execution_arn, site) if x.redrive else None
    earlier: MapRunRecord | None = None
    """The attempt a redrive reruns (its succeeded children count, the rest run again)."""
    recorded = _recorded_run(x, frame)
    if recorded is not None:
        # The parent resumes after a restart: the Map Run goes on as it was recorded.
        record.arn, record.redrive_count = recorded
        stored = await engine.store.get_map_run(record.arn) if engine is not None else None
        if stored is not None:
            _resume_fields(record, stored)
    else:
        if previous is not None:
            earlier = previous.record
        elif x.redrive and engine is not None:
            # Redriven by a later process than the one that ran it: found from the history.
            found = _failed_run_arn(x, frame, state.name)
            earlier = await engine.store.get_map_run(found) if found is not None else None
        if earlier is not None:
            record.arn = earlier.arn
            record.start_date = earlier.start_date
            record.redrive_count = earlier.redrive_count + 1
            record.redrive_date = services.clock.time()
        else:
            label = state.label or services.ids.uuid()
            run_id = services.ids.uuid()
            record.arn = (
                f"arn:aws:states:{services.region}:{services.account}:mapRun:{sm_name}/{label}:{run_id}"
            )
    map_run_arn = record.arn
    if record.redrive_count:
        started_id = x.event(
            "MapRunRedriven",
            frame.last,
            "mapRunRedrivenEventDetails",
            {"mapRunArn": map_run_arn, "redriveCount": record.redrive_count},
            frame=frame.key,
        )
    else:
        started_id = x.event(
            "MapRunStarted",
            frame.last,
            "mapRunStartedEventDetails",
            {"mapRunArn": map_run_arn},
            frame=frame.key,
        )
    frame.last = started_id
    execution_type = state.execution_type or "STANDARD"
    run = MapRun(record, x.info.execution_arn, site, execution_type)
    if engine is not None:
        live_runs(engine)[map_run_arn] = run
    await _save(engine, run)
    # The Map Run's ARN is durable before any child starts: a restart finds them under it.
    await x.journal.flush()

    evaluator = _Evaluator(interp, state, raw, scope, frame)
    writer: ResultWriter | None = None
    try:
        source: AsyncIterator[Any]
        if state.item_reader is not None:
            from legato.maprun.items import read_items

            reader = evaluator.block(state.item_reader)
            max_items = (reader.get("ReaderConfig") or {}).get("MaxItems")
            source = read_items(reader, services, max_items=max_items)
        else:
            source = _listed(items)
        source = _selected(source, item_input)
        if state.item_batcher is not None:
            from legato.maprun.items import batches

            source = batches(source, evaluator.block(state.item_batcher))
        if state.result_writer is not None:
            writer = ResultWriter(evaluator.block(state.result_writer), map_run_arn, services)
    except StatesError as err:
        await _fail(run, engine, interp, frame, started_id, err)
        raise

    label = _label(map_run_arn)
    children = Children(
        interp,
        state,
        run,
        writer,
        previous,
        child_executor(services, x.info.execution_arn),
        resumes=recorded is not None or earlier is not None,
        state_machine_arn=f"{x.info.state_machine_arn}/{label}",
        state_machine_name=f"{sm_name}/{label}",
    )
    if state.item_reader is None and state.item_batcher is None:
        children.total = len(items)  # known now: a failure threshold can be judged early
    try:
        await children.dispatch(source)
    except StatesError as err:
        await _fail(run, engine, interp, frame, started_id, err)
        raise
    except asyncio.CancelledError:
        run.record.status = "ABORTED"
        run.record.stop_date = services.clock.time()
        await _save(engine, run)
        raise

    if children.exceeded():
        exceeded = StatesError(
            "States.ExceedToleratedFailureThreshold",
            "The specified tolerated failure threshold was exceeded",
        )
        if writer is not None:
            try:
                await writer.finish()
            except StatesError:
                pass
        await _fail(run, engine, interp, frame, started_id, exceeded)
        raise exceeded
    output: Any = children.results
    if writer is not None:
        try:
            output = await writer.finish()
        except StatesError as err:
            await _fail(run, engine, interp, frame, started_id, err)
            raise
    run.record.status = "SUCCEEDED"
    run.record.stop_date = services.clock.time()
    await _save(engine, run)
    frame.last = x.event("MapRunSucceeded", started_id, frame=frame.key)
    frame.last = x.event("MapStateSucceeded", frame.last, frame=frame.key)
    frame.last = started_id
    return output


def _label(map_run_arn: str) -> str:
    """The label of a Map Run (``...:mapRun:SM_NAME/LABEL:RUN_ID``)."""
    resource = map_run_arn.split(":mapRun:", 1)[-1].rsplit(":", 1)[0]
    return resource.split("/", 1)[-1]


def _recorded_run(x: Execution, frame: Frame) -> tuple[str, int] | None:
    """``(Map Run ARN, redrive count)`` of the Map Run this frame recorded next, when the
    execution replays its journal (it resumes after a restart); None otherwise."""
    replay = x.replay
    event = replay.peek(frame.key) if replay is not None else None
    if event is None:
        return None
    if event.get("type") == "MapRunStarted":
        details = event.get("mapRunStartedEventDetails") or {}
        count = 0
    elif event.get("type") == "MapRunRedriven":
        details = event.get("mapRunRedrivenEventDetails") or {}
        count = int(details.get("redriveCount") or 1)
    else:
        return None
    arn = details.get("mapRunArn")
    return (arn, count) if isinstance(arn, str) else None


def _failed_run_arn(x: Execution, frame: Frame, state_name: str) -> str | None:
    """The Map Run that the Map state ``state_name`` ran in this frame when the execution
    failed there (the redriven execution's earlier history), or None."""
    from legato.runtime.replay import frame_of

    found: str | None = None
    for event in reversed(x.history):
        if frame_of(event) != frame.key:
            continue
        kind = str(event.get("type", ""))
        if kind.endswith("StateExited"):
            return None  # the state that failed came after this frame's last completed one
        if found is None and kind in ("MapRunStarted", "MapRunRedriven"):
            details = event.get("mapRunStartedEventDetails") or event.get("mapRunRedrivenEventDetails") or {}
            arn = details.get("mapRunArn")
            found = arn if isinstance(arn, str) else None
        elif found is not None and kind == "MapStateEntered":
            entered = event.get("stateEnteredEventDetails") or {}
            return found if entered.get("name") == state_name else None
    return None


def _resume_fields(record: MapRunRecord, stored: MapRunRecord) -> None:
    """Carries over what a resumed Map Run keeps from before the restart (its counts are
    counted again as its children are found)."""
    record.start_date = stored.start_date
    record.redrive_date = stored.redrive_date
    record.max_concurrency = stored.max_concurrency
    record.tolerated_failure_percentage = stored.tolerated_failure_percentage
    record.tolerated_failure_count = stored.tolerated_failure_count


async def _fail(
    run: MapRun, engine: Any, interp: Interpreter, frame: Frame, started_id: int, err: StatesError
) -> None:
    run.record.status = "FAILED"
    run.record.stop_date = interp.services.clock.time()
    await _save(engine, run)
    details: dict[str, Any] = {"error": err.name}
    if err.cause is not None:
        details["cause"] = err.cause
    frame.last = interp.x.event(
        "MapRunFailed", started_id, "mapRunFailedEventDetails", details, frame=frame.key
    )
