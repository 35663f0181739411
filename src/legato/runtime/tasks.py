"""Task states: timeouts, history events, and dispatch to the Task resources.

In this version the resources are Python functions standing in for Lambda,
addressed either as ``arn:aws:lambda:REGION:ACCOUNT:function:NAME`` (the result
is the function's return value) or through the optimised integration
``arn:aws:states:::lambda:invoke`` (the result is Lambda's response envelope).
"""

from __future__ import annotations

import asyncio
import json
import threading
import traceback
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from legato import _json
from legato.asl.model import TaskState
from legato.errors import EvaluationError, FunctionNotFound, StatesError
from legato.expr.jsonata import JsonataTemplate
from legato.expr.paths import PathNotFound, VariableNotFound
from legato.expr.scope import Scope
from legato.integrations.registry import TaskCall, lookup
from legato.runtime.execution import PAYLOAD_LIMIT
from legato.runtime.mocks import mock_for

if TYPE_CHECKING:
    from legato.runtime.interpreter import Frame, Interpreter
    from legato.runtime.services import Services

DEFAULT_TIMEOUT = 99999999


@dataclass(frozen=True, slots=True)
class Resource:
    """A parsed Task resource ARN."""

    arn: str
    kind: str  # "lambda-function" or "service"
    service: str = ""
    action: str = ""
    pattern: str = ""  # "", "sync", "sync:2", "waitForTaskToken"

    @property
    def event_resource(self) -> str:
        """The ``resource`` field of Task* events: ``invoke``, ``startExecution.sync`` ..."""
        return self.action + (f".{self.pattern}" if self.pattern else "")


def parse_resource(arn: str) -> Resource:
    """Splits a Task's Resource into what the runtime dispatches on."""
    parts = arn.split(":")
    if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
        return Resource(arn, "lambda-function")
    if len(parts) >= 6 and parts[2] == "states" and parts[3] == "" and parts[4] == "":
        service = parts[5]
        rest = ":".join(parts[6:])
        if service == "aws-sdk" and len(parts) >= 8:
            # arn:aws:states:::aws-sdk:SERVICE:ACTION
            service = f"aws-sdk:{parts[6]}"
            rest = ":".join(parts[7:])
        action, _, pattern = rest.partition(".")
        return Resource(arn, "service", service, action, pattern)
    if len(parts) == 7 and parts[2] == "states" and parts[5] == "activity":
        return Resource(arn, "activity")
    return Resource(arn, "unknown")


