"""The interpreter: one shared state lifecycle that every state type reuses.

An execution is one coroutine that awaits its states directly. Each state runs
through :meth:`Interpreter.run_state`: the Entered event, the type's own work
(with Retry and Catch for Task, Parallel and Map), variable assignment, and the
Exited event. Parallel branches and Map iterations run as tasks, so a branch
that waits does not hold up the others.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from legato import _json
from legato.asl.model import (
    DEFAULT,
    Catcher,
    ChoiceState,
    FailState,
    Graph,
    MapState,
    ParallelState,
    PassState,
    Retrier,
    State,
    SucceedState,
    TaskState,
    WaitState,
)
from legato.errors import EvaluationError, RetryAfterError, StatesError
from legato.expr.jsonata import JsonataTemplate
from legato.expr.paths import Path, PathNotFound, VariableNotFound
from legato.expr.scope import Scope
from legato.expr.template import Template
from legato.runtime.callbacks import TaskFailure
from legato.runtime.execution import PAYLOAD_LIMIT, Execution, iso_time

Variables = dict[str, Any]

UNCATCHABLE = frozenset({"States.Runtime"})

# States that can be interrupted while they wait, and record it.
_ABORTABLE = frozenset({"Task", "Map", "Parallel"})

# States that never wait: they run without a coroutine of their own.
_SYNC_STATES = (PassState, ChoiceState, SucceedState, FailState)

# The event a Map or Parallel state records when it fails for good.
_FAILED_EVENT = {"Map": "MapStateFailed", "Parallel": "ParallelStateFailed"}


class Frame:
    """Where a path of states runs: its variables, its Map item, its last event."""

    __slots__ = ("key", "last", "map_item", "variables")

    def __init__(
        self, variables: Variables, last: int, map_item: dict[str, Any] | None = None, key: str = ""
    ) -> None:
        self.variables = variables
        self.last = last
        self.map_item = map_item
        # Names this path of states in the journal (see legato.runtime.replay).
        self.key = key


class Transition:
    """What a state's work produced: the next state (None ends the path) and the output."""

    __slots__ = ("assigned", "next", "output")

    def __init__(self, next_: str | None, output: Any, assigned: Variables | None = None) -> None:
        self.next = next_
        self.output = output
        self.assigned = assigned


def error_output(err: StatesError) -> dict[str, Any]:
    """The ``{"Error", "Cause"}`` object a Catch passes on."""
    if isinstance(err, TaskFailure):
        return dict(err.error_output())
    out: dict[str, Any] = {"Error": err.name}
    if err.cause is not None:
        out["Cause"] = err.cause
    return out


def _matches(names: tuple[str, ...], err: StatesError, from_task: bool) -> bool:
    if err.name in UNCATCHABLE:
        return False
    for name in names:
        if name == err.name or name == "States.ALL":
            return True
        if name == "States.TaskFailed" and from_task and err.name != "States.Timeout":
            return True
    return False


def _select(path: Path | Any | None, value: Any, scope: Scope) -> Any:
    """Applies an InputPath/OutputPath: DEFAULT keeps the value, None gives {}."""
    if path is DEFAULT:
        return value
    if path is None:
        return {}
    assert isinstance(path, Path)
    try:
        if path.root == "input":
            return path.select(value)
        return path.resolve(scope)
    except PathNotFound as exc:
        raise EvaluationError("States.Runtime", str(exc)) from None
    except VariableNotFound as exc:
        raise EvaluationError(
            "States.Runtime", f"Invalid path '{path.text}' : undefined variable {exc.name}"
        ) from None


def _place(path: Path | Any | None, raw_input: Any, result: Any) -> Any:
    """Applies a ResultPath."""
    if path is DEFAULT:
        return result
    if path is None:
        return raw_input
    assert isinstance(path, Path)
    try:
        return path.assign(raw_input, result)
    except PathNotFound as exc:
        raise EvaluationError("States.Runtime", str(exc)) from None


