"""Map Runs: a Distributed Map's items or batches run as child executions.

:func:`run_distributed` is called by the Map state once its items (or its
ItemReader) are known. Items are read, selected, batched and dispatched lazily:
at most MaxConcurrency children run at once (UpdateMapRun can change it while the
run goes on), and the next item is only read when a child slot is free.

Each child is a real :class:`~legato.runtime.execution.Execution` named
``...:execution:SM_NAME/LABEL:UUID`` with its own history and context object and
none of the parent's variables. Standard children are listed by ListExecutions
with ``mapRunArn``; Express children are counted only, as on AWS.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

from legato import _json
from legato.errors import EvaluationError, StatesError
from legato.expr.jsonata import compile_template as compile_jsonata
from legato.expr.paths import PathNotFound, VariableNotFound, compile_path
from legato.expr.scope import Scope
from legato.expr.template import compile_template
from legato.store.records import MapRunRecord

if TYPE_CHECKING:
    from legato.asl.model import MapState
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
_COUNTED = {"SUCCEEDED": "succeeded", "FAILED": "failed", "TIMED_OUT": "timedOut", "ABORTED": "aborted"}

ItemInput = Callable[[int, Any], tuple[Any, dict[str, Any]]]


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
    if engine is not None:
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
    from legato.maprun.writer import ChildResult, ResultWriter

    x = interp.x
    services = interp.services
    engine = services.engine
    sm_name = x.info.state_machine_name
    label = state.label or services.ids.uuid()
    site = f"{frame.key}/{state.name}"
    previous = _previous_run(engine, x.info.execution_arn, site) if x.redrive else None
    if previous is not None:
        map_run_arn = previous.arn
    else:
        run_id = services.ids.uuid()
        map_run_arn = f"arn:aws:states:{services.region}:{services.account}:mapRun:{sm_name}/{label}:{run_id}"
    started_id = x.event(
        "MapRunStarted", frame.last, "mapRunStartedEventDetails", {"mapRunArn": map_run_arn}, frame=frame.key
    )
    recorded = x.history[started_id - 1]
    if recorded.get("type") == "MapRunStarted":
        # Resumed from the journal: the run keeps the ARN it was recorded with.
        map_run_arn = recorded.get("mapRunStartedEventDetails", {}).get("mapRunArn", map_run_arn)
    frame.last = started_id
    execution_type = state.execution_type or "STANDARD"
    record = MapRunRecord(
        arn=map_run_arn,
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
    if previous is not None:
        record.start_date = previous.record.start_date
        record.redrive_count = previous.record.redrive_count + 1
        record.redrive_date = services.clock.time()
    run = MapRun(record, x.info.execution_arn, site, execution_type)
    if engine is not None:
        live_runs(engine)[map_run_arn] = run
    await _save(engine, run)

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

    results: list[Any] = []
    failures = 0
    batched = state.item_batcher is not None
    child_sm_arn = f"{x.info.state_machine_arn}/{label}"
    child_sm_name = f"{sm_name}/{label}"
    prefix = "express" if execution_type == "EXPRESS" else "execution"
    arn_base = f"arn:aws:states:{services.region}:{services.account}:{prefix}:{child_sm_name}:"
    tasks: set[asyncio.Task[None]] = set()
    crashed: list[BaseException] = []
    executor = child_executor(services, x.info.execution_arn)

    async def child(index: int, value: Any) -> None:
        nonlocal failures
        from legato.runtime.execution import Execution, ExecutionInfo
        from legato.runtime.machine import Machine

        size = len(value.get("Items", ())) if batched and isinstance(value, dict) else 1
        reused = previous.by_index.get(index) if previous is not None else None
        if reused is not None and reused.status == "SUCCEEDED":
            # Redrive reruns only the children that failed or did not run.
            if writer is None:
                results[index] = reused.output
            run.by_index[index] = reused
            run.children[reused.arn] = reused
            run.count("pending", size, -1)
            run.count("succeeded", size)
            return
        name = services.ids.uuid()
        arn = arn_base + name + (":" + services.ids.uuid() if execution_type == "EXPRESS" else "")
        info = ExecutionInfo(
            execution_arn=arn,
            name=name,
            state_machine_arn=child_sm_arn,
            state_machine_name=child_sm_name,
            role_arn=x.info.role_arn,
            type=execution_type,
        )
        machine = Machine("", state.raw.get("ItemProcessor"), state.processor)
        input_text = _json.dumps(value)
        ex = Execution(machine, info, input_text, services)
        entry = ChildExecution(arn, name, index, size, ex.start_time)
        if execution_type != "EXPRESS":
            entry.runtime = ex
            run.children[arn] = entry
            run.by_index[index] = entry
        _share_mocks(services, x.info.execution_arn, arn)
        run.count("pending", size, -1)
        run.count("running", size)
        try:
            if executor is None:
                await ex.run()
            else:
                await executor.run(ex)
        finally:
            _share_mocks(services, x.info.execution_arn, arn, drop=True)
            run.count("running", size, -1)
        entry.status = ex.status
        run.count(_COUNTED[ex.status], size)
        if ex.status == "SUCCEEDED":
            entry.output = ex.output
            if writer is None:
                results[index] = ex.output
        else:
            failures += 1
        if writer is not None:
            await writer.add(
                ChildResult(
                    index,
                    ex.status,
                    value,
                    ex.output,
                    ex.error,
                    ex.cause,
                    arn,
                    name,
                    ex.start_time,
                    ex.stop_time,
                )
            )
            run.count("resultsWritten", size)

    def ended(task: asyncio.Task[None]) -> None:
        tasks.discard(task)
        run.wake.set()
        if not task.cancelled() and task.exception() is not None:
            crashed.append(task.exception() or Exception())

    index = 0
    try:
        try:
            async for value in source:
                while len(tasks) >= run.limit and not crashed:
                    run.wake.clear()
                    await run.wake.wait()
                if crashed:
                    break
                if writer is None:
                    # With a ResultWriter the results go to S3: no slot per item is kept.
                    results.append(None)
                run.count("total", 1 if not batched else len(value.get("Items", ())))
                run.count("pending", 1 if not batched else len(value.get("Items", ())))
                task = asyncio.ensure_future(child(index, value))
                tasks.add(task)
                task.add_done_callback(ended)
                index += 1
        except StatesError as err:
            # The reader or batcher failed: the children already started are stopped.
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await _fail(run, engine, interp, frame, started_id, err)
            raise
        while tasks:
            await asyncio.gather(*list(tasks), return_exceptions=True)
    except asyncio.CancelledError:
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        run.record.status = "ABORTED"
        run.record.stop_date = services.clock.time()
        await _save(engine, run)
        raise
    if crashed:
        raise crashed[0]

    if failures and _over_threshold(failures, index, tolerated_pct, tolerated_count):
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
    output: Any = results
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


def _over_threshold(failures: int, total: int, pct: float | None, count: int | None) -> bool:
    over_count = failures > (count if count is not None else 0)
    over_pct = True
    if pct is not None:
        over_pct = (failures * 100.0 / max(1, total)) > pct
    return (count is None or over_count) and (pct is None or over_pct)


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


def _share_mocks(services: Any, parent_arn: str, child_arn: str, *, drop: bool = False) -> None:
    """Children answer from the parent's mocked responses (Step Functions Local's mocks)."""
    from legato.runtime.mocks import STATE_KEY

    mocks = services.integrations.state.get(STATE_KEY)
    if mocks is None:
        return
    if drop:
        mocks.sessions.pop(child_arn, None)
    elif parent_arn in mocks.sessions:
        mocks.sessions[child_arn] = mocks.sessions[parent_arn]