class LambdaContext:
    """The ``context`` argument a handler receives, as Lambda's Python runtime gives it."""

    def __init__(
        self, function_name: str, request_id: str, region: str, account: str, sleep: Callable[[float], None]
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.aws_request_id = request_id
        self.memory_limit_in_mb = 128
        self.log_group_name = f"/aws/lambda/{function_name}"
        self._sleep = sleep

    def sleep(self, seconds: float) -> None:
        """Sleeps on the engine's clock (a virtual clock skips the wait)."""
        self._sleep(seconds)

    def get_remaining_time_in_millis(self) -> int:
        """Lambda's API; a local function has no deadline of its own."""
        return 900_000


def _stack(exc: BaseException, fn: Any) -> list[str]:
    """The traceback from the handler's own frame down, as Lambda reports it."""
    frames = traceback.extract_tb(exc.__traceback__)
    code = getattr(fn, "__code__", None)
    for i, fs in enumerate(frames):
        if code is not None and fs.filename == code.co_filename and fs.name == code.co_name:
            return traceback.format_list(frames[i:])
    return traceback.format_list(frames[-1:])


def _lambda_error(exc: BaseException, fn: Any, request_id: str, compact: bool) -> StatesError:
    body = {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": _stack(exc, fn),
    }
    cause = _json.dumps(body) if compact else json.dumps(body)
    return StatesError(type(exc).__name__, cause)


def _decode_result(value: Any) -> Any:
    """What a handler's return value becomes after Lambda serialises it."""
    if isinstance(value, bytes | bytearray):
        text = bytes(value).decode("utf-8", errors="replace")
        try:
            return _json.loads(text)
        except ValueError:
            return text
    return value


async def invoke_function(services: Services, name: str, event: Any, compact_errors: bool) -> Any:
    """Calls a registered Python function the way Lambda would."""
    try:
        fn = services.functions.resolve(name)
    except FunctionNotFound as exc:
        arn = (
            name
            if name.startswith("arn:")
            else f"arn:aws:lambda:{services.region}:{services.account}:function:{name}"
        )
        if arn.count(":") == 6:
            arn += ":$LATEST"
        raise StatesError(
            "Lambda.ResourceNotFoundException",
            f"Function not found: {arn} (Service: AWSLambda; Status Code: 404; Error Code: "
            f"ResourceNotFoundException; Request ID: {services.ids.uuid()}; Proxy: null)",
        ) from exc
    request_id = services.ids.uuid()
    abandoned = threading.Event()
    context = LambdaContext(
        exc_name(name),
        request_id,
        services.region,
        services.account,
        lambda seconds: services.clock.sleep_blocking(seconds, abandoned),
    )
    try:
        if asyncio.iscoroutinefunction(fn):
            result = await fn(event, context)
        else:
            loop = asyncio.get_running_loop()
            clock = services.clock

            def call() -> Any:
                return fn(event, context)

            # Time stands still while the function runs: a virtual clock must
            # not fire the Task's timeout just because the loop looks idle.
            with ExitStack() as busy:
                busy.enter_context(clock.busy())
                work = services.executor.submit(call)
                try:
                    result = await asyncio.wrap_future(work, loop=loop)
                except asyncio.CancelledError:
                    # A timeout stops the waiting, not the function: its sleeps
                    # end at once, and time stands still until its thread returns.
                    abandoned.set()
                    held = busy.pop_all()
                    work.add_done_callback(lambda _: held.close())
                    raise
            if asyncio.iscoroutine(result):
                result = await result
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        raise _lambda_error(exc, fn, request_id, compact_errors) from None
    return _decode_result(result)


def exc_name(name: str) -> str:
    """The bare function name of a name or ARN."""
    from legato.integrations.functions import function_name

    return function_name(name)


def _seconds(
    interp: Interpreter,
    value: int | JsonataTemplate | None,
    path: Any,
    field: str,
    raw: Any,
    ctx: dict[str, Any],
    frame: Frame,
) -> int | None:
    if isinstance(value, JsonataTemplate):
        result = value.evaluate({"input": raw, "context": ctx}, frame.variables, field=field)
        if isinstance(result, bool) or not isinstance(result, int | float) or result < 1:
            raise EvaluationError(
                "States.QueryEvaluationError",
                f"The JSONata expression specified for the field '{field}' returned an invalid value: "
                f"{_json.dumps(result)}",
                field,
            )
        return int(result)
    if isinstance(value, int):
        return value
    if path is not None:
        try:
            result = path.resolve(Scope(raw, ctx, frame.variables))
        except (PathNotFound, VariableNotFound) as exc:
            raise EvaluationError("States.Runtime", str(exc)) from None
        if isinstance(result, bool) or not isinstance(result, int) or result < 1:
            raise EvaluationError(
                "States.Runtime",
                f"The {field}Path parameter does not reference a valid positive integer value: "
                f"{path.text} == {_json.dumps(result)}",
            )
        return result
    return None


async def run_task(interp: Interpreter, state: TaskState, raw: Any, ctx: dict[str, Any], frame: Frame) -> Any:
    """Runs a Task state's work once; returns its raw result or raises StatesError."""
    x = interp.x
    timeout = _seconds(
        interp, state.timeout_seconds, state.timeout_seconds_path, "TimeoutSeconds", raw, ctx, frame
    )
    heartbeat = _seconds(
        interp, state.heartbeat_seconds, state.heartbeat_seconds_path, "HeartbeatSeconds", raw, ctx, frame
    )
    resource = parse_resource(state.resource)
    token: str | None = None
    if resource.kind == "service" and resource.pattern in _TOKEN_PATTERNS:
        # A .sync Task has a token too: its job may answer it before it ends.
        from legato.runtime.callback_tasks import next_token

        token = next_token(interp, frame)
        ctx = {**ctx, "Task": {"Token": token}}
    params = interp.effective_input(state, raw, ctx, frame)
    # Step Functions Local's mocks: a mocked state's call returns the mocked response.
    mocked = mock_for(interp.services, x.info.execution_arn, state.name)
    if resource.kind == "activity":
        from legato.runtime.callback_tasks import run_activity

        return await run_activity(interp, state.resource, params, frame, timeout, heartbeat)

    if resource.kind == "lambda-function":
        family = _LAMBDA_EVENTS
        tags: dict[str, Any] = {}
        scheduled: dict[str, Any] = {
            "input": _json.dumps(params),
            "inputDetails": {"truncated": False},
            "resource": state.resource,
        }
        if timeout is not None:
            scheduled["timeoutInSeconds"] = timeout
        limit_name = state.resource
        work: Callable[[], Awaitable[Any]] = mocked or partial(
            invoke_function, interp.services, state.resource, params, False
        )
    elif resource.kind == "service":
        family = _TASK_EVENTS
        tags = {"resource": resource.event_resource, "resourceType": resource.service}
        scheduled = {"parameters": _json.dumps(params), "region": interp.services.region, **tags}
        if timeout is not None:
            scheduled["timeoutInSeconds"] = timeout
        if heartbeat is not None:
            scheduled["heartbeatInSeconds"] = heartbeat
        limit_name = resource.service
        handler = lookup(resource.service, resource.action)
        if handler is None and mocked is None:
            frame.last = x.event("TaskScheduled", frame.last, family.scheduled[1], scheduled, frame=frame.key)
            unsupported = StatesError(
                "States.Runtime",
                f"The resource '{state.resource}' is not supported by this version of Legato.",
            )
            details = {"error": unsupported.name, "cause": unsupported.cause, **tags}
            frame.last = x.event("TaskFailed", frame.last, family.failed[1], details, frame=frame.key)
            raise unsupported
        call = TaskCall(
            services=interp.services,
            resource=state.resource,
            service=resource.service,
            action=resource.action,
            pattern=resource.pattern,
            parameters=params,
            state_name=state.name,
            execution_arn=x.info.execution_arn,
            context=ctx,
            token=token,
            credentials=state.credentials,
            submitted=partial(_submitted, x, frame, tags),
        )
        if mocked is not None:
            work = mocked
        else:
            assert handler is not None
            work = partial(handler, call)
            if resource.pattern == "waitForTaskToken":
                from legato.runtime.callback_tasks import run_callback

                return await run_callback(
                    interp, work, token or "", scheduled, tags, frame, timeout, heartbeat
                )
    else:
        raise EvaluationError(
            "States.Runtime", f"The resource '{state.resource}' is not a valid Task resource."
        )

    frame.last = x.event(family.scheduled[0], frame.last, family.scheduled[1], scheduled, frame=frame.key)
    started_key = family.started[1] if tags else None  # LambdaFunctionStarted has no details
    frame.last = x.event(family.started[0], frame.last, started_key, tags or None, frame=frame.key)
    if resource.kind == "service" and resource.pattern in ("sync", "sync:2") and x.replay is not None:
        submitted = x.replay.take_any(frame.key, ("TaskSubmitted",))
        if submitted is not None:
            frame.last = int(submitted["id"])
            if mocked is None and handler is not None:
                call = replace(call, resumed=_json.loads(submitted["taskSubmittedEventDetails"]["output"]))
                work = partial(handler, call)
    found, recorded = _recorded_outcome(x, frame, family)
    if found:
        return recorded
    # The events so far are durable before the resource is called.
    await x.journal.flush()
    try:
        result = await _timed(interp, work(), timeout)
        text = _json.dumps(result)
        if len(text) > PAYLOAD_LIMIT:
            raise StatesError(
                "States.DataLimitExceeded",
                f"The state/task '{limit_name}' returned a result with a size exceeding the maximum "
                "number of bytes service limit.",
            )
    except _Timeout:
        details = {"error": "States.Timeout", **tags}
        frame.last = x.event(family.timed_out[0], frame.last, family.timed_out[1], details, frame=frame.key)
        raise StatesError("States.Timeout", "") from None
    except StatesError as err:
        details = {"error": err.name, **tags}
        if err.cause is not None:
            details["cause"] = err.cause
        frame.last = x.event(family.failed[0], frame.last, family.failed[1], details, frame=frame.key)
        raise
    details = {"output": text, "outputDetails": {"truncated": False}, **tags}
    frame.last = x.event(family.succeeded[0], frame.last, family.succeeded[1], details, frame=frame.key)
    return result


_TOKEN_PATTERNS = frozenset(("waitForTaskToken", "sync", "sync:2"))


def _submitted(x: Any, frame: Frame, tags: dict[str, Any], output: Any) -> None:
    """Records ``TaskSubmitted``: a ``.sync`` Task's job has started (``output`` is what starting it returned)."""
    details = {"output": _json.dumps(output), "outputDetails": {"truncated": False}, **tags}
    frame.last = x.event("TaskSubmitted", frame.last, "taskSubmittedEventDetails", details, frame=frame.key)


@dataclass(frozen=True, slots=True)
class _Events:
    """The history event types (and their details keys) of one kind of Task resource."""

    scheduled: tuple[str, str]
    started: tuple[str, str]
    succeeded: tuple[str, str]
    failed: tuple[str, str]
    timed_out: tuple[str, str]


_LAMBDA_EVENTS = _Events(
    ("LambdaFunctionScheduled", "lambdaFunctionScheduledEventDetails"),
    ("LambdaFunctionStarted", "lambdaFunctionStartedEventDetails"),
    ("LambdaFunctionSucceeded", "lambdaFunctionSucceededEventDetails"),
    ("LambdaFunctionFailed", "lambdaFunctionFailedEventDetails"),
    ("LambdaFunctionTimedOut", "lambdaFunctionTimedOutEventDetails"),
)
_TASK_EVENTS = _Events(
    ("TaskScheduled", "taskScheduledEventDetails"),
    ("TaskStarted", "taskStartedEventDetails"),
    ("TaskSucceeded", "taskSucceededEventDetails"),
    ("TaskFailed", "taskFailedEventDetails"),
    ("TaskTimedOut", "taskTimedOutEventDetails"),
)


def _recorded_outcome(
    x: Any,
    frame: Frame,
    family: _Events,
    failure: Callable[[str | None, str | None], StatesError] | None = None,
) -> tuple[bool, Any]:
    """The result an earlier run recorded for this call, if any: the call is not made again.

    Returns ``(True, result)``, raises the recorded failure (built by ``failure`` when
    given), or returns ``(False, None)`` when nothing was recorded (an interrupted call
    runs again: at least once).
    """
    replay = x.replay
    if replay is None:
        return False, None
    ev = replay.take_any(frame.key, (family.succeeded[0], family.failed[0], family.timed_out[0]))
    if ev is None:
        return False, None
    frame.last = int(ev["id"])
    if ev["type"] == family.succeeded[0]:
        return True, _json.loads(ev[family.succeeded[1]]["output"])
    if ev["type"] == family.timed_out[0]:
        timed_out = ev.get(family.timed_out[1]) or {}
        raise StatesError(timed_out.get("error") or "States.Timeout", "")
    details = ev.get(family.failed[1]) or {}
    if failure is not None:
        raise failure(details.get("error"), details.get("cause"))
    raise StatesError(details.get("error", ""), details.get("cause"))


class _Timeout(Exception):
    pass


async def _timed(interp: Interpreter, work: Awaitable[Any], timeout: int | None) -> Any:
    """Runs ``work``, raising :class:`_Timeout` after ``timeout`` seconds of the clock."""
    limit = DEFAULT_TIMEOUT if timeout is None else timeout
    task = asyncio.ensure_future(work)
    timer = asyncio.ensure_future(interp.clock.sleep(limit))
    try:
        done, _ = await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        timer.cancel()
        raise
    if task in done:
        timer.cancel()
        return task.result()
    task.cancel()
    raise _Timeout()