def never_waits(graph: Graph) -> bool:
    """Whether every state of ``graph`` is a Pass, Choice, Succeed or Fail state and no
    path through it loops: it then runs to its end at once, with no await."""
    states = graph.states
    if not all(isinstance(st, _SYNC_STATES) for st in states.values()):
        return False
    visiting: set[str] = set()
    finished: set[str] = set()

    def targets(st: State) -> list[str]:
        if isinstance(st, ChoiceState):
            out = [rule.next for rule in st.choices if rule.next is not None]
            return out + ([st.default] if st.default is not None else [])
        return [st.next] if st.next is not None else []

    def acyclic(name: str) -> bool:
        if name in finished:
            return True
        if name in visiting or name not in states:
            return False
        visiting.add(name)
        ok = all(acyclic(n) for n in targets(states[name]))
        visiting.discard(name)
        finished.add(name)
        return ok

    return acyclic(graph.start_at)


class Interpreter:
    """Runs the states of one execution."""

    def __init__(self, execution: Execution) -> None:
        self.x = execution
        self.clock = execution.services.clock
        self.services = execution.services

    # -- structure

    async def run_machine(self, value: Any, started_id: int) -> Any:
        """Runs the top-level graph; returns the execution output."""
        frame = Frame({}, 0)
        return await self.run_graph(self.x.machine.graph, value, frame)

    async def run_graph(self, graph: Graph, value: Any, frame: Frame) -> Any:
        """Runs states from ``graph.start_at`` until one ends the path."""
        state = graph.states[graph.start_at]
        steps = 0
        while True:
            t = await self.run_state(state, value, frame)
            value = t.output
            if t.next is None:
                return value
            state = graph.states[t.next]
            steps += 1
            if steps % 500 == 0:
                # Let other executions on the loop run during long loops.
                await asyncio.sleep(0)

    def context(self, state: State, entered: float, frame: Frame, retry_count: int | None) -> dict[str, Any]:
        """The context object as the state sees it."""
        st: dict[str, Any] = {"Name": state.name, "EnteredTime": iso_time(entered)}
        if retry_count is not None:
            st["RetryCount"] = retry_count
        ctx: dict[str, Any] = {
            "Execution": self.x.context_execution,
            "StateMachine": self.x.context_state_machine,
            "State": st,
        }
        if frame.map_item is not None:
            ctx["Map"] = frame.map_item
        return ctx

    # -- the shared lifecycle

    async def run_state(self, state: State, raw_input: Any, frame: Frame) -> Transition:
        """Runs one state through its whole lifecycle."""
        if isinstance(state, _SYNC_STATES):
            return self.run_sync_state(state, raw_input, frame)
        x = self.x
        entered_id, entered, done = self._enter(state, raw_input, frame)
        if done is not None:
            return done
        try:
            t = await self._dispatch(state, raw_input, frame, entered, entered_id)
        except EvaluationError as exc:
            raise self._prefixed(state, entered_id, exc, frame) from None
        except asyncio.CancelledError:
            if state.type in _ABORTABLE:
                frame.last = x.event(f"{state.type}StateAborted", frame.last, frame=frame.key)
            raise
        self._exit(state, t, frame)
        return t

    def run_sync_graph(self, graph: Graph, value: Any, frame: Frame) -> Any:
        """:meth:`run_graph` for a graph that never waits (see :func:`never_waits`): the
        same events and values, without a coroutine per state."""
        state = graph.states[graph.start_at]
        while True:
            t = self.run_sync_state(state, value, frame)
            value = t.output
            if t.next is None:
                return value
            state = graph.states[t.next]

    def run_sync_state(self, state: State, raw_input: Any, frame: Frame) -> Transition:
        """:meth:`run_state` for a Pass, Choice, Succeed or Fail state, which never waits."""
        entered_id, entered, done = self._enter(state, raw_input, frame)
        if done is not None:
            return done
        try:
            if isinstance(state, PassState):
                t = self._pass(state, raw_input, frame, entered)
            elif isinstance(state, ChoiceState):
                t = self._choice(state, raw_input, frame, entered)
            elif isinstance(state, SucceedState):
                t = self._succeed(state, raw_input, frame, entered)
            else:
                assert isinstance(state, FailState)
                raise self._fail(state, raw_input, frame, entered)
        except EvaluationError as exc:
            raise self._prefixed(state, entered_id, exc, frame) from None
        self._exit(state, t, frame)
        return t

    def _enter(self, state: State, raw_input: Any, frame: Frame) -> tuple[int, float, Transition | None]:
        """Records the Entered event; when the state's completion was recorded (a
        replay), also its transition."""
        x = self.x
        details = (
            {"name": state.name, "input": _json.dumps(raw_input), "inputDetails": {"truncated": False}}
            if x.keeps_history
            else None
        )
        entered_id = x.event(
            f"{state.type}StateEntered", frame.last, "stateEnteredEventDetails", details, frame=frame.key
        )
        frame.last = entered_id
        entered = x.event_time(entered_id)
        replay = x.replay
        if replay is not None:
            done = replay.completed_state(frame.key, f"{state.type}StateExited", state.name)
            if done is not None:
                return entered_id, entered, self._replayed(state, raw_input, frame, entered, done)
        return entered_id, entered, None

    def _exit(self, state: State, t: Transition, frame: Frame) -> None:
        """Records the Exited event and the variables the state assigned."""
        text = _json.dumps(t.output)
        if len(text) > PAYLOAD_LIMIT:
            raise StatesError(
                "States.DataLimitExceeded",
                f"The state/task '{state.name}' returned a result with a size exceeding the maximum number "
                "of bytes service limit.",
            )
        details: dict[str, Any] | None = None
        if self.x.keeps_history:
            details = {"name": state.name, "output": text, "outputDetails": {"truncated": False}}
            if t.assigned is not None:
                details["assignedVariables"] = {k: _json.dumps(v) for k, v in t.assigned.items()}
                details["assignedVariablesDetails"] = {"truncated": False}
        frame.last = self.x.event(
            f"{state.type}StateExited",
            frame.last,
            "stateExitedEventDetails",
            details,
            frame=frame.key,
            internal={"_next": t.next},
        )
        if t.assigned:
            frame.variables = {**frame.variables, **t.assigned}

    def _replayed(
        self, state: State, raw_input: Any, frame: Frame, entered: float, exited: dict[str, Any]
    ) -> Transition:
        """The transition of a state whose completion was recorded: nothing runs again."""
        details = exited.get("stateExitedEventDetails") or {}
        output = _json.loads(details.get("output", "null"))
        assigned_text = details.get("assignedVariables")
        assigned = None
        if isinstance(assigned_text, dict):
            assigned = {k: _json.loads(v) for k, v in assigned_text.items()}
        nxt = exited.get("_next")
        frame.last = int(exited["id"])
        if assigned:
            frame.variables = {**frame.variables, **assigned}
        return Transition(nxt if isinstance(nxt, str) else None, output, assigned)

    def _prefixed(self, state: State, entered_id: int, exc: EvaluationError, frame: Frame) -> StatesError:
        cause = f"An error occurred while executing the state '{state.name}' (entered at the event id #{entered_id}). {exc.cause}"
        if exc.name == "States.QueryEvaluationError":
            details: dict[str, Any] = {"cause": cause, "error": exc.name, "state": state.name}
            if exc.location:
                details["location"] = exc.location
            frame.last = self.x.event(
                "EvaluationFailed", frame.last, "evaluationFailedEventDetails", details, frame=frame.key
            )
        return StatesError(exc.name, cause)

    async def _dispatch(
        self, state: State, raw: Any, frame: Frame, entered: float, entered_id: int
    ) -> Transition:
        if isinstance(state, WaitState):
            return await self._wait(state, raw, frame, entered)
        if isinstance(state, TaskState | ParallelState | MapState):
            return await self._with_errors(state, raw, frame, entered, entered_id)
        raise StatesError("States.Runtime", f"unsupported state type {state.type}")

    # -- helpers for both query languages

    def _states(self, raw: Any, ctx: dict[str, Any], **extra: Any) -> dict[str, Any]:
        states = {"input": raw, "context": ctx}
        states.update(extra)
        return states

    def _jsonata(self, tpl: JsonataTemplate, states: dict[str, Any], frame: Frame, field: str) -> Any:
        return tpl.evaluate(states, frame.variables, field=field, now=self.clock.time())

    def _assign(
        self,
        assign: Template | JsonataTemplate | None,
        frame: Frame,
        *,
        scope: Scope | None = None,
        states: dict[str, Any] | None = None,
    ) -> Variables | None:
        if assign is None:
            return None
        if isinstance(assign, Template):
            assert scope is not None
            value = assign.evaluate(scope)
        else:
            assert states is not None
            value = self._jsonata(assign, states, frame, "Assign")
        if not isinstance(value, dict):
            raise EvaluationError("States.Runtime", "The Assign field must evaluate to an object")
        return value

    def _jsonpath_finish(
        self, state: State, raw: Any, result: Any, ctx: dict[str, Any], frame: Frame
    ) -> tuple[Any, Variables | None]:
        """ResultSelector, Assign, ResultPath and OutputPath of a JSONPath state."""
        if state.result_selector is not None:
            result = state.result_selector.evaluate(Scope(result, ctx, frame.variables))
        assigned = self._assign(state.assign, frame, scope=Scope(result, ctx, frame.variables))
        output = _place(state.result_path, raw, result)
        output = _select(state.output_path, output, Scope(output, ctx, frame.variables))
        return output, assigned

    def _jsonata_finish(
        self, state: State, raw: Any, result: Any, ctx: dict[str, Any], frame: Frame, *, has_result: bool
    ) -> tuple[Any, Variables | None]:
        """Assign and Output of a JSONata state."""
        states = self._states(raw, ctx, result=result) if has_result else self._states(raw, ctx)
        assigned = self._assign(state.assign, frame, states=states)
        if state.output is not None:
            output = self._jsonata(state.output, states, frame, "Output")
        else:
            output = result
        return output, assigned

    # -- simple states

    def _pass(self, state: PassState, raw: Any, frame: Frame, entered: float) -> Transition:
        if state.jsonata:
            # The context object is built only when an expression reads it.
            out_tpl, assign = state.output, state.assign
            reads = (out_tpl is not None and out_tpl.reads_context) or (
                isinstance(assign, JsonataTemplate) and assign.reads_context
            )
            ctx = self.context(state, entered, frame, None) if reads else {}
            output, assigned = self._jsonata_finish(state, raw, raw, ctx, frame, has_result=False)
            if state.has_result and state.output is None:
                output = state.result
            return Transition(state.next, output, assigned)
        ctx = self.context(state, entered, frame, None)
        effective = _select(state.input_path, raw, Scope(raw, ctx, frame.variables))
        if state.parameters is not None:
            result = state.parameters.evaluate(Scope(effective, ctx, frame.variables))
        elif state.has_result:
            result = state.result
        else:
            result = effective
        assigned = self._assign(state.assign, frame, scope=Scope(result, ctx, frame.variables))
        output = _place(state.result_path, raw, result)
        output = _select(state.output_path, output, Scope(output, ctx, frame.variables))
        return Transition(state.next, output, assigned)

    def _succeed(self, state: SucceedState, raw: Any, frame: Frame, entered: float) -> Transition:
        ctx = self.context(state, entered, frame, None)
        if state.jsonata:
            output = raw
            if state.output is not None:
                output = self._jsonata(state.output, self._states(raw, ctx), frame, "Output")
            return Transition(None, output)
        effective = _select(state.input_path, raw, Scope(raw, ctx, frame.variables))
        output = _select(state.output_path, effective, Scope(effective, ctx, frame.variables))
        return Transition(None, output)

    def _fail(self, state: FailState, raw: Any, frame: Frame, entered: float) -> StatesError:
        ctx = self.context(state, entered, frame, None)
        error: Any = state.error
        cause: Any = state.cause
        if state.jsonata:
            states = self._states(raw, ctx)
            if isinstance(error, JsonataTemplate):
                error = self._jsonata(error, states, frame, "Error")
            if isinstance(cause, JsonataTemplate):
                cause = self._jsonata(cause, states, frame, "Cause")
        else:
            scope = Scope(raw, ctx, frame.variables)
            if state.error_path is not None:
                error = state.error_path(scope)
            if state.cause_path is not None:
                cause = state.cause_path(scope)
        if error is not None and not isinstance(error, str):
            error = _json.dumps(error)
        if cause is not None and not isinstance(cause, str):
            cause = _json.dumps(cause)
        return StatesError(error or "", cause)

    def _choice(self, state: ChoiceState, raw: Any, frame: Frame, entered: float) -> Transition:
        ctx = self.context(state, entered, frame, None)
        if state.jsonata:
            states = self._states(raw, ctx)
            for rule in state.choices:
                assert rule.condition is not None
                ok = self._jsonata(rule.condition, states, frame, "Condition")
                if not isinstance(ok, bool):
                    raise EvaluationError(
                        "States.QueryEvaluationError",
                        f"The JSONata expression for the field 'Condition' returned a non-boolean value: "
                        f"{_json.dumps(ok)}",
                        "Condition",
                    )
                if ok:
                    assigned = self._assign(rule.assign, frame, states=states)
                    output = raw
                    if rule.output is not None:
                        output = self._jsonata(rule.output, states, frame, "Output")
                    return Transition(rule.next, output, assigned)
            if state.default is None:
                raise StatesError("States.NoChoiceMatched", "No Matches!")
            assigned = self._assign(state.assign, frame, states=states)
            output = raw
            if state.output is not None:
                output = self._jsonata(state.output, states, frame, "Output")
            return Transition(state.default, output, assigned)
        effective = _select(state.input_path, raw, Scope(raw, ctx, frame.variables))
        scope = Scope(effective, ctx, frame.variables)
        for rule in state.choices:
            assert rule.test is not None
            if rule.test(scope):
                assigned = self._assign(rule.assign, frame, scope=scope)
                output = _select(state.output_path, effective, scope)
                return Transition(rule.next, output, assigned)
        if state.default is None:
            raise StatesError("States.NoChoiceMatched", "No Matches!")
        assigned = self._assign(state.assign, frame, scope=scope)
        output = _select(state.output_path, effective, scope)
        return Transition(state.default, output, assigned)

    async def _wait(self, state: WaitState, raw: Any, frame: Frame, entered: float) -> Transition:
        from legato.runtime.waits import wait_seconds

        ctx = self.context(state, entered, frame, None)
        if state.jsonata:
            states = self._states(raw, ctx)
            delay = wait_seconds(state, None, states, frame.variables, entered)
            await self.clock.sleep(self._until(entered + delay))
            output, assigned = self._jsonata_finish(state, raw, raw, ctx, frame, has_result=False)
            return Transition(state.next, output, assigned)
        effective = _select(state.input_path, raw, Scope(raw, ctx, frame.variables))
        scope = Scope(effective, ctx, frame.variables)
        delay = wait_seconds(state, scope, None, frame.variables, entered)
        await self.clock.sleep(self._until(entered + delay))
        assigned = self._assign(state.assign, frame, scope=scope)
        output = _select(state.output_path, effective, scope)
        return Transition(state.next, output, assigned)

    # -- states with Retry and Catch

    async def _with_errors(
        self,
        state: TaskState | ParallelState | MapState,
        raw: Any,
        frame: Frame,
        entered: float,
        entered_id: int,
    ) -> Transition:
        attempts = [0] * len(state.retry)
        retry_count = 0
        err: StatesError
        while True:
            ctx = self.context(state, entered, frame, retry_count)
            try:
                if isinstance(state, TaskState):
                    from legato.runtime.tasks import run_task

                    result = await run_task(self, state, raw, ctx, frame)
                elif isinstance(state, ParallelState):
                    from legato.runtime.parallel import run_parallel

                    result = await run_parallel(self, state, raw, ctx, frame)
                else:
                    from legato.runtime.maps import run_map

                    result = await run_map(self, state, raw, ctx, frame)
                if state.jsonata:
                    output, assigned = self._jsonata_finish(state, raw, result, ctx, frame, has_result=True)
                else:
                    output, assigned = self._jsonpath_finish(state, raw, result, ctx, frame)
                return Transition(state.next, output, assigned)
            except EvaluationError as exc:
                if exc.name in UNCATCHABLE:
                    raise
                err = self._prefixed(state, entered_id, exc, frame)
            except StatesError as exc:
                err = exc
            retrier_index = self._retrier(state.retry, err, isinstance(state, TaskState))
            if retrier_index is not None:
                r = state.retry[retrier_index]
                if attempts[retrier_index] < r.max_attempts:
                    delay = self._backoff(r, attempts[retrier_index])
                    if isinstance(err, RetryAfterError):
                        delay = max(delay, err.retry_after)
                    attempts[retrier_index] += 1
                    retry_count += 1
                    await self.clock.sleep(self._still_to_wait(frame, delay))
                    continue
            failed_event = _FAILED_EVENT.get(state.type)
            if failed_event is not None:
                frame.last = self.x.event(failed_event, self.x.last_event_id, frame=frame.key)
            catcher = self._catcher(state.catch, err, isinstance(state, TaskState))
            if catcher is None:
                raise err
            return self._caught(state, catcher, raw, err, ctx, frame)

    def _until(self, deadline: float) -> float:
        """Seconds from now to ``deadline`` (a Wait resumed after a restart waits only the rest)."""
        return max(0.0, deadline - self.clock.time())

    def _still_to_wait(self, frame: Frame, delay: float) -> float:
        """What is left of a wait that may have begun before a restart."""
        replay = self.x.replay
        if replay is None:
            return delay
        if replay.active(frame.key):
            return 0.0  # the wait ended before: what followed it was recorded
        began = replay.last_time(frame.key)
        if began is None:
            return delay
        return max(0.0, began + delay - self.clock.time())

    @staticmethod
    def _retrier(retry: tuple[Retrier, ...], err: StatesError, from_task: bool) -> int | None:
        for i, r in enumerate(retry):
            if _matches(r.error_equals, err, from_task):
                return i
        return None

    @staticmethod
    def _catcher(catch: tuple[Catcher, ...], err: StatesError, from_task: bool) -> Catcher | None:
        for c in catch:
            if _matches(c.error_equals, err, from_task):
                return c
        return None

    @staticmethod
    def _backoff(r: Retrier, attempt: int) -> float:
        delay = r.interval_seconds * (r.backoff_rate**attempt)
        if r.max_delay_seconds is not None:
            delay = min(delay, r.max_delay_seconds)
        if r.jitter_strategy == "FULL":
            delay = random.uniform(0, delay)
        return delay

    def _caught(
        self,
        state: State,
        catcher: Catcher,
        raw: Any,
        err: StatesError,
        ctx: dict[str, Any],
        frame: Frame,
    ) -> Transition:
        eo = error_output(err)
        if state.jsonata:
            states = self._states(raw, ctx, errorOutput=eo)
            assigned = self._assign(catcher.assign, frame, states=states)
            output = eo
            if catcher.output is not None:
                output = self._jsonata(catcher.output, states, frame, "Output")
            return Transition(catcher.next, output, assigned)
        assigned = self._assign(catcher.assign, frame, scope=Scope(eo, ctx, frame.variables))
        output = _place(catcher.result_path, raw, eo)
        return Transition(catcher.next, output, assigned)

    # -- used by Parallel and Map

    def effective_input(self, state: State, raw: Any, ctx: dict[str, Any], frame: Frame) -> Any:
        """InputPath then Parameters (JSONPath), or Arguments (JSONata)."""
        if state.jsonata:
            if state.arguments is not None:
                return self._jsonata(state.arguments, self._states(raw, ctx), frame, "Arguments")
            return raw
        effective = _select(state.input_path, raw, Scope(raw, ctx, frame.variables))
        if state.parameters is not None:
            return state.parameters.evaluate(Scope(effective, ctx, frame.variables))
        return effective
