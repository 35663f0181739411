"""The TestState API operation: run one state in isolation and show how it got there.

:func:`test_state` takes the TestState request as the JSON protocol sends it and
returns its response: the ``status`` (``SUCCEEDED``, ``FAILED``, ``RETRIABLE`` or
``CAUGHT_ERROR``), the ``output`` or ``error``/``cause``, the ``nextState``, and at
the ``DEBUG`` and ``TRACE`` inspection levels the ``inspectionData`` (the input
after each processing step, the result, the variables, and which Retry or Catch
handled an error).

The definition is one state, or a whole state machine with ``stateName`` naming
the state to test (at any depth, inside Parallel branches and Map processors too).
A Task with a ``mock`` calls nothing: the mocked result (checked against the
service API's output shape) or the mocked error stands in for the call. Without
a mock, a Task calls the registered Python functions as an execution would.
Map and Parallel states need a mock; their result is the mocked array.

Choices where AWS leaves room, following the AWS-recorded cases:

- A single-state definition is tested as the state ``StateName`` of a one-state
  machine; that is also the ``State.Name`` its context object shows.
- The default context object describes an Express execution of a throw-away
  state machine in the engine's region and account.
- A Wait state does not wait.
- A Retry that still has attempts left reports ``RETRIABLE`` with the backoff the
  next attempt would wait (``stateConfiguration.retrierRetryCount`` attempts so
  far); when attempts are exhausted, Catch applies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from legato.asl.model import (
    DEFAULT,
    ChoiceState,
    FailState,
    Graph,
    MapState,
    ParallelState,
    PassState,
    State,
    SucceedState,
    TaskState,
    WaitState,
)
from legato.errors import ApiError, EvaluationError, StatesError
from legato.expr.jsonata import JsonataTemplate
from legato.expr.paths import Path, PathNotFound, VariableNotFound
from legato.expr.scope import Scope
from legato.expr.template import Template
from legato.runtime._teststate_mock import Mock, check_context, parse_mock
from legato.runtime._teststate_request import (
    SINGLE_STATE_NAME,
    check_mock,
    is_token_task,
    load_definition,
    locate_state,
)
from legato.runtime.execution import Execution, ExecutionInfo, iso_time
from legato.runtime.interpreter import UNCATCHABLE, Frame, Interpreter, _place, _select, error_output
from legato.runtime.machine import Machine
from legato.runtime.services import Services

__all__ = ["SINGLE_STATE_NAME", "test_state"]

_LEVELS = ("INFO", "DEBUG", "TRACE")
_THRESHOLD_ERROR = "States.ExceedToleratedFailureThreshold"
_THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"


def _validation(message: str) -> ApiError:
    return ApiError("ValidationException", message)


def _text(value: Any) -> str:
    """JSON text as TestState shows payloads."""
    return json.dumps(value, ensure_ascii=False)


def _parse_json_field(request: dict[str, Any], key: str, default: Any) -> Any:
    raw = request.get(key)
    if raw is None:
        return default
    if not isinstance(raw, str):
        raise ApiError("SerializationException", f"Field '{key}' must be a string")
    try:
        return json.loads(raw)
    except ValueError:
        raise _validation(f"Invalid {key} JSON: {raw}") from None


# --------------------------------------------------------------------- running the state


@dataclass
class _Outcome:
    status: str
    output: Any = None
    has_output: bool = False
    error: str | None = None
    cause: str | None = None
    next_state: str | None = None
    error_details: dict[str, int] = field(default_factory=dict)


class _Tester:
    """Runs the state under test once, recording inspection data on the way."""

    def __init__(
        self,
        state: State,
        services: Services,
        raw: Any,
        variables: dict[str, Any],
        context: dict[str, Any] | None,
        mock: Mock | None,
        config: dict[str, Any],
        role_arn: str | None,
    ) -> None:
        self.state = state
        self.services = services
        self.raw = raw
        self.mock = mock
        self.config = config
        self.inspection: dict[str, Any] = {"input": _text(raw)}
        self.retry_count = _int(config.get("retrierRetryCount"), 0)
        self.interp = self._interpreter(role_arn)
        self.frame = Frame(dict(variables), 0)
        self.ctx = context if context is not None else self._default_context()

    def _interpreter(self, role_arn: str | None) -> Interpreter:
        services = self.services
        sm_name = f"TestStateMachine-{services.ids.uuid()}"
        exec_name = services.ids.uuid()
        sm_arn = f"arn:aws:states:{services.region}:{services.account}:stateMachine:{sm_name}"
        exec_arn = f"arn:aws:states:{services.region}:{services.account}:express:{sm_name}:{exec_name}"
        info = ExecutionInfo(exec_arn, exec_name, sm_arn, sm_name, role_arn or "", type="EXPRESS")
        graph = Graph(start_at=self.state.name, states={self.state.name: self.state})
        machine = Machine("", {}, graph)
        execution = Execution(machine, info, _text(self.raw), services)
        execution.context_execution = {
            "Id": exec_arn,
            "Input": self.raw,
            "Name": exec_name,
            "RoleArn": role_arn,
            "StartTime": iso_time(execution.start_time),
        }
        return Interpreter(execution)

    def _default_context(self) -> dict[str, Any]:
        x = self.interp.x
        st: dict[str, Any] = {"Name": SINGLE_STATE_NAME, "EnteredTime": iso_time(self.services.clock.time())}
        if isinstance(self.state, TaskState | MapState | ParallelState):
            st["RetryCount"] = self.retry_count
        return {
            "Execution": dict(x.context_execution),
            "StateMachine": dict(x.context_state_machine),
            "State": st,
        }

    # -- helpers

    def _scope(self, value: Any) -> Scope:
        return Scope(value, self.ctx, self.frame.variables)

    def _states(self, **extra: Any) -> dict[str, Any]:
        states = {"input": self.raw, "context": self.ctx}
        states.update(extra)
        return states

    def _jsonata(self, tpl: JsonataTemplate, states: dict[str, Any], name: str) -> Any:
        return tpl.evaluate(states, self.frame.variables, field=name, now=self.services.clock.time())

    def _assign(
        self, assign: Template | JsonataTemplate | None, scope: Scope, states: dict[str, Any]
    ) -> None:
        if assign is None:
            return
        if isinstance(assign, Template):
            value = assign.evaluate(scope)
        else:
            value = self._jsonata(assign, states, "Assign")
        if not isinstance(value, dict):
            raise EvaluationError("States.Runtime", "The Assign field must evaluate to an object")
        self.frame.variables = {**self.frame.variables, **value}

    def _input_path(self) -> Any:
        effective = _select(self.state.input_path, self.raw, self._scope(self.raw))
        self.inspection["afterInputPath"] = _text(effective)
        return effective

    def _finish_jsonpath(self, result: Any, *, selector: bool = True) -> Any:
        state = self.state
        if selector and state.result_selector is not None:
            result = state.result_selector.evaluate(self._scope(result))
        self.inspection["afterResultSelector"] = _text(result)
        self._assign(state.assign, self._scope(result), {})
        output = _place(state.result_path, self.raw, result)
        self.inspection["afterResultPath"] = _text(output)
        return _select(state.output_path, output, self._scope(output))

    def _finish_jsonata(self, result: Any, has_result: bool) -> Any:
        states = self._states(result=result) if has_result else self._states()
        self._assign(self.state.assign, self._scope(self.raw), states)
        if self.state.output is not None:
            return self._jsonata(self.state.output, states, "Output")
        return result

    # -- the run

    async def run(self) -> _Outcome:
        """Runs the state; errors become a FAILED, RETRIABLE or CAUGHT_ERROR outcome."""
        try:
            output, next_state = await self._work()
        except StatesError as exc:
            return self._failed(exc)
        return _Outcome("SUCCEEDED", output, True, next_state=next_state)

    async def _work(self) -> tuple[Any, str | None]:
        state = self.state
        if isinstance(state, PassState):
            return self._pass(state), state.next
        if isinstance(state, ChoiceState):
            return self._choice(state)
        if isinstance(state, WaitState | SucceedState):
            return self._passthrough(state), state.next
        if isinstance(state, FailState):
            raise self._fail(state)
        if isinstance(state, TaskState):
            return await self._task(state), state.next
        if isinstance(state, ParallelState):
            return self._parallel(state), state.next
        if isinstance(state, MapState):
            return self._map(state), state.next
        raise StatesError("States.Runtime", f"unsupported state type {state.type}")

    def _pass(self, state: PassState) -> Any:
        if state.jsonata:
            output = self._finish_jsonata(self.raw, has_result=False)
            if state.has_result and state.output is None:
                output = state.result
            return output
        if state.has_result:
            result = state.result
            self.inspection["result"] = _text(result)
        else:
            effective = self._input_path()
            result = effective
            if state.parameters is not None:
                result = state.parameters.evaluate(self._scope(effective))
            self.inspection["afterParameters"] = _text(result)
        return self._finish_jsonpath(result, selector=False)

    def _passthrough(self, state: WaitState | SucceedState) -> Any:
        if state.jsonata:
            return self._finish_jsonata(self.raw, has_result=False)
        effective = self._input_path()
        scope = self._scope(effective)
        self._assign(state.assign, scope, {})
        return _select(state.output_path, effective, scope)

    def _choice(self, state: ChoiceState) -> tuple[Any, str | None]:
        if state.jsonata:
            states = self._states()
            for rule in state.choices:
                assert rule.condition is not None
                ok = self._jsonata(rule.condition, states, "Condition")
                if not isinstance(ok, bool):
                    raise EvaluationError(
                        "States.QueryEvaluationError",
                        "The JSONata expression for the field 'Condition' returned a non-boolean value: "
                        + json.dumps(ok, separators=(",", ":")),
                        "Condition",
                    )
                if ok:
                    return self._choose(rule.assign, rule.output, states, rule.next)
            if state.default is None:
                raise StatesError("States.NoChoiceMatched", "No Matches!")
            return self._choose(state.assign, state.output, states, state.default)
        effective = self._input_path()
        scope = self._scope(effective)
        for rule in state.choices:
            assert rule.test is not None
            if rule.test(scope):
                self._assign(rule.assign, scope, {})
                return _select(state.output_path, effective, scope), rule.next
        if state.default is None:
            raise StatesError("States.NoChoiceMatched", "No Matches!")
        self._assign(state.assign, scope, {})
        return _select(state.output_path, effective, scope), state.default

    def _choose(
        self, assign: Any, output: JsonataTemplate | None, states: dict[str, Any], next_state: str | None
    ) -> tuple[Any, str | None]:
        self._assign(assign, self._scope(self.raw), states)
        value = self.raw if output is None else self._jsonata(output, states, "Output")
        return value, next_state

    def _fail(self, state: FailState) -> StatesError:
        error: Any = state.error
        cause: Any = state.cause
        if state.jsonata:
            states = self._states()
            if isinstance(error, JsonataTemplate):
                error = self._jsonata(error, states, "Error")
            if isinstance(cause, JsonataTemplate):
                cause = self._jsonata(cause, states, "Cause")
        else:
            self.inspection["afterInputPath"] = _text(self.raw)
            scope = self._scope(self.raw)
            if state.error_path is not None:
                error = state.error_path(scope)
            if state.cause_path is not None:
                cause = state.cause_path(scope)
        if error is not None and not isinstance(error, str):
            error = json.dumps(error, separators=(",", ":"))
        if cause is not None and not isinstance(cause, str):
            cause = json.dumps(cause, separators=(",", ":"))
        return StatesError(error or "", cause)

    async def _task(self, state: TaskState) -> Any:
        if state.jsonata:
            if state.arguments is not None:
                args = self._jsonata(state.arguments, self._states(), "Arguments")
                self.inspection["afterArguments"] = _text(args)
        else:
            effective = self._input_path()
            params = effective
            if state.parameters is not None:
                params = state.parameters.evaluate(self._scope(effective))
            self.inspection["afterParameters"] = _text(params)
        result = self._mocked()
        if result is _NO_MOCK:
            from legato.runtime.tasks import run_task

            result = await run_task(self.interp, state, self.raw, self.ctx, self.frame)
        self.inspection["result"] = _text(result)
        if state.jsonata:
            return self._finish_jsonata(result, has_result=True)
        return self._finish_jsonpath(result)

    def _mocked(self) -> Any:
        mock = self.mock
        if mock is None:
            return _NO_MOCK
        if not mock.has_result:
            raise StatesError(mock.error or "", mock.cause)
        return mock.result

    def _parallel(self, state: ParallelState) -> Any:
        result = self._mocked()
        if state.jsonata:
            return self._finish_jsonata(result, has_result=True)
        return self._finish_jsonpath(result)

    def _map(self, state: MapState) -> Any:
        from legato.runtime.maps import _number

        states = self._states()
        if state.jsonata:
            effective = self.raw
        else:
            effective = self._input_path()
        scope = self._scope(effective)
        items = self._items(state, effective)
        if items is not None:
            self._item_selector(state, effective, items)
        max_conc = _number(
            self.interp,
            state.max_concurrency,
            state.max_concurrency_path,
            "MaxConcurrency",
            "integer",
            scope,
            states,
            self.frame,
        )
        self.inspection["maxConcurrency"] = max_conc
        pct = _number(
            self.interp,
            state.tolerated_failure_percentage,
            state.tolerated_failure_percentage_path,
            "ToleratedFailurePercentage",
            "float",
            scope,
            states,
            self.frame,
        )
        count = _number(
            self.interp,
            state.tolerated_failure_count,
            state.tolerated_failure_count_path,
            "ToleratedFailureCount",
            "integer",
            scope,
            states,
            self.frame,
        )
        if count is not None:
            self.inspection["toleratedFailureCount"] = count
        if pct is not None:
            self.inspection["toleratedFailurePercentage"] = float(pct)
        result = self._mocked()
        failures = self.config.get("mapIterationFailureCount")
        if failures is not None:
            total = len(items) if items is not None else len(result) if isinstance(result, list) else 0
            if not isinstance(failures, int) or failures > total:
                raise _validation(
                    "Map iteration failure count must be less than or equal to the number of Map iterations"
                )
            exceeded = (count is not None and failures > count) or (
                pct is not None and total > 0 and failures * 100.0 / total > pct
            )
            if exceeded:
                raise StatesError(_THRESHOLD_ERROR, _THRESHOLD_CAUSE)
        if state.jsonata:
            return self._finish_jsonata(result, has_result=True)
        return self._finish_jsonpath(result)

    def _items(self, state: MapState, effective: Any) -> list[Any] | None:
        reader_data = self.config.get("mapItemReaderData")
        if state.item_reader is not None:
            if isinstance(reader_data, str):
                try:
                    data = json.loads(reader_data)
                except ValueError:
                    raise _validation("Map item reader data must be valid JSON") from None
                return data if isinstance(data, list) else None
            return None
        if state.jsonata:
            from legato.runtime.maps import _items

            items: list[Any] = _items(self.interp, state, self.raw, effective, self.ctx, self.frame)
            return items
        path = state.items_path
        text = "$"
        value = effective
        if path is not DEFAULT:
            assert isinstance(path, Path)
            text = path.text[1:] if path.text.startswith("$$") else path.text
            try:
                value = (
                    path.select(effective) if path.root == "input" else path.resolve(self._scope(effective))
                )
            except (PathNotFound, VariableNotFound) as exc:
                raise EvaluationError("States.Runtime", str(exc)) from None
        if not isinstance(value, list):
            raise EvaluationError("States.Runtime", f'Reference path "{text}" must point to array.')
        self.inspection["afterItemsPath"] = _text(value)
        return value

    def _item_selector(self, state: MapState, effective: Any, items: list[Any]) -> None:
        selector = state.item_selector
        if selector is None:
            return
        selected = []
        for index, value in enumerate(items):
            item_ctx = {**self.ctx, "Map": {"Item": {"Index": index, "Value": value}}}
            if isinstance(selector, Template):
                selected.append(selector.evaluate(Scope(effective, item_ctx, self.frame.variables)))
            else:
                selected.append(
                    self._jsonata(selector, {"input": self.raw, "context": item_ctx}, "ItemSelector")
                )
        self.inspection["afterItemSelector"] = _text(selected)

    # -- errors: Retry, then Catch

    def _failed(self, err: StatesError) -> _Outcome:
        state = self.state
        outcome = _Outcome("FAILED", error=err.name, cause=err.cause)
        if not isinstance(state, TaskState | MapState | ParallelState) or err.name in UNCATCHABLE:
            return outcome
        from_task = isinstance(state, TaskState)
        index = Interpreter._retrier(state.retry, err, from_task)
        if index is not None:
            retrier = state.retry[index]
            outcome.error_details["retryIndex"] = index
            if self.retry_count < retrier.max_attempts:
                delay = Interpreter._backoff(retrier, self.retry_count)
                outcome.error_details["retryBackoffIntervalSeconds"] = int(delay)
                outcome.status = "RETRIABLE"
                return outcome
        catcher = Interpreter._catcher(state.catch, err, from_task)
        if catcher is None:
            return outcome
        outcome.error_details["catchIndex"] = state.catch.index(catcher)
        eo = error_output(err)
        try:
            if state.jsonata:
                states = self._states(errorOutput=eo)
                self._assign(catcher.assign, self._scope(eo), states)
                output = eo if catcher.output is None else self._jsonata(catcher.output, states, "Output")
            else:
                self._assign(catcher.assign, self._scope(eo), {})
                output = _place(catcher.result_path, self.raw, eo)
        except StatesError as exc:
            return _Outcome("FAILED", error=exc.name, cause=exc.cause)
        outcome.status = "CAUGHT_ERROR"
        outcome.output, outcome.has_output, outcome.next_state = output, True, catcher.next
        return outcome

    def response(self, outcome: _Outcome, level: str) -> dict[str, Any]:
        """The TestState response for ``outcome``."""
        out: dict[str, Any] = {"status": outcome.status}
        if outcome.has_output:
            out["output"] = _text(outcome.output)
        if outcome.status != "SUCCEEDED":
            if outcome.error is not None:
                out["error"] = outcome.error
            if outcome.cause is not None:
                out["cause"] = outcome.cause
        if outcome.next_state is not None:
            out["nextState"] = outcome.next_state
        if level != "INFO":
            data = dict(self.inspection)
            if self.frame.variables:
                data["variables"] = _text(self.frame.variables)
            if outcome.error_details:
                data["errorDetails"] = dict(outcome.error_details)
            out["inspectionData"] = self._shaped(data)
        return out

    def _shaped(self, data: dict[str, Any]) -> dict[str, Any]:
        """Keeps the inspection fields AWS shows for this kind of state."""
        state = self.state
        if state.jsonata and not isinstance(state, TaskState):
            keep = {"input", "variables", "errorDetails", "maxConcurrency"}
            keep |= {"toleratedFailureCount", "toleratedFailurePercentage"}
            return {k: v for k, v in data.items() if k in keep}
        if isinstance(state, ParallelState):
            data.pop("afterInputPath", None)
        return data


class _NoMock:
    """Marks a Task run without a mock."""


_NO_MOCK: Any = _NoMock()


def _int(value: Any, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return value


async def test_state(request: dict[str, Any], services: Services) -> dict[str, Any]:
    """Runs the TestState operation for ``request`` (the JSON protocol's request body).

    Returns the response body (``status``, ``output``, ``error``, ``cause``,
    ``nextState``, ``inspectionData``). Raises :class:`~legato.errors.ApiError`
    (``InvalidDefinition``, ``ValidationException`` ...) with AWS's message for a
    request that AWS rejects.
    """
    if not isinstance(request, dict):
        raise ApiError("SerializationException", "The request must be a JSON object")
    if request.get("definition") is None:
        raise _validation(
            "1 validation error detected: Value null at 'definition' failed to satisfy constraint: "
            "Member must not be null"
        )
    level = request.get("inspectionLevel") or "INFO"
    if level not in _LEVELS:
        raise _validation(
            f"1 validation error detected: Value '{level}' at 'inspectionLevel' failed to satisfy constraint: "
            "Member must satisfy enum value set: [INFO, DEBUG, TRACE]"
        )
    doc = load_definition(request["definition"])
    state = locate_state(doc, request.get("stateName"))
    config = request.get("stateConfiguration") or {}
    if not isinstance(config, dict):
        raise ApiError("SerializationException", "Field 'stateConfiguration' must be an object")
    mock = parse_mock(request.get("mock"))
    check_mock(state, mock, request, config)
    context = _parse_json_field(request, "context", None)
    if context is not None:
        check_context(context, token_allowed=is_token_task(state))
    raw = _parse_json_field(request, "input", {})
    variables = _parse_json_field(request, "variables", {})
    if not isinstance(variables, dict):
        raise _validation("Variables must be a JSON object")
    role_arn = request.get("roleArn")
    if not role_arn and state.type == "Task" and mock is None:
        # A Task really calls its resource, which takes a role to do.
        raise _validation("RoleArn must be specified when testing a Task state")
    tester = _Tester(
        state,
        services,
        raw,
        variables,
        context,
        mock,
        config,
        role_arn if isinstance(role_arn, str) else None,
    )
    outcome = await tester.run()
    return tester.response(outcome, level)
